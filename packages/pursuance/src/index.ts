/**
 * @packageDocumentation
 * The pursuance core: signed meta-messages (events) forming a DAG, rules compiled to CASL
 * abilities, per-role keys distributed by lockboxes, and a deterministic fold that every
 * member runs to reach the same public state (and state hash) whatever order events arrive
 * in. Pure: no network, no storage, no clock except what callers pass in.
 *
 * @example
 * ```ts
 * const founder = PursuanceAuthor.create(identity, { name: 'Cell 7', rules });
 * const task = founder.createTask({ audience: ['organizers'], title: 'Book the hall' });
 * founder.log.stateHash(); // equal on every member holding the same events
 * ```
 */

export { ActionNotAllowedError, ContentUnreadableError, EventRejectedError, type Rejection, RejectionCode } from './errors.js';
export { RoleIdSchema, type Rules, RulesSchema } from './rules/schema.js';
export {
  type InviteLockbox,
  type RelayMirrorBody,
  DISPLAY_NAME_MAX,
  DisplayNameSchema,
  MAX_RELAY_BUNDLE,
  MAX_RELAY_MIRRORS,
  TASK_CONTENT_KINDS,
  displayNameProblem,
  opensTask,
} from './bodies.js';
export { type EventId, type SignedEvent, decodeEvent, signEvent } from './envelope.js';
export type { PublicState, RelayState } from './state.js';
export { PursuanceLog, type PursuanceLogOptions } from './log.js';
export type { EncodingShelf } from './held-event.js';
export { type MemberViewResult, type TaskView, MemberViewCache, buildMemberView, collectKeysSteps, recoverKeysFromSecrets } from './view.js';
export { type AuthorOptions, type NewPursuance, type NewTask, PursuanceAuthor } from './author.js';
export { type FoldBase, type Snapshot, MAX_FRONTIER, makeSnapshot, readSnapshot } from './snapshot/base.js';
export { captureSnapshot, eventsAfter, instability, latestStableFrontier, snapshotAt } from './snapshot/capture.js';
export { type Attested, attestationPolicy, checkAttestations, membershipProof } from './snapshot/attest.js';
export { type FullHistoryResult, type HistoryCheck, checkAttestation, verifyFullHistory, verifyFullHistoryInSlices } from './snapshot/verify.js';
export { SnapshotError, SnapshotInvalidError, SnapshotProblem } from './snapshot/errors.js';
export {
  FOLD_VERSION,
  FoldCheckpointError,
  FoldCheckpointProblem,
  encodeFoldCheckpoint,
  encodeFoldCheckpointSteps,
  readFoldCheckpoint,
  readFoldCheckpointSteps,
  type FoldCheckpoint,
  type FoldRunState,
} from './fold/checkpoint.js';
export {
  type NewProfile,
  type Profile,
  DAY_MS,
  EFFORT_MAX,
  EFFORT_MIN,
  InvalidProfileError,
  PROFILE_MAX_DAYS,
  PROFILE_TEXT_PREFIX,
  ProfileExpiredError,
  checkProfile,
  parseProfileText,
  profileProblem,
  profileText,
  signProfile,
} from './profile.js';
export {
  type DropReason,
  type JoinAnswer,
  type OpenedJoinRequest,
  type RequestMessage,
  type SealedJoinRequest,
  type Screened,
  DROP_REASONS,
  JOIN_MESSAGE_MAX,
  JoinRequestError,
  REQUEST_HOURS_BACK,
  hourOf,
  leadingZeroBits,
  workDigest,
  openJoinAnswer,
  openJoinRequest,
  screenRequest,
  sealJoinAnswer,
  sealJoinRequest,
  sealJoinRequestAsync,
} from './join-request.js';
export type { PublishedProfile } from './state.js';
export type { LinkGrant, LinkKey, LinkSend, LinkState } from './state.js';
export {
  type Announcement,
  type UnsignedAnnouncement,
  AnnouncementSchema,
  InvalidAnnouncementError,
  InvalidCredentialError,
  LINK_KEYS_MAX_DAYS,
  LINKS_MAX,
  LINK_OFFER_PREFIX,
  InvalidLinkOfferError,
  LinkOfferSchema,
  linkOfferProblem,
  linkOfferText,
  parseLinkOfferText,
  signLinkOffer,
  type LinkOffer,
  type Credential,
  type LinkParcel,
  type LinkTaskContent,
  CREDENTIAL_DOMAIN,
  CREDENTIAL_HOURS,
  CredentialSchema,
  HOUR_MS,
  LinkParcelSchema,
  announceableKeys,
  announcedRoles,
  credentialSignedBy,
  openLinkTask,
  signAnnouncement,
  signCredential,
  signedBy,
  InvalidReceiptError,
  RECEIPT_DOMAIN,
  ReceiptSchema,
  receiptSignedBy,
  signReceipt,
  type Receipt,
  type UnsignedReceipt,
} from './link.js';
export { forkEvidence, receiptProblem, vouchProblem, type ForkEvidence } from './fold/links.js';
export {
  InvalidVouchError,
  VOUCH_DISCOUNT_BITS,
  VOUCH_DOMAIN,
  VOUCH_HOURS,
  VOUCH_TEXT_MAX,
  VOUCH_TEXT_PREFIX,
  VouchSchema,
  openVouchText,
  signVouch,
  vouchHourProblem,
  vouchSignedBy,
  vouchText,
  vouchedEffort,
  type UnsignedVouch,
  type Vouch,
} from './vouch.js';
export type { RoleKey } from './keys.js';
export { InvalidLinkPostError, LINK_POST_KEYS_MAX, decodeLinkPost, encodeLinkPost, splitAnnouncements, type LinkPost } from './link-post.js';
export { runAtOnce, runInSlices } from './steps.js';

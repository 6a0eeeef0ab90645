/**
 * @packageDocumentation
 * The Cwtch peer, framework-free: a profile sealed at rest behind a small storage port,
 * contacts and direct messages over authenticated tapir links (acks, retries, a queue that
 * survives restarts), public attributes, overlays, and groups on untrusted relays — invites
 * carrying the relay's signed bundle, fixed-size encrypted and signed group messages with
 * fragmentation, trial decryption, the previous-signature chain with gap detection and repair
 * from other members, and moving a group to another relay.
 *
 * @example
 * ```ts
 * const alice = await CwtchPeer.create({ store: new MemoryProfileStore(), acn, password, displayName: 'alice' });
 * await alice.start();
 * const relay = await alice.addRelay(exportedBundle);
 * const groupId = await alice.createGroup({ name: 'crew', relay });
 * await alice.addContact(bob.onion);
 * await alice.inviteToGroup(groupId, bob.onion);
 * await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'hello' });
 * ```
 */
export {
  ContactBlockedError,
  ContactUnknownError,
  CwtchError,
  type CwtchErrorCode,
  FragmentInvalidError,
  GroupMessageInvalidError,
  GroupUnknownError,
  InviteInvalidError,
  InviteRejectedError,
  MoveNotAuthorisedError,
  NotAMemberError,
  NotDecryptableError,
  OverlayInvalidError,
  PayloadTooLargeError,
  PeerMessageInvalidError,
  PeerStoppedError,
  PeerUnreachableError,
  ProfileCorruptError,
  ProfileExistsError,
  ProfileNotFoundError,
  RelayUnknownError,
  RequestTimeoutError,
  SignatureInvalidError,
  StoreClosedError,
  StoreFailedError,
  StoreInvalidOperationError,
  WrongPasswordError,
} from './errors.js';
export { MAX_GROUP_PAYLOAD_PER_MESSAGE, MAX_PEER_MESSAGE_DATA, OVERLAY } from './protocol-profile.js';
export {
  type ListOptions,
  MemoryProfileStore,
  type ProfileRecord,
  type ProfileStore,
  type StoreOp,
  validateHeader,
  validateListOptions,
  validateOps,
} from './store.js';
export type { Contact, DirectMessage, GroupRecord, RelayRecord } from './records.js';
export type { AttributeResponse } from './attributes.js';
export { type Overlay, encodeOverlay } from './overlays.js';
export { deriveGroupId, groupGenesis } from './group-id.js';
export { encodeGroupInvite, parseGroupInvite } from './group-invite.js';
export { type GroupKeys, sealGroupMessage, trialDecrypt } from './group-envelope.js';
export { DROP_BOX_GROUP_NAME, type DropBoxPostOptions, isDropBox, isDropBoxGroup, newDropBoxInvite, postToDropBox } from './drop-box.js';
// Everything CwtchPeer's methods and events name, so callers can write their types down.
export { CwtchPeer, type CreatePeerOptions, type CwtchPeerOptions } from './cwtch-peer.js';
export type { CwtchPeerEvents, FullGapReport, GroupMessage, ReceivedDirectMessage } from './peer-context.js';
export type { MembershipResolver } from './groups.js';
export type { RepairOutcome } from './repair.js';

/**
 * The node API's response shapes, as the dashboard reads them. They mirror the read models in
 * apps/node/src/domain/read-models.ts (plain JSON); the node is the authority, and
 * test/contracts/api-types.ts fails the typecheck when the two drift apart.
 */
import type { Rules } from './rules-engine.js';

export type { Rules };

export interface PursuanceSummary {
  readonly id: string;
  readonly name: string;
  /** Our own display name in this pursuance (null until set). */
  readonly myName: string | null;
  readonly description: string;
  readonly founders: readonly string[];
  readonly members: number;
  readonly myRoles: readonly string[];
  readonly amFounder: boolean;
  readonly rulesTitle: string;
  readonly rulesRevision: number;
  /** The relay bundle this pursuance syncs through here (or, when on none here, the one its log names). */
  readonly relay: string | null;
  /** False: this node is on no relay for this pursuance — nothing syncs until it is attached. */
  readonly attached: boolean;
  readonly events: number;
  readonly rejected: number;
  readonly pending: number;
  readonly stateHash: string;
  /**
   * False while the node is still loading this pursuance's history at start-up: its reads are
   * served already, but its changes feed, live stream and commands wait (503 PURSUANCE_LOADING)
   * until it is true. Absent on older nodes, which answer only once loaded.
   */
  readonly loaded?: boolean;
}

export interface MemberModel {
  readonly onion: string;
  readonly name: string | null;
  readonly roles: readonly string[];
  readonly founder: boolean;
}

export interface RoleModel {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly rank: number;
  readonly history: string;
  readonly holders: readonly string[];
  readonly epoch: number;
  readonly keyId: string | null;
  readonly rotatedBy: string | null;
  readonly rotatedAt: number | null;
  readonly rotationDue: boolean;
  readonly holdersWithoutKey: readonly string[];
  readonly iHoldKey: boolean;
  /** The current key published public halves: members allowed to `submit` may send to the role without holding it. */
  readonly publicKey: boolean;
  /** This node holds the current key and its published public halves are not the key's (an alarm: rotate the role). */
  readonly plantedKey: boolean;
}

export interface CommentView {
  readonly id: string;
  readonly author: string;
  readonly authorName: string | null;
  readonly time: number;
  readonly body: string;
}

/** Who one task change assigned or unassigned. */
export interface AssigneeChange {
  readonly members: readonly string[];
  readonly roles: readonly string[];
}

/**
 * What one task event changed, old → new (only the parts that changed). Sent only where the
 * node could read the event's content; a missing `from` means this node could not read the
 * earlier value.
 */
export interface HistoryChange {
  readonly status?: { readonly from?: string; readonly to: string };
  readonly note?: string;
  readonly title?: { readonly from?: string; readonly to: string };
  readonly body?: { readonly fromLength?: number; readonly toLength: number };
  readonly labels?: { readonly added: readonly string[]; readonly removed: readonly string[] };
  readonly due?: { readonly from?: number | null; readonly to: number | null };
  readonly assigned?: AssigneeChange;
  readonly unassigned?: AssigneeChange;
  readonly parent?: { readonly from: string | null; readonly to: string | null };
  readonly refused?: string;
}

export interface HistoryEntry {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly authorName: string | null;
  readonly time: number;
  readonly change?: HistoryChange;
}

export interface Assignees {
  readonly members: readonly string[];
  readonly roles: readonly string[];
}

/**
 * A task as the list (GET …/tasks) and the change feed carry it: everything but its history,
 * which the single-task read (GET …/tasks/:taskId) adds. What the store, the board, the cards
 * and the filters hold.
 */
export interface TaskListItem {
  readonly id: string;
  readonly audience: readonly string[];
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly closed: boolean;
  readonly readable: boolean;
  /** A write-only submission (a tip). */
  readonly submission?: true;
  /** A task a linked pursuance sent: that pursuance (and our link's name for it) and the role it sent for. */
  readonly origin?: { readonly peer: string; readonly name: string | null; readonly role: string };
  /** A tip sealed to a key its audience had already rotated away: whoever held that key can read it. */
  readonly staleKey?: true;
  readonly createdBy: string;
  readonly createdByName: string | null;
  readonly createdAt: number;
  readonly title: string | null;
  readonly body: string | null;
  readonly status: string | null;
  readonly assignees: Assignees | null;
  readonly labels: readonly string[];
  readonly due: number | null;
  readonly comments: readonly CommentView[];
}

/** One page of the task list (GET …/tasks?limit=&after=): `next` is the cursor of the page after it, null on the last. */
export interface TaskPage {
  tasks: TaskListItem[];
  next: string | null;
}

/** The whole task (GET …/tasks/:taskId, and what creating one answers): the list item with its history. */
export type TaskModel = TaskListItem & { readonly history: readonly HistoryEntry[] };

export interface Rejection {
  readonly eventId: string;
  readonly code: string;
  readonly reason: string;
  readonly rule?: string;
}

/** One of your own events every replica refused after a race, and what your node did about it. */
export interface OwnRejection {
  readonly eventId: string;
  readonly kind: string;
  readonly code: string;
  readonly reason: string;
  readonly rule: string | null;
  readonly signedAt: number;
  readonly seenAt: number;
  readonly retryOf: string | null;
  readonly outcome:
    | { readonly status: 'resent'; readonly eventId: string; readonly kind: string }
    | { readonly status: 'not-resent'; readonly reason: string }
    | { readonly status: 'earlier'; readonly reason: string };
}

export interface FeedItem {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly authorName: string | null;
  readonly time: number;
  readonly accepted: boolean;
  readonly rejection: Rejection | null;
}

export interface IngestReport {
  readonly pursuanceId: string;
  readonly received: number;
  readonly stored: number;
  readonly accepted: number;
  readonly rejected: readonly Rejection[];
  readonly invalid: readonly Rejection[];
  readonly pending: number;
}

export interface RulesTemplate {
  readonly id: string;
  readonly rules: Rules;
}

export interface EventRef {
  readonly id: string | null;
  readonly kind: string | null;
}

export interface NewTaskInput {
  audience: string[];
  parent?: string | null;
  title: string;
  body?: string;
  assignees?: { members?: string[]; roles?: string[] };
  labels?: string[];
  due?: number | null;
}

/** A tip's content (POST …/submissions, beside its one audience role): no assignees, labels or dates. */
export interface NewSubmissionInput {
  title: string;
  body?: string;
}

type Side = { members?: string[]; roles?: string[] };
export type TaskChange =
  | { op: 'edit'; title?: string; body?: string; labels?: string[]; due?: number | null }
  | { op: 'assign'; add?: Side; remove?: Side }
  | { op: 'status'; to: string }
  | { op: 'close'; to?: string; note?: string }
  | { op: 'reopen'; to?: string; note?: string }
  | { op: 'comment'; body: string }
  | { op: 'move'; parent: string | null };

/** GET /api/pursuances/:id/sync: group sync over Cwtch (apps/node/src/sync/sync.service.ts). */
export interface SyncStatus {
  readonly pursuanceId: string;
  readonly groupId: string | null;
  readonly relay: string | null;
  readonly relaySynced: boolean;
  readonly groupMessages: number;
  readonly gaps: readonly string[];
  readonly withheld: readonly string[];
  readonly lastMessageAt: number | null;
  readonly lastSyncAt: number | null;
  readonly lastDown: { readonly at: number; readonly code: string | null } | null;
  readonly gapsDetected: number;
  readonly gapsRepaired: number;
  /** The next catch-up: whole buckets from `from` (ms; null: all the relay holds); null: since the last message (a relay from before buckets). */
  readonly catchUp: { readonly bucketSeconds: number; readonly from: number | null } | null;
  /** The group's relay, then each mirror; `lacking`: events the others delivered over a minute ago and this one did not. */
  readonly relays: readonly {
    readonly relay: string;
    readonly bundle: string;
    readonly groupId: string;
    readonly mirror: boolean;
    readonly synced: boolean;
    readonly lastSyncAt: number | null;
    readonly lastDown: { readonly at: number; readonly code: string | null } | null;
    readonly lacking: number;
  }[];
}

/** SSE payloads of /api/stream. */
export interface ChangedEvent {
  readonly pursuanceId: string;
  readonly events: readonly string[];
  readonly origin: string;
  /** The pursuance's read-model version after the change (GET …/changes?since=); null or absent when the node cannot say. */
  readonly version?: number | null;
}

/** GET /api/pursuances/:id/changes?since=<version>: what changed; `reset` means "fetch the lists again". */
export interface PursuanceChanges {
  readonly version: number;
  readonly reset: boolean;
  /**
   * Tasks as list items (no history). A task whose history alone changed is upserted too, maybe
   * with the very JSON held already: its new object is the sign to read its history again.
   */
  readonly tasks: { readonly upserted: readonly TaskListItem[]; readonly removed: readonly string[] };
  readonly members: readonly MemberModel[] | null;
  readonly roles: readonly RoleModel[] | null;
  readonly feed: { readonly items: readonly FeedItem[]; readonly full: boolean };
}

export interface SyncHealthEvent {
  readonly pursuanceId: string;
}

export interface ProgressEvent {
  readonly job: 'replay' | 'resync';
  readonly pursuanceId: string;
  readonly done: number;
  readonly total: number;
}

/** The node's network status (GET /api/network, SSE `network`; tapir's AcnStatus). */
export interface NetworkStatus {
  readonly state: 'connecting' | 'up' | 'down' | 'closed';
  readonly bootstrap: { readonly progress: number; readonly summary: string } | null;
  readonly version: string | null;
  readonly circuitsOk: boolean;
  readonly outages: number;
  readonly lastDownAt: number | null;
  readonly lastUpAt: number | null;
  readonly lastError: string | null;
}

/** GET /api/network (apps/node/src/network/network-status.ts). */
export interface NetworkView {
  readonly kind: 'loopback' | 'tor';
  readonly status: NetworkStatus | null;
}

/** GET/PUT /api/profile (apps/node/src/domain/profile.ts): who this node is to the others. */
export interface ProfileModel {
  readonly onion: string;
  /** Null while no display name is set. */
  readonly name: string | null;
}

/** What happened in one pursuance when the node's name changed. */
export type RenameOutcome =
  | { readonly pursuanceId: string; readonly status: 'renamed'; readonly eventId: string }
  | { readonly pursuanceId: string; readonly status: 'refused'; readonly code: string; readonly message: string };

export interface ProfileUpdate extends ProfileModel {
  readonly pursuances: readonly RenameOutcome[];
}

/** GET /api/contacts/:onion/safety (apps/node/src/domain/safety.ts): the "compare this code in person" check. */
export interface SafetyModel {
  readonly onion: string;
  /** A name they go by in one of your pursuances or your contacts, or null. */
  readonly name: string | null;
  /** 60 digits in 12 groups of 5 separated by spaces, the same on both sides. */
  readonly safetyNumber: string;
  /** When you confirmed the digits matched (ms since the epoch), or null. */
  readonly verifiedAt: number | null;
}

/** GET /api/relays (apps/node/src/sync/sync.service.ts): a relay this node has pinned. */
export interface RelayModel {
  readonly boardOnion: string;
  /** The key bundle pinned on first use: what `relay` on POST /api/pursuances takes. */
  readonly bundle: string;
  readonly pursuances: readonly { readonly id: string; readonly name: string }[];
  readonly synced: boolean;
  readonly lastSyncAt: number | null;
  readonly lastDown: { readonly at: number; readonly code: string | null } | null;
}

/** POST /api/pursuances answers the summary, and why attaching to the relay failed (the pursuance exists anyway). */
export interface CreatedPursuance extends PursuanceSummary {
  readonly attachError: { readonly code: string; readonly message: string } | null;
}

/** Why this member may not take a succession step now (the fold's own code and reason). */
export interface Refusal {
  readonly code: string;
  readonly reason: string;
}

export interface PersonRef {
  readonly onion: string;
  readonly name: string | null;
}

/** An open founder nomination (apps/node/src/domain/succession.ts). */
export interface NominationModel {
  readonly id: string;
  readonly candidate: string;
  readonly candidateName: string | null;
  readonly nominatedBy: string;
  readonly nominatedByName: string | null;
  readonly nominatedAt: number;
  readonly endorsers: readonly PersonRef[];
  readonly endorsements: number;
  readonly needed: number;
  readonly claimableFrom: number | null;
  readonly endorse: { readonly allowed: boolean; readonly refusal: Refusal | null };
  readonly claim: { readonly allowed: boolean; readonly refusal: Refusal | null };
}

/** GET /api/pursuances/:id/succession. */
export interface SuccessionModel {
  readonly quorum: number;
  readonly inactivityDays: number | null;
  readonly amFounder: boolean;
  readonly nominees: readonly PersonRef[];
  readonly nominations: readonly NominationModel[];
}

/** A join link made on this node (GET /api/pursuances/:id/join-invites). */
export interface JoinInvite {
  readonly id: string;
  readonly pursuanceId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly roles: readonly string[];
  readonly preApproved: boolean;
  /** `requested`: someone used the link and waits for a decision; `expired`: open past its expiry. */
  readonly state: 'open' | 'requested' | 'approved' | 'refused' | 'revoked' | 'expired';
  readonly requester: { readonly onion: string; readonly name: string | null; readonly at: number } | null;
  readonly decidedAt: number | null;
  /** Why a pre-approved request waits for a person after all. */
  readonly note: string | null;
}

export interface CreatedJoinInvite {
  readonly invite: JoinInvite;
  /** The link itself: shown once. */
  readonly link: string;
  /** The link as a dashboard address on the usual port (opening it fills in Join). */
  readonly url: string;
}

/** A join request this node sent by link (GET /api/join-requests). */
export interface JoinRequest {
  readonly pursuanceId: string;
  readonly pursuanceName: string;
  readonly inviter: string;
  readonly inviterName: string | null;
  readonly groupId: string;
  readonly expiresAt: number;
  readonly sentAt: number;
  readonly status: 'sent' | 'pending' | 'approved' | 'refused' | 'joined';
  readonly code: 'INVITE_UNKNOWN' | 'INVITE_EXPIRED' | 'INVITE_REVOKED' | 'INVITE_USED' | 'REFUSED' | 'JOIN_FAILED' | null;
  readonly updatedAt: number;
}

/** What POST /api/invites/accept did: asked the inviter (a link) or joined the group at once (a group invite). */
export interface JoinOutcome {
  readonly pursuanceId: string;
  readonly status: 'requested' | 'joined';
}

/** This node started the pursuance from a snapshot (apps/node/src/domain/snapshots.ts `StartedFrom`). */
export interface StartedFrom {
  readonly hash: string;
  readonly events: number;
  /** The members who vouched for it (onions). */
  readonly attesters: readonly string[];
  readonly from: 'founders' | 'members';
  readonly at: number;
  /** What the full history said of the snapshot once it was all here (`pending` until then). */
  readonly verified: { readonly outcome: 'pending' | 'agrees' | 'disagrees'; readonly reason: string | null; readonly at: number | null };
}

/** A snapshot this node was offered when it joined and did not start from, with the reason. */
export interface SnapshotRefusal {
  readonly from: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

/** One snapshot members vouched for (signed snapshot.attest events). */
export interface SnapshotModel {
  readonly hash: string;
  readonly frontier: readonly string[];
  /** Events before the snapshot. */
  readonly events: number;
  readonly stateHash: string;
  readonly attesters: readonly { readonly onion: string; readonly name: string | null; readonly at: number; readonly eventId: string }[];
  /** Distinct attesters the rules count. */
  readonly counted: number;
  readonly enough: boolean;
  /** This node's history against the claim: `disagrees` is evidence against the attesters; `unknown` while history is missing. */
  readonly check: { readonly outcome: 'agrees' | 'disagrees' | 'unknown'; readonly reason: string | null };
}

/** GET /api/pursuances/:id/snapshots. */
export interface SnapshotsModel {
  readonly startedFrom: StartedFrom | null;
  readonly refused: readonly SnapshotRefusal[];
  /** Distinct attesters a joiner needs, and from whom. */
  readonly required: number;
  readonly from: 'founders' | 'members';
  /** Newest first. */
  readonly snapshots: readonly SnapshotModel[];
}

/*
 * Joining by request (apps/node/src/sync/admission.service.ts). The node calls the first
 * `ProfileModel` and the third `JoinRequestModel`; here those names are taken by the node's own
 * profile (GET /api/profile) and the requests sent by link (GET /api/join-requests).
 */

/** A pursuance's public profile (GET/POST /api/pursuances/:id/profile; the node's `ProfileModel`). */
export interface PursuanceProfile {
  /** `pursuance-profile:1:…`: what a stranger pastes under Join. */
  readonly text: string;
  readonly id: string;
  readonly name: string;
  readonly about: string;
  /** The questions an applicant answers. */
  readonly asks: readonly string[];
  /** The role whose holders read the requests (its current key signed the profile). */
  readonly role: string;
  /** Leading zero bits a request's proof of work must have. */
  readonly effort: number;
  readonly validUntil: number;
  readonly publishedBy: string;
  /** Its key is no longer the role's current one (a holder left since): publish it again. */
  readonly stale: boolean;
  /** This node holds its key, so reads its inbox. */
  readonly reading: boolean;
}

/**
 * What a pursuance's profile inbox dropped unread, by reason (the node's `DropCounts`). `vouch`:
 * too little work for the profile, with a vouch that did not hold to excuse it.
 */
export type DropReason = 'malformed' | 'foreign' | 'stale' | 'work' | 'vouch' | 'replay' | 'unreadable' | 'blocked' | 'full';
export type DropCounts = { readonly [K in DropReason]: number };

/** One request in the review inbox (the node's `JoinRequestModel`). */
export interface ReviewRequest {
  readonly id: string;
  readonly onion: string;
  /** The name the applicant goes by (their own words: data, never markup). */
  readonly name: string;
  readonly answers: readonly string[];
  /** The profile's questions, in the order of `answers`. */
  readonly asks: readonly string[];
  /** Leading zero bits of its proof of work. */
  readonly work: number;
  readonly receivedAt: number;
  /** `member`: admitted (here or by another gatekeeper), whatever this node decided. */
  readonly status: 'pending' | 'admitted' | 'declined' | 'member';
  readonly decidedAt: number | null;
  readonly roles: readonly string[];
  /** The linked pursuance whose role vouched for the applicant (our link's name for it; their role id), or null. */
  readonly vouch: { readonly peer: string; readonly name: string; readonly role: string } | null;
}

/** GET /api/pursuances/:id/join-requests (the node's `ReviewInboxModel`). */
export interface ReviewInbox {
  /** Most work first, as the node sorts them. */
  readonly requests: readonly ReviewRequest[];
  readonly dropped: DropCounts;
  /** Pending requests. */
  readonly waiting: number;
  /** Pending requests the node keeps at most (a flood fills this and no more). */
  readonly capacity: number;
}

/** POST /api/join-profile/preview: a pasted profile, checked (signature, key, expiry). */
export interface ProfilePreview {
  readonly pursuanceId: string;
  readonly name: string;
  readonly about: string;
  readonly asks: readonly string[];
  readonly effort: number;
  readonly validUntil: number;
  /** This node is a member of it already. */
  readonly member: boolean;
}

/** A request this node sent through a profile (GET/POST /api/join-profile/requests; the node's `SentRequestModel`). */
export interface SentJoinRequest {
  readonly id: string;
  readonly pursuanceId: string;
  readonly pursuanceName: string;
  readonly sentAt: number;
  readonly expiresAt: number;
  /** `joined`: this node is a member now. */
  readonly status: 'sent' | 'declined' | 'joined';
  /** The pursuance's note with a decline. */
  readonly note: string | null;
}

/** POST /api/pursuances/:id/profile (apps/node/src/http/schemas.ts `PublishProfileBody`). */
export interface PublishProfileInput {
  readonly role: string;
  readonly name?: string;
  readonly about: string;
  readonly asks: readonly string[];
  readonly effort?: number;
  readonly days?: number;
  /** Another relay for the inbox (an exported key bundle). */
  readonly relay?: string;
}

/** POST /api/join-profile/requests (`SendJoinRequestBody`): without `name`, the node's own name is used. */
export interface SendJoinRequestInput {
  readonly profile: string;
  readonly name?: string;
  readonly answers: readonly string[];
  /** A linked pursuance's vouch for this node (`pursuance-vouch:1:…`): the request then needs less work. */
  readonly vouch?: string;
}

/*
 * Links between pursuances (apps/node/src/sync/link.service.ts, the bodies in
 * apps/node/src/http/schemas.ts). Their roles are named by their ids: our rules do not know them.
 */

/**
 * What their role may do here (the core's `LinkGrant`): create tasks for one of our roles, or
 * vouch for applicants whose join requests one of our roles reviews.
 */
export interface LinkGrant {
  readonly theirRole: string;
  readonly action: 'create' | 'vouch';
  readonly on: string;
}

/** Our role that sends tasks over a link, and their role it sends to (the core's `LinkSend`). */
export interface LinkSend {
  readonly ours: string;
  readonly theirs: string;
}

/** One of their roles' keys, as their anchor last announced it. */
export interface LinkKeyModel {
  readonly role: string;
  readonly n: number;
  readonly keyId: string;
  readonly validUntil: number;
  readonly expired: boolean;
}

/** Something that arrived from them and was refused, with the reason (the node's `LinkRefusal`; `receipt`: their word on a task we sent; `fork`: their report of a fork of ours that our own log does not bear out). */
export interface LinkRefusal {
  readonly pursuanceId: string;
  readonly peer: string | null;
  readonly kind: 'keys' | 'task' | 'receipt' | 'fork' | 'malformed';
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

/** GET /api/pursuances/:id/links: one link (the node's `LinkModel`). */
export interface LinkModel {
  /** Their pursuance's id. */
  readonly peer: string;
  readonly name: string;
  readonly theirAnchor: string;
  readonly ourAnchor: string;
  readonly theyMay: readonly LinkGrant[];
  readonly weSend: readonly LinkSend[];
  readonly keys: readonly LinkKeyModel[];
  /** Their anchor signed two different keys for one role and ordinal: nothing more is adopted until the link is opened again. */
  readonly frozen: { readonly role: string; readonly n: number } | null;
  /**
   * They froze the link because our anchor's keys (`signers`, by ordinal) signed two different keys
   * for our `role` (key `n`): whoever holds one of those keys, or held it, signs for us. `ours`:
   * one of the two is the key our log holds. `resolved`: our anchor was rotated past every signer
   * since, so only a new offer to them is left. The latest report, or null.
   */
  readonly fork: {
    readonly role: string;
    readonly n: number;
    readonly signers: readonly number[];
    readonly ours: boolean;
    readonly at: number;
    readonly resolved: boolean;
  } | null;
  /** This node reads our inbox for this link (it holds a key the link concerns). */
  readonly reading: boolean;
  /** This node holds our anchor's current key, so announces our keys to them. */
  readonly announcing: boolean;
  readonly announcedAt: number | null;
  /** Tasks sent from here not yet handed to their inbox's relay (retried). */
  readonly waiting: number;
  /** Newest first. */
  readonly refused: readonly LinkRefusal[];
  /** Our roles this node may vouch as over this link: held here with their current key, and announced to them. */
  readonly vouchRoles: readonly string[];
  /** Our tasks to them (link.send in our log), newest first, with what their receipts said. */
  readonly sent: readonly LinkSentModel[];
  /** Receipts for tasks our log never recorded sending: someone sent without recording it, or the send has not synced here yet. */
  readonly unlogged: readonly { readonly digest: string; readonly verdict: 'accepted' | 'refused'; readonly at: number }[];
}

/** One of our tasks to a linked pursuance, with their receipt's word on it (the node's `LinkSentModel`). */
export interface LinkSentModel {
  readonly id: string;
  readonly ours: string;
  readonly theirs: string;
  readonly by: string;
  readonly at: number;
  /** waiting: in this node's outbox; sent: no receipt yet; accepted or refused: as their receipt says. */
  readonly status: 'waiting' | 'sent' | 'accepted' | 'refused';
  readonly code: string | null;
  readonly reason: string | null;
}

/** An offer made from this node (POST/GET …/links/offers; the node's `LinkOfferModel`). */
export interface LinkOfferModel {
  readonly to: string;
  readonly anchor: string;
  /** `pursuance-link:1:…`: what the other side pastes. */
  readonly text: string;
  /** The anchor key's id (hex): what they compare with us out of band. */
  readonly keyId: string;
  readonly validUntil: number;
  readonly createdAt: number;
  /** Our link to them is open on this offer's inbox. */
  readonly linked: boolean;
}

/** POST …/links/preview: a pasted offer, checked (the node's `LinkOfferPreview`). */
export interface LinkOfferPreview {
  readonly peer: string;
  readonly name: string;
  readonly anchor: string;
  readonly keyId: string;
  readonly validUntil: number;
  /** This node made an offer to them (opening needs one). */
  readonly ourOffer: boolean;
  readonly linked: boolean;
}

/** POST …/links/:peer/tasks (the node's `LinkTaskSent`). */
export interface LinkTaskSent {
  /** The link.send event. */
  readonly id: string;
  /** False: their relay could not be reached; the node keeps it and retries. */
  readonly posted: boolean;
}

/** POST …/links/:peer/vouches: a vouch for one applicant, to hand to them (the node's `VouchModel`). */
export interface VouchIssued {
  /** `pursuance-vouch:1:…`: only the applicant's node opens it. */
  readonly text: string;
  readonly role: string;
  /** The applicant's address, as the node read it. */
  readonly applicant: string;
  /** Good until then (ms), and once. */
  readonly validUntil: number;
}

/** POST …/links/:peer/vouches: vouch as our `role` for the node at `applicant` (a v3 onion name, with or without ".onion"). */
export interface VouchInput {
  readonly role: string;
  readonly applicant: string;
}

/** POST …/links/offers (`LinkOfferBody`). */
export interface LinkOfferInput {
  readonly to: string;
  readonly anchor: string;
  readonly days?: number;
  /** Another relay for our inbox on this link (an exported key bundle). */
  readonly relay?: string;
}

/** POST …/links (`OpenLinkBody`). */
export interface OpenLinkInput {
  readonly offer: string;
  readonly name?: string;
  readonly theyMay: readonly LinkGrant[];
  readonly weSend: readonly LinkSend[];
}

/** POST …/links/:peer/tasks (`LinkTaskBody`). */
export interface LinkTaskInput {
  readonly ours: string;
  readonly theirs: string;
  readonly title: string;
  readonly body: string;
}

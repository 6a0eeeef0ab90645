import { z } from 'zod';
import { RoleIdSchema, RulesSchema } from './rules/schema.js';
import { bytes, bytesUpTo } from '@pursuance/codec';

/**
 * Bodies of every event kind. Governance events are public to all members; task events carry
 * public structure (task id, parent) and a `sealed` part only the task's audience can open.
 */
const key = bytes(32);
const eventId = bytes(32);
const name = z.string().min(1).max(120);

/**
 * Characters a display name must not hold: controls (line breaks among them), the Unicode line
 * and paragraph separators, lone surrogates, and the bidi embeddings, overrides and isolates
 * (U+202A–202E, U+2066–2069) that would let a name reorder or disguise the text shown after it
 * ("admin" on screen, something else in the log).
 */
const UNSAFE_IN_NAME = /[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
export const DISPLAY_NAME_MAX = 120;

/**
 * Why `s` is no valid display name (null when it is one). Signed names are stored as signed, so
 * a valid one is already trimmed: the same person shows as the same text on every replica.
 * Length counts code points, so a name in any script gets the same room.
 */
export function displayNameProblem(s: string): string | null {
  if (s.trim() !== s) return 'must not start or end with spaces';
  const length = [...s].length;
  if (length < 1) return 'must not be empty';
  if (length > DISPLAY_NAME_MAX) return `is too long (at most ${DISPLAY_NAME_MAX} characters)`;
  if (UNSAFE_IN_NAME.test(s)) return 'must not contain line breaks, control characters or text-direction overrides';
  return null;
}

/** A member's display name as it is signed: see displayNameProblem. */
export const DisplayNameSchema = z
  .string()
  .max(DISPLAY_NAME_MAX * 2)
  .superRefine((s, ctx) => {
    const problem = displayNameProblem(s);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });

/** The longest relay bundle (an exported key bundle, opaque to the core) a relay event carries. */
export const MAX_RELAY_BUNDLE = 4096;
/** At most this many mirror relays beside the relay (relay.add; see state.ts RelayState). */
export const MAX_RELAY_MIRRORS = 8;
/** A relay's exported key bundle: opaque text to the core, which never parses it. */
const relayBundle = z.string().min(1).max(MAX_RELAY_BUNDLE);

/** A role key sealed to one member's X25519 key (derived from their ed25519 identity). */
export const LockboxSchema = z.strictObject({ to: key, box: bytesUpTo(256) });
/** A new group invite sealed to one member (relay moves); invites are larger than role keys. */
export const InviteLockboxSchema = z.strictObject({ to: key, box: bytesUpTo(8192) });
/**
 * A role key's public halves (keys.ts rolePub): ed25519 `sig`, X25519 `box`, and `pop`, the
 * signing key's proof of possession. Optional in a rotation so logs written before they existed
 * still fold; every rotation an author makes now carries them, and only a key with them can be
 * written to without being read (submission.create).
 */
export const RolePubSchema = z.strictObject({ sig: bytes(32), box: bytes(32), pop: bytes(64) });
/** A new key for a role: its id (a commitment to the key), lockboxes to holders, and its public halves. */
export const RotationSchema = z.strictObject({
  role: RoleIdSchema,
  keyId: bytes(32),
  lockboxes: z.array(LockboxSchema).max(5000),
  pub: RolePubSchema.optional(),
});
/** An existing key (by id) given to holders who lack it. */
export const ShareSchema = z.strictObject({ role: RoleIdSchema, keyId: bytes(32), lockboxes: z.array(LockboxSchema).min(1).max(5000) });
/** Content sealed for a task's audience: a content key wrapped under each audience role's key. */
export const SealedSchema = z.strictObject({
  keys: z
    .array(z.strictObject({ role: RoleIdSchema, keyId: bytes(32), wrapped: bytes(72) }))
    .min(1)
    .max(16),
  ct: bytesUpTo(256 * 1024),
});

/** Profile limits (profile.ts says what a profile is). */
export const DAY_MS = 86_400_000;
export const EFFORT_MIN = 8;
export const EFFORT_MAX = 28;
export const PROFILE_ABOUT_MAX = 2_000;
export const PROFILE_ASKS_MAX = 8;
export const PROFILE_ASK_MAX = 300;
export const PROFILE_INBOX_MAX = 8_192;

/** An expiry at a UTC midnight (ms), within the dates a JavaScript Date can hold. */
const expiresAtMidnight = z
  .number()
  .int()
  .min(DAY_MS)
  .max(8_640_000_000_000_000)
  .refine((v) => v % DAY_MS === 0, 'expires at a UTC midnight');

/** A pursuance's public profile without its signature (profile.ts). */
export const UnsignedProfileSchema = z.strictObject({
  /** Random: names this profile, and seeds its proof of work (a proof for another profile is worth nothing here). */
  id: bytes(16),
  pursuance: z.string().regex(/^[0-9a-f]{64}$/),
  name: DisplayNameSchema,
  about: z.string().max(PROFILE_ABOUT_MAX),
  asks: z.array(z.string().min(1).max(PROFILE_ASK_MAX)).max(PROFILE_ASKS_MAX),
  role: RoleIdSchema,
  keyId: key,
  pub: RolePubSchema,
  /** Where requests go: a Cwtch group invite, opaque to the core. */
  inbox: z.string().min(1).max(PROFILE_INBOX_MAX),
  effort: z.number().int().min(EFFORT_MIN).max(EFFORT_MAX),
  validUntil: expiresAtMidnight,
});
export const ProfileSchema = UnsignedProfileSchema.extend({ signature: bytes(64) });

/** Link limits (link.ts says what a link is). */
export const LINK_KEYS_MAX_DAYS = 7;
export const LINK_GRANTS_MAX = 32;
export const LINKS_MAX = 64;
/** The largest ordinal a role key may have in an announcement: far above any real rotation count. */
export const LINK_KEY_ORDINAL_MAX = 2 ** 32;

/**
 * One role key of a pursuance as it announces it to a linked pursuance (link.ts), unsigned: the
 * key's public halves, the key's ordinal among the role's keys with public halves (1 = the
 * first), and a day-aligned expiry.
 */
export const UnsignedAnnouncementSchema = z.strictObject({
  from: z.string().regex(/^[0-9a-f]{64}$/),
  to: z.string().regex(/^[0-9a-f]{64}$/),
  role: RoleIdSchema,
  n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
  keyId: key,
  pub: z.strictObject({ sig: bytes(32), box: bytes(32) }),
  validUntil: expiresAtMidnight,
});
/** Signed by the announcing pursuance's anchor key (the anchor's own first key signs itself). */
export const AnnouncementSchema = UnsignedAnnouncementSchema.extend({ signature: bytes(64) });
/** The longest inbox (a Cwtch drop-box invite, opaque to the core) a link offer or link names. */
export const LINK_INBOX_MAX = 8_192;
const linkInbox = z.string().min(1).max(LINK_INBOX_MAX);
/**
 * An offer to link (link.ts): the anchor's announcement (signed by itself), the name the offering
 * pursuance goes by, and its inbox for this link, all signed by the anchor key, so the inbox
 * travels out of band as safely as the key it comes with.
 */
export const LinkOfferSchema = z.strictObject({ anchor: AnnouncementSchema, name: DisplayNameSchema, inbox: linkInbox, signature: bytes(64) });
/**
 * What a linked pursuance's role may do here: create tasks for one of our roles, or vouch for
 * applicants whose join requests one of our roles reviews (vouch.ts).
 */
export const LINK_ACTIONS = ['create', 'vouch'] as const;
export const LinkGrantSchema = z.strictObject({ theirRole: RoleIdSchema, action: z.enum(LINK_ACTIONS), on: RoleIdSchema });
/** Which of our roles sends tasks over a link, and to which of theirs. */
export const LinkSendSchema = z.strictObject({ ours: RoleIdSchema, theirs: RoleIdSchema });
/** The largest hour number a credential may name (far beyond any real date, well inside 2^53). */
const HOUR_MAX = 2 ** 32;
/**
 * A role credential (link.ts): a holder of their role `role` (its key `n`) asks us to let it
 * `action` for our role `on`, for the sealed content whose SHA-256 is `digest`. Signed by that
 * role key, never a member's: it names no member, and every holder's looks alike but for `nonce`.
 */
export const UnsignedCredentialSchema = z.strictObject({
  from: z.string().regex(/^[0-9a-f]{64}$/),
  to: z.string().regex(/^[0-9a-f]{64}$/),
  role: RoleIdSchema,
  n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
  action: z.enum(['create']),
  on: RoleIdSchema,
  digest: bytes(32),
  nonce: bytes(16),
  hour: z.number().int().min(0).max(HOUR_MAX),
});
export const CredentialSchema = UnsignedCredentialSchema.extend({ signature: bytes(64) });
/**
 * A vouch (vouch.ts): their role `role` (its key `n`) vouches for the applicant whose identity key
 * is `applicant`, to join pursuance `to` by request. Signed by that role key, like a credential,
 * and as anonymous: every holder's looks alike but for `nonce`, which also makes it good once.
 */
export const UnsignedVouchSchema = z.strictObject({
  from: z.string().regex(/^[0-9a-f]{64}$/),
  to: z.string().regex(/^[0-9a-f]{64}$/),
  role: RoleIdSchema,
  n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
  applicant: bytes(32),
  nonce: bytes(16),
  hour: z.number().int().min(0).max(HOUR_MAX),
});
export const VouchSchema = UnsignedVouchSchema.extend({ signature: bytes(64) });
/**
 * What became of a task sent over a link, told back to the sender by a holder of the role it was
 * for (link.ts): the task's digest, the verdict of the receiving fold and its reason.
 */
export const UnsignedReceiptSchema = z.strictObject({
  from: z.string().regex(/^[0-9a-f]{64}$/),
  to: z.string().regex(/^[0-9a-f]{64}$/),
  role: RoleIdSchema,
  n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
  digest: bytes(32),
  verdict: z.enum(['accepted', 'refused']),
  code: z.string().max(40),
  reason: z.string().max(500),
  hour: z.number().int().min(0).max(HOUR_MAX),
});
export const ReceiptSchema = UnsignedReceiptSchema.extend({ signature: bytes(64) });
/** A task sent over a link: its credential, and its content sealed to our role's key `keyId` (link.ts). */
export const LinkParcelSchema = z.strictObject({ credential: CredentialSchema, keyId: key, box: bytesUpTo(256 * 1024) });

export const BODY_SCHEMAS = {
  genesis: z.strictObject({
    name,
    description: z.string().max(4000),
    founders: z.array(key).min(1).max(64),
    rules: RulesSchema,
    members: z.array(z.strictObject({ member: key, name: name.optional(), roles: z.array(RoleIdSchema).max(64) })).max(1000),
    keys: z.array(RotationSchema).max(64),
    relay: z.string().max(MAX_RELAY_BUNDLE).nullable(),
    nonce: bytes(16),
  }),
  'member.add': z.strictObject({ member: key, name: name.optional(), roles: z.array(RoleIdSchema).max(64), keys: z.array(ShareSchema).max(256) }),
  'member.remove': z.strictObject({
    member: key,
    reason: z.string().max(1000).optional(),
    rotations: z.array(RotationSchema).max(64),
    /** The re-keyed Cwtch group's invite, sealed to each member who stays (the removed one gets none). */
    invites: z.array(InviteLockboxSchema).max(5000).optional(),
  }),
  'member.leave': z.strictObject({}),
  /** A member names themself: applies to the author only (names chosen in member.add are the adder's). */
  'member.rename': z.strictObject({ name: DisplayNameSchema }),
  'role.assign': z.strictObject({ member: key, role: RoleIdSchema, keys: z.array(ShareSchema).max(256) }),
  'role.remove': z.strictObject({ member: key, role: RoleIdSchema, rotation: RotationSchema.nullable() }),
  'rules.change': z.strictObject({ rules: RulesSchema }),
  'keys.rotate': z.strictObject({ rotations: z.array(RotationSchema).min(1).max(64) }),
  'keys.share': z.strictObject({ shares: z.array(ShareSchema).min(1).max(256) }),
  'relay.move': z.strictObject({ bundle: relayBundle, invites: z.array(InviteLockboxSchema).max(5000) }),
  /**
   * A mirror relay beside the relay: nodes post every event to the relay and every mirror, and
   * read from all of them. No invites: members derive the mirror group from the group key they hold.
   */
  'relay.add': z.strictObject({ bundle: relayBundle }),
  /** A mirror relay no longer listed (the relay itself is replaced by relay.move, never dropped). */
  'relay.drop': z.strictObject({ bundle: relayBundle }),
  'founder.nominate': z.strictObject({ candidate: key }),
  'founder.endorse': z.strictObject({ nomination: eventId }),
  'founder.claim': z.strictObject({ nomination: eventId }),
  'task.create': z.strictObject({ parent: eventId.nullable(), sealed: SealedSchema }),
  'task.edit': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.assign': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.status': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.close': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.reopen': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.comment': z.strictObject({ task: eventId, sealed: SealedSchema }),
  'task.move': z.strictObject({ task: eventId, parent: eventId.nullable() }),
  /**
   * A write-only submission (a tip) to one audience role, by someone allowed to `submit` to it
   * who need not hold it: `box` is the bound, padded content sealed to the audience key's public
   * X25519 half (`keyId` names the epoch); `self` is the same plaintext sealed to the submitter,
   * so they can read their own submission and nobody else's. It opens a task of that audience.
   */
  /**
   * The pursuance's public profile, where strangers ask to join (profile.ts), or null to withdraw
   * it. Requests never enter the log; this, and the member.add that admits someone, do.
   */
  'profile.publish': z.strictObject({ profile: ProfileSchema.nullable() }),
  /**
   * A link to another pursuance (fold/links.ts): their offer (its anchor key is pinned, its
   * inbox is where we post to them); what their roles may do here; our role whose key signs what
   * we announce to them; which of our roles send to which of theirs; our inbox. Opening it again
   * re-pins (and unfreezes) it.
   */
  'link.open': z.strictObject({
    name: DisplayNameSchema,
    offer: LinkOfferSchema,
    theyMay: z.array(LinkGrantSchema).max(LINK_GRANTS_MAX),
    ourAnchor: RoleIdSchema,
    weSend: z.array(LinkSendSchema).max(LINK_GRANTS_MAX),
    /** Our inbox for this link (the one our offer to them names): every member's node reads it. */
    ourInbox: linkInbox,
  }),
  /** A role key a linked pursuance announced, carried into our log by any member. */
  'link.keys': z.strictObject({ announcement: AnnouncementSchema }),
  'link.close': z.strictObject({ peer: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** We send a task over a link (our log's record of it, for accountability): our role, theirs, the content's digest. */
  'link.send': z.strictObject({ peer: z.string().regex(/^[0-9a-f]{64}$/), ours: RoleIdSchema, theirs: RoleIdSchema, digest: bytes(32) }),
  /** A task a linked pursuance sent us, carried in by any member; the audience (header) is the credential's `on`. */
  'link.task': LinkParcelSchema,
  'submission.create': z.strictObject({
    keyId: bytes(32),
    box: bytesUpTo(64 * 1024),
    self: bytesUpTo(64 * 1024),
  }),
  /**
   * The author vouches for a snapshot (snapshot/base.ts): the public state after every event up
   * to `frontier` hashes to `stateHash`, and the snapshot document to `snapshot`. A joiner starts
   * from a snapshot enough distinct members vouch for (the rules' `snapshots` setting).
   */
  'snapshot.attest': z.strictObject({
    frontier: z.array(eventId).min(1).max(32),
    snapshot: bytes(32),
    stateHash: bytes(32),
    events: z
      .number()
      .int()
      .min(1)
      .max(2 ** 40),
  }),
} as const;

export type EventKind = keyof typeof BODY_SCHEMAS;
export const EVENT_KINDS = Object.keys(BODY_SCHEMAS) as [EventKind, ...EventKind[]];
export type EventBody<K extends EventKind = EventKind> = z.infer<(typeof BODY_SCHEMAS)[K]>;
export type Rotation = z.infer<typeof RotationSchema>;
export type RolePub = z.infer<typeof RolePubSchema>;
export type Share = z.infer<typeof ShareSchema>;
export type Lockbox = z.infer<typeof LockboxSchema>;
export type InviteLockbox = z.infer<typeof InviteLockboxSchema>;
/** The body of relay.add and relay.drop: one mirror relay's exported key bundle. */
export type RelayMirrorBody = EventBody<'relay.add' | 'relay.drop'>;
export type Sealed = z.infer<typeof SealedSchema>;

/** Whether an event of `kind` opens a task (its own id is the task's): a task.create or a submission. */
export function opensTask(kind: string): boolean {
  return kind === 'task.create' || kind === 'submission.create';
}

/** Whether events of `kind` are about a task (they open one, or name one): task events, and submissions and tasks sent over a link, which open one. */
export function isTaskKind(kind: string): boolean {
  return kind.startsWith('task.') || kind === 'submission.create' || kind === 'link.task';
}

export const TASK_CONTENT_KINDS = ['task.create', 'task.edit', 'task.assign', 'task.status', 'task.close', 'task.reopen', 'task.comment'] as const;
export type TaskContentKind = (typeof TASK_CONTENT_KINDS)[number];

/** Private payloads inside `sealed.ct`, per task kind (validated by readers after decryption). */
const assignees = z.strictObject({ members: z.array(key).max(256), roles: z.array(RoleIdSchema).max(64) });
const state = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);
export const CONTENT_SCHEMAS = {
  'task.create': z.strictObject({
    title: z.string().min(1).max(300),
    body: z.string().max(20_000),
    assignees,
    labels: z.array(z.string().min(1).max(40)).max(32),
    due: z.number().int().min(0).nullable(),
  }),
  'task.edit': z.strictObject({
    title: z.string().min(1).max(300).optional(),
    body: z.string().max(20_000).optional(),
    labels: z.array(z.string().min(1).max(40)).max(32).optional(),
    due: z.number().int().min(0).nullable().optional(),
  }),
  'task.assign': z.strictObject({ add: assignees, remove: assignees }),
  'task.status': z.strictObject({ to: state }),
  'task.close': z.strictObject({ to: state, note: z.string().max(2000).optional() }),
  'task.reopen': z.strictObject({ to: state, note: z.string().max(2000).optional() }),
  'task.comment': z.strictObject({ body: z.string().min(1).max(20_000) }),
} as const;
export type TaskContent<K extends TaskContentKind = TaskContentKind> = z.infer<(typeof CONTENT_SCHEMAS)[K]>;

/** What a submission says, inside its boxes: no assignees, labels or dates, those are the audience's to set. */
export const SubmissionContentSchema = z.strictObject({
  title: z.string().min(1).max(300),
  body: z.string().max(20_000),
});
export type SubmissionContent = z.infer<typeof SubmissionContentSchema>;

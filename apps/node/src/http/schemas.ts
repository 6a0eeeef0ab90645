import { z } from 'zod';
import { SAFETY_NUMBER_PATTERN, decodeStrictBase64, isOnionName } from '@pursuance/crypto';
import { RoleIdSchema, RulesSchema, displayNameProblem } from '@pursuance/pursuance';
import { relayBundleText } from '../domain/relay-bundle-text.js';

/**
 * Every input of the HTTP API — bodies, path parameters, query strings — as a zod schema, and
 * its DTO type: `XDto = z.output<typeof X>` is what the handler receives once
 * ZodValidationPipe has checked it, and ApiInput documents the same schema in OpenAPI. (A DTO
 * type never shares its schema's name: decorator metadata would then name the schema object.)
 * Messages are worded to follow a field name ("must be …").
 */
export const Onion = z.string().max(64).refine(isOnionName, 'must be a 56-character onion address (the letters and digits before ".onion")');
/**
 * A relay's key bundle as pasted: the bundle alone, or the whole line a relay or the demo
 * printed it on (`key-bundle …`, `relay bundle …`), surrounding spaces ignored.
 */
const BundleText = z.string().min(1).max(4096).transform(relayBundleText);
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be an id of 64 lowercase hex characters');
const EventIdSchema = Hex64;
const RoleId = z
  .string()
  .max(32)
  .refine((s) => RoleIdSchema.safeParse(s).success, 'must be a role id: lowercase letters, digits and dashes, starting with a letter');
const roles = z.array(RoleId).max(64);
/**
 * A person's display name as typed: trimmed, then held to what a signed name may be (1–120
 * characters; no line breaks, control characters or text-direction overrides).
 */
const DisplayName = z
  .string()
  .max(1000)
  .trim()
  .superRefine((s, ctx) => {
    const problem = displayNameProblem(s);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });

// --- path parameters and query strings ------------------------------------------------------

export const PursuanceParams = z.strictObject({ id: Hex64 });
export type PursuanceParamsDto = z.output<typeof PursuanceParams>;
export const MemberParams = z.strictObject({ id: Hex64, onion: Onion });
export type MemberParamsDto = z.output<typeof MemberParams>;
export const MemberRoleParams = z.strictObject({ id: Hex64, onion: Onion, role: RoleId });
export type MemberRoleParamsDto = z.output<typeof MemberRoleParams>;
export const TaskParams = z.strictObject({ id: Hex64, taskId: Hex64 });
export type TaskParamsDto = z.output<typeof TaskParams>;
export const NominationParams = z.strictObject({ id: Hex64, eventId: EventIdSchema });
export type NominationParamsDto = z.output<typeof NominationParams>;

export const ContactParams = z.strictObject({ onion: Onion });
export type ContactParamsDto = z.output<typeof ContactParams>;

/** Unknown query parameters are ignored: a GET may carry the token as one (see SecurityGuard). */
export const FeedQueryString = z.object({ limit: z.coerce.number().int().min(1).max(5000).optional() });
export type FeedQueryStringDto = z.output<typeof FeedQueryString>;

/**
 * A read-model version as the node handed it out (GET …/changes, SSE `changed`): digits only,
 * no sign, exponent or leading zeros, and within what a JSON number carries exactly. A version
 * the node never gave or no longer remembers is no error: the answer says `reset`.
 */
const wholeNumber = (what: string) =>
  z
    .string()
    .max(16)
    .regex(/^(0|[1-9][0-9]*)$/, `must be ${what}: a whole number of at most 16 digits, as the node gave it`)
    .transform(Number)
    .refine(Number.isSafeInteger, `must be ${what} the node could have given (at most 9007199254740991)`);
const Version = wholeNumber('a version');
export const ChangesQueryString = z.object({ since: Version.optional() });

/** The most tasks one page of GET …/tasks?limit= carries. */
export const TASK_PAGE_MAX = 5000;

/**
 * A task-list cursor as the node handed it out (`next`): `createdAt.taskId`, the time a whole
 * number as a version is, the id as any id. Any such position is valid: a page starts after it.
 */
const TaskCursorText = z
  .string()
  .max(17 + 64)
  .regex(/^[^.]+\.[^.]+$/, 'must be a cursor as the node gave it (next of the previous page)')
  .transform((s) => ({ createdAt: s.slice(0, s.indexOf('.')), id: s.slice(s.indexOf('.') + 1) }))
  .pipe(z.object({ createdAt: wholeNumber('a cursor time'), id: Hex64 }));
/** Without `limit`, the whole list (an array); with it, one page (`after` only with `limit`). */
export const TasksQueryString = z
  .object({ limit: z.coerce.number().int().min(1).max(TASK_PAGE_MAX).optional(), after: TaskCursorText.optional() })
  .refine((q) => q.after === undefined || q.limit !== undefined, { message: 'after is only taken with limit (a page)', path: ['after'] });
export type TasksQueryStringDto = z.output<typeof TasksQueryString>;
export type ChangesQueryStringDto = z.output<typeof ChangesQueryString>;

// --- bodies ----------------------------------------------------------------------------------

/** Routes that take no body refuse one with fields in it, rather than act as if it were not sent. */
export const NoBody = z.strictObject({}).optional();
export type NoBodyDto = z.output<typeof NoBody>;

export const CreatePursuanceBody = z.strictObject({
  name: z.string().min(1).max(120),
  description: z.string().max(4000).default(''),
  template: z
    .string()
    .max(64)
    .regex(/^[a-z0-9-]+$/, 'must be the id of a template from GET /api/templates')
    .optional(),
  rules: RulesSchema.optional(),
  /** A relay's exported key bundle (e.g. one of GET /api/relays): the new pursuance is attached to it at once. */
  relay: BundleText.optional(),
});
export type CreatePursuanceBodyDto = z.output<typeof CreatePursuanceBody>;
export const AddMemberBody = z.strictObject({ onion: Onion, name: DisplayName.optional(), roles: roles.default([]) });
export type AddMemberBodyDto = z.output<typeof AddMemberBody>;
export const RemoveMemberBody = z.strictObject({ reason: z.string().max(1000).optional() }).optional();
export type RemoveMemberBodyDto = z.output<typeof RemoveMemberBody>;
export const AssignRoleBody = z.strictObject({ role: RoleId });
export type AssignRoleBodyDto = z.output<typeof AssignRoleBody>;
export const RotateKeysBody = z.strictObject({ roles: roles.min(1) });
export type RotateKeysBodyDto = z.output<typeof RotateKeysBody>;
export const ChangeRulesBody = z.strictObject({ rules: RulesSchema });
export type ChangeRulesBodyDto = z.output<typeof ChangeRulesBody>;
const label = z.string().min(1).max(40);
export const CreateTaskBody = z.strictObject({
  audience: roles.min(1),
  parent: EventIdSchema.nullable().optional(),
  title: z.string().min(1).max(300),
  body: z.string().max(20_000).optional(),
  assignees: z.strictObject({ members: z.array(Onion).max(256).optional(), roles: roles.optional() }).optional(),
  labels: z.array(label).max(32).optional(),
  due: z.number().int().min(0).nullable().optional(),
});
export type CreateTaskBodyDto = z.output<typeof CreateTaskBody>;
/** A write-only submission (a tip): one audience role, a title and a text; no assignees, labels or dates. */
export const SubmitBody = z.strictObject({
  audience: RoleId,
  title: z.string().min(1).max(300),
  body: z.string().max(20_000).optional(),
});
export type SubmitBodyDto = z.output<typeof SubmitBody>;
const side = z.strictObject({ members: z.array(Onion).max(256).optional(), roles: roles.optional() });
const state = z.string().min(1).max(32);
export const TaskChangeBody = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('edit'),
    title: z.string().min(1).max(300).optional(),
    body: z.string().max(20_000).optional(),
    labels: z.array(label).max(32).optional(),
    due: z.number().int().min(0).nullable().optional(),
  }),
  z.strictObject({ op: z.literal('assign'), add: side.optional(), remove: side.optional() }),
  z.strictObject({ op: z.literal('status'), to: state }),
  z.strictObject({ op: z.literal('close'), to: state.optional(), note: z.string().max(2000).optional() }),
  z.strictObject({ op: z.literal('reopen'), to: state.optional(), note: z.string().max(2000).optional() }),
  z.strictObject({ op: z.literal('comment'), body: z.string().min(1).max(20_000) }),
  z.strictObject({ op: z.literal('move'), parent: EventIdSchema.nullable() }),
]);
export type TaskChangeBodyDto = z.output<typeof TaskChangeBody>;

/** One raw signed event, base64 (strict: only the canonical encoding of some bytes). */
const EventBytes = z
  .string()
  .max(2_000_000)
  .transform((s, ctx) => {
    const bytes = decodeStrictBase64(s);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is not base64 (standard alphabet, with padding)' });
      return z.NEVER;
    }
    return bytes;
  });
/** Raw signed events, base64, for import/export (invites before group sync, backups). */
export const EventsBody = z.strictObject({ events: z.array(EventBytes).min(1).max(10_000) });
export type EventsBodyDto = z.output<typeof EventsBody>;

/** A founder nominates a member to become a founder (see rules/README.md, Succession). */
export const NominateBody = z.strictObject({ candidate: Onion });
export type NominateBodyDto = z.output<typeof NominateBody>;

/** A relay's exported key bundle, as its operator printed it. */
export const RelayBundleBody = z.strictObject({ bundle: BundleText });
export type RelayBundleBodyDto = z.output<typeof RelayBundleBody>;
export const InviteContactBody = z.strictObject({ onion: Onion });
export type InviteContactBodyDto = z.output<typeof InviteContactBody>;
/** A group invite or a join link (alone, inside a dashboard address, or with words around it). */
export const AcceptInviteBody = z.strictObject({ invite: z.string().min(1).max(16_384) });

/** A join link to make: the roles the newcomer gets, whether the first holder is let in without asking, and how long it lasts. */
export const JoinInviteBody = z.strictObject({
  roles: roles.default([]),
  preApproved: z.boolean().default(false),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(30 * 24)
    .default(7 * 24),
});
export type JoinInviteBodyDto = z.output<typeof JoinInviteBody>;
/** Approving a join request, optionally with other roles than the invite named. */
export const ApproveJoinBody = z.strictObject({ roles: roles.optional() });
export type ApproveJoinBodyDto = z.output<typeof ApproveJoinBody>;
export const JoinInviteParams = z.strictObject({
  id: Hex64,
  inviteId: z.string().regex(/^[0-9a-f]{32}$/, 'must be an invite id of 32 lowercase hex characters'),
});
export type JoinInviteParamsDto = z.output<typeof JoinInviteParams>;
export type AcceptInviteBodyDto = z.output<typeof AcceptInviteBody>;

/** Publishing the pursuance's public profile (joining by request). */
export const PublishProfileBody = z.strictObject({
  role: RoleId,
  name: DisplayName.optional(),
  about: z.string().max(2_000).default(''),
  asks: z.array(z.string().min(1).max(300)).max(8).default([]),
  effort: z.number().int().min(8).max(28).optional(),
  days: z.number().int().min(1).max(14).optional(),
  /** Another relay for the inbox (an exported key bundle); default: the current inbox, else the pursuance's relay. */
  relay: z.string().min(1).max(4_096).optional(),
});
export type PublishProfileBodyDto = z.output<typeof PublishProfileBody>;
export const JoinRequestParams = z.strictObject({
  id: Hex64,
  requestId: Hex64,
});
export type JoinRequestParamsDto = z.output<typeof JoinRequestParams>;
export const AdmitBody = z.strictObject({ roles: roles.default([]) });
export type AdmitBodyDto = z.output<typeof AdmitBody>;
export const DeclineBody = z.strictObject({ note: z.string().max(300).optional(), block: z.boolean().default(false) });
export type DeclineBodyDto = z.output<typeof DeclineBody>;
/** A pasted profile (pursuance-profile:1:…), with words around it allowed. */
export const ProfileTextBody = z.strictObject({ profile: z.string().min(1).max(16_384) });
export type ProfileTextBodyDto = z.output<typeof ProfileTextBody>;
export const SendJoinRequestBody = z.strictObject({
  profile: z.string().min(1).max(16_384),
  name: DisplayName.optional(),
  answers: z.array(z.string().max(1_000)).max(8).default([]),
  /** A vouch from a pursuance linked to this one (pursuance-vouch:1:…): less work. */
  vouch: z.string().trim().max(4_000).optional(),
});
export type SendJoinRequestBodyDto = z.output<typeof SendJoinRequestBody>;

/** This node's display name (the profile's), carried into every pursuance it is a member of. */
export const ProfileBody = z.strictObject({ name: DisplayName });
export type ProfileBodyDto = z.output<typeof ProfileBody>;

/** The safety number as it was shown: 12 groups of 5 digits, separated by single spaces. */
export const SafetyVerifyBody = z.strictObject({
  safetyNumber: z.string().max(100).regex(SAFETY_NUMBER_PATTERN, 'must be the 60-digit safety number in 12 groups of 5 digits'),
});
export type SafetyVerifyBodyDto = z.output<typeof SafetyVerifyBody>;

/** A link to another pursuance, named by that pursuance's id. */
export const LinkParams = z.strictObject({ id: Hex64, peer: Hex64 });
export type LinkParamsDto = z.output<typeof LinkParams>;
export const LinkOfferBody = z.strictObject({
  /** The pursuance to link (its id, as its members give it). */
  to: Hex64,
  /** Our role whose current key anchors the link: one you hold. */
  anchor: RoleId,
  days: z.number().int().min(1).max(7).optional(),
  /** Another relay for our inbox on this link (an exported key bundle); default: the pursuance's relay. */
  relay: z.string().min(1).max(4_096).optional(),
});
export type LinkOfferBodyDto = z.output<typeof LinkOfferBody>;
/** A pasted link offer (pursuance-link:1:…). */
export const LinkOfferTextBody = z.strictObject({ offer: z.string().min(1).max(16_384) });
export type LinkOfferTextBodyDto = z.output<typeof LinkOfferTextBody>;
export const OpenLinkBody = z.strictObject({
  offer: z.string().min(1).max(16_384),
  name: DisplayName.optional(),
  /** What their roles may do here: create tasks for one of our roles, or vouch for applicants one of our roles reviews. */
  theyMay: z
    .array(z.strictObject({ theirRole: RoleId, action: z.enum(['create', 'vouch']).default('create'), on: RoleId }))
    .max(32)
    .default([]),
  /** Which of our roles send to which of theirs. */
  weSend: z
    .array(z.strictObject({ ours: RoleId, theirs: RoleId }))
    .max(32)
    .default([]),
});
export type OpenLinkBodyDto = z.output<typeof OpenLinkBody>;
/** A task sent over a link: for our role `ours` (one you hold) to their role `theirs`. */
export const LinkTaskBody = z.strictObject({
  ours: RoleId,
  theirs: RoleId,
  title: z.string().trim().min(1).max(300),
  body: z.string().max(20_000).default(''),
});
export type LinkTaskBodyDto = z.output<typeof LinkTaskBody>;
/** A vouch for an applicant to their pursuance, as our role `role` (one you hold); the applicant's address with or without ".onion". */
export const VouchBody = z.strictObject({
  role: RoleId,
  applicant: z
    .string()
    .max(80)
    .transform((s) => s.trim().replace(/\.onion$/, ''))
    .pipe(Onion),
});
export type VouchBodyDto = z.output<typeof VouchBody>;

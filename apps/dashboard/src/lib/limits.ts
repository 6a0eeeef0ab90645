/**
 * The node's length limits for what people type (apps/node/src/http/schemas.ts; a copy, as the
 * bundle must not import the node app). Lengths are in UTF-16 code units, as zod and `.length` count.
 */
export const LIMITS = {
  taskTitle: 300,
  taskBody: 20_000,
  comment: 20_000,
  name: 120,
  description: 4_000,
  reason: 1_000,
  /** A public profile's "about" (PublishProfileBody). */
  profileAbout: 2_000,
  /** One question a profile asks (PublishProfileBody `asks`). */
  profileAsk: 300,
  /** One answer in a join request (SendJoinRequestBody `answers`). */
  answer: 1_000,
  /** The note with a declined join request (DeclineBody). */
  declineNote: 300,
  /** A pasted vouch, sent with a join request (SendJoinRequestBody `vouch`). */
  vouch: 4_000,
  /** A pasted profile, invite or link (ProfileTextBody). */
  pasted: 16_384,
} as const;

/** True when `text` fits `max` (a form with a field over its limit is not sent). */
export const fits = (text: string, max: number): boolean => text.length <= max;

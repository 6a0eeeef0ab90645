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
} as const;

/** True when `text` fits `max` (a form with a field over its limit is not sent). */
export const fits = (text: string, max: number): boolean => text.length <= max;

import { displayNameProblem } from '@pursuance/pursuance';
import { z } from 'zod';

/**
 * The two direct messages of joining by link, as JSON in Cwtch overlays: the newcomer's request
 * (the pursuance, the link's one-time secret, the name it goes by) and the inviter's reply.
 * The sender of either is the peer at the other end of the authenticated Tapir channel, never
 * a field. Bytes from the network: anything that does not fit is dropped, never half-used.
 */
export const JOIN_MESSAGE_MAX = 2_048;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const RequestSchema = z.strictObject({
  v: z.literal(1),
  p: Hex64,
  s: z
    .string()
    .length(43)
    .regex(/^[A-Za-z0-9_-]+$/),
  n: z.string().max(200).optional(),
});

export const REPLY_CODES = ['INVITE_UNKNOWN', 'INVITE_EXPIRED', 'INVITE_REVOKED', 'INVITE_USED', 'REFUSED'] as const;
export type ReplyCode = (typeof REPLY_CODES)[number];

const ReplySchema = z.discriminatedUnion('status', [
  z.strictObject({ v: z.literal(1), p: Hex64, status: z.literal('pending') }),
  z.strictObject({ v: z.literal(1), p: Hex64, status: z.literal('approved') }),
  z.strictObject({ v: z.literal(1), p: Hex64, status: z.literal('refused'), code: z.enum(REPLY_CODES) }),
]);

export interface JoinRequestMessage {
  readonly pursuanceId: string;
  readonly secret: string;
  /** The name the newcomer goes by, when it is one a signed event may carry. */
  readonly name: string | null;
}

export type JoinReplyMessage =
  | { readonly pursuanceId: string; readonly status: 'pending' | 'approved' }
  | { readonly pursuanceId: string; readonly status: 'refused'; readonly code: ReplyCode };

function json(text: string): unknown {
  if (text.length > JOIN_MESSAGE_MAX) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function encodeJoinRequest(m: JoinRequestMessage): string {
  return JSON.stringify({ v: 1, p: m.pursuanceId, s: m.secret, ...(m.name ? { n: m.name } : {}) });
}

/** A join request, or null for anything that is not one. A name a signed event could not carry is dropped, not the request. */
export function parseJoinRequest(text: string): JoinRequestMessage | null {
  const r = RequestSchema.safeParse(json(text));
  if (!r.success) return null;
  const name = r.data.n?.trim();
  return { pursuanceId: r.data.p, secret: r.data.s, name: name && displayNameProblem(name) === null ? name : null };
}

export function encodeJoinReply(m: JoinReplyMessage): string {
  return JSON.stringify({ v: 1, p: m.pursuanceId, status: m.status, ...(m.status === 'refused' ? { code: m.code } : {}) });
}

export function parseJoinReply(text: string): JoinReplyMessage | null {
  const r = ReplySchema.safeParse(json(text));
  if (!r.success) return null;
  const d = r.data;
  return d.status === 'refused' ? { pursuanceId: d.p, status: 'refused', code: d.code } : { pursuanceId: d.p, status: d.status };
}

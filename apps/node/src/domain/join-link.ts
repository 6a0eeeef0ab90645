import { randomBytes } from 'node:crypto';
import { equalBytes, fromHex, isOnionName, sha256, toHex } from '@pursuance/crypto';
import { displayNameProblem } from '@pursuance/pursuance';
import { z } from 'zod';
import { InvalidInviteError, InviteExpiredError } from './errors.js';

/**
 * A join link: everything a newcomer's node needs to ask to join, in one string to paste, open
 * or scan — the pursuance, the inviting node, the relay it syncs through (its key bundle, pinned
 * on first use), the group, when the link expires, and a one-time secret.
 *
 * It does NOT carry the group's key. Holding a link lets a node ask; the group (and with it the
 * pursuance's history) is handed over only after the inviter's node checks the secret and a
 * person approves, or the invite was pre-approved. So a link that leaks, expires or is revoked
 * is worth nothing to whoever finds it, and an approved newcomer cannot pass the group on
 * through the link either. The inviter stores only a hash of the secret.
 *
 * Text form: `pursuance-join:1:` + base64url(JSON). It may arrive inside a URL (the dashboard's
 * `/join#invite=…`, the fragment never reaching any server) or with words around it; exactly
 * one link token must be in the text.
 */
export const JOIN_LINK_PREFIX = 'pursuance-join:1:';
/** Longest text accepted as a link (a relay bundle is under 1 KB; the rest is small). */
export const JOIN_LINK_MAX = 8_192;
export const JOIN_SECRET_BYTES = 32;

const TOKEN = /pursuance-join:1:([A-Za-z0-9_-]+)/g;
const B64URL = /^[A-Za-z0-9_-]+$/;

const LinkSchema = z.strictObject({
  /** pursuance id */
  p: z.string().regex(/^[0-9a-f]{64}$/),
  /** the pursuance's name as the inviter's node knows it (shown as "the invite says") */
  n: z.string().max(200),
  /** the inviting node */
  i: z.string().refine(isOnionName),
  /** the inviter's display name, if any (shown as "the invite says") */
  b: z
    .string()
    .max(200)
    .refine((s) => displayNameProblem(s) === null)
    .optional(),
  /** the relay's key bundle */
  r: z.string().min(1).max(4_096),
  /** the Cwtch group the pursuance syncs in */
  g: z.string().min(1).max(128),
  /** expiry, ms since the epoch */
  x: z.number().int().min(0).max(8_640_000_000_000_000),
  /** the one-time secret, base64url */
  s: z.string().length(43).regex(B64URL),
});

export interface JoinLink {
  readonly pursuanceId: string;
  readonly pursuanceName: string;
  readonly inviter: string;
  readonly inviterName: string | null;
  readonly relayBundle: string;
  readonly groupId: string;
  readonly expiresAt: number;
  readonly secret: string;
}

export function encodeJoinLink(link: JoinLink): string {
  const json = {
    p: link.pursuanceId,
    n: link.pursuanceName,
    i: link.inviter,
    ...(link.inviterName ? { b: link.inviterName } : {}),
    r: link.relayBundle,
    g: link.groupId,
    x: link.expiresAt,
    s: link.secret,
  };
  return JOIN_LINK_PREFIX + Buffer.from(JSON.stringify(LinkSchema.parse(json)), 'utf8').toString('base64url');
}

/** Does the text hold a join link (rather than a Cwtch group invite or garbage)? Cheap; no validation. */
export function looksLikeJoinLink(text: string): boolean {
  return text.includes(JOIN_LINK_PREFIX);
}

/**
 * Read a join link from pasted text. InvalidInviteError for anything but exactly one well-formed
 * link; InviteExpiredError once it has expired (so the newcomer is told to ask for a new one).
 */
export function parseJoinLink(text: string, now: number): JoinLink {
  if (text.length > JOIN_LINK_MAX) throw new InvalidInviteError('This text is far longer than any invite link. Paste only the link you received.');
  const tokens = [...text.matchAll(TOKEN)];
  if (tokens.length !== 1) {
    throw new InvalidInviteError(
      tokens.length === 0
        ? 'This is not a valid pursuance invite. Check that you pasted the whole invite, exactly as you received it.'
        : 'This text holds more than one invite link. Paste just one.',
    );
  }
  const body = tokens[0]![1]!;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidInviteError('This invite link is damaged or cut short. Copy the whole link again.', { cause });
  }
  const parsed = LinkSchema.safeParse(json);
  if (!parsed.success) throw new InvalidInviteError('This invite link is damaged or cut short. Copy the whole link again.', { cause: parsed.error });
  const l = parsed.data;
  if (l.x <= now) throw new InviteExpiredError();
  return {
    pursuanceId: l.p,
    pursuanceName: l.n,
    inviter: l.i,
    inviterName: l.b ?? null,
    relayBundle: l.r,
    groupId: l.g,
    expiresAt: l.x,
    secret: l.s,
  };
}

/** A fresh one-time secret (base64url of 32 random bytes). */
export function newJoinSecret(): string {
  return randomBytes(JOIN_SECRET_BYTES).toString('base64url');
}

/**
 * What the inviter keeps of a secret: an id to find the invite by (shown in the API, so it must
 * not be the secret) and a hash to check it against. Both come from the secret alone, so a
 * request is looked up by id and then compared in constant time.
 */
export function secretDigest(secret: string): { id: string; hash: string } {
  const bytes = new TextEncoder().encode(secret);
  return {
    id: toHex(sha256(new TextEncoder().encode('pursuance join invite id'), bytes)).slice(0, 32),
    hash: toHex(sha256(bytes)),
  };
}

export function secretMatches(secret: string, hash: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(hash)) return false;
  return equalBytes(fromHex(secretDigest(secret).hash), fromHex(hash));
}

/** The link as a dashboard address on the usual port: opening it pre-fills Join. The fragment never leaves the browser. */
export function joinUrl(link: string, port = 7878): string {
  return `http://127.0.0.1:${port}/join#invite=${link}`;
}

import { randomBytes } from 'node:crypto';
import {
  CryptoError,
  canonicalDecode,
  canonicalEncode,
  equalBytes,
  openFromIdentity,
  padToSize,
  sealToIdentity,
  unpad,
  verifySignature,
  type Identity,
} from '@pursuance/crypto';
import { type z } from 'zod';
import { EFFORT_MIN, UnsignedVouchSchema, VouchSchema } from './bodies.js';
import { roleKeyPair, type RoleKey } from './keys.js';

/**
 * Vouches (FEDERATION.md J11): a holder of role R in pursuance A tells linked pursuance B "R
 * vouches for this applicant", and B's gatekeepers ask less proof of work of the applicant's join
 * request. A vouch is signed by R's current key, which B knows from A's announcements, so B learns
 * which of A's roles vouched, never which member; it names the applicant's identity key, so nobody
 * else can use it; it carries a nonce, so it is good once; and it lasts VOUCH_HOURS.
 *
 * It travels inside the sealed part of the join request, so only B's gatekeepers see that A
 * vouched (the inbox's readers see at most that a request did less work). The price: a gatekeeper
 * opens a request with the lowered work before it knows whether its vouch holds. The lowered work
 * is still work (VOUCH_DISCOUNT_BITS below the profile's, never under EFFORT_MIN), and the request
 * is dropped once opened if its vouch does not hold (fold/links.ts vouchProblem).
 *
 * From the voucher to the applicant it goes as text sealed to the applicant's identity key, so
 * whoever carries it learns nothing of who vouched for whom.
 */
export const VOUCH_DOMAIN = 'pursuance/link-vouch/v1';
export const VOUCH_TEXT_PREFIX = 'pursuance-vouch:1:';
/** A vouch is good from its hour until this many hours later, and an hour early (clock skew). */
export const VOUCH_HOURS = 72;
/** How many fewer leading zero bits of work a vouched join request needs. */
export const VOUCH_DISCOUNT_BITS = 6;
export const VOUCH_TEXT_MAX = 4_000;
/** The sealed vouch is padded to this size, so its text's length says nothing of the role's name. */
const VOUCH_PADDED_SIZE = 640;

export { UnsignedVouchSchema, VouchSchema };
export type UnsignedVouch = z.infer<typeof UnsignedVouchSchema>;
export type Vouch = z.infer<typeof VouchSchema>;

export class InvalidVouchError extends Error {
  public readonly code = 'INVALID_VOUCH';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidVouchError';
  }
}

function vouchBytes(v: UnsignedVouch): Uint8Array {
  return canonicalEncode({ dom: VOUCH_DOMAIN, ...v });
}

export function signVouch(v: Omit<UnsignedVouch, 'nonce'>, key: RoleKey): Vouch {
  const parsed = UnsignedVouchSchema.safeParse({ ...v, nonce: new Uint8Array(randomBytes(16)) });
  if (!parsed.success) throw new InvalidVouchError(`not a vouch: ${parsed.error.issues[0]?.message ?? ''}`);
  return { ...parsed.data, signature: roleKeyPair(key).sign(vouchBytes(parsed.data)) };
}

export function vouchSignedBy(v: Vouch, signer: Uint8Array): boolean {
  const { signature, ...unsigned } = v;
  return verifySignature(vouchBytes(unsigned), signature, signer);
}

/** Why a vouch of hour `hour` does not hold for a request of hour `at` (null when it does). */
export function vouchHourProblem(hour: number, at: number): string | null {
  if (hour > at + 1) return 'it is dated after the request';
  if (hour < at - VOUCH_HOURS) return `it is more than ${VOUCH_HOURS} hours old`;
  return null;
}

/** The work a vouched request needs, for a profile asking `effort` bits. */
export function vouchedEffort(effort: number): number {
  return Math.max(EFFORT_MIN, effort - VOUCH_DISCOUNT_BITS);
}

/** The vouch as text only its applicant's node opens. */
export function vouchText(v: Vouch): string {
  const sealed = sealToIdentity(v.applicant, padToSize(canonicalEncode(v), VOUCH_PADDED_SIZE));
  return VOUCH_TEXT_PREFIX + Buffer.from(sealed).toString('base64url');
}

/**
 * The vouch in `text`, opened by `me` (its applicant): InvalidVouchError when it is no vouch, or
 * not for this identity. Whether it holds is for the pursuance it is addressed to to judge.
 */
export function openVouchText(text: string, me: Identity): Vouch {
  const trimmed = text.trim();
  if (trimmed.length > VOUCH_TEXT_MAX) throw new InvalidVouchError('too long to be a vouch');
  if (!trimmed.startsWith(VOUCH_TEXT_PREFIX)) throw new InvalidVouchError(`a vouch starts with "${VOUCH_TEXT_PREFIX}"`);
  const body = trimmed.slice(VOUCH_TEXT_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidVouchError('a vouch is base64url after its prefix');
  let value: unknown;
  try {
    value = canonicalDecode(unpad(openFromIdentity(me, new Uint8Array(Buffer.from(body, 'base64url'))), VOUCH_PADDED_SIZE));
  } catch (err) {
    if (err instanceof CryptoError) throw new InvalidVouchError('this vouch does not open with your key: it was made for someone else');
    throw err;
  }
  const parsed = VouchSchema.safeParse(value);
  if (!parsed.success) throw new InvalidVouchError(`not a vouch: ${parsed.error.issues[0]?.message ?? ''}`);
  if (!equalBytes(parsed.data.applicant, me.publicKey)) throw new InvalidVouchError('this vouch names another applicant');
  return parsed.data;
}

import { randomBytes } from 'node:crypto';
import { CryptoError, canonicalDecode, canonicalEncode, isUsableBoxKey, isUsableSigningKey, verifySignature } from '@pursuance/crypto';
import { type z } from 'zod';
import { DAY_MS, EFFORT_MAX, EFFORT_MIN, ProfileSchema, UnsignedProfileSchema } from './bodies.js';
import { popMessage, rolePub, roleKeyPair, type RoleKey } from './keys.js';

/**
 * A pursuance's public profile: what a stranger reads before asking to join, and where to ask.
 *
 * It names the pursuance, says what it is about and what it asks of applicants, and carries the
 * gatekeeping role's public keys for one epoch (with the proof of possession its rotation
 * published), the inbox (a Cwtch group invite, opaque here: anyone may post into it, and only
 * the role's holders read what is sealed to them there), the proof of work a request must carry,
 * and a day-aligned expiry. It is signed by that epoch's role signing key, never a member's: a
 * profile names no member, and whoever holds the role may re-sign it.
 *
 * What a profile cannot prove to a stranger is that its role key is the pursuance's (only the log
 * shows that). What it does prove: it was signed by whoever holds that key, for this pursuance,
 * role and epoch, and has not expired. The log carries it too (`profile.publish`), where the fold
 * checks the key against the role's current epoch, so members know which inbox to read.
 */
export const PROFILE_DOMAIN = 'pursuance/profile/v1';
export const PROFILE_TEXT_PREFIX = 'pursuance-profile:1:';
/** Longest text accepted as a profile (an inbox invite is under 5 KB). */
export const PROFILE_TEXT_MAX = 16_384;
/** A profile expires at most this many days after it was signed, so a stale key is not sought for long. */
export const PROFILE_MAX_DAYS = 14;

export { DAY_MS, EFFORT_MAX, EFFORT_MIN, ProfileSchema, UnsignedProfileSchema };
export type UnsignedProfile = z.infer<typeof UnsignedProfileSchema>;
export type Profile = z.infer<typeof ProfileSchema>;

export class InvalidProfileError extends Error {
  public readonly code = 'INVALID_PROFILE';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidProfileError';
  }
}

export class ProfileExpiredError extends Error {
  public readonly code = 'PROFILE_EXPIRED';
  public constructor(public readonly validUntil: number) {
    super(`this profile expired on ${new Date(validUntil).toISOString().slice(0, 10)}: ask the pursuance for a current one`);
    this.name = 'ProfileExpiredError';
  }
}

function signedBytes(p: UnsignedProfile): Uint8Array {
  return canonicalEncode({ dom: PROFILE_DOMAIN, ...p });
}

export interface NewProfile {
  readonly pursuance: string;
  readonly name: string;
  readonly about: string;
  readonly asks: readonly string[];
  readonly inbox: string;
  readonly effort: number;
  /** When it is signed (ms): it expires at the UTC midnight `days` later. */
  readonly now: number;
  readonly days: number;
  /** Reuse an id (a re-signed profile keeps its inbox and its proofs' seed); random by default. */
  readonly id?: Uint8Array;
}

/** Sign a profile with the gatekeeping role's key `k` (an epoch the signer holds). */
export function signProfile(spec: NewProfile, k: RoleKey): Profile {
  if (!Number.isInteger(spec.days) || spec.days < 1 || spec.days > PROFILE_MAX_DAYS)
    throw new InvalidProfileError(`a profile lasts 1 to ${PROFILE_MAX_DAYS} days`);
  const pub = rolePub(k, spec.pursuance);
  const unsigned: UnsignedProfile = {
    id: spec.id ?? new Uint8Array(randomBytes(16)),
    pursuance: spec.pursuance,
    name: spec.name,
    about: spec.about,
    asks: [...spec.asks],
    role: k.role,
    keyId: k.keyId,
    pub,
    inbox: spec.inbox,
    effort: spec.effort,
    validUntil: (Math.floor(spec.now / DAY_MS) + spec.days) * DAY_MS,
  };
  const parsed = UnsignedProfileSchema.safeParse(unsigned);
  if (!parsed.success) throw new InvalidProfileError(`profile: ${issue(parsed.error)}`);
  const profile = { ...parsed.data, signature: roleKeyPair(k).sign(signedBytes(parsed.data)) };
  // The schema's limits allow more than a text carries: a profile nobody could paste is refused here.
  if (profileText(profile).length > PROFILE_TEXT_MAX) throw new InvalidProfileError('the profile is too long to share: shorten its about, asks or inbox');
  return profile;
}

/**
 * Why `p` is no valid profile, or null: its signature, its role key's proof of possession (bound
 * to the pursuance, role and key id it names), and keys anyone may safely seal to.
 */
export function profileProblem(p: Profile): string | null {
  const { signature, ...unsigned } = p;
  if (!isUsableSigningKey(p.pub.sig)) return 'its signing key is weak';
  if (!isUsableBoxKey(p.pub.box)) return 'its sealing key is weak';
  if (!verifySignature(popMessage(p.pursuance, p.role, p.keyId, p.pub.sig, p.pub.box), p.pub.pop, p.pub.sig)) {
    return 'its role key carries no proof of possession for this pursuance, role and key';
  }
  if (!verifySignature(signedBytes(unsigned), signature, p.pub.sig)) return 'it is not signed by the role key it names';
  return null;
}

/** Check a profile a stranger is about to act on: valid (profileProblem) and not expired at `now`. */
export function checkProfile(p: Profile, now: number): Profile {
  const problem = profileProblem(p);
  if (problem !== null) throw new InvalidProfileError(`not a valid pursuance profile: ${problem}`);
  if (p.validUntil <= now) throw new ProfileExpiredError(p.validUntil);
  // Whoever holds the key can sign a profile outside the log and date it as they like: the bound
  // on how long a key may be sought after it was re-keyed is kept here, on the stranger's clock.
  if (p.validUntil > (Math.floor(now / DAY_MS) + PROFILE_MAX_DAYS + 1) * DAY_MS) {
    throw new InvalidProfileError(`not a valid pursuance profile: it claims to last more than ${PROFILE_MAX_DAYS} days from today`);
  }
  return p;
}

export function encodeProfile(p: Profile): Uint8Array {
  return canonicalEncode(p);
}

/** A profile from its canonical bytes (schema only: call profileProblem or checkProfile before trusting it). */
export function decodeProfile(b: Uint8Array): Profile {
  let value: unknown;
  try {
    value = canonicalDecode(b);
  } catch (err) {
    if (err instanceof CryptoError) throw new InvalidProfileError('not a canonical encoding of a profile');
    throw err;
  }
  const parsed = ProfileSchema.safeParse(value);
  if (!parsed.success) throw new InvalidProfileError(`not a pursuance profile: ${issue(parsed.error)}`);
  return parsed.data;
}

export function profileText(p: Profile): string {
  return PROFILE_TEXT_PREFIX + Buffer.from(encodeProfile(p)).toString('base64url');
}

const TOKEN = /pursuance-profile:1:([A-Za-z0-9_-]+)/g;

/**
 * The profile in a text someone pasted (exactly one profile token, words around it allowed),
 * checked with checkProfile at `now`. InvalidProfileError or ProfileExpiredError otherwise.
 */
export function parseProfileText(text: string, now: number): Profile {
  if (text.length > PROFILE_TEXT_MAX) throw new InvalidProfileError('this text is too long to be a pursuance profile');
  const tokens = [...text.matchAll(TOKEN)];
  if (tokens.length !== 1) throw new InvalidProfileError(tokens.length === 0 ? 'no pursuance profile in this text' : 'this text holds more than one profile');
  const b64 = tokens[0]![1]!;
  const bytes = Buffer.from(b64, 'base64url');
  // Buffer's decoder skips what it cannot read: a round trip is the check that it read all of it.
  if (bytes.toString('base64url') !== b64) throw new InvalidProfileError('the profile is not valid base64url');
  return checkProfile(decodeProfile(new Uint8Array(bytes)), now);
}

function issue(error: z.ZodError): string {
  const first = error.issues[0];
  return first ? `${first.path.join('.') || 'profile'}: ${first.message}` : 'invalid';
}

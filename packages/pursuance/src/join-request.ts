import { randomBytes } from 'node:crypto';
import { bytes } from '@pursuance/codec';
import {
  CryptoError,
  type Identity,
  ROLE_BOX_OVERHEAD,
  canonicalDecode,
  canonicalEncode,
  equalBytes,
  openFromIdentity,
  padToSize,
  sealToIdentity,
  sealToRole,
  sha256,
  unpad,
  verifySignature,
  type RoleKeyPair,
} from '@pursuance/crypto';
import { z } from 'zod';
import { DisplayNameSchema, VouchSchema } from './bodies.js';
import type { Profile } from './profile.js';
import { vouchedEffort, type Vouch } from './vouch.js';

/**
 * Join requests and their answers: the bytes a stranger and a pursuance's gatekeepers exchange
 * through the profile's inbox (an open Cwtch group every profile holder can post into). None of it
 * enters the governed log; only a decision does (the member.add that lets the applicant in).
 *
 *   message = canonical {v: 1, t: "req", p: profile id, h: hour, n: nonce, ct}   a request
 *           | canonical {v: 1, t: "ans", ct}                                     an answer
 *
 * A request's `ct` is sealed to the profile's role key (only holders read it) under a context
 * naming the pursuance, profile, role and key; inside, the applicant's identity signs what it
 * asks. Its proof of work is SHA-256(domain ‖ p ‖ hour ‖ n ‖ SHA-256(ct)) with `effort` leading
 * zero bits: over the ciphertext, so it is checked before anything is decrypted, and over the
 * profile id and hour, so a proof is worth nothing for another profile or another day.
 * Gatekeepers check, in this order and before any costly step: size, shape, profile id, hour,
 * work, replay (screenRequest). A request vouched for by a linked pursuance (vouch.ts) needs
 * VOUCH_DISCOUNT_BITS less work; the vouch is inside `ct`, so what the screen lets through on
 * the lowered work is dropped once opened unless its vouch holds. An answer is sealed to the
 * applicant's identity key and signed by the role key, so it reveals no member to the applicant
 * or to anyone else reading the inbox.
 */
export const JOIN_MESSAGE_MAX = 3_800;
/** Every request's plaintext is padded to this size, so requests all look alike. */
export const REQUEST_PADDED_SIZE = 3_072;
// Room for the longest note in any script: ANSWER_NOTE_MAX UTF-16 units are up to 900 bytes of
// UTF-8, and the body around them 162 (768 left a note of 300 '€' or CJK characters unsealable).
const ANSWER_PADDED_SIZE = 1_152;
/** A request dated more than this many hours before or after the gatekeeper's clock is dropped. */
export const REQUEST_HOURS_BACK = 2;
export const REQUEST_HOURS_AHEAD = 1;
export const ANSWERS_MAX = 8;
export const ANSWER_MAX = 1_000;
export const ANSWER_NOTE_MAX = 300;
const HOUR_MS = 3_600_000;

const POW_DOMAIN = new TextEncoder().encode('pursuance/join-pow/v1');
const BOX_DOMAIN = 'pursuance/join-request/v1';
const SIG_DOMAIN = 'pursuance/join-request-sig/v1';
const ANSWER_DOMAIN = 'pursuance/join-answer/v1';

const hour = z.number().int().min(0).max(0xffff_ffff);
const RequestMessageSchema = z.strictObject({
  v: z.literal(1),
  t: z.literal('req'),
  p: bytes(16),
  h: hour,
  n: bytes(16),
  ct: bytes(ROLE_BOX_OVERHEAD + REQUEST_PADDED_SIZE),
});
const AnswerMessageSchema = z.strictObject({ v: z.literal(1), t: z.literal('ans'), ct: bytes(32 + 40 + ANSWER_PADDED_SIZE) });

const RequestBodySchema = z.strictObject({
  from: bytes(32),
  name: DisplayNameSchema,
  answers: z.array(z.string().max(ANSWER_MAX)).max(ANSWERS_MAX),
  profile: bytes(16),
  hour,
  /** A linked pursuance's vouch for the applicant (vouch.ts): less work asked. */
  vouch: VouchSchema.optional(),
  sig: bytes(64),
});

export const ANSWER_STATUSES = ['declined'] as const;
const AnswerBodySchema = z.strictObject({
  profile: bytes(16),
  request: bytes(32),
  status: z.enum(ANSWER_STATUSES),
  note: z.string().max(ANSWER_NOTE_MAX),
  sig: bytes(64),
});

export type RequestMessage = z.infer<typeof RequestMessageSchema>;

/** Why a gatekeeper dropped a message without reading it (each is counted, none is answered). */
export const DROP_REASONS = ['malformed', 'foreign', 'stale', 'work', 'replay'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export class JoinRequestError extends Error {
  public readonly code = 'INVALID_JOIN_REQUEST';
  public constructor(message: string) {
    super(message);
    this.name = 'JoinRequestError';
  }
}

export function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

export function workDigest(profileId: Uint8Array, hourIndex: number, nonce: Uint8Array, ct: Uint8Array): Uint8Array {
  return sha256(POW_DOMAIN, profileId, u32(hourIndex), nonce, sha256(ct));
}

/** Leading zero bits of a digest. */
export function leadingZeroBits(d: Uint8Array): number {
  let bits = 0;
  for (const byte of d) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

function boxContext(p: Profile): Uint8Array {
  return canonicalEncode({ dom: BOX_DOMAIN, pursuance: p.pursuance, profile: p.id, role: p.role, keyId: p.keyId });
}

function requestSigned(
  p: Profile,
  body: { readonly from: Uint8Array; readonly name: string; readonly answers: readonly string[]; readonly hour: number; readonly vouch?: Vouch | undefined },
): Uint8Array {
  return canonicalEncode({
    dom: SIG_DOMAIN,
    pursuance: p.pursuance,
    profile: p.id,
    from: body.from,
    name: body.name,
    answers: [...body.answers],
    hour: body.hour,
    // Signed with the request when there is one (and absent otherwise, as requests were before vouches).
    ...(body.vouch ? { vouch: body.vouch } : {}),
  });
}

export interface NewJoinRequest {
  readonly name: string;
  readonly answers: readonly string[];
  /** A vouch for this applicant from a pursuance linked to the profile's (openVouchText): less work. */
  readonly vouch?: Vouch | undefined;
}

export interface SealedJoinRequest {
  /** The inbox message. */
  readonly bytes: Uint8Array;
  /** SHA-256 of its `ct`: what an answer names. */
  readonly digest: Uint8Array;
  /** Hashes tried to find the proof of work. */
  readonly tries: number;
}

/**
 * A request to join, from `applicant` to the gatekeepers of profile `p` (checked by the caller),
 * at `now`: signed inside by the applicant, sealed to the role key, with work for `p.effort`.
 * Solving costs about 2^effort hashes, in batches: the generator yields between them (see
 * sealJoinRequest and sealJoinRequestAsync), and returns the request.
 */
function* requestSteps(p: Profile, applicant: Identity, spec: NewJoinRequest, now: number): Generator<number, SealedJoinRequest> {
  const body = {
    from: applicant.publicKey,
    name: spec.name,
    answers: [...spec.answers],
    profile: p.id,
    hour: hourOf(now),
    ...(spec.vouch ? { vouch: spec.vouch } : {}),
  };
  if (spec.vouch && spec.vouch.to !== p.pursuance) throw new JoinRequestError('this vouch is for another pursuance');
  if (spec.vouch && !equalBytes(spec.vouch.applicant, applicant.publicKey)) throw new JoinRequestError('this vouch names another applicant');
  const effort = spec.vouch ? vouchedEffort(p.effort) : p.effort;
  const parsed = RequestBodySchema.safeParse({ ...body, sig: new Uint8Array(64) });
  if (!parsed.success)
    throw new JoinRequestError(`join request: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  if (spec.answers.length < p.asks.length) throw new JoinRequestError(`the pursuance asks ${p.asks.length} questions: answer each one`);
  const plain = canonicalEncode({ ...body, sig: applicant.sign(requestSigned(p, body)) });
  if (plain.length > REQUEST_PADDED_SIZE - 4) throw new JoinRequestError('the answers are too long to send: shorten them');
  const ct = sealToRole(p.pub.box, padToSize(plain, REQUEST_PADDED_SIZE), boxContext(p));
  const ctDigest = sha256(ct);
  const prefix = new Uint8Array([...POW_DOMAIN, ...p.id, ...u32(body.hour)]);
  const nonce = new Uint8Array(randomBytes(16));
  const view = new DataView(nonce.buffer, nonce.byteOffset);
  let tries = 0;
  for (;;) {
    for (let i = 0; i < 4096; i++) {
      tries++;
      // A 64-bit counter in the nonce's last 8 bytes; the first 8 stay random.
      view.setUint32(8, Math.floor(tries / 0x1_0000_0000), false);
      view.setUint32(12, tries >>> 0, false);
      if (leadingZeroBits(sha256(prefix, nonce, ctDigest)) >= effort) {
        return { bytes: canonicalEncode({ v: 1, t: 'req', p: p.id, h: body.hour, n: nonce, ct }), digest: ctDigest, tries };
      }
    }
    yield tries;
  }
}

/** sealJoinRequest's work, all at once (tests, tools; a node uses sealJoinRequestAsync). */
export function sealJoinRequest(p: Profile, applicant: Identity, spec: NewJoinRequest, now: number): SealedJoinRequest {
  const steps = requestSteps(p, applicant, spec, now);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same, giving way between batches of hashes (`pause`, e.g. setImmediate) so a node stays
 * responsive while it works; `signal` abandons the search.
 */
export async function sealJoinRequestAsync(
  p: Profile,
  applicant: Identity,
  spec: NewJoinRequest,
  now: number,
  options: { readonly pause: () => Promise<void>; readonly signal?: AbortSignal },
): Promise<SealedJoinRequest> {
  const steps = requestSteps(p, applicant, spec, now);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (options.signal?.aborted) throw new JoinRequestError('stopped before the proof of work was found');
    await options.pause();
  }
}

export interface ScreenContext {
  readonly profile: Profile;
  readonly now: number;
  /** Has this proof (its work digest, hex) been seen already? Asked only once the work checks out. */
  readonly seen: (proof: string) => boolean;
}

export type Screened =
  | {
      readonly ok: true;
      readonly message: RequestMessage;
      readonly work: number;
      readonly proof: string;
      readonly digest: Uint8Array;
      /** Its work is enough only for a vouched request: once opened, it is dropped unless its vouch holds. */
      readonly vouchNeeded: boolean;
    }
  | { readonly ok: false; readonly reason: DropReason | 'answer' };

/**
 * The cheap checks a gatekeeper runs on every inbox message before anything costs it more than
 * two hashes: its size and shape, that it is for this profile, dated now-ish, carries the work,
 * and is new. `answer`: not a request at all but an answer (gatekeepers skip those).
 */
export function screenRequest(raw: Uint8Array, ctx: ScreenContext): Screened {
  if (raw.length > JOIN_MESSAGE_MAX) return { ok: false, reason: 'malformed' };
  let value: unknown;
  try {
    value = canonicalDecode(raw);
  } catch (err) {
    if (err instanceof CryptoError) return { ok: false, reason: 'malformed' };
    throw err;
  }
  const parsed = RequestMessageSchema.safeParse(value);
  if (!parsed.success) return AnswerMessageSchema.safeParse(value).success ? { ok: false, reason: 'answer' } : { ok: false, reason: 'malformed' };
  const m = parsed.data;
  if (!equalBytes(m.p, ctx.profile.id)) return { ok: false, reason: 'foreign' };
  const nowHour = hourOf(ctx.now);
  if (m.h < nowHour - REQUEST_HOURS_BACK || m.h > nowHour + REQUEST_HOURS_AHEAD) return { ok: false, reason: 'stale' };
  const digest = sha256(m.ct);
  const proofDigest = sha256(POW_DOMAIN, m.p, u32(m.h), m.n, digest);
  const work = leadingZeroBits(proofDigest);
  if (work < vouchedEffort(ctx.profile.effort)) return { ok: false, reason: 'work' };
  const proof = Buffer.from(proofDigest).toString('hex');
  if (ctx.seen(proof)) return { ok: false, reason: 'replay' };
  return { ok: true, message: m, work, proof, digest, vouchNeeded: work < ctx.profile.effort };
}

export interface OpenedJoinRequest {
  /** The applicant's identity key (ed25519). */
  readonly from: Uint8Array;
  readonly name: string;
  readonly answers: readonly string[];
  readonly hour: number;
  /** The vouch it carries, unjudged (fold/links.ts vouchProblem judges it against our links). */
  readonly vouch: Vouch | null;
}

/**
 * Open a screened request with the role key pair of the profile's epoch: the box, the padding,
 * the body, its binding to the outer message (profile, hour), and the applicant's signature.
 * JoinRequestError when any of it fails: the request is dropped, never half-used.
 */
export function openJoinRequest(p: Profile, keys: RoleKeyPair, m: RequestMessage): OpenedJoinRequest {
  let value: unknown;
  try {
    value = canonicalDecode(unpad(keys.open(m.ct, boxContext(p)), REQUEST_PADDED_SIZE));
  } catch (err) {
    if (err instanceof CryptoError) throw new JoinRequestError("the request does not open with this profile's key");
    throw err;
  }
  const parsed = RequestBodySchema.safeParse(value);
  if (!parsed.success) throw new JoinRequestError('the request holds no valid body');
  const b = parsed.data;
  if (!equalBytes(b.profile, m.p) || b.hour !== m.h) throw new JoinRequestError("the request's body is bound to another profile or hour");
  if (!verifySignature(requestSigned(p, { from: b.from, name: b.name, answers: b.answers, hour: b.hour, vouch: b.vouch }), b.sig, b.from))
    throw new JoinRequestError('the request is not signed by the key it names');
  return { from: b.from, name: b.name, answers: b.answers, hour: b.hour, vouch: b.vouch ?? null };
}

export interface JoinAnswer {
  readonly status: (typeof ANSWER_STATUSES)[number];
  readonly note: string;
}

function answerSigned(profileId: Uint8Array, request: Uint8Array, a: JoinAnswer): Uint8Array {
  return canonicalEncode({ dom: ANSWER_DOMAIN, profile: profileId, request, status: a.status, note: a.note });
}

/**
 * An answer to the request whose ct hashes to `request`, for applicant `to` (ed25519): signed by
 * the profile's role key, sealed to the applicant. Admission is not answered here: it is a
 * member.add the applicant sees once the group is handed over.
 */
export function sealJoinAnswer(p: Profile, keys: RoleKeyPair, request: Uint8Array, to: Uint8Array, a: JoinAnswer): Uint8Array {
  if (a.note.length > ANSWER_NOTE_MAX) throw new JoinRequestError(`a note is at most ${ANSWER_NOTE_MAX} characters`);
  const body = canonicalEncode({ profile: p.id, request, status: a.status, note: a.note, sig: keys.sign(answerSigned(p.id, request, a)) });
  return canonicalEncode({ v: 1, t: 'ans', ct: sealToIdentity(to, padToSize(body, ANSWER_PADDED_SIZE)) });
}

/**
 * An answer meant for `me` about one of `requests` (ct digests) to profile `p`, or null when the
 * message is something else: not an answer, not ours, not about our request, or not signed by
 * the profile's role key. Cheap to call on every inbox message (one X25519 per answer).
 */
export function openJoinAnswer(
  raw: Uint8Array,
  me: Identity,
  p: Profile,
  requests: readonly Uint8Array[],
): (JoinAnswer & { readonly request: Uint8Array }) | null {
  if (raw.length > JOIN_MESSAGE_MAX) return null;
  try {
    const m = AnswerMessageSchema.safeParse(canonicalDecode(raw));
    if (!m.success) return null;
    const b = AnswerBodySchema.safeParse(canonicalDecode(unpad(openFromIdentity(me, m.data.ct), ANSWER_PADDED_SIZE)));
    if (!b.success || !equalBytes(b.data.profile, p.id) || !requests.some((r) => equalBytes(r, b.data.request))) return null;
    const a = { status: b.data.status, note: b.data.note };
    if (!verifySignature(answerSigned(p.id, b.data.request, a), b.data.sig, p.pub.sig)) return null;
    return { ...a, request: b.data.request };
  } catch (err) {
    if (err instanceof CryptoError) return null;
    throw err;
  }
}

import { createHash } from 'node:crypto';
import {
  Identity,
  RoleKeyPair,
  canonicalDecode,
  canonicalEncode,
  fromHex,
  openFromIdentity,
  padToSize,
  randomKey,
  sealToIdentity,
  sealToRole,
  toHex,
  unpad,
  verifySignature,
  type CanonicalValue,
} from '@pursuance/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionNotAllowedError, PursuanceAuthor, PursuanceLog, RejectionCode, readSnapshot, snapshotAt, type EventId, type SignedEvent } from '../src/index.js';
import { newRoleKey, popMessage, roleKeyPair, rolePub, type RoleKey } from '../src/keys.js';
import {
  DAY_MS,
  EFFORT_MIN,
  InvalidProfileError,
  PROFILE_MAX_DAYS,
  PROFILE_TEXT_MAX,
  PROFILE_TEXT_PREFIX,
  ProfileExpiredError,
  checkProfile,
  decodeProfile,
  encodeProfile,
  parseProfileText,
  profileProblem,
  profileText,
  signProfile,
  type NewProfile,
  type Profile,
} from '../src/profile.js';
import {
  ANSWER_NOTE_MAX,
  ANSWERS_MAX,
  ANSWER_MAX,
  DROP_REASONS,
  JOIN_MESSAGE_MAX,
  JoinRequestError,
  REQUEST_HOURS_AHEAD,
  REQUEST_HOURS_BACK,
  REQUEST_PADDED_SIZE,
  hourOf,
  leadingZeroBits,
  openJoinAnswer,
  openJoinRequest,
  screenRequest,
  sealJoinAnswer,
  sealJoinRequest,
  sealJoinRequestAsync,
  workDigest,
  type RequestMessage,
  type ScreenContext,
} from '../src/join-request.js';
import { VOUCH_DISCOUNT_BITS } from '../src/vouch.js';
import { publicStateValue, stateHash, type KeyEpoch, type PublicState } from '../src/state.js';
import { decodeState, encodeState } from '../src/snapshot/state-codec.js';
import { SnapshotInvalidError } from '../src/snapshot/errors.js';
import { expectRefused, forge } from './support/harness.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';
import { seededShuffle } from './support/world.js';

/**
 * Joining by request (FEDERATION.md §6 and DESIGN-roles-public-keys.md §6, cases J1, J2, J8–J10):
 * a pursuance's signed public profile, the requests strangers seal to its gatekeeping role with
 * proof of work, the answers signed by that role, and the `profile.publish` event the fold judges.
 * The wire formats are rebuilt here by hand where a test needs a message the API would not make,
 * so a silent change of a domain or a field shows up as a failing test, not as peers that no
 * longer understand each other.
 */

const NOW = 1_800_000_000_000;
const HOUR_MS = 3_600_000;
const PURSUANCE = 'ab'.repeat(32);
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString'];

function spec(over: Partial<NewProfile> = {}): NewProfile {
  return {
    pursuance: PURSUANCE,
    name: 'The Ledger',
    about: 'Investigations into city contracts.',
    asks: ['Why do you want to join?', 'Who can vouch for you?'],
    inbox: 'cwtch-group-invite:example',
    effort: EFFORT_MIN,
    now: NOW,
    days: 7,
    ...over,
  };
}

/** A gatekeeping role key outside any log, its profile and key pair: enough for everything that never touches the fold. */
function gate(over: Partial<NewProfile> = {}, role = 'tips'): { k: RoleKey; p: Profile; keys: RoleKeyPair } {
  const k = newRoleKey(role);
  return { k, p: signProfile(spec(over), k), keys: roleKeyPair(k) };
}

/** Sign `p`'s fields as they stand (the domain is pinned here), as a holder of `k` would after editing them. */
function resign(p: Profile, k: RoleKey): Profile {
  const { signature: _old, ...unsigned } = p;
  return { ...unsigned, signature: roleKeyPair(k).sign(canonicalEncode({ dom: 'pursuance/profile/v1', ...unsigned })) };
}

const ctx = (profile: Profile, now = NOW, seen: (proof: string) => boolean = () => false): ScreenContext => ({ profile, now, seen });

function message(raw: Uint8Array): RequestMessage {
  return canonicalDecode(raw) as unknown as RequestMessage;
}

function encodeMessage(m: RequestMessage): Uint8Array {
  return canonicalEncode({ v: m.v, t: m.t, p: m.p, h: m.h, n: m.n, ct: m.ct });
}

/** `m` with a nonce found for `effort`: what an applicant's client does, for messages the test shaped itself. */
function withWork(m: Omit<RequestMessage, 'n'>, effort: number): Uint8Array {
  const n = new Uint8Array(16);
  for (let i = 0; ; i++) {
    new DataView(n.buffer).setUint32(12, i, false);
    if (leadingZeroBits(workDigest(m.p, m.h, n, m.ct)) >= effort) return encodeMessage({ ...m, n });
  }
}

/** `raw` with its nonce changed until its digest no longer carries `effort` bits: a message without the work. */
function withoutWork(raw: Uint8Array, effort: number): Uint8Array {
  const m = message(raw);
  const n = Uint8Array.from(m.n);
  for (let i = 1; ; i++) {
    new DataView(n.buffer).setUint16(0, i, false);
    if (leadingZeroBits(workDigest(m.p, m.h, n, m.ct)) < effort) return encodeMessage({ ...m, n });
  }
}

function boxContext(p: Profile): Uint8Array {
  return canonicalEncode({ dom: 'pursuance/join-request/v1', pursuance: p.pursuance, profile: p.id, role: p.role, keyId: p.keyId });
}

interface Body {
  readonly from: Uint8Array;
  readonly name: string;
  readonly answers: readonly string[];
  readonly profile: Uint8Array;
  readonly hour: number;
  readonly vouch?: CanonicalValue;
}

/** What an applicant signs inside a request (the domain is pinned here). */
function requestSigned(p: Profile, b: Body): Uint8Array {
  return canonicalEncode({
    dom: 'pursuance/join-request-sig/v1',
    pursuance: p.pursuance,
    profile: p.id,
    from: b.from,
    name: b.name,
    answers: [...b.answers],
    hour: b.hour,
    ...(b.vouch === undefined ? {} : { vouch: b.vouch }),
  });
}

/** A request whose inner body the test writes (signed by `signer`), sealed to `p` properly, with work, dated `outerHour` outside. */
function craft(p: Profile, b: Body, signer: Identity, outerHour = b.hour, extra: Record<string, CanonicalValue> = {}): Uint8Array {
  const plain = canonicalEncode({ ...b, answers: [...b.answers], sig: signer.sign(requestSigned(p, b)), ...extra });
  const ct = sealToRole(p.pub.box, padToSize(plain, REQUEST_PADDED_SIZE), boxContext(p));
  return withWork({ v: 1, t: 'req', p: p.id, h: outerHour, ct }, p.effort);
}

function expectJoinError(fn: () => unknown, reason?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'a JoinRequestError was expected').toBeInstanceOf(JoinRequestError);
  if (reason) expect((caught as Error).message).toMatch(reason);
}

describe('a pursuance profile', () => {
  it('signed by a holder of the role it names, verifies, and reads back from its text among other words (J8)', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const epoch = currentEpoch(ed.log, 'tips');
    const k = ed.keyring.get(epoch.keyIdHex)!;
    const p = signProfile({ ...spec(), pursuance: ed.log.id }, k);
    expect(profileProblem(p)).toBeNull();
    expect(p).toMatchObject({ role: 'tips', keyId: epoch.keyId, pub: { sig: epoch.pub!.sig, box: epoch.pub!.box }, effort: EFFORT_MIN });
    // Day-aligned: it expires at the UTC midnight `days` after it was signed.
    expect(p.validUntil).toBe((Math.floor(NOW / DAY_MS) + 7) * DAY_MS);
    expect(checkProfile(p, p.validUntil - 1)).toBe(p);
    // The signature is exactly the role signing key's over this message.
    const { signature, ...unsigned } = p;
    expect(verifySignature(canonicalEncode({ dom: 'pursuance/profile/v1', ...unsigned }), signature, epoch.pub!.sig)).toBe(true);

    const text = profileText(p);
    expect(text.startsWith(PROFILE_TEXT_PREFIX)).toBe(true);
    expect(parseProfileText(text, NOW)).toEqual(p);
    expect(parseProfileText(`Join us!\n${text}\n(ask before Friday)`, NOW)).toEqual(p);
    expect(decodeProfile(encodeProfile(p))).toEqual(p);
    // A text at the length limit still reads.
    expect(parseProfileText(text.padEnd(PROFILE_TEXT_MAX, ' '), NOW)).toEqual(p);
  });

  it('refuses every field changed after signing, a proof of possession for another pursuance or role, and weak keys', () => {
    const { k, p } = gate();
    const other = RoleKeyPair.fromSecret(randomKey()).publicKeys;
    const flipped = Uint8Array.from(p.signature);
    flipped[10]! ^= 1;
    const signatureCases: [string, Profile][] = [
      ['name', { ...p, name: 'The Other Ledger' }],
      ['about', { ...p, about: `${p.about}!` }],
      ['asks', { ...p, asks: [...p.asks, 'One more?'] }],
      ['asks order', { ...p, asks: [...p.asks].reverse() }],
      ['inbox', { ...p, inbox: 'cwtch-group-invite:attacker' }],
      ['effort', { ...p, effort: p.effort + 1 }],
      ['validUntil', { ...p, validUntil: p.validUntil + DAY_MS }],
      ['id', { ...p, id: randomKey().subarray(0, 16) }],
      ['signature', { ...p, signature: flipped }],
    ];
    for (const [what, t] of signatureCases) expect(profileProblem(t), what).toMatch(/not signed by the role key it names/);
    const popCases: [string, Profile][] = [
      ['keyId', { ...p, keyId: randomKey() }],
      ['role', { ...p, role: 'desk' }],
      ['pursuance', { ...p, pursuance: 'cd'.repeat(32) }],
      ['pub.sig', { ...p, pub: { ...p.pub, sig: other.sig } }],
      ['pub.box', { ...p, pub: { ...p.pub, box: other.box } }],
      ['pub.pop', { ...p, pub: { ...p.pub, pop: new Uint8Array(64) } }],
    ];
    for (const [what, t] of popCases) expect(profileProblem(t), what).toMatch(/no proof of possession/);
    // Re-signed by the same key, the changed fields stand alone: only the proof can refuse them.
    const elsewhere: [string, RoleKey, string | null][] = [
      ['another pursuance', k, 'cd'.repeat(32)],
      ['the genesis binding (null)', k, null],
      ['another role', { ...k, role: 'desk' }, PURSUANCE],
      ['another key id', { ...k, keyId: randomKey() }, PURSUANCE],
    ];
    for (const [what, key, pursuance] of elsewhere) {
      expect(profileProblem(resign({ ...p, pub: rolePub(key, pursuance) }, k)), what).toMatch(/no proof of possession/);
    }
    expect(profileProblem(resign({ ...p, name: 'Renamed' }, k))).toBeNull();
    expect(profileProblem({ ...p, pub: { ...p.pub, box: new Uint8Array(32) } })).toBe('its sealing key is weak');
    expect(profileProblem({ ...p, pub: { ...p.pub, sig: fromHex('01' + '00'.repeat(31)) } })).toBe('its signing key is weak');
    expect(() => checkProfile({ ...p, name: 'x' }, NOW)).toThrow(InvalidProfileError);
  });

  it('expires at its validUntil, for whoever checks it (J8)', () => {
    const { p } = gate({ days: 1 });
    expect(checkProfile(p, p.validUntil - 1)).toBe(p);
    for (const now of [p.validUntil, p.validUntil + 1, p.validUntil + 30 * DAY_MS]) {
      expect(() => checkProfile(p, now)).toThrow(ProfileExpiredError);
      expect(() => parseProfileText(profileText(p), now)).toThrow(ProfileExpiredError);
    }
    // Validity comes before expiry: a forged expired profile is invalid, not merely expired.
    expect(() => checkProfile({ ...p, name: 'forged' }, p.validUntil + 1)).toThrow(InvalidProfileError);
  });

  it("is refused when it claims to last longer than PROFILE_MAX_DAYS from the checker's today, whoever dated it (J9)", () => {
    const { k } = gate();
    // Signed "ten days from now" for the longest term: 24 days ahead of today, past the bound.
    const ahead = signProfile(spec({ now: NOW + 10 * DAY_MS, days: PROFILE_MAX_DAYS }), k);
    expect(() => checkProfile(ahead, NOW)).toThrow(InvalidProfileError);
    expect(() => parseProfileText(profileText(ahead), NOW)).toThrow(/more than 14 days/);
    // The same profile is fine once its term is within the bound of the checker's day.
    expect(checkProfile(ahead, NOW + 10 * DAY_MS)).toBe(ahead);
    // The longest honest term, checked the day it was signed, is within the bound.
    const longest = signProfile(spec({ days: PROFILE_MAX_DAYS }), k);
    expect(checkProfile(longest, NOW)).toBe(longest);
    // The bound itself: a term ending PROFILE_MAX_DAYS + 1 midnights after today's is still taken (signed tomorrow), one day more is not.
    const edge = signProfile(spec({ now: NOW + DAY_MS, days: PROFILE_MAX_DAYS }), k);
    expect(edge.validUntil).toBe((Math.floor(NOW / DAY_MS) + PROFILE_MAX_DAYS + 1) * DAY_MS);
    expect(checkProfile(edge, NOW)).toBe(edge);
    expect(() => checkProfile(signProfile(spec({ now: NOW + 2 * DAY_MS, days: PROFILE_MAX_DAYS }), k), NOW)).toThrow(InvalidProfileError);
  });

  it('fails with typed errors carrying stable codes (the node and the dashboard match on them)', () => {
    const { p } = gate({ days: 1 });
    const caught = (fn: () => unknown): Error & { code?: string } => {
      try {
        fn();
      } catch (err) {
        return err as Error & { code?: string };
      }
      throw new Error('no error');
    };
    const expired = caught(() => checkProfile(p, p.validUntil));
    expect([expired.name, expired.code]).toEqual(['ProfileExpiredError', 'PROFILE_EXPIRED']);
    expect(expired.message).toContain(new Date(p.validUntil).toISOString().slice(0, 10));
    expect(expired.message).not.toContain('T00:00');
    const invalid = caught(() => parseProfileText('nothing here', NOW));
    expect([invalid.name, invalid.code]).toEqual(['InvalidProfileError', 'INVALID_PROFILE']);
    const join = caught(() => sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: [] }, NOW));
    expect([join.name, join.code]).toEqual(['JoinRequestError', 'INVALID_JOIN_REQUEST']);
  });

  it('is signed for 1 to PROFILE_MAX_DAYS days, with an effort in range and fields within their limits', () => {
    const { k } = gate();
    for (const days of [0, -1, 1.5, PROFILE_MAX_DAYS + 1]) expect(() => signProfile(spec({ days }), k), `days ${days}`).toThrow(InvalidProfileError);
    expect(signProfile(spec({ days: PROFILE_MAX_DAYS }), k).validUntil).toBe((Math.floor(NOW / DAY_MS) + PROFILE_MAX_DAYS) * DAY_MS);
    for (const effort of [EFFORT_MIN - 1, 29, 8.5]) expect(() => signProfile(spec({ effort }), k), `effort ${effort}`).toThrow(InvalidProfileError);
    expect(() => signProfile(spec({ inbox: '' }), k)).toThrow(InvalidProfileError);
    expect(() => signProfile(spec({ asks: [''] }), k)).toThrow(InvalidProfileError);
    expect(() => signProfile(spec({ name: ' padded ' }), k)).toThrow(InvalidProfileError);
    expect(() => signProfile(spec({ pursuance: 'AB'.repeat(32) }), k)).toThrow(InvalidProfileError);
  });

  it('every profile it signs can be shared as text: one that would not fit a text is refused at signing', () => {
    const { k } = gate();
    // Every field at its schema limit (bodies.ts), with an inbox of the documented size (under 5 KB).
    const full = spec({
      name: 'n'.repeat(120),
      about: 'a'.repeat(2_000),
      asks: Array.from({ length: 8 }, (_, i) => `${i}`.repeat(300)),
      inbox: 'i'.repeat(5_000),
    });
    const big = signProfile(full, k);
    expect(parseProfileText(profileText(big), NOW)).toEqual(big);
    // The schema takes an inbox of 8 KB, and non-ASCII text takes up to three bytes a character.
    for (const over of [{ inbox: 'i'.repeat(8_192) }, { about: '語'.repeat(2_000), inbox: '€'.repeat(3_000) }]) {
      expect(() => signProfile({ ...full, ...over }, k)).toThrow(/too long to share/);
    }
    const text = fc.string({ unit: 'binary', maxLength: 3_000 });
    fc.assert(
      fc.property(
        fc.record({
          about: text,
          inbox: fc.string({ unit: 'binary', minLength: 1, maxLength: 8_192 }),
          asks: fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        }),
        (fields) => {
          let p: Profile;
          try {
            p = signProfile(spec(fields), k);
          } catch (err) {
            if (err instanceof InvalidProfileError) return;
            throw err;
          }
          expect(parseProfileText(profileText(p), NOW)).toEqual(p);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads exactly one well-formed token: no token, two, bad base64url, non-canonical or foreign CBOR, or too long a text are InvalidProfileError (J10)', () => {
    const { p } = gate();
    const text = profileText(p);
    const bytes = encodeProfile(p);
    const fields = Object.keys(p).length;
    // The map header in its shortest form, and the same map announced in a longer form.
    expect(bytes[0]).toBe(0xa0 + fields);
    const nonCanonical = Uint8Array.from([0xb8, fields, ...bytes.subarray(1)]);
    const cases: [string, string, RegExp][] = [
      ['empty', '', /no pursuance profile/],
      ['no token', 'join us at the usual place', /no pursuance profile/],
      ['a prefix alone', PROFILE_TEXT_PREFIX, /no pursuance profile/],
      ['another version', text.replace(':1:', ':2:'), /no pursuance profile/],
      ['two tokens', `${text} ${text}`, /more than one/],
      ['two different tokens', `${text}\n${profileText(gate().p)}`, /more than one/],
      ['unused bits set', `${PROFILE_TEXT_PREFIX}AB`, /not valid base64url/],
      ['a dangling character', `${PROFILE_TEXT_PREFIX}A`, /not valid base64url/],
      ['non-canonical CBOR', PROFILE_TEXT_PREFIX + Buffer.from(nonCanonical).toString('base64url'), /not a canonical encoding/],
      ['CBOR of something else', PROFILE_TEXT_PREFIX + Buffer.from(canonicalEncode({ name: 'x' })).toString('base64url'), /not a pursuance profile/],
      [
        'a profile with an extra field',
        PROFILE_TEXT_PREFIX + Buffer.from(canonicalEncode({ ...p, extra: 1 })).toString('base64url'),
        /not a pursuance profile/,
      ],
      ['a tampered profile', profileText({ ...p, name: 'Forged' }), /not a valid pursuance profile/],
      ['too long', text.padEnd(PROFILE_TEXT_MAX + 1, ' '), /too long/],
    ];
    for (const [what, t, reason] of cases) {
      let caught: unknown;
      try {
        parseProfileText(t, NOW);
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(InvalidProfileError);
      expect((caught as Error).message, what).toMatch(reason);
    }
  });

  it('keeps prototype names as plain text in its name, about, asks and inbox (J10)', () => {
    const { p } = gate({ name: 'constructor', about: '__proto__', asks: PROTOTYPE_NAMES, inbox: 'toString' });
    const read = parseProfileText(profileText(p), NOW);
    expect(read).toEqual(p);
    expect(read.asks).toEqual(PROTOTYPE_NAMES);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(typeof read.name).toBe('string');
  });

  it('fuzzed: any text or bytes, and any mutation of a valid profile text, is a profile equal to the original or one of the two errors (J10)', () => {
    const { p } = gate();
    const text = profileText(p);
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const only = (fn: () => unknown): unknown => {
      try {
        return fn();
      } catch (err) {
        if (err instanceof InvalidProfileError || err instanceof ProfileExpiredError) return err;
        throw err;
      }
    };
    const mutation = fc.oneof(
      fc
        .record({ at: fc.nat(text.length - 1), c: fc.constantFrom(...b64, ' ', ':', '=', '+', '/', '\n') })
        .map(({ at, c }) => text.slice(0, at) + c + text.slice(at + 1)),
      fc.record({ at: fc.nat(text.length), c: fc.constantFrom(...b64) }).map(({ at, c }) => text.slice(0, at) + c + text.slice(at)),
      fc.nat(text.length - 1).map((at) => text.slice(0, at) + text.slice(at + 1)),
      fc.nat(text.length).map((at) => text.slice(0, at)),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.uint8Array({ maxLength: 600 }).map((b) => PROFILE_TEXT_PREFIX + Buffer.from(b).toString('base64url')),
          mutation,
        ),
        (t) => {
          const out = only(() => parseProfileText(t, NOW));
          // Canonical bytes, a base64url round trip and a signature over every field leave no second text for one profile.
          if (!(out instanceof Error)) expect(encodeProfile(out as Profile)).toEqual(encodeProfile(p));
        },
      ),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_000 }), (b) => {
        expect(only(() => decodeProfile(b))).toBeInstanceOf(InvalidProfileError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('join requests: what a gatekeeper checks before decrypting (J1, J2, J10)', () => {
  it('an honest request screens with its proof and digest, and opens to what the applicant sent', () => {
    const { p, keys } = gate();
    const applicant = Identity.generate();
    const sealed = sealJoinRequest(p, applicant, { name: 'Ana', answers: ['I cover the port.', 'Rae does.'] }, NOW);
    expect(sealed.bytes.length).toBeLessThanOrEqual(JOIN_MESSAGE_MAX);
    const seen: string[] = [];
    const s = screenRequest(
      sealed.bytes,
      ctx(p, NOW, (proof) => (seen.push(proof), false)),
    );
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    const m = message(sealed.bytes);
    // The proof is SHA-256(domain ‖ profile id ‖ u32 hour ‖ nonce ‖ SHA-256(ct)), over the ciphertext.
    const h = Buffer.alloc(4);
    h.writeUInt32BE(hourOf(NOW));
    const ctHash = createHash('sha256').update(m.ct).digest();
    const proof = createHash('sha256').update('pursuance/join-pow/v1').update(p.id).update(h).update(m.n).update(ctHash).digest();
    expect(s.proof).toBe(proof.toString('hex'));
    expect(seen).toEqual([s.proof]);
    expect(s.work).toBe(
      BigInt(`0x${proof.toString('hex')}`)
        .toString(2)
        .padStart(256, '0')
        .indexOf('1'),
    );
    expect(s.work).toBeGreaterThanOrEqual(p.effort);
    expect(s.digest).toEqual(new Uint8Array(ctHash));
    expect(sealed.digest).toEqual(s.digest);
    expect(sealed.tries).toBeGreaterThanOrEqual(1);
    expect(m).toMatchObject({ v: 1, t: 'req', p: p.id, h: hourOf(NOW) });
    expect(openJoinRequest(p, keys, s.message)).toEqual({
      from: applicant.publicKey,
      name: 'Ana',
      answers: ['I cover the port.', 'Rae does.'],
      hour: hourOf(NOW),
      vouch: null,
    });
    // Full work: it needs no vouch to be kept.
    expect(s.vouchNeeded).toBe(false);
  });

  it('counts the leading zero bits of a digest', () => {
    const cases: [number[], number][] = [
      [[0x80], 0],
      [[0x7f], 1],
      [[0x01, 0xff], 7],
      [[0x00, 0x80], 8],
      [[0x00, 0x00, 0x0f], 20],
      [[0x00, 0x00], 16],
      [[], 0],
    ];
    for (const [bytes, bits] of cases) expect(leadingZeroBits(Uint8Array.from(bytes)), bytes.join(',')).toBe(bits);
  });

  it('requests all look alike: the same size whatever their answers', () => {
    const { p } = gate();
    const a = sealJoinRequest(p, Identity.generate(), { name: 'A', answers: ['', ''] }, NOW);
    const b = sealJoinRequest(p, Identity.generate(), { name: 'Bartholomew Long', answers: ['x'.repeat(ANSWER_MAX), 'y'.repeat(ANSWER_MAX)] }, NOW);
    expect(a.bytes.length).toBe(b.bytes.length);
  });

  it('drops what is malformed, foreign, stale or without work, with no key and without asking the replay set (J1)', () => {
    const { p } = gate();
    const other = gate().p;
    const honest = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW).bytes;
    const m = message(honest);
    const h = hourOf(NOW);
    const cases: [string, Uint8Array, ScreenContext, string][] = [
      ['no work', withoutWork(honest, p.effort), ctx(p), 'work'],
      [
        'less work than even a vouched request needs',
        honest,
        ctx({ ...p, effort: leadingZeroBits(workDigest(m.p, m.h, m.n, m.ct)) + VOUCH_DISCOUNT_BITS + 1 }),
        'work',
      ],
      ['another profile', honest, ctx(other), 'foreign'],
      ['relabelled to another profile', withWork({ ...m, p: other.id }, p.effort), ctx(p), 'foreign'],
      [`dated ${REQUEST_HOURS_BACK + 1} hours ago`, honest, ctx(p, NOW + (REQUEST_HOURS_BACK + 1) * HOUR_MS), 'stale'],
      [`dated ${REQUEST_HOURS_AHEAD + 1} hours ahead`, honest, ctx(p, NOW - (REQUEST_HOURS_AHEAD + 1) * HOUR_MS), 'stale'],
      ['dated far ahead, with work', withWork({ ...m, h: 0xffff_ffff }, p.effort), ctx(p), 'stale'],
      ['dated hour 0, with work', withWork({ ...m, h: 0 }, p.effort), ctx(p), 'stale'],
      ['empty', new Uint8Array(0), ctx(p), 'malformed'],
      ['garbage', Uint8Array.from({ length: 3_200 }, (_, i) => (i * 31 + 7) & 0xff), ctx(p), 'malformed'],
      ['truncated', honest.subarray(0, honest.length - 1), ctx(p), 'malformed'],
      ['oversized', new Uint8Array(JOIN_MESSAGE_MAX + 1), ctx(p), 'malformed'],
      ['oversized but otherwise a request', canonicalEncode({ ...m, pad: new Uint8Array(JOIN_MESSAGE_MAX) }), ctx(p), 'malformed'],
      ['an extra field', canonicalEncode({ ...m, x: 1 }), ctx(p), 'malformed'],
      ['version 2', canonicalEncode({ ...m, v: 2 }), ctx(p), 'malformed'],
      ['a short ciphertext', withWork({ ...m, ct: m.ct.subarray(1) }, p.effort), ctx(p), 'malformed'],
      ['a short nonce', canonicalEncode({ ...m, n: m.n.subarray(1) }), ctx(p), 'malformed'],
      ['a negative hour', canonicalEncode({ ...m, h: -1 }), ctx(p), 'malformed'],
      ['non-canonical', Uint8Array.from([0xb8, 6, ...honest.subarray(1)]), ctx(p), 'malformed'],
      ['CBOR of something else', canonicalEncode(['req', h]), ctx(p), 'malformed'],
      // Checked in the documented order: profile before hour, hour before work.
      ['foreign, stale and without work', withoutWork(withWork({ ...m, p: other.id, h: h - 10 }, 0), p.effort), ctx(p), 'foreign'],
      ['stale and without work', withoutWork(withWork({ ...m, h: h - 10 }, 0), p.effort), ctx(p), 'stale'],
    ];
    expect(honest[0]).toBe(0xa6);
    for (const [what, raw, c, reason] of cases) {
      let asked = 0;
      const counting = { ...c, seen: () => (asked++, false) };
      expect(screenRequest(raw, counting), what).toEqual({ ok: false, reason });
      expect(asked, `${what}: the replay set is asked only once the work checks out`).toBe(0);
    }
  });

  it('takes a request dated up to its clock skew either way, and the effort the profile asks exactly', () => {
    const { p } = gate();
    const sealed = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW);
    for (const hours of [-REQUEST_HOURS_AHEAD, 0, REQUEST_HOURS_BACK]) {
      expect(screenRequest(sealed.bytes, ctx(p, NOW + hours * HOUR_MS)).ok, `${hours} h`).toBe(true);
    }
    const s = screenRequest(sealed.bytes, ctx(p));
    if (!s.ok) throw new Error('an honest request was dropped');
    expect(screenRequest(sealed.bytes, ctx({ ...p, effort: s.work })).ok).toBe(true);
  });

  it('drops a proof seen before as a replay, and a proof made for another profile or hour is worth nothing here (J2)', () => {
    const { p } = gate();
    const other = gate().p;
    const sealed = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW);
    const seen = new Set<string>();
    const gatekeeper = ctx(p, NOW, (proof) => seen.has(proof));
    const first = screenRequest(sealed.bytes, gatekeeper);
    expect(first.ok).toBe(true);
    if (first.ok) seen.add(first.proof);
    expect(screenRequest(sealed.bytes, gatekeeper)).toEqual({ ok: false, reason: 'replay' });
    // Another request's proof is not this one's.
    expect(screenRequest(sealJoinRequest(p, Identity.generate(), { name: 'Bo', answers: ['a', 'b'] }, NOW).bytes, gatekeeper).ok).toBe(true);

    const elsewhere = sealJoinRequest(other, Identity.generate(), { name: 'Cy', answers: ['a', 'b'] }, NOW);
    expect(screenRequest(elsewhere.bytes, gatekeeper)).toEqual({ ok: false, reason: 'foreign' });
    // Relabelled to this profile, or to another hour, the nonce no longer carries the work (sealed
    // again in the rare case where it still would by chance, which the proof cannot rule out).
    const relabel = (raw: Uint8Array, patch: Partial<RequestMessage>): Uint8Array => encodeMessage({ ...message(raw), ...patch });
    const carries = (raw: Uint8Array): boolean => {
      const x = message(raw);
      return leadingZeroBits(workDigest(x.p, x.h, x.n, x.ct)) >= p.effort;
    };
    let moved = relabel(elsewhere.bytes, { p: p.id });
    while (carries(moved)) moved = relabel(sealJoinRequest(other, Identity.generate(), { name: 'Cy', answers: ['a', 'b'] }, NOW).bytes, { p: p.id });
    expect(screenRequest(moved, gatekeeper)).toEqual({ ok: false, reason: 'work' });
    let redated = relabel(sealed.bytes, { h: hourOf(NOW) - 1 });
    while (carries(redated))
      redated = relabel(sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW).bytes, { h: hourOf(NOW) - 1 });
    expect(screenRequest(redated, gatekeeper)).toEqual({ ok: false, reason: 'work' });
  });

  it('skips answers: they share the inbox, and are not requests', () => {
    const { p, keys } = gate();
    const sealed = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW);
    const answer = sealJoinAnswer(p, keys, sealed.digest, Identity.generate().publicKey, { status: 'declined', note: '' });
    expect(screenRequest(answer, ctx(p))).toEqual({ ok: false, reason: 'answer' });
  });

  it('fuzzed: arbitrary bytes and arbitrary request-shaped messages never throw, and reach every drop reason (J10)', () => {
    const { p } = gate();
    const h = hourOf(NOW);
    const reasons = new Set<string>();
    const screen = (raw: Uint8Array): void => {
      const s = screenRequest(
        raw,
        ctx(p, NOW, () => true),
      );
      if (s.ok) throw new Error('a made-up message passed every check, replay included');
      expect([...DROP_REASONS, 'answer']).toContain(s.reason);
      reasons.add(s.reason);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4_000 }), screen), { numRuns: 300 });
    // Mostly right, so that every check, down to the replay set, is reached.
    const mostly = <A, B>(right: fc.Arbitrary<A>, wrong: fc.Arbitrary<B>) => fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: wrong });
    const shaped = fc.record({
      v: mostly(fc.constant(1), fc.constant(2)),
      t: mostly(fc.constant('req'), fc.constantFrom('ans', '__proto__')),
      p: mostly(fc.constant(p.id), fc.uint8Array({ minLength: 16, maxLength: 16 })),
      h: fc.integer({ min: h - REQUEST_HOURS_BACK - 1, max: h + REQUEST_HOURS_AHEAD + 1 }),
      n: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      ct: mostly(fc.constant(new Uint8Array(72 + REQUEST_PADDED_SIZE)), fc.uint8Array({ maxLength: 100 })),
    });
    fc.assert(
      fc.property(shaped, mostly(fc.constant(true), fc.constant(false)), (m, work) => {
        const raw = work && m.v === 1 && m.t === 'req' ? withWork(m as unknown as RequestMessage, p.effort) : canonicalEncode(m);
        screen(raw);
      }),
      { numRuns: 400 },
    );
    expect([...reasons].sort()).toEqual(['foreign', 'malformed', 'replay', 'stale', 'work']);
  });

  it('fuzzed: one flipped byte never passes with the original proof, and never opens as another request (J1)', () => {
    const { p, keys } = gate();
    const applicant = Identity.generate();
    const sealed = sealJoinRequest(p, applicant, { name: 'Ana', answers: ['a', 'b'] }, NOW);
    const original = screenRequest(sealed.bytes, ctx(p));
    if (!original.ok) throw new Error('an honest request was dropped');
    const opened = openJoinRequest(p, keys, original.message);
    fc.assert(
      fc.property(fc.nat(sealed.bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const raw = Uint8Array.from(sealed.bytes);
        raw[at]! ^= xor;
        const s = screenRequest(raw, ctx(p));
        if (!s.ok) return;
        expect(s.proof).not.toBe(original.proof);
        // A new nonce with work of its own may pass (and opens as the same request); nothing else does.
        try {
          expect(openJoinRequest(p, keys, s.message)).toEqual(opened);
        } catch (err) {
          if (!(err instanceof JoinRequestError)) throw err;
        }
      }),
      { numRuns: 600 },
    );
  });
});

describe('join requests: opening and sealing', () => {
  const body = (p: Profile, who: Identity, over: Partial<Body> = {}): Body => ({
    from: who.publicKey,
    name: 'Ana',
    answers: ['a', 'b'],
    profile: p.id,
    hour: hourOf(NOW),
    ...over,
  });

  it('opens only with the key pair of the profile’s own epoch and for the profile it was sealed to', () => {
    const { k, p, keys } = gate();
    const sealed = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW);
    const m = message(sealed.bytes);
    expect(openJoinRequest(p, keys, m).name).toBe('Ana');
    expectJoinError(() => openJoinRequest(p, roleKeyPair(newRoleKey('tips')), m), /does not open/);
    // The box is bound to the profile, role and key id it was sealed for, even under the same key.
    const sibling = signProfile(spec(), k);
    expectJoinError(() => openJoinRequest(sibling, keys, { ...m, p: sibling.id }), /does not open/);
    expectJoinError(() => openJoinRequest({ ...p, keyId: randomKey() }, keys, m), /does not open/);
    const ct = Uint8Array.from(m.ct);
    ct[100]! ^= 1;
    expectJoinError(() => openJoinRequest(p, keys, { ...m, ct }), /does not open/);
  });

  it('a vouch inside a request is covered by the applicant’s signature: one added after signing is refused', () => {
    const { p, keys } = gate();
    const ana = Identity.generate();
    const h = hourOf(NOW);
    const open = (raw: Uint8Array) => {
      const s = screenRequest(raw, ctx(p));
      if (!s.ok) throw new Error(`dropped as ${s.reason}`);
      return openJoinRequest(p, keys, s.message);
    };
    // Well-formed (the gatekeeper judges whether it holds, later): the signature must cover it.
    const vouch = {
      from: 'a'.repeat(64),
      to: p.pursuance,
      role: 'member',
      n: 1,
      applicant: ana.publicKey,
      nonce: new Uint8Array(16).fill(7),
      hour: h,
      signature: new Uint8Array(64).fill(9),
    };
    expect(open(craft(p, { ...body(p, ana), vouch }, ana)).vouch).toEqual(vouch);
    expectJoinError(() => open(craft(p, body(p, ana), ana, h, { vouch })), /not signed by the key it names/);
    expectJoinError(() => open(craft(p, { ...body(p, ana), vouch }, ana, h, { vouch: { ...vouch, n: 2 } })), /not signed by the key it names|no valid body/);
  });

  it('refuses a body bound to another hour or profile than its outer message, or not signed by the key it names', () => {
    const { p, keys } = gate();
    const ana = Identity.generate();
    const mallory = Identity.generate();
    const h = hourOf(NOW);
    const open = (raw: Uint8Array) => {
      const s = screenRequest(raw, ctx(p));
      if (!s.ok) throw new Error(`dropped as ${s.reason}`);
      return openJoinRequest(p, keys, s.message);
    };
    // The control: a body crafted by hand like the API's opens.
    expect(open(craft(p, body(p, ana), ana))).toEqual({ from: ana.publicKey, name: 'Ana', answers: ['a', 'b'], hour: h, vouch: null });
    expectJoinError(() => open(craft(p, body(p, ana, { hour: h - 1 }), ana, h)), /another profile or hour/);
    expectJoinError(() => open(craft(p, body(p, ana, { profile: gate().p.id }), ana)), /another profile or hour/);
    // Mallory re-seals a body naming Ana: Ana's key does not verify Mallory's signature.
    expectJoinError(() => open(craft(p, body(p, ana), mallory)), /not signed by the key it names/);
    // Mallory replaces Ana's ciphertext and keeps the outer message: the work no longer holds.
    const theirs = message(sealJoinRequest(p, ana, { name: 'Ana', answers: ['a', 'b'] }, NOW).bytes);
    const mine = message(craft(p, body(p, mallory, { name: 'Ana' }), mallory));
    const swapped = encodeMessage({ ...theirs, ct: mine.ct });
    if (leadingZeroBits(workDigest(theirs.p, theirs.h, theirs.n, mine.ct)) < p.effort) {
      expect(screenRequest(swapped, ctx(p))).toEqual({ ok: false, reason: 'work' });
    }
    // Whatever the outer message, a ciphertext opens as its own signer's request, never Ana's.
    expect(openJoinRequest(p, keys, message(swapped)).from).toEqual(mallory.publicKey);
    // A body with a field too many, or one signed over other answers than it carries.
    expectJoinError(() => open(craft(p, body(p, ana), ana, h, { extra: 1 })), /no valid body/);
    const b = body(p, ana);
    const plain = canonicalEncode({ ...b, answers: ['changed', 'b'], sig: ana.sign(requestSigned(p, b)) });
    const ct = sealToRole(p.pub.box, padToSize(plain, REQUEST_PADDED_SIZE), boxContext(p));
    expectJoinError(() => open(withWork({ v: 1, t: 'req', p: p.id, h, ct }, p.effort)), /not signed by the key it names/);
    // Padding that is not zeros, inside a properly sealed box.
    const badPad = padToSize(canonicalEncode({ ...b, answers: [...b.answers], sig: ana.sign(requestSigned(p, b)) }), REQUEST_PADDED_SIZE);
    badPad[REQUEST_PADDED_SIZE - 1] = 1;
    expectJoinError(() => open(withWork({ v: 1, t: 'req', p: p.id, h, ct: sealToRole(p.pub.box, badPad, boxContext(p)) }, p.effort)), /does not open/);
  });

  it('refuses to seal too few answers, too many, too long, or a name that is not one', () => {
    const { p } = gate();
    const a = Identity.generate();
    const seal = (name: string, answers: readonly string[]) => () => sealJoinRequest(p, a, { name, answers }, NOW);
    expectJoinError(seal('Ana', ['only one']), /asks 2 questions/);
    expectJoinError(seal('Ana', []), /asks 2 questions/);
    expectJoinError(seal('Ana', ['a', 'x'.repeat(ANSWER_MAX + 1)]));
    expectJoinError(
      seal(
        'Ana',
        Array.from({ length: ANSWERS_MAX + 1 }, () => 'a'),
      ),
    );
    // Each within its limit, together more than a request carries.
    expectJoinError(
      seal(
        'Ana',
        Array.from({ length: ANSWERS_MAX }, () => 'x'.repeat(ANSWER_MAX)),
      ),
      /too long to send/,
    );
    expectJoinError(seal('', ['a', 'b']));
    expectJoinError(seal(' Ana', ['a', 'b']));
    expectJoinError(seal('Ana\u202e', ['a', 'b']));
    // More answers than asks are fine (up to ANSWERS_MAX), and so are answers as long as fit.
    expect(seal('Ana', ['a', 'b', 'c'])().bytes.length).toBeLessThanOrEqual(JOIN_MESSAGE_MAX);
    expect(seal('Ana', ['x'.repeat(ANSWER_MAX), 'y'.repeat(ANSWER_MAX)])().tries).toBeGreaterThan(0);
  });

  it('sealed without blocking, gives way between batches of hashes and stops when aborted', async () => {
    // Effort 14: a few batches of 4,096 hashes on average, so there is something to give way between.
    const { p } = gate({ effort: 14 });
    let pauses = 0;
    const giveWay = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const pause = (): Promise<void> => (pauses++, giveWay());
    const sealed = await sealJoinRequestAsync(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW, { pause });
    expect(screenRequest(sealed.bytes, ctx(p)).ok).toBe(true);
    expect(pauses).toBe(Math.ceil(sealed.tries / 4_096) - 1);

    // At the highest effort a search outlasts any test: only the abort ends it.
    const hard = gate({ effort: 28 }).p;
    const abort = new AbortController();
    let waited = 0;
    const abortOnSecond = (): Promise<void> => {
      if (++waited === 2) abort.abort();
      return giveWay();
    };
    await expect(
      sealJoinRequestAsync(hard, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW, { pause: abortOnSecond, signal: abort.signal }),
    ).rejects.toThrow(/stopped before the proof of work was found/);
    expect(waited).toBe(2);
    await expect(
      sealJoinRequestAsync(hard, Identity.generate(), { name: 'Ana', answers: ['a'] }, NOW, { pause: abortOnSecond, signal: abort.signal }),
      'the answers are checked before any work',
    ).rejects.toBeInstanceOf(JoinRequestError);
  });

  it('seals at an effort that takes several batches of hashes, all at once', () => {
    // At 16 bits the first batch of 4,096 hashes rarely holds the proof: the search goes on past it.
    const p = gate({ effort: 16 }).p;
    const sealed = sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a', 'b'] }, NOW);
    const screened = screenRequest(sealed.bytes, ctx(p));
    expect(screened.ok).toBe(true);
    if (screened.ok) expect(screened.work).toBeGreaterThanOrEqual(16);
  });

  it('keeps prototype names as plain text in names, answers and asks (J10)', () => {
    const { p, keys } = gate({ asks: PROTOTYPE_NAMES });
    for (const name of PROTOTYPE_NAMES) {
      const sealed = sealJoinRequest(p, Identity.generate(), { name, answers: [...PROTOTYPE_NAMES].reverse() }, NOW);
      const s = screenRequest(sealed.bytes, ctx(p));
      if (!s.ok) throw new Error(`dropped as ${s.reason}`);
      const opened = openJoinRequest(p, keys, s.message);
      expect(opened.name).toBe(name);
      expect(opened.answers).toEqual([...PROTOTYPE_NAMES].reverse());
      expect(Object.getPrototypeOf(opened)).toBe(Object.prototype);
    }
  });
});

describe('answers to join requests', () => {
  function asked() {
    const g = gate();
    const applicant = Identity.generate();
    const sealed = sealJoinRequest(g.p, applicant, { name: 'Ana', answers: ['a', 'b'] }, NOW);
    return { ...g, applicant, sealed };
  }

  it('reach the applicant alone, about their request, signed by the role', () => {
    const { p, keys, applicant, sealed } = asked();
    const raw = sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, { status: 'declined', note: 'Not this month.' });
    expect(raw.length).toBeLessThanOrEqual(JOIN_MESSAGE_MAX);
    const other = randomKey();
    expect(openJoinAnswer(raw, applicant, p, [other, sealed.digest])).toEqual({ status: 'declined', note: 'Not this month.', request: sealed.digest });
    expect(openJoinAnswer(raw, Identity.generate(), p, [sealed.digest])).toBeNull();
    expect(openJoinAnswer(raw, applicant, p, [other])).toBeNull();
    expect(openJoinAnswer(raw, applicant, p, [])).toBeNull();
    // The role signs the answer: no member is named, in the answer or around it.
    const body = canonicalDecode(raw) as { ct: Uint8Array };
    expect(Object.keys(body).sort()).toEqual(['ct', 't', 'v']);
  });

  it('from a key other than the profile’s, to another profile, or about another request, open to nothing', () => {
    const { k, p, keys, applicant, sealed } = asked();
    const forged = RoleKeyPair.fromSecret(randomKey());
    const note = { status: 'declined' as const, note: 'no' };
    expect(openJoinAnswer(sealJoinAnswer(p, forged, sealed.digest, applicant.publicKey, note), applicant, p, [sealed.digest])).toBeNull();
    const sibling = signProfile(spec(), k);
    expect(openJoinAnswer(sealJoinAnswer(sibling, keys, sealed.digest, applicant.publicKey, note), applicant, p, [sealed.digest])).toBeNull();
    // The control: the sibling profile (same key) reads its own answer.
    expect(openJoinAnswer(sealJoinAnswer(sibling, keys, sealed.digest, applicant.publicKey, note), applicant, sibling, [sealed.digest])).not.toBeNull();
    expect(openJoinAnswer(sealJoinAnswer(p, keys, randomKey(), applicant.publicKey, note), applicant, p, [sealed.digest])).toBeNull();
    // A request, garbage, an oversized message: nothing, and nothing thrown.
    expect(openJoinAnswer(sealed.bytes, applicant, p, [sealed.digest])).toBeNull();
    expect(openJoinAnswer(new Uint8Array(JOIN_MESSAGE_MAX + 1), applicant, p, [sealed.digest])).toBeNull();
    const raw = sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, note);
    const m = canonicalDecode(raw) as { v: number; t: string; ct: Uint8Array };
    const ct = Uint8Array.from(m.ct);
    ct[50]! ^= 1;
    expect(openJoinAnswer(canonicalEncode({ ...m, ct }), applicant, p, [sealed.digest])).toBeNull();
  });

  it('are bound by the role signature to what they say: a signature moved onto another note, status or request opens to nothing', () => {
    const { p, keys, applicant, sealed } = asked();
    const raw = sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, { status: 'declined', note: 'Not this month.' });
    // Open it as the applicant does, and re-seal the same signature over a body that says something else.
    const outer = canonicalDecode(raw) as { v: number; t: string; ct: Uint8Array };
    const padded = openFromIdentity(applicant, outer.ct);
    const body = canonicalDecode(unpad(padded, padded.length)) as { profile: Uint8Array; request: Uint8Array; status: string; note: string; sig: Uint8Array };
    const reseal = (changed: Record<string, CanonicalValue>) =>
      canonicalEncode({ ...outer, ct: sealToIdentity(applicant.publicKey, padToSize(canonicalEncode({ ...body, ...changed }), padded.length)) });
    // The control: the same body re-sealed opens.
    expect(openJoinAnswer(reseal({}), applicant, p, [sealed.digest])).toMatchObject({ note: 'Not this month.' });
    expect(openJoinAnswer(reseal({ note: 'Welcome aboard.' }), applicant, p, [sealed.digest])).toBeNull();
    const other = sealJoinRequest(p, applicant, { name: 'Ana', answers: ['c', 'd'] }, NOW).digest;
    expect(openJoinAnswer(reseal({ request: other }), applicant, p, [sealed.digest, other])).toBeNull();
    // The answer's domain is pinned: a signature over the same fields under another domain does not verify.
    const { sig: _sig, ...fields } = body;
    const wrongDomain = keys.sign(canonicalEncode({ dom: 'pursuance/join-request-sig/v1', ...fields }));
    expect(openJoinAnswer(reseal({ sig: wrongDomain }), applicant, p, [sealed.digest])).toBeNull();
    const rightDomain = keys.sign(canonicalEncode({ dom: 'pursuance/join-answer/v1', ...fields }));
    expect(openJoinAnswer(reseal({ sig: rightDomain }), applicant, p, [sealed.digest])).toMatchObject({ note: 'Not this month.' });
  });

  it('carry a note of up to ANSWER_NOTE_MAX characters in any script, all at one size', () => {
    const { p, keys, applicant, sealed } = asked();
    const sizes = new Set<number>();
    for (const note of [
      '',
      'a'.repeat(ANSWER_NOTE_MAX),
      'é'.repeat(ANSWER_NOTE_MAX),
      '€'.repeat(ANSWER_NOTE_MAX),
      '語'.repeat(ANSWER_NOTE_MAX),
      '🌻'.repeat(ANSWER_NOTE_MAX / 2),
    ]) {
      const raw = sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, { status: 'declined', note });
      expect(openJoinAnswer(raw, applicant, p, [sealed.digest])?.note).toBe(note);
      sizes.add(raw.length);
    }
    expect(sizes.size).toBe(1);
    expectJoinError(() => sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, { status: 'declined', note: 'a'.repeat(ANSWER_NOTE_MAX + 1) }));
  });

  it('fuzzed: anything in the inbox opens as an answer or as nothing, without throwing (J10)', () => {
    const { p, keys, applicant, sealed } = asked();
    const answer = sealJoinAnswer(p, keys, sealed.digest, applicant.publicKey, { status: 'declined', note: 'no' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 4_000 }),
          fc.tuple(fc.nat(answer.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
            const raw = Uint8Array.from(answer);
            raw[at]! ^= xor;
            return raw;
          }),
        ),
        (raw) => {
          // One flipped byte breaks the box or the encoding: no other answer comes out of it.
          expect(openJoinAnswer(raw, applicant, p, [sealed.digest])).toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });
});

// The fold: `profile.publish` on the newsroom template (editors may invite; `tips` is the gatekeeping role).

interface Room {
  readonly founder: PursuanceAuthor;
  readonly ids: { f: Identity; ed: Identity; ed2: Identity; ed3: Identity; rep: Identity };
  readonly now: () => number;
  as(who: Identity): PursuanceAuthor;
}

/** Editors Ed and Eve hold `tips`; editor Edd does not; Rae reports (no right to invite). */
function room(): Room {
  const now = clock();
  const ids = { f: Identity.generate(), ed: Identity.generate(), ed2: Identity.generate(), ed3: Identity.generate(), rep: Identity.generate() };
  const founder = PursuanceAuthor.create(ids.f, { name: 'The Ledger', rules: template('newsroom') }, now);
  founder.addMember(ids.ed.publicKey, { name: 'Ed', roles: ['editor', 'desk', 'tips'] });
  founder.addMember(ids.ed2.publicKey, { name: 'Edd', roles: ['editor', 'desk'] });
  founder.addMember(ids.ed3.publicKey, { name: 'Eve', roles: ['editor', 'desk', 'tips'] });
  founder.addMember(ids.rep.publicKey, { name: 'Rae', roles: ['reporter', 'desk'] });
  return { founder, ids, now, as: (who) => joinAs(who, founder.log, now) };
}

const currentEpoch = (log: PursuanceLog, role: string): KeyEpoch => log.state().roles.get(role)!.epochs.at(-1)!;

const publishing = (days = 7) => ({
  name: 'The Ledger',
  about: 'City contracts.',
  asks: ['Why?'],
  inbox: 'cwtch-group-invite:inbox',
  effort: EFFORT_MIN,
  now: NOW,
  days,
});

/** The fold's verdict on `e` over a copy of `base` (undefined: accepted), leaving `base` as it was. */
function judge(base: PursuanceLog, e: SignedEvent): { code: string; reason: string } | undefined {
  const log = new PursuanceLog(base.genesis.bytes);
  log.addAll([...base.events()].map((x) => x.bytes));
  const added = log.add(e.bytes);
  return added.rejection ?? log.rejectionOf(e.id) ?? (log.isAccepted(e.id) ? undefined : { code: 'not accepted', reason: added.status });
}

function deliver(log: PursuanceLog, events: readonly SignedEvent[]): void {
  for (const e of events) {
    log.add(e.bytes);
    expect(log.isAccepted(e.id), JSON.stringify(log.rejectionOf(e.id))).toBe(true);
  }
}

/** What the state hash covers of `state`, with the log's other parts fixed so only the state counts. */
const hashOf = (state: PublicState): string => stateHash(publicStateValue(state, new Uint8Array(32), [], []));

const T = 1_900_000_000_000;

/** A profile.publish by `by` on `log`, dated `T`, skipping the author's own checks. */
const forgePublish = (by: Identity, log: PursuanceLog, profile: Profile | null) => forge(by, log, 'profile.publish', { profile }, [], { time: T });

describe('profile.publish in the fold', () => {
  it('a holder of the role with the right to invite publishes a profile: in the state, in its hash, on every replica', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const before = ed.log.state();
    const hashBefore = ed.log.stateHash();
    expect(before.profile).toBeUndefined();
    expect(ed.profileKeys()).toBeNull();
    const e = ed.publishProfile('tips', publishing());
    const state = ed.log.state();
    const p = e.header.body.profile!;
    expect(state.profile).toEqual({ profile: p, by: e.id });
    expect(checkProfile(p, NOW)).toBe(p);
    const epoch = currentEpoch(ed.log, 'tips');
    expect(p).toMatchObject({ pursuance: ed.log.id, role: 'tips', keyId: epoch.keyId, pub: { sig: epoch.pub!.sig, box: epoch.pub!.box } });
    expect(ed.log.stateHash()).not.toBe(hashBefore);
    // The profile itself is in the hash (its id, event and key), not only the log that grew.
    expect(publicStateValue(state, new Uint8Array(32), [], [])).toMatchObject({ profile: { id: p.id, by: e.id, keyId: p.keyId } });
    expect(hashOf(state)).not.toBe(hashOf({ ...state, profile: undefined }));
    expect(hashOf(state)).not.toBe(hashOf({ ...state, profile: { profile: p, by: r.founder.log.id } }));

    deliver(r.founder.log, [e]);
    expect(r.founder.log.state().profile).toEqual(state.profile);
    expect(r.founder.log.stateHash()).toBe(ed.log.stateHash());
    // Holders of the profile's key open its requests; a member without the role holds nothing that does.
    const applicant = Identity.generate();
    const sealed = sealJoinRequest(p, applicant, { name: 'Ana', answers: ['the port'] }, NOW);
    const s = screenRequest(sealed.bytes, ctx(p));
    if (!s.ok) throw new Error(`dropped as ${s.reason}`);
    for (const holder of [ed, r.as(r.ids.f), r.as(r.ids.ed3)]) {
      expect(openJoinRequest(p, holder.profileKeys()!, s.message).from).toEqual(applicant.publicKey);
    }
    expect(r.as(r.ids.rep).profileKeys()).toBeNull();
    expect(r.as(r.ids.ed2).profileKeys()).toBeNull();
  });

  it('after a routine rotation the profile keeps its epoch, and its holders the key pair that opens its requests', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const e = ed.publishProfile('tips', publishing());
    const p = e.header.body.profile!;
    ed.rotateKeys(['tips']);
    expect(currentEpoch(ed.log, 'tips').keyId).not.toEqual(p.keyId);
    expect(ed.log.state().profile?.by).toBe(e.id);
    const keys = ed.profileKeys()!;
    expect(keys.publicKeys).toEqual({ sig: p.pub.sig, box: p.pub.box });
    const s = screenRequest(sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a'] }, NOW).bytes, ctx(p));
    if (!s.ok) throw new Error(`dropped as ${s.reason}`);
    expect(openJoinRequest(p, keys, s.message).name).toBe('Ana');
    // Publishing again moves it to the current key.
    expect(ed.publishProfile('tips', publishing()).header.body.profile!.keyId).toEqual(currentEpoch(ed.log, 'tips').keyId);
    expect(ed.profileKeys()!.publicKeys).toEqual(currentEpoch(ed.log, 'tips').pub);
  });

  it('a later profile replaces it; withdrawing clears it from the state and its hash; withdrawing nothing is refused', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    ed.publishProfile('tips', publishing());
    const second = ed.publishProfile('tips', { ...publishing(), name: 'The Ledger, again' });
    expect(ed.log.state().profile).toMatchObject({ by: second.id, profile: { name: 'The Ledger, again' } });
    const withdrawn = ed.withdrawProfile();
    expect(ed.log.isAccepted(withdrawn.id)).toBe(true);
    expect(ed.log.state().profile).toBeUndefined();
    expect(publicStateValue(ed.log.state(), new Uint8Array(32), [], [])).not.toHaveProperty('profile');
    expect(ed.profileKeys()).toBeNull();
    expectRefused(() => ed.withdrawProfile(), RejectionCode.INVALID_STATE, /no profile to withdraw/);
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, null))?.code).toBe(RejectionCode.INVALID_STATE);
  });

  it('refuses a member without the right to invite, and one with it who does not hold the role (DENIED)', () => {
    const r = room();
    const rep = r.as(r.ids.rep);
    // Rae holds `desk` and its key, but may not invite.
    expectRefused(() => rep.publishProfile('desk', publishing()), RejectionCode.DENIED);
    const deskKey = rep.keyring.get(currentEpoch(rep.log, 'desk').keyIdHex)!;
    const raeProfile = signProfile({ ...spec(), pursuance: rep.log.id, now: T }, deskKey);
    const byRae = judge(rep.log, forgePublish(r.ids.rep, rep.log, raeProfile));
    expect(byRae?.code).toBe(RejectionCode.DENIED);
    expect(byRae?.reason).not.toMatch(/only a holder/);

    // Edd may invite but holds no `tips` key: the author refuses, and the fold refuses Ed's profile in Edd's event.
    const edd = r.as(r.ids.ed2);
    expectRefused(() => edd.publishProfile('tips', publishing()), RejectionCode.UNKNOWN_KEY);
    const ed = r.as(r.ids.ed);
    const tipsProfile = signProfile({ ...spec(), pursuance: ed.log.id, now: T }, ed.keyring.get(currentEpoch(ed.log, 'tips').keyIdHex)!);
    expect(judge(edd.log, forgePublish(r.ids.ed2, edd.log, tipsProfile))).toMatchObject({
      code: RejectionCode.DENIED,
      reason: expect.stringMatching(/only a holder of "tips"/),
    });
    // The control: the same profile in the event of Ed, who holds the role.
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, tipsProfile))).toBeUndefined();
    // Edd holds `desk`: Rae's desk profile in Edd's event stands (the holder check is per role).
    expect(judge(edd.log, forgePublish(r.ids.ed2, edd.log, raeProfile))).toBeUndefined();

    // Withdrawing takes the right to invite too.
    ed.publishProfile('tips', publishing());
    syncInto(rep, ed.log);
    expectRefused(() => rep.withdrawProfile(), RejectionCode.DENIED);
    expect(judge(rep.log, forgePublish(r.ids.rep, rep.log, null))?.code).toBe(RejectionCode.DENIED);
  });

  it('refuses a profile of another pursuance, of an undeclared role, or whose proof was made elsewhere', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const k = ed.keyring.get(currentEpoch(ed.log, 'tips').keyIdHex)!;
    const foreign = signProfile({ ...spec(), pursuance: 'cd'.repeat(32), now: T }, k);
    expect(profileProblem(foreign)).toBeNull();
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, foreign))?.code).toBe(RejectionCode.WRONG_PURSUANCE);
    const undeclared = signProfile({ ...spec(), pursuance: ed.log.id, now: T }, { ...newRoleKey('tipline-9') });
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, undeclared))?.code).toBe(RejectionCode.UNKNOWN_TARGET);
    // The epoch's keys, but a proof of possession for another pursuance, re-signed.
    const here = signProfile({ ...spec(), pursuance: ed.log.id, now: T }, k);
    const popElsewhere = resign({ ...here, pub: rolePub(k, 'cd'.repeat(32)) }, k);
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, popElsewhere))?.code).toBe(RejectionCode.BAD_SIGNATURE);
    const flipped = Uint8Array.from(here.signature);
    flipped[0]! ^= 0x80;
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, { ...here, signature: flipped }))?.code).toBe(RejectionCode.BAD_SIGNATURE);
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, here))).toBeUndefined();
  });

  it('refuses keys that are not the ones the role published for the epoch the profile names (UNKNOWN_KEY)', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const epoch = currentEpoch(ed.log, 'tips');
    const signed = (k: RoleKey) => signProfile({ ...spec(), pursuance: ed.log.id, now: T }, k);
    // A fresh key claiming the epoch's id: its proof and signature verify, so only the fold can tell.
    const claimed = signed({ role: 'tips', keyId: epoch.keyId, key: randomKey() });
    expect(profileProblem(claimed)).toBeNull();
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, claimed))).toMatchObject({
      code: RejectionCode.UNKNOWN_KEY,
      reason: expect.stringMatching(/not the ones/),
    });
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, signed(newRoleKey('tips'))))).toMatchObject({
      code: RejectionCode.UNKNOWN_KEY,
      reason: expect.stringMatching(/no rotation published/),
    });
    // A holder's real signing key with a box key of its own choosing (requests would go around the
    // role): the proof over the pair verifies, the box is not the one the rotation published.
    const k = ed.keyring.get(epoch.keyIdHex)!;
    const pair = roleKeyPair(k);
    const box = RoleKeyPair.fromSecret(randomKey()).publicKeys.box;
    const pop = pair.sign(popMessage(ed.log.id, 'tips', k.keyId, pair.publicKeys.sig, box));
    const rerouted = resign({ ...signed(k), pub: { sig: pair.publicKeys.sig, box, pop } }, k);
    expect(profileProblem(rerouted)).toBeNull();
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, rerouted))).toMatchObject({
      code: RejectionCode.UNKNOWN_KEY,
      reason: expect.stringMatching(/not the ones/),
    });
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, signed(k)))).toBeUndefined();
    // Another role's real key, named as this role's.
    const desk = ed.keyring.get(currentEpoch(ed.log, 'desk').keyIdHex)!;
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, signed({ ...desk, role: 'tips' })))?.code).toBe(RejectionCode.UNKNOWN_KEY);
  });

  it('after a removal re-keys the role, a profile on the old key by someone who saw it is refused; one on the new key stands (STALE_EPOCH)', () => {
    const r = room();
    const old = currentEpoch(r.founder.log, 'tips');
    r.founder.removeMember(r.ids.ed3.onion, 'left the paper');
    const fresh = currentEpoch(r.founder.log, 'tips');
    expect(fresh.keyIdHex).not.toBe(old.keyIdHex);
    const ed = r.as(r.ids.ed);
    const oldKey = ed.keyring.get(old.keyIdHex)!;
    const stale = signProfile({ ...spec(), pursuance: ed.log.id, now: T }, oldKey);
    expect(judge(ed.log, forgePublish(r.ids.ed, ed.log, stale))?.code).toBe(RejectionCode.STALE_EPOCH);
    const e = ed.publishProfile('tips', publishing());
    expect(e.header.body.profile!.keyId).toEqual(fresh.keyId);
    deliver(r.founder.log, [e]);
    // The removed editor keeps the old key (inherent) and nothing that opens requests to the new profile.
    const p = e.header.body.profile!;
    const s = screenRequest(sealJoinRequest(p, Identity.generate(), { name: 'Ana', answers: ['a'] }, NOW).bytes, ctx(p));
    if (!s.ok) throw new Error(`dropped as ${s.reason}`);
    expectJoinError(() => openJoinRequest(p, roleKeyPair(oldKey), s.message), /does not open/);
    expect(openJoinRequest(p, ed.profileKeys()!, s.message).name).toBe('Ana');
  });

  it('takes a profile that expires after its event and within PROFILE_MAX_DAYS of it, and no other', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const k = ed.keyring.get(currentEpoch(ed.log, 'tips').keyIdHex)!;
    const at = (now: number, days: number) => judge(ed.log, forgePublish(r.ids.ed, ed.log, signProfile({ ...spec(), pursuance: ed.log.id, now, days }, k)));
    expect(T % DAY_MS).not.toBe(0);
    expect(at(T, PROFILE_MAX_DAYS)).toBeUndefined();
    expect(at(T - DAY_MS, 2)).toBeUndefined();
    expect(at(T + DAY_MS, PROFILE_MAX_DAYS)?.code).toBe(RejectionCode.INVALID_SCHEMA);
    // An event dated exactly at the midnight it expires: already expired.
    const midnight = (Math.floor(T / DAY_MS) + 1) * DAY_MS;
    const exact = signProfile({ ...spec(), pursuance: ed.log.id, now: T, days: 1 }, k);
    expect(exact.validUntil).toBe(midnight);
    const judged = judge(ed.log, forge(ed.identity, ed.log, 'profile.publish', { profile: exact }, [], { time: midnight }));
    expect(judged?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expect(judge(ed.log, forge(ed.identity, ed.log, 'profile.publish', { profile: exact }, [], { time: midnight - 1 }))).toBeUndefined();
    // Expiring at the midnight that began the event's day, or earlier: already expired.
    expect(at(T - DAY_MS, 1)?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expect(at(T - 5 * DAY_MS, 3)?.code).toBe(RejectionCode.INVALID_SCHEMA);
    expectRefused(() => ed.publishProfile('tips', publishing(PROFILE_MAX_DAYS + 1)), RejectionCode.INVALID_SCHEMA);
  });

  it('keeps prototype names in a published profile as plain text', () => {
    const r = room();
    const ed = r.as(r.ids.ed);
    const e = ed.publishProfile('tips', { ...publishing(), name: '__proto__', about: 'constructor', asks: PROTOTYPE_NAMES, inbox: 'toString' });
    const replica = r.as(r.ids.ed2);
    deliver(replica.log, [e]);
    expect(replica.log.state().profile?.profile).toMatchObject({ name: '__proto__', about: 'constructor', asks: PROTOTYPE_NAMES, inbox: 'toString' });
  });
});

type ProfileStep =
  | { t: 'publish'; actor: number; days: number }
  | { t: 'withdraw'; actor: number }
  | { t: 'rotate'; actor: number }
  | { t: 'stale'; actor: number }
  | { t: 'sync'; from: number; to: number };

const profileStep: fc.Arbitrary<ProfileStep> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('publish' as const), actor: fc.nat(3), days: fc.integer({ min: 1, max: PROFILE_MAX_DAYS }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('withdraw' as const), actor: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rotate' as const), actor: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), actor: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.nat(3), to: fc.nat(3) }) },
);

/**
 * Founder, Ed and Eve (holders of `tips`) and Edd (no `tips`) act on their own replicas; the union
 * of their events. Every history starts with Eve's removal, which re-keys `tips`, on the founder's
 * replica alone: the others go on publishing concurrently until they sync.
 */
function profileHistory(steps: readonly ProfileStep[]): { genesis: Uint8Array; events: SignedEvent[] } {
  const r = room();
  const ids = [r.ids.f, r.ids.ed, r.ids.ed3, r.ids.ed2];
  const actors = ids.map((id, i) => (i === 0 ? r.founder : r.as(id)));
  r.founder.removeMember(r.ids.ed3.onion);
  for (const s of steps) {
    if (s.t === 'sync') {
      if (s.from !== s.to) syncInto(actors[s.to]!, actors[s.from]!.log);
      continue;
    }
    const me = actors[s.actor]!;
    try {
      if (s.t === 'publish') me.publishProfile('tips', { ...publishing(s.days), name: `Ledger ${s.days}` });
      else if (s.t === 'withdraw') me.withdrawProfile();
      else if (s.t === 'rotate') me.rotateKeys(['tips']);
      else {
        // A holder signs for an earlier epoch it still holds, skipping its own checks (refused once it saw the next one).
        const epochs = me.log.state().roles.get('tips')!.epochs;
        const k = epochs.length > 1 ? me.keyring.get(epochs.at(-2)!.keyIdHex) : undefined;
        if (k)
          me.log.add(
            forge(me.identity, me.log, 'profile.publish', { profile: signProfile({ ...spec(), pursuance: me.log.id }, k) }, [], { time: r.now() }).bytes,
          );
      }
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  }
  const all = new Map<EventId, SignedEvent>();
  for (const a of actors) for (const e of a.log.events()) all.set(e.id, e);
  return { genesis: r.founder.log.genesis.bytes, events: [...all.values()] };
}

function foldInOrder(genesis: Uint8Array, order: readonly SignedEvent[]): PursuanceLog {
  const log = new PursuanceLog(genesis);
  const refused = order.filter((e) => log.add(e.bytes).rejection?.code === RejectionCode.PENDING_REFUSED);
  log.addAll(refused.map((e) => e.bytes));
  return log;
}

describe('profiles across replicas', () => {
  it('every arrival order of publications concurrent with withdrawals, rotations and a removal gives one state and one profile (property)', () => {
    const outcomes = { withProfile: 0, without: 0, refusedPublications: 0 };
    fc.assert(
      fc.property(fc.array(profileStep, { minLength: 4, maxLength: 24 }), fc.array(fc.integer(), { minLength: 3, maxLength: 3 }), (steps, seeds) => {
        const { genesis, events } = profileHistory(steps);
        const reference = foldInOrder(genesis, events);
        const hash = reference.stateHash();
        const profile = reference.state().profile;
        for (const seed of seeds) {
          const shuffled = seededShuffle(events, seed);
          const dup = shuffled.slice(0, Math.max(1, shuffled.length >> 2));
          const log = foldInOrder(genesis, [...dup, ...shuffled, ...dup]);
          expect(log.stateHash()).toBe(hash);
          expect(log.order()).toEqual(reference.order());
          expect(log.state().profile).toEqual(profile);
        }
        if (profile) {
          // Whatever stands is valid, on a key the role published, by an event the fold accepted.
          expect(profileProblem(profile.profile)).toBeNull();
          const epoch = reference.state().roles.get('tips')!.epochsById.get(toHex(profile.profile.keyId));
          expect(epoch?.pub).toEqual({ sig: profile.profile.pub.sig, box: profile.profile.pub.box });
          expect(reference.isAccepted(profile.by)).toBe(true);
          outcomes.withProfile++;
        } else outcomes.without++;
        outcomes.refusedPublications += reference.rejections().filter((x) => reference.event(x.eventId as EventId)?.header.kind === 'profile.publish').length;
      }),
      { numRuns: 25 },
    );
    // Not vacuous: histories ended with and without a profile, and some publications lost.
    expect(outcomes.withProfile).toBeGreaterThan(0);
    expect(outcomes.without).toBeGreaterThan(0);
    expect(outcomes.refusedPublications).toBeGreaterThan(0);
  });
});

describe('snapshots carry the profile', () => {
  function published() {
    const r = room();
    const ed = r.as(r.ids.ed);
    const e = ed.publishProfile('tips', publishing());
    return { r, ed, e };
  }

  it('the state codec round-trips a state with a profile to the same hash, and a joiner from a snapshot has it', () => {
    const { ed, e } = published();
    const state = ed.log.state();
    const decoded = decodeState(encodeState(state));
    expect(decoded.profile).toEqual({ profile: e.header.body.profile, by: e.id });
    expect(hashOf(decoded)).toBe(hashOf(state));
    expect(canonicalEncode(encodeState(decoded))).toEqual(canonicalEncode(encodeState(state)));

    const snap = snapshotAt(ed.log, ed.log.heads());
    const joined = new PursuanceLog(ed.log.genesis.bytes, { snapshot: readSnapshot(snap.bytes, snap.hash, snap.pursuance) });
    expect(joined.stateHash()).toBe(ed.log.stateHash());
    expect(joined.state().profile).toEqual(state.profile);

    // Without a profile, the encoding has no trace of one.
    ed.withdrawProfile();
    expect(encodeState(ed.log.state())).not.toHaveProperty('profile');
    expect(decodeState(encodeState(ed.log.state())).profile).toBeUndefined();
  });

  it('refuses a snapshot whose profile was tampered with, names another pursuance, or carries keys of no epoch', () => {
    const { ed } = published();
    const value = encodeState(ed.log.state()) as { profile: { profile: Profile; by: string } };
    const k = ed.keyring.get(currentEpoch(ed.log, 'tips').keyIdHex)!;
    const spoiled: [string, (p: Profile) => Profile, RegExp][] = [
      [
        'a flipped signature',
        (p) => {
          const signature = Uint8Array.from(p.signature);
          signature[5]! ^= 1;
          return { ...p, signature };
        },
        /profile is invalid/,
      ],
      ['a changed inbox', (p) => ({ ...p, inbox: 'cwtch-group-invite:attacker' }), /profile is invalid/],
      ['another pursuance', () => signProfile(spec({ pursuance: 'cd'.repeat(32) }), k), /another pursuance/],
      [
        'a fresh key claiming the epoch',
        (p) => signProfile({ ...spec(), pursuance: p.pursuance }, { role: 'tips', keyId: p.keyId, key: randomKey() }),
        /no epoch/,
      ],
      [
        'a box key of no epoch',
        (p) => {
          const pair = roleKeyPair(k);
          const box = RoleKeyPair.fromSecret(randomKey()).publicKeys.box;
          return resign({ ...p, pub: { sig: p.pub.sig, box, pop: pair.sign(popMessage(p.pursuance, 'tips', k.keyId, p.pub.sig, box)) } }, k);
        },
        /no epoch/,
      ],
      ['a key of no rotation', (p) => signProfile({ ...spec(), pursuance: p.pursuance }, newRoleKey('tips')), /no epoch/],
      ['a role without that key', (p) => signProfile({ ...spec(), pursuance: p.pursuance }, { ...k, role: 'desk' }), /no epoch/],
      ['an undeclared role', (p) => signProfile({ ...spec(), pursuance: p.pursuance }, newRoleKey('tipline-9')), /no epoch/],
    ];
    expect(() => decodeState(structuredClone(value))).not.toThrow();
    for (const [what, spoil, reason] of spoiled) {
      const bad = structuredClone(value);
      bad.profile.profile = spoil(bad.profile.profile);
      let caught: unknown;
      try {
        decodeState(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(SnapshotInvalidError);
      expect((caught as Error).message, what).toMatch(reason);
    }
  });
});

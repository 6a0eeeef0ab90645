import { createHash } from 'node:crypto';
import { Identity, canonicalDecode, canonicalEncode, padToSize, sealToIdentity, toHex, verifySignature } from '@pursuance/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActionNotAllowedError,
  HOUR_MS,
  InvalidVouchError,
  JoinRequestError,
  PursuanceAuthor,
  RejectionCode,
  VOUCH_DISCOUNT_BITS,
  VOUCH_HOURS,
  VOUCH_TEXT_MAX,
  VOUCH_TEXT_PREFIX,
  leadingZeroBits,
  openJoinRequest,
  openVouchText,
  screenRequest,
  sealJoinRequest,
  signAnnouncement,
  signCredential,
  signVouch,
  vouchProblem,
  vouchText,
  vouchedEffort,
  workDigest,
  type Announcement,
  type Profile,
  type Vouch,
} from '../src/index.js';
import { newRoleKey, roleKeyPair, rolePub, type RoleKey } from '../src/keys.js';
import { EFFORT_MAX, EFFORT_MIN } from '../src/bodies.js';
import { sealLinkTask } from '../src/link.js';
import { joinAs, syncInto, template } from './support/helpers.js';

/**
 * Vouches (FEDERATION.md J11, vouch.ts): a holder of A's "member" vouches for an applicant to B;
 * B's link lets A's members vouch for applicants its organizers review, so B's gatekeepers ask
 * VOUCH_DISCOUNT_BITS less work of that applicant's request, once. A foreign, replayed (the
 * node's part, see apps/node/test/vouch.test.ts), stale, misaddressed or forged vouch lowers
 * nothing.
 */
const T0 = 1_800_000_000_000;

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = T0;
  return { now: () => (t += 1), advance: (ms) => void (t += ms) };
}

function side(name: string, now: () => number) {
  const founder = PursuanceAuthor.create(Identity.generate(), { name, rules: template('activist-cell') }, now);
  const memberId = Identity.generate();
  founder.addMember(memberId.publicKey, { roles: ['member'] });
  const member = joinAs(memberId, founder.log, now);
  return { founder, member, memberId };
}

function carryAll(into: PursuanceAuthor, announcements: readonly Announcement[]): void {
  for (const a of announcements) {
    try {
      into.carryLinkKeys(a);
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  }
}

const VOUCH_GRANT = { theirRole: 'member', action: 'vouch', on: 'organizer' } as const;

/** A and B linked both ways; B lets A's members vouch for applicants its organizers review, and holds A's keys. */
function world(theyMay: readonly { theirRole: string; action: 'create' | 'vouch'; on: string }[] = [VOUCH_GRANT]) {
  const clock = manualClock();
  const a = side('A', clock.now);
  const b = side('B', clock.now);
  const offerA = a.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'inbox of A');
  const offerB = b.founder.linkOffer(a.founder.log.id, 'organizer', 7, 'inbox of B');
  b.founder.openLink({ offer: offerA, name: 'Port Watch', theyMay, ourAnchor: 'organizer', weSend: [], ourInbox: 'our inbox' });
  a.founder.openLink({ offer: offerB, name: 'B', theyMay: [], ourAnchor: 'organizer', weSend: [{ ours: 'member', theirs: 'member' }], ourInbox: 'ours' });
  syncInto(a.member, a.founder.log);
  carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
  const profileEvent = b.founder.publishProfile('organizer', {
    name: 'B',
    about: 'Harbour reporting.',
    asks: [],
    inbox: 'cwtch-group-invite:inbox',
    effort: 14,
    now: clock.now(),
    days: 7,
  });
  const profile = profileEvent.header.body.profile!;
  return { clock, a, b, offerA, profile, bId: b.founder.log.id, applicant: Identity.generate() };
}

type World = ReturnType<typeof world>;

function problem(w: World, v: Vouch, over: Partial<{ reviewer: string; applicant: Uint8Array; hour: number }> = {}): string | null {
  return vouchProblem(w.b.founder.log.state(), v, { reviewer: 'organizer', applicant: w.applicant.publicKey, hour: v.hour, ...over });
}

function currentKey(author: PursuanceAuthor, role: string): RoleKey {
  const ep = author.log.state().roles.get(role)!.epochs.at(-1)!;
  return author.keyring.get(ep.keyIdHex)!;
}

/** A request message whose work is exactly at least `min` and below `max` leading zero bits (re-rolling the nonce). */
function withWorkBetween(bytes: Uint8Array, p: Profile, min: number, max: number): Uint8Array {
  const m = decodeRequest(bytes);
  for (let i = 0; ; i++) {
    const n = new Uint8Array(16);
    new DataView(n.buffer).setUint32(12, i);
    const work = leadingZeroBits(workDigest(p.id, m.h, n, m.ct));
    if (work >= min && work < max) return canonicalEncode({ ...m, n });
  }
}

function decodeRequest(bytes: Uint8Array): { v: 1; t: 'req'; p: Uint8Array; h: number; n: Uint8Array; ct: Uint8Array } {
  return canonicalDecode(bytes) as never;
}

describe('vouches (J11)', () => {
  it('a holder of an announced role vouches; B stands behind it; the request needs VOUCH_DISCOUNT_BITS less work and opens with the vouch', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    expect(v).toMatchObject({ from: w.a.founder.log.id, to: w.bId, role: 'member', n: 1 });
    expect(problem(w, v)).toBeNull();

    // The text opens for the applicant only, to the same vouch.
    const text = vouchText(v);
    expect(text.startsWith(VOUCH_TEXT_PREFIX)).toBe(true);
    expect(openVouchText(`  ${text}\n`, w.applicant)).toEqual(v);
    expect(() => openVouchText(text, Identity.generate())).toThrow(InvalidVouchError);

    const request = sealJoinRequest(w.profile, w.applicant, { name: 'Rae', answers: [], vouch: v }, w.clock.now());
    const lowWork = withWorkBetween(request.bytes, w.profile, vouchedEffort(w.profile.effort), w.profile.effort);
    const screened = screenRequest(lowWork, { profile: w.profile, now: w.clock.now(), seen: () => false });
    expect(screened).toMatchObject({ ok: true, vouchNeeded: true });
    if (!screened.ok) return;
    const opened = openJoinRequest(w.profile, w.b.founder.profileKeys()!, screened.message);
    expect(opened.vouch).toEqual(v);
    expect(problem(w, opened.vouch!, { hour: screened.message.h })).toBeNull();

    // The same work without a vouch is screened in too (the vouch is sealed inside), marked as needing one.
    const plain = sealJoinRequest(w.profile, w.applicant, { name: 'Rae', answers: [] }, w.clock.now());
    const plainLow = screenRequest(withWorkBetween(plain.bytes, w.profile, vouchedEffort(w.profile.effort), w.profile.effort), {
      profile: w.profile,
      now: w.clock.now(),
      seen: () => false,
    });
    expect(plainLow).toMatchObject({ ok: true, vouchNeeded: true });
    if (plainLow.ok) expect(openJoinRequest(w.profile, w.b.founder.profileKeys()!, plainLow.message).vouch).toBeNull();
    // Below even the lowered work: dropped before anything is opened.
    const tooLittle = screenRequest(withWorkBetween(request.bytes, w.profile, 0, vouchedEffort(w.profile.effort)), {
      profile: w.profile,
      now: w.clock.now(),
      seen: () => false,
    });
    expect(tooLittle).toEqual({ ok: false, reason: 'work' });
    // Exactly the profile's work needs no vouch.
    const exact = screenRequest(withWorkBetween(plain.bytes, w.profile, w.profile.effort, w.profile.effort + 1), {
      profile: w.profile,
      now: w.clock.now(),
      seen: () => false,
    });
    expect(exact).toMatchObject({ ok: true, vouchNeeded: false });
  });

  it('lowers the work by VOUCH_DISCOUNT_BITS, never under EFFORT_MIN', () => {
    expect(vouchedEffort(EFFORT_MIN)).toBe(EFFORT_MIN);
    expect(vouchedEffort(EFFORT_MIN + VOUCH_DISCOUNT_BITS - 1)).toBe(EFFORT_MIN);
    expect(vouchedEffort(EFFORT_MIN + VOUCH_DISCOUNT_BITS + 1)).toBe(EFFORT_MIN + 1);
    expect(vouchedEffort(EFFORT_MAX)).toBe(EFFORT_MAX - VOUCH_DISCOUNT_BITS);
    fc.assert(
      fc.property(fc.integer({ min: EFFORT_MIN, max: EFFORT_MAX }), (e) => {
        const lowered = vouchedEffort(e);
        return lowered <= e && lowered >= EFFORT_MIN && e - lowered <= VOUCH_DISCOUNT_BITS;
      }),
    );
  });

  it('refuses every vouch its links do not stand behind, saying why', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const memberKey = currentKey(w.a.member, 'member');
    const resign = (over: Partial<Vouch>): Vouch => {
      const { signature: _s, nonce: _n, ...rest } = { ...v, ...over };
      return signVouch(rest, memberKey);
    };
    const stranger = PursuanceAuthor.create(Identity.generate(), { name: 'C', rules: template('activist-cell') }, w.clock.now);
    const cases: [string, string | null, RegExp][] = [
      ['from a pursuance B has no link to', problem(w, resign({ from: stranger.log.id })), /no link/],
      ['addressed to another pursuance (foreign)', problem(w, resign({ to: stranger.log.id })), /another pursuance/],
      ['for a profile another role reviews', problem(w, v, { reviewer: 'member' }), /does not let their "member" vouch/],
      [
        'by a role the link does not let vouch (their anchor)',
        problem(w, signVouch({ ...stripped(v), role: 'organizer' }, currentKey(w.a.founder, 'organizer'))),
        /does not let their "organizer"/,
      ],
      ['for another applicant', problem(w, v, { applicant: Identity.generate().publicKey }), /another applicant/],
      [`a request more than ${VOUCH_HOURS} hours after it`, problem(w, v, { hour: v.hour + VOUCH_HOURS + 1 }), /more than 72 hours old/],
      ['dated two hours after the request', problem(w, v, { hour: v.hour - 2 }), /after the request/],
      ['a changed nonce', problem(w, { ...v, nonce: new Uint8Array(16) }), /not signed/],
      ['signed by a key of the role A never announced', problem(w, signVouch(stripped(v), newRoleKey('member'))), /not signed/],
      ['signed with a key ordinal B does not hold', problem(w, resign({ n: 2 })), /key 2 .* key 1 is current/],
    ];
    for (const [what, got, expected] of cases) expect(got, what).toMatch(expected);
    // The edges hold: an hour early (clock skew), and VOUCH_HOURS after.
    expect(problem(w, v, { hour: v.hour - 1 })).toBeNull();
    expect(problem(w, v, { hour: v.hour + VOUCH_HOURS })).toBeNull();
  });

  it('a link that grants the role only tasks, or another grant beside the vouch, and a role whose key B never took in', () => {
    const tasksOnly = world([{ theirRole: 'member', action: 'create', on: 'organizer' }]);
    expect(problem(tasksOnly, tasksOnly.a.member.vouch(tasksOnly.bId, 'member', tasksOnly.applicant.publicKey))).toMatch(/does not let their "member" vouch/);
    const both = world([{ theirRole: 'member', action: 'create', on: 'member' }, VOUCH_GRANT]);
    expect(problem(both, both.a.member.vouch(both.bId, 'member', both.applicant.publicKey))).toBeNull();
    // B lets A's members vouch but never took in A's member key (nothing carried).
    const clock = manualClock();
    const a = side('A', clock.now);
    const b = side('B', clock.now);
    b.founder.openLink({
      offer: a.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'x'),
      name: 'A',
      theyMay: [VOUCH_GRANT],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'y',
    });
    a.founder.openLink({
      offer: b.founder.linkOffer(a.founder.log.id, 'organizer', 7, 'z'),
      name: 'B',
      theyMay: [],
      ourAnchor: 'organizer',
      weSend: [{ ours: 'member', theirs: 'member' }],
      ourInbox: 'q',
    });
    const applicant = Identity.generate();
    const v = a.founder.vouch(b.founder.log.id, 'member', applicant.publicKey);
    expect(vouchProblem(b.founder.log.state(), v, { reviewer: 'organizer', applicant: applicant.publicKey, hour: v.hour })).toMatch(
      /no current key of their "member"/,
    );
  });

  it('prototype names in a vouch find nothing: no link, no grant, no key', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const forged = { ...v, role: name };
      expect(problem(w, forged)).toMatch(/does not let/);
      expect(problem(w, forged, { reviewer: name })).toMatch(/does not let/);
    }
  });

  it('after A rotates the role and B adopts the announcement, a vouch signed with the old key is refused; a new one holds', () => {
    const w = world();
    const old = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    w.a.founder.rotateKeys(['member']);
    // Until B hears of the rotation, the old key is the one it knows.
    expect(problem(w, old)).toBeNull();
    carryAll(w.b.founder, w.a.founder.linkAnnouncements(w.bId, 7));
    expect(problem(w, old)).toMatch(/key 1 of their "member"; key 2 is current/);
    syncInto(w.a.member, w.a.founder.log);
    expect(problem(w, w.a.member.vouch(w.bId, 'member', w.applicant.publicKey))).toBeNull();
  });

  it('an expired announcement, a frozen link or a closed one stands behind no vouch', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const validUntil = w.b.founder.log.state().links!.get(w.a.founder.log.id)!.keys.get('member')!.validUntil;
    // A vouch made days later, under the same announcement: good until the announcement lapses.
    const late = signVouch({ ...stripped(v), hour: Math.floor(validUntil / HOUR_MS) - 1 }, currentKey(w.a.member, 'member'));
    expect(problem(w, late, { hour: late.hour })).toBeNull();
    expect(problem(w, late, { hour: Math.ceil(validUntil / HOUR_MS) })).toMatch(/announcement of "member" had expired/);

    // Their anchor signs a second key for "member" at the same ordinal: the link freezes.
    const honest = w.a.founder.linkAnnouncements(w.bId, 7).find((x) => x.role === 'member')!;
    const planted = newRoleKey('member');
    const { signature: _sig, ...unsigned } = honest;
    const { sig, box } = rolePub(planted, null);
    w.b.founder.carryLinkKeys(signAnnouncement({ ...unsigned, keyId: planted.keyId, pub: { sig, box } }, currentKey(w.a.founder, 'organizer')));
    expect(w.b.founder.log.state().links!.get(w.a.founder.log.id)!.frozen).not.toBeNull();
    expect(problem(w, v)).toMatch(/frozen/);
    w.b.founder.closeLink(w.a.founder.log.id);
    expect(problem(w, v)).toMatch(/no link/);
  });

  it('a vouch grant lets their role send no task: a link.task on it is refused', () => {
    const w = world();
    const organizer = w.b.founder.log.state().roles.get('organizer')!.epochs.at(-1)!;
    const box = sealLinkTask(w.bId, 'organizer', organizer.keyId, organizer.pub!.box, { title: 'Please look', body: '' });
    const credential = signCredential(
      {
        from: w.a.founder.log.id,
        to: w.bId,
        role: 'member',
        n: 1,
        action: 'create',
        on: 'organizer',
        digest: new Uint8Array(createHash('sha256').update(box).digest()),
        hour: Math.floor(w.clock.now() / HOUR_MS),
      },
      currentKey(w.a.member, 'member'),
    );
    try {
      w.b.founder.carryLinkTask({ credential, keyId: organizer.keyId, box });
      expect.unreachable('a vouch grant let a task in');
    } catch (err) {
      expect(err).toBeInstanceOf(ActionNotAllowedError);
      expect((err as ActionNotAllowedError).code).toBe(RejectionCode.DENIED);
    }
  });

  it('only a holder of a role the link tells them about vouches, over a link that is open', () => {
    const w = world();
    const refusal = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        if (err instanceof ActionNotAllowedError) return `${err.code}: ${err.message}`;
        throw err;
      }
      return 'signed';
    };
    const stranger = PursuanceAuthor.create(Identity.generate(), { name: 'C', rules: template('activist-cell') }, w.clock.now);
    // A pursuance with no links at all.
    expect(refusal(() => stranger.vouch(w.bId, 'member', w.applicant.publicKey))).toBe(`${RejectionCode.UNKNOWN_TARGET}: there is no link to that pursuance`);
    expect(refusal(() => w.a.member.vouch(stranger.log.id, 'member', w.applicant.publicKey))).toBe(
      `${RejectionCode.UNKNOWN_TARGET}: there is no link to that pursuance`,
    );
    // A member holds no organizer key.
    expect(refusal(() => w.a.member.vouch(w.bId, 'organizer', w.applicant.publicKey))).toBe(
      `${RejectionCode.UNKNOWN_KEY}: you hold no current key of "organizer" with public halves: only its holders vouch for it`,
    );
    for (const role of ['nobody', 'constructor', '__proto__'])
      expect(refusal(() => w.a.founder.vouch(w.bId, role, w.applicant.publicKey))).toBe(
        `${RejectionCode.DENIED}: "${role}" is no role this link tells them about`,
      );
    expect(refusal(() => w.a.member.vouch(w.bId, 'member', new Uint8Array(31)))).toMatch(new RegExp(`^${RejectionCode.INVALID_SCHEMA}: not a vouch`));
    expect(refusal(() => w.a.founder.vouch(w.bId, 'organizer', w.applicant.publicKey))).toBe('signed');
  });

  it('the applicant refuses to send a vouch for another pursuance or applicant, before any work', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const other = Identity.generate();
    expect(() => sealJoinRequest(w.profile, other, { name: 'Rae', answers: [], vouch: v }, w.clock.now())).toThrow(JoinRequestError);
    expect(() => sealJoinRequest(w.profile, other, { name: 'Rae', answers: [], vouch: v }, w.clock.now())).toThrow(/this vouch names another applicant/);
    expect(() => sealJoinRequest({ ...w.profile, pursuance: w.a.founder.log.id }, w.applicant, { name: 'Rae', answers: [], vouch: v }, w.clock.now())).toThrow(
      /another pursuance/,
    );
  });

  it('two holders’ vouches for one applicant in one hour differ only in nonce and signature (L17)', () => {
    const w = world();
    const second = Identity.generate();
    w.a.founder.addMember(second.publicKey, { roles: ['member'] });
    const secondAuthor = joinAs(second, w.a.founder.log, w.clock.now);
    syncInto(w.a.member, w.a.founder.log);
    const x = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const y = secondAuthor.vouch(w.bId, 'member', w.applicant.publicKey);
    const { nonce: _xn, signature: _xs, ...xr } = x;
    const { nonce: _yn, signature: _ys, ...yr } = y;
    expect(xr).toEqual(yr);
    expect(toHex(x.nonce)).not.toBe(toHex(y.nonce));
    // Their texts are the same length, whatever role names they carry.
    const longRole = { ...x, role: 'a-role-with-a-much-longer-name' };
    expect(vouchText(longRole).length).toBe(vouchText(x).length);
  });

  it('says what is wrong with pasted text that is no vouch for this applicant', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const good = vouchText(v);
    expect(good.startsWith('pursuance-vouch:1:')).toBe(true);
    const sealedTo = (to: Identity, value: Parameters<typeof canonicalEncode>[0], size = 640): string =>
      'pursuance-vouch:1:' + Buffer.from(sealToIdentity(to.publicKey, padToSize(canonicalEncode(value), size))).toString('base64url');
    const other = Identity.generate();
    const cases: [string, string, RegExp][] = [
      ['too long', good + 'A'.repeat(VOUCH_TEXT_MAX), /too long to be a vouch/],
      ['exactly as long as a pasted vouch may be', good + 'A'.repeat(VOUCH_TEXT_MAX - good.length), /does not open with your key/],
      ['another prefix', good.replace('pursuance-vouch:1:', 'pursuance-link:1:'), /starts with "pursuance-vouch:1:"/],
      ['only the prefix', 'pursuance-vouch:1:', /base64url after its prefix/],
      ['a character outside base64url', `${good.slice(0, 30)}+${good.slice(31)}`, /base64url after its prefix/],
      ['padding at the end', `${good}=`, /base64url after its prefix/],
      ['a space inside', `${good.slice(0, 30)} ${good.slice(30)}`, /base64url after its prefix/],
      ['made for someone else', vouchText({ ...v, applicant: other.publicKey }), /does not open with your key/],
      ['sealed to us, but no vouch', sealedTo(w.applicant, { x: 1 }), /not a vouch/],
      ['sealed to us, naming another applicant', sealedTo(w.applicant, { ...v, applicant: other.publicKey }), /names another applicant/],
      ['sealed to us, padded to another size', sealedTo(w.applicant, v, 1024), /does not open with your key/],
    ];
    for (const [what, text, expected] of cases) {
      let caught: unknown;
      try {
        openVouchText(text, w.applicant);
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(InvalidVouchError);
      expect((caught as InvalidVouchError).message, what).toMatch(expected);
      expect((caught as InvalidVouchError).code).toBe('INVALID_VOUCH');
      expect((caught as InvalidVouchError).name).toBe('InvalidVouchError');
    }
  });

  it('signs under its own domain: the bytes a vouch covers are pinned here, and a credential’s signature is no vouch’s', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const { signature, ...unsigned } = v;
    const memberSig = w.a.founder.log.state().roles.get('member')!.epochs.at(-1)!.pub!.sig;
    expect(verifySignature(canonicalEncode({ dom: 'pursuance/link-vouch/v1', ...unsigned }), signature, memberSig)).toBe(true);
    // The same fields signed as a credential (another domain) do not verify as a vouch.
    const asCredential = roleKeyPair(currentKey(w.a.member, 'member')).sign(canonicalEncode({ dom: 'pursuance/link-cred/v1', ...unsigned }));
    expect(problem(w, { ...v, signature: asCredential })).toMatch(/not signed/);
  });

  it('opening pasted text never throws anything but InvalidVouchError (fuzz)', () => {
    const w = world();
    const v = w.a.member.vouch(w.bId, 'member', w.applicant.publicKey);
    const good = vouchText(v);
    const body = good.slice(VOUCH_TEXT_PREFIX.length);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ maxLength: 200 }).map((s) => VOUCH_TEXT_PREFIX + s),
          fc.uint8Array({ maxLength: 900 }).map((b) => VOUCH_TEXT_PREFIX + Buffer.from(b).toString('base64url')),
          fc
            .tuple(fc.nat({ max: body.length - 1 }), fc.constantFrom(...'ABCxyz019-_'))
            .map(([i, c]) => VOUCH_TEXT_PREFIX + body.slice(0, i) + c + body.slice(i + 1)),
          fc.nat({ max: body.length }).map((i) => VOUCH_TEXT_PREFIX + body.slice(0, i)),
          fc.constantFrom('constructor', '__proto__', VOUCH_TEXT_PREFIX, `${VOUCH_TEXT_PREFIX}=`, VOUCH_TEXT_PREFIX + 'A'.repeat(5000)),
        ),
        (text) => {
          try {
            // What opens is the vouch itself: a change that opens at all is one base64url does not
            // see (the unused low bits of the last character), never another vouch.
            return Buffer.from(canonicalEncode(openVouchText(text, w.applicant))).equals(Buffer.from(canonicalEncode(v)));
          } catch (err) {
            return err instanceof InvalidVouchError;
          }
        },
      ),
      { numRuns: 300 },
    );
    // The case fast-check found: the last character changed in its unused bits opens, to the same vouch.
    const last = body.at(-1)!;
    const sibling = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].find(
      (c) => c !== last && Buffer.from(body.slice(0, -1) + c, 'base64url').equals(Buffer.from(body, 'base64url')),
    );
    // The sealed vouch is always the same length, one that leaves unused bits in the last character.
    expect(sibling).toBeDefined();
    expect(openVouchText(VOUCH_TEXT_PREFIX + body.slice(0, -1) + sibling!, w.applicant)).toEqual(v);
  });
});

function stripped(v: Vouch): Omit<Vouch, 'nonce' | 'signature'> {
  const { nonce: _n, signature: _s, ...rest } = v;
  return rest;
}

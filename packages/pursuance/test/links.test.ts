import { Identity, ROLE_BOX_OVERHEAD, canonicalEncode, sha256, toHex, verifySignature } from '@pursuance/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActionNotAllowedError,
  AnnouncementSchema,
  CREDENTIAL_DOMAIN,
  CREDENTIAL_HOURS,
  ContentUnreadableError,
  EventRejectedError,
  HOUR_MS,
  InvalidAnnouncementError,
  InvalidCredentialError,
  InvalidLinkOfferError,
  InvalidLinkPostError,
  InvalidReceiptError,
  LINKS_MAX,
  LINK_POST_KEYS_MAX,
  LINK_OFFER_PREFIX,
  linkOfferProblem,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  RulesSchema,
  buildMemberView,
  decodeEvent,
  decodeLinkPost,
  encodeLinkPost,
  forkEvidence,
  linkOfferText,
  openLinkTask,
  parseLinkOfferText,
  signAnnouncement,
  signCredential,
  receiptProblem,
  signLinkOffer,
  signReceipt,
  splitAnnouncements,
  type Announcement,
  type LinkOffer,
  type LinkParcel,
  type EventId,
  type Rules,
  type SignedEvent,
  type UnsignedReceipt,
} from '../src/index.js';
import { newRoleKey, roleKeyPair, rolePub, type RoleKey } from '../src/keys.js';
import { LINK_OFFER_TEXT_MAX, sealLinkTask } from '../src/link.js';
import { decodeState, encodeState } from '../src/snapshot/state-codec.js';
import { forge } from './support/harness.js';
import { joinAs, syncInto, template } from './support/helpers.js';

/**
 * Links between pursuances, the part where B keeps A's role keys current (fold/links.ts,
 * link.ts): the pinned anchor, its chain of keys, other roles' keys under it, renewals, forks
 * that freeze, and every bound (FEDERATION.md L5, L6, L7, L10, L12 for keys, L13, L16).
 */
const DAY = 86_400_000;
const T0 = 1_800_000_000_000;

/** A clock the test moves by hand: announcements expire, so time matters here. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = T0;
  return { now: () => (t += 1), advance: (ms) => void (t += ms) };
}

interface Side {
  founder: PursuanceAuthor;
  member: PursuanceAuthor;
  memberId: Identity;
}

function pursuance(name: string, now: () => number): Side {
  const fId = Identity.generate();
  const memberId = Identity.generate();
  const founder = PursuanceAuthor.create(fId, { name, rules: template('activist-cell') }, now);
  founder.addMember(memberId.publicKey, { roles: ['member'] });
  const member = joinAs(memberId, founder.log, now);
  return { founder, member, memberId };
}

/** A and B, A's link to B (it announces organizer and member keys) and B's link to A (A's members may create tasks for B's members). */
function linked(days = 7) {
  const clock = manualClock();
  const a = pursuance('A', clock.now);
  const b = pursuance('B', clock.now);
  const offerA = a.founder.linkOffer(b.founder.log.id, 'organizer', days, 'inbox of A');
  const offerB = b.founder.linkOffer(a.founder.log.id, 'organizer', days, 'inbox of B');
  const openAtB = b.founder.openLink({
    offer: offerA,
    name: 'A',
    theyMay: [{ theirRole: 'member', action: 'create', on: 'member' }],
    ourAnchor: 'organizer',
    weSend: [],
    ourInbox: 'our inbox',
  });
  a.founder.openLink({ offer: offerB, name: 'B', theyMay: [], ourAnchor: 'organizer', weSend: [{ ours: 'member', theirs: 'member' }], ourInbox: 'our inbox' });
  return { clock, a, b, offerA, openAtB };
}

/** Carry every announcement B's log takes, skipping what it already has (as a liaison's node does). */
function carryAll(into: PursuanceAuthor, announcements: readonly Announcement[]): SignedEvent<'link.keys'>[] {
  const carried: SignedEvent<'link.keys'>[] = [];
  for (const a of announcements) {
    try {
      carried.push(into.carryLinkKeys(a));
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  }
  return carried;
}

/** The current key of `role` in `author`'s keyring. */
function currentKey(author: PursuanceAuthor, role: string): RoleKey {
  const ep = author.log.state().roles.get(role)!.epochs.at(-1)!;
  return author.keyring.get(ep.keyIdHex)!;
}

function linkAt(author: PursuanceAuthor, peer: string) {
  return author.log.state().links?.get(peer as EventId);
}

describe('links: keeping a linked pursuance’s role keys current', () => {
  it('B pins A’s anchor from A’s offer, then adopts the keys A announces: the anchor and the roles the link maps', () => {
    const { a, b } = linked();
    const link = linkAt(b.founder, a.founder.log.id)!;
    expect(link.theirAnchor).toBe('organizer');
    expect(toHex(link.keys.get('organizer')!.sig)).toBe(toHex(a.founder.log.state().roles.get('organizer')!.epochs.at(-1)!.pub!.sig));
    const carried = carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    // The anchor's own announcement repeats the offer B pinned: only the member key is new.
    expect(carried.map((e) => e.header.body.announcement.role)).toEqual(['member']);
    const memberKey = a.founder.log.state().roles.get('member')!.epochs.at(-1)!;
    const adopted = linkAt(b.founder, a.founder.log.id)!.keys.get('member')!;
    expect(toHex(adopted.keyId)).toBe(memberKey.keyIdHex);
    expect(toHex(adopted.box)).toBe(toHex(memberKey.pub!.box));
    // Carried again (another liaison): nothing new, refused by the author before it is signed.
    expect(carryAll(b.member, a.founder.linkAnnouncements(b.founder.log.id, 7))).toEqual([]);
  });

  it('follows A’s anchor through its rotations, key n + 1 signed by key n; a key signed by a superseded anchor is refused', () => {
    const { a, b } = linked();
    const oldAnchor = currentKey(a.founder, 'organizer');
    a.founder.rotateKeys(['organizer']);
    a.founder.rotateKeys(['organizer', 'member']);
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    const link = linkAt(b.founder, a.founder.log.id)!;
    expect(link.keys.get('organizer')!.n).toBe(3);
    expect(toHex(link.keys.get('organizer')!.keyId)).toBe(a.founder.log.state().roles.get('organizer')!.epochs.at(-1)!.keyIdHex);
    expect(link.keys.get('member')!.n).toBe(2);
    // Someone who kept the first anchor key (a removed organizer) signs a key of their own for "member".
    const planted = newRoleKey('member');
    const forged = signAnnouncement({ ...announcementOf(a.founder, b.founder.log.id, 'member'), n: 9, keyId: planted.keyId, pub: pubOf(planted) }, oldAnchor);
    const e = forge(b.memberId, b.founder.log, 'link.keys', { announcement: forged }, [], { time: T0 + 1000 });
    syncInto(b.member, b.founder.log);
    expect(b.member.log.add(e.bytes).rejection?.code).toBe(RejectionCode.BAD_SIGNATURE);
    expect(b.member.log.rejectionOf(e.id)?.reason).toMatch(/current anchor/);
  });

  it('an anchor key announced out of turn (n + 2 before n + 1) is refused; taken in turn it is adopted', () => {
    const { a, b } = linked();
    a.founder.rotateKeys(['organizer']);
    a.founder.rotateKeys(['organizer']);
    const [second, third] = a.founder.linkAnnouncements(b.founder.log.id, 7).filter((x) => x.role === 'organizer');
    expect([second!.n, third!.n]).toEqual([2, 3]);
    expect(() => b.founder.carryLinkKeys(third!)).toThrow(/key 2 must be announced before key 3/);
    b.founder.carryLinkKeys(second!);
    b.founder.carryLinkKeys(third!);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('organizer')!.n).toBe(3);
  });

  it('a key of another role jumps ahead (A rotated twice), but an older one after a newer is superseded (a replay)', () => {
    const { a, b } = linked();
    const first = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    a.founder.rotateKeys(['member']);
    a.founder.rotateKeys(['member']);
    const latest = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    expect(latest.n).toBe(3);
    b.founder.carryLinkKeys(latest);
    const replay = forge(b.memberId, b.founder.log, 'link.keys', { announcement: first }, [], { time: T0 + 1000 });
    expect(b.founder.log.add(replay.bytes).rejection?.reason).toMatch(/key 1 of "member" is superseded: key 3 is current/);
  });

  it('the same key again with a later expiry renews it; with the same or an earlier expiry it is refused', () => {
    const { clock, a, b } = linked();
    const short = a.founder.linkAnnouncements(b.founder.log.id, 2).find((x) => x.role === 'member')!;
    b.founder.carryLinkKeys(short);
    expect(() => b.founder.carryLinkKeys(short)).toThrow(/already announced until then/);
    clock.advance(DAY);
    const longer = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    b.founder.carryLinkKeys(longer);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('member')!.validUntil).toBe(longer.validUntil);
  });

  it('two different keys for one role and ordinal, both signed by the anchor, freeze the link with both as evidence; opening it again unfreezes', () => {
    const { a, b, offerA } = linked();
    const honest = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const planted = newRoleKey('member');
    const fork = signAnnouncement({ ...stripSig(honest), keyId: planted.keyId, pub: pubOf(planted) }, currentKey(a.founder, 'organizer'));
    const first = b.founder.carryLinkKeys(honest);
    const second = b.founder.carryLinkKeys(fork);
    const link = linkAt(b.founder, a.founder.log.id)!;
    expect(link.frozen).toEqual({ role: 'member', n: honest.n, events: [first.id, second.id] });
    // Frozen: nothing more is adopted, whatever it is.
    a.founder.rotateKeys(['member']);
    const next = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    expect(() => b.founder.carryLinkKeys(next)).toThrow(/frozen/);
    // A member who may change the rules re-pins, having checked with A.
    b.founder.openLink({
      offer: offerA,
      name: 'A',
      theyMay: [{ theirRole: 'member', action: 'create', on: 'member' }],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'our inbox',
    });
    expect(linkAt(b.founder, a.founder.log.id)!.frozen).toBeNull();
    b.founder.carryLinkKeys(next);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('member')!.n).toBe(next.n);
  });

  it('opened again on the same anchor key (a new mapping), the keys it vouched for still stand; on another anchor key, it starts over from the pin', () => {
    const { clock, a, b, offerA } = linked();
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    const reopen = (offer: LinkOffer) =>
      b.founder.openLink({
        offer,
        name: 'constructor',
        theyMay: [],
        ourAnchor: 'organizer',
        weSend: [{ ours: 'member', theirs: 'member' }],
        ourInbox: 'our inbox',
      });
    const memberKey = toHex(linkAt(b.founder, a.founder.log.id)!.keys.get('member')!.keyId);
    // A fresh offer of the same anchor key, valid longer: the pin renews, the member key stays.
    clock.advance(DAY);
    const fresh = a.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'inbox of A');
    reopen(fresh);
    let link = linkAt(b.founder, a.founder.log.id)!;
    expect(link.name).toBe('constructor');
    expect(toHex(link.keys.get('member')!.keyId)).toBe(memberKey);
    expect(link.keys.get('organizer')!.validUntil).toBe(fresh.anchor.validUntil);
    expect(link.keys.get('organizer')!.validUntil).toBeGreaterThan(offerA.anchor.validUntil);
    // The older offer again: the longer validity already pinned is kept.
    reopen(offerA);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('organizer')!.validUntil).toBe(fresh.anchor.validUntil);
    // A new anchor key (A rotated, and offers afresh): only the pin.
    a.founder.rotateKeys(['organizer']);
    reopen(a.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'inbox of A'));
    link = linkAt(b.founder, a.founder.log.id)!;
    expect([...link.keys.keys()]).toEqual(['organizer']);
    expect(link.keys.get('organizer')!.n).toBe(2);
    // Replicas agree: the log replays to the same state.
    const replica = new PursuanceLog(b.founder.log.genesis.bytes);
    replica.addAll([...b.founder.log.events()].map((e) => e.bytes));
    expect(replica.stateHash()).toBe(b.founder.log.stateHash());
  });

  it('a removed anchor holder races the honest anchor successor: whichever comes first, the link freezes, never follows the forger', () => {
    const { a, b } = linked();
    const old = currentKey(a.founder, 'organizer');
    a.founder.rotateKeys(['organizer']);
    const honest = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'organizer' && x.n === 2)!;
    const stolen = newRoleKey('organizer');
    const forged = signAnnouncement({ ...stripSig(honest), keyId: stolen.keyId, pub: pubOf(stolen) }, old);
    const base = [...b.founder.log.events()];
    const hashes = new Set<string>();
    for (const order of [
      [honest, forged],
      [forged, honest],
    ]) {
      const log = new PursuanceLog(b.founder.log.genesis.bytes);
      log.addAll(base.map((e) => e.bytes));
      const carrier = new PursuanceAuthor(b.founder.identity, log, b.founder.keyring, () => T0 + 10);
      for (const x of order) carrier.carryLinkKeys(x);
      const link = log.state().links!.get(a.founder.log.id)!;
      expect(link.frozen?.role).toBe('organizer');
      expect(link.keys.get('organizer')!.n).toBe(2);
      hashes.add(toHex(link.keys.get('organizer')!.keyId));
    }
    // Each order froze on the key it took first: the evidence holds both, and nothing signed by either is adopted.
    expect(hashes.size).toBe(2);
  });

  it('a key the forger planted under the old anchor before the honest successor came is replaced by the new anchor’s word', () => {
    const { a, b } = linked();
    const old = currentKey(a.founder, 'organizer');
    const planted = newRoleKey('member');
    const plantedAnn = signAnnouncement({ ...announcementOf(a.founder, b.founder.log.id, 'member'), n: 1000, keyId: planted.keyId, pub: pubOf(planted) }, old);
    b.founder.carryLinkKeys(plantedAnn);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('member')!.n).toBe(1000);
    // A re-keys its anchor (the organizer was removed) and announces again.
    a.founder.rotateKeys(['organizer']);
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    const member = linkAt(b.founder, a.founder.log.id)!.keys.get('member')!;
    expect(member.n).toBe(1);
    expect(toHex(member.keyId)).toBe(a.founder.log.state().roles.get('member')!.epochs.at(-1)!.keyIdHex);
    expect(member.anchorN).toBe(2);
  });

  it('refuses, with a reason, announcements that are forged, for a role the link does not map, for another pursuance, out of date, or from an unlinked pursuance (L5, L6, L12)', () => {
    const { a, b } = linked();
    const good = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const anchor = currentKey(a.founder, 'organizer');
    const now = T0 + 1000;
    const at = (body: Announcement, time = now) => {
      const e = forge(b.memberId, b.member.log, 'link.keys', { announcement: body }, [], { time });
      const result = b.member.log.add(e.bytes);
      return result.rejection ? `${result.rejection.code}: ${result.rejection.reason}` : 'accepted';
    };
    syncInto(b.member, b.founder.log);
    const stranger = Identity.generate();
    const signedByStranger = signAnnouncement(stripSig(good), newRoleKey('organizer'));
    expect(at(signedByStranger)).toMatch(/^BAD_SIGNATURE: .*current anchor/);
    expect(at({ ...good, n: good.n + 1 })).toMatch(/^BAD_SIGNATURE/);
    expect(at(signAnnouncement({ ...stripSig(good), role: 'organizer-2' }, anchor))).toMatch(/^DENIED: .*"organizer-2" is no role this link maps/);
    expect(at(signAnnouncement({ ...stripSig(good), to: a.founder.log.id }, anchor))).toMatch(/^WRONG_PURSUANCE/);
    expect(at(signAnnouncement({ ...stripSig(good), from: toHex(canonicalEncode({ x: stranger.onion })).slice(0, 64) }, anchor))).toMatch(
      /^UNKNOWN_TARGET: there is no link/,
    );
    expect(at(good, good.validUntil)).toMatch(/^INVALID_SCHEMA: .*expired/);
    expect(at(good, good.validUntil - 8 * DAY)).toMatch(/^INVALID_SCHEMA: .*more than 7 days/);
    expect(AnnouncementSchema.safeParse({ ...good, validUntil: good.validUntil + 1 }).success).toBe(false);
    const weak = signAnnouncement({ ...stripSig(good), pub: { sig: new Uint8Array(32), box: new Uint8Array(32) } }, anchor);
    expect(at(weak)).toMatch(/^BAD_SIGNATURE: the announced key is unusable/);
    // Prototype names are role ids like any other: no link maps them, nothing is polluted.
    for (const role of ['constructor', 'hasownproperty', 'tostring']) {
      expect(at(signAnnouncement({ ...stripSig(good), role }, anchor))).toMatch(/^DENIED/);
    }
    expect(at(good)).toBe('accepted');
    expect(Object.prototype).not.toHaveProperty('n');
  });

  it('opening and closing a link takes the right to change the rules; a link must be valid, not to oneself, and its roles must exist', () => {
    const { a, b, offerA } = linked();
    const spec = {
      offer: offerA,
      name: 'A',
      theyMay: [{ theirRole: 'member', action: 'create' as const, on: 'member' }],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'our inbox',
    };
    syncInto(b.member, b.founder.log);
    expect(() => b.member.openLink(spec)).toThrow(/no rule grants changing the rules/);
    expect(() => b.member.closeLink(a.founder.log.id)).toThrow(ActionNotAllowedError);
    expect(() => b.founder.openLink({ ...spec, ourAnchor: 'constructor' })).toThrow(/role "constructor" does not exist/);
    expect(() => b.founder.openLink({ ...spec, weSend: [{ ours: 'constructor', theirs: 'member' }] })).toThrow(/role "constructor" does not exist/);
    expect(() => b.founder.openLink({ ...spec, theyMay: [{ theirRole: 'member', action: 'create', on: 'editors' }] })).toThrow(/"editors" does not exist/);
    expect(() => b.founder.openLink({ ...spec, theyMay: [spec.theyMay[0]!, spec.theyMay[0]!] })).toThrow(/same thing twice/);
    const self = b.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'their inbox');
    expect(() => b.founder.openLink({ ...spec, offer: self })).toThrow(/cannot link itself/);
    // An offer signed by another key than the one it offers, or for another pursuance.
    const stranger = newRoleKey('organizer');
    const notSelfSigned = signLinkOffer(signAnnouncement(stripSig(offerA.anchor), stranger), 'A', offerA.inbox, stranger);
    expect(() => b.founder.openLink({ ...spec, offer: notSelfSigned })).toThrow(/anchor offer is not signed by the key it offers/);
    // The inbox (or name) swapped on the way: the offer's own signature no longer holds.
    expect(() => b.founder.openLink({ ...spec, offer: { ...offerA, inbox: 'an inbox the forger reads' } })).toThrow(
      /the offer is not signed by the key it offers/,
    );
    expect(() => b.founder.openLink({ ...spec, offer: { ...offerA, name: 'Someone else' } })).toThrow(/the offer is not signed by the key it offers/);
    const elsewhere = a.founder.linkOffer(a.founder.log.id.replace(/^./, (c) => (c === '0' ? '1' : '0')) as EventId, 'organizer', 7, 'their inbox');
    expect(() => b.founder.openLink({ ...spec, offer: elsewhere })).toThrow(/addressed to another pursuance/);
    // Closing removes it; the state then has no links at all (it encodes as before links).
    b.founder.closeLink(a.founder.log.id);
    expect(b.founder.log.state().links).toBeUndefined();
    expect(() => b.founder.carryLinkKeys(a.founder.linkAnnouncements(b.founder.log.id, 7)[0]!)).toThrow(/no link to the pursuance/);
    expect(() => b.founder.closeLink(a.founder.log.id)).toThrow(/no link to that pursuance/);
  });

  it('survives a snapshot: the state encodes and decodes to the same links and hash; inconsistent links in a snapshot are refused', () => {
    const { a, b } = linked();
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    const state = b.founder.log.state();
    const encoded = encodeState(state);
    const decoded = decodeState(encoded);
    expect(canonicalEncode(encodeState(decoded))).toEqual(canonicalEncode(encoded));
    expect(decoded.links!.get(a.founder.log.id)!.keys.get('member')!.n).toBe(1);
    const withLinks = (f: (l: Record<string, unknown>) => Record<string, unknown>) => {
      const v = structuredClone(encoded) as Record<string, unknown> & { links: Record<string, unknown>[] };
      v.links = v.links.map(f);
      return () => decodeState(v);
    };
    expect(withLinks((l) => ({ ...l, peer: state.id }))).toThrow(/names this pursuance/);
    expect(withLinks((l) => ({ ...l, keys: (l.keys as { role: string }[]).map((k) => ({ ...k, role: 'constructor' })) }))).toThrow(/twice|does not map/);
    expect(withLinks((l) => ({ ...l, keys: (l.keys as { role: string }[]).filter((k) => k.role !== 'organizer') }))).toThrow(/no anchor key/);
    expect(withLinks((l) => ({ ...l, __proto__: { polluted: true } }))).toThrow();
  });

  it('replicas that take the same announcements in any order, carried by different members, reach one state (L16, property)', () => {
    const { a, b } = linked();
    const anchor0 = currentKey(a.founder, 'organizer');
    a.founder.rotateKeys(['organizer', 'member']);
    const anns = a.founder.linkAnnouncements(b.founder.log.id, 7);
    const planted = newRoleKey('member');
    const pool = [
      ...anns,
      signAnnouncement({ ...announcementOf(a.founder, b.founder.log.id, 'member'), n: 7, keyId: planted.keyId, pub: pubOf(planted) }, anchor0),
      signAnnouncement(
        { ...announcementOf(a.founder, b.founder.log.id, 'member'), keyId: planted.keyId, pub: pubOf(planted) },
        currentKey(a.founder, 'organizer'),
      ),
    ];
    syncInto(b.member, b.founder.log);
    const base = [...b.founder.log.events()];
    // Carried in by B's two members alternately: a fixed set of events, each naming the carrier's previous one.
    const chained = chain(b, base, pool);
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: chained.length, maxLength: chained.length }), (keys) => {
        const order = chained
          .map((e, i) => [keys[i]!, e] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, e]) => e);
        const log = new PursuanceLog(b.founder.log.genesis.bytes);
        log.addAll(base.map((e) => e.bytes));
        for (const e of order) log.add(e.bytes);
        const reference = new PursuanceLog(b.founder.log.genesis.bytes);
        reference.addAll([...base, ...chained].map((e) => e.bytes));
        expect(log.stateHash()).toBe(reference.stateHash());
        expect(log.pendingCount()).toBe(0);
      }),
      { numRuns: 30 },
    );
  });
});

/** The unsigned part of an announcement. */
function stripSig(a: Announcement): Omit<Announcement, 'signature'> {
  const { signature: _, ...rest } = a;
  return rest;
}

/** An unsigned announcement of `role`'s current key from `author`'s pursuance to `to`. */
function announcementOf(author: PursuanceAuthor, to: string, role: string): Omit<Announcement, 'signature'> {
  const roles = author.log.state().roles.get(role)!;
  const ep = roles.epochs.at(-1)!;
  return {
    from: author.log.id,
    to,
    role,
    n: roles.epochs.filter((x) => x.pub).length,
    keyId: ep.keyId,
    pub: { sig: ep.pub!.sig, box: ep.pub!.box },
    validUntil: Math.floor(T0 / DAY) * DAY + 7 * DAY,
  };
}

function pubOf(k: RoleKey): { sig: Uint8Array; box: Uint8Array } {
  const { sig, box } = rolePub(k, null);
  return { sig, box };
}

/**
 * The pool carried in by B's two members alternately, each event naming the carrier's previous
 * one and the heads before the pool: a set of events any arrival order completes.
 */
function chain(b: Side, base: readonly SignedEvent[], pool: readonly Announcement[]): SignedEvent[] {
  const log = new PursuanceLog(b.founder.log.genesis.bytes);
  log.addAll(base.map((e) => e.bytes));
  const heads = log.heads();
  const last = new Map<string, SignedEvent>();
  const out: SignedEvent[] = [];
  pool.forEach((x, i) => {
    const who = i % 2 ? b.memberId : b.founder.identity;
    const prev = last.get(who.onion);
    const e = forge(who, log, 'link.keys', { announcement: x }, [], {
      seq: (prev?.header.seq ?? log.lastSeq(who.onion)) + 1,
      parents: prev ? [prev.id] : heads,
      time: T0 + 100 + i,
    });
    last.set(who.onion, e);
    out.push(e);
  });
  return out;
}

/** A and B linked both ways, each holding the other's current keys: A's members may send tasks to B's members. */
function bothWays() {
  const l = linked();
  const { a, b } = l;
  carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
  carryAll(a.founder, b.founder.linkAnnouncements(a.founder.log.id, 7));
  syncInto(a.member, a.founder.log);
  syncInto(b.member, b.founder.log);
  return l;
}

/** Carry `parcel` into `log` as `carrier` would (forged, so refusals are recorded, not thrown), at `time`. */
function carryAt(carrier: Identity, log: PursuanceLog, parcel: LinkParcel, time = T0 + 1000): string {
  const e = forge(carrier, log, 'link.task', parcel, [parcel.credential.on], { time });
  const result = log.add(e.bytes);
  return result.rejection ? `${result.rejection.code}: ${result.rejection.reason}` : 'accepted';
}

/** Re-sign a credential (as a holder of A's key `key` could) after changing some of its fields. */
function resign(parcel: LinkParcel, key: RoleKey, change: Partial<LinkParcel['credential']>): LinkParcel {
  const { signature: _s, nonce: _n, ...rest } = parcel.credential;
  return { ...parcel, credential: signCredential({ ...rest, ...change }, key) };
}

describe('links: tasks sent between pursuances with a role credential', () => {
  it('an A member sends a task to B’s members; a B member carries it in; B’s members read it, with its origin; A’s log records the send (L1, in one process)', () => {
    const { a, b } = bothWays();
    const { event, parcel } = a.member.sendOverLink(b.founder.log.id, {
      ours: 'member',
      theirs: 'member',
      title: 'Check the port records',
      body: 'Berth 7, March',
    });
    expect(a.member.log.isAccepted(event.id)).toBe(true);
    const carried = b.member.carryLinkTask(parcel);
    expect(b.member.log.isAccepted(carried.id)).toBe(true);
    const task = b.member.log.state().tasks.get(carried.id)!;
    expect(task.origin).toEqual({ peer: a.founder.log.id, role: 'member' });
    expect(task.audience).toEqual(['member']);
    const view = buildMemberView(b.member.log, b.memberId).tasks.get(carried.id)!;
    expect(view).toMatchObject({ readable: true, title: 'Check the port records', body: 'Berth 7, March', origin: { peer: a.founder.log.id, role: 'member' } });
    // B's members work on it like any task of theirs.
    const comment = b.member.comment(carried.id, 'on it');
    expect(b.member.log.isAccepted(comment.id)).toBe(true);
    // Nothing in B's log names the A member who sent it.
    const everything = Buffer.from([...b.member.log.events()].map((e) => Buffer.from(e.bytes).toString('latin1')).join(''), 'latin1').toString('latin1');
    expect(everything).not.toContain(Buffer.from(a.memberId.publicKey).toString('latin1'));
    expect(everything).not.toContain(a.memberId.onion);
  });

  it('an A member without the role cannot send (refused in A), and a credential signed by a member’s own identity key is refused in B (L2)', () => {
    const { a, b } = bothWays();
    const outsiderId = Identity.generate();
    a.founder.addMember(outsiderId.publicKey, { roles: [] });
    const outsider = joinAs(outsiderId, a.founder.log, () => T0 + 500);
    expect(() => outsider.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 't', body: '' })).toThrow(/no current key of "member"/);
    const forgedSend = forge(
      outsiderId,
      outsider.log,
      'link.send',
      { peer: b.founder.log.id, ours: 'member', theirs: 'member', digest: new Uint8Array(32) },
      [],
      { time: T0 + 600 },
    );
    expect(outsider.log.add(forgedSend.bytes).rejection?.reason).toMatch(/only holders of "member" send for it/);
    // A real parcel, re-signed by the sender's identity key instead of the role key.
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 't', body: '' });
    const { signature: _, ...unsigned } = parcel.credential;
    const byIdentity = { ...parcel, credential: { ...unsigned, signature: a.memberId.sign(canonicalEncode({ dom: CREDENTIAL_DOMAIN, ...unsigned })) } };
    expect(carryAt(b.memberId, b.member.log, byIdentity)).toMatch(/^BAD_SIGNATURE: the credential is not signed by their current key of "member"/);
    expect(carryAt(b.memberId, b.member.log, parcel)).toBe('accepted');
  });

  it('after A rotates the role and B hears of it, a credential of the old key is refused; before, it is taken in (the window); the newer announcement wins a race in every order (L3, L16)', () => {
    const { a, b } = bothWays();
    const old = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'old key', body: '' }).parcel;
    const earlier = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'old key, carried in time', body: '' }).parcel;
    expect(carryAt(b.memberId, b.member.log, earlier)).toBe('accepted');
    a.founder.rotateKeys(['member']);
    const newer = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    // Concurrently: B's founder carries the newer announcement, B's member the old credential.
    const base = [...b.member.log.events()];
    const keysEvent = forge(b.founder.identity, b.member.log, 'link.keys', { announcement: newer }, [], { time: T0 + 2000 });
    const taskEvent = forge(b.memberId, b.member.log, 'link.task', old, ['member'], { time: T0 + 2000 });
    for (const order of [
      [keysEvent, taskEvent],
      [taskEvent, keysEvent],
    ]) {
      const log = new PursuanceLog(b.founder.log.genesis.bytes);
      log.addAll([...base, ...order].map((e) => e.bytes));
      expect(log.isAccepted(keysEvent.id)).toBe(true);
      expect(log.rejectionOf(taskEvent.id)?.reason).toMatch(/signed by key 1 of their "member"; key 2 is current/);
    }
    // The new key's credential goes through.
    syncInto(a.member, a.founder.log);
    b.member.log.add(keysEvent.bytes);
    const fresh = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'new key', body: '' }).parcel;
    expect(carryAt(b.memberId, b.member.log, fresh)).toBe('accepted');
  });

  it('a credential is good once, for the pursuance it names, for the content it names, within its hours, and while its key’s announcement lasts (L4, L5, L10)', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'once', body: '' });
    const key = currentKey(a.member, 'member');
    const log = b.member.log;
    const tampered = new Uint8Array(parcel.box);
    tampered[40] = tampered[40]! ^ 1;
    expect(carryAt(b.memberId, log, { ...parcel, box: tampered })).toMatch(/^INVALID_SCHEMA: the content is not the one the credential names/);
    expect(carryAt(b.memberId, log, { ...parcel, credential: { ...parcel.credential, digest: sha256(tampered) } })).toMatch(/^BAD_SIGNATURE/);
    expect(carryAt(b.memberId, log, resign(parcel, key, { to: a.founder.log.id }))).toMatch(/^WRONG_PURSUANCE/);
    expect(carryAt(b.memberId, log, resign(parcel, key, { hour: parcel.credential.hour + 2 }))).toMatch(/out of date: it is dated in the future/);
    expect(carryAt(b.memberId, log, parcel, T0 + 25 * HOUR_MS + HOUR_MS)).toMatch(/more than 24 hours old/);
    expect(carryAt(b.memberId, log, parcel, linkAt(b.member, a.founder.log.id)!.keys.get('member')!.validUntil)).toMatch(
      /^STALE_EPOCH: their announcement of "member" has expired/,
    );
    expect(carryAt(b.memberId, log, parcel)).toBe('accepted');
    expect(carryAt(b.memberId, log, parcel)).toMatch(/^INVALID_STATE: this credential was taken in already/);
    syncInto(b.founder, log);
    expect(() => b.founder.carryLinkTask(parcel)).toThrow(/taken in already/);
  });

  it('a link grants only what it maps: another action’s target, an unmapped role of theirs, or an audience other than the credential’s is refused (L12)', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const key = currentKey(a.member, 'member');
    const log = b.member.log;
    const onOrganizer = resign(parcel, key, { on: 'organizer' });
    const elsewhere = forge(b.memberId, log, 'link.task', onOrganizer, ['member'], { time: T0 + 1000 });
    expect(log.add(elsewhere.bytes).rejection?.reason).toMatch(/goes to exactly the role its credential names/);
    expect(carryAt(b.memberId, log, onOrganizer)).toMatch(/^DENIED: the link does not let their "member" create tasks for our "organizer"/);
    const asOrganizer = resign(parcel, currentKey(a.founder, 'organizer'), { role: 'organizer' });
    expect(carryAt(b.memberId, log, asOrganizer)).toMatch(/^DENIED: the link does not let their "organizer" create/);
    for (const role of ['constructor', 'hasownproperty']) {
      expect(carryAt(b.memberId, log, resign(parcel, key, { role }))).toMatch(/^DENIED/);
    }
  });

  it('a closed or frozen link takes nothing in; content sealed to a key of ours since rotated is refused, to be sent again (L13)', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    // B re-keys "member" (a removal, say): content sealed to the old key is refused.
    const rotated = new PursuanceLog(b.founder.log.genesis.bytes);
    rotated.addAll([...b.founder.log.events()].map((e) => e.bytes));
    const founder2 = new PursuanceAuthor(b.founder.identity, rotated, b.founder.keyring, () => T0 + 900);
    founder2.rotateKeys(['member']);
    expect(carryAt(b.founder.identity, rotated, parcel)).toMatch(/^STALE_EPOCH: the content is sealed to a key of "member" since rotated away/);
    // Frozen (their anchor signed two keys for one ordinal): refused until opened again.
    const frozenLog = new PursuanceLog(b.founder.log.genesis.bytes);
    frozenLog.addAll([...b.founder.log.events()].map((e) => e.bytes));
    const freezer = new PursuanceAuthor(b.founder.identity, frozenLog, b.founder.keyring, () => T0 + 900);
    const current = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const planted = newRoleKey('member');
    freezer.carryLinkKeys(signAnnouncement({ ...stripSig(current), keyId: planted.keyId, pub: pubOf(planted) }, currentKey(a.founder, 'organizer')));
    expect(frozenLog.state().links!.get(a.founder.log.id)!.frozen).not.toBeNull();
    expect(carryAt(b.founder.identity, frozenLog, parcel)).toMatch(/^INVALID_STATE: the link is frozen/);
    // Closed: refused.
    b.founder.closeLink(a.founder.log.id);
    expect(carryAt(b.founder.identity, b.founder.log, parcel)).toMatch(/^UNKNOWN_TARGET: there is no link/);
  });

  it('credentials of two holders for the same task differ only in the nonce, digest and signature: no per-holder field (L17)', () => {
    const { a, b } = bothWays();
    const secondId = Identity.generate();
    a.founder.addMember(secondId.publicKey, { roles: ['member'] });
    syncInto(a.member, a.founder.log);
    const second = joinAs(secondId, a.founder.log, () => T0 + 700);
    const spec = { ours: 'member', theirs: 'member', title: 'same', body: 'same' };
    const one = a.member.sendOverLink(b.founder.log.id, spec).parcel.credential;
    const two = second.sendOverLink(b.founder.log.id, spec).parcel.credential;
    const strip = ({ nonce: _n, digest: _d, signature: _s, ...rest }: typeof one) => rest;
    expect(strip(one)).toEqual(strip(two));
    expect(Object.keys(one).sort()).toEqual(['action', 'digest', 'from', 'hour', 'n', 'nonce', 'on', 'role', 'signature', 'to']);
  });

  it('a snapshot keeps the tasks’ origin and the spent nonces: decoded, the same credential is still refused', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'kept', body: '' });
    const carried = b.member.carryLinkTask(parcel);
    const encoded = encodeState(b.member.log.state());
    const decoded = decodeState(encoded);
    expect(decoded.tasks.get(carried.id)!.origin).toEqual({ peer: a.founder.log.id, role: 'member' });
    expect(decoded.links!.get(a.founder.log.id)!.seen.has(toHex(parcel.credential.nonce))).toBe(true);
    expect(canonicalEncode(encodeState(decoded))).toEqual(canonicalEncode(encoded));
    const twice = structuredClone(encoded) as { links: { seen: string[] }[] };
    twice.links[0]!.seen.push(twice.links[0]!.seen[0]!);
    expect(() => decodeState(twice)).toThrow(/nonce twice/);
  });

  it('closed and opened again, a link still refuses a credential it took in before; the spent nonces of a closed link survive a snapshot', () => {
    const { a, b, offerA } = bothWays();
    const A = a.founder.log.id;
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'once', body: '' });
    b.member.carryLinkTask(parcel);
    syncInto(b.founder, b.member.log);
    b.founder.closeLink(A);
    expect(b.founder.log.state().closedNonces?.get(A)?.has(toHex(parcel.credential.nonce))).toBe(true);
    // Through a snapshot while closed: kept; a snapshot listing them twice, or for an open link, is refused.
    const encoded = encodeState(b.founder.log.state());
    const decoded = decodeState(encoded);
    expect(decoded.closedNonces?.get(A)?.has(toHex(parcel.credential.nonce))).toBe(true);
    expect(canonicalEncode(encodeState(decoded))).toEqual(canonicalEncode(encoded));
    const dup = structuredClone(encoded) as { closedNonces: { peer: string; seen: string[] }[] };
    dup.closedNonces[0]!.seen.push(dup.closedNonces[0]!.seen[0]!);
    expect(() => decodeState(dup)).toThrow(/list one twice/);
    const twice = structuredClone(encoded) as { closedNonces: { peer: string; seen: string[] }[] };
    twice.closedNonces.push(twice.closedNonces[0]!);
    expect(() => decodeState(twice)).toThrow(/listed twice/);
    // Opened again from the same offer, within the credential's hours: the replayed parcel is refused.
    b.founder.openLink({
      offer: offerA,
      name: 'A',
      theyMay: [{ theirRole: 'member', action: 'create', on: 'member' }],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'our inbox',
    });
    expect(b.founder.log.state().closedNonces).toBeUndefined();
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    expect(() => b.founder.carryLinkTask(parcel)).toThrow(/taken in already/);
    const open = structuredClone(encodeState(b.founder.log.state())) as Record<string, unknown>;
    open.closedNonces = [{ peer: A, seen: ['0'.repeat(32)] }];
    expect(() => decodeState(open)).toThrow(/is open: its spent nonces are its own/);
    // Every replica folds the same: close and reopen replayed from the log.
    const replica = new PursuanceLog(b.founder.log.genesis.bytes);
    replica.addAll([...b.founder.log.events()].map((e) => e.bytes));
    expect(replica.stateHash()).toBe(b.founder.log.stateHash());
  });
});

describe('links: the edges (each check on its own)', () => {
  it('the record of a send: refused for an unknown link, a pair the link does not name, a frozen link, and their key missing or expired', () => {
    const { a, b } = bothWays();
    const log = a.member.log;
    const send = (body: { peer: string; ours: string; theirs: string }, time = T0 + 1000) => {
      const e = forge(a.memberId, log, 'link.send', { ...body, digest: new Uint8Array(32) }, [], { time });
      const r = log.add(e.bytes);
      return r.rejection ? `${r.rejection.code}: ${r.rejection.reason}` : 'accepted';
    };
    const peer = b.founder.log.id;
    expect(send({ peer: a.founder.log.id, ours: 'member', theirs: 'member' })).toBe('UNKNOWN_TARGET: there is no link to that pursuance');
    expect(send({ peer, ours: 'member', theirs: 'organizer' })).toBe('DENIED: the link does not let our "member" send to their "organizer"');
    expect(send({ peer, ours: 'organizer', theirs: 'member' })).toBe('DENIED: the link does not let our "organizer" send to their "member"');
    const theirs = linkAt(a.member, peer)!.keys.get('member')!;
    expect(send({ peer, ours: 'member', theirs: 'member' }, theirs.validUntil)).toBe(
      'UNKNOWN_KEY: no current key of their "member": wait for their announcement',
    );
    expect(send({ peer, ours: 'member', theirs: 'member' }, theirs.validUntil - 1)).toBe('accepted');
    // No key of theirs yet: A's link to a pursuance that announced nothing but its anchor.
    const c = pursuance('C', () => T0 + 10);
    a.founder.openLink({
      offer: c.founder.linkOffer(a.founder.log.id, 'organizer', 7, 'their inbox'),
      name: 'C',
      theyMay: [],
      ourAnchor: 'organizer',
      weSend: [{ ours: 'member', theirs: 'member' }],
      ourInbox: 'our inbox',
    });
    syncInto(a.member, a.founder.log);
    expect(send({ peer: c.founder.log.id, ours: 'member', theirs: 'member' })).toMatch(/^UNKNOWN_KEY/);
    // Frozen: B's anchor signed two keys for one ordinal of "member".
    const current = b.founder.linkAnnouncements(a.founder.log.id, 7).find((x) => x.role === 'member')!;
    const planted = newRoleKey('member');
    a.member.carryLinkKeys(signAnnouncement({ ...stripSig(current), pub: { ...current.pub, box: pubOf(planted).box } }, currentKey(b.founder, 'organizer')));
    expect(linkAt(a.member, peer)!.frozen).toMatchObject({ role: 'member' });
    expect(send({ peer, ours: 'member', theirs: 'member' })).toBe('INVALID_STATE: the link is frozen');
  });

  it('distinct grants and sending pairs are kept; a sending pair named twice is refused; a second link leaves the first, closing one keeps the other', () => {
    const { a, b, offerA } = linked();
    const grants = [
      { theirRole: 'member', action: 'create' as const, on: 'member' },
      { theirRole: 'organizer', action: 'create' as const, on: 'member' },
    ];
    const pairs = [
      { ours: 'member', theirs: 'member' },
      { ours: 'organizer', theirs: 'member' },
    ];
    b.founder.openLink({ offer: offerA, name: 'A', theyMay: grants, ourAnchor: 'organizer', weSend: pairs, ourInbox: 'our inbox' });
    expect(linkAt(b.founder, a.founder.log.id)!.theyMay).toHaveLength(2);
    expect(() =>
      b.founder.openLink({ offer: offerA, name: 'A', theyMay: grants, ourAnchor: 'organizer', weSend: [pairs[0]!, pairs[0]!], ourInbox: 'our inbox' }),
    ).toThrow(/sending pair twice/);
    const c = pursuance('C', () => T0 + 10);
    b.founder.openLink({
      offer: c.founder.linkOffer(b.founder.log.id, 'organizer', 7, 'their inbox'),
      name: 'C',
      theyMay: [],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'our inbox',
    });
    expect(b.founder.log.state().links!.size).toBe(2);
    b.founder.closeLink(c.founder.log.id);
    expect([...b.founder.log.state().links!.keys()]).toEqual([a.founder.log.id]);
  });

  it(`a pursuance has at most ${LINKS_MAX} links; opening one of them again is still allowed`, () => {
    const clock = manualClock();
    const b = pursuance('B', clock.now);
    const offers = Array.from({ length: LINKS_MAX + 1 }, (_, i) =>
      PursuanceAuthor.create(Identity.generate(), { name: `P${i}`, rules: template('activist-cell') }, clock.now).linkOffer(
        b.founder.log.id,
        'organizer',
        7,
        'their inbox',
      ),
    );
    const open = (offer: LinkOffer) => b.founder.openLink({ offer, name: 'P', theyMay: [], ourAnchor: 'organizer', weSend: [], ourInbox: 'our inbox' });
    for (const offer of offers.slice(0, LINKS_MAX)) open(offer);
    expect(() => open(offers[LINKS_MAX]!)).toThrow(`a pursuance has at most ${LINKS_MAX} links`);
    open(offers[0]!);
    expect(b.founder.log.state().links!.size).toBe(LINKS_MAX);
  });

  it('their announcement of a role is taken only for a role the link maps either way; a key differing in one half is a fork', () => {
    const { a, b } = bothWays();
    // At A, B's roles that count are its anchor and the ones A sends to: "member". Others are refused.
    const bAnchor = currentKey(b.founder, 'organizer');
    const other = signAnnouncement({ ...announcementOf(b.founder, a.founder.log.id, 'member'), role: 'treasurer' }, bAnchor);
    expect(() => a.founder.carryLinkKeys(other)).toThrow(/"treasurer" is no role this link maps/);
    for (const half of ['sig', 'box'] as const) {
      const { a: a2, b: b2 } = bothWays();
      const current = b2.founder.linkAnnouncements(a2.founder.log.id, 7).find((x) => x.role === 'member')!;
      const fork = signAnnouncement(
        { ...stripSig(current), pub: { ...current.pub, [half]: pubOf(newRoleKey('member'))[half] } },
        currentKey(b2.founder, 'organizer'),
      );
      a2.founder.carryLinkKeys(fork);
      expect(linkAt(a2.founder, b2.founder.log.id)!.frozen, half).toMatchObject({ role: 'member' });
    }
  });

  it('a renewal of their anchor keeps who signed it: a sibling signed by the anchor before still freezes the link', () => {
    const { clock, a, b } = linked();
    const first = currentKey(a.founder, 'organizer');
    a.founder.rotateKeys(['organizer']);
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 2));
    clock.advance(DAY);
    // The current anchor's own statement (the chain's n = 2 is signed by key 1, and B has it already).
    const renewal = a.founder
      .linkAnnouncements(b.founder.log.id, 7)
      .filter((x) => x.role === 'organizer')
      .at(-1)!;
    expect(renewal.n).toBe(2);
    b.founder.carryLinkKeys(renewal);
    const renewed = linkAt(b.founder, a.founder.log.id)!.keys.get('organizer')!;
    expect(renewed.validUntil).toBe(renewal.validUntil);
    const stolen = newRoleKey('organizer');
    b.founder.carryLinkKeys(signAnnouncement({ ...stripSig(renewal), keyId: stolen.keyId, pub: pubOf(stolen) }, first));
    expect(linkAt(b.founder, a.founder.log.id)!.frozen).toMatchObject({ role: 'organizer', n: 2 });
  });

  it('a credential of their anchor role counts where the link grants it; a key of theirs adopted under a superseded anchor vouches for nothing', () => {
    const { a, b, offerA } = bothWays();
    b.founder.openLink({
      offer: offerA,
      name: 'A',
      theyMay: [
        { theirRole: 'member', action: 'create', on: 'member' },
        { theirRole: 'organizer', action: 'create', on: 'member' },
      ],
      ourAnchor: 'organizer',
      weSend: [],
      ourInbox: 'our inbox',
    });
    a.founder.openLink({
      offer: b.founder.linkOffer(a.founder.log.id, 'organizer', 7, 'their inbox'),
      name: 'B',
      theyMay: [],
      ourAnchor: 'organizer',
      weSend: [
        { ours: 'member', theirs: 'member' },
        { ours: 'organizer', theirs: 'member' },
      ],
      ourInbox: 'our inbox',
    });
    carryAll(a.founder, b.founder.linkAnnouncements(a.founder.log.id, 7));
    carryAll(b.founder, a.founder.linkAnnouncements(b.founder.log.id, 7));
    const asAnchor = a.founder.sendOverLink(b.founder.log.id, { ours: 'organizer', theirs: 'member', title: 'from the anchor role', body: '' }).parcel;
    expect(carryAt(b.founder.identity, b.founder.log, asAnchor)).toBe('accepted');
    // A's anchor moves on; B takes the new anchor but not yet A's "member" again.
    const memberParcel = a.founder.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'member key, old anchor', body: '' }).parcel;
    a.founder.rotateKeys(['organizer']);
    b.founder.carryLinkKeys(a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'organizer' && x.n === 2)!);
    expect(carryAt(b.founder.identity, b.founder.log, memberParcel)).toBe('UNKNOWN_KEY: no current key of their "member" is known here');
    // Their anchor's new key, adopted as signed by the one before it, still vouches for its own role.
    a.founder.refreshKeys();
    const asNewAnchor = a.founder.sendOverLink(b.founder.log.id, { ours: 'organizer', theirs: 'member', title: 'from the new anchor key', body: '' }).parcel;
    expect(asNewAnchor.credential.n).toBe(2);
    expect(carryAt(b.founder.identity, b.founder.log, asNewAnchor)).toBe('accepted');
  });

  it('a role the rules dropped since the link was opened neither sends nor receives; a pursuance without links has none to send over', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const withoutMember = (rules: Rules): Rules => {
      const r = structuredClone(rules);
      delete r.roles.member;
      r.roles.organizer!.can = r.roles.organizer!.can.filter((c) => !('roles' in c) || c.roles === '*' || !c.roles.includes('member'));
      return RulesSchema.parse(r);
    };
    b.founder.changeRules(withoutMember(b.founder.log.state().rules));
    expect(carryAt(b.founder.identity, b.founder.log, parcel)).toBe('UNKNOWN_TARGET: role "member" does not exist');
    a.founder.changeRules(withoutMember(a.founder.log.state().rules));
    const send = forge(
      a.founder.identity,
      a.founder.log,
      'link.send',
      { peer: b.founder.log.id, ours: 'member', theirs: 'member', digest: new Uint8Array(32) },
      [],
      { time: T0 + 1000 },
    );
    expect(a.founder.log.add(send.bytes).rejection?.reason).toBe('role "member" does not exist');
    const lone = pursuance('L', () => T0 + 10);
    const none = forge(
      lone.founder.identity,
      lone.founder.log,
      'link.send',
      { peer: b.founder.log.id, ours: 'member', theirs: 'member', digest: new Uint8Array(32) },
      [],
      { time: T0 + 1000 },
    );
    expect(lone.founder.log.add(none.bytes).rejection?.reason).toBe('there is no link to that pursuance');
  });

  it('the content must be sealed to a key of ours with public halves, padded as task content; the task starts open; the credential names the pursuance it is for', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const key = currentKey(a.member, 'member');
    const log = b.member.log;
    expect(carryAt(b.memberId, log, { ...parcel, keyId: new Uint8Array(32).fill(7) })).toBe(
      'UNKNOWN_KEY: the content is sealed to no key of "member" with public halves',
    );
    const short = parcel.box.subarray(0, parcel.box.length - 1);
    expect(carryAt(b.memberId, log, resign({ ...parcel, box: short }, key, { digest: sha256(short) }))).toBe(
      'INVALID_SCHEMA: the content is not padded as task content is',
    );
    const bare = parcel.box.subarray(0, ROLE_BOX_OVERHEAD);
    expect(carryAt(b.memberId, log, resign({ ...parcel, box: bare }, key, { digest: sha256(bare) }))).toBe(
      'INVALID_SCHEMA: the content is not padded as task content is',
    );
    expect(carryAt(b.memberId, log, resign(parcel, key, { to: a.founder.log.id }))).toBe('WRONG_PURSUANCE: the credential is for another pursuance');
    const twoRoles = forge(b.memberId, log, 'link.task', parcel, ['member', 'organizer'], { time: T0 + 1000 });
    expect(log.add(twoRoles.bytes).rejection?.reason).toMatch(/goes to exactly the role its credential names/);
    const carried = forge(b.memberId, log, 'link.task', parcel, ['member'], { time: T0 + 1000 });
    log.add(carried.bytes);
    expect(log.state().tasks.get(carried.id)).toMatchObject({ closed: false, parent: null, createdBy: b.memberId.onion });
  });

  it('a credential’s hours: one ahead and 24 behind are taken, two ahead and 25 behind are not', () => {
    const { a, b } = bothWays();
    const key = currentKey(a.member, 'member');
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const time = T0 + 1000;
    const hour = Math.floor(time / HOUR_MS);
    const at = (h: number) => carryAt(b.memberId, b.member.log, resign(parcel, key, { hour: h }), time);
    expect(at(hour + 2)).toMatch(/dated in the future/);
    expect(at(hour - CREDENTIAL_HOURS - 1)).toMatch(/more than 24 hours old/);
    expect(at(hour + 1)).toBe('accepted');
    expect(at(hour - CREDENTIAL_HOURS)).toBe('accepted');
  });

  it('statements and credentials sign their own domains; a box opens only for the pursuance, role and key it was sealed to; content of any length seals', () => {
    const { a, b } = bothWays();
    const ann = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const { signature, ...unsigned } = ann;
    const anchorPair = roleKeyPair(currentKey(a.founder, 'organizer'));
    expect(verifySignature(canonicalEncode({ dom: 'pursuance/link-keys/v1', ...unsigned }), signature, anchorPair.publicKeys.sig)).toBe(true);
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const { signature: cs, ...cred } = parcel.credential;
    expect(verifySignature(canonicalEncode({ dom: 'pursuance/link-cred/v1', ...cred }), cs, roleKeyPair(currentKey(a.member, 'member')).publicKeys.sig)).toBe(
      true,
    );
    const bKey = currentKey(b.member, 'member');
    expect(openLinkTask(parcel, b.founder.log.id, bKey).title).toBe('x');
    expect(() => openLinkTask(parcel, a.founder.log.id, bKey)).toThrow(ContentUnreadableError);
    expect(() => openLinkTask(parcel, b.founder.log.id, { ...bKey, role: 'organizer' })).toThrow(ContentUnreadableError);
    // Lengths around a padding bucket's edge (the 4-byte length header included) all seal and open.
    for (let n = 220; n <= 260; n++) {
      const content = { title: 't', body: 'b'.repeat(n) };
      const box = sealLinkTask(b.founder.log.id, 'member', bKey.keyId, roleKeyPair(bKey).publicKeys.box, content);
      expect(openLinkTask({ ...parcel, box }, b.founder.log.id, bKey).body).toHaveLength(n);
    }
  });

  it('a box that opens to something that is no task is refused as malformed', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const bKey = currentKey(b.member, 'member');
    const box = sealLinkTask(b.founder.log.id, 'member', bKey.keyId, roleKeyPair(bKey).publicKeys.box, { title: '', body: '', constructor: 1 } as never);
    expect(() => openLinkTask({ ...parcel, box }, b.founder.log.id, bKey)).toThrow(/malformed/);
  });

  it('signing refuses what is no statement: a validity off midnight, a negative hour', () => {
    const { a, b } = bothWays();
    const ann = stripSig(a.founder.linkAnnouncements(b.founder.log.id, 7)[0]!);
    expect(() => signAnnouncement({ ...ann, validUntil: ann.validUntil + 1 }, currentKey(a.founder, 'organizer'))).toThrow(InvalidAnnouncementError);
    try {
      signAnnouncement({ ...ann, n: 0 }, currentKey(a.founder, 'organizer'));
    } catch (err) {
      expect(err).toMatchObject({ name: 'InvalidAnnouncementError', code: 'INVALID_ANNOUNCEMENT' });
    }
    expect.assertions(4);
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const { signature: _s, nonce: _n, ...rest } = parcel.credential;
    expect(() => signCredential({ ...rest, hour: -1 }, currentKey(a.member, 'member'))).toThrow(InvalidCredentialError);
    expect(() => signCredential({ ...rest, hour: -1 }, currentKey(a.member, 'member'))).toThrow(
      expect.objectContaining({ name: 'InvalidCredentialError', code: 'INVALID_CREDENTIAL' }),
    );
  });

  it('an announced key must be usable: each half is checked on its own', () => {
    const { a, b } = linked();
    const good = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const anchor = currentKey(a.founder, 'organizer');
    expect(() => b.founder.carryLinkKeys(signAnnouncement({ ...stripSig(good), pub: { ...good.pub, sig: new Uint8Array(32) } }, anchor))).toThrow(
      /signing key is not a usable/,
    );
    expect(() => b.founder.carryLinkKeys(signAnnouncement({ ...stripSig(good), pub: { ...good.pub, box: new Uint8Array(32) } }, anchor))).toThrow(
      /box key is low-order/,
    );
  });
});

describe('links: bytes from the network', () => {
  it('mutated link events (open, keys, send, task) decode to the very event or are refused with a typed error; a log given them never throws', () => {
    const { a, b, openAtB } = bothWays();
    const { event: send, parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'fuzzed', body: 'x' });
    const task = b.member.carryLinkTask(parcel);
    const keys = [...b.founder.log.events()].find((e) => e.header.kind === 'link.keys')!;
    const bases = [openAtB, keys, send, task].map((e) => e.bytes);
    const op = fc.oneof(
      fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ t: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
    );
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(op, { minLength: 1, maxLength: 3 }), (which, ops) => {
        const original = bases[which]!;
        const bytes = ops.reduce((input, m) => {
          const at = input.length === 0 ? 0 : m.at % input.length;
          if (m.t === 'flip') {
            const out = input.slice();
            out[at] = (out[at] ?? 0) ^ (1 << m.bit);
            return out;
          }
          if (m.t === 'cut') return input.subarray(0, at);
          return new Uint8Array([...input.subarray(0, at), ...m.bytes, ...input.subarray(at)]);
        }, original);
        try {
          const e = decodeEvent(bytes);
          expect(Buffer.from(e.bytes).equals(Buffer.from(original))).toBe(true);
        } catch (err) {
          if (!(err instanceof EventRejectedError)) throw err;
          codes.add(err.code);
        }
        const log = new PursuanceLog(b.member.log.genesis.bytes);
        const result = log.add(bytes);
        expect(['invalid', 'accepted', 'rejected', 'pending', 'duplicate']).toContain(result.status);
      }),
      { numRuns: 2000 },
    );
    expect(codes.size).toBeGreaterThan(1);
  });
});

describe('links: the offer, as text passed out of band', () => {
  it('round-trips as text; the link keeps their inbox (where we post) and ours (where we read)', () => {
    const { a, b, offerA } = linked();
    const text = linkOfferText(offerA);
    expect(text.startsWith(LINK_OFFER_PREFIX)).toBe(true);
    const parsed = parseLinkOfferText(`  ${text}\n`, b.founder.log.id, T0 + 1000);
    expect(canonicalEncode(parsed)).toEqual(canonicalEncode(offerA));
    expect(parsed).toMatchObject({ name: 'A', inbox: 'inbox of A' });
    const link = linkAt(b.founder, a.founder.log.id)!;
    expect(link).toMatchObject({ theirInbox: 'inbox of A', ourInbox: 'our inbox' });
    const decoded = decodeState(encodeState(b.founder.log.state()));
    expect(decoded.links!.get(a.founder.log.id)).toMatchObject({ theirInbox: 'inbox of A', ourInbox: 'our inbox' });
  });

  it('refuses, saying why: another prefix, not base64url, not canonical, not an offer, tampered, for another pursuance, expired, too long', () => {
    const { a, b, offerA } = linked();
    const to = b.founder.log.id;
    const text = linkOfferText(offerA);
    const body = text.slice(LINK_OFFER_PREFIX.length);
    const refused = (t: string, now = T0 + 1000, target: string = to) => {
      try {
        parseLinkOfferText(t, target, now);
        return 'parsed';
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidLinkOfferError);
        expect((err as InvalidLinkOfferError).code).toBe('INVALID_LINK_OFFER');
        return (err as Error).message;
      }
    };
    expect(refused(`pursuance-profile:1:${body}`)).toMatch(/starts with "pursuance-link:1:"/);
    expect(refused(`${LINK_OFFER_PREFIX}${body}!`)).toMatch(/base64url/);
    expect(refused(`${LINK_OFFER_PREFIX}${Buffer.from([0xff, 0x00]).toString('base64url')}`)).toMatch(/canonical encoding/);
    expect(refused(`${LINK_OFFER_PREFIX}${Buffer.from(canonicalEncode({ anchor: 1 })).toString('base64url')}`)).toMatch(/not a link offer/);
    expect(refused(linkOfferText({ ...offerA, inbox: 'swapped' }))).toMatch(/the offer is not signed by the key it offers/);
    expect(refused(text, T0 + 1000, a.founder.log.id)).toMatch(/for another pursuance/);
    expect(refused(text, offerA.anchor.validUntil)).toMatch(/out of date/);
    // Dated far ahead of the reader's clock (more than 7 days): refused too.
    expect(refused(text, T0 - 30 * DAY)).toMatch(/out of date .*more than 7 days/);
    expect(refused(`${LINK_OFFER_PREFIX}${'A'.repeat(20_000)}`)).toMatch(/too long/);
    expect(() => a.founder.linkOffer(to, 'organizer', 7, 'x'.repeat(9_000))).toThrow(ActionNotAllowedError);
    expect(refused(text)).toBe('parsed');
  });

  it('arbitrary text and mutated offers only ever give an offer or InvalidLinkOfferError (fuzz)', () => {
    const { b, offerA } = linked();
    const text = linkOfferText(offerA);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ maxLength: 300 }).map((s) => LINK_OFFER_PREFIX + s),
          fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => {
            const i = LINK_OFFER_PREFIX.length + (at % (text.length - LINK_OFFER_PREFIX.length));
            return text.slice(0, i) + s + text.slice(i + 1);
          }),
        ),
        (t) => {
          try {
            const o = parseLinkOfferText(t, b.founder.log.id, T0 + 1000);
            expect(o.anchor.from).toBe(offerA.anchor.from);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidLinkOfferError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('links: receipts, what became of a task, told back to its sender', () => {
  /** B's founder (a holder of B's member role) signs a receipt for a task A sent. */
  function receiptFor(b: Side, from: string, to: string, digest: Uint8Array, change: Partial<UnsignedReceipt> = {}, key = currentKey(b.founder, 'member')) {
    const n = b.founder.log
      .state()
      .roles.get('member')!
      .epochs.filter((ep) => ep.pub).length;
    return signReceipt({ from, to, role: 'member', n, digest, verdict: 'accepted', code: '', reason: '', hour: Math.floor(T0 / HOUR_MS), ...change }, key);
  }

  it('A checks a receipt against the key B announced for the role it was for; forged, misaddressed, stale and unannounced ones are refused with a reason', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'Port records', body: 'Berth 7' });
    const A = a.founder.log.id;
    const B = b.founder.log.id;
    const ok = receiptFor(b, B, A, parcel.credential.digest);
    expect(receiptProblem(a.founder.log.state(), ok)).toBeNull();
    expect(
      receiptProblem(a.founder.log.state(), receiptFor(b, B, A, parcel.credential.digest, { verdict: 'refused', code: 'DENIED', reason: 'no' })),
    ).toBeNull();
    // Tampered after signing: the verdict flipped.
    expect(receiptProblem(a.founder.log.state(), { ...ok, verdict: 'refused' })).toMatch(/not signed by their current key of "member"/);
    // Signed by a key of B's that is not the member key (the organizer's), or by a stranger's key.
    expect(receiptProblem(a.founder.log.state(), receiptFor(b, B, A, parcel.credential.digest, {}, currentKey(b.founder, 'organizer')))).toMatch(/not signed/);
    expect(receiptProblem(a.founder.log.state(), receiptFor(b, B, A, parcel.credential.digest, {}, newRoleKey('member')))).toMatch(/not signed/);
    // For another pursuance, from a pursuance A does not link, for a role B never announced (prototype names too).
    expect(receiptProblem(a.founder.log.state(), receiptFor(b, B, B, parcel.credential.digest))).toMatch(/another pursuance/);
    expect(receiptProblem(a.founder.log.state(), receiptFor(b, A, A, parcel.credential.digest))).toMatch(/no link/);
    for (const role of ['organizer-x', 'constructor', 'proto']) {
      expect(receiptProblem(a.founder.log.state(), receiptFor(b, B, A, parcel.credential.digest, { role }))).toMatch(/no current key/);
    }
    // B rotates its member key: until A adopts the new one, a receipt signed by it cannot be checked; then it can, and the old key's cannot.
    b.founder.rotateKeys(['member']);
    const fresh = receiptFor(b, B, A, parcel.credential.digest);
    expect(fresh.n).toBe(2);
    expect(receiptProblem(a.founder.log.state(), fresh)).toMatch(/signed by key 2 of their "member"; key 1 is current here/);
    carryAll(a.founder, b.founder.linkAnnouncements(A, 7));
    expect(receiptProblem(a.founder.log.state(), fresh)).toBeNull();
    expect(receiptProblem(a.founder.log.state(), ok)).toMatch(/key 1 of their "member"; key 2 is current/);
  });

  it('refuses to sign a receipt with fields out of bounds; cuts a long reason to its bound', () => {
    const { a, b } = bothWays();
    const digest = new Uint8Array(32).fill(7);
    const bad = (() => {
      try {
        receiptFor(b, 'B', a.founder.log.id, digest);
      } catch (err) {
        return err as InvalidReceiptError;
      }
      return null;
    })();
    expect(bad).toBeInstanceOf(InvalidReceiptError);
    expect([bad?.code, bad?.name]).toEqual(['INVALID_RECEIPT', 'InvalidReceiptError']);
    expect(bad?.message).toMatch(/^not a receipt: .+/);
    expect(() => receiptFor(b, b.founder.log.id, a.founder.log.id, new Uint8Array(31))).toThrow(InvalidReceiptError);
    expect(() => receiptFor(b, b.founder.log.id, a.founder.log.id, digest, { role: '__proto__' })).toThrow(InvalidReceiptError);
    const long = receiptFor(b, b.founder.log.id, a.founder.log.id, digest, { verdict: 'refused', code: 'X'.repeat(100), reason: 'y'.repeat(2000) });
    expect([long.code.length, long.reason.length]).toEqual([40, 500]);
    expect(receiptProblem(a.founder.log.state(), long)).toBeNull();
  });
});

describe('links: what travels through a link inbox (link-post.ts)', () => {
  it('keys and tasks round-trip through their encoding; what decodes is exactly what was sent', () => {
    const { a, b } = bothWays();
    const announcements = a.founder.linkAnnouncements(b.founder.log.id, 7);
    const keys = decodeLinkPost(encodeLinkPost({ t: 'keys', a: announcements }));
    expect(keys.t === 'keys' && keys.a.map((x) => toHex(x.signature))).toEqual(announcements.map((x) => toHex(x.signature)));
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'Port records', body: 'Berth 7' });
    const task = decodeLinkPost(encodeLinkPost({ t: 'task', p: parcel }));
    expect(task.t).toBe('task');
    const receipt = signReceipt(
      {
        from: b.founder.log.id,
        to: a.founder.log.id,
        role: 'member',
        n: 1,
        digest: parcel.credential.digest,
        verdict: 'accepted',
        code: '',
        reason: '',
        hour: 1,
      },
      currentKey(b.founder, 'member'),
    );
    const back = decodeLinkPost(encodeLinkPost({ t: 'receipt', r: receipt }));
    expect(back.t === 'receipt' && receiptProblem(a.founder.log.state(), back.r)).toBeNull();
    // What a B member carries from the decoded post is accepted like the original parcel.
    expect(task.t === 'task' && carryAt(b.memberId, b.member.log, task.p)).toBe('accepted');
  });

  it('a task too long for one post is refused before anything is signed into the log', () => {
    const { a, b } = bothWays();
    const before = a.member.log.size;
    const spec = { ours: 'member', theirs: 'member', title: 'Long', body: 'x'.repeat(5000) };
    expect(() => a.member.sendOverLink(b.founder.log.id, spec, 3800)).toThrow(/too long to send over a link \(\d+ bytes sealed, at most 3800\)/);
    expect(a.member.log.size).toBe(before);
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ...spec, body: 'x'.repeat(2000) }, 3800);
    expect(encodeLinkPost({ t: 'task', p: parcel }).length).toBeLessThanOrEqual(3800);
    expect(a.member.log.size).toBe(before + 1);
  });

  it('splits an anchor chain into posts under the size given, in order; one announcement too big for any post is a typed error', () => {
    const { a, b } = bothWays();
    for (let i = 0; i < 5; i++) a.founder.rotateKeys(['organizer']);
    const announcements = a.founder.linkAnnouncements(b.founder.log.id, 7);
    expect(announcements.length).toBe(7);
    const one = encodeLinkPost({ t: 'keys', a: [announcements[0]!] }).length;
    const posts = splitAnnouncements(announcements, one * 2 + 50);
    expect(posts.length).toBeGreaterThan(2);
    for (const p of posts) expect(p.length).toBeLessThanOrEqual(one * 2 + 50);
    const back = posts.flatMap((p) => {
      const d = decodeLinkPost(p);
      return d.t === 'keys' ? d.a : [];
    });
    expect(back.map((x) => `${x.role}/${x.n}`)).toEqual(announcements.map((x) => `${x.role}/${x.n}`));
    // Carried post by post, in order, B ends on A's newest anchor key.
    carryAll(b.founder, back);
    expect(linkAt(b.founder, a.founder.log.id)!.keys.get('organizer')!.n).toBe(6);
    expect(splitAnnouncements([], 3800)).toEqual([]);
    expect(() => splitAnnouncements(announcements, one - 1)).toThrow(InvalidLinkPostError);
  });

  it('refuses posts that are empty, oversized, of another version or kind, or carry extra fields (prototype names included)', () => {
    const { a, b } = bothWays();
    const ann = a.founder.linkAnnouncements(b.founder.log.id, 7)[0]!;
    const refused = (value: unknown) => () => decodeLinkPost(canonicalEncode(value as never));
    expect(refused({ v: 1, t: 'keys', a: [] })).toThrow(InvalidLinkPostError);
    expect(refused({ v: 1, t: 'keys', a: Array(LINK_POST_KEYS_MAX + 1).fill(ann) })).toThrow(InvalidLinkPostError);
    expect(refused({ v: 2, t: 'keys', a: [ann] })).toThrow(InvalidLinkPostError);
    for (const t of ['constructor', '__proto__', 'toString', 'receipt']) expect(refused({ v: 1, t, a: [ann] })).toThrow(InvalidLinkPostError);
    expect(refused({ v: 1, t: 'keys', a: [ann], constructor: 1 })).toThrow(InvalidLinkPostError);
    expect(refused(JSON.parse('{"v":1,"t":"keys","__proto__":{"a":1}}'))).toThrow(InvalidLinkPostError);
    expect(refused({ v: 1, t: 'task', p: { credential: {}, keyId: new Uint8Array(16), box: new Uint8Array(1) } })).toThrow(InvalidLinkPostError);
    expect(() => encodeLinkPost({ t: 'keys', a: [] })).toThrow(InvalidLinkPostError);
  });

  it('mutated and arbitrary bytes only ever give a post that re-encodes to the same bytes, or InvalidLinkPostError (fuzz)', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'fuzzed', body: 'x' });
    const receipt = signReceipt(
      {
        from: b.founder.log.id,
        to: a.founder.log.id,
        role: 'member',
        n: 1,
        digest: parcel.credential.digest,
        verdict: 'refused',
        code: 'DENIED',
        reason: 'no',
        hour: 1,
      },
      currentKey(b.founder, 'member'),
    );
    const bases = [
      encodeLinkPost({ t: 'keys', a: a.founder.linkAnnouncements(b.founder.log.id, 7) }),
      encodeLinkPost({ t: 'task', p: parcel }),
      encodeLinkPost({ t: 'receipt', r: receipt }),
      encodeLinkPost({ t: 'fork', f: [a.founder.linkAnnouncements(b.founder.log.id, 7)[0]!, a.founder.linkAnnouncements(b.founder.log.id, 6)[0]!] }),
    ];
    const mutated = fc.tuple(fc.nat({ max: bases.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.nat()).map(([which, at, bit, cut]) => {
      const base = bases[which]!;
      const out = base.slice(0, base.length - (cut % 3 === 0 ? cut % base.length : 0));
      if (out.length > 0) out[at % out.length]! ^= 1 << bit;
      return out;
    });
    let decoded = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 600 })), (bytes) => {
        try {
          const post = decodeLinkPost(bytes);
          decoded++;
          expect(Buffer.from(encodeLinkPost(post)).equals(Buffer.from(bytes))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidLinkPostError);
        }
      }),
      { numRuns: 3000 },
    );
    // Some mutations land in signature or box bytes and still decode (the fold judges those).
    expect(decoded).toBeGreaterThan(0);
  });
});

describe('links: a freeze told back to the pursuance whose anchor forked (FEDERATION.md L7)', () => {
  /** B's link froze on A's "member" key: the honest announcement, and one A's organizer key signed for a key that is not A's. */
  function forked() {
    const w = linked();
    const { a, b } = w;
    a.founder.openLink({
      offer: b.founder.linkOffer(a.founder.log.id, 'organizer', 7, 'inbox of B'),
      name: 'B',
      theyMay: [],
      ourAnchor: 'organizer',
      weSend: [{ ours: 'member', theirs: 'member' }],
      ourInbox: 'our inbox',
    });
    const honest = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'member')!;
    const planted = newRoleKey('member');
    const fork = signAnnouncement({ ...stripSig(honest), keyId: planted.keyId, pub: pubOf(planted) }, currentKey(a.founder, 'organizer'));
    b.founder.carryLinkKeys(honest);
    b.founder.carryLinkKeys(fork);
    expect(linkAt(b.founder, a.founder.log.id)!.frozen).not.toBeNull();
    return { ...w, honest, fork, planted };
  }

  it('the pair B froze on travels as a post, and A finds it signed by its own anchor key, one of the two its own key', () => {
    const { a, b, honest, fork } = forked();
    const post = decodeLinkPost(encodeLinkPost({ t: 'fork', f: [honest, fork] }));
    expect(post.t).toBe('fork');
    if (post.t !== 'fork') return;
    expect(forkEvidence(a.founder.log.state(), b.founder.log.id, post.f)).toEqual({ role: 'member', n: honest.n, signers: [1], ours: true });
    // Either order, and from any node of A (the member holds no anchor key; the check needs only public state).
    syncInto(a.member, a.founder.log);
    expect(forkEvidence(a.member.log.state(), b.founder.log.id, [fork, honest])).toEqual({ role: 'member', n: honest.n, signers: [1], ours: true });
  });

  it('neither key ours, and an anchor successor forked by a former key: the signers are named', () => {
    const { a, b, honest } = forked();
    const other = signAnnouncement(
      { ...stripSig(honest), keyId: newRoleKey('member').keyId, pub: pubOf(newRoleKey('member')) },
      currentKey(a.founder, 'organizer'),
    );
    const third = signAnnouncement(
      { ...stripSig(honest), keyId: newRoleKey('member').keyId, pub: pubOf(newRoleKey('member')) },
      currentKey(a.founder, 'organizer'),
    );
    expect(forkEvidence(a.founder.log.state(), b.founder.log.id, [other, third])).toMatchObject({ ours: false, signers: [1] });
    // A re-keys its anchor; whoever kept key 1 signs a successor of their own: key 2 twice, both by key 1.
    const key1 = currentKey(a.founder, 'organizer');
    a.founder.rotateKeys(['organizer']);
    const genuine = a.founder.linkAnnouncements(b.founder.log.id, 7).find((x) => x.role === 'organizer' && x.n === 2)!;
    const successor = newRoleKey('organizer');
    const forged = signAnnouncement({ ...stripSig(genuine), keyId: successor.keyId, pub: pubOf(successor) }, key1);
    expect(forkEvidence(a.founder.log.state(), b.founder.log.id, [genuine, forged])).toEqual({ role: 'organizer', n: 2, signers: [1], ours: true });
    // A member-key fork signed by key 2 beside one signed by key 1: both named.
    const byTwo = signAnnouncement(
      { ...stripSig(honest), keyId: newRoleKey('member').keyId, pub: pubOf(newRoleKey('member')) },
      currentKey(a.founder, 'organizer'),
    );
    expect(forkEvidence(a.founder.log.state(), b.founder.log.id, [other, byTwo])).toMatchObject({ signers: [1, 2] });
    // In either order, the signers come ascending.
    expect(forkEvidence(a.founder.log.state(), b.founder.log.id, [byTwo, other])).toMatchObject({ signers: [1, 2] });
  });

  it('a fork is any difference (the key id, the signing key, the box key), and "ours" means all three are ours', () => {
    const { a, b, honest } = forked();
    const anchor = currentKey(a.founder, 'organizer');
    const state = a.founder.log.state();
    const peer = b.founder.log.id;
    const planted = pubOf(newRoleKey('member'));
    const onlySig = signAnnouncement({ ...stripSig(honest), pub: { ...honest.pub, sig: planted.sig } }, anchor);
    const onlyBox = signAnnouncement({ ...stripSig(honest), pub: { ...honest.pub, box: planted.box } }, anchor);
    const onlyKeyId = signAnnouncement({ ...stripSig(honest), keyId: newRoleKey('member').keyId }, anchor);
    // Each differs from ours in one part only: a fork, and one of the two is ours.
    for (const [what, forged] of [
      ['the signing key', onlySig],
      ['the box key', onlyBox],
      ['the key id', onlyKeyId],
    ] as const)
      expect(forkEvidence(state, peer, [honest, forged]), what).toMatchObject({ role: 'member', ours: true });
    // Two forgeries that share our key id (or our signing key) but are not ours whole: neither is ours.
    expect(forkEvidence(state, peer, [onlySig, onlyBox])).toMatchObject({ ours: false });
    expect(forkEvidence(state, peer, [onlyKeyId, onlyBox])).toMatchObject({ ours: false });
    // An ordinal we never reached: nothing of ours to compare with.
    const far = signAnnouncement({ ...stripSig(honest), n: 9 }, anchor);
    const farOther = signAnnouncement({ ...stripSig(honest), n: 9, keyId: newRoleKey('member').keyId }, anchor);
    expect(forkEvidence(state, peer, [far, farOther])).toEqual({ role: 'member', n: 9, signers: [1], ours: false });
    // A role we do not have at all, signed by our anchor key all the same.
    const ghost = signAnnouncement({ ...stripSig(honest), role: 'ghost' }, anchor);
    const ghostOther = signAnnouncement({ ...stripSig(honest), role: 'ghost', keyId: newRoleKey('ghost').keyId }, anchor);
    expect(forkEvidence(state, peer, [ghost, ghostOther])).toMatchObject({ role: 'ghost', ours: false });
    // A pursuance with no link at all.
    expect(forkEvidence(pursuance('D', manualClock().now).founder.log.state(), peer, [honest, onlySig])).toMatch(/no link/);
  });

  it('refuses what anyone could post: not ours, not to them, not one role and ordinal, one key twice, a stranger’s signature, no link', () => {
    const { a, b, honest, fork } = forked();
    const state = a.founder.log.state();
    const stranger = newRoleKey('organizer');
    const c = pursuance('C', manualClock().now);
    const cases: [string, readonly [Announcement, Announcement], string, RegExp][] = [
      [
        'B’s own announcement first',
        [signAnnouncement({ ...stripSig(fork), from: b.founder.log.id }, currentKey(a.founder, 'organizer')), honest],
        b.founder.log.id,
        /not about announcements of ours/,
      ],
      [
        'addressed to C, first',
        [signAnnouncement({ ...stripSig(fork), to: c.founder.log.id }, currentKey(a.founder, 'organizer')), honest],
        b.founder.log.id,
        /another pursuance/,
      ],
      [
        'B’s own announcements',
        [fork, signAnnouncement({ ...stripSig(fork), from: b.founder.log.id }, currentKey(a.founder, 'organizer'))],
        b.founder.log.id,
        /not about announcements of ours/,
      ],
      [
        'addressed to C',
        [honest, signAnnouncement({ ...stripSig(fork), to: c.founder.log.id }, currentKey(a.founder, 'organizer'))],
        b.founder.log.id,
        /another pursuance/,
      ],
      [
        'two roles',
        [honest, signAnnouncement({ ...stripSig(fork), role: 'organizer' }, currentKey(a.founder, 'organizer'))],
        b.founder.log.id,
        /different roles or ordinals/,
      ],
      [
        'two ordinals',
        [honest, signAnnouncement({ ...stripSig(fork), n: honest.n + 1 }, currentKey(a.founder, 'organizer'))],
        b.founder.log.id,
        /different roles or ordinals/,
      ],
      ['one key twice', [honest, honest], b.founder.log.id, /the same key/],
      ['signed by a stranger', [honest, signAnnouncement(stripSig(fork), stranger)], b.founder.log.id, /not signed by a key of our "organizer"/],
      ['a tampered signature', [honest, { ...fork, signature: new Uint8Array(64) }], b.founder.log.id, /not signed/],
      ['over no link', [honest, fork], c.founder.log.id, /no link/],
    ];
    for (const [what, pair, peer, expected] of cases) expect(forkEvidence(state, peer as EventId, pair), what).toMatch(expected);
    for (const name of ['constructor', '__proto__', 'toString']) {
      expect(forkEvidence(state, name as EventId, [honest, fork])).toMatch(/no link/);
      expect(
        forkEvidence(state, b.founder.log.id, [
          { ...honest, role: name },
          { ...fork, role: name },
        ]),
      ).toMatch(/not signed|same key/);
    }
  });
});

describe('links: the edges of the statements and their parsers', () => {
  it('link posts: a typed error that says what is wrong; chains split exactly at the size given and at most 64 to a post; a later statement too big alone is refused', () => {
    const { a, b } = bothWays();
    const garbage = (() => {
      try {
        decodeLinkPost(new Uint8Array([0xff, 0x00, 0x13]));
      } catch (err) {
        return err as InvalidLinkPostError;
      }
      return null;
    })()!;
    expect(garbage).toBeInstanceOf(InvalidLinkPostError);
    expect([garbage.code, garbage.name, garbage.message]).toEqual(['INVALID_LINK_POST', 'InvalidLinkPostError', 'not a canonical encoding']);
    expect(() => decodeLinkPost(canonicalEncode({ v: 1, t: 'keys', a: [] }))).toThrow(/^not a link post: .+/);
    expect(() => encodeLinkPost({ t: 'keys', a: [] })).toThrow(/^not a link post: .+/);
    const [anchor, member] = [a.founder.linkAnnouncements(b.founder.log.id, 7)[0]!, a.founder.linkAnnouncements(b.founder.log.id, 7)[1]!];
    expect([anchor.role, member.role]).toEqual(['organizer', 'member']);
    // Exactly the size of a post holding both: one post.
    const both = encodeLinkPost({ t: 'keys', a: [anchor, member] }).length;
    expect(splitAnnouncements([anchor, member], both)).toHaveLength(1);
    expect(splitAnnouncements([anchor, member], both - 1)).toHaveLength(2);
    // At most 64 to a post, however large the posts may be.
    expect(splitAnnouncements(Array(LINK_POST_KEYS_MAX + 1).fill(member), 1e9).map((p) => (decodeLinkPost(p) as { a: readonly unknown[] }).a.length)).toEqual([
      LINK_POST_KEYS_MAX,
      1,
    ]);
    // The first fits alone, the second ("organizer" is the longer role id) does not.
    const memberAlone = encodeLinkPost({ t: 'keys', a: [member] }).length;
    expect(encodeLinkPost({ t: 'keys', a: [anchor] }).length).toBeGreaterThan(memberAlone);
    expect(() => splitAnnouncements([member, anchor], memberAlone)).toThrow(/one announcement does not fit/);
    // A later one that fits alone exactly: a post of its own.
    const anchorAlone = encodeLinkPost({ t: 'keys', a: [anchor] }).length;
    expect(splitAnnouncements([member, anchor], anchorAlone).map((p) => (decodeLinkPost(p) as { a: readonly Announcement[] }).a.map((x) => x.role))).toEqual([
      ['member'],
      ['organizer'],
    ]);
  });

  it('offers, announcements and credentials: what signing refuses, in words; the largest offer fits its text bound; an unusable anchor key; the text bound itself', () => {
    const { a, b, offerA } = linked();
    const key = currentKey(a.founder, 'organizer');
    const long = (() => {
      try {
        signLinkOffer(offerA.anchor, 'A', 'i'.repeat(8193), key);
      } catch (err) {
        return err as InvalidLinkOfferError;
      }
      return null;
    })();
    expect([long?.name, long?.code, long?.message]).toEqual([
      'InvalidLinkOfferError',
      'INVALID_LINK_OFFER',
      'not a link offer: Too big: expected string to have <=8192 characters',
    ]);
    // The largest offer the schema allows still fits the text bound its readers apply.
    const largest = signLinkOffer(offerA.anchor, 'N'.repeat(120), 'i'.repeat(8192), key);
    expect(linkOfferText(largest).length).toBeLessThanOrEqual(LINK_OFFER_TEXT_MAX);
    expect(parseLinkOfferText(linkOfferText(largest), b.founder.log.id, T0).inbox).toHaveLength(8192);
    // An anchor whose box key is unusable, signed properly all the same.
    const weak = signAnnouncement({ ...stripSig(offerA.anchor), pub: { sig: offerA.anchor.pub.sig, box: new Uint8Array(32) } }, key);
    expect(linkOfferProblem(signLinkOffer(weak, 'A', 'inbox', key))).toMatch(/^the anchor key is unusable: the box key is low-order/);
    // Text of exactly the bound is judged on its content, not refused for its length.
    const atBound = LINK_OFFER_PREFIX + 'A'.repeat(LINK_OFFER_TEXT_MAX - LINK_OFFER_PREFIX.length);
    expect(() => parseLinkOfferText(atBound, b.founder.log.id, T0)).toThrow(/^not a canonical encoding/);
    expect(() => parseLinkOfferText(`${atBound}A`, b.founder.log.id, T0)).toThrow(/too long to be a link offer/);
    expect(() => signAnnouncement({ ...stripSig(offerA.anchor), role: 'Bad!' }, key)).toThrow(/^not an announcement: .+/);
    expect(() =>
      signCredential({ from: 'x', to: b.founder.log.id, role: 'member', n: 1, action: 'create', on: 'member', digest: new Uint8Array(32), hour: 1 }, key),
    ).toThrow(/^not a credential: .+/);
  });

  it('a box that does not open is corrupt, said as such', () => {
    const { a, b } = bothWays();
    const { parcel } = a.member.sendOverLink(b.founder.log.id, { ours: 'member', theirs: 'member', title: 'x', body: '' });
    const box = parcel.box.slice();
    box[box.length - 1]! ^= 1;
    expect(() => openLinkTask({ ...parcel, box }, b.founder.log.id, currentKey(b.member, 'member'))).toThrow(/^the task sent over the link is corrupt: /);
  });

  it('opened again: only the same anchor role, ordinal and key keep the keys; the same offer again leaves the pin as it was', () => {
    const { a, b, offerA } = linked();
    const A = a.founder.log.id;
    const B = b.founder.log.id;
    carryAll(b.founder, a.founder.linkAnnouncements(B, 7));
    const reopen = (offer: LinkOffer) =>
      b.founder.openLink({
        offer,
        name: 'A',
        theyMay: [{ theirRole: 'member', action: 'create', on: 'member' }],
        ourAnchor: 'organizer',
        weSend: [],
        ourInbox: 'our inbox',
      });
    const pinnedBy = linkAt(b.founder, A)!.keys.get('organizer')!.by;
    reopen(offerA);
    expect(linkAt(b.founder, A)!.keys.get('organizer')!.by).toBe(pinnedBy);
    expect([...linkAt(b.founder, A)!.keys.keys()].sort()).toEqual(['member', 'organizer']);
    // The same key, claimed under another ordinal by whoever holds it: not the standing pin, so it starts over.
    const key = currentKey(a.founder, 'organizer');
    const renumbered = signLinkOffer(signAnnouncement({ ...stripSig(offerA.anchor), n: 2 }, key), 'A', 'inbox of A', key);
    reopen(renumbered);
    expect([...linkAt(b.founder, A)!.keys.keys()]).toEqual(['organizer']);
    expect(linkAt(b.founder, A)!.keys.get('organizer')!.n).toBe(2);
    // Back to the honest pin, then anchored on another role whose key B holds as that role's: starts over too.
    reopen(offerA);
    carryAll(b.founder, a.founder.linkAnnouncements(B, 7));
    expect(linkAt(b.founder, A)!.keys.has('member')).toBe(true);
    reopen(a.founder.linkOffer(B, 'member', 7, 'inbox of A'));
    const link = linkAt(b.founder, A)!;
    expect([link.theirAnchor, [...link.keys.keys()]]).toEqual(['member', ['member']]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, canonicalDecode, canonicalEncode } from '@pursuance/crypto';
import { postToDropBox } from '@pursuance/cwtch';
import {
  HOUR_MS,
  REQUEST_HOURS_BACK,
  VOUCH_HOURS,
  hourOf,
  leadingZeroBits,
  openVouchText,
  parseProfileText,
  sealJoinRequest,
  signVouch,
  vouchText,
  vouchedEffort,
  workDigest,
  type EventId,
  type Profile,
  type Vouch,
} from '@pursuance/pursuance';
import { openNodeStore, type RunningNode } from '../src/index.js';
import { RelayNodes } from './support/relay-nodes.js';
import { AdmissionStore } from '../src/sync/admission-store.js';
import { REVIEW_MAX, VOUCHES_MAX, type ReviewInboxModel } from '../src/sync/admission.service.js';
import type { LinkModel, LinkOfferModel, VouchModel } from '../src/sync/link.service.js';
import { untilAsync, untilChange } from '../../../test/support/until-change.js';
import { at, call, ok, refusal } from './support/node-api.js';

/**
 * Vouches through the node's API (FEDERATION.md J11), in-process: pursuance A ("Port Watch", on
 * relay A) and pursuance B ("Harbour Desk", on relay B). B's link lets A's members vouch for
 * applicants B's organizers review; B publishes a profile asking 14 bits of work. A's member
 * vouches for a stranger, who sends a request with the lowered work: B's organizer sees it, and
 * whose vouch it carries. The same vouch again (a replay), a vouch from a pursuance B does not
 * link, or none at all, lowers nothing: such a request is dropped, counted, unless it did the
 * full work. Every wait is on a change a node reports.
 */
const EFFORT = 14;
let nodes: RelayNodes;

let fa: RunningNode;
let ma: RunningNode;
let fb: RunningNode;
let ap: RunningNode;
let A: string;
let B: string;
let profile: { text: string };

const inboxOf = () => ok<ReviewInboxModel>(fb, 'GET', at(B, '/join-requests'));

const start = (name: string): Promise<RunningNode> => nodes.start(name);

/** A request from `from` to the profile with the vouch `v`, its work re-rolled to fall in [min, max). */
function request(p: Profile, from: RunningNode, v: Vouch | undefined, min: number, max: number): Uint8Array {
  return requestAs(p, from.registry.identity, v, min, max);
}

function requestAs(p: Profile, from: Identity, v: Vouch | undefined, min: number, max: number): Uint8Array {
  const sealed = sealJoinRequest(p, from, { name: 'Rae', answers: [], vouch: v }, Date.now());
  const m = canonicalDecode(sealed.bytes) as { p: Uint8Array; h: number; n: Uint8Array; ct: Uint8Array };
  for (let i = 0; ; i++) {
    const n = new Uint8Array(16);
    new DataView(n.buffer).setUint32(8, i);
    const work = leadingZeroBits(workDigest(m.p, m.h, n, m.ct));
    if (work >= min && work < max) return canonicalEncode({ ...m, n });
  }
}

beforeAll(async () => {
  nodes = await RelayNodes.open('node-vouch-', 2);
  [fa, ma, fb, ap] = [await start('fa'), await start('ma'), await start('fb'), await start('ap')];
  A = (await ok<{ id: string }>(fa, 'POST', '/api/pursuances', { name: 'Port Watch', template: 'activist-cell', relay: nodes.relays[0]!.relay.exportedBundle }))
    .id;
  B = (
    await ok<{ id: string }>(fb, 'POST', '/api/pursuances', { name: 'Harbour Desk', template: 'activist-cell', relay: nodes.relays[1]!.relay.exportedBundle })
  ).id;
  await ok(fa, 'POST', at(A, '/members'), { onion: ma.identity.onion, name: 'ma', roles: ['member'] });
  const { invite } = await ok<{ invite: string }>(fa, 'GET', at(A, '/invite'));
  await ok(ma, 'POST', '/api/invites/accept', { invite });
  const offerA = await ok<LinkOfferModel>(fa, 'POST', at(A, '/links/offers'), { to: B, anchor: 'organizer' });
  const offerB = await ok<LinkOfferModel>(fb, 'POST', at(B, '/links/offers'), { to: A, anchor: 'organizer' });
  // B: A's members may vouch for applicants B's organizers review. A: its members send to B's (so A tells B their key).
  await ok(fb, 'POST', at(B, '/links'), { offer: offerA.text, theyMay: [{ theirRole: 'member', action: 'vouch', on: 'organizer' }] });
  await ok(fa, 'POST', at(A, '/links'), { offer: offerB.text, weSend: [{ ours: 'member', theirs: 'member' }] });
  const linkAtB = () =>
    fb.registry
      .get(B)
      .log.state()
      .links?.get(A as EventId);
  await untilChange([fb], () => linkAtB()?.keys.has('member') === true, 'A’s member key to reach B');
  await untilChange(
    [ma],
    () =>
      ma.registry.has(A) &&
      ma.registry
        .get(A)
        .log.state()
        .links?.has(B as EventId) === true,
    'ma to see the link',
  );
  profile = await ok<{ text: string }>(fb, 'POST', at(B, '/profile'), { role: 'organizer', about: 'Harbour reporting.', effort: EFFORT });
}, 180_000);

afterAll(async () => {
  await nodes.close();
});

describe('vouching', () => {
  it('a member of A vouches as a role the link tells B about; refuses roles it does not hold, strangers’ links and bad addresses', async () => {
    const links = await ok<LinkModel[]>(ma, 'GET', at(A, '/links'));
    expect(links[0]!.vouchRoles).toEqual(['member']);
    expect((await ok<LinkModel[]>(fa, 'GET', at(A, '/links')))[0]!.vouchRoles).toEqual(['organizer', 'member']);
    const before = ma.registry.get(A).log.size;
    const made = await ok<VouchModel>(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant: `${ap.identity.onion}.onion` });
    expect(made.text.startsWith('pursuance-vouch:1:')).toBe(true);
    expect(made).toMatchObject({ role: 'member', applicant: ap.identity.onion });
    expect(made.validUntil - Date.now()).toBeGreaterThan((VOUCH_HOURS - 1) * HOUR_MS);
    expect(made.validUntil - Date.now()).toBeLessThanOrEqual((VOUCH_HOURS + 1) * HOUR_MS);
    // Nothing enters A's log, and the text names nobody.
    expect(ma.registry.get(A).log.size).toBe(before);
    for (const n of [fa, ma, ap]) expect(made.text).not.toContain(n.identity.onion);

    refusal(await call(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'organizer', applicant: ap.identity.onion }), 409, 'UNKNOWN_KEY', 'a role ma lacks');
    refusal(await call(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'constructor', applicant: ap.identity.onion }), 422, 'DENIED', 'no such role');
    refusal(await call(ma, 'POST', at(A, `/links/${'e'.repeat(64)}/vouches`), { role: 'member', applicant: ap.identity.onion }), 404, 'UNKNOWN_LINK');
    // A pursuance with no links at all.
    const alone = (await ok<{ id: string }>(fa, 'POST', '/api/pursuances', { name: 'Alone', template: 'activist-cell' })).id;
    refusal(await call(fa, 'POST', at(alone, `/links/${B}/vouches`), { role: 'member', applicant: ap.identity.onion }), 404, 'UNKNOWN_LINK');
    for (const applicant of ['', 'x'.repeat(56), ap.identity.onion.toUpperCase(), `${ap.identity.onion.slice(0, -1)}a`, '__proto__'])
      refusal(await call(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant }), 400, 'INVALID_REQUEST', applicant);
    refusal(await call(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant: ap.identity.onion, extra: 1 }), 400, 'INVALID_REQUEST');
  });

  it(
    'the applicant sends the vouch with less work; B’s organizer sees who vouched; a replay or an unlinked voucher lowers nothing',
    { timeout: 180_000 },
    async () => {
      const made = await ok<VouchModel>(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant: ap.identity.onion });
      // Pasted by someone else, or garbage: refused before any work, with the field.
      const forFb = await ok<VouchModel>(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant: fb.identity.onion });
      for (const vouch of [forFb.text, 'pursuance-vouch:1:AAAA', 'hello']) {
        const r = await call(ap, 'POST', '/api/join-profile/requests', { profile: profile.text, name: 'Rae', vouch });
        refusal(r, 400, 'INVALID_REQUEST', vouch.slice(0, 20));
        expect((r.body as { field?: string }).field).toBe('vouch');
      }
      // Made by A's member but for another pursuance, or too old: the applicant's node says so before any work.
      const memberEpoch = ma.registry.get(A).log.state().roles.get('member')!.epochs.at(-1)!;
      const memberKey = ma.registry.get(A).author.keyring.get(memberEpoch.keyIdHex)!;
      const hour = Math.floor(Date.now() / HOUR_MS);
      const signed = (to: string, h: number) =>
        vouchText(signVouch({ from: A, to, role: 'member', n: 1, applicant: ap.registry.identity.publicKey, hour: h }, memberKey));
      for (const [vouch, reason] of [
        [signed('c'.repeat(64), hour), /This vouch is for joining another pursuance/],
        [signed(B, hour - VOUCH_HOURS - 3), /This vouch cannot be used: it is more than 72 hours old\. Ask for a new one\./],
        [forFb.text, /This vouch cannot be used: this vouch does not open with your key/],
      ] as const) {
        const r = await call(ap, 'POST', '/api/join-profile/requests', { profile: profile.text, name: 'Rae', vouch });
        refusal(r, 400, 'INVALID_REQUEST');
        expect(r.body).toMatchObject({ field: 'vouch', message: expect.stringMatching(reason) });
      }
      expect(await ok<unknown[]>(ap, 'GET', '/api/join-profile/requests')).toEqual([]);

      await ok(ap, 'POST', '/api/join-profile/requests', { profile: profile.text, name: 'Rae', vouch: made.text });
      await untilAsync([fb.admission], async () => (await inboxOf()).waiting === 1, 'the vouched request to reach B');
      const first = (await inboxOf()).requests[0]!;
      expect(first).toMatchObject({ onion: ap.identity.onion, name: 'Rae', status: 'pending', vouch: { peer: A, name: 'Port Watch', role: 'member' } });
      expect(first.work).toBeGreaterThanOrEqual(vouchedEffort(EFFORT));

      // What a stranger can post into the inbox: the applicant's own key, with the same vouch again and little work.
      const p = parseProfileText(profile.text, Date.now());
      const inbox = p.inbox;
      const low = [vouchedEffort(EFFORT), EFFORT] as const;
      const v = openVouchText(made.text, ap.registry.identity);
      const dropped0 = (await inboxOf()).dropped;
      await postToDropBox(inbox, request(p, ap, v, ...low), { acn: nodes.acn });
      // A vouch from a pursuance B has no link to (C's member key, to B), for the applicant, little work.
      const c = (await ok<{ id: string }>(fa, 'POST', '/api/pursuances', { name: 'C', template: 'activist-cell' })).id;
      const cAuthor = fa.registry.get(c).author;
      const cKey = cAuthor.keyring.get(fa.registry.get(c).log.state().roles.get('member')!.epochs.at(-1)!.keyIdHex)!;
      const unlinked = signVouch(
        { from: c, to: B, role: 'member', n: 1, applicant: ap.registry.identity.publicKey, hour: Math.floor(Date.now() / HOUR_MS) },
        cKey,
      );
      await postToDropBox(inbox, request(p, ap, unlinked, ...low), { acn: nodes.acn });
      // No vouch at all, little work.
      await postToDropBox(inbox, request(p, ap, undefined, ...low), { acn: nodes.acn });
      await untilAsync([fb.admission], async () => (await inboxOf()).dropped.vouch === dropped0.vouch + 3, 'three requests dropped for their vouch');
      // The vouched request still waits, untouched.
      expect((await inboxOf()).requests).toEqual([first]);

      // The spent vouch with the full work: kept, as an unvouched request (it replaces the applicant's earlier one).
      await postToDropBox(inbox, request(p, ap, v, EFFORT, 256), { acn: nodes.acn });
      await untilAsync([fb.admission], async () => (await inboxOf()).requests[0]?.id !== first.id, 'the full-work request to replace the first');
      const second = (await inboxOf()).requests;
      expect(second).toHaveLength(1);
      expect(second[0]).toMatchObject({ onion: ap.identity.onion, vouch: null, status: 'pending' });
      expect(second[0]!.work).toBeGreaterThanOrEqual(EFFORT);
      expect((await inboxOf()).dropped.vouch).toBe(dropped0.vouch + 3);
    },
  );

  it('a vouch from a role B does not let vouch lowers nothing (A’s organizer, whose key B holds as the anchor)', { timeout: 180_000 }, async () => {
    const made = await ok<VouchModel>(fa, 'POST', at(A, `/links/${B}/vouches`), { role: 'organizer', applicant: ap.identity.onion });
    const p = parseProfileText(profile.text, Date.now());
    const v = openVouchText(made.text, ap.registry.identity);
    const before = (await inboxOf()).dropped.vouch;
    await postToDropBox(p.inbox, request(p, ap, v, vouchedEffort(EFFORT), EFFORT), { acn: nodes.acn });
    await untilAsync([fb.admission], async () => (await inboxOf()).dropped.vouch === before + 1, 'the anchor’s vouch to be dropped');
  });

  it(
    'after a restart: spent vouches too old to matter are forgotten, the rest kept up to VOUCHES_MAX; a vouched request outranks unvouched work in a full queue',
    { timeout: 180_000 },
    async () => {
      // Two applicants the test plays (their keys sign their requests), each with a vouch from A's member.
      const [x1, x2] = [Identity.generate(), Identity.generate()];
      const vouchFor = async (x: Identity) =>
        openVouchText((await ok<VouchModel>(ma, 'POST', at(A, `/links/${B}/vouches`), { role: 'member', applicant: x.onion })).text, x);
      const [v1, v2] = [await vouchFor(x1), await vouchFor(x2)];
      const waiting = (await inboxOf()).waiting;
      await nodes.stop(fb);
      const opened = await openNodeStore(nodes.options('fb'));
      const now = Date.now();
      // The oldest hour a spent vouch still matters for (a request REQUEST_HOURS_BACK old, its vouch VOUCH_HOURS before that).
      const oldest = hourOf(now) - REQUEST_HOURS_BACK - VOUCH_HOURS - 1;
      await new AdmissionStore(opened.store).updateInbox((doc) => {
        doc.vouches = [];
        // One short of full once the five too old are forgotten.
        for (let i = 0; i < VOUCHES_MAX - 1; i++) doc.vouches.push({ nonce: `k${i}`, hour: oldest + 1 });
        for (let i = 0; i < 5; i++) doc.vouches.push({ nonce: `old${i}`, hour: oldest - 1 });
        // The queue full of others' requests with the profile's full work, but for three, none of
        // them first in line: the most (vouched, so its 9 bits rank as 15), and two least (one bit
        // short, kept from before the profile asked more), of which the older is the one to go.
        const special: Record<number, { onion: string; work: number; receivedAt?: number; vouched?: boolean }> = {
          [waiting]: { onion: 'stand-in-most', work: vouchedEffort(EFFORT) + 1, vouched: true },
          [waiting + 5]: { onion: 'stand-in-least-newer', work: EFFORT - 1 },
          [waiting + 9]: { onion: 'stand-in-least-older', work: EFFORT - 1, receivedAt: now - 60_000 },
        };
        for (let i = waiting; i < REVIEW_MAX; i++) {
          const x = special[i];
          doc.requests.push({
            id: i.toString(16).padStart(64, 'f'),
            pursuanceId: B,
            onion: x?.onion ?? `stand-in-${i}`,
            key: '00'.repeat(32),
            name: `Stand-in ${i}`,
            answers: [],
            work: x?.work ?? EFFORT,
            receivedAt: x?.receivedAt ?? now,
            status: 'pending',
            decidedAt: null,
            roles: [],
            ...(x?.vouched ? { vouch: { peer: A, name: 'Port Watch', role: 'member' } } : {}),
          });
        }
      });
      await opened.close();
      fb = await start('fb');
      expect((await inboxOf()).waiting).toBe(REVIEW_MAX);
      const p = parseProfileText(profile.text, Date.now());
      const before = (await inboxOf()).dropped;
      // x1: work the vouch allows (at least 9 bits, so with the 6 spared it ranks above the full work of the others).
      await postToDropBox(p.inbox, requestAs(p, x1, v1, vouchedEffort(EFFORT) + 1, EFFORT), { acn: nodes.acn });
      await untilAsync([fb.admission], async () => (await inboxOf()).requests.some((r) => r.onion === x1.onion), 'x1 to take a place in the full queue');
      expect((await inboxOf()).requests.find((r) => r.onion === x1.onion)).toMatchObject({ status: 'pending', vouch: { peer: A, role: 'member' } });
      expect((await inboxOf()).waiting).toBe(REVIEW_MAX);
      expect((await inboxOf()).dropped.full).toBe(before.full + 1);
      // The one it replaced ranked least, and of the two least it was the older; the vouched one
      // with less work but more rank stays.
      const onions = (await inboxOf()).requests.map((r) => r.onion);
      expect(onions).not.toContain('stand-in-least-older');
      expect(onions).toContain('stand-in-least-newer');
      expect(onions).toContain('stand-in-most');
      // x2's vouch is fresh, but the set is full now: it counts for nothing, and the lowered work is not enough.
      await postToDropBox(p.inbox, requestAs(p, x2, v2, vouchedEffort(EFFORT) + 1, EFFORT), { acn: nodes.acn });
      await untilAsync([fb.admission], async () => (await inboxOf()).dropped.vouch === before.vouch + 1, 'x2 to be dropped while the set is full');
      expect((await inboxOf()).requests.some((r) => r.onion === x2.onion)).toBe(false);
    },
  );
});

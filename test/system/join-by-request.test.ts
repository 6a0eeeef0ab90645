import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, canonicalDecode } from '@pursuance/crypto';
import { parseGroupInvite, sealGroupMessage } from '@pursuance/cwtch';
import { groupGenesis } from '@pursuance/cwtch';
import { leadingZeroBits, parseProfileText, sealJoinRequest, vouchedEffort, workDigest } from '@pursuance/pursuance';
import { RelayClient } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import type { RunningNode } from '../../apps/node/src/index.js';
import { untilStream } from '../support/change-stream.js';
import { api, relayNetwork, type RelayNetwork } from '../support/relay-network.js';
import { untilAsync, untilChange } from '../support/until-change.js';

/**
 * Joining by request, over a relay process: an organizer publishes the pursuance's profile; a
 * stranger, its own `pursuance node start` process, pastes it and asks to join; a flood of
 * requests without the proof of work reaches the same inbox and is dropped unread; an organizer
 * admits the stranger, who becomes a member. A second stranger is declined and blocked: it is
 * told so, signed by the role, and learns no member's address. Waits are on changes the nodes
 * report, never on timers.
 */
let net: RelayNetwork;
let bundle: string;
const node = (name: string) => net.node(name);

interface InboxJson {
  readonly requests: { id: string; onion: string; name: string; answers: string[]; status: string; work: number }[];
  readonly dropped: Record<string, number>;
  readonly waiting: number;
}

beforeAll(async () => {
  net = await relayNetwork('join-request-');
  bundle = net.bundle;
});

afterAll(async () => {
  await net?.close();
});

describe('joining by request', () => {
  it('a stranger asks through the public profile, an organizer admits them; a flood without work is dropped unread', { timeout: 300_000 }, async () => {
    const founder = await node('founder');
    const olu = await node('olu');
    const id = ((await api(founder, 'POST', '/api/pursuances', { name: 'Tenants United', template: 'activist-cell' })).body as { id: string }).id;
    const p = (path: string) => `/api/pursuances/${id}${path}`;
    expect((await api(founder, 'POST', p('/relay/attach'), { bundle })).status).toBe(200);
    await api(founder, 'POST', p('/members'), { onion: olu.identity.onion, name: 'Olu', roles: ['organizer'] });
    const { invite } = (await api(founder, 'GET', p('/invite'))).body as { invite: string };
    expect((await api(olu, 'POST', '/api/invites/accept', { invite })).body).toEqual({ pursuanceId: id, status: 'joined' });
    const hash = (n: RunningNode) => n.registry.get(id).log.stateHash();
    await untilChange([olu, founder], () => hash(olu) === hash(founder), 'olu to join');

    // A member without the right to invite may not publish; the founder (an organizer) may.
    const published = await api(founder, 'POST', p('/profile'), {
      role: 'organizer',
      about: 'Renters organising in the north district.',
      asks: ['Which building do you live in?'],
      effort: 10,
    });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
    const profile = published.body as { text: string; reading: boolean; stale: boolean; name: string };
    expect(profile).toMatchObject({ reading: true, stale: false, name: 'Tenants United' });
    // The profile names no member: no onion of anyone in it, nor the pursuance's own group.
    const decoded = JSON.stringify(parseProfileText(profile.text, Date.now()), (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
    );
    for (const o of [founder.identity.onion, olu.identity.onion]) expect(decoded).not.toContain(o);
    expect(profile.text).not.toContain(invite);
    await untilChange([olu], () => olu.registry.get(id).log.state().profile !== undefined, 'olu to see the profile');

    // The stranger, its own process: previews, then asks.
    const stranger = await net.process('stranger');
    const preview = await api(stranger, 'POST', '/api/join-profile/preview', { profile: `Join us: ${profile.text}` });
    expect(preview.body).toMatchObject({ pursuanceId: id, name: 'Tenants United', asks: ['Which building do you live in?'], effort: 10, member: false });
    const sent = await api(stranger, 'POST', '/api/join-profile/requests', { profile: profile.text, name: 'Rosa', answers: ['Block C, flat 12'] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    expect(sent.body).toMatchObject({ pursuanceId: id, status: 'sent' });

    // Both organizers' nodes read it (both hold the organizer key); it is not in the log.
    const eventsBefore = founder.registry.get(id).log.size;
    const inbox = async (n: RunningNode) => (await api(n, 'GET', p('/join-requests'))).body as InboxJson;
    for (const n of [founder, olu]) {
      await untilAsync([n.admission], async () => (await inbox(n)).waiting === 1, 'the request to reach an organizer');
      expect((await inbox(n)).requests[0]).toMatchObject({ onion: stranger.onion, name: 'Rosa', answers: ['Block C, flat 12'], status: 'pending' });
    }

    // A flood into the same inbox: 300 messages without the work (and some garbage), each posted
    // like any drop-box post. Every one is dropped before it is decrypted; none is queued.
    const parsed = parseProfileText(profile.text, Date.now());
    const { invite: inboxInvite, bundle: inboxBundle } = parseGroupInvite(parsed.inbox);
    const acn = new LoopbackACN({ registryDir: net.registryDir });
    const client = new RelayClient({ acn, bundle: inboxBundle, batchSize: 50 });
    const session = await client.openSession();
    const flooder = Identity.generate();
    const honest = sealJoinRequest({ ...parsed, effort: 8 }, flooder, { name: 'Flood', answers: ['x'] }, Date.now());
    const FLOOD = 300;
    try {
      for (let i = 0; i < FLOOD; i++) {
        // Every third is garbage; the rest are well-formed requests whose work is short even of what
        // a vouched request needs (less than that is opened, to look for a vouch: not a flood's price).
        const payload = i % 3 === 0 ? new Uint8Array(200).fill(i) : shortOfWork(honest.bytes, i, vouchedEffort(parsed.effort));
        await session.post(
          sealGroupMessage({ id: inboxInvite.groupId, key: inboxInvite.key, relay: inboxInvite.relay, members: null }, Identity.generate(), {
            timestamp: Date.now(),
            previous: groupGenesis(inboxInvite.groupId),
            payload,
            fragment: undefined,
          }),
        );
      }
    } finally {
      session.close();
      await client.close();
      await acn.close();
    }
    await untilAsync(
      [founder.admission],
      async () => {
        const d = (await inbox(founder)).dropped;
        return (d.malformed ?? 0) + (d.work ?? 0) + (d.foreign ?? 0) >= FLOOD;
      },
      'the flood to be dropped',
      120_000,
    );
    const after = await inbox(founder);
    expect(after.waiting).toBe(1);
    expect(after.dropped.unreadable).toBe(0);
    expect(founder.registry.get(id).log.size).toBe(eventsBefore);

    // Olu admits the stranger as a member; the stranger's node is handed the group and joins.
    const requestId = after.requests[0]!.id;
    const admitted = await api(olu, 'POST', p(`/join-requests/${requestId}/admit`), { roles: ['member'] });
    expect(admitted.status, JSON.stringify(admitted.body)).toBe(200);
    expect(admitted.body).toMatchObject({ status: 'member', roles: ['member'] });
    await untilStream(
      stranger,
      async () => {
        const r = await api(stranger, 'GET', p('/members'));
        return r.status === 200 && (r.body as { onion: string }[]).some((m) => m.onion === stranger.onion);
      },
      'the stranger to become a member',
    );
    expect(((await api(stranger, 'GET', '/api/join-profile/requests')).body as { status: string }[])[0]).toMatchObject({ status: 'joined' });
    // Deciding twice is refused; on the founder's node the request shows as a member now.
    await untilChange(
      [founder],
      () =>
        founder.registry
          .get(id)
          .log.state()
          .members.has(stranger.onion as never),
      'the founder to see the admission',
    );
    expect((await api(olu, 'POST', p(`/join-requests/${requestId}/admit`), { roles: ['member'] })).status).toBe(409);
    expect((await inbox(founder)).requests[0]!.status).toBe('member');

    // Olu is removed: the organizer key is re-keyed without them, and the founder's node publishes
    // the profile again under the new key (same inbox). A request sent to it reaches the founder;
    // Olu's node, which still follows the inbox with the old key, cannot open it.
    const removal = await api(founder, 'DELETE', p(`/members/${olu.identity.onion}`), { reason: 'moved away' });
    expect(removal.status, JSON.stringify(removal.body)).toBe(200);
    const organizerKey = () => founder.registry.get(id).log.state().roles.get('organizer')!.epochs.at(-1)!.keyIdHex;
    await untilChange(
      [founder],
      () => Buffer.from(founder.registry.get(id).log.state().profile!.profile.keyId).toString('hex') === organizerKey(),
      'the profile to be published again under the new key',
    );
    const renewed = ((await api(founder, 'GET', p('/profile'))).body as { profile: { text: string; stale: boolean } }).profile;
    expect(renewed.stale).toBe(false);
    expect(parseProfileText(renewed.text, Date.now()).inbox).toBe(parsed.inbox);
    const late = await node('late');
    expect((await api(late, 'POST', '/api/join-profile/requests', { profile: renewed.text, name: 'Late', answers: ['Block A'] })).status).toBe(201);
    await untilAsync([founder.admission], async () => (await inbox(founder)).requests.some((r) => r.name === 'Late'), 'the late request to reach the founder');
    await untilAsync([olu.admission], async () => (await inbox(olu)).dropped.unreadable! >= 1, 'olu’s node to fail to open it');
    expect((await inbox(olu)).requests.some((r) => r.name === 'Late')).toBe(false);
  });

  it('a declined and blocked stranger is told so by the role, learns no member, and its next request is dropped', { timeout: 300_000 }, async () => {
    const founder = await node('founder2');
    const id = ((await api(founder, 'POST', '/api/pursuances', { name: 'Quiet Cell', template: 'activist-cell' })).body as { id: string }).id;
    const p = (path: string) => `/api/pursuances/${id}${path}`;
    expect((await api(founder, 'POST', p('/relay/attach'), { bundle })).status).toBe(200);
    const { text } = (await api(founder, 'POST', p('/profile'), { role: 'organizer', about: '', asks: [], effort: 8 })).body as { text: string };
    const nosy = await node('nosy');
    expect((await api(nosy, 'POST', '/api/join-profile/requests', { profile: text, answers: [] })).status).toBe(201);
    const inbox = async () => (await api(founder, 'GET', p('/join-requests'))).body as InboxJson;
    await untilAsync([founder.admission], async () => (await inbox()).waiting === 1, 'the request to arrive');
    const rid = (await inbox()).requests[0]!.id;
    const declined = await api(founder, 'POST', p(`/join-requests/${rid}/decline`), { note: 'We only take tenants of our blocks.', block: true });
    expect(declined.body).toMatchObject({ status: 'declined' });
    const sentOf = async () => ((await api(nosy, 'GET', '/api/join-profile/requests')).body as { status: string; note: string | null }[])[0]!;
    await untilAsync([nosy.admission], async () => (await sentOf()).status === 'declined', 'the answer to reach the stranger');
    expect(await sentOf()).toMatchObject({ status: 'declined', note: 'We only take tenants of our blocks.' });

    // What the declined stranger holds names no member: its API, its contacts, and the one group
    // it follows (the inbox), whose invite names no real owner and whose posts (its own request,
    // the answer) were all signed by throwaway identities.
    expect(nosy.registry.has(id)).toBe(false);
    expect(nosy.peer.contacts().map((c) => c.onion)).not.toContain(founder.identity.onion);
    const nosyApi = JSON.stringify([(await api(nosy, 'GET', '/api/join-profile/requests')).body, (await api(nosy, 'GET', '/api/pursuances')).body]);
    expect(nosyApi).not.toContain(founder.identity.onion);
    const groups = nosy.peer.groups();
    expect(groups.map((g) => g.name)).toEqual(['drop-box']);
    expect([groups[0]!.owner, ...(groups[0]!.members ?? [])]).not.toContain(founder.identity.onion);
    const senders = nosy.peer.groupMessages(groups[0]!.id).map((m) => m.sender);
    expect(senders.length).toBeGreaterThanOrEqual(2);
    for (const o of [founder.identity.onion, nosy.identity.onion]) expect(senders).not.toContain(o);

    // Blocked: its next request is dropped without a place in the queue.
    expect((await api(nosy, 'POST', '/api/join-profile/requests', { profile: text, answers: [] })).status).toBe(201);
    await untilAsync([founder.admission], async () => (await inbox()).dropped.blocked === 1, 'the blocked request to be dropped');
    expect((await inbox()).waiting).toBe(0);
  });
});

/**
 * The same request with another nonce: well-formed, but with less work than `effort` (a nonce
 * that happens to meet it is skipped, so every one of these is short by construction).
 */
function shortOfWork(bytes: Uint8Array, i: number, effort: number): Uint8Array {
  const at = findNonce(bytes);
  for (let k = 0; ; k++) {
    const out = Uint8Array.from(bytes);
    // The nonce's last bytes: flipping them keeps the encoding canonical.
    out[at + 15] = (i + k) & 0xff;
    out[at + 14] = ((i + k) >> 8) ^ 0x5a;
    const m = canonicalDecode(out) as { p: Uint8Array; h: number; n: Uint8Array; ct: Uint8Array };
    if (leadingZeroBits(workDigest(m.p, m.h, m.n, m.ct)) < effort) return out;
  }
}

function findNonce(b: Uint8Array): number {
  // CBOR: the text "n" (0x61 0x6e), then a 16-byte string (0x50).
  for (let i = 0; i < b.length - 18; i++) if (b[i] === 0x61 && b[i + 1] === 0x6e && b[i + 2] === 0x50) return i + 3;
  throw new Error('no nonce in the request');
}

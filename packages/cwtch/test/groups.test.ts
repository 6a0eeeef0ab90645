import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, randomKey, toHex } from '@pursuance/crypto';
import { MemoryRelayStore, exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { randomMessage, testTokenKeys } from '@pursuance/relay/testing';
import {
  InviteInvalidError,
  InviteRejectedError,
  OVERLAY,
  deriveGroupId,
  encodeGroupInvite,
  parseGroupInvite,
  type CwtchPeer,
  type GroupMessage,
} from '../src/index.js';
import { AdversarialRelay } from './support/adversarial-relay.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld } from './support/world.js';

let world: CwtchWorld;
beforeAll(async () => {
  world = await cwtchWorld();
});
afterAll(async () => {
  await world.cleanup();
});

const texts = (peer: CwtchPeer, groupId: string) => peer.groupMessages(groupId).map((m) => m.overlay?.d);

/** `from` invites `to` over p2p; `to` accepts the invite it receives. Resolves with the group id. */
async function invite(from: CwtchPeer, to: CwtchPeer, groupId: string): Promise<string> {
  if (from.contact(to.onion)?.state !== 'accepted') await from.addContact(to.onion);
  const received = waitForEvent<{ text: string; from: string }>(to, 'groupInvite');
  await from.inviteToGroup(groupId, to.onion);
  const { text, from: sender } = await received;
  expect(sender).toBe(from.onion);
  return to.acceptGroupInvite(text);
}

async function synced(peer: CwtchPeer, relay: string): Promise<void> {
  await until<{ relay: string }>(peer, 'relaySynced', () => peer.isRelaySynced(relay));
}

describe('groups on a relay', () => {
  it('invites over p2p, posts, receives, acknowledges own posts by their echo', async () => {
    const relay = await world.relay();
    const alice = (await world.peer('alice')).peer;
    const bob = (await world.peer('bob')).peer;
    await alice.addRelay(relay.bundle);
    const groupId = await alice.createGroup({ name: 'crew', relay: relay.onion });
    expect(await invite(alice, bob, groupId)).toBe(groupId);
    expect(bob.group(groupId)).toMatchObject({ name: 'crew', relay: relay.onion, owner: alice.onion });
    await synced(bob, relay.onion);

    const acked = waitForEvent<{ signature: string }>(alice, 'groupMessageAcked');
    const atBob = waitForEvent<GroupMessage>(bob, 'groupMessage');
    const posted = await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'hello crew' });
    expect((await acked).signature).toBe(posted.signature);
    expect(await atBob).toMatchObject({ groupId, sender: alice.onion, own: false, overlay: { o: OVERLAY.chat, d: 'hello crew' } });

    const atAlice = waitForEvent<GroupMessage>(alice, 'groupMessage', (m) => !m.own);
    await bob.postToGroup(groupId, { o: OVERLAY.chat, d: 'hi alice' });
    expect((await atAlice).overlay?.d).toBe('hi alice');
    expect(texts(alice, groupId)).toEqual(['hello crew', 'hi alice']);
    expect(texts(bob, groupId)).toEqual(['hello crew', 'hi alice']);
    // Bob's reply points at Alice's message: one chain, no gaps.
    expect(alice.gapReport(groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });
  });

  it('fragments a large payload and reassembles it at the other end', async () => {
    const relay = await world.relay();
    const alice = (await world.peer('alice-f')).peer;
    const bob = (await world.peer('bob-f')).peer;
    await alice.addRelay(relay.bundle);
    const groupId = await alice.createGroup({ name: 'big', relay: relay.onion });
    await invite(alice, bob, groupId);
    await synced(bob, relay.onion);
    const big = 'x'.repeat(10_000) + 'end';
    const atBob = waitForEvent<GroupMessage>(bob, 'groupMessage');
    const posted = await alice.postToGroup(groupId, { o: OVERLAY.chat, d: big });
    expect(posted.parts).toHaveLength(3);
    const got = await atBob;
    expect(got.overlay?.d).toBe(big);
    expect(got.parts).toEqual(posted.parts);
  });

  it('uses a fresh ephemeral identity for every relay session', async () => {
    const relay = await world.relay();
    const remotes: string[] = [];
    relay.server.boardService.on('established', (conn) => remotes.push(conn.remoteOnion!));
    const alice = await world.peer('alice-e');
    await alice.peer.addRelay(relay.bundle);
    await alice.peer.createGroup({ name: 'g', relay: relay.onion });
    await synced(alice.peer, relay.onion);
    await alice.restart();
    await synced(alice.peer, relay.onion);
    expect(remotes).toHaveLength(2);
    expect(new Set(remotes).size).toBe(2);
    expect(remotes).not.toContain(alice.peer.onion);
  });

  it('keeps many groups on many relays apart (trial decryption per relay)', async () => {
    const [r1, r2] = [await world.relay(), await world.relay()];
    const alice = (await world.peer('alice-m')).peer;
    const bob = (await world.peer('bob-m')).peer;
    const carol = (await world.peer('carol-m')).peer;
    await alice.addRelay(r1.bundle);
    await alice.addRelay(r2.bundle);
    await carol.addRelay(r1.bundle);
    const g1 = await alice.createGroup({ name: 'one', relay: r1.onion });
    const g2 = await alice.createGroup({ name: 'two', relay: r1.onion });
    const g3 = await alice.createGroup({ name: 'three', relay: r2.onion });
    const foreign = await carol.createGroup({ name: 'not bob', relay: r1.onion });
    for (const g of [g1, g2, g3]) await invite(alice, bob, g);
    await synced(bob, r1.onion);
    await synced(bob, r2.onion);
    const got: GroupMessage[] = [];
    bob.on('groupMessage', (m) => got.push(m));
    await carol.postToGroup(foreign, { o: OVERLAY.chat, d: 'carol only' });
    for (const [g, text] of [
      [g1, 'in one'],
      [g2, 'in two'],
      [g3, 'in three'],
    ] as const)
      await alice.postToGroup(g, { o: OVERLAY.chat, d: text });
    await until(bob, 'groupMessage', () => got.length === 3);
    expect(Object.fromEntries(got.map((m) => [m.groupId, m.overlay?.d]))).toEqual({ [g1]: 'in one', [g2]: 'in two', [g3]: 'in three' });
    expect(
      bob
        .groups()
        .map((g) => g.id)
        .sort(),
    ).toEqual([g1, g2, g3].sort());
  });

  it('an offline member fetches from the last bucket the relay named to it, not from the start, and misses nothing', async () => {
    // The relay's store files by a clock the test moves, a minute per bucket; bob pings often,
    // so the relay names his frontier soon after it moves.
    let now = Math.floor(Date.now() / 60_000) * 60_000;
    const B = now / 60_000;
    const relay = await world.relay({ store: new MemoryRelayStore({ bucketMs: 60_000, now: () => now }) });
    const alice = (await world.peer('alice-o')).peer;
    const bob = await world.peer('bob-o', { options: { relayClient: { batchSize: 10, keepalive: { intervalMs: 40, timeoutMs: 5_000 } } } });
    await alice.addRelay(relay.bundle);
    const groupId = await alice.createGroup({ name: 'o', relay: relay.onion });
    await invite(alice, bob.peer, groupId);
    await synced(bob.peer, relay.onion);
    await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'long before' });
    await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(groupId).length === 1);
    now += 2 * 60_000;
    await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'before' });
    await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(groupId).length === 2);
    await until(bob.peer, 'relayFrontier', () => bob.peer.relayFrontier(relay.onion) === B + 2);
    await bob.stop();
    now += 60_000;
    const acked = new Set<string>();
    alice.on('groupMessageAcked', (a) => acked.add(a.signature));
    const posts: string[] = [];
    for (const text of ['while', 'you', 'were away']) posts.push((await alice.postToGroup(groupId, { o: OVERLAY.chat, d: text })).signature);
    await until(alice, 'groupMessageAcked', () => posts.every((s) => acked.has(s)));
    const peer = await bob.restart();
    expect(peer.relayFrontier(relay.onion)).toBe(B + 2);
    const fetched = await waitForEvent<{ relay: string; count: number }>(peer, 'relaySynced');
    // Buckets B+2 and B+3: the boundary bucket again ("before") and the three new ones, not
    // "long before" nor the group's earlier messages in bucket B.
    expect(fetched.count).toBe(4);
    await until(peer, 'groupMessage', () => peer.groupMessages(groupId).length === 5);
    expect(texts(peer, groupId)).toEqual(['long before', 'before', 'while', 'you', 'were away']);
  });

  it('a relay from before bucketed fetch: an offline member replays since the last message it processed', async () => {
    const relay = await AdversarialRelay.start(world.acn(), { buckets: false });
    try {
      const alice = (await world.peer('alice-s')).peer;
      const bob = await world.peer('bob-s');
      await alice.addRelay(relay.bundle);
      const groupId = await alice.createGroup({ name: 's', relay: relay.onion });
      await invite(alice, bob.peer, groupId);
      await synced(bob.peer, relay.onion);
      await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'long before' });
      await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'before' });
      await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(groupId).length === 2);
      await bob.stop();
      const acked = new Set<string>();
      alice.on('groupMessageAcked', (a) => acked.add(a.signature));
      const posts: string[] = [];
      for (const text of ['while', 'you', 'were away']) posts.push((await alice.postToGroup(groupId, { o: OVERLAY.chat, d: text })).signature);
      await until(alice, 'groupMessageAcked', () => posts.every((s) => acked.has(s)));
      const peer = await bob.restart();
      const replayed = await waitForEvent<{ relay: string; count: number }>(peer, 'relaySynced');
      // From the last message bob processed (sent again as the boundary): 1 + 3 of the relay's 5.
      expect(replayed.count).toBe(4);
      expect(peer.relayFrontier(relay.onion)).toBeUndefined();
      await until(peer, 'groupMessage', () => peer.groupMessages(groupId).length === 5);
      expect(texts(peer, groupId)).toEqual(['long before', 'before', 'while', 'you', 'were away']);
    } finally {
      await relay.close();
    }
  });

  it('joining a group on a relay it already follows replays that relay from the start (the group history predates its cursor)', async () => {
    const relay = await world.relay();
    const alice = (await world.peer('alice-j')).peer;
    const bob = (await world.peer('bob-j')).peer;
    await alice.addRelay(relay.bundle);
    const first = await alice.createGroup({ name: 'first', relay: relay.onion });
    await invite(alice, bob, first);
    await synced(bob, relay.onion);
    await alice.postToGroup(first, { o: OVERLAY.chat, d: 'in first' });
    await until(bob, 'groupMessage', () => bob.groupMessages(first).length === 1);
    // A second group on the same relay, with history from before bob joins it.
    const second = await alice.createGroup({ name: 'second', relay: relay.onion });
    const acked = waitForEvent<{ groupId: string }>(alice, 'groupMessageAcked', (a) => a.groupId === second);
    await alice.postToGroup(second, { o: OVERLAY.chat, d: 'old news in second' });
    await acked;
    await alice.postToGroup(first, { o: OVERLAY.chat, d: 'later in first' });
    await until(bob, 'groupMessage', () => bob.groupMessages(first).length === 2);
    await invite(alice, bob, second);
    await until(bob, 'groupMessage', () => bob.groupMessages(second).length === 1);
    expect(texts(bob, second)).toEqual(['old news in second']);
    expect(texts(bob, first)).toEqual(['in first', 'later in first']);
  });

  it('a joiner fetches from the bucket the group starts at, not the relay start; one already following moves its frontier back to it', async () => {
    let now = Math.floor(Date.now() / 60_000) * 60_000;
    const B = now / 60_000;
    const store = new MemoryRelayStore({ bucketMs: 60_000, now: () => now });
    const relay = await world.relay({ store });
    // An hour ago, other groups' traffic (the relay cannot tell whose).
    now -= 60 * 60_000;
    for (let i = 0; i < 5; i++) await store.post({ ...randomMessage(), tokenEpoch: 0, tokenInput: randomKey() });
    now += 60 * 60_000;
    const alice = (await world.peer('alice-b')).peer;
    const bob = await world.peer('bob-b', { options: { relayClient: { batchSize: 10, keepalive: { intervalMs: 40, timeoutMs: 5_000 } } } });
    await alice.addRelay(relay.bundle);
    const first = await alice.createGroup({ name: 'first', relay: relay.onion });
    const second = await alice.createGroup({ name: 'second', relay: relay.onion });
    // A new group starts at our clock's bucket less the skew a relay clock may have (10 minutes).
    expect(alice.group(first).since).toBe(B - 10);
    for (const [groupId, d] of [
      [first, 'in first'],
      [second, 'in second'],
    ] as const) {
      const acked = waitForEvent<{ groupId: string }>(alice, 'groupMessageAcked', (a) => a.groupId === groupId);
      await alice.postToGroup(groupId, { o: OVERLAY.chat, d });
      await acked;
    }
    const fetched = waitForEvent<{ relay: string; count: number }>(bob.peer, 'relaySynced');
    await invite(alice, bob.peer, first);
    // Both groups' messages, not the hour-old traffic.
    expect((await fetched).count).toBe(2);
    await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(first).length === 1);
    now += 3 * 60_000;
    await until(bob.peer, 'relayFrontier', () => bob.peer.relayFrontier(relay.onion) === B + 3);
    // Bob follows the relay from B + 3 now; the second group's history lies before that.
    const again = waitForEvent<{ relay: string; count: number }>(bob.peer, 'relaySynced');
    await invite(alice, bob.peer, second);
    expect((await again).count).toBe(2);
    await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(second).length === 1);
    expect(texts(bob.peer, second)).toEqual(['in second']);
  });

  it('mirrors a group on a second relay without an invite: both members derive the same mirror, and it carries on when the first relay dies', async () => {
    const first = await world.relay();
    const second = await world.relay();
    const alice = (await world.peer('alice-m')).peer;
    const bob = await world.peer('bob-m');
    await alice.addRelay(first.bundle);
    const groupId = await alice.createGroup({ name: 'm', relay: first.onion });
    await invite(alice, bob.peer, groupId);
    const aliceMirror = await alice.mirrorGroup(groupId, second.bundle);
    const bobMirror = await bob.peer.mirrorGroup(groupId, second.bundle);
    expect(bobMirror).toBe(aliceMirror);
    expect(aliceMirror).toBe(deriveGroupId(alice.group(groupId).key, second.onion));
    expect(alice.group(aliceMirror)).toMatchObject({ mirrorOf: groupId, relay: second.onion, name: 'm', owner: alice.onion });
    // Idempotent, and never on the group's own relay.
    expect(await alice.mirrorGroup(groupId, second.bundle)).toBe(aliceMirror);
    await expect(alice.mirrorGroup(groupId, first.bundle)).rejects.toBeInstanceOf(InviteInvalidError);
    await synced(bob.peer, second.onion);
    await first.stop();
    const acked = waitForEvent<{ groupId: string }>(alice, 'groupMessageAcked', (a) => a.groupId === aliceMirror);
    await alice.postToGroup(aliceMirror, { o: OVERLAY.chat, d: 'through the mirror' });
    await acked;
    await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(bobMirror).length === 1);
    expect(texts(bob.peer, bobMirror)).toEqual(['through the mirror']);
    // The mirror survives a restart.
    const again = await bob.restart();
    expect(again.group(bobMirror).mirrorOf).toBe(groupId);
  });

  it('refuses invites whose relay bundle changed since it was pinned, or whose group id does not match', async () => {
    const relay = await world.relay();
    const alice = (await world.peer('alice-i')).peer;
    const bob = (await world.peer('bob-i')).peer;
    await alice.addRelay(relay.bundle);
    const groupId = await alice.createGroup({ name: 'i', relay: relay.onion });
    await invite(alice, bob, groupId);
    // The same board identity now presents other keys (a relay swapping its token key).
    const board = relay.server.boardService.identity;
    const changed = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const key = randomKey();
    const parsed = parseGroupInvite(alice.groupInvite(groupId)).invite;
    const text = encodeGroupInvite({ ...parsed, groupId: deriveGroupId(key, relay.onion), key }, changed);
    await expect(bob.acceptGroupInvite(text)).rejects.toBeInstanceOf(InviteRejectedError);
    // A group id that is not derived from the key and relay.
    const forgedId = encodeGroupInvite({ ...parsed, key }, relay.bundle);
    await expect(bob.acceptGroupInvite(forgedId)).rejects.toBeInstanceOf(InviteInvalidError);
    expect(bob.groups().map((g) => g.id)).toEqual([groupId]);
    expect(toHex(bob.group(groupId).key)).toBe(toHex(alice.group(groupId).key));
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, type OnionName } from '@pursuance/crypto';
import { OVERLAY, type CwtchPeer } from '../src/index.js';
import type { RepairOutcome } from '../src/repair.js';
import { AdversarialRelay, honest, type RelaySession } from './support/adversarial-relay.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld, type PeerHandle } from './support/world.js';

/**
 * An application re-keyed its group away from carol (expelled) and retires the old one: carol
 * still holds the old key and keeps posting, but nothing of hers gets in any more — neither
 * from the relay nor through gap repair — while members' late posts there still do.
 */
let world: CwtchWorld;
let relay: AdversarialRelay;
let alice: PeerHandle;
let bob: PeerHandle;
let carol: PeerHandle;
let groupId: string;

const texts = (peer: CwtchPeer) => peer.groupMessages(groupId).map((m) => m.overlay?.d);
const post = async (peer: CwtchPeer, text: string) => (await peer.postToGroup(groupId, { o: OVERLAY.chat, d: text })).signature;
const has = (peer: CwtchPeer, signature: string) => peer.groupMessages(groupId).some((m) => m.signature === signature);
const stillMembers = (peer: CwtchPeer) => peer.setGroupMembership((id) => (id === groupId ? [alice.peer.onion, bob.peer.onion] : null));

async function synced(peer: CwtchPeer): Promise<void> {
  await until<{ relay: string }>(peer, 'relaySynced', () => peer.isRelaySynced(relay.onion));
}

beforeAll(async () => {
  world = await cwtchWorld();
  relay = await AdversarialRelay.start(world.acn());
  alice = await world.peer('alice');
  bob = await world.peer('bob');
  carol = await world.peer('carol');
  await alice.peer.addRelay(relay.bundle);
  // An open group, as the application uses them: who counts as a member is its business.
  groupId = await alice.peer.createGroup({ name: 'cell', relay: relay.onion, members: null });
  for (const member of [bob, carol]) {
    await alice.peer.addContact(member.peer.onion);
    const invited = waitForEvent<{ text: string }>(member.peer, 'groupInvite');
    await alice.peer.inviteToGroup(groupId, member.peer.onion);
    await member.peer.acceptGroupInvite((await invited).text);
    await member.peer.addContact(alice.peer.onion);
  }
  await Promise.all([alice, bob, carol].map((h) => synced(h.peer)));
});
afterAll(async () => {
  await world.cleanup();
  await relay.close();
});

describe('a retired group', () => {
  it('takes in nothing more from a sender the application no longer counts, while members and own posts still get through', async () => {
    const before = await post(carol.peer, 'carol, still a member');
    await until(alice.peer, 'groupMessage', () => has(alice.peer, before));
    await until(bob.peer, 'groupMessage', () => has(bob.peer, before));

    for (const h of [alice, bob]) {
      stillMembers(h.peer);
      await h.peer.setGroupRetired(groupId, true);
      expect(h.peer.group(groupId).retired).toBe(true);
    }
    const refusedAtAlice = waitForEvent<{ code: string }>(alice.peer, 'groupMessageRejected');
    const refusedAtBob = waitForEvent<{ code: string }>(bob.peer, 'groupMessageRejected');
    const expelled = await post(carol.peer, 'carol, expelled');
    expect((await refusedAtAlice).code).toBe('NOT_A_MEMBER');
    expect((await refusedAtBob).code).toBe('NOT_A_MEMBER');

    const late = await post(bob.peer, 'bob, late in the old group');
    await until(alice.peer, 'groupMessage', () => has(alice.peer, late));
    const acked = new Set<string>();
    alice.peer.on('groupMessageAcked', (a) => acked.add(a.signature));
    const own = await post(alice.peer, 'alice, queued before she moved on');
    await until(alice.peer, 'groupMessageAcked', () => acked.has(own));
    for (const h of [alice, bob]) {
      expect(has(h.peer, expelled)).toBe(false);
      expect(texts(h.peer)).not.toContain('carol, expelled');
    }
    // Carol herself still reads the old group: retiring is about what others take in.
    await until(carol.peer, 'groupMessage', () => has(carol.peer, own));
  });

  it('is not repaired for, nor served to, a sender the application no longer counts', async () => {
    // The relay keeps bob's next post from carol's session, so carol sees a gap and asks.
    const session = waitForEvent<RelaySession>(relay, 'session');
    await carol.restart({ start: false });
    const starting = carol.peer.start();
    const target = (await session).n;
    await starting;
    await synced(carol.peer);
    let hidden: string | undefined;
    let dropped!: () => void;
    const droppedOne = new Promise<void>((resolve) => (dropped = resolve));
    relay.policy = {
      replay: honest.replay,
      push: (s, m) => {
        if (s.n !== target || hidden !== undefined) return [m];
        hidden = toHex(m.signature);
        dropped();
        return [];
      },
    };
    const withheld = await post(bob.peer, 'hidden from carol by the relay');
    await droppedOne;
    expect(hidden).toBe(withheld);
    const firstRun = waitForEvent<RepairOutcome>(carol.peer, 'repairFinished', (o) => o.unrepaired.includes(withheld));
    const next = await post(bob.peer, 'points at the hidden one');
    await until(carol.peer, 'groupMessage', () => has(carol.peer, next));
    await firstRun;
    // Both alice and bob hold it; asked over live links, both answer as if they knew no such group.
    expect(has(alice.peer, withheld) && has(bob.peer, withheld)).toBe(true);
    const refused = await carol.peer.repairGaps(groupId);
    expect(carol.peer.isConnected(alice.peer.onion) && carol.peer.isConnected(bob.peer.onion)).toBe(true);
    expect(refused).toMatchObject({ repaired: [], unrepaired: [withheld] });
    expect(has(carol.peer, withheld)).toBe(false);
    // The same request, once alice counts carol again, is answered: membership decided it.
    alice.peer.setGroupMembership((id) => (id === groupId ? [alice.peer.onion, bob.peer.onion, carol.peer.onion] : null));
    expect(await carol.peer.repairGaps(groupId)).toMatchObject({ repaired: [withheld], unrepaired: [] });
    stillMembers(alice.peer);
    relay.policy = honest;
  });

  it('stays retired across a restart', async () => {
    const peer = await alice.restart({ start: false });
    expect(peer.group(groupId).retired).toBe(true);
    stillMembers(peer);
    await peer.start();
    await synced(peer);
    const refused = waitForEvent<{ code: string }>(peer, 'groupMessageRejected');
    const again = await post(carol.peer, 'carol, after alice restarted');
    expect((await refused).code).toBe('NOT_A_MEMBER');
    const member = await post(bob.peer, 'bob, after alice restarted');
    await until(peer, 'groupMessage', () => has(peer, member));
    expect(has(peer, again)).toBe(false);
    expect(new Set<OnionName>(peer.groupMessages(groupId).map((m) => m.sender)).has(carol.peer.onion)).toBe(true); // history kept

    // Brought back (the application's choice of group changed again): open to all again.
    await peer.setGroupRetired(groupId, false);
    expect(peer.group(groupId).retired).toBe(false);
    const back = await post(carol.peer, 'carol, once the group is back');
    await until(peer, 'groupMessage', () => has(peer, back));
  });
});

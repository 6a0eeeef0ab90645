import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OVERLAY, encodeGroupInvite, parseGroupInvite, type CwtchPeer } from '../src/index.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld } from './support/world.js';

let world: CwtchWorld;
beforeAll(async () => {
  world = await cwtchWorld();
});
afterAll(async () => {
  await world.cleanup();
});

const texts = (peer: CwtchPeer, groupId: string) => peer.groupHistory(groupId).map((m) => m.overlay?.d);

async function join(owner: CwtchPeer, member: CwtchPeer, groupId: string): Promise<void> {
  await owner.addContact(member.onion);
  const invited = waitForEvent<{ text: string }>(member, 'groupInvite');
  await owner.inviteToGroup(groupId, member.onion);
  await member.acceptGroupInvite((await invited).text);
}

describe('moving a group to another relay', () => {
  it('members follow a signed move; one offline at the time finds it later; history stays intact', async () => {
    const [r1, r2] = [await world.relay(), await world.relay()];
    const alice = (await world.peer('alice')).peer;
    const bob = (await world.peer('bob')).peer;
    const carol = await world.peer('carol');
    await alice.addRelay(r1.bundle);
    const old = await alice.createGroup({ name: 'movable', relay: r1.onion });
    await join(alice, bob, old);
    await join(alice, carol.peer, old);
    await alice.postToGroup(old, { o: OVERLAY.chat, d: 'on the first relay' });
    await until(carol.peer, 'groupMessage', () => carol.peer.groupMessages(old).length === 1);
    await carol.stop();

    const bobMoved = waitForEvent<{ from: string; to: string }>(bob, 'groupMoved');
    const moved = await alice.moveGroup(old, r2.bundle);
    expect(await bobMoved).toEqual({ from: old, to: moved });
    expect(alice.currentGroupId(old)).toBe(moved);
    expect(bob.group(moved)).toMatchObject({ relay: r2.onion, movedFrom: old, owner: alice.onion });
    await until(bob, 'relaySynced', () => bob.isRelaySynced(r2.onion));
    // Posting to the old id goes to the group's new home.
    const posted = await bob.postToGroup(old, { o: OVERLAY.chat, d: 'on the second relay' });
    expect(posted.groupId).toBe(moved);
    await until(alice, 'groupMessage', () => alice.groupMessages(moved).length === 1);

    // Carol was offline during the move: on her return the old relay shows her the move.
    const peer = await carol.restart({ start: false });
    const carolMoved = waitForEvent<{ from: string; to: string }>(peer, 'groupMoved');
    await peer.start();
    expect(await carolMoved).toEqual({ from: old, to: moved });
    await until(peer, 'groupMessage', () => peer.groupMessages(moved).length === 1);
    expect(peer.group(moved).relay).toBe(r2.onion);
    expect(texts(peer, old)).toEqual(['on the first relay', expect.stringContaining('tofubundle:'), 'on the second relay']);
    expect(texts(peer, moved)).toEqual(texts(alice, old));
  });

  it('refuses a move from anyone but the owner', async () => {
    const [r1, r2] = [await world.relay(), await world.relay()];
    const alice = (await world.peer('alice-x')).peer;
    const bob = (await world.peer('bob-x')).peer;
    await alice.addRelay(r1.bundle);
    await bob.addRelay(r2.bundle);
    const groupId = await alice.createGroup({ name: 'mine', relay: r1.onion });
    await join(alice, bob, groupId);
    await expect(bob.moveGroup(groupId, r2.bundle)).rejects.toMatchObject({ code: 'MOVE_NOT_AUTHORISED' });
    // Bob posts a move overlay by hand: alice refuses to follow it.
    const hijack = bob.groups().find((g) => g.id === groupId)!;
    const fake = encodeGroupInvite({ ...parseGroupInvite(alice.groupInvite(groupId)).invite, owner: bob.onion, members: null }, hijack.bundle);
    const rejected = waitForEvent<{ code: string }>(alice, 'groupMessageRejected');
    await bob.postToGroup(groupId, { o: OVERLAY.groupMove, d: fake });
    expect((await rejected).code).toBe('MOVE_NOT_AUTHORISED');
    expect(alice.currentGroupId(groupId)).toBe(groupId);
  });
});

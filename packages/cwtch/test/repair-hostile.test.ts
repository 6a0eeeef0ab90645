import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, fromHex, randomKey, toHex } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TapirService, type Connection } from '@pursuance/tapir';
import { OVERLAY, deriveGroupId, type CwtchPeer } from '../src/index.js';
import { PEER_CONTEXT } from '../src/protocol-profile.js';
import { encodePeerMessage, newMessageId, parsePeerMessage } from '../src/peer-protocol.js';
import { encodeRepairRequest, parseRepairAnswer } from '../src/repair-protocol.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld, type PeerHandle } from './support/world.js';

/**
 * Gap repair asked by someone outside the group. The signatures of a group's messages are not
 * secret (the relay sees them, and so does anyone who can list the relay), and a group id can
 * leak with an old invite; neither may buy a stranger the group's messages, nor tell it whether
 * the peer it asks is in that group. So a stranger's request for a real group with real
 * signatures must get byte for byte the reply to a request for a group that does not exist.
 * A member asking the same way gets the messages: the requests below are well-formed.
 */
let world: CwtchWorld;
let alice: PeerHandle;
let bob: PeerHandle;
let relayOnion: string;
/** A group with an explicit member list, and an open one (members = null). */
let listed: string;
let open: string;

async function invite(from: CwtchPeer, to: CwtchPeer, groupId: string): Promise<void> {
  if (from.contact(to.onion)?.state !== 'accepted') await from.addContact(to.onion);
  const received = waitForEvent<{ text: string }>(to, 'groupInvite');
  await from.inviteToGroup(groupId, to.onion);
  await to.acceptGroupInvite((await received).text);
}

async function converse(groupId: string): Promise<void> {
  await alice.peer.postToGroup(groupId, { o: OVERLAY.chat, d: `first in ${groupId.slice(0, 6)}` });
  await until(bob.peer, 'groupMessage', () => bob.peer.groupMessages(groupId).length === 1);
  await bob.peer.postToGroup(groupId, { o: OVERLAY.chat, d: 'a reply' });
  await until(alice.peer, 'groupMessage', () => alice.peer.groupMessages(groupId).length === 2);
}

beforeAll(async () => {
  world = await cwtchWorld();
  const relay = await world.relay();
  relayOnion = relay.onion;
  alice = await world.peer('alice');
  bob = await world.peer('bob');
  await alice.peer.addRelay(relay.bundle);
  listed = await alice.peer.createGroup({ name: 'listed', relay: relay.onion, members: [bob.peer.onion] });
  open = await alice.peer.createGroup({ name: 'open', relay: relay.onion });
  for (const g of [listed, open]) await invite(alice.peer, bob.peer, g);
  await until<{ relay: string }>(bob.peer, 'relaySynced', () => bob.peer.isRelaySynced(relay.onion));
  for (const g of [listed, open]) await converse(g);
});
afterAll(async () => {
  await world.cleanup();
});

interface Reply {
  readonly context: string;
  readonly data: string;
}

/** Dial `to` as `identity` (3DH-authenticated, like any peer) and ask for `signatures` of `groupId`. */
async function askForRepair(identity: Identity, to: CwtchPeer, groupId: string, signatures: readonly string[]): Promise<Reply[]> {
  const service = new TapirService(world.acn(), identity);
  try {
    const conn: Connection = await service.connect(to.onion, new ApplicationChain([new AuthApp()]));
    const id = newMessageId();
    await conn.send(
      encodePeerMessage({ id, context: PEER_CONTEXT.groupSyncRequest, data: encodeRepairRequest({ groupId, signatures: signatures.map(fromHex) }) }),
    );
    const replies: Reply[] = [];
    for (;;) {
      const message = parsePeerMessage(await conn.expect());
      if (message.id !== id) continue;
      replies.push({ context: message.context, data: toHex(message.data) });
      if (message.context === PEER_CONTEXT.groupSyncEnd) return replies;
    }
  } finally {
    await service.close();
  }
}

const signaturesOf = (groupId: string): string[] => alice.peer.groupMessages(groupId).map((m) => m.signature);
const END_ONLY: Reply[] = [{ context: PEER_CONTEXT.groupSyncEnd, data: '' }];

describe('gap repair asked by a stranger', () => {
  for (const which of ['listed', 'open'] as const) {
    const groupOf = (): string => (which === 'listed' ? listed : open);

    it(`a member gets the messages it asks for (${which} group) — the control`, async () => {
      const groupId = groupOf();
      const wanted = signaturesOf(groupId);
      expect(wanted).toHaveLength(2);
      const replies = await askForRepair(bob.peer.identity, alice.peer, groupId, wanted);
      expect(replies.map((r) => r.context)).toEqual([PEER_CONTEXT.groupSyncMessage, PEER_CONTEXT.groupSyncMessage, PEER_CONTEXT.groupSyncEnd]);
      const answered = replies.slice(0, 2).map((r) => toHex(parseRepairAnswer(fromHex(r.data)).signature));
      expect(answered.sort()).toEqual([...wanted].sort());
    });

    it(`a stranger is answered exactly like a request for an unknown group (${which} group)`, async () => {
      const groupId = groupOf();
      const wanted = signaturesOf(groupId);
      const stranger = Identity.generate();
      const unknownGroup = deriveGroupId(randomKey(), relayOnion as never);
      const forReal = await askForRepair(stranger, alice.peer, groupId, wanted);
      const forNothing = await askForRepair(stranger, alice.peer, unknownGroup, wanted);
      expect(forReal).toEqual(END_ONLY);
      expect(forNothing).toEqual(END_ONLY);
      // Asking left no trace that would make the stranger a contact (and so a future server).
      expect(alice.peer.contact(stranger.onion)).toBeUndefined();
    });
  }

  it('a stranger who first sent a contact request (pending, not accepted) gets nothing either', async () => {
    const mallory = await world.peer('mallory');
    const requested = waitForEvent<string>(alice.peer, 'contactRequest', (onion) => onion === mallory.peer.onion);
    await mallory.peer.addContact(alice.peer.onion);
    await mallory.peer.sendMessage(alice.peer.onion, 'hi, remember me?');
    await requested;
    expect(alice.peer.contact(mallory.peer.onion)?.state).toBe('pending');
    for (const groupId of [listed, open]) {
      expect(await askForRepair(mallory.peer.identity, alice.peer, groupId, signaturesOf(groupId))).toEqual(END_ONLY);
    }
  });

  it('a member of one group asking for another group it is not in gets nothing', async () => {
    // Carol is alice's accepted contact through a group of her own, not a member of `listed`:
    // a member list is the whole answer, contact or not. (An open group, with no list, serves
    // accepted contacts by design, so it is not asked here.)
    const carol = await world.peer('carol');
    const carolsGroup = await alice.peer.createGroup({ name: 'carol only', relay: relayOnion, members: [carol.peer.onion] });
    await invite(alice.peer, carol.peer, carolsGroup);
    expect(alice.peer.contact(carol.peer.onion)?.state).toBe('accepted');
    expect(await askForRepair(carol.peer.identity, alice.peer, listed, signaturesOf(listed))).toEqual(END_ONLY);
  });
});

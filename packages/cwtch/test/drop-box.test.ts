import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, randomKey } from '@pursuance/crypto';
import { RelayClient } from '@pursuance/relay';
import { GroupMessageInvalidError } from '../src/errors.js';
import { groupGenesis } from '../src/group-id.js';
import {
  DROP_BOX_GROUP_NAME,
  MAX_GROUP_PAYLOAD_PER_MESSAGE,
  isDropBoxGroup,
  newDropBoxInvite,
  parseGroupInvite,
  postToDropBox,
  sealGroupMessage,
  type CwtchPeer,
  type GroupMessage,
} from '../src/index.js';
import { until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld } from './support/world.js';

/**
 * Drop boxes over a real relay on loopback: an invite that names nobody, posts by throwaway
 * identities that a reader receives, and the receive pipeline's refusal of what a stranger holding
 * the public invite could use against its readers (fragments left half-sent, made-up gaps).
 */
let world: CwtchWorld;
beforeAll(async () => {
  world = await cwtchWorld();
});
afterAll(async () => {
  await world.cleanup();
});

const DAY = 86_400_000;

async function reader(name: string, invite: string): Promise<{ peer: CwtchPeer; groupId: string }> {
  const peer = (await world.peer(name)).peer;
  const groupId = await peer.acceptGroupInvite(invite);
  const relay = parseGroupInvite(invite).invite.relay;
  await until<{ relay: string }>(peer, 'relaySynced', () => peer.isRelaySynced(relay));
  return { peer, groupId };
}

describe('drop boxes', () => {
  it('have an invite that names no one: a throwaway owner, no member list, the day it was made', async () => {
    const relay = await world.relay();
    const now = Date.UTC(2026, 11, 5, 13, 37, 11);
    const a = parseGroupInvite(newDropBoxInvite(relay.bundle, now)).invite;
    const b = parseGroupInvite(newDropBoxInvite(relay.bundle, now)).invite;
    expect(a).toMatchObject({ name: DROP_BOX_GROUP_NAME, members: null, relay: relay.onion, timestamp: Date.UTC(2026, 11, 5) });
    expect(a.timestamp % DAY).toBe(0);
    // Two boxes share nothing: neither key, nor id, nor the stand-in owner.
    expect(a.groupId).not.toBe(b.groupId);
    expect(a.owner).not.toBe(b.owner);
    expect(isDropBoxGroup(a)).toBe(true);
    expect(isDropBoxGroup({ name: DROP_BOX_GROUP_NAME, members: [a.owner] })).toBe(false);
    expect(isDropBoxGroup({ name: 'crew', members: null })).toBe(false);
  });

  it('deliver each post to every reader, each signed by a different throwaway identity', async () => {
    const relay = await world.relay();
    const invite = newDropBoxInvite(relay.bundle, Date.now());
    const { peer, groupId } = await reader('box-reader', invite);
    const got: GroupMessage[] = [];
    peer.on('groupMessage', (m) => {
      if (m.groupId === groupId) got.push(m);
    });
    for (const text of ['first', 'second']) await postToDropBox(invite, new TextEncoder().encode(text), { acn: world.acn() });
    await until(peer, 'groupMessage', () => got.length === 2);
    expect(got.map((m) => new TextDecoder().decode(m.payload)).sort()).toEqual(['first', 'second']);
    const senders = new Set(got.map((m) => m.sender));
    expect(senders.size).toBe(2);
    expect(senders.has(peer.onion)).toBe(false);
    expect(senders.has(parseGroupInvite(invite).invite.owner)).toBe(false);
    expect(peer.gapReport(groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });
  });

  it('refuse a post too large for one message before anything is sent', async () => {
    const relay = await world.relay();
    const invite = newDropBoxInvite(relay.bundle, Date.now());
    await expect(postToDropBox(invite, new Uint8Array(4_000), { acn: world.acn() })).rejects.toBeInstanceOf(GroupMessageInvalidError);
  });

  it('refuse fragments and posts naming another previous message: no half-sets kept, no gap to repair', async () => {
    const relay = await world.relay();
    const invite = newDropBoxInvite(relay.bundle, Date.now());
    const { peer, groupId } = await reader('box-guard', invite);
    const { invite: g, bundle } = parseGroupInvite(invite);
    const keys = { id: g.groupId, key: g.key, relay: g.relay, members: null };
    const rejected: string[] = [];
    const gaps: string[] = [];
    peer.on('groupMessageRejected', (r) => {
      if (r.groupId === groupId) rejected.push(r.code);
    });
    peer.on('gap', (e) => gaps.push(e.groupId));
    const stranger = Identity.generate();
    const fragment = sealGroupMessage(keys, stranger, {
      timestamp: Date.now(),
      previous: groupGenesis(g.groupId),
      // The first of two parts, well-formed: whole as a fragment, but a drop box takes none.
      payload: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE),
      fragment: { id: randomKey().subarray(0, 16), index: 0, count: 2, length: MAX_GROUP_PAYLOAD_PER_MESSAGE + 1 },
    });
    const madeUpGap = sealGroupMessage(keys, stranger, {
      timestamp: Date.now(),
      previous: new Uint8Array(64).fill(7),
      payload: new Uint8Array(10),
      fragment: undefined,
    });
    const fine = sealGroupMessage(keys, Identity.generate(), {
      timestamp: Date.now(),
      previous: groupGenesis(g.groupId),
      payload: new Uint8Array([1]),
      fragment: undefined,
    });
    const client = new RelayClient({ acn: world.acn(), bundle, batchSize: 5 });
    const session = await client.openSession();
    const delivered = waitForEvent<GroupMessage>(peer, 'groupMessage', (m) => m.groupId === groupId);
    try {
      for (const m of [fragment, madeUpGap, fine]) await session.post(m);
    } finally {
      session.close();
      await client.close();
    }
    // The well-formed post, sent last, arrives; the two before it were refused on the way.
    expect((await delivered).payload).toEqual(new Uint8Array([1]));
    await until(peer, 'groupMessageRejected', () => rejected.length === 2);
    expect(rejected).toEqual(['GROUP_MESSAGE_INVALID', 'GROUP_MESSAGE_INVALID']);
    expect(gaps).toEqual([]);
    expect(peer.gapReport(groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });
    expect(peer.groupMessages(groupId)).toHaveLength(1);
  });
});

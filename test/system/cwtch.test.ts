import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { PeerProcess, type GroupMessageSummary } from './fixtures/cwtch-peer-process.js';

/**
 * The Cwtch peer across real OS processes on 127.0.0.1: two relay daemons (apps/relay) and
 * three peers (test/system/fixtures/cwtch-peer.ts, each with its own SQLite profile), all on
 * one loopback ACN registry. Invites travel p2p, group messages through the relay process, an
 * offline member catches up when it comes back, and a group moved while a member was offline
 * is found and followed.
 */
let dir: string;
let registryDir: string;
const relays: RelayProcess[] = [];
const peers = new Map<string, PeerProcess>();

async function startPeer(name: string): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dataDir: join(dir, name), registryDir, name });
  peers.set(name, peer);
  return peer;
}

async function restartPeer(name: string): Promise<PeerProcess> {
  const old = peers.get(name)!;
  await old.stop();
  return startPeer(name);
}

/** Every file in `directory` whose name starts with `prefix` (a database and its -wal/-shm), concatenated. */
async function filesOf(directory: string, prefix: string): Promise<Buffer> {
  const names = (await readdir(directory)).filter((f) => f.startsWith(prefix));
  return Buffer.concat(await Promise.all(names.map((f) => readFile(join(directory, f)))));
}

const texts = (messages: GroupMessageSummary[]) => messages.map((m) => m.text);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cwtch-sys-'));
  registryDir = join(dir, 'registry');
});
afterAll(async () => {
  await Promise.allSettled([...peers.values()].map((p) => p.kill()));
  await Promise.allSettled(relays.map((r) => r.stop('SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

describe('cwtch peers as separate processes', () => {
  let groupId: string;

  it('three peers and one relay: invites, group messages, an offline member catches up on reconnect', async () => {
    const relay = await startRelayProcess({ dataDir: join(dir, 'relay-1'), registryDir });
    relays.push(relay);
    const [alice, bob, carol] = await Promise.all([startPeer('alice'), startPeer('bob'), startPeer('carol')]);
    await alice.call('addRelay', relay.bundle);
    groupId = await alice.call<string>('createGroup', { name: 'crew', relay: relay.boardOnion, members: [bob.onion, carol.onion] });
    for (const member of [bob, carol]) {
      await alice.call('addContact', member.onion);
      await member.call('addContact', alice.onion);
      await alice.call('inviteToGroup', groupId, member.onion);
      const invite = await member.waitFor('groupInvite');
      expect(await member.call('acceptGroupInvite', invite.text)).toBe(groupId);
      await member.waitFor('relaySynced');
    }
    await alice.waitFor('relaySynced');

    await alice.call('post', groupId, 'hello from alice');
    for (const p of [bob, carol]) await p.untilMessages(groupId, (m) => m.length === 1);
    await bob.call('post', groupId, 'hello from bob');
    for (const p of [alice, carol]) await p.untilMessages(groupId, (m) => m.length === 2);

    // Carol goes offline; the others keep talking.
    await carol.stop();
    await alice.call('post', groupId, 'while carol was away 1');
    await bob.call('post', groupId, 'while carol was away 2');
    await alice.call('post', groupId, 'while carol was away 3');
    const all = await alice.untilMessages(groupId, (m) => m.length === 5);
    // Bob has all five from the relay, so the relay has them.
    await bob.untilMessages(groupId, (m) => m.length === 5);

    const back = await restartPeer('carol');
    const caughtUp = await back.untilMessages(groupId, (m) => m.length === 5);
    expect(new Set(caughtUp.map((m) => m.signature))).toEqual(new Set(all.map((m) => m.signature)));
    expect(texts(caughtUp).slice(0, 2)).toEqual(['hello from alice', 'hello from bob']);
    expect(texts(caughtUp).slice(2).sort()).toEqual(['while carol was away 1', 'while carol was away 2', 'while carol was away 3']);
    expect(await back.call('gapReport', groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });

    // What the relay keeps on disk names no member, no group and no content.
    const onDisk = await filesOf(join(dir, 'relay-1'), 'relay.sqlite');
    for (const secret of [groupId, alice.onion, bob.onion, back.onion, 'hello from alice', 'crew']) {
      expect(onDisk.includes(Buffer.from(secret))).toBe(false);
    }
    expect(onDisk.includes(Buffer.from(groupId, 'hex'))).toBe(false);
    // And the peers' own profiles are sealed too.
    const profile = await filesOf(join(dir, 'alice'), 'profile.sqlite');
    expect(profile.length).toBeGreaterThan(0);
    for (const secret of [groupId, bob.onion, 'hello from alice', 'crew']) expect(profile.includes(Buffer.from(secret))).toBe(false);
  });

  it('a group moved to a second relay while a member is offline: that member finds the move and follows', async () => {
    const relay2 = await startRelayProcess({ dataDir: join(dir, 'relay-2'), registryDir });
    relays.push(relay2);
    const alice = peers.get('alice')!;
    const bob = peers.get('bob')!;
    await peers.get('carol')!.stop();

    const moved = await alice.call<string>('moveGroup', groupId, relay2.bundle);
    expect(moved).not.toBe(groupId);
    expect((await bob.waitFor('groupMoved')).to).toBe(moved);
    await bob.waitFor('relaySynced', (e) => e.relay === relay2.boardOnion);
    await bob.call('post', groupId, 'first on relay 2'); // posting to the old id lands in the new group
    await alice.untilMessages(moved, (m) => m.length === 1);

    const carol = await startPeer('carol');
    const followed = await carol.waitFor('groupMoved');
    expect(followed).toMatchObject({ from: groupId, to: moved });
    expect(await carol.call('currentGroupId', groupId)).toBe(moved);
    expect(await carol.call('group', moved)).toMatchObject({ relay: relay2.boardOnion, movedFrom: groupId });
    const history = await carol.untilMessages(groupId, (m) => m.some((x) => x.text === 'first on relay 2'), 'history');
    // History intact: the five messages from before, the signed move, then the new relay's message.
    expect(history).toHaveLength(7);
    expect(history[5]).toMatchObject({ o: 102, sender: alice.onion });
    expect(history[6]).toMatchObject({ groupId: moved, text: 'first on relay 2', sender: bob.onion });
    expect(new Set(texts(await alice.call<GroupMessageSummary[]>('history', moved)))).toEqual(new Set(texts(history)));
  });
});

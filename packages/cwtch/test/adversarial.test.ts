import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, randomKey, toHex } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { MemoryProfileStore, OVERLAY, deriveGroupId, groupGenesis, sealGroupMessage, type CwtchPeer } from '../src/index.js';
import { GroupManager } from '../src/group-manager.js';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE } from '../src/protocol-profile.js';
import { ProfileVault } from '../src/vault.js';
import { WITHHELD_REASON, type RepairOutcome } from '../src/repair.js';
import { AdversarialRelay, honest, modifiedCiphertext, modifiedSignature, type RelaySession } from './support/adversarial-relay.js';
import { craftGroupMessage, until, waitForEvent } from './support/helpers.js';
import { cwtchWorld, type CwtchWorld, type PeerHandle } from './support/world.js';

/**
 * Three members on a hostile relay. Whatever the relay does — drop for one member, modify,
 * duplicate, reorder, re-send old messages — is either harmless or detected, and what it
 * dropped is repaired from the other members over p2p.
 */
let world: CwtchWorld;
let relay: AdversarialRelay;
let alice: PeerHandle;
let bob: PeerHandle;
let carol: PeerHandle;
let groupId: string;

const bySig = (peer: CwtchPeer) => [...peer.groupMessages(groupId).map((m) => m.signature)].sort();
const texts = (peer: CwtchPeer) => peer.groupMessages(groupId).map((m) => m.overlay?.d);
const post = async (peer: CwtchPeer, text: string) => (await peer.postToGroup(groupId, { o: OVERLAY.chat, d: text })).signature;
const has = (peer: CwtchPeer, signatures: string[]) => signatures.every((s) => peer.groupMessages(groupId).some((m) => m.signature === s));

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
  groupId = await alice.peer.createGroup({ name: 'under watch', relay: relay.onion, members: [bob.peer.onion, carol.peer.onion] });
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

describe('an adversarial relay', () => {
  it('replay to one member: drops, duplicates, reorders, modifies and re-sends — detected or harmless, drops repaired from peers', async () => {
    await carol.stop();
    const m1 = await post(alice.peer, 'm1');
    const m2 = await post(alice.peer, 'm2');
    const m3 = await post(alice.peer, 'm3');
    await until(bob.peer, 'groupMessage', () => has(bob.peer, [m1, m2, m3]));
    const m4 = await post(bob.peer, 'm4 (points at m3)');
    await until(alice.peer, 'groupMessage', () => has(alice.peer, [m4]));

    let target = -1;
    relay.policy = {
      push: honest.push,
      replay: (session, requested) => {
        if (session.n !== target) return [...requested];
        const byId = (id: string) => requested.find((m) => toHex(m.signature) === id)!;
        const kept = requested.filter((m) => toHex(m.signature) !== m2); // drop m2 for carol only
        return [
          byId(m1), // duplicated…
          ...kept.reverse(), // …reordered…
          modifiedCiphertext(byId(m3)), // …modified (no longer decrypts),
          modifiedSignature(byId(m4)), // modified (decrypts, cannot verify),
          byId(m1), // and an old message re-sent.
        ];
      },
    };
    const rejected: string[] = [];
    const gaps: string[] = [];
    const outcomes: RepairOutcome[] = [];
    const watch = (peer: CwtchPeer) => {
      peer.on('groupMessageRejected', (r) => rejected.push(r.code));
      peer.on('gap', (g) => gaps.push(g.signature));
      peer.on('repairFinished', (o) => outcomes.push(o));
    };
    const sessionPromise = waitForEvent<RelaySession>(relay, 'session');
    await carol.restart({ start: false });
    watch(carol.peer);
    const starting = carol.peer.start();
    target = (await sessionPromise).n;
    await starting;
    await until(carol.peer, 'repairFinished', () => outcomes.some((o) => o.repaired.includes(m2)));

    expect(gaps).toContain(m2); // detected: m3 points at a message the relay never gave carol
    expect(rejected).toContain('SIGNATURE_INVALID'); // detected: the modified signature
    expect(bySig(carol.peer)).toEqual(bySig(alice.peer)); // repaired: same set as the others
    expect(texts(carol.peer).filter((t) => t === 'm1')).toHaveLength(1); // duplicates dropped
    expect(carol.peer.gapReport(groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });
    relay.policy = honest;
  });

  it('live pushes to one member: drop, duplicate, modify, reorder — all messages end up there exactly once', async () => {
    // Carol's current session is the last one opened.
    const session = waitForEvent<RelaySession>(relay, 'session');
    await carol.restart();
    const carolSession = (await session).n;
    await synced(carol.peer);

    let n = 0;
    let held: EncryptedGroupMessage | undefined;
    relay.policy = {
      replay: honest.replay,
      push: (s, m) => {
        if (s.n !== carolSession) return [m];
        switch (++n) {
          case 1:
            return []; // dropped for carol only
          case 2:
            return [m, modifiedCiphertext(m), m]; // duplicated, plus a modified copy
          case 3:
            held = m; // held back…
            return [];
          case 4:
            return [m, held!]; // …and delivered after the next one
          default:
            return [m];
        }
      },
    };
    const sent: string[] = [];
    for (const text of ['m5', 'm6', 'm7', 'm8']) sent.push(await post(alice.peer, text));
    await until(carol.peer, 'groupMessage', () => has(carol.peer, sent));
    await carol.peer.repairGaps(groupId);
    expect(bySig(carol.peer)).toEqual(bySig(alice.peer));
    for (const t of ['m5', 'm6', 'm7', 'm8']) expect(texts(carol.peer).filter((x) => x === t)).toHaveLength(1);
    expect(carol.peer.gapReport(groupId).missing).toEqual([]);
    relay.policy = honest;
  });

  it('reports a gap no reachable member can fill as possibly withheld by the relay (a fragment set stays undelivered), and repairs it once a member is back', async () => {
    await carol.stop();
    const big = 'b'.repeat(MAX_GROUP_PAYLOAD_PER_MESSAGE + 500);
    const m9 = await alice.peer.postToGroup(groupId, { o: OVERLAY.chat, d: big }); // two fragments
    expect(m9.parts).toHaveLength(2);
    const withheld = m9.parts[0]!;
    const m10 = await post(alice.peer, 'm10');
    await until(bob.peer, 'groupMessage', () => has(bob.peer, [m9.signature, m10]));
    await alice.stop();
    await bob.stop();
    let target = -1;
    relay.policy = { push: honest.push, replay: (s, requested) => requested.filter((m) => s.n !== target || toHex(m.signature) !== withheld) };
    const session = waitForEvent<RelaySession>(relay, 'session');
    await carol.restart({ start: false });
    const unrepaired = waitForEvent<{ signatures: string[]; reason: string }>(carol.peer, 'gapUnrepaired');
    const starting = carol.peer.start();
    target = (await session).n;
    await starting;
    expect(await unrepaired).toEqual({ groupId, signatures: [withheld], reason: WITHHELD_REASON });
    const report = carol.peer.gapReport(groupId);
    expect(report).toMatchObject({ missing: [withheld], withheld: [withheld], corruptFragments: [] });
    expect(report.incompleteFragments).toHaveLength(1);
    // Half a payload is never delivered.
    expect(texts(carol.peer)).not.toContain(big);
    expect(texts(carol.peer)).toContain('m10');

    // Alice comes back and greets her contacts: carol asks her, and the gap closes.
    const repaired = waitForEvent<{ signatures: string[]; from: string }>(carol.peer, 'gapRepaired');
    await alice.restart();
    expect(await repaired).toMatchObject({ groupId, signatures: [withheld], from: alice.peer.onion });
    expect(carol.peer.gapReport(groupId)).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [], withheld: [] });
    expect(texts(carol.peer).filter((t) => t === big)).toHaveLength(1);
    await bob.restart();
    relay.policy = honest;
  });

  it('rejects a forged sender, a non-member key and a truncated fragment; ignores a wrong group key', async () => {
    const record = alice.peer.group(groupId);
    const keys = { id: record.id, key: record.key, relay: record.relay, members: record.members };
    const previous = groupGenesis(groupId);
    const mallory = Identity.generate(); // holds a leaked key, but is not a member
    const base = { v: 1, t: 1, p: previous, d: new TextEncoder().encode('{"o":1,"d":"evil"}') };
    const injected = [
      craftGroupMessage(keys, bob.peer.identity, { ...base, s: alice.peer.onion }), // bob forging alice
      craftGroupMessage(keys, mallory, { ...base, s: mallory.onion }), // non-member
      craftGroupMessage(keys, bob.peer.identity, {
        ...base,
        s: bob.peer.onion,
        d: new Uint8Array(7),
        f: { m: new Uint8Array(16), i: 0, n: 2, l: MAX_GROUP_PAYLOAD_PER_MESSAGE + 1 },
      }),
      craftGroupMessage(keys, bob.peer.identity, { ...base, s: bob.peer.onion }, randomKey()), // wrong key
    ];
    const rejected: string[] = [];
    carol.peer.on('groupMessageRejected', (r) => rejected.push(r.code));
    const before = bySig(carol.peer);
    for (const m of injected) relay.inject(m);
    await until(carol.peer, 'groupMessageRejected', () => rejected.length === 3);
    // A message that follows the injected ones arrives normally: they were processed and dropped.
    const after = await post(alice.peer, 'after the attack');
    await until(carol.peer, 'groupMessage', () => has(carol.peer, [after]));
    expect(rejected.sort()).toEqual(['FRAGMENT_INVALID', 'NOT_A_MEMBER', 'SIGNATURE_INVALID']);
    expect(bySig(carol.peer)).toEqual([...before, after].sort());
    expect(texts(carol.peer)).not.toContain('evil');
  });
});

describe('repair answers from members', () => {
  it('are refused unless asked for and valid under the group key', async () => {
    const { vault, identity } = await ProfileVault.create(new MemoryProfileStore(), 'pw', TEST_SCRYPT_PARAMS);
    const manager = new GroupManager({ vault, identity, now: () => 0 });
    const key = randomKey();
    const relayOnion = Identity.generate().onion;
    const id = deriveGroupId(key, relayOnion);
    await manager.addGroup({
      id,
      name: 'g',
      key,
      relay: relayOnion,
      bundle: '',
      members: null,
      owner: identity.onion,
      createdAt: 0,
      movedTo: null,
      movedFrom: null,
    });
    const sender = Identity.generate();
    const good = sealGroupMessage({ id, key, relay: relayOnion, members: null }, sender, {
      timestamp: 1,
      previous: groupGenesis(id),
      payload: new Uint8Array(1),
      fragment: undefined,
    });
    const wrongKey = sealGroupMessage({ id, key: randomKey(), relay: relayOnion, members: null }, sender, {
      timestamp: 1,
      previous: groupGenesis(id),
      payload: new Uint8Array(1),
      fragment: undefined,
    });
    expect(manager.receiveFromPeer(id, good, new Set())).toMatchObject({ kind: 'rejected', error: { code: 'PEER_MESSAGE_INVALID' } });
    expect(manager.receiveFromPeer(id, wrongKey, new Set([toHex(wrongKey.signature)]))).toMatchObject({ kind: 'rejected', error: { code: 'NOT_DECRYPTABLE' } });
    expect(manager.receiveFromPeer(id, good, new Set([toHex(good.signature)]))).toMatchObject({ kind: 'accepted' });
  });
});

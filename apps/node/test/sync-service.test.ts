import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventBus } from '@nestjs/cqrs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_GROUP_PAYLOAD_PER_MESSAGE,
  type Contact,
  type CwtchPeerEvents,
  type DirectMessage,
  type FullGapReport,
  type GroupMessage,
  type GroupRecord,
  type Overlay,
  type RelayRecord,
} from '@pursuance/cwtch';
import { Identity, sha256, toHex, type OnionName } from '@pursuance/crypto';
import { LoopbackACN } from '@pursuance/tapir';
import { PursuanceAuthor, PursuanceLog, type SignedEvent } from '@pursuance/pursuance';
import { NodeModule } from '../src/app.module.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { PursuanceChangedEvent } from '../src/events.js';
import { HttpBinding } from '../src/http/binding.js';
import { EventStore } from '../src/store/event-store.js';
import type { SyncPeer } from '../src/sync/sync-peer.js';
import { AdmissionService } from '../src/sync/admission.service.js';
import { DropBoxFollows } from '../src/sync/drop-box-follows.js';
import { LinkService } from '../src/sync/link.service.js';
import { JoinService, type JoinPeer } from '../src/sync/join.service.js';
import { eventsOfPayload, isBatch, packEvents } from '../src/sync/event-batch.js';
import { SyncService } from '../src/sync/sync.service.js';
import { activistCellRules as activistCell } from './support/rules.js';

/**
 * The sync service against a fake Cwtch peer (its narrow SyncPeer interface), with a real
 * registry and event store, wired by the node's real Nest modules (no HTTP server): how group
 * messages are batched into the fold, how health changes reach listeners, what reconciling
 * posts, and that the CQRS event bus is the one way it hears of new events. The peer's own
 * behaviour (relays, repair) is tested in packages/cwtch and, end to end, by the system tests.
 */

const RELAY = 'relay'.padEnd(56, 'a') as OnionName;

/** Groups, histories and posts in memory; emits what a CwtchPeer emits when a test says so. */
class FakePeer extends EventEmitter<CwtchPeerEvents> implements SyncPeer {
  readonly records = new Map<string, GroupRecord>();
  readonly history = new Map<string, GroupMessage[]>();
  readonly posted: { groupId: string; payload: Uint8Array }[] = [];
  readonly gaps = new Map<string, string[]>();
  readonly synced = new Set<string>();
  #serial = 0;

  public constructor(private readonly me: OnionName) {
    super();
  }

  public addGroup(id: string, name: string): void {
    this.records.set(id, {
      id,
      name,
      key: new Uint8Array(32),
      relay: RELAY,
      bundle: '',
      members: null,
      owner: this.me,
      createdAt: this.records.size,
      movedTo: null,
      movedFrom: null,
      retired: false,
    });
    this.history.set(id, []);
  }

  public message(groupId: string, payload: Uint8Array, sender: OnionName, own = false): GroupMessage {
    const signature = (this.#serial++).toString(16).padStart(128, '0');
    return { groupId, signature, parts: [signature], sender, timestamp: 1_900_000_000_000 + this.#serial, payload, own, overlay: undefined };
  }

  public setGroupMembership(): void {}
  public groups(): GroupRecord[] {
    return [...this.records.values()];
  }
  public group(groupId: string): GroupRecord {
    const g = this.records.get(groupId);
    if (!g) throw new Error(`no group ${groupId}`);
    return g;
  }
  public currentGroupId(groupId: string): string {
    return groupId;
  }
  public groupHistory(groupId: string): GroupMessage[] {
    return this.history.get(groupId) ?? [];
  }
  public groupMessages(groupId: string): GroupMessage[] {
    return this.groupHistory(groupId);
  }
  public gapReport(groupId: string): FullGapReport {
    return { missing: this.gaps.get(groupId) ?? [], incompleteFragments: [], corruptFragments: [], withheld: [] };
  }
  public isRelaySynced(relay: string): boolean {
    return this.synced.has(relay);
  }
  public mirrorGroup(): Promise<string> {
    return Promise.reject(new Error('this fake holds no mirrors'));
  }
  /** Set by a test: how the next catch-up with a relay goes (none: a relay from before buckets). */
  public catchUps = new Map<string, { bucketSeconds: number; fromBucket: number | null }>();
  public relayCatchUp(relay: string): { bucketSeconds: number; fromBucket: number | null } | null {
    return this.catchUps.get(relay) ?? null;
  }
  public postToGroup(groupId: string, content: Overlay | Uint8Array): Promise<{ groupId: string; signature: string; parts: readonly string[] }> {
    const payload = content as Uint8Array;
    this.posted.push({ groupId, payload });
    const m = this.message(groupId, payload, this.me, true);
    this.history.get(groupId)!.push(m);
    return Promise.resolve({ groupId, signature: m.signature, parts: m.parts });
  }
  public createGroup(): Promise<string> {
    return Promise.reject(new Error('not used here'));
  }
  public groupInvite(): string {
    throw new Error('not used here');
  }
  public acceptGroupInvite(): Promise<string> {
    return Promise.reject(new Error('not used here'));
  }
  public setGroupRetired(groupId: string, retired: boolean): Promise<void> {
    this.group(groupId).retired = retired;
    return Promise.resolve();
  }
  public addRelay(): Promise<OnionName> {
    return Promise.resolve(RELAY);
  }
  public relays(): RelayRecord[] {
    return [{ boardOnion: RELAY, bundle: '' }];
  }
  public contact(): Contact | undefined {
    return undefined;
  }
  public addContact(): Promise<Contact> {
    return Promise.reject(new Error('not used here'));
  }
  public inviteToGroup(): Promise<string> {
    return Promise.reject(new Error('not used here'));
  }
  public directMessages(): Promise<DirectMessage[]> {
    return Promise.resolve([]);
  }
}

const idOf = (bytes: Uint8Array): string => toHex(sha256(bytes));
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Error lines the node logs through Nest. */
class ErrorLines implements LoggerService {
  readonly lines: string[] = [];
  public log(): void {}
  public warn(): void {}
  public error(...parts: unknown[]): void {
    this.lines.push(parts.map(String).join(' '));
  }
}

/**
 * A node (registry + store) for `identity`, with a fake peer and the sync service over it,
 * inside the node's Nest application (initialised as startNode does before sync starts).
 */
async function node(identity: Identity) {
  const dir = await mkdtemp(join(tmpdir(), 'sync-service-'));
  const store = await EventStore.open(join(dir, 'node.sqlite'), identity);
  let t = 1_900_000_000_000;
  const registry = new PursuanceRegistry(store, identity, () => (t += 1000));
  const peer = new FakePeer(identity.onion);
  const sync = new SyncService(peer, registry);
  const errors = new ErrorLines();
  const app = await NestFactory.createApplicationContext(
    NodeModule.forRoot({
      registry,
      binding: new HttpBinding('t'.repeat(43)),
      templates: [],
      openapi: { document: () => ({}) },
      sync,
      // Not started: these tests are about group sync, not joining by link.
      joins: new JoinService(peer as unknown as JoinPeer, registry, sync, store, () => null),
      // Not started either: joining by request is tested elsewhere.
      admission: new AdmissionService(
        peer,
        registry,
        sync,
        { admitByRequest: () => Promise.resolve(), expectAdmission: () => Promise.resolve() },
        store,
        { acn: new LoopbackACN() },
        () => null,
      ),
      // Nor links.
      links: new LinkService(peer, registry, sync, store, { acn: new LoopbackACN() }, new DropBoxFollows(peer)),
      network: { kind: 'loopback' },
      // No display name: these tests are about sync, and a nameless node signs no renames.
      profile: { displayName: '', setDisplayName: () => Promise.resolve() },
      store,
      contacts: { contact: () => undefined },
    }),
    { logger: errors, abortOnError: false },
  );
  let open = true;
  const closeApp = async (): Promise<void> => {
    if (open) await app.close();
    open = false;
  };
  cleanup.push(async () => {
    await closeApp();
    sync.stop();
    await registry.idle();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { registry, peer, sync, bus: app.get(EventBus), errors, closeApp };
}

/** The founder's node with a pursuance in group g1, a member `ben` and ben's own replica. */
async function founded() {
  const founder = Identity.generate();
  const ben = Identity.generate();
  const n = await node(founder);
  const entry = await n.registry.create({ name: 'cell', rules: activistCell() });
  await n.registry.act(entry.id, (a) => a.addMember(ben.publicKey, { name: 'ben', roles: ['member'] }));
  const replica = new PursuanceLog(entry.log.genesis.bytes);
  replica.addAll([...entry.log.events()].map((e) => e.bytes));
  const benAuthor = new PursuanceAuthor(ben, replica);
  const group = '1'.repeat(32);
  n.peer.addGroup(group, `pursuance:${entry.id}`);
  return { ...n, pursuanceId: entry.id, ben, benAuthor, group };
}

describe('SyncService over a fake peer', () => {
  it('takes a burst of group messages into the fold as one batch', async () => {
    const f = await founded();
    await f.sync.start();
    const task = f.benAuthor.createTask({ audience: ['member'], title: 'flyers' });
    const comments: SignedEvent[] = [task];
    for (let i = 0; i < 200; i++) comments.push(f.benAuthor.comment(task.id, `note ${i}`));
    const ingest = vi.spyOn(f.registry, 'ingest');
    for (const e of comments) f.peer.emit('groupMessage', f.peer.message(f.group, e.bytes, f.ben.onion));
    await vi.waitFor(() => expect(f.registry.get(f.pursuanceId).log.event(comments.at(-1)!.id)).toBeDefined(), { timeout: 60_000, interval: 20 });
    expect(ingest).toHaveBeenCalledTimes(1);
    expect(ingest.mock.calls[0]![1]).toHaveLength(201);
    for (const e of comments) expect(f.registry.get(f.pursuanceId).log.isAccepted(e.id)).toBe(true);
    expect(f.sync.status(f.pursuanceId).lastMessageAt).toBeGreaterThan(0);
  });

  it('takes in the events of a batched group message; a malformed batch is kept as one invalid input and breaks nothing', async () => {
    const f = await founded();
    await f.sync.start();
    const task = f.benAuthor.createTask({ audience: ['member'], title: 'batched' });
    const notes = [task, ...Array.from({ length: 30 }, (_, i) => f.benAuthor.comment(task.id, `note ${i}`))];
    const payloads = packEvents(
      notes.map((e) => e.bytes),
      MAX_GROUP_PAYLOAD_PER_MESSAGE,
    );
    expect(payloads.length).toBeLessThan(notes.length);
    const ingest = vi.spyOn(f.registry, 'ingest');
    const broken = Uint8Array.of(...payloads[0]!.subarray(0, 40));
    f.peer.emit('groupMessage', f.peer.message(f.group, broken, f.ben.onion));
    for (const p of payloads) f.peer.emit('groupMessage', f.peer.message(f.group, p, f.ben.onion));
    const log = f.registry.get(f.pursuanceId).log;
    await vi.waitFor(() => expect(notes.every((e) => log.isAccepted(e.id))).toBe(true), { timeout: 60_000, interval: 20 });
    const inputs = ingest.mock.calls.flatMap((c) => c[1]);
    expect(inputs).toContainEqual(broken);
    expect(inputs).toHaveLength(notes.length + 1);
  });

  it('holds the messages of a pursuance it does not have until its genesis arrives, then takes them in with it', async () => {
    const f = await founded();
    const joiner = await node(f.ben);
    joiner.peer.addGroup(f.group, `pursuance:${f.pursuanceId}`);
    await joiner.sync.start();
    const events = [...f.registry.get(f.pursuanceId).log.events()];
    const [genesis, ...rest] = events;
    for (const e of rest) joiner.peer.emit('groupMessage', joiner.peer.message(f.group, e.bytes, e.author));
    // Drained (a turn later) without a genesis: nothing to fold yet, and nothing dropped.
    await new Promise((resolve) => setImmediate(resolve));
    await joiner.registry.idle();
    expect(joiner.registry.has(f.pursuanceId)).toBe(false);
    joiner.peer.emit('groupMessage', joiner.peer.message(f.group, genesis!.bytes, genesis!.author));
    await vi.waitFor(() => expect(joiner.registry.has(f.pursuanceId)).toBe(true), { timeout: 60_000, interval: 20 });
    expect(joiner.registry.get(f.pursuanceId).log.stateHash()).toBe(f.registry.get(f.pursuanceId).log.stateHash());
  });

  it('tells health listeners once per turn per pursuance, and counts gaps, repairs and the last relay outage', async () => {
    const f = await founded();
    await f.sync.start();
    const heard: string[] = [];
    f.sync.onHealth((id) => heard.push(id));
    f.peer.emit('relayDown', { relay: RELAY, code: 'ACN_UNREACHABLE' });
    for (let i = 0; i < 3; i++) f.peer.emit('gap', { groupId: f.group, signature: `${i}`.repeat(128) });
    f.peer.emit('gapRepaired', { groupId: f.group, signatures: ['a'.repeat(128), 'b'.repeat(128)], from: f.ben.onion });
    f.peer.gaps.set(f.group, ['c'.repeat(128)]);
    await vi.waitFor(() => expect(heard).toEqual([f.pursuanceId]), { timeout: 10_000, interval: 5 });
    const status = f.sync.status(f.pursuanceId);
    expect(status).toMatchObject({ groupId: f.group, relay: RELAY, relaySynced: false, gapsDetected: 3, gapsRepaired: 2, gaps: ['c'.repeat(128)] });
    expect(status.catchUp).toBeNull();
    f.peer.catchUps.set(RELAY, { bucketSeconds: 3600, fromBucket: null });
    expect(f.sync.status(f.pursuanceId).catchUp).toEqual({ bucketSeconds: 3600, from: null });
    f.peer.catchUps.set(RELAY, { bucketSeconds: 3600, fromBucket: 493_000 });
    expect(f.sync.status(f.pursuanceId).catchUp).toEqual({ bucketSeconds: 3600, from: 493_000 * 3_600_000 });
    expect(status.lastDown?.code).toBe('ACN_UNREACHABLE');
    // A group of no pursuance (not named for one) moves nobody's health.
    f.peer.addGroup('2'.repeat(32), 'chat with friends');
    f.peer.emit('gap', { groupId: '2'.repeat(32), signature: 'd'.repeat(128) });
    f.peer.emit('relaySynced', { relay: RELAY, count: 0 });
    await vi.waitFor(() => expect(heard).toEqual([f.pursuanceId, f.pursuanceId]), { timeout: 10_000, interval: 5 });
    expect(f.sync.status(f.pursuanceId).lastSyncAt).not.toBeNull();
  });

  it('reconciles: posts its own events the group lacks, and with `all` every event, each once', async () => {
    const f = await founded();
    const log = f.registry.get(f.pursuanceId).log;
    // ben's task reached us another way (say, gap repair); the group holds none of it.
    const task = f.benAuthor.createTask({ audience: ['member'], title: 'flyers' });
    await f.registry.ingest(f.pursuanceId, [task.bytes], 'peer');
    expect(log.isAccepted(task.id)).toBe(true);
    const mine = [...log.events()].filter((e) => e.author === f.registry.identity.onion).map((e) => e.id);
    expect(await f.sync.reconcile(f.pursuanceId)).toBe(mine.length);
    const posted = f.peer.posted.flatMap((p) => eventsOfPayload(p.payload).map(idOf));
    expect(posted.sort()).toEqual([...mine].sort());
    // Packed: fewer group messages (one relay token each) than events, none above one message.
    expect(f.peer.posted.length).toBeLessThan(mine.length);
    for (const p of f.peer.posted) expect(p.payload.length).toBeLessThanOrEqual(MAX_GROUP_PAYLOAD_PER_MESSAGE);
    expect(f.peer.posted.some((p) => isBatch(p.payload))).toBe(true);
    // ben is a member: posting ben's events is ben's job, unless everything is re-posted (a move).
    expect(await f.sync.reconcile(f.pursuanceId)).toBe(0);
    expect(await f.sync.reconcile(f.pursuanceId, true)).toBe(1);
    expect(idOf(f.peer.posted.at(-1)!.payload)).toBe(task.id);
    expect(await f.sync.reconcile(f.pursuanceId, true)).toBe(0);
  });

  it('posts each local event into the pursuance group as soon as it is stored', async () => {
    const f = await founded();
    await f.sync.start();
    const before = f.peer.posted.length;
    const task = await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'banner' }));
    await vi.waitFor(() => expect(f.peer.posted.map((p) => idOf(p.payload))).toContain(task.id), { timeout: 10_000, interval: 5 });
    expect(f.peer.posted.slice(before).map((p) => p.groupId)).toEqual([f.group]);
  });

  it('hears of new events from the event bus: a change published there is posted to the group', async () => {
    const f = await founded();
    await f.sync.start();
    const before = f.peer.posted.length;
    // Published on the bus alone (the registry never saw it): still posted, as a local change.
    const task = f.benAuthor.createTask({ audience: ['member'], title: 'flyers' });
    f.bus.publish(new PursuanceChangedEvent(f.pursuanceId, [task], 'local'));
    await vi.waitFor(() => expect(f.peer.posted.length).toBeGreaterThan(before), { timeout: 10_000, interval: 5 });
    expect(f.peer.posted.slice(before).map((p) => [p.groupId, idOf(p.payload)])).toEqual([[f.group, task.id]]);
  });

  it('reacts to each stored local event exactly once, in order (the bus is its only channel)', async () => {
    const f = await founded();
    await f.sync.start();
    const changed = vi.spyOn(f.sync, 'changed');
    const before = f.peer.posted.length;
    const first = await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'banner' }));
    // The registry notifies (and the bus delivers) before act() resolves.
    expect(changed).toHaveBeenCalledTimes(1);
    const second = await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'leaflets' }));
    expect(changed).toHaveBeenCalledTimes(2);
    // Reactions run one after another per pursuance: once the second is posted, a second
    // reaction to the first (another listener) would have posted it again already.
    await vi.waitFor(() => expect(f.peer.posted.map((p) => idOf(p.payload))).toContain(second.id), { timeout: 10_000, interval: 5 });
    expect(f.peer.posted.slice(before).map((p) => idOf(p.payload))).toEqual([first.id, second.id]);
  });

  it('hears nothing of the registry once its application is closed: there is no path around the bus', async () => {
    const f = await founded();
    await f.sync.start();
    const changed = vi.spyOn(f.sync, 'changed');
    await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'heard' }));
    expect(changed).toHaveBeenCalledTimes(1);
    await f.closeApp();
    await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'unheard' }));
    expect(changed).toHaveBeenCalledTimes(1);
  });

  it('keeps handling changes after a reaction throws, logging the error by code only', async () => {
    const f = await founded();
    await f.sync.start();
    const before = f.peer.posted.length;
    vi.spyOn(f.sync, 'changed').mockImplementationOnce(() => {
      throw Object.assign(new Error('secret payload text'), { code: 'TEST_FAILURE' });
    });
    await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'lost reaction' }));
    const next = await f.registry.act(f.pursuanceId, (a) => a.createTask({ audience: ['member'], title: 'next' }));
    await vi.waitFor(() => expect(f.peer.posted.map((p) => idOf(p.payload))).toContain(next.id), { timeout: 10_000, interval: 5 });
    expect(f.peer.posted.slice(before).map((p) => idOf(p.payload))).toEqual([next.id]);
    expect(f.errors.lines.join('\n')).toContain('TEST_FAILURE');
    expect(f.errors.lines.join('\n')).not.toContain('secret payload text');
  });
});

/**
 * Cwtch peer benchmarks, each beside a baseline measured in the same run (figures are printed,
 * never asserted):
 *  - trial decryption rate (messages/s) with 1, 10 and 100 group keys on a relay — for a
 *    message of the last group tried and for a foreign one (no key opens it) — beside raw
 *    secretbox open/s of the same 4096-byte ciphertexts;
 *  - time for a new member to sync 10,000 and 100,000 group messages from a relay daemon
 *    process (database filled directly with valid, signed, chained messages), beside the bare
 *    replay of the same messages with no processing;
 *  - direct-message round trip (send → acknowledgement) p50/p99 over LoopbackACN, beside a bare
 *    tapir sealed-packet round trip;
 *  - a burst of 30 and of 1,000 group posts through a relay daemon process (sealed, signed,
 *    stored, posted, acknowledged as durable; tokens bought on the way), with a window of one
 *    post in flight (the old behaviour, as the baseline) beside the pipelined window; and the
 *    same with a fixed round trip added to every relay connection (a Tor circuit's latency).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { Identity, TEST_SCRYPT_PARAMS, randomKey, secretboxOpen, type OnionName } from '@pursuance/crypto';
import {
  CwtchPeer,
  MemoryProfileStore,
  OVERLAY,
  deriveGroupId,
  encodeGroupInvite,
  encodeOverlay,
  groupGenesis,
  sealGroupMessage,
  trialDecrypt,
  type GroupKeys,
  type ProfileStore,
} from '@pursuance/cwtch';
import { TypeormProfileStore } from '@pursuance/cwtch-store-sqlite';
import { MemoryKeyBundlePins, RelayClient, trustKeyBundle } from '@pursuance/relay';
import { ApplicationChain, AuthApp, LoopbackACN, TapirService, type ACN, type Connection } from '@pursuance/tapir';
import { startRelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { delayedACN } from './delayed-acn.js';
import { burstOnce } from './group-burst.js';
import { fmt, printTable, rateOf, timeAsync } from './measure.js';

/** CWTCH_BENCH_SYNC_SIZES=10000 (comma-separated) runs smaller syncs, e.g. for profiling. */
const SYNC_SIZES = (process.env.CWTCH_BENCH_SYNC_SIZES ?? '10000,100000').split(',').map(Number);
/** CWTCH_BENCH_SECTIONS=bursts (comma-separated: trial, dm, sync, bursts) runs only those sections. */
const SECTIONS = new Set((process.env.CWTCH_BENCH_SECTIONS ?? 'trial,dm,sync,bursts').split(','));
/** The client's post window (packages/relay's POST_WINDOW; the window-1 run is the old behaviour). */
const POST_WINDOW = 16;
/** Round trip added to every relay connection in the "Tor-like" runs (a hidden-service circuit's order of magnitude). */
const ADDED_RTT_MS = Number(process.env.CWTCH_BENCH_ADDED_RTT_MS ?? 300);
const RTT_WARMUP = 30;
const RTT_SAMPLES = 400;

// ---------------------------------------------------------------------------------------------
// Trial decryption.
// ---------------------------------------------------------------------------------------------

function trialDecryption(): [string, string][] {
  const relay = Identity.generate().onion;
  const sender = Identity.generate();
  const groups = (n: number): GroupKeys[] =>
    Array.from({ length: n }, () => {
      const key = randomKey();
      return { id: deriveGroupId(key, relay), key, relay, members: null };
    });
  const seal = (g: GroupKeys) =>
    sealGroupMessage(g, sender, { timestamp: 1, previous: groupGenesis(g.id), payload: encodeOverlay({ o: 1, d: 'benchmark' }), fragment: undefined });
  const rows: [string, string][] = [];
  const base = groups(1)[0]!;
  const ct = seal(base).ciphertext;
  const open = rateOf('secretbox open', () => secretboxOpen(base.key, ct));
  const wrong = randomKey();
  const fail = rateOf('secretbox open, wrong key', () => {
    try {
      secretboxOpen(wrong, ct);
    } catch {
      // expected
    }
  });
  rows.push(['baseline: secretbox open, 4096 B (tweetnacl)', `${fmt(open.perSecond)} /s`]);
  rows.push(['baseline: secretbox open failing (wrong key), 4096 B', `${fmt(fail.perSecond)} /s`]);
  for (const n of [1, 10, 100]) {
    const gs = groups(n);
    const ours = seal(gs[n - 1]!).ciphertext; // worst case: the last key tried opens it
    const foreign = seal(groups(1)[0]!).ciphertext; // no key opens it
    const hit = rateOf(`trial ${n}`, () => trialDecrypt(ours, gs));
    const miss = rateOf(`foreign ${n}`, () => trialDecrypt(foreign, gs));
    rows.push([`trial decryption, ${n} key${n === 1 ? '' : 's'}: message of the last group`, `${fmt(hit.perSecond)} messages/s`]);
    rows.push([`trial decryption, ${n} key${n === 1 ? '' : 's'}: foreign message`, `${fmt(miss.perSecond)} messages/s`]);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// A new member syncing N messages from a relay daemon.
// ---------------------------------------------------------------------------------------------

function openDb(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(db)));
  });
}

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (err) => (err ? reject(err) : resolve())));
}

interface PreparedRelay {
  readonly dataDir: string;
  readonly bundle: string;
  readonly onion: OnionName;
  readonly invite: string;
  readonly count: number;
}

/** A relay data dir whose database holds `count` valid, chained messages of one group. */
async function preparedRelay(root: string, registryDir: string, count: number): Promise<PreparedRelay> {
  const dataDir = join(root, `relay-${count}`);
  const first = await startRelayProcess({ dataDir, registryDir, args: ['--no-metrics'] });
  const { bundle, boardOnion: onion } = first;
  await first.stop();
  const key = randomKey();
  const owner = Identity.generate();
  const group: GroupKeys = { id: deriveGroupId(key, onion), key, relay: onion, members: null };
  const db = await openDb(join(dataDir, 'relay.sqlite'));
  await run(db, 'PRAGMA synchronous = OFF'); // setup only
  let previous = groupGenesis(group.id);
  const perTx = 2000;
  for (let done = 0; done < count; done += perTx) {
    await run(db, 'BEGIN');
    const n = Math.min(perTx, count - done);
    for (let i = 0; i < n; i += 100) {
      const rows = Math.min(100, n - i);
      const params: Buffer[] = [];
      for (let r = 0; r < rows; r++) {
        const m = sealGroupMessage(group, owner, {
          timestamp: 1_700_000_000_000 + done + i + r,
          previous,
          payload: encodeOverlay({ o: OVERLAY.chat, d: `message ${done + i + r}` }),
          fragment: undefined,
        });
        previous = m.signature;
        params.push(Buffer.from(m.signature), Buffer.from(m.ciphertext));
      }
      await run(db, `INSERT INTO relay_messages (signature, ciphertext) VALUES ${Array(rows).fill('(?,?)').join(',')}`, params);
    }
    await run(db, 'COMMIT');
  }
  await run(db, 'PRAGMA wal_checkpoint(TRUNCATE)');
  await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
  const invite = encodeGroupInvite({ groupId: group.id, name: 'bench', key, relay: onion, owner: owner.onion, members: null, timestamp: 0 }, bundle);
  return { dataDir, bundle, onion, invite, count };
}

async function syncOnce(prepared: PreparedRelay, registryDir: string, store: ProfileStore): Promise<number> {
  const acn = new LoopbackACN({ registryDir });
  const peer = await CwtchPeer.create({
    store,
    acn,
    password: 'bench',
    displayName: 'newcomer',
    scryptParams: TEST_SCRYPT_PARAMS,
    relayClient: { batchSize: 10 },
  });
  const groupId = await peer.acceptGroupInvite(prepared.invite);
  const { seconds } = await timeAsync(async () => {
    const synced = new Promise<number>((resolve) => peer.once('relaySynced', ({ count }) => resolve(count)));
    await peer.start();
    await synced;
    await peer.stop(); // flushes every received message to the store
  });
  const received = peer.groupMessages(groupId).length;
  if (received !== prepared.count) throw new Error(`synced ${received} of ${prepared.count} messages`);
  await acn.close();
  return seconds;
}

async function bareReplay(prepared: PreparedRelay, registryDir: string): Promise<number> {
  const acn = new LoopbackACN({ registryDir });
  const client = new RelayClient({ acn, bundle: await trustKeyBundle(prepared.bundle, new MemoryKeyBundlePins()) });
  const session = await client.openSession();
  const { seconds } = await timeAsync(() => session.replayEach({ onMessage: () => undefined }));
  await client.close();
  await acn.close();
  return seconds;
}

async function syncBenchmarks(root: string): Promise<[string, string][]> {
  const registryDir = join(root, 'registry');
  const rows: [string, string][] = [];
  for (const count of SYNC_SIZES) {
    const prepared = await timeAsync(() => preparedRelay(root, registryDir, count));
    const relay = await startRelayProcess({ dataDir: prepared.value.dataDir, registryDir, args: ['--no-metrics'] });
    try {
      const bare = await bareReplay(prepared.value, registryDir);
      rows.push([`baseline: bare replay of ${fmt(count)} messages (no processing)`, `${fmt(bare, 2)} s (${fmt(count / bare)} messages/s)`]);
      if (count <= 10_000) {
        const memory = await syncOnce(prepared.value, registryDir, new MemoryProfileStore());
        rows.push([`new member syncs ${fmt(count)} messages (memory profile store)`, `${fmt(memory, 2)} s (${fmt(count / memory)} messages/s)`]);
      }
      const dir = await mkdtemp(join(root, 'profile-'));
      const store = await TypeormProfileStore.open({ path: join(dir, 'profile.sqlite') });
      const sqlite = await syncOnce(prepared.value, registryDir, store);
      await store.close();
      rows.push([`new member syncs ${fmt(count)} messages (SQLite profile store)`, `${fmt(sqlite, 2)} s (${fmt(count / sqlite)} messages/s)`]);
      rows.push([`  (generating + signing the ${fmt(count)} messages, not measured above)`, `${fmt(prepared.seconds, 1)} s`]);
    } finally {
      await relay.stop();
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Direct-message round trip.
// ---------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function directMessageRoundTrip(root: string): Promise<[string, string][]> {
  const registryDir = join(root, 'dm-registry');
  const acns = [new LoopbackACN({ registryDir }), new LoopbackACN({ registryDir })];
  const make = (name: string, acn: LoopbackACN) =>
    CwtchPeer.create({ store: new MemoryProfileStore(), acn, password: 'bench', displayName: name, scryptParams: TEST_SCRYPT_PARAMS });
  const alice = await make('alice', acns[0]!);
  const bob = await make('bob', acns[1]!);
  await alice.start();
  await bob.start();
  await alice.addContact(bob.onion);
  const waiting = new Map<string, () => void>();
  alice.on('delivered', ({ id }) => waiting.get(id)?.());
  const once = async (): Promise<number> => {
    const start = performance.now();
    let done!: () => void;
    const acked = new Promise<void>((resolve) => (done = resolve));
    const id = await alice.sendMessage(bob.onion, 'ping');
    waiting.set(id, done);
    if (alice.pendingMessages().every((p) => p.id !== id)) done(); // acked before we registered
    await acked;
    waiting.delete(id);
    return performance.now() - start;
  };
  for (let i = 0; i < RTT_WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < RTT_SAMPLES; i++) samples.push(await once());
  samples.sort((a, b) => a - b);
  await alice.stop();
  await bob.stop();

  // Baseline: one sealed tapir packet there and back on the same kind of link.
  const server = new TapirService(acns[0]!, Identity.generate());
  await server.listen(
    () =>
      new ApplicationChain([new AuthApp()], {
        name: 'echo',
        run: async (c: Connection) => {
          for (;;) await c.send(await c.expect());
        },
      }),
  );
  const client = new TapirService(acns[1]!, Identity.generate());
  const conn = await client.connect(server.onion, new ApplicationChain([new AuthApp()]));
  const raw: number[] = [];
  const payload = new Uint8Array(randomBytes(64));
  for (let i = 0; i < RTT_WARMUP + RTT_SAMPLES; i++) {
    const start = performance.now();
    await conn.send(payload);
    await conn.expect();
    if (i >= RTT_WARMUP) raw.push(performance.now() - start);
  }
  raw.sort((a, b) => a - b);
  conn.close();
  await client.close();
  await server.close();
  await Promise.all(acns.map((a) => a.close()));
  return [
    [`direct message round trip (send → ack, ${RTT_SAMPLES} samples) p50`, `${fmt(percentile(samples, 50), 2)} ms`],
    ['direct message round trip p99', `${fmt(percentile(samples, 99), 2)} ms`],
    ['baseline: bare tapir sealed-packet round trip p50 / p99', `${fmt(percentile(raw, 50), 3)} ms / ${fmt(percentile(raw, 99), 3)} ms`],
  ];
}

// ---------------------------------------------------------------------------------------------
// Bursts of group posts through a relay daemon.
// ---------------------------------------------------------------------------------------------

async function burstBenchmarks(root: string): Promise<[string, string][]> {
  const registryDir = join(root, 'burst-registry');
  const relay = await startRelayProcess({ dataDir: join(root, 'burst-relay'), registryDir, args: ['--no-metrics'] });
  const loopback = new LoopbackACN({ registryDir });
  const delayed = delayedACN(new LoopbackACN({ registryDir }), ADDED_RTT_MS / 2);
  const rows: [string, string][] = [];
  const pair = async (label: string, acn: ACN, count: number) => {
    const old = await burstOnce(acn, relay.bundle, count, 1);
    const piped = await burstOnce(acn, relay.bundle, count, POST_WINDOW);
    rows.push(
      [`baseline: ${label}, window 1 (one post per round trip)`, `${fmt(old, 2)} s (${fmt(count / old)} posts/s)`],
      [`${label}, window ${POST_WINDOW}`, `${fmt(piped, 2)} s (${fmt(count / piped)} posts/s, ×${fmt(old / piped, 1)})`],
    );
  };
  try {
    await pair('30-post burst, loopback', loopback, 30);
    await pair('1,000-post burst, loopback', loopback, 1000);
    await pair(`30-post burst, +${ADDED_RTT_MS} ms round trip`, delayed, 30);
    await pair(`200-post burst, +${ADDED_RTT_MS} ms round trip`, delayed, 200);
  } finally {
    await loopback.close();
    await delayed.close();
    await relay.stop();
  }
  return rows;
}

async function main(): Promise<void> {
  process.stdout.write(`\ncwtch benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  if (SECTIONS.has('trial')) printTable('trial decryption (one process, 1 core)', trialDecryption());
  const root = await mkdtemp(join(tmpdir(), 'cwtch-bench-'));
  try {
    if (SECTIONS.has('dm')) {
      printTable('direct messages over LoopbackACN (both peers in this process; includes sealing profile records)', await directMessageRoundTrip(root));
    }
    if (SECTIONS.has('sync')) printTable('new member sync from a relay daemon process (peer in this process, 2 cores shared)', await syncBenchmarks(root));
    if (SECTIONS.has('bursts')) {
      printTable(
        'group post bursts through a relay daemon process (seal, sign, store, post, durable ack; tokens bought on the way)',
        await burstBenchmarks(root),
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();

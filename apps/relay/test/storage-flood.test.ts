import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, toHex } from '@pursuance/crypto';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  MESSAGES_PER_MB,
  MemoryKeyBundlePins,
  RelayClient,
  trustKeyBundle,
  type EncryptedGroupMessage,
  type KeyBundle,
} from '@pursuance/relay';
import { randomMessage } from '@pursuance/relay/testing';
import { DEFAULT_POW_DIFFICULTY, LoopbackACN } from '@pursuance/tapir';
import { readConfigFile, relayProgram, resolveConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { RelayDaemon, databasePath } from '../src/relay-daemon.js';
import { metricValue } from './support/relay-process.js';

/**
 * A flood at the DEFAULT proof of work against the relay daemon (SQLite store, metrics, real
 * sockets on 127.0.0.1 through the loopback network) whose cap comes from its config file.
 *
 * The cap is the smallest the config takes, 1 MB = 250 messages, not the 1024 MB default: the
 * flood then crosses it several times in seconds instead of hours. Nothing in the store depends
 * on the cap's size — every commit prunes in the same transaction what would take the count
 * past the cap, whatever the batch — so the same holds at 256,000 messages. The work factor is
 * the default one, and the attacker buys the largest token batch the relay sells (one proof of
 * work per 100 posts), so this is the fastest an unauthenticated client can post.
 */
const CAP_MB = 1;
const CAP = CAP_MB * MESSAGES_PER_MB;
const MESSAGE_BYTES = GROUP_CIPHERTEXT_SIZE + GROUP_SIGNATURE_SIZE;
/** The largest token batch the token service sells for one proof of work (MAX_TOKEN_BATCH_SIZE). */
const TOKEN_BATCH = 100;
/** Flood posts sent together between two checks of the store. */
const FLOOD_BATCH = 50;

let dir: string;
let daemon: RelayDaemon;
let acn: LoopbackACN;
let bundle: KeyBundle;
const clients: RelayClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-flood-'));
  const configFile = join(dir, 'relay.json');
  await writeFile(configFile, JSON.stringify({ maxStorageMb: CAP_MB }));
  const program = relayProgram().exitOverride();
  program.parse(['--data-dir', join(dir, 'data'), '--loopback-registry', join(dir, 'registry'), '--metrics-port', '0', '--config', configFile], {
    from: 'user',
  });
  const config = resolveConfig(program.opts(), (key) => program.getOptionValueSource(key), await readConfigFile(configFile));
  expect(config).toMatchObject({ powDifficulty: DEFAULT_POW_DIFFICULTY, maxStorageMb: CAP_MB, retentionDays: 30 });
  daemon = await RelayDaemon.start({ config, password: 'relay password 1', log: createLogger('error', () => undefined), scryptParams: TEST_SCRYPT_PARAMS });
  acn = new LoopbackACN({ registryDir: join(dir, 'registry') });
  bundle = await trustKeyBundle(daemon.exportedBundle, new MemoryKeyBundlePins());
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await daemon?.stop();
  await acn?.close();
  await rm(dir, { recursive: true, force: true });
});

function client(batchSize?: number): RelayClient {
  const c = new RelayClient({ acn, bundle, ...(batchSize !== undefined ? { batchSize } : {}) });
  clients.push(c);
  return c;
}

/** What is in the database file right now, read by a connection of our own (ground truth, not the store's counters). */
async function onDisk(): Promise<{ messages: number; bytes: number; minSeq: number; maxSeq: number }> {
  const db = new sqlite3.Database(databasePath(join(dir, 'data')), sqlite3.OPEN_READONLY);
  try {
    return await new Promise((resolve, reject) =>
      db.get<{ messages: number; bytes: number | null; minSeq: number | null; maxSeq: number | null }>(
        'SELECT COUNT(*) AS messages, SUM(length(signature) + length(ciphertext)) AS bytes, MIN(seq) AS minSeq, MAX(seq) AS maxSeq FROM relay_messages',
        (err, row) => (err ? reject(err) : resolve({ messages: row.messages, bytes: row.bytes ?? 0, minSeq: row.minSeq ?? 0, maxSeq: row.maxSeq ?? 0 })),
      ),
    );
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`)).text();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const hex = (m: EncryptedGroupMessage): string => toHex(m.signature);

describe('a flood at the default proof of work against a capped relay', () => {
  it('never grows the store past the cap, prunes the oldest first, and honest posts made during it land and sync', { timeout: 300_000 }, async () => {
    // An honest member follows the board from before the flood (replay, then live pushes).
    const reader = await client().openSession();
    const honest = Array.from({ length: 3 }, () => randomMessage());
    const seenLive = new Set<string>();
    const honestSeen = deferred();
    reader.on('message', (m) => {
      seenLive.add(hex(m));
      if (honest.every((h) => seenLive.has(hex(h)))) honestSeen.resolve();
    });
    expect(await reader.replay()).toEqual([]);
    // The honest member holds tokens already (bought with its first post), as a member does.
    const member = await client().openSession();
    await member.post(randomMessage());

    const attacker = await client(TOKEN_BATCH).openSession();
    const flooded: EncryptedGroupMessage[] = [];
    let honestDone = false;
    const nearEnd = deferred();
    let batchesAfterHonest = 0;
    const checks: { messages: number; bytes: number }[] = [];

    const flood = (async () => {
      // At least four times the cap, and a full batch past the honest posts so they are not simply the newest.
      while (flooded.length < 4 * CAP || batchesAfterHonest < 2) {
        const batch = Array.from({ length: FLOOD_BATCH }, () => randomMessage());
        flooded.push(...batch);
        await Promise.all(batch.map((m) => attacker.post(m)));
        if (honestDone) batchesAfterHonest += 1;
        if (flooded.length >= 4 * CAP - 2 * FLOOD_BATCH) nearEnd.resolve();
        const disk = await onDisk();
        checks.push(disk);
        expect(disk.messages, `after ${flooded.length} flood posts`).toBeLessThanOrEqual(CAP);
        expect(disk.bytes).toBeLessThanOrEqual(CAP * MESSAGE_BYTES);
        expect(disk.bytes).toBeLessThanOrEqual(CAP_MB * 2 ** 20);
        // Only the oldest go: what is left is one unbroken run of seqs ending at the newest.
        expect(disk.maxSeq - disk.minSeq + 1).toBe(disk.messages);
        const text = await metrics();
        expect(metricValue(text, 'relay_stored_messages')).toBeLessThanOrEqual(CAP);
        expect(metricValue(text, 'relay_stored_bytes')).toBeLessThanOrEqual(CAP * MESSAGE_BYTES);
      }
    })();

    // The honest client posts while the flood runs, long after the store was first pruned; the
    // flood goes on for two more batches, fewer than the cap, so the honest posts are still stored at the end.
    await Promise.race([nearEnd.promise, flood]);
    for (const m of honest) await member.post(m);
    honestDone = true;
    await flood;

    // Every honest post was acknowledged (post resolved) and pushed live to the member following the board.
    await honestSeen.promise;

    const total = 1 + flooded.length + honest.length;
    const disk = await onDisk();
    expect(disk.messages).toBeLessThanOrEqual(CAP);
    expect(disk.maxSeq).toBe(total);
    expect(disk.minSeq).toBe(total - disk.messages + 1);
    expect(checks.length).toBeGreaterThanOrEqual((4 * CAP) / FLOOD_BATCH);
    // The store was full for most of the flood: pruning, not a slow attacker, kept it under the cap.
    expect(checks.filter((c) => c.messages > CAP * 0.8).length).toBeGreaterThanOrEqual(2);

    // A member joining now replays exactly what is stored: the newest, honest posts among them.
    const late = await client().openSession();
    const replayed = (await late.replay()).map(hex);
    expect(replayed.length).toBe(disk.messages);
    for (const m of honest) expect(replayed).toContain(hex(m));
    // Oldest first: the first flood posts are gone, the last ones are the newest stored.
    expect(replayed).not.toContain(hex(flooded[0]!));
    expect(replayed.at(-1)).toBe(hex(flooded.at(-1)!));

    const text = await metrics();
    expect(metricValue(text, 'relay_storage_cap_messages')).toBe(CAP);
    expect(metricValue(text, 'relay_stored_messages')).toBe(disk.messages);
    expect(metricValue(text, 'relay_stored_bytes')).toBe(disk.bytes);
    expect(metricValue(text, 'relay_pruned_messages_total', '{reason="cap"}')).toBe(total - disk.messages);
    expect(metricValue(text, 'relay_retention_days')).toBe(30);
  });
});

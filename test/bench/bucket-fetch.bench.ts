/**
 * Bucketed fetch: what a member downloads when it comes back (figures printed, never asserted).
 *
 * One relay holds ten groups of different activity (2 to 600 messages a day each, 1,557 a day
 * in all, at random times) over eight days. A member who went offline 1 hour, 1 day or 1 week
 * ago comes back and catches up over a real board session on loopback; a counting proxy in
 * front of the board measures every byte the relay sends it (handshake included). Three ways,
 * in the same run:
 *
 *  - all: replay everything the relay holds (what a member without a cursor does; the baseline);
 *  - since: replay from the last message the member processed (Cwtch's way, and ours before
 *    buckets): the least data, but the request names a message only this member stopped at;
 *  - bucketed: fetch every bucket from the one the relay last named to the member before it
 *    left (its frontier), with one-hour buckets (the default) and one-day buckets.
 *
 * The relay cannot tell groups apart, so every way downloads every group's messages in range.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@pursuance/crypto';
import { GROUP_CIPHERTEXT_SIZE, MemoryKeyBundlePins, MemoryRelayStore, RelayClient, RelayServer, bucketOf, trustKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { LoopbackACN, TAPIR_PORT } from '@pursuance/tapir';
import { fmt, printTable } from './measure.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PER_DAY = [2, 5, 10, 20, 40, 80, 150, 250, 400, 600];
const DAYS = 8;

/** A deterministic PRNG (mulberry32), so every run stores the same timeline. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Puts itself between loopback clients and `onion` in the registry and counts the bytes sent back to them. */
async function countingProxy(registryDir: string, onion: string): Promise<{ received: () => number; close: () => Promise<void> }> {
  const entryPath = join(registryDir, `${onion}-${TAPIR_PORT}.json`);
  const entry = JSON.parse(await readFile(entryPath, 'utf8')) as { host: string; port: number };
  let received = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: entry.host, port: entry.port });
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no address');
  await writeFile(entryPath, JSON.stringify({ ...entry, port: address.port }));
  return { received: () => received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Stored {
  readonly at: number;
  readonly signature: Uint8Array;
}

const root = await mkdtemp(join(tmpdir(), 'bucket-bench-'));
const registryDir = join(root, 'registry');
const start = bucketOf(Date.now() - DAYS * DAY, DAY) * DAY;
const end = start + DAYS * DAY + 25 * 60_000; // back at 25 past the hour
const random = prng(20261204);
const timeline: { at: number; group: number }[] = [];
PER_DAY.forEach((perDay, group) => {
  for (let i = 0; i < perDay * DAYS; i++) timeline.push({ at: start + Math.floor(random() * DAYS * DAY), group });
});
timeline.sort((a, b) => a.at - b.at);

const rows: [string, string][] = [];
/** Bytes of the "all" replay, the baseline the bucketed figures are given against. */
let allBytes = 0;
const acns: LoopbackACN[] = [];
try {
  for (const bucketMs of [HOUR, DAY]) {
    let now = start;
    const store = new MemoryRelayStore({ bucketMs, now: () => now });
    const stored: Stored[] = [];
    for (const { at } of timeline) {
      now = at;
      const signature = new Uint8Array(randomBytes(64));
      await store.post({
        signature,
        ciphertext: new Uint8Array(randomBytes(GROUP_CIPHERTEXT_SIZE)),
        tokenEpoch: 0,
        tokenInput: new Uint8Array(randomBytes(32)),
      });
      stored.push({ at, signature });
    }
    now = end;
    const serverAcn = new LoopbackACN({ registryDir });
    const acn = new LoopbackACN({ registryDir });
    acns.push(serverAcn, acn);
    const relay = await RelayServer.start({
      acn: serverAcn,
      boardIdentity: Identity.generate(),
      tokenIdentity: Identity.generate(),
      tokenKeys: testTokenKeys(),
      store,
      powDifficulty: 2,
    });
    const bundle = await trustKeyBundle(relay.exportedBundle, new MemoryKeyBundlePins());
    const proxy = await countingProxy(registryDir, bundle.boardOnion);
    const client = new RelayClient({ acn, bundle });
    /** Bytes the relay sent for one session that catches up one way, and the messages it brought. */
    const measure = async (how: { since?: Uint8Array } | { fromBucket: number }): Promise<{ bytes: number; messages: number }> => {
      const before = proxy.received();
      const session = await client.openSession();
      const messages =
        'fromBucket' in how
          ? (await session.fetchEach({ fromBucket: how.fromBucket, onMessage: () => undefined })).count
          : await session.replayEach({ ...how, onMessage: () => undefined });
      session.close();
      await session.closed;
      return { bytes: proxy.received() - before, messages };
    };
    const label = bucketMs === HOUR ? '1-hour buckets' : '1-day buckets';
    for (const [name, offline] of [
      ['1 hour', HOUR],
      ['1 day', DAY],
      ['1 week', 7 * DAY],
    ] as const) {
      const left = end - offline;
      const bucketed = await measure({ fromBucket: bucketOf(left, bucketMs) });
      if (bucketMs === HOUR) {
        const last = stored.filter((m) => m.at <= left).at(-1);
        const since = await measure({ since: last!.signature });
        const all = await measure({});
        allBytes = all.bytes;
        const inRange = stored.filter((m) => m.at > left).length;
        rows.push([`offline ${name}: stored while away`, `${fmt(inRange)} messages`]);
        rows.push([`offline ${name}: all (baseline)`, `${fmt(all.bytes / 1e6, 1)} MB (${fmt(all.messages)} messages)`]);
        rows.push([
          `offline ${name}: since`,
          `${fmt(since.bytes / 1e6, 1)} MB (${fmt(since.messages)} messages, ${fmt((100 * since.bytes) / all.bytes, 1)}% of all)`,
        ]);
      }
      rows.push([
        `offline ${name}: bucketed, ${label}`,
        `${fmt(bucketed.bytes / 1e6, 1)} MB (${fmt(bucketed.messages)} messages, ${fmt((100 * bucketed.bytes) / allBytes, 1)}% of all)`,
      ]);
    }
    await client.close();
    await proxy.close();
    await relay.close();
    await store.close();
  }
  printTable(
    `Catching up after time offline: one relay, ${PER_DAY.length} groups (${PER_DAY.join('/')} messages a day), ${DAYS} days, ${fmt(timeline.length)} messages`,
    rows,
  );
} finally {
  await Promise.allSettled(acns.map((a) => a.close()));
  await rm(root, { recursive: true, force: true });
}

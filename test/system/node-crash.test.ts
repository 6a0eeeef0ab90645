import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PursuanceLog, decodeEvent } from '@pursuance/pursuance';
import { http } from '../../apps/node/test/support/http.js';
import { generateBacklog, type Backlog } from '../support/backlog.js';
import { spawnCli, type Spawned } from '../support/processes.js';

/**
 * Crash: `kill -9` a node process while it ingests a large imported backlog, restart it, and
 * check that (1) every batch it acknowledged before the kill is still there without re-import,
 * (2) its projection equals a fresh fold of exactly what its store holds, (3) after a full
 * (idempotent) re-import its state hash equals an uninterrupted fold of the whole log, and
 * (4) rebuilding the projections from the store changes nothing.
 *
 * The node imports the pursuance as a non-founder: the backlog's founder is a throwaway
 * identity generated here, and the first batch carries the genesis.
 */
const EVENTS = 5_000;
/** The node's JSON body limit is Express's default 100 kB: ~60 events (≈1 kB base64 each) fit. */
const BATCH = 60;
const env = { PURSUANCE_PASSWORD: 'node crash password' };

let root: string;
let backlog: Backlog;
let batches: string[][];
let reference: string;

interface NodeProcess {
  readonly proc: Spawned;
  readonly port: number;
  readonly token: string;
}

async function startProcess(dataDir: string): Promise<NodeProcess> {
  const proc = spawnCli(['node', 'start', '--data-dir', dataDir, '--port', '0'], env);
  const [, port] = await proc.waitForLine(/dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/);
  const [, token] = await proc.waitForLine(/token ([A-Za-z0-9_-]{43})\n/);
  return { proc, port: Number(port), token: token! };
}

const api = (n: NodeProcess, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
const importBatch = (n: NodeProcess, events: string[]) => api(n, 'POST', `/api/pursuances/${backlog.id}/events`, { events });

async function stateHash(n: NodeProcess): Promise<string> {
  const r = await api(n, 'GET', `/api/pursuances/${backlog.id}`);
  expect(r.status).toBe(200);
  return (r.body as { stateHash: string }).stateHash;
}

/** The ids of every event the node holds, from its export. */
async function exportedIds(n: NodeProcess): Promise<{ ids: Set<string>; bytes: Uint8Array[] }> {
  const r = await api(n, 'GET', `/api/pursuances/${backlog.id}/events`);
  expect(r.status).toBe(200);
  const bytes = (r.body as { events: string[] }).events.map((s) => new Uint8Array(Buffer.from(s, 'base64')));
  return { ids: new Set(bytes.map((b) => decodeEvent(b).id)), bytes };
}

/**
 * Post `from` first and wait for its acknowledgement (so the node holds the pursuance), then
 * fire all of `rest` at once without awaiting, and SIGKILL the process the moment `killAfter`
 * more acknowledgements have arrived: the kill lands while later batches are queued or being
 * ingested. Returns the indexes of the batches acknowledged (HTTP 200) before the kill.
 */
async function killDuringIngest(n: NodeProcess, first: number, rest: number[], killAfter: number): Promise<number[]> {
  const acked: number[] = [];
  const failures: string[] = [];
  const head = await importBatch(n, batches[first]!);
  expect(head.status).toBe(200);
  acked.push(first);
  let killed = false;
  let arrived!: () => void;
  const enough = new Promise<void>((resolve) => (arrived = resolve));
  const inFlight = rest.map((i) =>
    importBatch(n, batches[i]!).then(
      (r) => {
        if (killed) return;
        if (r.status === 200) acked.push(i);
        else failures.push(`batch ${i}: ${r.status} ${r.text}`);
        if (failures.length > 0 || acked.length - 1 >= killAfter) {
          killed = true;
          n.proc.child.kill('SIGKILL');
          arrived();
        }
      },
      () => undefined, // connection reset by the kill: not acknowledged
    ),
  );
  await enough;
  expect(await n.proc.stop()).toBe(null); // killed by the signal, no exit code
  await Promise.all(inFlight);
  expect(failures).toEqual([]);
  return acked;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-crash-'));
  backlog = generateBacklog(EVENTS, { members: 12, rotations: 3 });
  const b64 = backlog.bytes.map((b) => Buffer.from(b).toString('base64'));
  batches = [];
  for (let i = 0; i < b64.length; i += BATCH) batches.push(b64.slice(i, i + BATCH));
  // The uninterrupted reference: a fresh log folded in-process from every event.
  const fold = new PursuanceLog(backlog.bytes[0]!);
  fold.addAll(backlog.bytes.slice(1));
  reference = fold.stateHash();
  expect(reference).toBe(backlog.log.stateHash());
  expect(fold.rejections()).toEqual([]);
  const kinds = new Set([...backlog.log.events()].map((e) => e.header.kind));
  for (const kind of ['genesis', 'member.add', 'task.create', 'task.comment', 'task.status', 'keys.rotate']) expect(kinds).toContain(kind);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a node killed with SIGKILL during ingest of a large backlog', () => {
  // Two independent data dirs; in each the node is killed twice mid-ingest (during the first
  // import, then during the re-import), so four kill -9 / restart cycles in all.
  for (const round of [1, 2]) {
    it(
      `round ${round}: keeps every acknowledged batch, reaches the uninterrupted state hash, and rebuilds to the same hash`,
      { timeout: 180_000 },
      async () => {
        const dataDir = join(root, `round-${round}`);
        const everyBatch = batches.map((_, i) => i);
        const acknowledged = new Set<number>();

        // Kill 1: during the first import (round 1 right after the 2nd ack, round 2 a third in).
        let node = await startProcess(dataDir);
        const firstKillAfter = round === 1 ? 1 : Math.floor(batches.length / 3);
        for (const i of await killDuringIngest(node, 0, everyBatch.slice(1), firstKillAfter)) acknowledged.add(i);
        expect(acknowledged.size).toBeGreaterThan(1);
        expect(acknowledged.size).toBeLessThan(batches.length); // the kill landed mid-ingest

        // Kill 2: restart, check durability, then kill again during a re-import of everything.
        node = await startProcess(dataDir);
        await expectDurable(node, acknowledged);
        for (const i of await killDuringIngest(node, 0, everyBatch.slice(1), Math.floor(batches.length / 2))) acknowledged.add(i);

        // Restart: everything acknowledged by either run is there without re-import.
        node = await startProcess(dataDir);
        try {
          await expectDurable(node, acknowledged);
          // The persisted read model was written with the events (one transaction), so a kill -9
          // never leaves it disagreeing with them: the replay at start-up found nothing to repair.
          expect(node.proc.stderr()).not.toContain('disagreed with a replay');

          // Re-import the whole backlog (idempotent): the uninterrupted state hash.
          for (const batch of batches) expect((await importBatch(node, batch)).status).toBe(200);
          const held = await exportedIds(node);
          expect(held.ids.size).toBe(backlog.ids.length);
          expect(await stateHash(node)).toBe(reference);
          const info = (await api(node, 'GET', `/api/pursuances/${backlog.id}`)).body as { events: number };
          expect(info.events).toBe(EVENTS);

          // Projection rebuild from the store: the same state hash.
          const rebuilt = await api(node, 'POST', '/api/admin/rebuild');
          expect(rebuilt.status).toBe(200);
          expect(await stateHash(node)).toBe(reference);
        } finally {
          expect(await node.proc.stop('SIGTERM')).toBe(0);
        }

        // And a graceful restart replays the store to the same hash, and its stored read model to the same rows.
        node = await startProcess(dataDir);
        try {
          expect(await stateHash(node)).toBe(reference);
          expect(node.proc.stderr()).not.toContain('disagreed with a replay');
        } finally {
          await node.proc.stop('SIGTERM');
        }
      },
    );
  }
});

/**
 * After a restart (no re-import): every event of every acknowledged batch is held, and the
 * node's projection equals a fresh in-process fold of exactly the events its store holds.
 *
 * Concurrent requests may be ingested out of order, so an acknowledged batch can hold events
 * whose parents were in a batch the kill cut off: those are stored but pending (not in the
 * export, which lists processed events). So: the acknowledged prefix is in the export, and
 * every other acknowledged event is in the export or among the node's pending events.
 */
async function expectDurable(node: NodeProcess, acknowledged: ReadonlySet<number>): Promise<void> {
  const held = await exportedIds(node);
  const info = (await api(node, 'GET', `/api/pursuances/${backlog.id}`)).body as { events: number; pending: number };
  expect(info.events).toBe(held.ids.size + info.pending);
  let prefix = 0;
  while (acknowledged.has(prefix)) prefix++;
  const missingFromPrefix = backlog.ids.slice(0, prefix * BATCH).filter((id) => !held.ids.has(id));
  expect(missingFromPrefix).toEqual([]);
  const notExported = [...acknowledged].flatMap((i) => backlog.ids.slice(i * BATCH, (i + 1) * BATCH)).filter((id) => !held.ids.has(id));
  expect(notExported.length).toBeLessThanOrEqual(info.pending);
  expect(info.events).toBeGreaterThanOrEqual([...acknowledged].reduce((n, i) => n + batches[i]!.length, 0));
  const fold = new PursuanceLog(held.bytes[0]!);
  fold.addAll(held.bytes.slice(1));
  expect(await stateHash(node)).toBe(fold.stateHash());
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { PursuanceLog, RulesSchema, readFoldCheckpoint, type Rules } from '@pursuance/pursuance';
import { Projector, PART } from '../src/domain/projector.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { loadTemplates } from '../src/domain/templates.js';
import { DEFAULT_TEMPLATES_DIR, openNodeStore, startNode, type RunningNode } from '../src/index.js';
import { EventStore } from '../src/store/event-store.js';

/**
 * A load that folded enough events keeps the log's fold (sealed, beside its events); the next
 * start takes the events back without judging them again and resumes the fold from it, folding
 * only what was stored after it (whatever came while the node ran since, or before a crash).
 * Whatever the kept fold is — current, stale, of other events, damaged — the log and its read
 * model must be those a full replay of the stored events gives.
 */
const PASSWORD = 'node test password';
let dir: string;
let dataDir: string;
let rules: Rules;
let id: string;

/** Every load keeps its fold here (the default waits for 2,000 events folded). */
const start = (keepFoldAfter = 1): Promise<RunningNode> =>
  startNode({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null, keepFoldAfter });
const storeOf = (node: RunningNode): EventStore => (node.registry as unknown as { store: EventStore }).store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-fold-checkpoint-'));
  dataDir = join(dir, 'node');
  rules = RulesSchema.parse((await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function addTasks(node: RunningNode, n: number, label: string): Promise<void> {
  for (let i = 0; i < n; i++) await node.registry.act(id, (a) => a.createTask({ audience: ['member'], title: `${label} ${i}` }));
}

/** Start the node, recording how each log's fold began and what was warned. */
async function startWatched(keepFoldAfter?: number): Promise<{ node: RunningNode; resumed: string[]; replayed: number; warnings: string[] }> {
  // The node resumes in steps: how each resume ended is known once its steps have run out.
  const resumed: string[] = [];
  const original = PursuanceLog.prototype.resumeFoldSteps;
  const resume = vi.spyOn(PursuanceLog.prototype, 'resumeFoldSteps').mockImplementation(function* (this: PursuanceLog, ...args) {
    try {
      yield* original.apply(this, args);
    } catch (err) {
      resumed.push('throw');
      throw err;
    }
    resumed.push('return');
  });
  const replay = vi.spyOn(PursuanceLog.prototype, 'replay');
  const warnings: string[] = [];
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    warnings.push(String(chunk));
    return true;
  });
  try {
    const node = await start(keepFoldAfter);
    return { node, resumed, replayed: replay.mock.calls.length, warnings };
  } finally {
    resume.mockRestore();
    replay.mockRestore();
    stderr.mockRestore();
  }
}

/** The loaded log and its stored read model are what a full replay of the stored events gives. */
async function expectFullReplayOf(node: RunningNode): Promise<void> {
  const log = node.registry.get(id).log;
  const full = new PursuanceLog(log.genesis.bytes);
  full.addAll([...log.events()].map((e) => e.bytes));
  expect(log.stateHash()).toBe(full.stateHash());
  expect(log.order()).toEqual(full.order());
  expect(log.heads()).toEqual(full.heads());
  const stored = (await storeOf(node).storedProjections()).get(id)!;
  const replayed = new Projector(node.registry.identity.onion).diff(node.registry.get(id), node.registry.view(id), undefined, 'all').upserts;
  for (const [name, json] of replayed) if (name !== PART.checkpoint) expect(stored.get(name)).toBe(json);
}

describe('the fold a load keeps', () => {
  let first: Uint8Array;

  it('is kept by a load that folded enough events, and resumed by the next start, which judges no stored event again', async () => {
    const node = await start();
    ({ id } = await node.registry.create({ name: 'Kept fold', rules }));
    await addTasks(node, 30, 'before');
    await node.close();
    // The first start loaded nothing: no fold kept yet.
    expect(await withStore((store) => store.foldCheckpoint(id))).toBeNull();
    // Below the threshold a load keeps none: 31 events are cheaper to fold again.
    const small = await startWatched(32);
    await small.node.close();
    expect(small.replayed).toBe(1);
    expect(await withStore((store) => store.foldCheckpoint(id))).toBeNull();
    // At the threshold it keeps one.
    const keeping = await startWatched(31);
    await keeping.node.close();
    first = (await withStore((store) => store.foldCheckpoint(id)))!.bytes;

    const { node: again, resumed, replayed, warnings } = await startWatched();
    try {
      expect(resumed).toEqual(['return']);
      expect(replayed).toBe(0);
      expect(warnings.filter((w) => w.includes('fold checkpoint'))).toEqual([]);
      expect(again.registry.get(id).log.size).toBe(31);
      await expectFullReplayOf(again);
      // Stored after the kept fold; then a crash (no clean stop).
      await addTasks(again, 5, 'after');
      vi.spyOn(PursuanceRegistry.prototype, 'settle').mockResolvedValue();
    } finally {
      await again.close();
    }
    // A load that resumed and folded nothing more keeps no new one.
    expect((await withStore((store) => store.foldCheckpoint(id)))!.bytes).toEqual(first);
  });

  it('covers the events before it, and the ones stored after it are folded on', async () => {
    // Five events folded on: below the threshold, the kept fold stays the one of 31.
    const { node, resumed, warnings } = await startWatched(6);
    try {
      expect(resumed).toEqual(['return']);
      expect(warnings.filter((w) => w.includes('fold checkpoint'))).toEqual([]);
      expect(node.registry.get(id).log.size).toBe(36);
      await expectFullReplayOf(node);
      // The node goes on from it: a command after the start is judged and stored as ever.
      await addTasks(node, 1, 'next');
    } finally {
      await node.close();
    }
    expect((await withStore((store) => store.foldCheckpoint(id)))!.bytes).toEqual(first);
  });

  it('of other events, unreadable, or not opening is refused with a warning, and the events are folded from the start', async () => {
    const cases: [string, (store: EventStore) => Promise<void>, RegExp][] = [
      // Stored as covering every row so far, but taken when 31 events were held.
      ['stale', (store) => store.writeFoldCheckpoint(id, first), /FOLD_CHECKPOINT_MISMATCH: the fold checkpoint is of 31 events/],
      ['garbage', (store) => store.writeFoldCheckpoint(id, Uint8Array.of(0xa1, 0x61, 0x76, 0x02)), /FOLD_CHECKPOINT_INVALID/],
      [
        'not opening',
        async (store) => void (await store.dataSource.query(`UPDATE node_store_meta SET value = randomblob(length(value)) WHERE name LIKE 'fold:%'`)),
        /fold checkpoint does not open/,
      ],
    ];
    for (const [, damage, warning] of cases) {
      await withStore(damage);
      const { node, resumed, warnings } = await startWatched();
      try {
        const told = warnings.filter((w) => w.includes('fold checkpoint'));
        expect(told).toHaveLength(1);
        expect(told[0]).toMatch(warning);
        expect(resumed.filter((r) => r === 'return')).toEqual([]);
        expect(node.registry.get(id).log.size).toBe(37);
        await expectFullReplayOf(node);
      } finally {
        // The load, which folded every event, kept a good one again.
        await node.close();
      }
      const { node: next, resumed: thenResumed } = await startWatched();
      await next.close();
      expect(thenResumed).toEqual(['return']);
    }
  });

  it('absent (a store an older node kept), the events are folded from the start without a word, and the load keeps one', async () => {
    await withStore((store) => store.dataSource.query(`DELETE FROM node_store_meta WHERE name LIKE 'fold:%'`));
    const { node, resumed, replayed, warnings } = await startWatched();
    try {
      expect(resumed).toEqual([]);
      expect(replayed).toBe(1);
      expect(warnings.filter((w) => w.includes('fold checkpoint'))).toEqual([]);
      await expectFullReplayOf(node);
    } finally {
      await node.close();
    }
    expect(await withStore((store) => store.foldCheckpoint(id))).not.toBeNull();
  });

  it('that cannot be written (a full disk) is warned of, and the start goes on without it', async () => {
    await withStore((store) => store.dataSource.query(`DELETE FROM node_store_meta WHERE name LIKE 'fold:%'`));
    const write = vi.spyOn(EventStore.prototype, 'writeFoldCheckpoint').mockRejectedValue(new Error('SQLITE_FULL: database or disk is full'));
    const { node, warnings } = await startWatched();
    try {
      expect(write).toHaveBeenCalledTimes(1);
      expect(warnings.filter((w) => w.includes('fold'))).toEqual([expect.stringContaining('its fold was not kept for the next start (UNEXPECTED)')]);
      await expectFullReplayOf(node);
      await addTasks(node, 1, 'still works');
    } finally {
      await node.close();
    }
    expect(await withStore((store) => store.foldCheckpoint(id))).toBeNull();
  });

  it('is read and resumed, and the keys collected, in slices, the read routes getting their turn between them', async () => {
    const node = await start();
    try {
      const { registry } = node;
      const kept = readFoldCheckpoint((await storeOf(node).foldCheckpoint(id))!.bytes, id as never);
      const folded = kept.run.order.length;
      expect(folded).toBeGreaterThan(30);
      const marks: string[] = [];
      const read = storeOf(node).foldCheckpoint.bind(storeOf(node));
      vi.spyOn(storeOf(node), 'foldCheckpoint').mockImplementation(async (p) => {
        marks.push('read');
        return read(p);
      });
      const original = PursuanceLog.prototype.resumeFoldSteps;
      vi.spyOn(PursuanceLog.prototype, 'resumeFoldSteps').mockImplementation(function* (this: PursuanceLog, ...args) {
        marks.push('resume');
        yield* original.apply(this, args);
        marks.push('resumed');
      });
      registry.betweenPages = () => {
        marks.push('turn');
        return Promise.resolve();
      };
      // The keys are collected after the refold: a walk of every event, then the key-bearing ones in fold order.
      const refold = PursuanceLog.prototype.refoldInSlices;
      vi.spyOn(PursuanceLog.prototype, 'refoldInSlices').mockImplementation(async function (this: PursuanceLog, ...args) {
        const done = await refold.apply(this, args);
        marks.push('refolded');
        return done;
      });
      const inOrder = PursuanceLog.prototype.acceptedInFoldOrder;
      vi.spyOn(PursuanceLog.prototype, 'acceptedInFoldOrder').mockImplementation(function (this: PursuanceLog, ...args) {
        marks.push('keys walked');
        return inOrder.apply(this, args);
      });
      registry.loadSlice = 2;
      await registry.load(undefined, undefined, { resume: true });
      const between = (from: string, to: string): number => {
        const start = marks.indexOf(from);
        return marks.slice(start, marks.indexOf(to, start)).filter((m) => m === 'turn').length;
      };
      // Reading: a turn after the document's check and every 2 ids; resuming: one every 2 ids.
      expect(between('read', 'resume')).toBeGreaterThanOrEqual(1 + Math.floor(folded / 2));
      expect(between('resume', 'resumed')).toBe(Math.floor(folded / 2));
      // Collecting the keys: a turn every 2 events of the log.
      expect(between('refolded', 'keys walked')).toBe(Math.floor(registry.get(id).log.size / 2));
      await expectFullReplayOf(node);
    } finally {
      await node.close();
    }
  });

  it('is not used by a rebuild, which replays every event', async () => {
    const node = await start();
    try {
      const resume = vi.spyOn(PursuanceLog.prototype, 'resumeFoldSteps');
      const replay = vi.spyOn(PursuanceLog.prototype, 'replay');
      await node.registry.load();
      expect(resume).not.toHaveBeenCalled();
      expect(replay).toHaveBeenCalledTimes(1);
      await expectFullReplayOf(node);
    } finally {
      await node.close();
    }
  });
});

async function withStore<T>(use: (store: EventStore) => Promise<T>): Promise<T> {
  const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
  try {
    return await use(opened.store);
  } finally {
    await opened.close();
  }
}

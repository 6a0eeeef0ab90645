import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, buildMemberView, type SignedEvent } from '@pursuance/pursuance';
import { PART, Projector } from '../src/domain/projector.js';
import { PursuanceRegistry, type ReplayProgress } from '../src/domain/registry.js';
import { loadTemplates } from '../src/domain/templates.js';
import { DEFAULT_TEMPLATES_DIR, openNodeStore, startNode } from '../src/start.js';
import { asHeld } from './support/held-parts.js';
import type { EventStore } from '../src/store/event-store.js';
import { SHELF } from '../src/store/projection-store.js';
import { ListPursuancesHandler } from '../src/queries/queries.js';
import type { SyncService } from '../src/sync/sync.service.js';

/**
 * A node's load at a million events spends minutes in a few long steps after reading the store
 * (the refold when events came out of order, the first member view, the comparison of every
 * task with the stored read model). Each gives the event loop a turn between slices, so the
 * read routes keep answering from the stored read models meanwhile; and until the read model
 * is written, a pursuance whose stored one was not served answers "loading", never "unknown".
 */
const PASSWORD = 'node test password';
/** Tasks each author creates in the first test: over 2,000 events, so the refold is told midway too. */
const TASKS_EACH = 1100;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-load-slices-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A founder and a member each creating tasks on their own replica: every second event is concurrent with the one before. */
async function concurrentHistory(me: Identity, tasksEach: number, concurrent = true): Promise<History> {
  const rules = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules;
  let t = Date.UTC(2026, 0, 1);
  const clock = (): number => (t += 1000);
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Side by side', rules }, clock);
  const memberId = Identity.generate();
  const events: SignedEvent[] = [
    founder.log.genesis,
    founder.addMember(memberId.publicKey, { roles: ['member'] }),
    founder.addMember(me.publicKey, { roles: ['member'] }),
  ];
  const memberLog = new PursuanceLog(founder.log.genesis);
  memberLog.addAll(events.slice(1));
  const member = new PursuanceAuthor(memberId, memberLog, undefined, clock);
  for (let i = 0; i < tasksEach; i++) {
    events.push(founder.createTask({ audience: ['member'], title: `founder ${i}` }));
    // Without concurrency the founder writes both: every event descends from the one before.
    events.push((concurrent ? member : founder).createTask({ audience: ['member'], title: `member ${i}` }));
  }
  return { id: founder.log.id, events, member };
}

interface History {
  readonly id: string;
  readonly events: SignedEvent[];
  /** The member's replica: without concurrency it stopped after the member.adds, so whatever it signs now is a late race. */
  readonly member: PursuanceAuthor;
}

/**
 * A store holding that history, stored by an import rather than the registry (so no read model
 * is stored and none is served), and a registry opened on it, not loaded yet.
 */
async function importedStore(
  name: string,
  use: (registry: PursuanceRegistry, history: History) => Promise<void>,
  { tasksEach = 300, concurrent = true } = {},
): Promise<void> {
  const dataDir = join(dir, name);
  const node = await startNode({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null });
  const me = node.registry.identity;
  await node.close();
  const history = await concurrentHistory(me, tasksEach, concurrent);
  const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
  try {
    await opened.store.append(history.events, 'import');
    const registry = new PursuanceRegistry(opened.store, opened.identity);
    registry.warn = () => undefined;
    await registry.open();
    await use(registry, history);
    await registry.idle();
  } finally {
    await opened.close();
  }
}

describe('a load in slices', () => {
  it('refolds out-of-order events in slices and tells it, then reads the view and compares the read model in slices, answering "loading" until it is written', async () => {
    await importedStore(
      'concurrent',
      async (registry, { id, events }) => {
        const store = (registry as unknown as { store: EventStore }).store;
        const told: ReplayProgress[] = [];
        const turns: { after: ReplayProgress | undefined; loaded: boolean }[] = [];
        registry.betweenPages = () => {
          turns.push({ after: told.at(-1), loaded: registry.isLoaded(id) });
          return Promise.resolve();
        };
        const readableWhileWriting: string[] = [];
        const write = store.writeProjection.bind(store);
        store.writeProjection = async (...args) => {
          try {
            registry.readable(id);
            readableWhileWriting.push('served');
          } catch (err) {
            readableWhileWriting.push((err as { code: string }).code);
          }
          return write(...args);
        };

        await registry.load((p) => void told.push(p));

        const total = events.length;
        // The read, then the refold (the store's order is not the fold's), each told to the end.
        expect(told.filter((p) => p.stage === 'read').at(-1)).toEqual({ pursuanceId: id, stage: 'read', done: total, total });
        expect(told.at(-1)).toEqual({ pursuanceId: id, stage: 'fold', done: total, total });
        // Told as it goes too: every 2,000 events folded.
        const midFold = told.filter((p) => p.stage === 'fold').slice(0, -1);
        expect(midFold.map((p) => p.done)).toEqual([midFold[0]!.done]);
        expect(midFold[0]!.done).toBeGreaterThanOrEqual(2000);
        expect(midFold[0]!.done).toBeLessThan(2000 + 256);
        // Turns of the event loop inside the refold: after the read's last report, before the fold's.
        const readDone = told.findIndex((p) => p.stage === 'read' && p.done === total);
        const duringFold = turns.filter((turn) => turn.after === told[readDone]);
        expect(duringFold.length - 1).toBeGreaterThanOrEqual(Math.floor(total / 256));
        // And after it, while the view is read and every task compared: the log is in, the read model not yet.
        const afterFold = turns.filter((turn) => turn.after === told.at(-1));
        expect(afterFold.length).toBeGreaterThanOrEqual(Math.floor((2 * TASKS_EACH) / 100));
        expect(afterFold.every((turn) => turn.loaded)).toBe(true);
        // While the read model was written (once, after the replay), reads heard "loading", not "unknown".
        expect(readableWhileWriting).toEqual(['PURSUANCE_LOADING']);
        registry.readable(id);

        // The result is the fold and read model done at once.
        const entry = registry.get(id);
        const reference = new PursuanceLog(events[0]!);
        reference.addAll(events.slice(1));
        expect(entry.log.stateHash()).toBe(reference.stateHash());
        expect(entry.log.order()).toEqual(reference.order());
        const atOnce = new Projector(registry.identity.onion).diff(entry, registry.view(id), undefined, 'all').upserts;
        expect(new Map([...registry.projections.parts(id)!].filter(([name]) => atOnce.has(name)))).toEqual(asHeld(atOnce));
        expect(registry.projections.tasks(id)).toHaveLength(2 * TASKS_EACH);
        // The view read in slices (kept by the registry) is the view read at once.
        expect(registry.view(id)).toEqual(buildMemberView(entry.log, registry.identity, entry.author.keyring));
        expect(registry.view(id).tasks.size).toBe(2 * TASKS_EACH);
      },
      { tasksEach: TASKS_EACH },
    );
  }, 120_000);

  it('reads the stored histories it compares with the replay in pages, a turn of the event loop between each (a million events: 0.6 s a page without)', async () => {
    await importedStore('histories in pages', async (first) => {
      // The first load writes the read model; a restart reads it back.
      await first.load();
      await first.idle();
      const store = (first as unknown as { store: EventStore }).store;
      const reads: { shelf: number; paused: boolean }[] = [];
      let readingHistories = false;
      let turnsInHistories = 0;
      const read = store.shelfProjections.bind(store);
      store.shelfProjections = async (id, shelf, pause, keep) => {
        reads.push({ shelf, paused: pause !== undefined });
        readingHistories = shelf === SHELF.later;
        try {
          return await read(id, shelf, pause, keep);
        } finally {
          readingHistories = false;
        }
      };
      const registry = new PursuanceRegistry(store, first.identity);
      registry.warn = () => undefined;
      registry.betweenPages = () => {
        if (readingHistories) turnsInHistories++;
        return Promise.resolve();
      };
      await registry.open();
      await registry.load();
      await registry.idle();
      expect(reads.map((r) => r.shelf).sort()).toEqual([SHELF.later, SHELF.list]);
      expect(reads.every((r) => r.paused)).toBe(true);
      expect(turnsInHistories).toBeGreaterThan(1);
    });
  }, 120_000);

  it('a list of pursuances read while a restart compares the read model answers with the stored state hash, not one worked out at once (seconds at a million events)', async () => {
    await importedStore('summary while loading', async (first, { id }) => {
      await first.load();
      await first.idle();
      const store = (first as unknown as { store: EventStore }).store;
      const registry = new PursuanceRegistry(store, first.identity);
      registry.warn = () => undefined;
      // Only linkOf is asked, and no relay is what an imported store has.
      const handler = new ListPursuancesHandler(registry, { linkOf: () => null } as unknown as SyncService);
      const stateHash = vi.spyOn(PursuanceLog.prototype, 'stateHash');
      const seen: { hash: string; worked: number }[] = [];
      registry.betweenPages = async () => {
        if (!registry.isLoaded(id) || !registry.isLoading(id)) return;
        const before = stateHash.mock.calls.length;
        const [summary] = await handler.execute();
        seen.push({ hash: summary!.stateHash, worked: stateHash.mock.calls.length - before });
      };
      try {
        await registry.open();
        await registry.load();
        await registry.idle();
      } finally {
        stateHash.mockRestore();
      }
      const hash = registry.get(id).log.stateHash();
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((s) => s.worked > 0 || s.hash !== hash)).toEqual([]);
      const [after] = await handler.execute();
      expect(after!.stateHash).toBe(hash);
    });
  }, 120_000);

  it('tells no refold when the store holds the events in fold order (one writer)', async () => {
    await importedStore(
      'in-order',
      async (registry, { id, events }) => {
        const told: ReplayProgress[] = [];
        await registry.load((p) => void told.push(p));
        expect(told.filter((p) => p.stage === 'fold')).toEqual([]);
        expect(told.at(-1)).toEqual({ pursuanceId: id, stage: 'read', done: events.length, total: events.length });
        expect(registry.projections.tasks(id)).toHaveLength(600);
      },
      { concurrent: false },
    );
  }, 120_000);

  it('ends at the next slice when stopped during the refold (Ctrl-C), loading nothing, and the next load completes', async () => {
    await importedStore(
      'stopped',
      async (registry, { id, events }) => {
        const stop = new AbortController();
        const told: ReplayProgress[] = [];
        let turnsAfterStop = 0;
        let turnsAfterRead = 0;
        registry.betweenPages = () => {
          if (stop.signal.aborted) turnsAfterStop += 1;
          // The first turn after the read's last report ends its last page; the second is inside the refold.
          if (told.at(-1)?.done === events.length && ++turnsAfterRead === 2) stop.abort();
          return Promise.resolve();
        };
        await registry.load((p) => void told.push(p), stop.signal);
        expect(stop.signal.aborted).toBe(true);
        expect(told.filter((p) => p.stage === 'fold')).toEqual([]);
        expect(turnsAfterStop).toBe(0);
        expect(registry.isLoaded(id)).toBe(false);

        // Without a progress listener (the refold tells none, and loads all the same).
        registry.betweenPages = () => Promise.resolve();
        await registry.load();
        expect(registry.isLoaded(id)).toBe(true);
        expect(registry.projections.tasks(id)).toHaveLength(2 * TASKS_EACH);
      },
      { tasksEach: TASKS_EACH },
    );
  }, 120_000);
});

describe('a late race while the node runs', () => {
  it('an event concurrent with the whole history is folded in and the view read again, in slices, the reads answered from the stored read model meanwhile', async () => {
    await importedStore(
      'late-race',
      async (registry, { id, events, member }) => {
        await registry.load();
        const store = (registry as unknown as { store: EventStore }).store;
        // Signed on a replica that saw only the first three events: every one of the others is
        // concurrent with it, and the fold takes it before them (a rename goes before tasks), so
        // everything after it moves: the member view reads all again.
        const late = member.rename('renamed offline');
        const turns: { tasks: number; stored: number }[] = [];
        // Turns of the event loop in each long step: the refold, the comparison of every task
        // with the stored read model (a rename may change any task's history), and what is
        // neither (the member view's new reading).
        let step: 'refold' | 'diff' | 'view' = 'view';
        const during = { refold: 0, diff: 0, view: 0 };
        const inStep = <A extends unknown[], R>(name: typeof step, work: (...args: A) => Promise<R>) =>
          async function (this: unknown, ...args: A): Promise<R> {
            step = name;
            try {
              return await work.apply(this, args);
            } finally {
              step = 'view';
            }
          };
        const log = registry.get(id).log;
        log.refoldInSlices = inStep('refold', log.refoldInSlices.bind(log));
        const diffInSlices = Projector.prototype.diffInSlices;
        const diff = vi.spyOn(Projector.prototype, 'diffInSlices').mockImplementation(inStep('diff', diffInSlices));
        // What start-up's load waits on between pages (start.ts: until no response is being sent,
        // 100 ms at most). Work done while the node runs must not: the POST that brought the
        // events, or a command queued behind them, counts as a response being sent.
        let quietWaits = 0;
        registry.betweenPages = () => {
          quietWaits += 1;
          return Promise.resolve();
        };
        registry.betweenSlices = async () => {
          during[step] += 1;
          registry.readable(id);
          turns.push({ tasks: registry.projections.tasks(id).length, stored: await store.count(id) });
        };
        const report = await registry.ingest(id, [late.bytes], 'peer').finally(() => diff.mockRestore());
        registry.betweenSlices = () => Promise.resolve();

        expect(report).toMatchObject({ stored: 1, accepted: 1, rejected: [], invalid: [] });
        // A turn per slice of the refold (256 events), of the view's new reading (500) and of the
        // comparison (100 tasks): the reads meanwhile see the read model as it was, and the
        // event is stored only after.
        const held = events.length + 1;
        expect(during.refold).toBeGreaterThanOrEqual(Math.floor(held / 256));
        expect(during.view).toBeGreaterThanOrEqual(Math.floor(held / 500));
        expect(during.diff).toBeGreaterThanOrEqual(Math.floor(600 / 100));
        expect(quietWaits).toBe(0);
        expect(new Set(turns.map((t) => JSON.stringify(t)))).toEqual(new Set([JSON.stringify({ tasks: 600, stored: events.length })]));
        expect(registry.get(id).log.order().indexOf(late.id)).toBeLessThan(10);
        // The same as folding and reading everything at once.
        const entry = registry.get(id);
        const reference = new PursuanceLog(events[0]!);
        reference.addAll([...events.slice(1), late]);
        expect(entry.log.order()).toEqual(reference.order());
        expect(entry.log.stateHash()).toBe(reference.stateHash());
        expect(registry.view(id)).toEqual(buildMemberView(entry.log, registry.identity, entry.author.keyring));
        expect(registry.projections.tasks(id)).toHaveLength(600);
        const atOnce = new Projector(registry.identity.onion).diff(entry, registry.view(id), undefined, 'all').upserts;
        expect(new Map([...registry.projections.parts(id)!].filter(([name]) => atOnce.has(name) && name !== PART.checkpoint))).toEqual(
          asHeld(new Map([...atOnce].filter(([name]) => name !== PART.checkpoint))),
        );
        const members = registry.projections.get<{ onion: string; name: string }[]>(id, PART.members)!;
        expect(members.find((m) => m.onion === member.identity.onion)?.name).toBe('renamed offline');
        expect(await store.count(id)).toBe(held);
      },
      { concurrent: false },
    );
  }, 120_000);
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemberViewCache, PursuanceLog, RejectionCode, buildMemberView, type SignedEvent } from '../src/index.js';
import { Keyring } from '../src/keys.js';
import { collectKeys, collectKeysSteps } from '../src/view.js';
import { run, seededShuffle, step, type World } from './support/world.js';

/**
 * The fold and the member view done in slices (a node's start-up at a million events gives its
 * event loop a turn between them): the same result as done at once, whatever the slice size,
 * and never a stale result when the log changes or is read during a pause.
 */

/** A log holding `events` in the given arrival order, its fold left to do (as a node's load leaves it). */
function logOf(world: World, events: readonly SignedEvent[]): PursuanceLog {
  const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
  const refused = events.filter((e) => log.add(e.bytes).rejection?.code === RejectionCode.PENDING_REFUSED);
  log.addAll(refused.map((e) => e.bytes));
  return log;
}

/** What a fold decides, to compare two folds of one event set. */
function verdicts(log: PursuanceLog): unknown {
  return { hash: log.stateHash(), order: log.order(), heads: log.heads(), rejections: log.foldRejections(), logHash: log.acceptedLogHash() };
}

const script = fc.array(step, { minLength: 10, maxLength: 40 });
const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
/** A pause that only does `what` (the pauses these tests count or act in). */
const pauseDoing =
  <A extends unknown[]>(what: (...args: A) => void) =>
  (...args: A): Promise<void> => {
    what(...args);
    return Promise.resolve();
  };

describe('the fold and the state hash in slices (PursuanceLog.refoldInSlices, stateHashInSlices)', () => {
  it('decides exactly what the fold at once decides, for every slice size, pausing as often as the size says (property)', async () => {
    await fc.assert(
      fc.asyncProperty(script, fc.integer(), fc.integer({ min: 1, max: 9 }), async (steps, seed, every) => {
        const world = run(steps);
        const events = seededShuffle([...world.all.values()], seed);
        const reference = logOf(world, events);
        reference.replay();
        const log = logOf(world, events);
        const folded: number[] = [];
        expect(
          await log.refoldInSlices(
            pauseDoing((n: number) => void folded.push(n)),
            every,
          ),
        ).toBe(true);
        // Up to date now: a second call has nothing to do.
        expect(await log.refoldInSlices(() => Promise.reject(new Error('no pause expected')), every)).toBe(false);
        // The state hash in slices (a piece an entry of the state's lists) is the state hash.
        let hashPauses = 0;
        expect(
          await log.stateHashInSlices(
            pauseDoing(() => void hashPauses++),
            every,
          ),
        ).toBe(reference.stateHash());
        expect(hashPauses).toBeGreaterThanOrEqual(Math.floor(log.state().members.size / every));
        // Kept: asked again, it is not worked out again.
        expect(await log.stateHashInSlices(() => Promise.reject(new Error('no pause expected')), every)).toBe(reference.stateHash());
        expect(verdicts(log)).toEqual(verdicts(reference));
        // Pauses as the slice size says: the fold reads every event once, then processes each
        // it takes (more than once if removal precedence restarts it).
        expect(folded.length).toBeGreaterThanOrEqual(Math.floor((log.size - 1) / every));
      }),
      { numRuns: 40 },
    );
  });

  it('takes events in slices (addSteps) exactly as addAll takes them, in any arrival order, pausing as often as the size says (property)', () => {
    fc.assert(
      fc.property(script, fc.integer(), fc.integer({ min: 1, max: 9 }), (steps, seed, every) => {
        const world = run(steps);
        const events = seededShuffle([...world.all.values()], seed).map((e) => e.bytes);
        const reference = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
        const expected = reference.addAll(events);
        const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
        const adding = log.addSteps(events, every);
        const yielded: number[] = [];
        let next = adding.next();
        for (; !next.done; next = adding.next()) yielded.push(next.value);
        // Every input's outcome as addAll gives it (a refused one taken on the retry included).
        expect(next.value).toEqual(expected);
        expect(yielded).toEqual(Array.from({ length: Math.floor(events.length / every) }, (_, i) => (i + 1) * every));
        expect(verdicts(log)).toEqual(verdicts(reference));
      }),
      { numRuns: 40 },
    );
  });

  it('drops its result when an event arrives during a pause; the log then folds what it holds', async () => {
    await fc.assert(
      fc.asyncProperty(script, fc.integer(), fc.nat(40), async (steps, seed, at) => {
        const world = run(steps);
        const events = seededShuffle([...world.all.values()], seed);
        fc.pre(events.length > 4);
        const reference = logOf(world, events);
        reference.replay();
        // A head: nothing else names it, so the log without it holds every other event.
        const late = world.all.get(reference.heads().find((h) => h !== reference.id)!)!;
        const log = logOf(
          world,
          events.filter((e) => e !== late),
        );
        let pauses = 0;
        const outcome = await log.refoldInSlices(
          pauseDoing(() => {
            if (pauses++ === at % 3) log.add(late.bytes);
          }),
          1,
        );
        expect(outcome).toBe(false);
        expect(verdicts(log)).toEqual(verdicts(reference));
      }),
      { numRuns: 25 },
    );
  });

  it('keeps the fold a read did during a pause (the same set gives the same fold) and reports that its own was not needed', async () => {
    const world = run(fc.sample(script, { seed: 7, numRuns: 1 })[0]!);
    const events = seededShuffle([...world.all.values()], 11);
    const log = logOf(world, events);
    const reference = logOf(world, events);
    reference.replay();
    let read: unknown;
    const outcome = await log.refoldInSlices(
      pauseDoing(() => {
        read ??= verdicts(log);
      }),
      1,
    );
    expect(outcome).toBe(false);
    expect(read).toEqual(verdicts(reference));
    expect(verdicts(log)).toEqual(verdicts(reference));
  });

  it('the state hash kept between calls follows every event taken in, in the fold or beside it (property)', async () => {
    await fc.assert(
      fc.asyncProperty(script, fc.integer(), fc.boolean(), async (steps, seed, sliced) => {
        const world = run(steps);
        const events = seededShuffle([...world.all.values()], seed);
        fc.pre(events.length > 4);
        const full = logOf(world, events);
        const late = world.all.get(full.heads().find((h) => h !== full.id)!)!;
        const without = logOf(
          world,
          events.filter((e) => e !== late),
        );
        const fresh = logOf(
          world,
          events.filter((e) => e !== late),
        );
        const hash = (log: PursuanceLog): Promise<string> => (sliced ? log.stateHashInSlices(turn, 3) : Promise.resolve(log.stateHash()));
        expect(await hash(without)).toBe(fresh.stateHash());
        without.add(late.bytes);
        expect(await hash(without)).toBe(full.stateHash());
        expect(without.stateHash()).not.toBe(fresh.stateHash());
        // An event taken in during the hash's pauses: that hash is of the state before it, and not kept.
        const racing = logOf(
          world,
          events.filter((e) => e !== late),
        );
        let added = false;
        const before = await racing.stateHashInSlices(
          pauseDoing(() => {
            if (!added) racing.add(late.bytes);
            added = true;
          }),
          1,
        );
        expect(before).toBe(fresh.stateHash());
        expect(racing.stateHash()).toBe(full.stateHash());
      }),
      { numRuns: 25 },
    );
  });

  it('a fold already up to date neither pauses nor refolds', async () => {
    const world = run(fc.sample(script, { seed: 3, numRuns: 1 })[0]!);
    const log = logOf(world, [...world.all.values()]);
    log.replay();
    let pauses = 0;
    expect(
      await log.refoldInSlices(
        pauseDoing(() => void pauses++),
        1,
      ),
    ).toBe(false);
    expect(pauses).toBe(0);
  });
});

describe('the member view in slices (MemberViewCache.currentInSlices)', () => {
  it('reads exactly what current() reads, for every slice size, and again from where it stands after a pause in which anything happened (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        script,
        fc.integer(),
        fc.nat(4),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('nothing', 'read', 'event', 'key'),
        async (steps, seed, reader, every, meanwhile) => {
          const world = run(steps);
          const me = world.ids[reader]!;
          const events = seededShuffle([...world.all.values()], seed);
          fc.pre(events.length > 4);
          // The event that arrives during a pause: a head, as in the fold's test above.
          const full = logOf(world, events);
          const late = world.all.get(full.heads().find((h) => h !== full.id)!)!;
          const log = logOf(
            world,
            events.filter((e) => meanwhile !== 'event' || e !== late),
          );
          const all = collectKeys(log, me, new Keyring());
          // For 'key', one key is held back and arrives during a pause: what was read before it is read again.
          const ids = all.keyIds();
          const held = meanwhile === 'key' && ids.length > 0 ? all.get(ids.at(-1)!) : undefined;
          const keyring = new Keyring();
          for (const id of ids) if (all.get(id) !== held) keyring.add(all.get(id)!);
          const cache = new MemberViewCache(keyring, me);
          let pauses = 0;
          const view = await cache.currentInSlices(
            log,
            pauseDoing(() => {
              if (pauses++ !== 1) return;
              if (meanwhile === 'read') cache.current(log);
              if (meanwhile === 'event') log.add(late.bytes);
              if (held) keyring.add(held);
            }),
            every,
          );
          expect(view).toEqual(buildMemberView(log, me, keyring));
          expect(cache.current(log)).toEqual(view);
          if (log.order().length > 2 * every) expect(pauses).toBeGreaterThanOrEqual(2);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('the keys addressed to a member, collected in slices (collectKeysSteps)', () => {
  it('are the keys collectKeys finds, for every slice size, pausing as often as the size says (property)', () => {
    let withKeys = 0;
    fc.assert(
      fc.property(script, fc.integer(), fc.nat(4), fc.integer({ min: 1, max: 7 }), (steps, seed, reader, every) => {
        const world = run(steps);
        const me = world.ids[reader]!;
        const log = logOf(world, seededShuffle([...world.all.values()], seed));
        const atOnce = collectKeys(log, me, new Keyring());
        const sliced = collectKeysSteps(log, me, new Keyring(), every);
        let pauses = 0;
        for (let step = sliced.next(); ; step = sliced.next()) {
          if (step.done) {
            expect(step.value.keyIds().sort()).toEqual(atOnce.keyIds().sort());
            for (const id of atOnce.keyIds()) expect(step.value.get(id)).toEqual(atOnce.get(id));
            break;
          }
          pauses += 1;
        }
        // A pause after every `every` events looked at, at least.
        expect(pauses).toBeGreaterThanOrEqual(Math.floor(log.size / every));
        if (atOnce.size > 0) withKeys += 1;
      }),
      { numRuns: 40 },
    );
    // Readers who are members: their keys were found (an outsider's keyring is empty either way).
    expect(withKeys).toBeGreaterThan(10);
  });
});

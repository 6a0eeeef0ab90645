import fc from 'fast-check';
import { canonicalEncode, strictDecode, type CanonicalValue } from '@pursuance/crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  FoldCheckpointError,
  FoldCheckpointProblem,
  PursuanceAuthor,
  PursuanceLog,
  FOLD_VERSION,
  encodeFoldCheckpoint,
  encodeFoldCheckpointSteps,
  makeSnapshot,
  readFoldCheckpoint,
  readFoldCheckpointSteps,
  runAtOnce,
  readSnapshot,
  type EventId,
  type FoldCheckpoint,
  type SignedEvent,
} from '../src/index.js';
import { FoldRun } from '../src/fold/run.js';
import { decodeState, decodeStateSteps } from '../src/snapshot/state-codec.js';
import { RejectionCode } from '../src/errors.js';
import { agreement } from './support/hostile-kit.js';
import { collect, newWorld, play, step, syncAll, type Step } from './support/world.js';

/**
 * A fold checkpoint lets a log that took its stored events back resume the fold it had instead
 * of judging every event again. Resumed, and then fed what came after, it must be the log a full
 * replay of the same events is: same state hash, fold order, refusals and heads.
 */
const codes = (log: PursuanceLog): string[] =>
  log
    .foldRejections()
    .map((r) => `${r.eventId}:${r.code}:${r.reason}`)
    .sort();

function logOf(genesis: SignedEvent, events: Iterable<SignedEvent>): PursuanceLog {
  const log = new PursuanceLog(genesis.bytes);
  log.addAll([...events].map((e) => e.bytes));
  return log;
}

/** The checkpoint as a store would give it back: through its bytes. */
function stored(log: PursuanceLog): FoldCheckpoint {
  return readFoldCheckpoint(encodeFoldCheckpoint(log.foldCheckpoint()), log.id);
}

/** A log given `events` and then `checkpoint`, as a node's start-up does: nothing read in between. */
function resumed(genesis: SignedEvent, events: Iterable<SignedEvent>, checkpoint: FoldCheckpoint): PursuanceLog {
  const log = logOf(genesis, events);
  log.resumeFold(checkpoint);
  return log;
}

function expectSameLog(log: PursuanceLog, full: PursuanceLog): void {
  expect(agreement(log)).toEqual(agreement(full));
  expect(log.heads()).toEqual(full.heads());
  expect(codes(log)).toEqual(codes(full));
  expect(log.acceptedLogHash()).toBe(full.acceptedLogHash());
}

/** A shuffle driven by `seed`, so fast-check can shrink it. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A world after `steps` and a full sync: its founder, genesis, and every event but the genesis. */
function synced(steps: readonly Step[]): { world: ReturnType<typeof newWorld>; founder: PursuanceAuthor; genesis: SignedEvent; held: SignedEvent[] } {
  const world = newWorld();
  play(world, steps);
  syncAll(world);
  const founder = world.actors[0]!;
  const genesis = founder.log.genesis;
  return { world, founder, genesis, held: [...collect(world).all.values()].filter((e) => e.id !== genesis.id) };
}

describe('a fold checkpoint', () => {
  it('resumed over the same events and fed the rest, gives the log a full replay gives (random worlds, any arrival order)', () => {
    let onTail = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), fc.boolean(), fc.array(step, { maxLength: 25 }), fc.nat(), (one, sync, two, seed) => {
        const world = newWorld();
        const genesis = world.actors[0]!.log.genesis;
        play(world, one);
        // Synced, the next events build on every head: they fold on from the checkpoint.
        if (sync) syncAll(world);
        const first = new Map(collect(world).all);
        play(world, two);
        const all = collect(world).all;
        const before = shuffled(
          [...first.values()].filter((e) => e.id !== genesis.id),
          seed,
        );
        const after = [...all.values()].filter((e) => !first.has(e.id));

        const original = logOf(genesis, before);
        const checkpoint = stored(original);
        const log = resumed(genesis, before, checkpoint);
        expectSameLog(log, logOf(genesis, first.values()));

        log.addAll(after.map((e) => e.bytes));
        expectSameLog(log, logOf(genesis, all.values()));
        if (sync && after.length > 0) onTail++;
      }),
      { numRuns: 40 },
    );
    expect(onTail).toBeGreaterThan(5);
  });

  it('round-trips through its bytes whole, removal precedence and rule refusals included, and a resumed log keeps it as it was (random worlds)', () => {
    const seen = { virtual: 0, voided: 0, defeated: 0, rule: 0, clocks: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const world = newWorld();
        play(world, steps);
        const all = collect(world).all;
        const genesis = world.actors[0]!.log.genesis;
        const log = logOf(genesis, all.values());
        const checkpoint = log.foldCheckpoint();
        expect(readFoldCheckpoint(encodeFoldCheckpoint(checkpoint), log.id)).toEqual(checkpoint);
        const again = resumed(
          genesis,
          [...all.values()].filter((e) => e.id !== genesis.id),
          checkpoint,
        );
        expect(again.foldCheckpoint()).toEqual(checkpoint);
        const run = checkpoint.run;
        if (run.virtual.length > 0) seen.virtual++;
        if (run.voided.length > 0) seen.voided++;
        if (run.defeated.length > 0) seen.defeated++;
        if (run.rejections.some((r) => r.rule !== undefined)) seen.rule++;
        if (run.clocks.length > 1) seen.clocks++;
      }),
      { numRuns: 150 },
    );
    // The generator must reach what an encoding could drop, not only empty lists (removal
    // precedence and rule refusals it does not reach: the next test builds them).
    expect(seen.clocks).toBeGreaterThan(0);
  });

  it('keeps removal precedence: a rename its author signed unaware of their removal stays after it, resumed and folded on', () => {
    const { world, founder, genesis, held } = synced([]);
    const member = world.actors[1]!;
    // Governance (a rename) goes before task changes among ready events: the rename is folded
    // before the founder's task, on which the removal builds, so the removal must order it after itself.
    const task = founder.createTask({ audience: ['member'], title: 'before the removal' });
    const removal = founder.removeMember(member.identity.onion);
    const rename = member.rename('Ana on a stale replica');
    const events = [...held, task, removal, rename];
    const checkpoint = stored(logOf(genesis, events));
    expect(checkpoint.run.virtual).toEqual([[rename.id, [removal.id]]]);
    expect(checkpoint.run.voided).toEqual([rename.id]);
    const log = resumed(genesis, events, checkpoint);
    expect(log.rejectionOf(rename.id)?.code).toBe('NOT_A_MEMBER');
    expect(log.foldCheckpoint()).toEqual(checkpoint);
    const next = founder.createTask({ audience: ['member'], title: 'after' });
    log.add(next.bytes);
    expectSameLog(log, logOf(genesis, [...events, next]));
  });

  it('keeps the rule a refusal names, and what precedence voids and defeats, through its bytes', () => {
    const world = newWorld();
    play(world, [{ t: 'act', actor: 0, op: 1, x: 1, y: 2 }]);
    const checkpoint = world.actors[0]!.log.foldCheckpoint();
    const [a, b, c] = checkpoint.run.order.slice(-3) as [EventId, EventId, EventId];
    const crafted: FoldCheckpoint = {
      ...checkpoint,
      run: {
        ...checkpoint.run,
        rejections: [{ eventId: a, code: RejectionCode.DENIED, reason: 'denied by rule: only editors publish', rule: 'only editors publish' }],
        virtual: [[a, [b, c]]],
        voided: [b],
        defeated: [[c, a]],
      },
    };
    expect(readFoldCheckpoint(encodeFoldCheckpoint(crafted), checkpoint.pursuance)).toEqual(crafted);
  });

  it('folds only what came after it: events on top of the checkpoint are each judged once, nothing before them again', () => {
    const { founder, genesis, held } = synced([
      { t: 'act', actor: 0, op: 1, x: 1, y: 2 },
      { t: 'act', actor: 1, op: 3, x: 4, y: 5 },
      { t: 'act', actor: 0, op: 7, x: 2, y: 9 },
    ]);
    const checkpoint = stored(founder.log);
    const later = [0, 1, 2].map((i) => founder.createTask({ audience: ['member'], title: `after ${i}` }));

    const process = vi.spyOn(FoldRun.prototype, 'process');
    try {
      const log = resumed(genesis, held, checkpoint);
      log.addAll(later.map((e) => e.bytes));
      expect(log.heads()).toEqual([later[2]!.id]);
      // Without the checkpoint the same start judges every event: the spy sees the difference.
      expect(process.mock.calls.map(([e]) => e.id)).toEqual(later.map((e) => e.id));
      process.mockClear();
      const folded = logOf(genesis, [...held, ...later]);
      expect(folded.stateHash()).toBe(log.stateHash());
      expect(process.mock.calls.length).toBe(held.length + later.length);
    } finally {
      process.mockRestore();
    }
  });

  it('remembers who was ever a member: their event whose parent is missing waits, as on a full replay', () => {
    const { world, founder, genesis, held } = synced([]);
    const member = world.actors[1]!;
    const checkpoint = stored(founder.log);
    member.createTask({ audience: ['member'], title: 'first' });
    const second = member.createTask({ audience: ['member'], title: 'second, arriving first' });
    expect(logOf(genesis, held).add(second.bytes).status).toBe('pending');
    expect(resumed(genesis, held, checkpoint).add(second.bytes).status).toBe('pending');
  });

  it('of other events is refused with a reason, and the log folds what it holds as if none was offered', () => {
    const {
      world,
      founder,
      genesis,
      held: events,
    } = synced([
      { t: 'act', actor: 0, op: 1, x: 1, y: 2 },
      { t: 'act', actor: 0, op: 2, x: 3, y: 4 },
      { t: 'act', actor: 1, op: 3, x: 4, y: 5 },
    ]);
    const checkpoint = stored(logOf(genesis, events));
    const extra = founder.createTask({ audience: ['member'], title: 'not in the checkpoint' });
    // Signed on a replica without the last event: held in its place, it waits for nothing.
    const short = logOf(genesis, events.slice(0, -1));
    const beside = new PursuanceAuthor(founder.identity, short, founder.keyring, world.now).createTask({ audience: ['member'], title: 'beside' });

    const cases: [string, SignedEvent[], RegExp][] = [
      ['one event fewer', events.slice(0, -1), /is of \d+ events/],
      ['one event more', [...events, extra], /is of \d+ events/],
      // As many events, one of them another: the checkpoint names one this log does not hold.
      ['one event swapped', [...events.slice(0, -1), beside], /does not hold/],
    ];
    for (const [, held, reason] of cases) {
      const log = logOf(genesis, held);
      let thrown: unknown;
      try {
        log.resumeFold(checkpoint);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(FoldCheckpointError);
      expect((thrown as FoldCheckpointError).code).toBe(FoldCheckpointProblem.MISMATCH);
      expect((thrown as Error).message).toMatch(reason);
      expectSameLog(log, logOf(genesis, held));
    }

    const other = newWorld().actors[0]!.log;
    expect(() => other.resumeFold(checkpoint)).toThrow(/another pursuance/);
    expect(() => readFoldCheckpoint(encodeFoldCheckpoint(checkpoint), other.id)).toThrow(FoldCheckpointError);
  });

  it('made to fit the counts but not the events, or naming what it did not fold, is refused with what is wrong', () => {
    const { world, founder, genesis, held } = synced([
      { t: 'act', actor: 0, op: 1, x: 1, y: 2 },
      { t: 'act', actor: 1, op: 3, x: 4, y: 5 },
    ]);
    const checkpoint = founder.log.foldCheckpoint();
    const run = checkpoint.run;
    const order = run.order;
    const stranger = 'ab'.repeat(32) as EventId;
    const cases: [FoldCheckpoint, RegExp][] = [
      // One event claimed to wait that does not here: the fold would leave a foldable event out.
      [{ ...checkpoint, pending: 1, run: { ...run, order: order.slice(0, -1) } }, /is of \d+ events \(1 waiting\)/],
      [{ ...checkpoint, run: { ...run, order: [order[1]!, order[0]!, ...order.slice(2)] } }, /does not start at this log's genesis/],
      [{ ...checkpoint, run: { ...run, order: [...order.slice(0, -1), order[1]!] } }, /folds \w+ twice/],
      [{ ...checkpoint, held: checkpoint.held - 1, pending: 0 }, /is of/],
      // As many events held and waiting, one of them not folded.
      [{ ...checkpoint, run: { ...run, order: order.slice(0, -1) } }, /did not fold every event that does not wait/],
      [{ ...checkpoint, run: { ...run, rejections: [{ eventId: stranger, code: RejectionCode.DENIED, reason: 'x' }] } }, /names \w+ \(a refusal\)/],
      [{ ...checkpoint, run: { ...run, clocks: [{ id: stranger, vc: [1], chain: [1], pastTime: 0 }] } }, /names \w+ \(a clock\)/],
      [{ ...checkpoint, heads: [] }, /names heads it did not fold/],
      [{ ...checkpoint, heads: [stranger] }, /names heads it did not fold/],
      [{ ...checkpoint, heads: [...checkpoint.heads, stranger] }, /names heads it did not fold/],
      [{ ...checkpoint, run: { ...run, state: {} } }, /state does not decode/],
    ];
    for (const [crafted, reason] of cases) {
      const log = logOf(genesis, held);
      expect(() => log.resumeFold(crafted)).toThrow(reason);
      expectSameLog(log, logOf(genesis, held));
    }
    // As many events held, one of them waiting here (its parent missing), and a checkpoint that
    // claims to have folded it: the counts fit, the event does not.
    const member = world.actors[1]!;
    const first = member.createTask({ audience: ['member'], title: 'first' });
    const second = member.createTask({ audience: ['member'], title: 'second' });
    const withFirst = logOf(genesis, [...held, first]).foldCheckpoint();
    const waiting = logOf(genesis, [...held, second]);
    expect(waiting.pendingCount()).toBe(1);
    const claimed = withFirst.run.order.filter((id) => id !== first.id && id !== order.at(-1)).concat(second.id);
    expect(() => waiting.resumeFold({ ...withFirst, pending: 1, run: { ...withFirst.run, order: claimed } })).toThrow(
      /folded \w+, which waits for ancestors here/,
    );
  });

  it('given at construction, lets a member park an event that waits before the fold is resumed, without folding to learn who they are', () => {
    const { world, genesis, held } = synced([]);
    const member = world.actors[1]!;
    member.createTask({ audience: ['member'], title: 'first' });
    const second = member.createTask({ audience: ['member'], title: 'second, arriving first' });
    // Kept while the second waited, as a node keeps it when such an event is stored.
    const checkpoint = stored(logOf(genesis, [...held, second]));
    const process = vi.spyOn(FoldRun.prototype, 'process');
    try {
      const log = new PursuanceLog(genesis.bytes, { resuming: checkpoint });
      log.addAll(held.map((e) => e.bytes));
      expect(log.add(second.bytes).status).toBe('pending');
      expect(process).not.toHaveBeenCalled();
      log.resumeFold(checkpoint);
      expect(log.pendingCount()).toBe(1);
    } finally {
      process.mockRestore();
    }
  });

  it('is neither taken nor resumed by a log that starts from a snapshot', () => {
    const full = synced([{ t: 'act', actor: 0, op: 1, x: 1, y: 2 }]).founder.log;
    const checkpoint = stored(full);
    const snapshot = makeSnapshot(full.id, full.baseAtHeads());
    const fromSnapshot = new PursuanceLog(full.genesis.bytes, { snapshot: readSnapshot(snapshot.bytes, snapshot.hash, full.id) });
    for (const act of [() => fromSnapshot.foldCheckpoint(), () => fromSnapshot.resumeFold(checkpoint)]) {
      expect(act).toThrow(expect.objectContaining({ code: FoldCheckpointProblem.UNSUPPORTED }));
    }
  });

  it('of another fold version, or with fields changed or missing, is refused when read', () => {
    const world = newWorld();
    play(world, [{ t: 'act', actor: 0, op: 1, x: 1, y: 2 }]);
    const log = world.actors[0]!.log;
    const doc = strictDecode(encodeFoldCheckpoint(log.foldCheckpoint())) as Record<string, CanonicalValue>;
    const variants: Record<string, CanonicalValue>[] = [
      { ...doc, v: FOLD_VERSION + 1 },
      { ...doc, held: -1 },
      { ...doc, order: new Uint8Array(31) },
      { ...doc, authors: ['__proto__'] },
      { ...doc, constructor: 1 },
      Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'state')),
    ];
    for (const variant of variants) expect(() => readFoldCheckpoint(canonicalEncode(variant), log.id)).toThrow(FoldCheckpointError);
    // Each field's check, by the reason it gives.
    const onion = (doc.authors as string[])[0]!;
    const hash = doc.stateHash as string;
    const long = 'x'.repeat(10_001);
    const refusals = doc.rejections as CanonicalValue[];
    const reasons: [Record<string, CanonicalValue>, RegExp][] = [
      [{ ...doc, order: new Uint8Array(31) }, /whole number of 32-byte ids/],
      [{ ...doc, authors: [`${onion}a`] }, /schema/],
      [{ ...doc, authors: [`a${onion}`] }, /schema/],
      [{ ...doc, stateHash: `${hash}0` }, /schema/],
      [{ ...doc, stateHash: `0${hash}` }, /schema/],
      [{ ...doc, rejections: [...refusals, [new Uint8Array(32), 'DENIED', long, null]] }, /schema/],
      [{ ...doc, rejections: [...refusals, [new Uint8Array(32), 'DENIED', 'x', long]] }, /schema/],
    ];
    for (const [variant, reason] of reasons) expect(() => readFoldCheckpoint(canonicalEncode(variant), log.id)).toThrow(reason);
    expect(() => readFoldCheckpoint(Uint8Array.of(0xff), log.id)).toThrow(/is not canonical CBOR/);
    // One kept by the version before (its state in one piece) is refused by its version, not a schema detail.
    expect(() => readFoldCheckpoint(canonicalEncode({ ...doc, v: 1 }), log.id)).toThrow(/is of fold version 1, this node's fold is version 2/);
    // Only a map whose version is another number is named by its version; the rest is the schema's.
    for (const other of [null, 5, [doc.v!], new Uint8Array(3), { ...doc, v: '1' }, { ...doc, v: null }]) {
      expect(() => readFoldCheckpoint(canonicalEncode(other), log.id)).toThrow(/does not match its schema/);
    }
    // The state's pieces: the state without its tasks first, then lists of tasks, each canonical CBOR.
    const [rest, ...tasks] = doc.state as Uint8Array[];
    const withTasks = { ...(strictDecode(rest!) as Record<string, CanonicalValue>), tasks: [] };
    const pieces: [CanonicalValue, RegExp][] = [
      [[], /schema/],
      [[canonicalEncode([]), ...tasks], /state does not start with the state without its tasks/],
      [[canonicalEncode(withTasks), ...tasks], /state does not start with the state without its tasks/],
      [[canonicalEncode(new Uint8Array(2)), ...tasks], /state does not start with the state without its tasks/],
      [[canonicalEncode(null), ...tasks], /state does not start with the state without its tasks/],
      [[canonicalEncode(7), ...tasks], /state does not start with the state without its tasks/],
      [[canonicalEncode('tasks'), ...tasks], /state does not start with the state without its tasks/],
      [[Uint8Array.of(0xff), ...tasks], /state is not canonical CBOR/],
      [[rest!, canonicalEncode({ id: 'x' })], /tasks are not in lists/],
      [[rest!, Uint8Array.of(0x81)], /tasks are not canonical CBOR/],
      [[rest!, 'x'], /schema/],
    ];
    for (const [state, reason] of pieces) expect(() => readFoldCheckpoint(canonicalEncode({ ...doc, state }), log.id)).toThrow(reason);
    // A task that is no task reads (pieces are only split), and is refused where the state decodes;
    // so are prototype names as keys of the first piece or of a task (decoded as own keys, never as prototypes).
    const fresh = new PursuanceLog(log.genesis.bytes);
    fresh.addAll([...log.events()].filter((e) => e.id !== log.id).map((e) => e.bytes));
    const restValue = strictDecode(rest!) as Record<string, CanonicalValue>;
    const firstTask = (strictDecode(tasks[0]!) as Record<string, CanonicalValue>[])[0]!;
    // An own data property, whatever its name (defineProperty never sets a prototype).
    const withKey = (value: Record<string, CanonicalValue>, key: string): CanonicalValue =>
      Object.defineProperty({ ...value }, key, { value: 1, enumerable: true, writable: true, configurable: true });
    const odd: [CanonicalValue[], RegExp][] = [
      [[rest!, canonicalEncode([{ id: 'x' }])], /must match pattern/],
      ...['__proto__', 'constructor'].flatMap((key): [CanonicalValue[], RegExp][] => [
        [[canonicalEncode(withKey(restValue, key)), ...tasks], new RegExp(`Unrecognized key: "${key}"`)],
        [[rest!, canonicalEncode([withKey(firstTask, key)]), ...tasks.slice(1)], new RegExp(`Unrecognized key: "${key}"`)],
      ]),
    ];
    for (const [state, reason] of odd) {
      const checkpoint = readFoldCheckpoint(canonicalEncode({ ...doc, state }), log.id);
      expect(Object.getPrototypeOf(checkpoint.run.state)).toBe(Object.prototype);
      expect(() => fresh.resumeFold(checkpoint)).toThrow(reason);
      expect(() => fresh.resumeFold(checkpoint)).toThrow(/state does not decode: .*schema/);
    }
    expect(() => readFoldCheckpoint(canonicalEncode(doc), 'cd'.repeat(32) as never)).toThrow(/is of another pursuance/);
  });

  it('is written, read and resumed in steps that pause as they go, to the same bytes, checkpoint and log as at once', () => {
    const { founder, genesis } = synced([
      { t: 'act', actor: 0, op: 1, x: 1, y: 2 },
      { t: 'act', actor: 1, op: 3, x: 4, y: 5 },
    ]);
    for (let i = 0; i < 9; i++) founder.createTask({ audience: ['member'], title: `task ${i}` });
    const events = [...founder.log.events()].filter((e) => e.id !== genesis.id);
    const cp = founder.log.foldCheckpoint();
    const tasks = founder.log.state().tasks.size;
    expect(tasks).toBeGreaterThan(9);

    const pauses = <T>(steps: Generator<void, T>): { value: T; pauses: number } => {
      let n = 0;
      for (;;) {
        const step = steps.next();
        if (step.done) return { value: step.value, pauses: n };
        n += 1;
      }
    };
    // Two tasks a piece: the state in 1 + ceil(tasks / 2) pieces, each encoded between two pauses.
    const written = pauses(encodeFoldCheckpointSteps(cp, 1_000_000, 2));
    expect(written.pauses).toBe(Math.ceil(tasks / 2));
    const doc = strictDecode(written.value) as Record<string, CanonicalValue>;
    expect((doc.state as Uint8Array[]).length).toBe(1 + Math.ceil(tasks / 2));
    const atOnce = readFoldCheckpoint(encodeFoldCheckpoint(cp), founder.log.id);
    const read = pauses(readFoldCheckpointSteps(written.value, founder.log.id, 3));
    expect(read.value).toEqual(atOnce);
    // One pause after the document's check, one per 3 ids of the order, one per piece of tasks.
    expect(read.pauses).toBe(1 + Math.floor(cp.run.order.length / 3) + Math.ceil(tasks / 2));

    // The state decodes in steps to what decodeState gives, pausing every `every` tasks.
    const stateSteps = pauses(decodeStateSteps(atOnce.run.state, 4));
    expect(stateSteps.value).toEqual(decodeState(atOnce.run.state));
    expect(stateSteps.pauses).toBeGreaterThanOrEqual(Math.floor((3 * tasks) / 4));

    const log = logOf(genesis, events);
    const resumedInSteps = pauses(log.resumeFoldSteps(read.value, 5));
    expect(resumedInSteps.pauses).toBeGreaterThanOrEqual(Math.floor(cp.run.order.length / 5));
    expectSameLog(log, founder.log);
    expect(log.stateHash()).toBe(founder.log.stateHash());

    // Left half-way, a resume changed nothing: the log folds what it holds as if none was offered.
    const abandoned = logOf(genesis, events);
    const steps = abandoned.resumeFoldSteps(read.value, 5);
    for (let i = 0; i < 3; i++) expect(steps.next().done).toBe(false);
    expectSameLog(abandoned, founder.log);

    // Events added while it pauses (the caller broke its rule) make the resumed fold refused, not kept.
    const [last, ...others] = [...events].reverse();
    const racing = logOf(genesis, others.reverse());
    const partial = readFoldCheckpoint(encodeFoldCheckpoint(racing.foldCheckpoint()), racing.id);
    const fresh = logOf(genesis, others);
    const race = fresh.resumeFoldSteps(partial, 5);
    expect(race.next().done).toBe(false);
    fresh.add(last!.bytes);
    expect(() => runAtOnce(race)).toThrow(/was resumed while events were added/);
    expectSameLog(fresh, founder.log);
  });

  it('bytes that are no checkpoint, or a checkpoint damaged anywhere, give a typed refusal or a checkpoint the log checks: nothing else', () => {
    const {
      founder,
      genesis,
      held: events,
    } = synced([
      { t: 'act', actor: 0, op: 1, x: 1, y: 2 },
      { t: 'act', actor: 1, op: 3, x: 4, y: 5 },
    ]);
    const good = encodeFoldCheckpoint(founder.log.foldCheckpoint());
    const typed = (act: () => void): void => {
      try {
        act();
      } catch (err) {
        expect(err).toBeInstanceOf(FoldCheckpointError);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (junk) => typed(() => readFoldCheckpoint(junk, founder.log.id))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const damaged = Uint8Array.from(good);
        damaged[at]! ^= flip;
        typed(() => {
          const checkpoint = readFoldCheckpoint(damaged, founder.log.id);
          const log = logOf(genesis, events);
          log.resumeFold(checkpoint);
          // Resumed: whatever it says, the log answers its reads without throwing.
          log.stateHash();
          log.heads();
        });
      }),
      { numRuns: 300 },
    );
  });
});

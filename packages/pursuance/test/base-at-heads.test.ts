import fc from 'fast-check';
import { fromHex } from '@pursuance/crypto';
import { describe, expect, it } from 'vitest';
import {
  PursuanceAuthor,
  PursuanceLog,
  SnapshotError,
  SnapshotProblem,
  makeSnapshot,
  readSnapshot,
  signEvent,
  snapshotAt,
  type EventId,
  type SignedEvent,
} from '../src/index.js';
import { MAX_FRONTIER, refusalCodes } from '../src/snapshot/base.js';
import { RejectionCode } from '../src/errors.js';
import { collect, newWorld, play, step, syncAll } from './support/world.js';

/**
 * log.baseAtHeads(): a member moves its starting point to its current heads without folding
 * again and without the history in memory. The base must be byte for byte the snapshot a full
 * replay captures at the same heads, also when the log it is taken from starts from a base.
 */
const codes = (log: PursuanceLog): string[] =>
  log
    .foldRejections()
    .map((r) => `${r.eventId}:${r.code}`)
    .sort();

function fullLogOf(genesis: SignedEvent, events: Iterable<SignedEvent>): PursuanceLog {
  const log = new PursuanceLog(genesis.bytes);
  log.addAll([...events].map((e) => e.bytes));
  return log;
}

/** A log that starts from `log`'s base at its heads, through the bytes a store would keep. */
function movedOn(log: PursuanceLog): PursuanceLog {
  const snapshot = makeSnapshot(log.id, log.baseAtHeads());
  return new PursuanceLog(log.genesis.bytes, { snapshot: readSnapshot(snapshot.bytes, snapshot.hash, log.id) });
}

describe('a base at the heads', () => {
  it('equals the snapshot a full replay captures there; moved on twice, a log folds what follows exactly as the full replay does', () => {
    let chained = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 20 }), fc.array(step, { maxLength: 20 }), fc.array(step, { maxLength: 20 }), (one, two, three) => {
        const world = newWorld();
        const genesis = world.actors[0]!.log.genesis;
        const phases: Map<EventId, SignedEvent>[] = [];
        for (const steps of [one, two, three]) {
          play(world, steps);
          // After a full sync every replica's next event names every head: all of it follows the cut.
          syncAll(world);
          phases.push(new Map(collect(world).all));
        }
        const [upToOne, upToTwo, upToThree] = phases as [Map<EventId, SignedEvent>, Map<EventId, SignedEvent>, Map<EventId, SignedEvent>];
        const full1 = fullLogOf(genesis, upToOne.values());
        // Links carried in from the other pursuance can wait for ancestors: then there is no base.
        if (full1.pendingCount() > 0) {
          expect(() => full1.baseAtHeads()).toThrow(SnapshotError);
          return;
        }
        const base1 = full1.baseAtHeads();
        expect(makeSnapshot(full1.id, base1).bytes).toEqual(snapshotAt(full1, full1.heads()).bytes);

        const moved1 = movedOn(full1);
        moved1.addAll([...upToTwo.values()].filter((e) => !upToOne.has(e.id)).map((e) => e.bytes));
        const full2 = fullLogOf(genesis, upToTwo.values());
        expect(moved1.stateHash()).toBe(full2.stateHash());
        expect(moved1.heads()).toEqual(full2.heads());
        if (moved1.pendingCount() > 0 || moved1.concurrentWithSnapshot().length > 0) return;
        expect(makeSnapshot(moved1.id, moved1.baseAtHeads()).bytes).toEqual(snapshotAt(full2, full2.heads()).bytes);

        const moved2 = movedOn(moved1);
        moved2.addAll([...upToThree.values()].filter((e) => !upToTwo.has(e.id)).map((e) => e.bytes));
        const full3 = fullLogOf(genesis, upToThree.values());
        expect(moved2.stateHash()).toBe(full3.stateHash());
        expect(moved2.heads()).toEqual(full3.heads());
        expect(codes(moved2)).toEqual(codes(full3));
        // Everything after the first cut, in fold order, as the full replay orders it.
        const after = (log: PursuanceLog): EventId[] => log.order().filter((id) => !upToTwo.has(id));
        expect(after(moved2)).toEqual(after(full3));
        chained++;
      }),
      { numRuns: 25 },
    );
    // The generator must reach the chained case, not only the early returns.
    expect(chained).toBeGreaterThan(5);
  });

  it('a log moved on folds the next events incrementally, not by refolding', () => {
    const world = newWorld();
    syncAll(world);
    const founder = world.actors[0]!;
    const moved = movedOn(founder.log);
    moved.stateHash();
    for (let i = 0; i < 3; i++) {
      const e = founder.createTask({ audience: ['member'], title: `after ${i}` });
      expect(moved.add(e.bytes).status, 'applied on the tail, not queued for a refold').toBe('accepted');
      expect(moved.stateHash()).toBe(founder.log.stateHash());
    }
  });

  it('at 32 heads (equivocations, refused, a rule change in its history) it is the full replay’s snapshot; at 33 it is refused', () => {
    for (const width of [MAX_FRONTIER, MAX_FRONTIER + 1]) {
      const world = newWorld();
      syncAll(world);
      const founder = world.actors[0]!;
      founder.changeRules({ ...founder.log.state().rules, title: 'renamed by a rule change' });
      // The founder's replica copied `width` times, each signing its next sequence number anew.
      const forks = Array.from({ length: width }, (_, i) => {
        const copy = fullLogOf(founder.log.genesis, [...founder.log.events()].slice(1));
        return new PursuanceAuthor(founder.identity, copy, founder.keyring, world.now).createTask({ audience: ['member'], title: `fork ${i}` });
      });
      const log = fullLogOf(founder.log.genesis, [...founder.log.events(), ...forks].slice(1));
      expect(log.heads()).toHaveLength(width);
      expect(log.equivocations()).toHaveLength(1);
      if (width > MAX_FRONTIER) {
        expect(() => log.baseAtHeads()).toThrow(
          expect.objectContaining({ code: SnapshotProblem.UNSTABLE, message: expect.stringContaining(`${width} heads`) }),
        );
        continue;
      }
      const base = log.baseAtHeads();
      expect(base.history).toContain([...founder.log.events()].find((e) => e.header.kind === 'rules.change')!.id);
      expect(base.rejected.length).toBe(width);
      expect(makeSnapshot(log.id, base).bytes).toEqual(snapshotAt(log, log.heads()).bytes);
      expect(movedOn(log).stateHash()).toBe(log.stateHash());
    }
  });

  it('is refused while events stand beside the snapshot the log starts from, or reuse a sequence number from before it', () => {
    const world = newWorld();
    syncAll(world);
    const [founder, organizer] = world.actors as [PursuanceAuthor, PursuanceAuthor];
    founder.createTask({ audience: ['member'], title: 'the organizer has not seen this' });
    const moved = movedOn(founder.log);
    // It holds the history too (as a member who fetched it), so the next event's parents are here.
    moved.addAll([...founder.log.events()].slice(1).map((e) => e.bytes));
    // Built on the heads before the founder's task: beside the base, not after it.
    const beside = organizer.createTask({ audience: ['member'], title: 'beside' });
    expect(moved.add(beside.bytes).status).toBe('concurrent');
    expect(() => moved.baseAtHeads()).toThrow(
      expect.objectContaining({ code: SnapshotProblem.UNSTABLE, message: expect.stringContaining('beside the snapshot') }),
    );
    // What follows the base is still applied on the tail, the event beside it notwithstanding.
    moved.stateHash();
    const next = founder.createTask({ audience: ['member'], title: 'after the base' });
    expect(moved.add(next.bytes).status).toBe('accepted');

    // On the founder's heads, but signed with a sequence number the founder used before the base.
    const reused = signEvent(founder.identity, {
      pursuance: fromHex(founder.log.id),
      seq: 2,
      parents: founder.log.heads().map((h) => fromHex(h)),
      time: world.now(),
      kind: 'member.rename',
      audience: [],
      body: { name: 'twice' },
    });
    const contested = movedOn(founder.log);
    expect(contested.add(reused.bytes).status).toBe('before-snapshot');
    expect(contested.contested()).toEqual([reused.id]);
    expect(() => contested.baseAtHeads()).toThrow(
      expect.objectContaining({ code: SnapshotProblem.UNSTABLE, message: expect.stringContaining('beside the snapshot') }),
    );
  });

  it('keeps refusals by id, whatever order the fold met them in', () => {
    const refusal = (c: string, code: RejectionCode) => ({ eventId: c.repeat(64), code, reason: 'any' });
    expect(refusalCodes([refusal('b', RejectionCode.DENIED), refusal('a', RejectionCode.SEQUENCE_GAP), refusal('c', RejectionCode.DENIED)])).toEqual([
      ['a'.repeat(64), RejectionCode.SEQUENCE_GAP],
      ['b'.repeat(64), RejectionCode.DENIED],
      ['c'.repeat(64), RejectionCode.DENIED],
    ]);
  });

  it('is refused, naming why, while events wait for ancestors', () => {
    const world = newWorld();
    play(world, [{ t: 'act', actor: 1, op: 1, x: 1, y: 1 }]);
    syncAll(world);
    const founder = world.actors[0]!;
    const last = [...world.actors[1]!.log.events()].at(-1)!;
    const log = new PursuanceLog(founder.log.genesis.bytes);
    // A member's event without the events it builds on: it waits.
    log.addAll([...founder.log.events()].filter((e) => e.id !== last.id && !last.parentIds.includes(e.id)).map((e) => e.bytes));
    log.add(last.bytes);
    expect(log.pendingCount()).toBeGreaterThan(0);
    expect(() => log.baseAtHeads()).toThrow(
      expect.objectContaining({ code: SnapshotProblem.UNSTABLE, message: expect.stringContaining('waiting for ancestors') }),
    );
  });
});

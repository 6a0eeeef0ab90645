import { describe, expect, it } from 'vitest';
import { Identity, fromHex } from '@pursuance/crypto';
import { captureSnapshot, PursuanceAuthor, PursuanceLog, readSnapshot, signEvent, type SignedEvent } from '../src/index.js';
import { clock, joinAs, template } from './support/helpers.js';
import { seededShuffle } from './support/world.js';

/** What acceptedInFoldOrder must give: the accepted events of order() among `candidates`, in that order. */
const expected = (log: PursuanceLog, candidates: readonly SignedEvent[]): string[] => {
  const wanted = new Set(candidates.map((e) => e.id));
  return log.order().filter((id) => wanted.has(id) && log.isAccepted(id));
};

describe('PursuanceLog.acceptedInFoldOrder', () => {
  it("keeps only accepted events this log holds, in fold order: not a refused, a waiting or a stranger pursuance's event", () => {
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell', rules: template('activist-cell') }, now);
    const member = Identity.generate();
    founder.addMember(member.publicKey, { roles: ['member'] });
    const theirs = joinAs(member, founder.log, now);
    for (let i = 0; i < 5; i++) founder.createTask({ audience: ['member'], title: `t${i}` });
    // The member's two events: the founder gets only the second, which waits for the first.
    const first = theirs.createTask({ audience: ['member'], title: 'first' });
    const second = theirs.comment(first.id, 'second');
    expect(founder.log.add(second.bytes).status).toBe('pending');
    // A stranger's rename on top: folded and refused.
    const stranger = Identity.generate();
    const forged = signEvent(stranger, {
      pursuance: fromHex(founder.log.id),
      seq: 1,
      parents: founder.log.heads().map((id) => fromHex(id)),
      time: now(),
      kind: 'member.rename',
      audience: [],
      body: { name: '__proto__' },
    });
    founder.log.add(forged.bytes);
    expect(founder.log.isAccepted(forged.id)).toBe(false);
    // Another pursuance's event, never held here.
    const other = PursuanceAuthor.create(Identity.generate(), { name: 'Other', rules: template('activist-cell') }, now);
    const foreign = other.createTask({ audience: ['member'], title: 'elsewhere' });

    const held = [...founder.log.events()];
    const candidates = seededShuffle([...held, foreign, first], 7);
    const got = founder.log.acceptedInFoldOrder(candidates).map((e) => e.id);
    expect(got).toEqual(expected(founder.log, candidates));
    expect(got).not.toContain(forged.id);
    expect(got).not.toContain(second.id);
    expect(got).not.toContain(foreign.id);
    expect(got).not.toContain(first.id);
    expect(got).toHaveLength(held.length - 2);
    expect(founder.log.acceptedInFoldOrder([])).toEqual([]);
  });

  it("puts events from before a snapshot first, in the snapshot's order, on a log started from it", () => {
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell', rules: template('activist-cell') }, now);
    const before = Array.from({ length: 4 }, (_, i) => founder.createTask({ audience: ['member'], title: `before ${i}` }).id);
    const frontier = founder.log.heads();
    // Stable once every member has spoken after it.
    const after = Array.from({ length: 3 }, (_, i) => founder.createTask({ audience: ['member'], title: `after ${i}` }).id);
    const snapshot = captureSnapshot(founder.log, frontier);
    const joiner = new PursuanceLog(founder.log.genesis.bytes, { snapshot: readSnapshot(snapshot.bytes, snapshot.hash, snapshot.pursuance) });
    joiner.addAll(
      seededShuffle(
        [...founder.log.events()].filter((e) => e.id !== founder.log.id),
        3,
      ).map((e) => e.bytes),
    );
    const candidates = seededShuffle([...joiner.events()], 11);
    const got = joiner.acceptedInFoldOrder(candidates).map((e) => e.id);
    expect(got).toEqual(expected(joiner, candidates));
    // The four tasks before the snapshot, then the three after.
    expect(joiner.beforeSnapshotHeld()).toBeGreaterThan(0);
    expect(got.filter((id) => before.includes(id) || after.includes(id))).toEqual([...before, ...after]);
  });
});

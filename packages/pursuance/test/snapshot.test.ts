import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, canonicalEncode, canonicalPieces, fromHex, sha256, toHex, type CanonicalValue } from '@pursuance/crypto';
import {
  MAX_RELAY_BUNDLE,
  MAX_RELAY_MIRRORS,
  PursuanceAuthor,
  PursuanceLog,
  RulesSchema,
  SnapshotError,
  SnapshotProblem,
  buildMemberView,
  captureSnapshot,
  checkAttestation,
  checkAttestations,
  instability,
  latestStableFrontier,
  makeSnapshot,
  membershipProof,
  readSnapshot,
  signEvent,
  snapshotAt,
  verifyFullHistory,
  verifyFullHistoryInSlices,
  type FullHistoryResult,
  type EventId,
  type Snapshot,
  type SignedEvent,
} from '../src/index.js';
import { cloneState, decodeState, encodeState } from '../src/snapshot/state-codec.js';
import { BEFORE_SNAPSHOT_REASON } from '../src/fold/run.js';
import { baseStateHash, makeSnapshotSteps, snapshotValue } from '../src/snapshot/base.js';
import { newRoleKey } from '../src/keys.js';
import type { EventBody, EventKind } from '../src/bodies.js';
import { forge } from './support/harness.js';
import { clock, template } from './support/helpers.js';
import { collect, newWorld, play, seededShuffle, step, syncAll, type World } from './support/world.js';

/** Every member in the state says something, so nobody can still write beside the frontier. */
function everyoneSpeaks(world: World): void {
  world.actors.forEach((a, i) => {
    if (a.log.state().members.has(a.identity.onion)) a.rename(`speaker ${i}`);
  });
}

function fullLog(world: World): PursuanceLog {
  const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
  log.addAll([...world.all.values()].map((e) => e.bytes));
  return log;
}

/** A random history with a stable frontier in the middle: phase one, a full sync, everyone speaks, phase two. */
function historyAroundFrontier(beforeSteps: Parameters<typeof play>[1], afterSteps: Parameters<typeof play>[1]) {
  const world = newWorld();
  play(world, beforeSteps);
  syncAll(world);
  const frontier = world.actors[0]!.log.heads();
  everyoneSpeaks(world);
  play(world, afterSteps);
  // Members added after the frontier must speak after it too: until they have, they could
  // still write on a copy of the log from before it (see capture.ts).
  syncAll(world);
  everyoneSpeaks(world);
  collect(world);
  return { world, frontier, full: fullLog(world) };
}

const codes = (log: PursuanceLog) =>
  log
    .foldRejections()
    .map((r) => `${r.eventId}:${r.code}`)
    .sort();

function joinFrom(snapshot: Snapshot, genesis: SignedEvent, events: readonly SignedEvent[]): PursuanceLog {
  const read = readSnapshot(snapshot.bytes, snapshot.hash, snapshot.pursuance);
  const log = new PursuanceLog(genesis.bytes, { snapshot: read });
  log.addAll(events.map((e) => e.bytes));
  return log;
}

/** Slices the verification pauses between (small: many pauses even on a small history). */
const VERIFY_SLICE = 4;

/**
 * Verify `joiner` at once and in slices: the same finding either way, and while it pauses the
 * log it checks stays readable and unchanged (a node serves reads from it meanwhile).
 */
async function verified(joiner: PursuanceLog): Promise<FullHistoryResult> {
  const atOnce = verifyFullHistory(joiner);
  const hash = joiner.stateHash();
  let pauses = 0;
  const sliced = await verifyFullHistoryInSlices(
    joiner,
    () => {
      pauses++;
      expect(joiner.stateHash()).toBe(hash);
      return Promise.resolve();
    },
    VERIFY_SLICE,
  );
  expect(sliced.check).toEqual(atOnce.check);
  expect(sliced.note).toBe(atOnce.note);
  expect(sliced.full?.stateHash()).toBe(atOnce.full?.stateHash());
  // Once the history is all here, two folds and three hashes pause: at least once per slice of the full fold.
  if (atOnce.full) expect(pauses).toBeGreaterThanOrEqual(Math.floor(joiner.size / VERIFY_SLICE) - 1);
  return sliced;
}

describe('snapshots: a joiner folds on from an attested state exactly as a full replay would', () => {
  it('from a stable frontier, the events after it alone (or every event, in any order) give the full replay’s state, heads, refusals and task views', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 3, maxLength: 30 }),
        fc.array(step, { maxLength: 30 }),
        fc.integer(),
        async (beforeSteps, afterSteps, seed) => {
          const { world, frontier, full } = historyAroundFrontier(beforeSteps, afterSteps);
          expect(instability(full, frontier)).toBeNull();
          const snapshot = captureSnapshot(full, frontier);
          const prior = new Set(snapshotAncestry(full, frontier));
          expect(snapshot.base.events).toBe(prior.size);
          const genesis = full.genesis;
          const after = [...world.all.values()].filter((e) => !prior.has(e.id));

          for (const offered of [seededShuffle(after, seed), seededShuffle([...world.all.values()], seed ^ 0x5bd1)]) {
            const joiner = joinFrom(snapshot, genesis, offered);
            expect(joiner.stateHash()).toBe(full.stateHash());
            expect(joiner.heads()).toEqual(full.heads());
            expect(codes(joiner)).toEqual(codes(full));
            expect(joiner.concurrentWithSnapshot()).toEqual([]);
            expect(joiner.contested()).toEqual([]);
            expect(joiner.order().filter((id) => !prior.has(id))).toEqual(full.order().filter((id) => !prior.has(id)));
          }
          // Holding every event, the joiner reads every task as a member who replayed it all.
          const joiner = joinFrom(snapshot, genesis, [...world.all.values()]);
          const founder = world.actors[0]!;
          expect(buildMemberView(joiner, founder.identity, founder.keyring).tasks).toEqual(buildMemberView(full, founder.identity, founder.keyring).tasks);
          expect(joiner.historyMissing()).toEqual([]);
          const result = await verified(joiner);
          expect(result.check).toEqual({ outcome: 'agrees' });
          expect(result.full!.stateHash()).toBe(full.stateHash());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the whole state encodes losslessly: decoding and encoding again gives the same bytes', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 3, maxLength: 40 }), (steps) => {
        const world = newWorld();
        play(world, steps);
        const state = world.actors[0]!.log.state();
        const once = canonicalEncode(encodeState(state));
        expect(canonicalEncode(encodeState(decodeState(encodeState(state))))).toEqual(once);
        // The fold's copy is equal and shares nothing it changes with the original.
        const copy = cloneState(state);
        expect(canonicalEncode(encodeState(copy))).toEqual(once);
        for (const m of copy.members.values()) m.roles.clear();
        for (const r of copy.roles.values()) for (const e of r.epochs) e.recipients.clear();
        for (const t of copy.tasks.values()) t.children.clear();
        copy.founders.clear();
        expect(canonicalEncode(encodeState(state))).toEqual(once);
      }),
      { numRuns: 40 },
    );
  });

  it('the document encoded and hashed in slices is the one encoded at once, byte for byte, pausing as the slice size says (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 3, maxLength: 40 }), fc.integer({ min: 1, max: 9 }), (steps, every) => {
        const world = newWorld();
        play(world, steps);
        const log = world.actors[0]!.log;
        const base = log.baseAtHeads();
        const atOnce = makeSnapshot(log.id, base);
        const slices = makeSnapshotSteps(log.id, base, every);
        let pauses = 0;
        let next = slices.next();
        for (; !next.done; next = slices.next()) pauses++;
        expect(next.value.bytes).toEqual(atOnce.bytes);
        expect(next.value.hash).toBe(atOnce.hash);
        expect(next.value.hash).toBe(toHex(sha256(atOnce.bytes)));
        const pieces = [...canonicalPieces(snapshotValue(log.id, base), 3)].length;
        expect(pauses).toBe(Math.floor(pieces / every));
      }),
      { numRuns: 40 },
    );
  });

  it('an event after the frontier that also names an older event waits for it, then folds as on a full replay', () => {
    const { world, frontier, full } = historyAroundFrontier([], []);
    const founder = world.actors[0]!;
    const prior = new Set(snapshotAncestry(full, frontier));
    const older = [...prior].find((id) => id !== full.genesis.id && !frontier.includes(id))!;
    const odd = signEvent(founder.identity, {
      pursuance: fromHex(full.id),
      seq: full.lastSeq(founder.identity.onion) + 1,
      parents: [...full.heads(), older].sort().map((h) => fromHex(h)),
      time: 1_900_000_000_000,
      kind: 'member.rename',
      audience: [],
      body: { name: 'names the genesis too' },
    });
    expect(full.add(odd.bytes).status).toBe('accepted');
    const snapshot = captureSnapshot(full, frontier);
    const joiner = joinFrom(
      snapshot,
      full.genesis,
      [...world.all.values(), odd].filter((e) => !prior.has(e.id)),
    );
    expect(joiner.isPending(odd.id)).toBe(true);
    // The older event comes later (the relay's replay): it is kept, not folded, and frees the waiting one.
    expect(joiner.add(full.event(older)!.bytes).status).toBe('before-snapshot');
    expect(joiner.isPending(odd.id)).toBe(false);
    expect(joiner.isAccepted(odd.id)).toBe(true);
    expect(joiner.stateHash()).toBe(full.stateHash());
  });

  it('a log started from a snapshot can author: its events build on the frontier and every replica accepts them', () => {
    const { world, frontier, full } = historyAroundFrontier([], []);
    const snapshot = captureSnapshot(full, frontier);
    const prior = new Set(snapshotAncestry(full, frontier));
    const after = [...world.all.values()].filter((e) => !prior.has(e.id));
    const founder = world.actors[0]!;
    const joinerLog = joinFrom(snapshot, full.genesis, after);
    const author = new PursuanceAuthor(founder.identity, joinerLog, founder.keyring, clock(1_900_000_000_000));
    const task = author.createTask({ audience: ['member'], title: 'after the snapshot' });
    expect(full.add(task.bytes).status).toBe('accepted');
    expect(joinerLog.stateHash()).toBe(full.stateHash());
  });
});

/** The frontier events and all their ancestors in `log`. */
function snapshotAncestry(log: PursuanceLog, frontier: readonly EventId[]): EventId[] {
  const seen = new Set<EventId>();
  const stack = [...frontier];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...log.event(id)!.parentIds);
  }
  return [...seen];
}

describe('snapshots: the succession rules see activity from before the snapshot', () => {
  it('a nominee’s claim after the frontier, witnessed by events before it, is judged as a full replay judges it', () => {
    const DAY = 86_400_000;
    const [f1, f2, p, w1, w2] = Array.from({ length: 5 }, () => Identity.generate());
    let t = 1_800_000_000_000;
    const later = (): number => (t += 1000);
    const founder = PursuanceAuthor.create(f1!, { name: 'Coalition', rules: template('open-coalition'), cofounders: [f2!.publicKey] }, later);
    for (const m of [p, w1, w2]) founder.addMember(m!.publicKey, { roles: ['coalition'] });
    const nomination = founder.nominateFounder(p!.onion);
    const log = founder.log;
    t += 91 * DAY;
    new PursuanceAuthor(w1!, log, undefined, later).createTask({ audience: ['coalition'], title: 'hello?' });
    new PursuanceAuthor(w2!, log, undefined, later).createTask({ audience: ['coalition'], title: 'anyone?' });
    const frontier = log.heads();
    // The claim comes after the frontier; its witnesses and its causal time are all before it.
    const claim = new PursuanceAuthor(p!, log, undefined, later).claimNomination(nomination.id);
    expect(log.isAccepted(claim.id)).toBe(true);
    const snapshot = snapshotAt(log, frontier);
    const joiner = joinFrom(snapshot, log.genesis, [claim]);
    expect(joiner.isAccepted(claim.id)).toBe(true);
    expect(joiner.state().founders.has(p!.onion)).toBe(true);
    expect(joiner.stateHash()).toBe(log.stateHash());
  });
});

describe('snapshots: what is not stable, not attested or not true is refused with a reason', () => {
  it('a frontier someone has not written after yet, or with writing beside it, is not stable', () => {
    const world = newWorld();
    syncAll(world);
    const frontier = world.actors[0]!.log.heads();
    world.actors[0]!.rename('only me');
    collect(world);
    const full = fullLog(world);
    expect(instability(full, frontier)).toMatch(/has no accepted event after it yet/);
    expect(() => captureSnapshot(full, frontier)).toThrow(SnapshotError);
    // A frontier naming an event and its ancestor is no frontier.
    const g = full.genesis.id;
    expect(instability(full, [...frontier, g].sort())).toMatch(/ancestor/);
    expect(instability(full, [toHex(new Uint8Array(32)) as EventId])).toMatch(/not folded here/);
    expect(instability(full, [])).toMatch(/1 to 32/);
  });

  it('finds the newest stable frontier of a history on its own; vouching for it does not move it', () => {
    const { world, full } = historyAroundFrontier([], []);
    const found = latestStableFrontier(full);
    expect(found).not.toBeNull();
    expect(instability(full, found!)).toBeNull();
    // Newest: the prefix ends right before the last member's last write, nothing later is stable.
    const order = full.order();
    const last = Math.max(...found!.map((id) => order.indexOf(id)));
    expect(order.slice(last + 1).some((id) => full.event(id)!.header.kind === 'member.rename')).toBe(true);
    const attest = world.actors[0]!.attestSnapshot(captureSnapshot(world.actors[0]!.log, latestStableFrontier(world.actors[0]!.log)!));
    full.add(attest.bytes);
    expect(latestStableFrontier(full)).toEqual(found);
    // A log started from a snapshot, or one with events waiting, has none to offer.
    const snapshot = captureSnapshot(full, found!);
    const based = joinFrom(snapshot, full.genesis, []);
    expect(latestStableFrontier(based)).toBeNull();
    expect(instability(based, found!)).toMatch(/starts from a snapshot/);
  });

  it('a frontier of more than 32 events, or a log with events waiting, is refused', () => {
    const { world, frontier, full } = historyAroundFrontier([], []);
    expect(
      instability(
        full,
        Array.from({ length: 33 }, (_, i) => toHex(new Uint8Array(32).fill(i)) as EventId),
      ),
    ).toMatch(/1 to 32/);
    expect(instability(full, frontier)).toBeNull();
    const founder = world.actors[0]!.identity;
    const waiting = signEvent(founder, {
      pursuance: fromHex(full.id),
      seq: full.lastSeq(founder.onion) + 1,
      parents: [new Uint8Array(32).fill(9)],
      time: 1_900_000_000_000,
      kind: 'member.rename',
      audience: [],
      body: { name: 'waits' },
    });
    expect(full.add(waiting.bytes).status).toBe('pending');
    expect(instability(full, frontier)).toMatch(/waiting for ancestors/);
    expect(latestStableFrontier(full)).toBeNull();
  });

  it('the snapshot keeps the rule changes and task events before it, in fold order, and nothing else', () => {
    const world = newWorld();
    const founder = world.actors[0]!;
    founder.changeRules({ ...founder.log.state().rules, description: 'changed before the frontier' });
    syncAll(world);
    const frontier = founder.log.heads();
    everyoneSpeaks(world);
    collect(world);
    const full = fullLog(world);
    const snapshot = captureSnapshot(full, frontier);
    const kinds = snapshot.base.history.map((id) => full.event(id)!.header.kind);
    expect(kinds).toContain('rules.change');
    expect(kinds.every((k) => k === 'rules.change' || k.startsWith('task.'))).toBe(true);
    const order = full.order();
    expect([...snapshot.base.history].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(snapshot.base.history);
  });

  it('an event that does not descend from the whole frontier is set aside, and an equivocation against history before it is contested', async () => {
    const world = newWorld();
    syncAll(world);
    const stale = new PursuanceLog(world.actors[1]!.log.genesis.bytes);
    stale.addAll([...world.actors[1]!.log.events()].map((e) => e.bytes));
    const staleAuthor = new PursuanceAuthor(world.ids[1]!, stale, world.actors[1]!.keyring, clock(1_850_000_000_000));
    world.actors[0]!.createTask({ audience: ['member'], title: 'moves the frontier on' });
    syncAll(world);
    const frontier = world.actors[0]!.log.heads();
    everyoneSpeaks(world);
    collect(world);
    const full = fullLog(world);
    const snapshot = captureSnapshot(full, frontier);

    // Member 1 writes on a replica that never saw the frontier: beside it, not after it.
    const beside = staleAuthor.comment([...stale.state().tasks.keys()][0]!, 'written offline');
    // The founder signs a second event for a sequence number it used before the frontier.
    const m2 = world.actors[0]!;
    expect(snapshot.base.chain.get(m2.identity.onion)).toBeGreaterThan(2);
    const reused = signEvent(m2.identity, {
      pursuance: fromHex(full.id),
      seq: 2,
      parents: full.heads().map((h) => fromHex(h)),
      time: 1_860_000_000_000,
      kind: 'member.rename',
      audience: [],
      body: { name: 'twice' },
    });
    const prior = new Set(snapshotAncestry(full, frontier));
    // Its parents are from before the frontier: a joiner that has not fetched them waits for them…
    const fresh = joinFrom(
      snapshot,
      full.genesis,
      [...world.all.values()].filter((e) => !prior.has(e.id)),
    );
    expect(fresh.add(beside.bytes).status).toBe('pending');
    // …and one that holds the history sets it aside.
    const joiner = joinFrom(snapshot, full.genesis, [...world.all.values()]);
    expect(joiner.add(beside.bytes).status).toBe('concurrent');
    expect(joiner.concurrentWithSnapshot()).toEqual([beside.id]);
    // The snapshot was true; the full replay judges what was beside it and takes over.
    const result = await verified(joiner);
    expect(result.check).toEqual({ outcome: 'agrees' });
    expect(result.note).toMatch(/1 events beside the snapshot/);
    const everything = fullLog(world);
    everything.add(beside.bytes);
    expect(result.full!.stateHash()).toBe(everything.stateHash());

    expect(joiner.add(reused.bytes).status).toBe('before-snapshot');
    expect(joiner.contested()).toEqual([reused.id]);
    // An equivocation rejects its twin before the frontier too: the history changed under the snapshot.
    expect((await verified(joiner)).check).toMatchObject({ outcome: 'disagrees', reason: expect.stringMatching(/equivocation rewrote that history/) });
  });

  it('attested by two founders it is taken; by one, or by an invented member, it is refused naming why', () => {
    const now = clock();
    const [f1, f2, m] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const a = PursuanceAuthor.create(f1, { name: 'cell', rules: template('activist-cell'), cofounders: [f2.publicKey] }, now);
    a.addMember(m.publicKey, { roles: ['member'] });
    a.createTask({ audience: ['member'], title: 'before' });
    const b = new PursuanceAuthor(f2, copy(a.log), undefined, now);
    const c = new PursuanceAuthor(m, copy(a.log), undefined, now);
    const frontier = a.log.heads();
    for (const x of [a, b, c]) x.rename('here');
    for (const x of [a, b, c]) for (const y of [a, b, c]) if (x !== y) x.log.addAll([...y.log.events()].map((e) => e.bytes));
    const snapshot = captureSnapshot(a.log, frontier);
    const one = a.attestSnapshot(snapshot);
    b.log.add(one.bytes);
    const two = b.attestSnapshot(snapshot);
    const byMember = c.attestSnapshot(snapshot);
    const genesis = a.log.genesis;

    expect(checkAttestations(genesis, snapshot, [one, two], []).attesters).toEqual([f1.onion, f2.onion].sort());
    expectProblem(() => checkAttestations(genesis, snapshot, [one], []), SnapshotProblem.UNDER_ATTESTED, /attested by 1 eligible member; its rules require 2/);
    // The same founder twice counts once; a member who is no founder does not count by default.
    expectProblem(() => checkAttestations(genesis, snapshot, [one, one, byMember], []), SnapshotProblem.UNDER_ATTESTED, /is not a founder/);
    // An attestation of another document does not count.
    const other = makeSnapshot(snapshot.pursuance, { ...snapshot.base, events: snapshot.base.events + 1 });
    expectProblem(() => checkAttestations(genesis, other, [one, two], []), SnapshotProblem.UNDER_ATTESTED, /attested by 0/);
  });

  it('an attestation counts only for the very document, frontier, size and state it names, and a membership proof must reach the genesis', () => {
    const now = clock();
    const [f1, m1, m2] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const rules = { ...template('activist-cell'), snapshots: { attesters: 2, from: 'members' as const } };
    const a = PursuanceAuthor.create(f1, { name: 'cell', rules }, now);
    a.addMember(m1.publicKey, { roles: ['member'] });
    const frontier = a.log.heads();
    a.rename('after');
    const b = new PursuanceAuthor(m1, copy(a.log), undefined, now);
    b.rename('me too');
    a.log.add(b.log.event(b.log.heads()[0] as EventId)!.bytes);
    const snapshot = captureSnapshot(a.log, frontier);
    const genesis = a.log.genesis;
    const byFounder = a.attestSnapshot(snapshot);
    const sign = (by: Identity, log: PursuanceLog, body: Record<string, unknown>) =>
      signEvent(by, {
        pursuance: fromHex(log.id),
        seq: log.lastSeq(by.onion) + 1,
        parents: log.heads().map((h) => fromHex(h)),
        time: now(),
        kind: 'snapshot.attest',
        audience: [],
        body: {
          frontier: snapshot.base.frontier.map((id) => fromHex(id)),
          snapshot: fromHex(snapshot.hash),
          stateHash: fromHex(snapshot.base.stateHash),
          events: snapshot.base.events,
          ...body,
        },
      });
    const proof = membershipProof(a.log.state(), m1.onion, (id) => a.log.event(id));
    // The right document hash with a wrong size, state hash or frontier: not this document.
    for (const wrong of [{ events: snapshot.base.events + 1 }, { stateHash: new Uint8Array(32) }, { frontier: [new Uint8Array(32)] }]) {
      expectProblem(
        () => checkAttestations(genesis, snapshot, [byFounder, sign(m1, b.log, wrong)], proof),
        SnapshotProblem.UNDER_ATTESTED,
        /attested by 1 eligible member/,
      );
    }
    // A proof must be an addition in this pursuance.
    const elsewhere = PursuanceAuthor.create(f1, { name: 'elsewhere', rules }, now).addMember(m1.publicKey, { roles: ['member'] });
    expectProblem(
      () => checkAttestations(genesis, snapshot, [byFounder, sign(m1, b.log, {})], [elsewhere]),
      SnapshotProblem.UNDER_ATTESTED,
      /no membership proof/,
    );
    // A member added by a member the genesis names: its proof is the addition.
    const byMember = sign(m1, b.log, {});
    expect(proof.map((e) => e.header.kind)).toEqual(['member.add']);
    expect(checkAttestations(genesis, snapshot, [byFounder, byMember], proof).attesters).toHaveLength(2);
    expectProblem(
      () => checkAttestations(genesis, snapshot, [byFounder, byMember], []),
      SnapshotProblem.UNDER_ATTESTED,
      /no membership proof back to the genesis/,
    );
    // Someone who is no member of the attested state does not count, in the members policy's words.
    expectProblem(
      () => checkAttestations(genesis, snapshot, [byFounder, sign(m2, b.log, {})], []),
      SnapshotProblem.UNDER_ATTESTED,
      /is not a member in the attested state/,
    );
    // Additions that only vouch for each other prove nothing.
    const [x, y] = [Identity.generate(), Identity.generate()];
    const addOf = (by: Identity, who: Identity) =>
      signEvent(by, {
        pursuance: fromHex(a.log.id),
        seq: 1,
        parents: [fromHex(genesis.id)],
        time: now(),
        kind: 'member.add',
        audience: [],
        body: { member: who.publicKey, roles: [], keys: [] },
      });
    const state = decodeState(snapshot.base.state);
    state.members.set(x.onion, { onion: x.onion, key: x.publicKey, name: undefined, roles: new Set(), roleSince: new Map(), addedBy: genesis.id });
    const cycleBase = { ...snapshot.base, state: encodeState(state) };
    const cycled = makeSnapshot(snapshot.pursuance, { ...cycleBase, stateHash: baseHash(cycleBase) });
    const byX = signEvent(x, {
      pursuance: fromHex(a.log.id),
      seq: 1,
      parents: [fromHex(genesis.id)],
      time: now(),
      kind: 'snapshot.attest',
      audience: [],
      body: {
        frontier: cycled.base.frontier.map((id) => fromHex(id)),
        snapshot: fromHex(cycled.hash),
        stateHash: fromHex(cycled.base.stateHash),
        events: cycled.base.events,
      },
    });
    const byF = a.attestSnapshot(cycled);
    expectProblem(() => checkAttestations(genesis, cycled, [byF, byX], [addOf(x, y), addOf(y, x)]), SnapshotProblem.UNDER_ATTESTED, /no membership proof/);
  });

  it('a member who forges a state and has an invented founder vouch for it is refused; members with the history flag the forgery', () => {
    const now = clock();
    const [f1, f2, mallory] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const a = PursuanceAuthor.create(f1, { name: 'cell', rules: template('activist-cell'), cofounders: [f2.publicKey] }, now);
    a.addMember(mallory.publicKey, { roles: ['member'] });
    const m = new PursuanceAuthor(mallory, copy(a.log), undefined, now);
    const b = new PursuanceAuthor(f2, copy(a.log), undefined, now);
    const frontier = a.log.heads();
    for (const x of [a, b, m]) x.rename('here');
    for (const x of [a, b, m]) for (const y of [a, b, m]) if (x !== y) x.log.addAll([...y.log.events()].map((e) => e.bytes));
    const honest = captureSnapshot(m.log, frontier);

    // Mallory's version: herself and a puppet as founders, the real founders gone.
    const puppet = Identity.generate();
    const state = decodeState(honest.base.state);
    state.founders.clear();
    state.founders.add(mallory.onion).add(puppet.onion);
    state.members.set(puppet.onion, {
      onion: puppet.onion,
      key: puppet.publicKey,
      name: undefined,
      roles: new Set(),
      roleSince: new Map(),
      addedBy: a.log.genesis.id,
    });
    const forgedBase = { ...honest.base, state: encodeState(state) };
    const forged = makeSnapshot(honest.pursuance, { ...forgedBase, stateHash: baseHash(forgedBase) });
    const byMallory = m.attestSnapshot(forged);
    const byPuppet = signEvent(puppet, {
      pursuance: fromHex(m.log.id),
      seq: 1,
      parents: m.log.heads().map((h) => fromHex(h)),
      time: now(),
      kind: 'snapshot.attest',
      audience: [],
      body: {
        frontier: forged.base.frontier.map((id) => fromHex(id)),
        snapshot: fromHex(forged.hash),
        stateHash: fromHex(forged.base.stateHash),
        events: forged.base.events,
      },
    });
    const proofs = membershipProof(state, mallory.onion, (id) => m.log.event(id));
    expectProblem(
      () => checkAttestations(a.log.genesis, forged, [byMallory, byPuppet], proofs),
      SnapshotProblem.UNDER_ATTESTED,
      /has no membership proof back to the genesis/,
    );

    // Her attestation is in the log; every member holding the history sees it is false.
    a.log.add(byMallory.bytes);
    expect(a.log.isAccepted(byMallory.id)).toBe(true);
    expect(checkAttestation(a.log, byMallory)).toMatchObject({ outcome: 'disagrees', reason: expect.stringMatching(/hashes to/) });
    const real = a.attestSnapshot(captureSnapshot(a.log, frontier));
    expect(checkAttestation(a.log, real)).toEqual({ outcome: 'agrees' });
  });

  it('when attesters vouch for a state the history does not give, verifying the full history raises the alarm', async () => {
    const { world, frontier, full } = historyAroundFrontier([], []);
    const honest = captureSnapshot(full, frontier);
    const state = decodeState(honest.base.state);
    state.name = 'renamed by the attesters';
    const lieBase = { ...honest.base, state: encodeState(state) };
    const lie = makeSnapshot(honest.pursuance, { ...lieBase, stateHash: baseHash(lieBase) });
    const joiner = joinFrom(lie, full.genesis, [...world.all.values()]);
    const result = await verified(joiner);
    expect(result.check).toMatchObject({
      outcome: 'disagrees',
      reason: expect.stringMatching(/the history gives state \w+ at the frontier, the snapshot said \w+$/),
    });
    // Missing history: the check waits rather than guessing.
    const prior = new Set(snapshotAncestry(full, frontier));
    const partial = joinFrom(
      honest,
      full.genesis,
      [...world.all.values()].filter((e) => !prior.has(e.id)),
    );
    expect((await verified(partial)).check).toEqual({ outcome: 'unknown', reason: expect.stringMatching(/^\d+ events of the history are not here yet$/) });
  });

  it('a document with the true state but other fold details (size, clocks) is still caught, by members and by the joiner', async () => {
    const { world, frontier, full } = historyAroundFrontier([], []);
    const honest = captureSnapshot(full, frontier);
    // Same state and state hash; a size that is not the history's.
    const off = makeSnapshot(honest.pursuance, { ...honest.base, events: honest.base.events + 5 });
    expect(off.base.stateHash).toBe(honest.base.stateHash);
    const founder = world.actors[0]!;
    const vouched = founder.attestSnapshot(off);
    expect(checkAttestation(full, vouched)).toMatchObject({
      outcome: 'disagrees',
      reason: expect.stringMatching(/the snapshot at that frontier is/),
    });
    const joiner = joinFrom(off, full.genesis, [...world.all.values()]);
    expect((await verified(joiner)).check).toMatchObject({
      outcome: 'disagrees',
      reason: expect.stringMatching(/events before the frontier, the snapshot said/),
    });
    // The true state and size, other fold details (an author's latest accepted time, a sequence
    // chain): members and the joiner compare the whole document, byte for byte.
    for (const [what, base] of [
      ['pastTime', { ...honest.base, pastTime: honest.base.pastTime + 1 }],
      ['chain', { ...honest.base, chain: new Map([...honest.base.chain].map(([k, v]) => [k, v + 1])) }],
    ] as const) {
      const other = makeSnapshot(honest.pursuance, base);
      expect(other.base.stateHash, what).toBe(honest.base.stateHash);
      expect(other.hash, what).not.toBe(honest.hash);
      expect(checkAttestation(full, founder.attestSnapshot(other)), what).toMatchObject({ outcome: 'disagrees' });
      const misled = joinFrom(other, full.genesis, [...world.all.values()]);
      expect((await verified(misled)).check, what).toEqual({
        outcome: 'disagrees',
        reason: `the history gives the snapshot ${honest.hash} at the frontier, not ${other.hash} as started from: the same state, other fold details`,
      });
    }
    // A log that did not start from a snapshot has nothing to verify.
    expect((await verified(full)).check).toEqual({ outcome: 'agrees' });
  });

  it('refusals from before the snapshot keep their codes and say where they come from', () => {
    const { world, frontier, full } = historyAroundFrontier([{ t: 'leak', actor: 1, x: 3 }], []);
    const snapshot = captureSnapshot(full, frontier);
    const joiner = joinFrom(snapshot, full.genesis, [...world.all.values()]);
    for (const r of joiner.foldRejections()) {
      if (snapshot.base.rejected.some(([id]) => id === r.eventId)) expect(r.reason).toBe(BEFORE_SNAPSHOT_REASON);
    }
    expect(codes(joiner)).toEqual(codes(full));
  });
});

describe('snapshots: a document from a peer is read or refused, never trusted on its word', () => {
  const { full, frontier } = historyAroundFrontier([], []);
  const snapshot = captureSnapshot(full, frontier);

  it('the hash is checked before anything is parsed, and a state must hash to the state hash it claims', () => {
    expectProblem(() => readSnapshot(snapshot.bytes, toHex(new Uint8Array(32)), snapshot.pursuance), SnapshotProblem.HASH_MISMATCH, /does not hash/);
    expectProblem(() => readSnapshot(snapshot.bytes, snapshot.hash, toHex(new Uint8Array(32)) as never), SnapshotProblem.INVALID, /another pursuance/);
    const state = decodeState(snapshot.base.state);
    state.description = 'not what the hash covers';
    const swapped = makeSnapshot(snapshot.pursuance, { ...snapshot.base, state: encodeState(state) });
    expectProblem(() => readSnapshot(swapped.bytes, swapped.hash, swapped.pursuance), SnapshotProblem.INVALID, /does not hash to the state hash it claims/);
  });

  it('inconsistent states are refused with a reason: a holder who does not hold, a parent that is no task, a loop', () => {
    const value = encodeState(decodeState(snapshot.base.state)) as Record<string, unknown>;
    const roles = value.roles as { holders: string[] }[];
    const bad1 = { ...value, roles: roles.map((r, i) => (i === 0 ? { ...r, holders: [...r.holders, 'a'.repeat(56)].sort() } : r)) };
    expect(() => decodeState(bad1)).toThrow(/does not hold it/);
    const task = { id: 'b'.repeat(64), audience: [], parent: 'c'.repeat(64), createdBy: 'a'.repeat(56), closed: false };
    expect(() => decodeState({ ...value, tasks: [task] })).toThrow(/names a parent that is not a task/);
    const loop = [
      { ...task, id: 'c'.repeat(64), parent: 'd'.repeat(64) },
      { ...task, id: 'd'.repeat(64), parent: 'c'.repeat(64) },
    ];
    expect(() => decodeState({ ...value, tasks: loop })).toThrow(/its own ancestor/);
    // Prototype names as own keys (as CBOR maps carry them) are unknown keys, nothing more.
    const withProto = JSON.parse(`{"__proto__": {"polluted": true}}`) as object;
    expect(() => decodeState(Object.assign(withProto, value))).toThrow(/schema/);
    expect(() => decodeState({ ...value, constructor: 1 })).toThrow(/schema/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a document whose lists are out of order or repeat an id is refused, naming which', () => {
    const raw = (mutate: (v: Record<string, unknown>) => void) => {
      const v = { ...(snapshotValue(snapshot.pursuance, snapshot.base) as Record<string, unknown>) };
      mutate(v);
      const bytes = canonicalEncode(v as never);
      return () => readSnapshot(bytes, toHex(sha256(bytes)), snapshot.pursuance);
    };
    const f = snapshot.base.frontier[0]!;
    expectProblem(
      raw((v) => (v.frontier = [f, f])),
      SnapshotProblem.INVALID,
      /frontier is not a sorted list of distinct events/,
    );
    const twice = new Uint8Array(64);
    twice.set(fromHex(f), 0);
    twice.set(fromHex(f), 32);
    expectProblem(
      raw((v) => (v.history = twice)),
      SnapshotProblem.INVALID,
      /history names an event twice/,
    );
    expectProblem(
      raw((v) => (v.history = new Uint8Array(31))),
      SnapshotProblem.INVALID,
      /32-byte ids/,
    );
    const clock = [...snapshot.base.clock].map(([k, n]) => [k, n]);
    expectProblem(
      raw((v) => (v.clock = [...clock, ...clock])),
      SnapshotProblem.INVALID,
      /clock is not sorted by member/,
    );
    expectProblem(
      raw((v) => (v.v = 2)),
      SnapshotProblem.INVALID,
      /schema/,
    );
    expectProblem(
      () => readSnapshot(new Uint8Array([0xff]), toHex(sha256(new Uint8Array([0xff]))), snapshot.pursuance),
      SnapshotProblem.INVALID,
      /not canonical CBOR/,
    );
  });

  it('every inconsistency a state can have is named', () => {
    type V = Record<string, unknown> & { members: Record<string, unknown>[]; roles: Record<string, unknown>[]; tasks: unknown[]; founders: string[] };
    const value = encodeState(decodeState(snapshot.base.state)) as V;
    const role = value.roles.find((r) => (r.holders as string[]).length > 0 && (r.epochs as unknown[]).length > 0)!;
    const member = value.members.find((m) => (m.held as string[]).length > 0)!;
    const task = { id: 'b'.repeat(64), audience: [role.id], parent: null, createdBy: 'a'.repeat(56), closed: false };
    const nomination = { id: 'e'.repeat(64), candidate: 'a'.repeat(56), time: 1, electorate: [], endorsers: [], open: true };
    const swap = <T>(list: T[], from: T, to: T) => list.map((x) => (x === from ? to : x));
    const cases: [string, unknown, RegExp][] = [
      ['schema', { ...value, name: 7 }, /does not match its schema/],
      ['rules', { ...value, rules: { format: 'nope' } }, /invalid rules/],
      ['role twice', { ...value, roles: [...value.roles, role] }, /role "[a-z-]+" listed twice/],
      [
        'key twice',
        { ...value, roles: swap(value.roles, role, { ...role, epochs: [...(role.epochs as unknown[]), (role.epochs as unknown[])[0]] }) },
        /has a key id twice/,
      ],
      [
        'holder twice',
        { ...value, roles: swap(value.roles, role, { ...role, holders: [...(role.holders as string[]), (role.holders as string[])[0]] }) },
        /a holder of .* listed twice/,
      ],
      ['declared role missing', { ...value, roles: value.roles.filter((r) => r !== role) }, /declared role "[a-z-]+" has no state|without being its holder/],
      ['member twice', { ...value, members: [...value.members, member] }, /member [a-z2-7]+ listed twice/],
      [
        'role twice in roleSince',
        { ...value, members: swap(value.members, member, { ...member, roles: [...(member.roles as unknown[]), (member.roles as unknown[])[0]] }) },
        /holds "[a-z-]+" twice/,
      ],
      [
        'held twice',
        { ...value, members: swap(value.members, member, { ...member, held: [...(member.held as string[]), (member.held as string[])[0]] }) },
        /a role of .* listed twice/,
      ],
      ['holds without being holder', { ...value, roles: swap(value.roles, role, { ...role, holders: [] }) }, /without being its holder/],
      ['holder who does not hold', { ...value, members: swap(value.members, member, { ...member, held: [] }) }, /who does not hold it/],
      ['founder twice', { ...value, founders: [...value.founders, value.founders[0]] }, /a founder listed twice/],
      ['task twice', { ...value, tasks: [task, task] }, /task b+ listed twice/],
      ['unknown audience', { ...value, tasks: [{ ...task, audience: ['nobody'] }] }, /addressed to unknown role "nobody"/],
      ['nomination twice', { ...value, nominations: [nomination, nomination] }, /nomination e+ listed twice/],
    ];
    for (const [what, bad, message] of cases) expect(() => decodeState(bad), what).toThrow(message);
    expect(decodeState({ ...value, tasks: [task], nominations: [nomination] }).nominations.get(nomination.id as EventId)?.open).toBe(true);
  });

  it('fuzz: any bytes, hashed so the hash check passes, give a snapshot or a typed refusal, nothing else', () => {
    const bytes = snapshot.bytes;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.record({ at: fc.nat(bytes.length - 1), to: fc.integer({ min: 0, max: 255 }) }).map(({ at, to }) => {
            const copy = bytes.slice();
            copy[at] = to;
            return copy;
          }),
          fc.nat(bytes.length).map((n) => bytes.slice(0, n)),
        ),
        (data) => {
          try {
            readSnapshot(data, toHex(sha256(data)), snapshot.pursuance);
          } catch (err) {
            expect(err).toBeInstanceOf(SnapshotError);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('snapshots: relay mirrors in the state encoding', () => {
  it('a state without mirrors encodes exactly as before mirrors existed: the hashes of a fixed history are unchanged', () => {
    const { log } = pinnedHistory();
    expect(log.rejections().map((r) => r.code)).toEqual(['DENIED']);
    expect(log.state().relay).toMatchObject({ bundle: 'relay-two', mirrors: [] });
    expect(encodedRelay(log)).toEqual({ bundle: 'relay-two', movedBy: log.state().relay.movedBy });
    // Pinned from the code as it was before mirrors existed.
    expect(log.stateHash()).toBe(PINNED.stateHash);
    expect(toHex(sha256(canonicalEncode(encodeState(log.state()))))).toBe(PINNED.state);
    expect(snapshotAt(log, log.heads()).hash).toBe(PINNED.snapshot);
  });

  it('with mirrors: listed in the hash and the encoding, decoded and copied losslessly, and gone again once dropped', () => {
    const { log, add, ids } = pinnedHistory();
    const withoutHash = log.stateHash();
    add(ids.a, 'relay.add', { bundle: 'mirror-1' });
    add(ids.a, 'relay.add', { bundle: '__proto__' });
    add(ids.f, 'relay.add', { bundle: 'constructor' });
    const state = log.state();
    expect(state.relay.mirrors).toEqual(['mirror-1', '__proto__', 'constructor']);
    expect(log.stateHash()).not.toBe(withoutHash);
    const value = encodeState(state) as { relay: CanonicalValue };
    expect(value.relay).toEqual({ bundle: 'relay-two', movedBy: state.relay.movedBy, mirrors: ['mirror-1', '__proto__', 'constructor'] });
    const once = canonicalEncode(encodeState(state));
    const decoded = decodeState(encodeState(state));
    expect(decoded.relay).toEqual(state.relay);
    expect(canonicalEncode(encodeState(decoded))).toEqual(once);
    // The fold's copy shares no list with the original.
    const copied = cloneState(state);
    copied.relay.mirrors.push('elsewhere');
    expect(state.relay.mirrors).toHaveLength(3);
    expect(canonicalEncode(encodeState(state))).toEqual(once);
    // Dropped again, the relay encodes as a state that never had mirrors.
    for (const bundle of ['constructor', '__proto__', 'mirror-1']) add(ids.f, 'relay.drop', { bundle });
    expect(encodedRelay(log)).toEqual({ bundle: 'relay-two', movedBy: log.state().relay.movedBy });
  });

  it('a joiner from a snapshot with mirrors folds on as a full replay does: drops, moves onto a mirror', () => {
    const { log, add, ids } = pinnedHistory();
    for (const bundle of ['mirror-1', 'mirror-2', 'mirror-3']) add(ids.a, 'relay.add', { bundle });
    const frontier = log.heads();
    const snapshot = snapshotAt(log, frontier);
    expect(stateForSnapshot(snapshot).relay.mirrors).toEqual(['mirror-1', 'mirror-2', 'mirror-3']);
    add(ids.f, 'relay.drop', { bundle: 'mirror-1' });
    add(ids.a, 'relay.move', { bundle: 'mirror-3', invites: [] });
    add(ids.m, 'relay.add', { bundle: 'mirror-4' }); // denied: members may not
    add(ids.a, 'relay.add', { bundle: 'relay-two' }); // the old relay, listed again by hand
    const prior = new Set(snapshotAncestry(log, frontier));
    const joiner = joinFrom(
      snapshot,
      log.genesis,
      [...log.events()].filter((e) => !prior.has(e.id)),
    );
    expect(joiner.state().relay).toEqual(log.state().relay);
    expect(log.state().relay.mirrors).toEqual(['mirror-2', 'relay-two']);
    expect(joiner.stateHash()).toBe(log.stateHash());
  });

  it('a snapshot state with malformed mirrors is refused; one without them, or with any text as a mirror, is read', () => {
    const { log } = pinnedHistory();
    const value = encodeState(log.state()) as Record<string, unknown> & { relay: { bundle: string; movedBy: string } };
    const relay = (mirrors: unknown, bundle: string | null = value.relay.bundle) => ({ ...value, relay: { ...value.relay, bundle, mirrors } });
    const cases: [string, unknown, RegExp][] = [
      ['a number', relay([7]), /does not match its schema/],
      ['a list that is not one', relay('mirror-1'), /does not match its schema/],
      ['an empty bundle', relay(['']), /does not match its schema/],
      [`a bundle over ${MAX_RELAY_BUNDLE} characters`, relay(['x'.repeat(MAX_RELAY_BUNDLE + 1)]), /does not match its schema/],
      [`more than ${MAX_RELAY_MIRRORS} mirrors`, relay(Array.from({ length: MAX_RELAY_MIRRORS + 1 }, (_, i) => `m${i}`)), /does not match its schema/],
      ['an empty list (no state encodes so)', relay([]), /does not match its schema/],
      ['a mirror twice', relay(['m1', 'm2', 'm1']), /a relay mirror listed twice/],
      ['the relay as its own mirror', relay(['m1', 'relay-two']), /the relay is listed as its own mirror/],
      ['an unknown field beside them', { ...value, relay: { ...value.relay, mirrors: ['m1'], primary: true } }, /does not match its schema/],
    ];
    for (const [what, bad, message] of cases) expect(() => decodeState(bad), what).toThrow(message);
    expect(decodeState(value).relay.mirrors).toEqual([]);
    const most = Array.from({ length: MAX_RELAY_MIRRORS }, (_, i) => (i === 0 ? '__proto__' : i === 1 ? 'constructor' : `m${i}`));
    expect(decodeState(relay(most)).relay.mirrors).toEqual(most);
    expect(decodeState(relay(['x'.repeat(MAX_RELAY_BUNDLE)], null)).relay).toMatchObject({ bundle: null, mirrors: ['x'.repeat(MAX_RELAY_BUNDLE)] });
  });
});

/**
 * The state hash, state encoding and snapshot document of pinnedHistory(), computed before relay
 * mirrors existed. A state without mirrors must keep encoding exactly so: existing state hashes
 * and attested snapshots stay valid.
 */
const PINNED = {
  stateHash: '7ed7e5b9f802eabb46c2644c16ced0d6b2d4b3635eb679359c6d83ed6d23537d',
  state: 'ebd4535688e67d160731725d331320c2da38bea819b710ef092049a2b6bdd0c2',
  snapshot: '0e188fcd26337a059b6def9981f9a07eb6c4eda5345a449bde19d0eb02b11830',
};

/**
 * A history every byte of which is fixed: seeded identities, fixed times and nonce, initial keys
 * without lockboxes, no sealed content. Founder f (organizer) adds organizer a and member m; a
 * moves the relay; m's move is denied; m renames. `add` signs one more event on top, by hand.
 */
function pinnedHistory() {
  const who = (n: number) => Identity.fromSeed(new Uint8Array(32).fill(n));
  const ids = { f: who(1), a: who(2), m: who(3) };
  const rules = RulesSchema.parse({
    format: 'pursuance-rules/1',
    title: 'Pinned',
    roles: {
      organizer: {
        title: 'Organizer',
        rank: 800,
        history: 'all',
        can: [
          { subject: 'member', action: 'invite' },
          { subject: 'role', action: 'assign', roles: '*' },
          { subject: 'relay', action: 'move' },
        ],
      },
      member: { title: 'Member', rank: 100, history: 'all', can: [{ subject: 'task', action: 'create', audience: ['member'] }] },
    },
    workflow: { states: ['open', 'done'], initial: 'open', closed: ['done'], transitions: [{ from: 'open', to: 'open' }] },
    succession: { quorum: 1, inactivityDays: null },
  });
  const keys = ['member', 'organizer'].map((role, i) => ({ role, keyId: newRoleKey(role, new Uint8Array(32).fill(9 + i)).keyId, lockboxes: [] }));
  const genesis = signEvent(ids.f, {
    pursuance: null,
    seq: 1,
    parents: [],
    time: 1_800_000_000_000,
    kind: 'genesis',
    audience: [],
    body: {
      name: 'Pinned',
      description: '',
      founders: [ids.f.publicKey],
      rules,
      members: [{ member: ids.f.publicKey, name: 'f', roles: ['member', 'organizer'] }],
      keys,
      relay: 'relay-one',
      nonce: new Uint8Array(16),
    },
  });
  const log = new PursuanceLog(genesis);
  let time = 1_800_000_000_000;
  const add = <K extends EventKind>(by: Identity, kind: K, body: EventBody<K>): void => void log.add(forge(by, log, kind, body, [], { time: (time += 1000) }));
  add(ids.f, 'member.add', { member: ids.a.publicKey, name: 'a', roles: ['member', 'organizer'], keys: [] });
  add(ids.f, 'member.add', { member: ids.m.publicKey, name: 'm', roles: ['member'], keys: [] });
  add(ids.a, 'relay.move', { bundle: 'relay-two', invites: [] });
  add(ids.m, 'relay.move', { bundle: 'relay-three', invites: [] });
  add(ids.m, 'member.rename', { name: 'em' });
  return { log, add, ids };
}

const stateForSnapshot = (snapshot: Snapshot) => decodeState(snapshot.base.state);
const encodedRelay = (log: PursuanceLog) => (encodeState(log.state()) as { relay: CanonicalValue }).relay;

function copy(log: PursuanceLog): PursuanceLog {
  const out = new PursuanceLog(log.genesis.bytes);
  out.addAll([...log.events()].map((e) => e.bytes));
  return out;
}

/** A forger makes the document self-consistent: the state hash of the state they put in. */
const baseHash = (base: Snapshot['base']): string => baseStateHash(base);

function expectProblem(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as SnapshotError).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected a SnapshotError');
}

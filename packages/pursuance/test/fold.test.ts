import { describe, expect, it } from 'vitest';
import { Identity, fromHex, onionFromPublicKey, sha256, toHex } from '@pursuance/crypto';
import { MAX_RELAY_MIRRORS, PursuanceAuthor, PursuanceLog, RejectionCode, buildMemberView, signEvent, type SignedEvent } from '../src/index.js';
import { collectKeys } from '../src/view.js';
import { makeRotation, makeShare, newRoleKey, sealContent } from '../src/keys.js';
import { forge, sealAs } from './support/harness.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

/** Fold every ordering of a few event groups and check they agree. */
function allOrders<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((x, i) => allOrders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

function foldIn(genesis: Uint8Array, base: readonly SignedEvent[], order: readonly SignedEvent[]): PursuanceLog {
  const log = new PursuanceLog(genesis);
  log.addAll(base.map((e) => e.bytes));
  log.addAll(order.map((e) => e.bytes));
  return log;
}

describe('concurrent conflicts resolve the same way everywhere', () => {
  it('a removal defeats a concurrent action of the removed member, even when that action was ordered first (restart path)', () => {
    const now = clock();
    const [fId, mId, qId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(mId.publicKey, { roles: ['organizer', 'member'] }); // M: high rank (800)
    founder.addMember(qId.publicKey, { roles: ['member'] }); // Q: low rank (100)
    const base = [...founder.log.events()];
    const m = joinAs(mId, founder.log, now);
    const q = joinAs(qId, founder.log, now);

    // Concurrently: Q comments-creates (low rank) and M creates a task (high rank).
    const p = q.createTask({ audience: ['member'], title: 'by Q' });
    const x = m.createTask({ audience: ['member'], title: 'by M, concurrent with the removal' });
    // The founder sees only Q's event, then removes M: R depends on P, not on X.
    syncInto(founder, q.log);
    const r = founder.removeMember(mId.onion);

    // Greedy order alone would apply X (rank 800) before P (rank 100) and thus before R;
    // the removal must still win, in every arrival order.
    const hashes = new Set<string>();
    for (const order of allOrders([p, x, r])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.rejectionOf(x.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.isAccepted(r.id)).toBe(true);
      expect(log.isAccepted(p.id)).toBe(true);
      expect(log.state().tasks.has(x.id)).toBe(false);
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('a removal defeats a concurrent event of the removed even where it must come first: the founder demoted the remover having seen it', () => {
    // Found by the malicious-member property (stop 32). F saw B's task and removed A's member
    // role; A, still an organizer, concurrently expelled B without having seen that task. The
    // task precedes F's demotion (a real edge), which precedes A's later events (removal
    // precedence), so it cannot come after A's expulsion of B: it is refused as defeated.
    const now = clock();
    const [fId, aId, bId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['organizer', 'member'] });
    founder.addMember(bId.publicKey, { roles: ['member'] });
    const base = [...founder.log.events()];
    const a = joinAs(aId, founder.log, now);
    const b = joinAs(bId, founder.log, now);
    const task = b.createTask({ audience: ['member'], title: 'by B, unseen by its expulsion' });
    const expel = a.removeMember(bId.onion);
    syncInto(founder, b.log);
    const demote = founder.removeRole(aId.onion, 'member');
    const hashes = new Set<string>();
    for (const order of allOrders([task, expel, demote])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.isAccepted(demote.id)).toBe(true);
      expect(log.isAccepted(expel.id)).toBe(true);
      expect(log.rejectionOf(task.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.rejectionOf(task.id)?.reason).toContain(expel.id);
      expect(log.state().tasks.has(task.id)).toBe(false);
      expect(log.state().members.has(bId.onion)).toBe(false);
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('a removal defeats a concurrent event of the removed that another removal’s precedence puts before it', () => {
    // F removes A having seen B's task; P removes B having seen A's comment. Each removal wants the
    // other's victim's event after it, and each event precedes the other removal by a real edge:
    // a cycle. Which edge breaks depends on the ids (the fold's order), but never the outcome:
    // one of the two events is refused as defeated, the other comes after its author's removal.
    const now = clock();
    const [fId, aId, bId, pId] = [Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['member'] });
    founder.addMember(bId.publicKey, { roles: ['member'] });
    founder.addMember(pId.publicKey, { roles: ['organizer', 'member'] });
    const base = [...founder.log.events()];
    const a = joinAs(aId, founder.log, now);
    const b = joinAs(bId, founder.log, now);
    const p = joinAs(pId, founder.log, now);
    const task = b.createTask({ audience: ['member'], title: 'by B' });
    const comment = a.createTask({ audience: ['member'], title: 'by A, unseen by its removal' });
    syncInto(founder, b.log);
    const removeA = founder.removeMember(aId.onion);
    syncInto(p, a.log);
    const removeB = p.removeMember(bId.onion);
    const hashes = new Set<string>();
    for (const order of allOrders([task, comment, removeA, removeB])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.isAccepted(removeA.id)).toBe(true);
      expect(log.isAccepted(removeB.id)).toBe(true);
      expect(log.rejectionOf(comment.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.rejectionOf(task.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      const defeated = [
        log.rejectionOf(task.id)?.reason.includes(`removal ${removeB.id}`),
        log.rejectionOf(comment.id)?.reason.includes(`removal ${removeA.id}`),
      ];
      expect(defeated.filter(Boolean)).toHaveLength(1);
      expect(log.state().tasks.has(task.id) || log.state().tasks.has(comment.id)).toBe(false);
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('an event of the removed that the remover saw refused keeps its own refusal: it is not re-judged as defeated', () => {
    // A refused event does not advance the causal clock, so the removal's cutoff does not count
    // it; it is in the removal's real past all the same, and nothing about it changes.
    const now = clock();
    const [fId, mId] = [Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(mId.publicKey, { roles: ['member'] });
    const base = [...founder.log.events()];
    const m = joinAs(mId, founder.log, now);
    // A member may not create tasks for the organizers: forged past the author API.
    const sealed = sealAs(m.log, m.keyring, 'task.create', null, { title: 'not mine to write' }, ['organizer'], mId);
    const refused = forge(mId, m.log, 'task.create', { parent: null, sealed }, ['organizer'], { time: now() });
    m.log.add(refused.bytes);
    syncInto(founder, m.log);
    const code = founder.log.rejectionOf(refused.id)?.code;
    expect(code).toBeDefined();
    const removal = founder.removeMember(mId.onion);
    for (const order of allOrders([refused, removal])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.isAccepted(removal.id)).toBe(true);
      expect(log.rejectionOf(refused.id)?.code).toBe(code);
      expect(log.rejectionOf(refused.id)?.reason).not.toMatch(/concurrently with the removal/);
    }
  });

  it('an expelled organizer’s concurrent expulsion of a member whose event the founder saw does not count, even when the fold meets it first and restarts twice', () => {
    // The stop-31 shape, pinned. F expels organizer O having seen Y's task y and W's task w; O,
    // concurrently, expels Y having seen Z's task z. Among ready tasks (one class, one rank) the
    // fold takes the smaller id first: with y < z < w it takes y, z, then O's expulsion of Y
    // (removals go first) before w lets F's expulsion of O in. So it first orders y after O's
    // expulsion of Y, then O's expulsion after F's, and the first of those edges must be void or
    // the two would make a cycle. Identities are drawn until the ids fall in that order.
    for (let draw = 0; ; draw++) {
      expect(draw).toBeLessThan(500);
      const now = clock();
      const [fId, oId, yId, zId, wId] = Array.from({ length: 5 }, () => Identity.generate());
      const founder = PursuanceAuthor.create(fId!, { name: 'c', rules: template('activist-cell') }, now);
      founder.addMember(oId!.publicKey, { roles: ['organizer', 'member'] });
      for (const m of [yId!, zId!, wId!]) founder.addMember(m.publicKey, { roles: ['member'] });
      const base = [...founder.log.events()];
      const [o, y, z, w] = [oId!, yId!, zId!, wId!].map((id) => joinAs(id, founder.log, now));
      const [yTask, zTask, wTask] = [y!, z!, w!].map((a, i) => a.createTask({ audience: ['member'], title: `task ${i}` }));
      if (!(yTask!.id < zTask!.id && zTask!.id < wTask!.id)) continue;
      syncInto(o!, z!.log);
      const expelY = o!.removeMember(yId!.onion);
      syncInto(founder, y!.log);
      syncInto(founder, w!.log);
      const expelO = founder.removeMember(oId!.onion);
      const hashes = new Set<string>();
      for (const order of allOrders([yTask!, zTask!, wTask!, expelY, expelO])) {
        const log = foldIn(founder.log.genesis.bytes, base, order);
        expect(log.isAccepted(expelO.id)).toBe(true);
        expect(log.rejectionOf(expelY.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
        // Ordered after O's own expulsion (judged there, as any late event of O), not defeated.
        expect(log.rejectionOf(expelY.id)?.reason).toMatch(/is not a member at this point/);
        for (const t of [yTask!, zTask!, wTask!]) expect(log.isAccepted(t.id)).toBe(true);
        expect(log.state().members.has(yId!.onion)).toBe(true);
        expect(log.pendingCount()).toBe(0);
        hashes.add(log.stateHash());
      }
      expect(hashes.size).toBe(1);
      return;
    }
  });

  it('higher authority first: concurrent mutual role removals keep the founder’s', () => {
    const now = clock();
    const [fId, aId, bId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['organizer', 'member'] });
    founder.addMember(bId.publicKey, { roles: ['member'] });
    const base = [...founder.log.events()];
    const a = joinAs(aId, founder.log, now);
    // The organizer removes B's member role while the founder, concurrently, expels the organizer.
    const byA = a.removeRole(bId.onion, 'member');
    const byF = founder.removeMember(aId.onion);
    for (const order of allOrders([byA, byF])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.isAccepted(byF.id)).toBe(true);
      expect(log.rejectionOf(byA.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.state().members.get(bId.onion)?.roles.has('member')).toBe(true);
    }
  });

  it('concurrent rotations both stand, and every holder still reads content sealed to either key', () => {
    const now = clock();
    const [fId, aId] = [Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'c', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['organizer', 'member'] });
    const a = joinAs(aId, founder.log, now);
    founder.rotateKeys(['member']);
    a.rotateKeys(['member']);
    const t1 = founder.createTask({ audience: ['member'], title: 'sealed to F’s key' });
    const t2 = a.createTask({ audience: ['member'], title: 'sealed to A’s key' });
    syncInto(founder, a.log);
    syncInto(a, founder.log);
    expect(a.log.stateHash()).toBe(founder.log.stateHash());
    expect(founder.log.state().roles.get('member')!.epochs).toHaveLength(3);
    for (const [id, author] of [
      [fId, founder],
      [aId, a],
    ] as const) {
      const tasks = buildMemberView(author.log, id).tasks;
      expect(tasks.get(t1.id)?.title).toBe('sealed to F’s key');
      expect(tasks.get(t2.id)?.title).toBe('sealed to A’s key');
    }
  });
});

describe('a departure its author had not seen does not undo an event (fold/departures.ts)', () => {
  /** Founder F, organizer A, members X, Y, Q: all hold "member", whose key F made. */
  function cell() {
    const now = clock();
    const [fId, aId, xId, yId, qId] = [Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'race', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['organizer', 'member'] });
    for (const m of [xId, yId, qId]) founder.addMember(m.publicKey, { roles: ['member'] });
    const base = [...founder.log.events()];
    return { now, founder, base, id: { f: fId, a: aId, x: xId, y: yId, q: qId }, a: joinAs(aId, founder.log, now), q: joinAs(qId, founder.log, now) };
  }

  it('a removal racing a role removal of another holder stands in every order; each rotation is marked as known to whom the other took out', () => {
    const { founder, base, id, a } = cell();
    // Concurrently: the founder expels X (its rotation still gives Y the new key), and the
    // organizer takes "member" from Y (its rotation still gives X the new key).
    const expel = founder.removeMember(id.x.onion);
    const demote = a.removeRole(id.y.onion, 'member');
    const hashes = new Set<string>();
    for (const order of allOrders([expel, demote])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.isAccepted(expel.id), `expulsion, order ${order.map((e) => e.header.kind).join(' ')}`).toBe(true);
      expect(log.isAccepted(demote.id)).toBe(true);
      const state = log.state();
      expect(state.members.has(id.x.onion)).toBe(false);
      expect(state.members.get(id.y.onion)!.roles.has('member')).toBe(false);
      const member = state.roles.get('member')!;
      expect(member.holders.has(id.x.onion) || member.holders.has(id.y.onion)).toBe(false);
      // Whichever came second gave a key to someone the first had taken out: marked, and due.
      const second = member.epochs.at(-1)!;
      expect(second.leftBy).toContain(second.introducedBy === expel.id ? demote.id : expel.id);
      expect(member.rotationDueSince).not.toBeNull();
      hashes.add(log.stateHash());
    }
    expect(hashes.size).toBe(1);
  });

  it('once it has seen both, no author may seal to a key the departed hold; the maker of the current key rotates it, and they read nothing after', () => {
    const { founder, id, a, q } = cell();
    const expel = founder.removeMember(id.x.onion);
    a.removeRole(id.y.onion, 'member');
    syncInto(founder, a.log);
    syncInto(a, founder.log);
    syncInto(q, founder.log);
    expect(founder.log.isAccepted(expel.id)).toBe(true);
    expect(a.log.stateHash()).toBe(founder.log.stateHash());
    // The current key reached X or Y: sealing to it after seeing both departures is refused.
    expect(() => q.createTask({ audience: ['member'], title: 'too early' })).toThrow(/rotated after a holder left|a member its author saw leave knew/);
    // Concurrent removals go highest rank first: the founder's, then the organizer's, whose key
    // reached X. The organizer made the current key, so replacing it falls to the organizer.
    expect(a.log.state().roles.get('member')!.epochs.at(-1)!.creator).toBe(id.a.onion);
    const maker = a;
    expect(maker.dueRotations()).toEqual(['member']);
    expect(maker.dueRotations((role) => role === 'member')).toEqual([]);
    expect(founder.dueRotations(), 'the founder may rotate, but did not make the key').toEqual([]);
    expect(q.dueRotations(), 'a member who may not rotate, and did not make the key').toEqual([]);
    // Had the maker lost the right to rotate, it would not be its to do.
    const demoted = new PursuanceLog(founder.log.genesis.bytes);
    demoted.addAll([...founder.log.events()].map((e) => e.bytes));
    const stripped = new PursuanceAuthor(id.f, demoted, undefined, clock());
    stripped.removeRole(id.a.onion, 'organizer');
    const aWithout = new PursuanceAuthor(id.a, demoted, undefined, clock());
    expect(aWithout.dueRotations()).toEqual([]);
    maker.rotateKeys(maker.dueRotations());
    expect(maker.dueRotations()).toEqual([]);
    syncInto(q, maker.log);
    const task = q.createTask({ audience: ['member'], title: 'after both left' });
    syncInto(founder, q.log);
    for (const gone of [id.x, id.y]) expect(buildMemberView(founder.log, gone).tasks.get(task.id)?.readable, gone.onion).toBe(false);
    expect(buildMemberView(founder.log, id.q).tasks.get(task.id)?.title).toBe('after both left');
  });

  it('when the maker of the key left (or may no longer rotate), exactly one member who may rotate does it, the same one on every replica', () => {
    const { founder, id, a, q, now } = cell();
    // The organizer makes the members' current key, then leaves: the role is due, and its maker gone.
    a.rotateKeys(['member']);
    syncInto(founder, a.log);
    const left = a.leave();
    syncInto(founder, a.log);
    syncInto(q, founder.log);
    const member = founder.log.state().roles.get('member')!;
    expect(member.epochs.at(-1)!.creator).toBe(id.a.onion);
    expect(member.rotationDueSince).toBe(left.id);
    expect(() => q.createTask({ audience: ['member'], title: 'too early' })).toThrow(/rotated after a holder left/);
    // Only the founder may rotate now: "member" falls to the founder, never to a member who may
    // not ("organizer", which the organizer also held, is the founder's anyway: it made that key).
    expect(founder.dueRotations()).toEqual(['member', 'organizer']);
    expect(founder.dueRotations((role, since) => role === 'member' && since === left.id)).toEqual(['organizer']);
    expect(q.dueRotations()).toEqual([]);

    // With a second member who may rotate, one of the two does it: both replicas agree which.
    const promoted = new PursuanceLog(founder.log.genesis.bytes);
    promoted.addAll([...founder.log.events()].map((e) => e.bytes));
    const f2 = new PursuanceAuthor(id.f, promoted, undefined, now);
    f2.assignRole(id.q.onion, 'organizer');
    const q2 = joinAs(id.q, f2.log, now);
    const takers = [f2, q2].filter((x) => x.dueRotations().includes('member'));
    expect(takers).toHaveLength(1);
    const rotator = takers[0]!;
    rotator.rotateKeys(['member']);
    expect(rotator.dueRotations()).not.toContain('member');
    const other = rotator === f2 ? q2 : f2;
    syncInto(other, rotator.log);
    expect(other.dueRotations()).not.toContain('member');
    const task = other.createTask({ audience: ['member'], title: 'after the maker left' });
    syncInto(founder, other.log);
    expect(buildMemberView(founder.log, id.a).tasks.get(task.id)?.readable ?? false).toBe(false);
    expect(buildMemberView(founder.log, id.x).tasks.get(task.id)?.title).toBe('after the maker left');
  });

  it('the member it falls to is the least SHA-256(departure ‖ role ‖ onion) among those who may rotate, never one who may not', () => {
    const rank = (departure: string, role: string, onion: string) => toHex(sha256(new TextEncoder().encode(`${departure}\u0000${role}\u0000${onion}`)));
    for (let trial = 0; trial < 6; trial++) {
      const { founder, id, a, now } = cell();
      // Q becomes an organizer too; then the organizer who made the members' key leaves.
      founder.assignRole(id.q.onion, 'organizer');
      syncInto(a, founder.log);
      a.rotateKeys(['member']);
      syncInto(founder, a.log);
      const left = a.leave();
      syncInto(founder, a.log);
      const replicas = [id.f, id.q, id.x, id.y].map((who) => joinAs(who, founder.log, now));
      const takers = replicas.filter((r) => r.dueRotations().includes('member')).map((r) => r.identity.onion);
      const expected = [id.f.onion, id.q.onion].sort((m, n) => (rank(left.id, 'member', m) < rank(left.id, 'member', n) ? -1 : 1))[0];
      expect(takers, `trial ${trial}`).toEqual([expected]);
    }
  });

  it('everyone who may rotate a due role has one turn, the same on every replica: the maker first while it may, then by rank', () => {
    const rank = (departure: string, role: string, onion: string) => toHex(sha256(new TextEncoder().encode(`${departure}\u0000${role}\u0000${onion}`)));
    const { founder, id, a, now } = cell();
    founder.assignRole(id.q.onion, 'organizer');
    syncInto(a, founder.log);
    a.rotateKeys(['member']);
    syncInto(founder, a.log);
    // X leaves without a rotation: "member" is due, and its maker (the organizer) is still here.
    const x = joinAs(id.x, founder.log, now);
    const left = x.leave();
    syncInto(founder, x.log);
    const replicas = [id.f, id.a, id.q, id.y].map((who) => joinAs(who, founder.log, now));
    const turns = new Map(replicas.map((r) => [r.identity.onion, r.rotationTurns().find((t) => t.role === 'member')]));
    expect(turns.get(id.y.onion), 'a member who may not rotate has no turn').toBeUndefined();
    const others = [id.f.onion, id.q.onion].sort((m, n) => (rank(left.id, 'member', m) < rank(left.id, 'member', n) ? -1 : 1));
    expect([id.a.onion, ...others].map((o) => turns.get(o)?.turn)).toEqual([0, 1, 2]);
    for (const t of turns.values()) if (t) expect(t.dueSince).toBe(left.id);
    // Only turn 0 is due now; the others are the fallback (the node staggers them).
    expect(replicas.filter((r) => r.dueRotations().includes('member')).map((r) => r.identity.onion)).toEqual([id.a.onion]);
    // Once answered for this departure, no turn is offered again.
    expect(replicas[0]!.rotationTurns((role, since) => role === 'member' && since === left.id).map((t) => t.role)).not.toContain('member');
  });

  it('a departure the author had not seen excuses naming the one who left, never a stranger', () => {
    const { founder, base, id, a } = cell();
    const stranger = Identity.generate();
    founder.removeMember(id.y.onion);
    const state = a.log.state();
    const holders = [...state.roles.get('member')!.holders].map((o) => state.members.get(o)!.key);
    // The organizer had not seen Y's removal: naming Y is a race; naming a stranger is not.
    const raced = forge(id.a, a.log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), holders)] });
    const withStranger = forge(id.a, a.log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), [...holders, stranger.publicKey])] });
    for (const [event, accepted] of [
      [raced, true],
      [withStranger, false],
    ] as const) {
      const log = foldIn(founder.log.genesis.bytes, base, [...founder.log.events()].slice(base.length).concat(event));
      expect(log.isAccepted(event.id), accepted ? 'naming Y' : 'naming a stranger').toBe(accepted);
      if (!accepted) expect(log.rejectionOf(event.id)?.reason).toContain(stranger.onion);
    }
  });

  it('a rotation naming a role twice, or reusing a key id, is refused whoever it names', () => {
    const { founder, id } = cell();
    const state = founder.log.state();
    const holders = [...state.roles.get('member')!.holders].map((o) => state.members.get(o)!.key);
    const key = newRoleKey('member');
    const twice = forge(id.f, founder.log, 'keys.rotate', { rotations: [makeRotation(key, holders), makeRotation(newRoleKey('member'), holders)] });
    expect(founder.log.dryRun(twice)).toMatchObject({ code: RejectionCode.LOCKBOX_INVALID, reason: 'two rotations of "member" in one event' });
    founder.log.add(forge(id.f, founder.log, 'keys.rotate', { rotations: [makeRotation(key, holders)] }));
    const reused = forge(id.f, founder.log, 'keys.rotate', { rotations: [makeRotation(key, holders)] });
    expect(founder.log.dryRun(reused)).toMatchObject({ code: RejectionCode.LOCKBOX_INVALID, reason: 'key id reused for "member"' });
  });

  it('naming someone whose departure the author had seen is still refused: a rotation, a removal and a move', () => {
    const { founder, id } = cell();
    founder.removeMember(id.y.onion);
    const state = founder.log.state();
    const holders = [...state.roles.get('member')!.holders].map((o) => state.members.get(o)!.key);
    const withY = [...holders, id.y.publicKey];
    const toY = { to: id.y.publicKey, box: new Uint8Array(48) };
    const refusals = [
      forge(id.f, founder.log, 'keys.rotate', { rotations: [makeRotation(newRoleKey('member'), withY)] }),
      forge(id.f, founder.log, 'member.remove', {
        member: id.q.publicKey,
        rotations: [
          makeRotation(
            newRoleKey('member'),
            withY.filter((k) => onionFromPublicKey(k) !== id.q.onion),
          ),
        ],
      }),
      forge(id.f, founder.log, 'member.remove', { member: id.q.publicKey, rotations: [], invites: [toY] }),
      forge(id.f, founder.log, 'relay.move', { bundle: 'relay-bundle-2', invites: [toY] }),
    ];
    for (const e of refusals)
      expect(founder.log.dryRun(e), e.header.kind).toMatchObject({ code: RejectionCode.LOCKBOX_INVALID, reason: expect.stringContaining(id.y.onion) });
  });
});

describe('key distribution', () => {
  function cellWith(history: 'all' | 'since-join') {
    const now = clock();
    const rules = template('activist-cell');
    rules.roles.member!.history = history;
    const fId = Identity.generate();
    const founder = PursuanceAuthor.create(fId, { name: 'k', rules }, now);
    const early = founder.createTask({ audience: ['member'], title: 'before the newcomer' });
    founder.rotateKeys(['member']);
    const newcomer = Identity.generate();
    return { founder, early, newcomer, now };
  }

  it('gives a newcomer older epochs only where the role reads history', () => {
    for (const history of ['all', 'since-join'] as const) {
      const { founder, early, newcomer } = cellWith(history);
      founder.addMember(newcomer.publicKey, { roles: ['member'] });
      const view = buildMemberView(founder.log, newcomer);
      expect(view.tasks.get(early.id)?.readable, history).toBe(history === 'all');
      expect(collectKeys(founder.log, newcomer).size).toBe(history === 'all' ? 2 : 1);
    }
  });

  it('refuses a share of an old epoch to a since-join newcomer, forged past the author API', () => {
    const { founder, newcomer } = cellWith('since-join');
    founder.addMember(newcomer.publicKey, { roles: ['member'] });
    const oldEpoch = founder.log.state().roles.get('member')!.epochs[0]!;
    const forged = signEvent(founder.identity, {
      pursuance: fromHex(founder.log.id),
      seq: founder.log.lastSeq(founder.identity.onion) + 1,
      parents: founder.log.heads().map((h) => fromHex(h)),
      time: 1,
      kind: 'keys.share',
      audience: [],
      body: { shares: [makeShare(founder.keyring.get(oldEpoch.keyIdHex)!, [newcomer.publicKey])] },
    });
    expect(founder.log.add(forged).rejection?.code).toBe(RejectionCode.LOCKBOX_INVALID);
  });

  it('never lets a member plant a key: a share of an unknown key id is refused, a wrong key under a real id is ignored', () => {
    const now = clock();
    const [fId, aId, bId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'k', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['member'] });
    founder.addMember(bId.publicKey, { roles: ['member'] });
    const a = joinAs(aId, founder.log, now);
    const realId = founder.log.state().roles.get('member')!.epochs.at(-1)!.keyId;
    const planted = newRoleKey('member');
    const share = (keyId: Uint8Array) =>
      signEvent(aId, {
        pursuance: fromHex(a.log.id),
        seq: a.log.lastSeq(aId.onion) + 1,
        parents: a.log.heads().map((h) => fromHex(h)),
        time: now(),
        kind: 'keys.share',
        audience: [],
        body: { shares: [{ ...makeShare(planted, [bId.publicKey]), keyId }] },
      });
    expect(a.log.add(share(planted.keyId)).rejection?.code).toBe(RejectionCode.UNKNOWN_KEY);
    // Under the real key id the event is structurally fine, but B's keyring refuses the key.
    const underRealId = share(realId);
    expect(a.log.add(underRealId).status).toBe('accepted');
    const bKeys = collectKeys(a.log, bId);
    expect(bKeys.get(realId)?.key).toEqual(founder.keyring.get(realId)?.key);
    expect(bKeys.get(realId)?.key).not.toEqual(planted.key);
  });

  it('rejects content sealed to a key its author knew had been rotated (stale epoch)', () => {
    const now = clock();
    const [fId, aId] = [Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'k', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['member'] });
    const oldKey = founder.keyring.get(founder.log.state().roles.get('member')!.epochs.at(-1)!.keyIdHex)!;
    founder.rotateKeys(['member']);
    // A task sealed to the old key, built by hand after the rotation (the API would use the new one).
    const stale = signEvent(fId, {
      pursuance: fromHex(founder.log.id),
      seq: founder.log.lastSeq(fId.onion) + 1,
      parents: founder.log.heads().map((h) => fromHex(h)),
      time: now(),
      kind: 'task.create',
      audience: ['member'],
      body: { parent: null, sealed: sealContent({ kind: 'task.create', task: null, content: {} }, [oldKey]) },
    });
    expect(founder.log.add(stale).rejection?.code).toBe(RejectionCode.STALE_EPOCH);
  });

  it('makes the key of a role a member left without rotation unusable until someone rotates it', () => {
    const now = clock();
    const [fId, aId, bId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'k', rules: template('activist-cell') }, now);
    founder.addMember(aId.publicKey, { roles: ['member'] });
    founder.addMember(bId.publicKey, { roles: ['member'] });
    const b = joinAs(bId, founder.log, now);
    b.leave();
    syncInto(founder, b.log);
    expect(founder.log.state().roles.get('member')!.rotationDueSince).not.toBeNull();
    expect(() => founder.createTask({ audience: ['member'], title: 'x' })).toThrow(/rotated/);
    founder.rotateKeys(['member']);
    const t = founder.createTask({ audience: ['member'], title: 'after rotation' });
    expect(founder.log.isAccepted(t.id)).toBe(true);
    expect(buildMemberView(founder.log, bId).tasks.get(t.id)?.readable).toBe(false);
  });
});

describe('mirror relays (relay.add, relay.drop) beside the relay', () => {
  /** Founder F and organizer A (both may move the relay) on relay "r1", with `listed` mirrors; M a plain member. */
  function relays(listed: readonly string[] = []) {
    const now = clock();
    const [fId, aId, mId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(fId, { name: 'relays', rules: template('activist-cell'), relay: 'r1' }, now);
    founder.addMember(aId.publicKey, { roles: ['organizer', 'member'] });
    founder.addMember(mId.publicKey, { roles: ['member'] });
    for (const b of listed) founder.addMirror(b);
    const base = [...founder.log.events()];
    return { founder, base, a: joinAs(aId, founder.log, now), m: joinAs(mId, founder.log, now) };
  }

  /** Fold `events` in every order on top of `base`: one state hash, and the fold's relay state. */
  function everyOrder(founder: PursuanceAuthor, base: readonly SignedEvent[], events: readonly SignedEvent[]) {
    const hashes = new Set<string>();
    const logs = allOrders(events).map((order) => foldIn(founder.log.genesis.bytes, base, order));
    for (const log of logs) hashes.add(log.stateHash());
    expect(hashes.size).toBe(1);
    return logs[0]!;
  }

  it('adds append in order, drops remove, a move onto a mirror takes it off the list, the old relay is no mirror', () => {
    const { founder } = relays();
    expect(founder.log.state().relay).toEqual({ bundle: 'r1', movedBy: null, mirrors: [] });
    for (const b of ['m1', 'm2', 'm3']) founder.addMirror(b);
    founder.dropMirror('m2');
    expect(founder.log.state().relay.mirrors).toEqual(['m1', 'm3']);
    const move = founder.moveRelay('m3', new Uint8Array(48));
    expect(founder.log.state().relay).toEqual({ bundle: 'm3', movedBy: move.id, mirrors: ['m1'] });
    // The old relay may be listed as a mirror again, by hand; a move elsewhere keeps the mirrors.
    founder.addMirror('r1');
    const away = founder.moveRelay('r2', new Uint8Array(48));
    expect(founder.log.state().relay).toEqual({ bundle: 'r2', movedBy: away.id, mirrors: ['m1', 'r1'] });
    founder.addMirror('m2');
    expect(founder.log.state().relay.mirrors).toEqual(['m1', 'r1', 'm2']);
    // Every replica folds the same list, in the same order.
    const other = new PursuanceLog(founder.log.genesis.bytes);
    other.addAll([...founder.log.events()].reverse().map((e) => e.bytes));
    expect(other.state().relay).toEqual(founder.log.state().relay);
  });

  it('concurrent adds of one bundle keep one entry, whichever arrives first: the higher authority’s stands', () => {
    const { founder, base, a } = relays(['m1']);
    const byA = a.addMirror('m2');
    const byF = founder.addMirror('m2');
    for (const order of allOrders([byA, byF])) {
      const log = foldIn(founder.log.genesis.bytes, base, order);
      expect(log.state().relay.mirrors).toEqual(['m1', 'm2']);
      expect(log.isAccepted(byF.id)).toBe(true);
      expect(log.rejectionOf(byA.id)).toMatchObject({ code: RejectionCode.INVALID_STATE, reason: 'that relay is already a mirror' });
    }
    const log = everyOrder(founder, base, [byA, byF]);
    // Replicas that exchange their events agree too.
    syncInto(founder, a.log);
    syncInto(a, founder.log);
    expect(a.log.stateHash()).toBe(log.stateHash());
    expect(founder.log.stateHash()).toBe(log.stateHash());
  });

  it('concurrent drops of one mirror: one stands, the other names a mirror no longer listed', () => {
    const { founder, base, a } = relays(['m1', 'm2']);
    const byA = a.dropMirror('m1');
    const byF = founder.dropMirror('m1');
    const log = everyOrder(founder, base, [byA, byF]);
    expect(log.state().relay.mirrors).toEqual(['m2']);
    expect(log.isAccepted(byF.id)).toBe(true);
    expect(log.rejectionOf(byA.id)?.code).toBe(RejectionCode.UNKNOWN_TARGET);
  });

  it('a drop racing an add of another mirror: both stand, in every order', () => {
    const { founder, base, a } = relays(['m1']);
    const log = everyOrder(founder, base, [a.dropMirror('m1'), founder.addMirror('m2')]);
    expect(log.state().relay.mirrors).toEqual(['m2']);
    expect(log.foldRejections()).toEqual([]);
  });

  it('a drop racing an add of the same bundle (a client that skipped its check): one outcome everywhere', () => {
    const { founder, base, a } = relays();
    // F lists m1; A, who has not seen it, drops m1 by hand (its own client would refuse).
    const add = founder.addMirror('m1');
    const drop = forge(a.identity, a.log, 'relay.drop', { bundle: 'm1' });
    const log = everyOrder(founder, base, [add, drop]);
    // The founder's add is applied first (authority), so the drop finds m1 listed and removes it.
    expect(log.isAccepted(add.id) && log.isAccepted(drop.id)).toBe(true);
    expect(log.state().relay.mirrors).toEqual([]);
  });

  it('a drop racing a move onto that mirror: the relay is never dropped, whoever ranks higher', () => {
    // The founder moves onto m1 while the organizer drops it: the move comes first, the drop is refused.
    {
      const { founder, base, a } = relays(['m1', 'm2']);
      const drop = a.dropMirror('m1');
      const move = founder.moveRelay('m1', new Uint8Array(48));
      const log = everyOrder(founder, base, [drop, move]);
      expect(log.state().relay).toMatchObject({ bundle: 'm1', movedBy: move.id, mirrors: ['m2'] });
      expect(log.rejectionOf(drop.id)).toMatchObject({ code: RejectionCode.INVALID_STATE, reason: expect.stringContaining('move instead') });
    }
    // The founder drops m1 while the organizer moves onto it: the drop comes first, then the move.
    {
      const { founder, base, a } = relays(['m1', 'm2']);
      const drop = founder.dropMirror('m1');
      const move = a.moveRelay('m1', new Uint8Array(48));
      const log = everyOrder(founder, base, [drop, move]);
      expect(log.state().relay).toMatchObject({ bundle: 'm1', movedBy: move.id, mirrors: ['m2'] });
      expect(log.foldRejections()).toEqual([]);
    }
  });

  it(`concurrent adds with one place left: the list never grows past ${MAX_RELAY_MIRRORS}`, () => {
    const { founder, base, a } = relays(Array.from({ length: MAX_RELAY_MIRRORS - 1 }, (_, i) => `m${i}`));
    const byA = a.addMirror('from A');
    const byF = founder.addMirror('from F');
    const log = everyOrder(founder, base, [byA, byF]);
    expect(log.state().relay.mirrors).toHaveLength(MAX_RELAY_MIRRORS);
    expect(log.state().relay.mirrors.at(-1)).toBe('from F');
    expect(log.rejectionOf(byA.id)).toMatchObject({ code: RejectionCode.INVALID_STATE, reason: expect.stringContaining('drop one first') });
  });

  it('a member removed concurrently with their add: removal precedence refuses it', () => {
    const { founder, base, a } = relays();
    const add = a.addMirror('m1');
    const removal = founder.removeMember(a.identity.onion);
    const log = everyOrder(founder, base, [add, removal]);
    expect(log.rejectionOf(add.id)?.code).toBe(RejectionCode.NOT_A_MEMBER);
    expect(log.state().relay.mirrors).toEqual([]);
  });
});

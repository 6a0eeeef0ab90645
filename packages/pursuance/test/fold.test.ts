import { describe, expect, it } from 'vitest';
import { Identity, fromHex } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RejectionCode, buildMemberView, signEvent, type SignedEvent } from '../src/index.js';
import { collectKeys } from '../src/view.js';
import { makeShare, newRoleKey, sealContent } from '../src/keys.js';
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

import { randomBytes } from 'node:crypto';
import { fromHex, Identity } from '@pursuance/crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  RulesSchema,
  buildMemberView,
  recoverKeysFromSecrets,
  type EventId,
  type Rules,
  type SignedEvent,
} from '../src/index.js';
import { Applier } from '../src/fold/applier.js';
import { makeShare, newRoleKey } from '../src/keys.js';
import { collectKeys } from '../src/view.js';
import type { RulesInput } from '../src/rules/schema.js';
import { Network, expectRefused, forge, loadTemplate, sealAs } from './support/harness.js';
import { clock } from './support/helpers.js';

/**
 * Regressions for the attacks and races of issue 11, one block per finding. Each test failed on
 * the code before the fix (the closing note of the issue shows the runs).
 */
const DAY = 86_400_000;

const RULES_INPUT: RulesInput = {
  format: 'pursuance-rules/1',
  title: 'Findings',
  roles: {
    organizer: {
      title: 'Organizer',
      rank: 800,
      history: 'all',
      can: [
        ...(['create', 'edit', 'assign', 'comment', 'transition', 'close'] as const).map((action) => ({
          subject: 'task' as const,
          action,
          audience: '*' as const,
        })),
        { subject: 'role', action: 'assign', roles: '*' },
        { subject: 'role', action: 'remove', roles: '*' },
        { subject: 'keys', action: 'rotate', roles: '*' },
        { subject: 'member', action: 'invite' },
        { subject: 'member', action: 'expel' },
      ],
    },
    writer: {
      title: 'Writer',
      rank: 500,
      history: 'all',
      can: [
        { subject: 'task', action: 'create', audience: ['writer'] },
        { subject: 'task', action: 'comment', audience: ['writer'] },
        { subject: 'keys', action: 'rotate', roles: ['writer'] },
      ],
    },
    admin: {
      title: 'Admin',
      rank: 100,
      history: 'all',
      can: [
        { subject: 'role', action: 'remove', roles: ['writer'] },
        { subject: 'task', action: 'create', audience: ['member'] },
      ],
    },
    editor: { title: 'Rules editor', rank: 50, history: 'all', can: [{ subject: 'rules', action: 'change' }] },
    member: {
      title: 'Member',
      rank: 10,
      history: 'since-join',
      can: [
        { subject: 'task', action: 'create', audience: ['member'] },
        { subject: 'task', action: 'comment', audience: ['member'] },
        { subject: 'task', action: 'transition', audience: ['member'] },
      ],
    },
  },
  workflow: {
    states: ['todo', 'doing', 'done'],
    initial: 'todo',
    closed: ['done'],
    transitions: [
      { from: 'todo', to: 'doing' },
      { from: 'doing', to: 'todo' },
    ],
  },
  succession: { quorum: 2, inactivityDays: 90 },
};
const RULES: Rules = RulesSchema.parse(RULES_INPUT);

function people<N extends string>(...names: N[]): Record<N, Identity> {
  return Object.fromEntries(names.map((n) => [n, Identity.generate()])) as Record<N, Identity>;
}

/**
 * A fresh replica holding exactly `events`, fed one by one in the given order (as a relay
 * delivers), then offered again what it refused to park (as the node retries those).
 */
function replica(genesis: SignedEvent, events: Iterable<SignedEvent>): PursuanceLog {
  const log = new PursuanceLog(genesis.bytes);
  const refused = [...events].filter((e) => log.add(e.bytes).rejection?.code === RejectionCode.PENDING_REFUSED);
  log.addAll(refused.map((e) => e.bytes));
  return log;
}

describe('finding 1: rejected events never widen what later events have seen', () => {
  it('a removed organizer cannot add a sock puppet through an inflated sequence number and a back-dated add', () => {
    const id = people('f', 'o', 'h', 'p');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Cell', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { name: 'o', roles: ['organizer'] });
      f.addMember(id.h.publicKey, { name: 'h', roles: ['organizer'] });
    });
    net.join('o', id.o);
    net.join('h', id.h);
    const o = net.member('o');
    const mine = net.act('o', (a) => a.createTask({ audience: ['organizer'], title: 'mine' }));
    // The organizer keeps a back-dated add of a puppet for later (its real next sequence number)…
    const puppetAdd = forge(id.o, o.log, 'member.add', { member: id.p.publicKey, roles: ['organizer'], keys: [] });
    // …and publishes an event with an absurd sequence number: rejected, but honest nodes build on it.
    const inflated = forge(id.o, o.log, 'task.move', { task: fromHex(mine.id), parent: null }, ['organizer'], { seq: 2_000_000_000 });
    o.log.add(inflated);
    net.sync();
    expect(net.founder.log.rejectionOf(inflated.id)?.code).toBe(RejectionCode.SEQUENCE_GAP);
    const removal = net.act('f', (f) => f.removeMember(id.o.onion, 'gone rogue'));
    expect(removal.parentIds).toContain(inflated.id);
    // After the removal, the organizer releases the back-dated add.
    o.log.add(puppetAdd);
    net.sync();
    for (const name of ['f', 'h']) {
      const log = net.member(name).log;
      expect(log.rejectionOf(puppetAdd.id)?.code, name).toBe(RejectionCode.NOT_A_MEMBER);
      expect(log.state().members.has(id.p.onion)).toBe(false);
    }
    // The honest organizer has no key to share with the puppet; the puppet reads nothing new.
    const shared = net.member('h').shareMissingKeys();
    expect(shared === null || shared.header.body.shares.every((s) => s.lockboxes.every((l) => !Buffer.from(l.to).equals(Buffer.from(id.p.publicKey))))).toBe(
      true,
    );
    net.sync();
    const secret = net.act('f', (f) => f.createTask({ audience: ['organizer'], title: 'after the removal' }));
    const puppetView = buildMemberView(net.founder.log, id.p);
    expect(puppetView.keyring.size).toBe(0);
    expect(puppetView.tasks.get(secret.id)?.readable).toBe(false);
    // Every arrival order agrees.
    const all = [...net.founder.log.events()].filter((e) => e.id !== net.founder.log.id);
    const hashes = new Set([
      net.founder.log.stateHash(),
      replica(net.founder.log.genesis, all).stateHash(),
      replica(net.founder.log.genesis, [...all].reverse()).stateHash(),
    ]);
    expect(hashes.size).toBe(1);
  });

  it('sequence numbers above 2^32 do not wrap: a later event is judged against the real chain', () => {
    const id = people('f', 'm');
    const now = clock();
    const f = PursuanceAuthor.create(id.f, { name: 'Wrap', rules: RULES }, now);
    f.addMember(id.m.publicKey, { roles: ['member'] });
    const log = new PursuanceLog(f.log.genesis.bytes);
    log.addAll([...f.log.events()].map((e) => e.bytes));
    const task = f.createTask({ audience: ['member'], title: 't' });
    log.add(task.bytes);
    // seq 2^32 + 2 would read back as 2 from a 32-bit clock.
    const big = forge(id.m, log, 'member.leave', {}, [], { seq: 2 ** 32 + 2 });
    expect(log.add(big).rejection?.code).toBe(RejectionCode.SEQUENCE_GAP);
    const third = forge(id.m, log, 'member.leave', {}, [], { seq: 3 });
    expect(log.add(third).rejection?.code, 'seq 3 does not follow the chain (nothing at 1 or 2)').toBe(RejectionCode.SEQUENCE_GAP);
    const first = forge(id.m, log, 'member.leave', {}, [], { seq: 1 });
    expect(log.add(first).status).toBe('accepted');
  });

  it('a key that reaches a member only through a keys.share is collected once the share is accepted, and not from a refused one', () => {
    const id = people('f', 'm', 'x');
    const f = PursuanceAuthor.create(id.f, { name: 'Shared', rules: RULES }, clock());
    // An add that seals no key to its member (a client that left them out): m holds "writer" without its key.
    const add = forge(id.f, f.log, 'member.add', { member: id.m.publicKey, roles: ['writer'], keys: [] });
    expect(f.log.add(add).status).toBe('accepted');
    const writerKey = f.log.state().roles.get('writer')!.epochs.at(-1)!.keyIdHex;
    expect(collectKeys(f.log, id.m).has(writerKey)).toBe(false);
    // A stranger's share of a key it made up, under the same role, is refused and opens nothing.
    const stranger = forge(id.x, f.log, 'keys.share', { shares: [makeShare(newRoleKey('writer'), [id.m.publicKey])] });
    expect(f.log.add(stranger).status).toBe('rejected');
    expect(collectKeys(f.log, id.m).size).toBe(0);
    const share = f.shareMissingKeys();
    expect(share?.header.kind).toBe('keys.share');
    expect(f.log.isAccepted(share!.id)).toBe(true);
    expect(collectKeys(f.log, id.m).keyIds()).toEqual([writerKey]);
  });
});

describe('found by the convergence run: a removal replaces every key the member may know', () => {
  it('a member who rotated a role it does not hold loses that key too when removed', () => {
    const id = people('f', 'o', 'w');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Rotator', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { roles: ['organizer'] });
      f.addMember(id.w.publicKey, { roles: ['writer'] });
    });
    const o = net.join('o', id.o);
    net.join('w', id.w);
    // The organizer may rotate any role: it makes the writer key without holding "writer".
    net.act('o', (a) => a.rotateKeys(['writer']));
    const removal = net.act('f', (f) => f.removeMember(id.o.onion));
    expect(removal.header.body.rotations.map((r) => r.role).sort()).toEqual(['organizer', 'writer']);
    const task = net.act('w', (w) => w.createTask({ audience: ['writer'], title: 'after the removal' }));
    expect(buildMemberView(net.founder.log, id.o, o.keyring).tasks.get(task.id)?.readable).toBe(false);
    expect(net.view('w').tasks.get(task.id)?.readable).toBe(true);
  });

  it('when the remover may not rotate such a key, it becomes due: nobody seals new content to it until it is replaced', () => {
    const id = people('f', 'o', 'a', 'w');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Due', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { roles: ['organizer'] });
      f.addMember(id.w.publicKey, { roles: ['writer'] });
    });
    net.join('o', id.o);
    const w = net.join('w', id.w);
    net.act('o', (a) => a.rotateKeys(['writer']));
    // The organizer leaves on its own (no rotation at all): the writer key it made is due.
    net.act('o', (a) => a.leave());
    const stale = forge(
      id.w,
      w.log,
      'task.create',
      {
        parent: null,
        sealed: sealAs(
          w.log,
          w.keyring,
          'task.create',
          null,
          { title: 'x', body: '', assignees: { members: [], roles: [] }, labels: [], due: null },
          ['writer'],
          id.w,
        ),
      },
      ['writer'],
    );
    expect(net.founder.log.add(stale).rejection?.code).toBe(RejectionCode.STALE_EPOCH);
  });
});

describe('found by mutation testing: content is never sealed to a key someone its author saw leave knew', () => {
  it('a key superseded by a rotation the author had not seen, but known to a writer who left before, is STALE_EPOCH', () => {
    const id = people('f', 'o', 'w1', 'w2');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Superseded', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { roles: ['organizer'] });
      f.addMember(id.w1.publicKey, { roles: ['writer'] });
      f.addMember(id.w2.publicKey, { roles: ['writer'] });
    });
    const o = net.join('o', id.o);
    net.join('w1', id.w1);
    const w2 = net.join('w2', id.w2);
    // w1 leaves; everyone sees it. The organizer then rotates the writer key (without w1),
    // but w2 has not seen that rotation yet and seals a task to the key w1 held.
    net.act('w1', (a) => a.leave());
    const rotation = o.rotateKeys(['writer']);
    const sealed = sealAs(
      w2.log,
      w2.keyring,
      'task.create',
      null,
      { title: 'after w1 left', body: '', assignees: { members: [], roles: [] }, labels: [], due: null },
      ['writer'],
      id.w2,
    );
    const stale = forge(id.w2, w2.log, 'task.create', { parent: null, sealed }, ['writer']);
    for (const order of [
      [rotation, stale],
      [stale, rotation],
    ]) {
      const log = replica(net.founder.log.genesis, [...net.founder.log.events()].slice(1).concat(order));
      expect(log.isAccepted(rotation.id)).toBe(true);
      expect(log.rejectionOf(stale.id)?.code).toBe(RejectionCode.STALE_EPOCH);
    }
  });

  it('a key a member knew before losing the role by role.remove (no rotation), superseded concurrently, is STALE_EPOCH for authors who saw the removal', () => {
    const id = people('f', 'o', 'a', 'w1', 'w2');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Demoted', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { roles: ['organizer'] });
      f.addMember(id.a.publicKey, { roles: ['admin'] });
      f.addMember(id.w1.publicKey, { roles: ['writer'] });
      f.addMember(id.w2.publicKey, { roles: ['writer'] });
    });
    const o = net.join('o', id.o);
    net.join('a', id.a);
    net.join('w1', id.w1);
    const w2 = net.join('w2', id.w2);
    // The admin may take "writer" away but not rotate its key: the removal carries no rotation.
    const demotion = net.act('a', (a) => a.removeRole(id.w1.onion, 'writer'));
    expect(demotion.header.body.rotation).toBeNull();
    const rotation = o.rotateKeys(['writer']);
    const sealed = sealAs(
      w2.log,
      w2.keyring,
      'task.create',
      null,
      { title: 'after the demotion', body: '', assignees: { members: [], roles: [] }, labels: [], due: null },
      ['writer'],
      id.w2,
    );
    const stale = forge(id.w2, w2.log, 'task.create', { parent: null, sealed }, ['writer']);
    const log = replica(net.founder.log.genesis, [...net.founder.log.events()].slice(1).concat([rotation, stale]));
    expect(log.isAccepted(rotation.id)).toBe(true);
    expect(log.rejectionOf(stale.id)?.code).toBe(RejectionCode.STALE_EPOCH);
  });
});

describe('finding 2: names from members never reach Object.prototype, and judging never crashes', () => {
  const withConstructorRole = (): Rules => {
    const r = structuredClone(RULES_INPUT);
    // Defined as an own property, as JSON.parse would: a role its rules really declare.
    Object.defineProperty(r.roles, 'constructor', {
      value: { title: 'Builders', rank: 20, history: 'all', can: [{ subject: 'task', action: 'create', audience: ['constructor'] }] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return RulesSchema.parse(r);
  };

  it('a role named "constructor" dropped by the rules leaves its holders, who are then judged, not crashed on', () => {
    const id = people('f', 'b');
    const f = PursuanceAuthor.create(id.f, { name: 'Proto', rules: withConstructorRole() }, clock());
    f.addMember(id.b.publicKey, { roles: ['constructor'] });
    f.changeRules(RULES); // drops "constructor"
    expect(f.state.members.get(id.b.onion)!.roles.has('constructor')).toBe(false);
    const b = new PursuanceAuthor(id.b, replica(f.log.genesis, f.log.events()));
    const attempt = forge(
      id.b,
      b.log,
      'task.create',
      { parent: null, sealed: { keys: [{ role: 'constructor', keyId: new Uint8Array(32), wrapped: new Uint8Array(72) }], ct: new Uint8Array(32) } },
      ['constructor'],
    );
    const result = f.log.add(attempt);
    expect(result.rejection?.code).not.toBe(RejectionCode.JUDGEMENT_FAILED);
    expect(result.status).toBe('rejected');
    expect(() => f.log.stateHash()).not.toThrow();
    expect(() => buildMemberView(f.log, id.b)).not.toThrow();
  });

  it('a member who may change the rules but not remove "constructor" cannot drop it (ESCALATION)', () => {
    const id = people('f', 'e');
    const f = PursuanceAuthor.create(id.f, { name: 'Proto', rules: withConstructorRole() }, clock());
    f.addMember(id.e.publicKey, { roles: ['editor'] });
    const e = new PursuanceAuthor(id.e, replica(f.log.genesis, f.log.events()));
    expectRefused(() => e.changeRules(RULES), RejectionCode.ESCALATION, 'drop role "constructor"');
    const forged = forge(id.e, e.log, 'rules.change', { rules: RULES });
    expect(f.log.add(forged).rejection?.code).toBe(RejectionCode.ESCALATION);
  });

  describe('an exception while judging one event', () => {
    afterEach(() => vi.restoreAllMocks());
    it('becomes a JUDGEMENT_FAILED rejection of that event, identical on every replica', () => {
      const id = people('f', 'm');
      const f = PursuanceAuthor.create(id.f, { name: 'Boom', rules: RULES }, clock());
      f.addMember(id.m.publicKey, { roles: ['member'] });
      const m = new PursuanceAuthor(id.m, replica(f.log.genesis, f.log.events()));
      const poison = m.createTask({ audience: ['member'], title: 'poison' });
      const real = Applier.prototype.validate;
      vi.spyOn(Applier.prototype, 'validate').mockImplementation(function (this: Applier, e) {
        if (e.id === poison.id) throw new TypeError('role.can is not iterable');
        return real.call(this, e);
      });
      expect(f.log.add(poison.bytes).rejection).toMatchObject({ code: RejectionCode.JUDGEMENT_FAILED });
      const after = f.createTask({ audience: ['member'], title: 'still working' });
      expect(f.log.isAccepted(after.id)).toBe(true);
      const fresh = replica(f.log.genesis, [...f.log.events()].reverse());
      expect(fresh.stateHash()).toBe(f.log.stateHash());
    });
  });
});

describe('finding 3: author-claimed time never proves founders inactive', () => {
  function coalition() {
    const id = people('f1', 'f2', 'p', 'w1', 'w2', 'late');
    const now = clock();
    const f1 = PursuanceAuthor.create(id.f1, { name: 'Coalition', rules: loadTemplate('open-coalition'), cofounders: [id.f2.publicKey] }, now);
    for (const n of ['p', 'w1', 'w2'] as const) f1.addMember(id[n].publicKey, { name: n, roles: ['coalition'] });
    const nomination = f1.nominateFounder(id.p.onion);
    return { id, now, f1, nomination };
  }

  it('a puppet nominee claiming 91 days ahead of everything it has seen is rejected while a founder is active', () => {
    const { id, now, f1, nomination } = coalition();
    const p = new PursuanceAuthor(id.p, replica(f1.log.genesis, f1.log.events()), undefined, () => now() + 91 * DAY);
    expectRefused(() => p.claimNomination(nomination.id), RejectionCode.INVALID_STATE, 'dated ahead');
    const forged = forge(id.p, p.log, 'founder.claim', { nomination: fromHex(nomination.id) }, [], { time: now() + 91 * DAY });
    expect(f1.log.add(forged).rejection?.code).toBe(RejectionCode.INVALID_STATE);
    expect(f1.state.founders.has(id.p.onion)).toBe(false);
  });

  it('after a real quiet period, two members who were there at the nomination witness it and the claim succeeds', () => {
    const { id, now, f1, nomination } = coalition();
    let t = now();
    const later = (): number => (t += 1000);
    const log = replica(f1.log.genesis, f1.log.events());
    t += 91 * DAY;
    // A member added after the nomination (a puppet) is no witness.
    const late = new PursuanceAuthor(id.f2, log, undefined, later).addMember(id.late.publicKey, { roles: ['coalition'] });
    const lateAuthor = new PursuanceAuthor(id.late, log, undefined, later);
    lateAuthor.createTask({ audience: ['coalition'], title: 'I was not there' });
    // f2's add is founder activity: wait another quiet period after it.
    expect(late).toBeDefined();
    t += 91 * DAY;
    lateAuthor.createTask({ audience: ['coalition'], title: 'still a puppet' });
    new PursuanceAuthor(id.w1, log, undefined, later).createTask({ audience: ['coalition'], title: 'hello?' });
    const p = new PursuanceAuthor(id.p, log, undefined, later);
    expectRefused(() => p.claimNomination(nomination.id), RejectionCode.INVALID_STATE, 'needs events from 2 other members');
    new PursuanceAuthor(id.w2, log, undefined, later).createTask({ audience: ['coalition'], title: 'anyone?' });
    const claim = p.claimNomination(nomination.id);
    expect(log.isAccepted(claim.id)).toBe(true);
    expect(log.state().founders.has(id.p.onion)).toBe(true);
  });
});

describe('finding 4: a lost race never leaves a phantom the author builds on', () => {
  it('an admin whose role removal races a higher-ranked member keeps acting, and every replica agrees', () => {
    const id = people('f', 'a', 'w');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Race', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.a.publicKey, { name: 'a', roles: ['admin', 'member'] });
      f.addMember(id.w.publicKey, { name: 'w', roles: ['writer', 'member'] });
    });
    const a = net.join('a', id.a);
    const w = net.join('w', id.w);
    // Concurrently: the admin (rank 100) takes "writer" from w; w (rank 500) rotates the writer key.
    const removal = a.removeRole(id.w.onion, 'writer');
    const rotation = w.rotateKeys(['writer']);
    net.sync();
    expect(a.log.isAccepted(removal.id)).toBe(true);
    expect(a.log.isAccepted(rotation.id)).toBe(false);
    // The removal got a virtual child (w's rotation must come after it); the admin's next
    // action still builds on the admin's own chain and is accepted everywhere.
    const next = a.createTask({ audience: ['member'], title: 'after the race' });
    net.sync();
    for (const name of ['f', 'a', 'w']) {
      const log = net.member(name).log;
      expect(log.isAccepted(next.id), name).toBe(true);
      expect(log.pendingCount(), name).toBe(0);
    }
    expect(net.stateHashes().size).toBe(1);
  });

  it('an event its own author refuses is never kept in the log', () => {
    const id = people('f');
    const f = PursuanceAuthor.create(id.f, { name: 'Own', rules: RULES }, clock());
    const before = [...f.log.events()].length;
    const heads = f.log.heads();
    expectRefused(() => f.leave(), RejectionCode.INVALID_STATE, 'last founder');
    expect([...f.log.events()].length).toBe(before);
    expect(f.log.heads()).toEqual(heads);
  });
});

describe('finding 5: keys a member creates outlive a restart even when no lockbox reaches it', () => {
  it('a rotation that leaves its creator out is recovered from the kept secret', () => {
    const id = people('f');
    const kept: Uint8Array[] = [];
    const keySecret = (): Uint8Array => {
      const s = new Uint8Array(randomBytes(32));
      kept.push(s);
      return s;
    };
    const f = PursuanceAuthor.create(id.f, { name: 'Keys', rules: RULES }, clock(), { keySecret });
    f.removeRole(id.f.onion, 'member'); // rotates "member" to its holders: nobody
    const task = f.createTask({ audience: ['member'], title: 'sealed to a key only I made' });
    expect(buildMemberView(f.log, id.f, f.keyring).tasks.get(task.id)?.readable).toBe(true);
    // A restart: the log replayed, keys from lockboxes only — the new member key is gone…
    const replayed = replica(f.log.genesis, f.log.events());
    const keyring = collectKeys(replayed, id.f);
    expect(buildMemberView(replayed, id.f, keyring).tasks.get(task.id)?.readable).toBe(false);
    // …until the kept secrets bring it back.
    expect(recoverKeysFromSecrets(replayed, kept, keyring)).toBeGreaterThan(0);
    expect(buildMemberView(replayed, id.f, keyring).tasks.get(task.id)?.readable).toBe(true);
  });
});

describe('finding 6: an orphan does not turn incremental folding off', () => {
  it("a member's orphan waits as pending while later events are applied incrementally; a stranger's is refused", () => {
    const id = people('f', 'm', 'stranger');
    const f = PursuanceAuthor.create(id.f, { name: 'Orphans', rules: RULES }, clock());
    f.addMember(id.m.publicKey, { roles: ['member'] });
    const log = replica(f.log.genesis, f.log.events());
    const unknownParent = Buffer.from(randomBytes(32)).toString('hex') as EventId;
    const orphan = forge(id.m, log, 'member.leave', {}, [], { parents: [unknownParent] });
    expect(log.add(orphan).status).toBe('pending');
    const strangers = forge(id.stranger, log, 'member.leave', {}, [], { parents: [unknownParent] });
    expect(log.add(strangers).rejection?.code).toBe(RejectionCode.PENDING_REFUSED);
    expect(log.event(strangers.id)).toBeUndefined();
    expect(log.heads().length).toBeGreaterThan(0); // a read: the fold is current from here on
    for (let i = 0; i < 5; i++) {
      const e = f.createTask({ audience: ['member'], title: `t${i}` });
      expect(log.add(e.bytes).status, 'applied incrementally, not queued for a refold').toBe('accepted');
    }
    expect(log.pendingCount()).toBe(1);
    expect(log.missing()).toEqual([unknownParent]);
  });
});

describe('finding 7: sealed content is bound to its author and event', () => {
  it("a member re-posting another member's sealed comment verbatim gets the content rejected, not attributed", () => {
    const id = people('f', 'a', 'b');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Steal', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.a.publicKey, { roles: ['member'] });
      f.addMember(id.b.publicKey, { roles: ['member'] });
    });
    net.join('a', id.a);
    const b = net.join('b', id.b);
    const task = net.act('f', (f) => f.createTask({ audience: ['member'], title: 'plan' }));
    const original = net.act('a', (a) => a.comment(task.id, 'my own words'));
    const stolen = forge(id.b, b.log, 'task.comment', { task: fromHex(task.id), sealed: original.header.body.sealed }, ['member']);
    b.log.add(stolen);
    net.sync();
    const view = net.view('f');
    expect(view.tasks.get(task.id)!.comments.map((c) => [c.author, c.body])).toEqual([[id.a.onion, 'my own words']]);
    expect(view.contentRejections).toContainEqual({
      eventId: stolen.id,
      code: RejectionCode.INVALID_SCHEMA,
      reason: 'sealed content is bound to another author or event',
    });
  });
});

describe('finding 9: what the author acknowledges, replicas accept — or the author learns why', () => {
  it('status changes the workflow forbids are refused before signing', () => {
    const id = people('f');
    const f = PursuanceAuthor.create(id.f, { name: 'Flow', rules: RULES }, clock());
    const task = f.createTask({ audience: ['member'], title: 't' });
    const size = f.log.size;
    expectRefused(() => f.setStatus(task.id, 'nowhere'), RejectionCode.INVALID_STATE, 'not a state');
    expectRefused(() => f.setStatus(task.id, 'done'), RejectionCode.INVALID_STATE, 'close the task instead');
    expectRefused(() => f.closeTask(task.id, 'doing'), RejectionCode.INVALID_STATE, 'not a closed state');
    expect(f.log.size).toBe(size);
    f.setStatus(task.id, 'doing');
    f.closeTask(task.id, 'done');
    expectRefused(() => f.reopenTask(task.id, 'done'), RejectionCode.INVALID_STATE, 'not an open state');
  });

  it('a role.assign that lost to a concurrent rotation of a since-join role is re-sent and then accepted everywhere', () => {
    const id = people('f', 'o', 'x');
    const now = clock();
    const net = Network.create('f', id.f, { name: 'Assign', rules: RULES }, now);
    net.act('f', (f) => {
      f.addMember(id.o.publicKey, { roles: ['organizer', 'member'] });
      f.addMember(id.x.publicKey, { roles: [] });
    });
    const o = net.join('o', id.o);
    net.join('x', id.x);
    const assign = o.assignRole(id.x.onion, 'member');
    const rotation = net.founder.rotateKeys(['member']);
    net.sync();
    expect(o.log.isAccepted(rotation.id)).toBe(true);
    expect(o.log.rejectionOf(assign.id)?.code).toBe(RejectionCode.LOCKBOX_INVALID);
    const again = o.retryLostRace(assign);
    expect(again?.header.kind).toBe('role.assign');
    net.sync();
    for (const name of ['f', 'o', 'x']) expect(net.member(name).log.isAccepted(again!.id), name).toBe(true);
    expect(net.member('f').log.state().members.get(id.x.onion)!.roles.has('member')).toBe(true);
    const task = net.act('f', (f) => f.createTask({ audience: ['member'], title: 'for x' }));
    expect(net.view('x').tasks.get(task.id)?.readable).toBe(true);
    // Nothing to re-send twice, or for someone else's event.
    expect(o.retryLostRace(again!)).toBeNull();
    expect(net.member('x').retryLostRace(assign)).toBeNull();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, fromHex, type OnionName } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  MemberViewCache,
  buildMemberView,
  signEvent,
  type EventId,
  type Rules,
  type SignedEvent,
} from '../src/index.js';
import { allows, compileAbility, permissionUniverse } from '../src/rules/compile.js';
import { Keyring } from '../src/keys.js';
import { buildTaskView, collectKeys } from '../src/view.js';
import { makeShare } from '../src/keys.js';
import { clock, template } from './support/helpers.js';

/**
 * Random multi-replica histories: a founder and members act on their OWN replicas and sync
 * at random, so events are genuinely concurrent (including a removed member acting on a stale
 * replica, and malicious key shares built by hand). The union of all events is then fed to
 * fresh logs in many orders.
 */
type Step = { t: 'act'; actor: number; op: number; x: number; y: number } | { t: 'sync'; from: number; to: number } | { t: 'leak'; actor: number; x: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('act' as const), actor: fc.nat(4), op: fc.nat(14), x: fc.nat(50), y: fc.nat(50) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.nat(4), to: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leak' as const), actor: fc.nat(4), x: fc.nat(50) }) },
);

/** A cell where members may also change rules, to exercise the escalation check. */
function rulesForProperties(): Rules {
  const base = template('activist-cell');
  const member = base.roles.member!;
  return {
    ...base,
    roles: {
      ...base.roles,
      member: { ...member, can: [...member.can, { subject: 'rules', action: 'change' }, { subject: 'role', action: 'assign', roles: ['member'] }] },
    },
  };
}

interface World {
  readonly ids: Identity[];
  readonly actors: PursuanceAuthor[];
  readonly all: Map<EventId, SignedEvent>;
}

function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length ? list[n % list.length] : undefined;
}

function run(steps: readonly Step[]): World {
  const now = clock();
  const ids = Array.from({ length: 5 }, () => Identity.generate());
  const rules = rulesForProperties();
  const founder = PursuanceAuthor.create(ids[0]!, { name: 'prop', rules }, now);
  founder.addMember(ids[1]!.publicKey, { roles: ['organizer', 'member'] });
  founder.addMember(ids[2]!.publicKey, { roles: ['member'] });
  founder.addMember(ids[3]!.publicKey, { roles: ['member'] });
  founder.createTask({ audience: ['member'], title: 'first' });
  const actors = ids.map((id, i) => {
    if (i === 0) return founder;
    const log = new PursuanceLog(founder.log.genesis.bytes);
    log.addAll([...founder.log.events()].map((e) => e.bytes));
    return new PursuanceAuthor(id, log, undefined, now);
  });
  // Every history starts with an expulsion and a rotation that the other replicas (the expelled
  // member's included) have not seen yet: they go on acting concurrently, and the key
  // property always has a removed member and a later epoch to check.
  founder.removeMember(ids[3]!.onion);
  founder.rotateKeys(['member', 'organizer']);
  const all = new Map<EventId, SignedEvent>();
  const roles = ['member', 'organizer'];
  const states = ['open', 'in-progress', 'review', 'done', 'dropped'];

  for (const s of steps) {
    if (s.t === 'sync') {
      if (s.from === s.to) continue;
      actors[s.to]!.log.addAll([...actors[s.from]!.log.events()].map((e) => e.bytes));
      actors[s.to]!.refreshKeys();
      continue;
    }
    const me = actors[s.actor]!;
    const state = me.log.state();
    const members: OnionName[] = [...state.members.keys()].sort();
    const tasks = [...state.tasks.keys()].sort();
    if (s.t === 'leak') {
      // A malicious holder shares the current key of a role with someone who does not hold it
      // (e.g. a member just removed). Signed by hand: the author API would refuse it.
      const role = pick(roles, s.x)!;
      const current = state.roles.get(role)?.epochs.at(-1);
      const key = current && me.keyring.get(current.keyIdHex);
      const outsider = pick(
        ids.filter((id) => !state.roles.get(role)?.holders.has(id.onion)),
        s.x >> 1,
      );
      if (!key || !outsider || !state.members.has(me.identity.onion)) continue;
      const forged = signEvent(me.identity, {
        pursuance: fromHex(me.log.id),
        seq: me.log.lastSeq(me.identity.onion) + 1,
        parents: me.log.heads().map((h) => fromHex(h)),
        time: now(),
        kind: 'keys.share',
        audience: [],
        body: { shares: [makeShare(key, [outsider.publicKey])] },
      });
      me.log.add(forged);
      continue;
    }
    try {
      switch (s.op) {
        case 0:
          me.createTask({ audience: [pick(roles, s.x)!], title: `t${s.y}`, parent: s.y % 3 === 0 ? (pick(tasks, s.y) ?? null) : null });
          break;
        case 1:
          if (tasks.length) me.comment(pick(tasks, s.x)!, `c${s.y}`);
          break;
        case 2:
          if (tasks.length) me.setStatus(pick(tasks, s.x)!, pick(states, s.y)!);
          break;
        case 3:
          if (tasks.length) me.closeTask(pick(tasks, s.x)!, pick(states, s.y));
          break;
        case 4:
          if (tasks.length) me.reopenTask(pick(tasks, s.x)!);
          break;
        case 5:
          me.assignRole(pick<OnionName>(members, s.x)!, pick(roles, s.y)!);
          break;
        case 6:
          me.removeRole(pick<OnionName>(members, s.x)!, pick(roles, s.y)!);
          break;
        case 7:
          me.removeMember(pick<OnionName>(members, s.x)!);
          break;
        case 8:
          me.rotateKeys([pick(roles, s.x)!]);
          break;
        case 9:
          me.shareMissingKeys();
          break;
        case 10:
          if (tasks.length) me.moveTask(pick(tasks, s.x)!, s.y % 2 ? (pick(tasks, s.y) ?? null) : null);
          break;
        case 11: {
          // A rules change that tries to hand a role more power than the author may have.
          // (Founders are exempt from the escalation rule by design, so only members try.)
          if (s.actor === 0) break;
          const next = structuredClone(state.rules);
          const target = pick(Object.keys(next.roles).sort(), s.x)!;
          const grants = [
            { subject: 'member', action: 'expel' },
            { subject: 'task', action: 'close', audience: '*' },
            { subject: 'keys', action: 'rotate', roles: '*' },
            { subject: 'task', action: 'comment', audience: ['member'] },
            { subject: 'role', action: 'remove', roles: ['organizer'] },
            { subject: 'member', action: 'invite' },
          ] as const;
          next.roles[target]!.can.push(structuredClone(grants[s.y % grants.length]!) as never);
          me.changeRules(next);
          break;
        }
        case 12:
          if (ids[4] && !state.members.has(ids[4].onion)) me.addMember(ids[4].publicKey, { roles: [pick(roles, s.y)!] });
          break;
        case 13:
          // Renames race each other, removals (the removed member renames on its stale
          // replica) and additions; prototype names among them.
          me.rename(pick(['Ana', 'Ana B.', '__proto__', 'constructor', 'Zoë 🌻'], s.x + s.y)!);
          break;
        default:
          if (tasks.length) me.assignTask(pick(tasks, s.x)!, { add: { members: [pick<OnionName>(members, s.y)!] } });
      }
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  }
  for (const a of actors) for (const e of a.log.events()) all.set(e.id, e);
  return { ids, actors, all };
}

function seededShuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = Math.abs(x) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function foldOf(world: World, order: readonly SignedEvent[]): PursuanceLog {
  const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
  // One at a time, as events trickle in from a relay; what a replica refuses to park (an
  // author whose member.add has not arrived) it is offered again at the end, as nodes retry.
  const refused = order.filter((e) => log.add(e.bytes).rejection?.code === RejectionCode.PENDING_REFUSED);
  log.addAll(refused.map((e) => e.bytes));
  return log;
}

const script = fc.array(step, { minLength: 10, maxLength: 45 });

describe('deterministic fold (property-based)', () => {
  it('every arrival order of the same events, with duplicates, gives the same state hash', () => {
    fc.assert(
      fc.property(script, fc.array(fc.integer(), { minLength: 3, maxLength: 3 }), (steps, seeds) => {
        const world = run(steps);
        const events = [...world.all.values()];
        const reference = foldOf(world, events);
        const hash = reference.stateHash();
        expect(reference.pending()).toEqual([]);
        for (const seed of seeds) {
          const shuffled = seededShuffle(events, seed);
          // Duplicates: a prefix arrives twice, once before and once after everything else.
          const dup = shuffled.slice(0, Math.max(1, shuffled.length >> 2));
          const log = foldOf(world, [...dup, ...shuffled, ...dup]);
          expect(log.stateHash()).toBe(hash);
          expect(log.order()).toEqual(reference.order());
          // The compact fold keeps causal clocks for the heads only, however the events came.
          expect(log.retainedClocks()).toBe(log.heads().length);
        }
        // Replicas that have seen everything agree too, however they got there.
        for (const a of world.actors) {
          a.log.addAll(events.map((e) => e.bytes));
          expect(a.log.stateHash()).toBe(hash);
        }
        // One task folded alone (what authors check statuses against) reads as in the full view.
        const founder = world.actors[0]!;
        const full = buildMemberView(founder.log, founder.identity, founder.keyring);
        for (const [taskId, task] of full.tasks) expect(buildTaskView(founder.log, taskId, founder.keyring)).toEqual(task);
      }),
      { numRuns: 40 },
    );
  });

  it('a member view kept up to date event by event reads exactly as one rebuilt from the whole log', () => {
    fc.assert(
      fc.property(script, fc.integer(), fc.nat(4), (steps, seed, reader) => {
        const world = run(steps);
        const me = world.ids[reader]!;
        const events = [...world.all.values()];
        // In fold order first (how a replica's own commands and live messages arrive: the cache
        // should read only what is new), then shuffled (concurrent events sort before what was read).
        const reference = foldOf(world, events);
        const inOrder = reference.order().map((id) => reference.event(id)!);
        for (const [arrival, mostlyAppends] of [
          [inOrder, true],
          [seededShuffle(events, seed), false],
        ] as const) {
          const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
          const keyring = new Keyring();
          const cache = new MemberViewCache(keyring);
          let keyChanges = 0;
          const check = (): void => {
            const before = keyring.size;
            collectKeys(log, me, keyring);
            if (keyring.size !== before) keyChanges++;
            expect(cache.current(log)).toEqual(buildMemberView(log, me, keyring));
          };
          check();
          for (const e of arrival) {
            if (e.id === log.id) continue;
            log.add(e.bytes);
            check();
          }
          log.addAll(events.map((e) => e.bytes)); // what was refused while its author was unknown
          check();
          // Not vacuous: in fold order it rebuilds only when keys arrive (and once at the start).
          if (mostlyAppends) expect(cache.rebuilds).toBeLessThanOrEqual(keyChanges + 1);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("a member's name is the one their own last accepted rename set, whoever else renamed concurrently", () => {
    let renamed = 0;
    fc.assert(
      fc.property(script, (steps) => {
        const world = run(steps);
        const log = foldOf(world, [...world.all.values()]);
        const state = log.state();
        const expected = new Map<string, string | undefined>();
        for (const m of log.genesis.header.body.members)
          expected.set(world.ids.find((id) => Buffer.from(id.publicKey).equals(Buffer.from(m.member)))!.onion, m.name);
        for (const id of log.order()) {
          if (!log.isAccepted(id)) continue;
          const e = log.event(id)!;
          if (e.header.kind === 'member.add') {
            const b = e.header.body as { member: Uint8Array; name?: string };
            expected.set(world.ids.find((i) => Buffer.from(i.publicKey).equals(Buffer.from(b.member)))!.onion, b.name);
          } else if (e.header.kind === 'member.rename') {
            renamed++;
            expected.set(e.author, (e.header.body as { name: string }).name);
          }
        }
        for (const [onion, m] of state.members) expect(m.name, onion).toBe(expected.get(onion));
      }),
      { numRuns: 40 },
    );
    // Not vacuous: the random histories do rename people.
    expect(renamed).toBeGreaterThan(0);
  });

  it('no sequence of events gives a non-founder a permission outside what the genesis rules make reachable', () => {
    fc.assert(
      fc.property(script, (steps) => {
        const world = run(steps);
        const log = foldOf(world, [...world.all.values()]);
        const genesis = log.genesis.header.body;
        const rules0 = genesis.rules;
        // Ceiling: the union of what each role non-founders can reach may do on its own (denials
        // only subtract, so any member's ability is within the union over the roles it holds).
        // Reachable: roles non-founders hold at first, plus every role one of those may assign.
        const reachable = new Set<string>(['member', 'organizer']);
        const single = (r: string) => compileAbility(rules0, [r], false);
        for (let grew = true; grew;) {
          grew = false;
          for (const r of Object.keys(rules0.roles)) {
            if (!reachable.has(r) && [...reachable].some((q) => allows(single(q), ['assign', 'Role', r]))) {
              reachable.add(r);
              grew = true;
            }
          }
        }
        const ceiling = [...reachable].map(single);
        const state = log.state();
        for (const [onion, m] of state.members) {
          if (state.founders.has(onion)) continue;
          const ability = compileAbility(state.rules, m.roles, false);
          for (const p of permissionUniverse(state.rules)) {
            if (allows(ability, p))
              expect(
                ceiling.some((c) => allows(c, p)),
                `${onion} gained ${p.join(' ')}`,
              ).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a member who lost a role holds no key of any later epoch of it, even when a holder leaks one', () => {
    let checked = 0;
    fc.assert(
      fc.property(script, (steps) => {
        const world = run(steps);
        const log = foldOf(world, [...world.all.values()]);
        const state = log.state();
        const position = new Map(log.order().map((id, i) => [id, i]));
        for (const id of world.ids) {
          const keys = collectKeys(log, id);
          for (const [roleId, role] of state.roles) {
            if (role.holders.has(id.onion)) continue;
            // The last accepted event that took this role away from this member.
            let lostAt = -1;
            for (const eid of log.order()) {
              if (!log.isAccepted(eid)) continue;
              const e = log.event(eid)!;
              const b = e.header.body as { member?: Uint8Array; role?: string };
              const target = b.member && Buffer.from(b.member).equals(Buffer.from(id.publicKey));
              const lost =
                (e.header.kind === 'member.remove' && target) ||
                (e.header.kind === 'role.remove' && target && b.role === roleId) ||
                (e.header.kind === 'member.leave' && e.author === id.onion);
              if (lost) lostAt = position.get(eid)!;
            }
            if (lostAt < 0) continue;
            for (const epoch of role.epochs) {
              if (position.get(epoch.introducedBy)! > lostAt) {
                checked++;
                expect(keys.has(epoch.keyIdHex), `${id.onion} holds epoch ${epoch.epoch} of ${roleId}`).toBe(false);
              }
            }
          }
        }
      }),
      { numRuns: 40 },
    );
    // The generator must actually produce removals followed by rotations.
    expect(checked).toBeGreaterThan(0);
  });
});

import { randomBytes } from 'node:crypto';
import { Identity, fromHex, onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActionNotAllowedError,
  EventRejectedError,
  PursuanceAuthor,
  PursuanceLog,
  RulesSchema,
  buildMemberView,
  decodeEvent,
  signEvent,
  type EventId,
  type Rules,
  type SignedEvent,
} from '../src/index.js';
import { declaredRole } from '../src/rules/schema.js';
import { makeRotation, makeShare, newRoleKey, type RoleKey } from '../src/keys.js';
import type { EventBody, EventKind, Rotation, Sealed } from '../src/bodies.js';
import { sealAs } from './support/harness.js';
import { ancestorsOf, clock, template } from './support/helpers.js';
import { agreement, atOnce, bytesOf, idOf, reofferRefused, restart, rng, shuffled, type Input, type Replica } from './support/hostile-kit.js';

/**
 * A pursuance where a random subset of the non-founders is malicious. Honest members act
 * through the author API on their own replicas and sync at random; malicious members (and the
 * puppets they try to bring in) sign whatever a small grammar builds, with their OWN keys: any
 * parents (their heads, stale ones, unknown ids), any sequence numbers (repeats, gaps, 2^32+n,
 * 2e9, 2^40), any times, any kind, bodies reusing real role ids, member keys, task ids, and
 * prototype names. In every history the founder expels one malicious member at a random point,
 * unseen by the others for a while, so the expelled keeps acting on a stale replica.
 *
 * The union of all events is then given to honest replicas in seeded orders, one event at a
 * time with reads in between and restarts (a fresh log fed what the replica held), and
 * PENDING_REFUSED events offered again at the end. They must all agree, keep pending exactly
 * what lacks ancestors, never throw, and never let an expelled member or its puppets hold a key
 * introduced at or after the expulsion.
 */
const FOUNDER = 0;
const MEMBERS = [1, 2, 3, 4] as const; // 1, 2: organizers; 3, 4: members
const PUPPETS = [5, 6] as const; // outsiders the malicious try to bring in
const PEOPLE = 7;
const ROLES = ['member', 'organizer', 'constructor'] as const;
const NAMES = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'pia'] as const;
const DAY_MS = 86_400_000;

type Step =
  | { t: 'honest'; actor: number; op: number; x: number; y: number }
  | { t: 'sync'; from: number; to: number }
  | { t: 'evil'; actor: number; kind: number; parents: number; seq: number; time: number; x: number; y: number };

/** Mostly plausible choices (so malicious events often pass and contend), sometimes anything. */
const mostly = (usual: number, max: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(usual) }, { weight: 2, arbitrary: fc.nat(max) });

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    // `actor` indexes the honest (or malicious) people of the scenario, modulo their number.
    { weight: 4, arbitrary: fc.record({ t: fc.constant('honest' as const), actor: fc.nat(50), op: fc.nat(8), x: fc.nat(1000), y: fc.nat(1000) }) },
    // Often to the founder: honest nodes building on whatever the malicious published is the attack.
    { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.nat(PEOPLE - 1), to: mostly(FOUNDER, PEOPLE - 1) }) },
    {
      weight: 5,
      arbitrary: fc.record({
        t: fc.constant('evil' as const),
        actor: fc.nat(50),
        kind: fc.nat(13),
        parents: mostly(0, 5),
        seq: mostly(0, 7),
        time: mostly(0, 4),
        x: fc.nat(1000),
        y: fc.nat(1000),
      }),
    },
  ),
  { minLength: 20, maxLength: 60 },
);

const scenario = fc.record({
  malicious: fc.subarray([...MEMBERS], { minLength: 1 }),
  expelledPick: fc.nat(3),
  expelAt: fc.nat(60),
  steps,
  seeds: fc.array(fc.integer(), { minLength: 3, maxLength: 3 }),
});
type ScenarioValue = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface World {
  readonly ids: Identity[];
  readonly actors: PursuanceAuthor[];
  readonly malicious: ReadonlySet<number>;
  readonly genesis: SignedEvent;
  /** Every event anyone made or forged, by id (forged ones even where their own replica refused them). */
  readonly all: Map<EventId, Uint8Array>;
}

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length ? list[n % list.length] : undefined);
const subset = <T>(list: readonly T[], mask: number): T[] => list.filter((_, i) => (mask >> i) & 1);

function sync(to: PursuanceAuthor, from: PursuanceAuthor): void {
  to.log.addAll([...from.log.events()].map((e) => e.bytes));
  to.refreshKeys();
}

/** Sealed task content as a member would seal it where it holds keys, and structurally valid noise otherwise. */
function sealedFor(
  me: PursuanceAuthor,
  kind: string,
  task: EventId | null,
  content: Record<string, unknown>,
  audience: readonly string[],
  seq: number,
): Sealed {
  const roles = me.log.state().roles;
  if (audience.every((r) => (roles.get(r)?.epochs.length ?? 0) > 0)) {
    return sealAs(me.log, me.keyring, kind, task, content as never, audience, me.identity, seq);
  }
  return {
    keys: audience.map((role) => ({ role, keyId: new Uint8Array(randomBytes(32)), wrapped: new Uint8Array(randomBytes(72)) })),
    ct: new Uint8Array(randomBytes(64)),
  };
}

/** Every key of `role` this member holds (any epoch): what a malicious holder can leak. */
function heldKeys(me: PursuanceAuthor, role: string): RoleKey[] {
  const r = me.log.state().roles.get(role);
  return (r?.epochs ?? []).map((e) => me.keyring.get(e.keyIdHex)).filter((k): k is RoleKey => k !== undefined);
}

function rulesVariant(rules: Rules, which: number, x: number): Rules | null {
  const next = structuredClone(rules);
  switch (which % 5) {
    case 0:
      // A role named like Object.prototype's constructor (an own property, as JSON.parse would make it).
      Reflect.set(next.roles, 'constructor', {
        title: '__proto__',
        description: 'toString',
        rank: x % 1000,
        history: 'all',
        can: [{ subject: 'task', action: 'create', audience: ['constructor'] }],
        cannot: [],
      });
      break;
    case 1: {
      const member = declaredRole(next, 'member');
      if (!member) return null;
      member.can.push({ subject: 'member', action: 'expel', reason: 'hasOwnProperty' });
      break;
    }
    case 2:
      delete next.roles.member;
      break;
    case 3:
      next.succession = { quorum: 1, inactivityDays: 1 };
      break;
    default:
      next.workflow = {
        ...next.workflow,
        states: [...next.workflow.states, 'constructor'],
        transitions: [...next.workflow.transitions, { from: 'open', to: 'constructor' }],
      };
  }
  const parsed = RulesSchema.safeParse(next);
  return parsed.success ? parsed.data : null;
}

/** What a malicious member signs: one event from the grammar, or null when the grammar has nothing to say. */
function forgeStep(world: World, s: Extract<Step, { t: 'evil' }>, now: () => number): SignedEvent | null {
  const me = world.actors[s.actor]!;
  const log = me.log;
  const state = log.state();
  const keys = world.ids.map((i) => i.publicKey);
  const key = pick(keys, s.x)!;
  const role = pick(ROLES, s.y)!;
  const tasks = [...state.tasks.keys()].sort();
  const known = [...log.events()].map((e) => e.id);
  // The author's own sequence as its own replica knows it, ignoring its absurd numbers.
  const base = Math.max(
    0,
    ...log
      .eventsBy(me.identity.onion)
      .map((e) => e.header.seq)
      .filter((n) => n < 1_000_000),
  );
  const seq = [base + 1, base + 1, Math.max(1, base), base + 2, 2 ** 32 + base + 1, 2_000_000_000, 2 ** 40, base + 1][s.seq]!;
  const parents = (() => {
    switch (s.parents) {
      case 0:
        return log.heads();
      case 1:
        return [...new Set([pick(known, s.x)!, pick(known, s.y)!, pick(known, s.x + s.y)!])];
      case 2:
        return [toId(randomBytes(32))];
      case 3:
        return [...log.heads(), toId(randomBytes(32))];
      case 4:
        return [log.genesis.id];
      default: {
        // Back-dating: the parents of my own latest event, as if whatever came since (my own
        // noise, others' reactions to it) had not happened.
        const mine = log.eventsBy(me.identity.onion);
        return mine.length ? [...mine[mine.length - 1]!.parentIds] : log.heads();
      }
    }
  })();
  const t = now();
  const time = [t, 0, Math.max(0, t - 1e12), t + 100 * DAY_MS, 2 ** 50][s.time]!;
  const rotation = (r: string, mask: number): Rotation => makeRotation(newRoleKey(r), subset(keys, mask));
  const shares = (r: string, to: readonly Uint8Array[]) =>
    heldKeys(me, r)
      .slice(-1 - (s.x % 2))
      .map((k) => makeShare(k, to));
  let kind: EventKind;
  let body: unknown;
  let audience: string[] = [];
  switch (s.kind) {
    case 0:
      kind = 'member.add';
      body = {
        member: key,
        ...(s.y % 3 ? { name: pick(NAMES, s.y)! } : {}),
        roles: subset([...ROLES], s.y),
        keys: subset([...ROLES], s.y).flatMap((r) => shares(r, [key])),
      };
      break;
    case 1:
      kind = 'member.remove';
      body = {
        member: key,
        rotations: s.y % 2 ? [rotation(role, s.x)] : [],
        ...(s.y % 3 === 0 ? { invites: subset(keys, s.y).map((to) => ({ to, box: new Uint8Array(48) })) } : {}),
      };
      break;
    case 2:
      kind = 'role.assign';
      body = { member: key, role, keys: shares(role, [key]) };
      break;
    case 3:
      kind = 'role.remove';
      body = { member: key, role, rotation: s.y % 2 ? rotation(role, s.x) : null };
      break;
    case 4:
      kind = 'keys.rotate';
      body = { rotations: [rotation(role, s.x)] };
      break;
    case 5: {
      // The leak: keys this member holds, to anyone (the expelled, puppets, itself).
      const leak = shares(role, subset(keys, s.y | 1));
      if (leak.length === 0) return null;
      kind = 'keys.share';
      body = { shares: leak };
      break;
    }
    case 6: {
      const rules = rulesVariant(state.rules, s.y, s.x);
      if (!rules) return null;
      kind = 'rules.change';
      body = { rules };
      break;
    }
    case 7:
      kind = 'task.create';
      audience = [role];
      body = {
        parent: s.x % 4 === 0 ? (pick(tasks, s.y) ? fromHex(pick(tasks, s.y)!) : null) : null,
        sealed: sealedFor(
          me,
          kind,
          null,
          { title: pick(NAMES, s.y), body: '', assignees: { members: [], roles: [] }, labels: [...NAMES], due: null },
          audience,
          seq,
        ),
      };
      break;
    case 8: {
      const task = pick(tasks, s.x) ?? toId(randomBytes(32));
      kind = s.y % 2 ? 'task.comment' : 'task.status';
      audience = [...(state.tasks.get(task)?.audience ?? [role])];
      const content = kind === 'task.comment' ? { body: pick(NAMES, s.y) } : { to: s.y % 4 === 0 ? 'constructor' : 'in-progress' };
      body = { task: fromHex(task), sealed: sealedFor(me, kind, task, content, audience, seq) };
      break;
    }
    case 9:
      kind = 'member.leave';
      body = {};
      break;
    case 10:
      kind = 'founder.nominate';
      body = { candidate: key };
      break;
    case 11: {
      const nomination = pick([...state.nominations.keys()], s.x) ?? pick(known, s.x)!;
      kind = 'founder.claim';
      body = { nomination: fromHex(nomination) };
      break;
    }
    case 12:
      // Prototype names, from members, the removed and strangers, on any parents and at any time.
      kind = 'member.rename';
      body = { name: pick(NAMES, s.y) };
      break;
    default: {
      const task = pick(tasks, s.x);
      if (!task) return null;
      kind = 'task.move';
      audience = [...state.tasks.get(task)!.audience];
      body = { task: fromHex(task), parent: pick(tasks, s.y) ? fromHex(pick(tasks, s.y)!) : null };
    }
  }
  try {
    return signEvent(me.identity, { pursuance: fromHex(log.id), seq, parents: parents.map((p) => fromHex(p)), time, kind, audience, body: body as never });
  } catch (err) {
    // Only the envelope schema may refuse what the grammar built (e.g. an audience with a role
    // id the header does not allow); anything else is a bug in the code under test.
    if (err instanceof EventRejectedError) return null;
    throw err;
  }
}

const toId = (b: Uint8Array): EventId => Buffer.from(b).toString('hex') as EventId;

function honestStep(world: World, s: Extract<Step, { t: 'honest' }>): void {
  const me = world.actors[s.actor]!;
  const state = me.log.state();
  const members: OnionName[] = [...state.members.keys()].sort();
  const tasks = [...state.tasks.keys()].sort();
  const role = pick(['member', 'organizer'], s.y)!;
  try {
    switch (s.op) {
      case 0:
        me.createTask({ audience: [role], title: `t${s.x}`, labels: [pick(NAMES, s.y)!] });
        break;
      case 1:
        if (tasks.length) me.comment(pick(tasks, s.x)!, `c${s.y}`);
        break;
      case 2:
        me.assignRole(pick(members, s.x)!, role);
        break;
      case 3:
        me.removeRole(pick(members, s.x)!, role);
        break;
      case 4:
        me.removeMember(pick(members, s.x)!);
        break;
      case 5:
        me.rotateKeys([role]);
        break;
      case 6:
        me.shareMissingKeys();
        break;
      case 7:
        if (tasks.length) me.setStatus(pick(tasks, s.x)!, pick(['in-progress', 'review', 'open'], s.y)!);
        break;
      default:
        // A puppet named by someone honest is a member like any other: only puppets of the expelled are suspect.
        me.addMember(world.ids[pick(PUPPETS, s.y)!]!.publicKey, { roles: [role] });
    }
  } catch (err) {
    if (!(err instanceof ActionNotAllowedError)) throw err;
  }
}

function build(malicious: readonly number[], expelledPick: number, expelAt: number, script: readonly Step[]): { world: World; expelled: number } {
  const now = clock();
  const ids = Array.from({ length: PEOPLE }, () => Identity.generate());
  const founder = PursuanceAuthor.create(ids[FOUNDER]!, { name: 'hostile', rules: template('activist-cell') }, now);
  founder.addMember(ids[1]!.publicKey, { name: 'o1', roles: ['member', 'organizer'] });
  founder.addMember(ids[2]!.publicKey, { name: 'o2', roles: ['member', 'organizer'] });
  founder.addMember(ids[3]!.publicKey, { name: '__proto__', roles: ['member'] });
  founder.addMember(ids[4]!.publicKey, { name: 'constructor', roles: ['member'] });
  founder.createTask({ audience: ['member'], title: 'shared' });
  founder.createTask({ audience: ['organizer'], title: 'inner' });
  const actors = ids.map((id, i) => (i === FOUNDER ? founder : new PursuanceAuthor(id, cloneLog(founder.log), undefined, now)));
  const bad = new Set<number>([...malicious, ...PUPPETS]);
  const expelled = malicious[expelledPick % malicious.length]!;
  const world: World = { ids, actors, malicious: bad, genesis: founder.log.genesis, all: new Map() };
  // The founder expels one malicious member at a random point and rotates: until others sync,
  // the expelled acts on regardless, concurrently.
  const expel = (): void => {
    // The founder expels having seen everything published so far (the misbehaviour included).
    for (const a of actors) if (a !== founder) sync(founder, a);
    try {
      founder.removeMember(ids[expelled]!.onion);
      founder.rotateKeys(['member', 'organizer']);
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  };
  const honest = ids.map((_, i) => i).filter((i) => !bad.has(i));
  // The expelled acts most (before and after its expulsion), other malicious members next,
  // puppets least (they are mostly refused anyway).
  const evil = [expelled, expelled, ...malicious, ...malicious, ...PUPPETS];
  script.forEach((s, i) => {
    if (i === expelAt % script.length) expel();
    if (s.t === 'sync') {
      if (s.from !== s.to) sync(actors[s.to]!, actors[s.from]!);
    } else if (s.t === 'honest') {
      honestStep(world, { ...s, actor: pick(honest, s.actor)! });
    } else {
      const actor = pick(evil, s.actor)!;
      const e = forgeStep(world, { ...s, actor }, now);
      if (e) {
        world.all.set(e.id, e.bytes);
        actors[actor]!.log.add(e);
        actors[actor]!.refreshKeys();
      }
    }
  });
  for (const a of actors) for (const e of a.log.events()) world.all.set(e.id, e.bytes);
  world.all.delete(founder.log.genesis.id);
  return { world, expelled };
}

function cloneLog(from: PursuanceLog): PursuanceLog {
  const log = new PursuanceLog(from.genesis.bytes);
  log.addAll([...from.events()].map((e) => e.bytes));
  return log;
}

/**
 * An honest replica given `inputs` in order, one at a time, reading now and then (so the
 * incremental path is taken), restarting at seeded points, and offering refused events again
 * at the end.
 */
function replicate(genesis: SignedEvent, inputs: readonly Input[], seed: number): Replica {
  const next = rng(seed);
  let r = atOnce(`replica ${seed}`, genesis, []);
  const given: Input[] = [];
  for (const input of inputs) {
    const result = r.log.add(bytesOf(input));
    r.last.set(idOf(input), result);
    given.push(input);
    const dice = next();
    if (dice < 0.04) r = restart(r);
    else if (dice < 0.3) r.log.stateHash();
  }
  reofferRefused(r, given);
  return r;
}

/** Ids of events in `ids` whose every ancestor is present: the set closed under parents. */
function closedUnderParents(events: Map<EventId, SignedEvent>, genesis: EventId): Set<EventId> {
  const closed = new Map<EventId, boolean>([[genesis, true]]);
  const visit = (id: EventId): boolean => {
    const known = closed.get(id);
    if (known !== undefined) return known;
    const e = events.get(id);
    closed.set(id, false); // parents form a DAG; this only guards against a malformed cycle
    const ok = e !== undefined && e.parentIds.every(visit);
    closed.set(id, ok);
    return ok;
  };
  for (const id of events.keys()) visit(id);
  return new Set([...closed].filter(([id, ok]) => ok && id !== genesis).map(([id]) => id));
}

/**
 * For every accepted expulsion: nothing the expelled signed without the remover having seen it
 * counts (until someone admits them again), and neither the expelled nor its puppets — members
 * it tried to add in events the remover had not seen — hold a key introduced by the expulsion
 * or later. Returns how many (identity, key) pairs were checked.
 */
function checkExpelled(log: PursuanceLog, ids: readonly Identity[]): number {
  let checked = 0;
  const order = log.order();
  const at = new Map(order.map((id, i) => [id, i]));
  const accepted = order.filter((id) => log.isAccepted(id)).map((id) => log.event(id)!);
  const byOnion = new Map(ids.map((i) => [i.onion, i]));
  const named = (e: SignedEvent): OnionName => onionFromPublicKey((e.header.body as EventBody<'member.add'>).member);
  const epochs = [...log.state().roles.values()].flatMap((r) => r.epochs);
  const genesisMembers = new Set(log.genesis.header.body.members.map((m) => onionFromPublicKey(m.member)));
  for (const removal of accepted.filter((e) => e.header.kind === 'member.remove')) {
    const r = at.get(removal.id)!;
    const x = onionFromPublicKey((removal.header.body as EventBody<'member.remove'>).member);
    // Expelling oneself is leaving: no remover to defeat, nothing concurrent to order after it.
    if (x === removal.author) continue;
    const seen = ancestorsOf(log, removal.id);
    const readds = accepted.filter((e) => e.header.kind === 'member.add' && named(e) === x && at.get(e.id)! > r).map((e) => at.get(e.id)!);
    for (const e of log.eventsBy(x)) {
      if (!log.isAccepted(e.id) || seen.has(e.id)) continue;
      expect(
        readds.some((a) => a < at.get(e.id)!),
        `${x} signed ${e.header.kind} ${e.id} unseen by its expulsion ${removal.id}, and it counted`,
      ).toBe(true);
    }
    const fresh = epochs.filter((ep) => at.get(ep.introducedBy)! >= r);
    const mustNotHold = (who: OnionName, why: string): void => {
      const identity = byOnion.get(who);
      if (!identity) return;
      const view = buildMemberView(log, identity);
      for (const ep of fresh) {
        checked++;
        expect(view.keyring.has(ep.keyIdHex), `${why} ${who} holds ${ep.keyIdHex} (introduced by ${ep.introducedBy})`).toBe(false);
      }
    };
    /**
     * The expelled may hold a key of a rotation its expulsion raced (made by someone who had not
     * seen it, ordered after it); such a key is marked as known to whoever the expulsion removed,
     * so nobody who saw the expulsion may seal to it. What it must never hold is a key made by
     * someone who had seen the expulsion, nor read a task created by such an author.
     */
    const expelledHoldsNothingLater = (identity: Identity): void => {
      const view = buildMemberView(log, identity);
      for (const ep of fresh) {
        if (!view.keyring.has(ep.keyIdHex)) continue;
        checked++;
        const why = `the expelled ${x} holds ${ep.keyIdHex} (introduced by ${ep.introducedBy})`;
        expect(ep.introducedBy === removal.id || ancestorsOf(log, ep.introducedBy).has(removal.id), `${why}, made after its expulsion`).toBe(false);
        expect(ep.leftBy, `${why}, a racing rotation not marked as known to it`).toContain(removal.id);
      }
      for (const task of view.tasks.values()) {
        if (!task.readable) continue;
        checked++;
        expect(ancestorsOf(log, task.id).has(removal.id), `the expelled ${x} reads task ${task.id}, created after its expulsion`).toBe(false);
      }
    };
    if (readds.length === 0 && byOnion.has(x)) expelledHoldsNothingLater(byOnion.get(x)!);
    for (const e of log.eventsBy(x)) {
      if (e.header.kind !== 'member.add' || seen.has(e.id)) continue;
      const p = named(e);
      // Someone else admitting the same person (or the expelled, before, in plain sight) is not a puppet trick.
      const legit = genesisMembers.has(p) || accepted.some((a) => a.header.kind === 'member.add' && named(a) === p && (a.author !== x || seen.has(a.id)));
      if (!legit) mustNotHold(p, 'a puppet of the expelled');
    }
  }
  return checked;
}

describe('malicious members (property-based)', () => {
  it('honest replicas fed the same events in any order, with restarts, agree; pending holds exactly what lacks ancestors; nothing throws; the expelled and its puppets gain no key made after the expulsion', () => {
    let checked = 0;
    let forgedAccepted = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const tally = judgeScenario(s);
        checked += tally.checked;
        forgedAccepted += tally.forgedAccepted;
      }),
      { numRuns: 40 },
    );
    // The generator must reach the interesting cases: keys introduced after an expulsion, and
    // malicious events that pass (so the replicas judge real contention, not only noise).
    expect(checked).toBeGreaterThan(0);
    expect(forgedAccepted).toBeGreaterThan(0);
  });

  it('regression (stop 31): an expelled organizer’s removal of a member whose event the expulsion builds on does not count', () => {
    // Found by the property above (about one run in six): the organizer's removal of a member put
    // that member's event after it (a virtual edge), the founder's removal of the organizer built
    // on that event, and the fold took the edge for the founder having seen the organizer's removal.
    // Replayed from its seed and path: the scenario's shape, whatever identities this run draws.
    fc.assert(
      fc.property(scenario, (s) => void judgeScenario(s)),
      {
        seed: 272423358,
        path: '0:4:6:4:3:3:6:3:5:4:4:7:5:7:7:7:8:5:5:4:5:5:5:5:5:5:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:9:9:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4',
        endOnFailure: true,
      },
    );
  });

  it('regression (stop 32): an expelled member’s task.create that its expulsion had not seen does not count', () => {
    // Found by the property above in a full CI run at the end of stop 32: the founder demoted the
    // remover having seen the task. Identities are drawn afresh, so this replay finds the shape in
    // most runs, not all; fold.test.ts holds it (and a cousin) as fixed cases.
    fc.assert(
      fc.property(scenario, (s) => void judgeScenario(s)),
      {
        seed: 1066510885,
        path: '18:2:0:2:21:20:1:0:2:6:8:1:5:10:0:1:3:9:4:9:28:7:1:11:13:0:4:9:1:19:0:6:21:0:11:5:5:3:12:3:1:3:8:3:0:8:8:0:2:5:18:5:2:4:3:0:2:14:4:22:32:8:19:3:4:3:0:38:1:3:20:9:16:33:11:11:14:8:11:18:9:6:12:8:14',
        endOnFailure: true,
      },
    );
  });
});

/** Judge one generated scenario (see the property above); how many expelled keys and accepted forgeries it saw. */
function judgeScenario({ malicious, expelledPick, expelAt, steps: script, seeds }: ScenarioValue): { checked: number; forgedAccepted: number } {
  const { world } = build(malicious, expelledPick, expelAt, script);
  const events = [...world.all.values()];
  const reference = atOnce('all at once', world.genesis, events);
  const replicas = [reference, ...seeds.map((seed) => replicate(world.genesis, shuffled(events, seed), seed))];
  const expected = agreement(reference.log);
  // An event refused as defeated names the removal that defeated it: that removal stands.
  for (const rejection of reference.log.rejections()) {
    const by = /signed concurrently with the removal ([0-9a-f]{64})/.exec(rejection.reason)?.[1];
    if (by !== undefined) expect(reference.log.isAccepted(by as EventId), `${rejection.eventId} is defeated by ${by}, which was refused`).toBe(true);
  }
  for (const r of replicas) {
    const got = agreement(r.log);
    expect({ hash: got.hash, order: got.order }, r.name).toEqual({ hash: expected.hash, order: expected.order });
    // Pending is exactly what waits for an ancestor nobody has. (Which such events a replica
    // parks depends on who it knew as a member when they came: only the fold must agree.)
    const stored = new Map([...r.log.events()].map((e) => [e.id, e]));
    const closed = closedUnderParents(stored, world.genesis.id);
    expect(got.pending, r.name).toEqual([...stored.keys()].filter((id) => id !== world.genesis.id && !closed.has(id)).sort());
  }
  const closed = closedUnderParents(
    new Map(
      events.map((b) => {
        const e = decodeEvent(b);
        return [e.id, e] as const;
      }),
    ),
    world.genesis.id,
  );
  // Given only what is closed under parents, nothing is left pending.
  const closedOnly = atOnce(
    'closed set',
    world.genesis,
    events.filter((b) => closed.has(idOf(b))),
  );
  expect(closedOnly.log.pendingCount()).toBe(0);
  // Every member (and outsider) can build a view on every replica without an exception.
  for (const id of world.ids) buildMemberView(reference.log, id);
  const checked = checkExpelled(reference.log, world.ids);
  const badOnions = new Set([...world.malicious].map((i) => world.ids[i]!.onion));
  const forgedAccepted = reference.log.order().filter((id) => reference.log.isAccepted(id) && badOnions.has(reference.log.event(id)!.author)).length;
  return { checked, forgedAccepted };
}

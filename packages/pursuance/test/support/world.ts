import fc from 'fast-check';
import { Identity, fromHex, type OnionName } from '@pursuance/crypto';
import { ActionNotAllowedError, PursuanceAuthor, PursuanceLog, signEvent, type EventId, type Rules, type SignedEvent } from '../../src/index.js';
import { makeShare } from '../../src/keys.js';
import { clock, template } from './helpers.js';

/**
 * Random multi-replica histories: a founder and members act on their OWN replicas and sync
 * at random, so events are genuinely concurrent (including a removed member acting on a stale
 * replica, and malicious key shares built by hand). The union of all events is then fed to
 * fresh logs in many orders.
 */
export type Step =
  { t: 'act'; actor: number; op: number; x: number; y: number } | { t: 'sync'; from: number; to: number } | { t: 'leak'; actor: number; x: number };

export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('act' as const), actor: fc.nat(4), op: fc.nat(20), x: fc.nat(50), y: fc.nat(50) }) },
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
      member: {
        ...member,
        can: [
          ...member.can,
          { subject: 'rules', action: 'change' },
          { subject: 'role', action: 'assign', roles: ['member'] },
          // Write-only: members send to the organizers' audience without reading it.
          { subject: 'task', action: 'submit', audience: ['organizer'] },
        ],
      },
    },
  };
}

export interface World {
  readonly ids: Identity[];
  readonly actors: PursuanceAuthor[];
  readonly all: Map<EventId, SignedEvent>;
}

function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length ? list[n % list.length] : undefined;
}

/** Play `steps` on a fresh world and collect every event any replica made. */
export function run(steps: readonly Step[]): World {
  const world = newWorld();
  play(world, steps);
  return collect(world);
}

/** Put every replica's events into `world.all`. */
export function collect(world: World): World {
  for (const a of world.actors) for (const e of a.log.events()) world.all.set(e.id, e);
  return world;
}

/** Everyone gets every event (a full sync round). */
export function syncAll(world: World): void {
  for (const to of world.actors) {
    for (const from of world.actors) if (from !== to) to.log.addAll([...from.log.events()].map((e) => e.bytes));
    to.refreshKeys();
  }
}

/** The founder, three members (the third expelled on a replica nobody else has seen) and one outsider. */
export function newWorld(): World & { readonly now: () => number; readonly peer: PursuanceAuthor } {
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
  // Another pursuance, linked both ways on its side: its announcements are carried in by
  // members, racing link openings, closings and rotations of its keys (ops 19, 20).
  const peer = PursuanceAuthor.create(Identity.generate(), { name: 'peer', rules: template('activist-cell') }, now);
  peer.openLink({
    offer: founder.linkOffer(peer.log.id, 'organizer', 7, 'their inbox'),
    name: 'prop',
    theyMay: [],
    ourAnchor: 'organizer',
    weSend: [{ ours: 'member', theirs: 'member' }],
    ourInbox: 'our inbox',
  });
  return { ids, actors, all: new Map<EventId, SignedEvent>(), now, peer };
}

/** Act and sync as `steps` say; an action the rules refuse is skipped, as a UI would refuse it. */
export function play(world: World & { readonly now: () => number; readonly peer?: PursuanceAuthor }, steps: readonly Step[]): void {
  const { ids, actors, now, peer } = world;
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
        case 15:
          // Mirror relays (organizers and the founder may): concurrent adds of one bundle race.
          me.addMirror(pick(['mirror-a', 'mirror-b', 'mirror-c', '__proto__'], s.x + s.y)!);
          break;
        case 16:
          me.dropMirror(pick(['mirror-a', 'mirror-b', 'mirror-c', '__proto__'], s.x)!);
          break;
        case 17:
          // Submissions race rotations and removals of the audience they are sealed to.
          me.submit(pick(roles, s.x + 1)!, { title: `s${s.y}` });
          break;
        case 18:
          // Profiles race removals that re-key their role, and each other; one in three withdraws.
          if (s.y % 3 === 0) me.withdrawProfile();
          else me.publishProfile(pick(roles, s.x)!, { name: `p${s.y}`, about: '', asks: [], inbox: 'inbox', effort: 8, now: now(), days: 1 + (s.y % 14) });
          break;
        case 19:
          // A link to the peer opens (again, re-pinning its current anchor) or closes.
          if (!peer) break;
          if (s.y % 4 === 0) me.closeLink(peer.log.id);
          else
            me.openLink({
              offer: peer.linkOffer(me.log.id, 'organizer', 1 + (s.x % 7), 'their inbox'),
              name: 'peer',
              theyMay: [{ theirRole: 'member', action: 'create', on: pick(roles, s.x)! }],
              ourAnchor: 'organizer',
              weSend: [],
              ourInbox: 'our inbox',
            });
          break;
        case 20: {
          // The peer rotates now and then; a member carries one of its announcements in.
          if (!peer) break;
          if (s.y % 3 === 0) peer.rotateKeys([pick(roles, s.x)!]);
          const announcements = peer.linkAnnouncements(me.log.id, 1 + (s.y % 7));
          me.carryLinkKeys(pick(announcements, s.x)!);
          break;
        }
        default:
          if (tasks.length) me.assignTask(pick(tasks, s.x)!, { add: { members: [pick<OnionName>(members, s.y)!] } });
      }
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
    }
  }
}

export function seededShuffle<T>(list: readonly T[], seed: number): T[] {
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

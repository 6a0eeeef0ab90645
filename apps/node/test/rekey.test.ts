import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, fromHex, onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import { ActionNotAllowedError, PursuanceAuthor, PursuanceLog, RejectionCode, signEvent, type SignedEvent } from '@pursuance/pursuance';
import { startNode } from '../src/index.js';
import { departuresSinceRekey, handedTo, lastRekey, parseGroupName } from '../src/sync/rekey.js';
import { http } from './support/http.js';
import { activistCellRules as activistCell } from './support/rules.js';

/**
 * Which group a pursuance lives in after re-keyings (removals and relay moves that hand the
 * members who stay a new Cwtch group): the accepted one last in fold order. Every replica
 * must pick the same one whatever order events reach it in, and that group must never have
 * been handed to anyone who is no longer a member.
 */
function clock(start = 1_800_000_000_000): () => number {
  let t = start;
  return () => (t += 1000);
}

/** A small cell: the founder, two organizers (who may expel and move) and three members. */
function cell() {
  const now = clock();
  const ids = Array.from({ length: 6 }, () => Identity.generate());
  const founder = PursuanceAuthor.create(ids[0]!, { name: 'cell', rules: activistCell() }, now);
  ids.slice(1).forEach((id, i) => founder.addMember(id.publicKey, { roles: i < 2 ? ['member', 'organizer'] : ['member'] }));
  const replica = (id: Identity) => {
    const log = new PursuanceLog(founder.log.genesis.bytes);
    log.addAll([...founder.log.events()].map((e) => e.bytes));
    return new PursuanceAuthor(id, log, undefined, now);
  };
  // The three who may re-key act each on their own replica of the same start.
  return { ids, actors: [founder, replica(ids[1]!), replica(ids[2]!)], base: [...founder.log.events()] };
}

type Step =
  { t: 'remove'; actor: number; target: number } | { t: 'move'; actor: number } | { t: 'task'; actor: number } | { t: 'sync'; from: number; to: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('remove' as const), actor: fc.nat(2), target: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ t: fc.constant('move' as const), actor: fc.nat(2) }),
  fc.record({ t: fc.constant('task' as const), actor: fc.nat(2) }),
  fc.record({ t: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
);

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

/** lastRekey as a walk back through the whole fold order (what it did before it read on from its last call). */
function lastRekeyByWalk(log: PursuanceLog): SignedEvent | null {
  const order = log.order();
  for (let i = order.length - 1; i >= 0; i--) {
    const e = log.event(order[i]!)!;
    if (['relay.move', 'member.remove'].includes(e.header.kind) && (e.header.body as { invites?: unknown[] }).invites?.length && log.isAccepted(e.id)) return e;
  }
  return null;
}

describe('the re-keying event a pursuance follows', () => {
  it('is the same on every replica, whatever the arrival order, and its group went to members only', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 3, maxLength: 14 }), fc.array(fc.integer(), { minLength: 3, maxLength: 3 }), (steps, seeds) => {
        const { ids, actors, base } = cell();
        let groups = 0;
        for (const s of steps) {
          try {
            if (s.t === 'sync') {
              actors[s.to]!.log.addAll([...actors[s.from]!.log.events()].map((e) => e.bytes));
              actors[s.to]!.refreshKeys();
            } else if (s.t === 'remove') {
              actors[s.actor]!.removeMember(ids[s.target]!.onion, undefined, new TextEncoder().encode(`group ${++groups}`));
            } else if (s.t === 'move') {
              actors[s.actor]!.moveRelay('relay bundle', new TextEncoder().encode(`group ${++groups}`));
            } else {
              actors[s.actor]!.createTask({ audience: ['member'], title: 'racing' });
            }
          } catch (err) {
            // An actor already removed (in its own view), or a target gone: nothing signed.
            if (!(err instanceof ActionNotAllowedError)) throw err;
          }
        }
        const all = new Map<string, SignedEvent>();
        for (const a of actors) for (const e of a.log.events()) all.set(e.id, e);
        const events = [...all.values()].filter((e) => !base.some((b) => b.id === e.id) && e.pursuanceId !== null);
        const folds = seeds.map((seed) => {
          const log = new PursuanceLog(actors[0]!.log.genesis.bytes);
          log.addAll(base.map((e) => e.bytes));
          for (const e of seededShuffle(events, seed)) {
            log.add(e.bytes);
            // Asked after every event, read on from the last ask: as a full walk of the fold order finds it.
            expect(lastRekey(log)?.id ?? null).toBe(lastRekeyByWalk(log)?.id ?? null);
          }
          return log;
        });
        const winners = folds.map((log) => lastRekey(log)?.id ?? null);
        expect(new Set(winners).size).toBe(1);
        const log = folds[0]!;
        expect(log.pendingCount()).toBe(0);
        const winner = lastRekey(log);
        if (winner === null) return;
        const members = log.state().members;
        for (const onion of handedTo(winner)) expect(members.has(onion)).toBe(true);
        // Whoever an accepted removal expelled never holds the group everyone follows.
        for (const id of log.order()) {
          const e = log.event(id)!;
          if (e.header.kind !== 'member.remove' || !log.isAccepted(id)) continue;
          const removed: OnionName = onionFromPublicKey((e.header.body as { member: Uint8Array }).member);
          if (!members.has(removed)) expect(handedTo(winner).has(removed)).toBe(false);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('names its group after the pursuance and the group it replaces', () => {
    const id = 'a'.repeat(64);
    expect(parseGroupName(`pursuance:${id}`)).toEqual({ pursuanceId: id, replaces: null });
    expect(parseGroupName(`pursuance:${id}:${'b'.repeat(32)}`)).toEqual({ pursuanceId: id, replaces: 'b'.repeat(32) });
    expect(parseGroupName('crew')).toBeNull();
    expect(parseGroupName('pursuance:')).toBeNull();
    expect(parseGroupName(`pursuance:${id}:x:y`)).toBeNull();
  });
});

describe('departures waiting for a re-keying', () => {
  const invite = (n: number) => new TextEncoder().encode(`group ${n}`);
  /** A replica of the founder's log, with `id` acting on it. */
  const replicaOf = (founder: PursuanceAuthor, id: Identity) => {
    const log = new PursuanceLog(founder.log.genesis.bytes);
    log.addAll([...founder.log.events()].map((e) => e.bytes));
    return new PursuanceAuthor(id, log, undefined, clock(1_900_000_000_000));
  };
  const take = (to: PursuanceAuthor, from: PursuanceAuthor) => {
    to.log.addAll([...from.log.events()].map((e) => e.bytes));
    to.refreshKeys();
  };

  it('are the accepted leavings after the last re-keying in fold order, by who is no longer a member', () => {
    const { ids, actors } = cell();
    const [founder, organizer] = actors as [PursuanceAuthor, PursuanceAuthor, PursuanceAuthor];
    expect(departuresSinceRekey(founder.log)).toEqual([]);

    // A member acts, then leaves: the group still holds them. Only the leaving counts, not what
    // they did before it; and a stranger's forged leaving, refused, counts for nothing.
    const member = replicaOf(founder, ids[3]!);
    member.createTask({ audience: ['member'], title: 'before leaving' });
    const leave = member.leave();
    take(founder, member);
    const stranger = Identity.generate();
    const forged = signEvent(stranger, {
      pursuance: fromHex(founder.log.id),
      seq: 1,
      parents: [fromHex(leave.id)],
      time: 1_900_000_100_000,
      kind: 'member.leave',
      audience: [],
      body: {},
    });
    founder.log.add(forged.bytes);
    expect(founder.log.isAccepted(forged.id)).toBe(false);
    expect(departuresSinceRekey(founder.log).map((e) => e.id)).toEqual([leave.id]);
    // Only their own: the one who left sees no re-keying left for anyone else to do.
    expect(departuresSinceRekey(member.log).map((e) => e.id)).toEqual([leave.id]);

    // A move (here to the same relay) re-keys the group without them.
    const move = founder.moveRelay('relay bundle', invite(1));
    expect(handedTo(move).has(ids[3]!.onion)).toBe(false);
    expect(departuresSinceRekey(founder.log)).toEqual([]);

    // Another leaves after that move, seen by an organizer who also saw the move.
    take(organizer, founder);
    const other = replicaOf(founder, ids[4]!);
    const second = other.leave();
    take(organizer, other);
    expect(departuresSinceRekey(organizer.log).map((e) => e.id)).toEqual([second.id]);
    // A removal re-keys too.
    organizer.removeMember(ids[5]!.onion, undefined, invite(2));
    expect(departuresSinceRekey(organizer.log)).toEqual([]);
  });

  it('lists several waiting departures oldest first (the one a node re-keys for is the oldest)', () => {
    const { ids, actors } = cell();
    const founder = actors[0]!;
    const first = replicaOf(founder, ids[3]!);
    const firstLeave = first.leave();
    take(founder, first);
    const second = replicaOf(founder, ids[4]!);
    const secondLeave = second.leave();
    take(founder, second);
    expect(departuresSinceRekey(founder.log).map((e) => e.id)).toEqual([firstLeave.id, secondLeave.id]);
  });

  it('leave out someone added back: they may hold the group again', () => {
    const { ids, actors } = cell();
    const founder = actors[0]!;
    const member = replicaOf(founder, ids[3]!);
    member.leave();
    take(founder, member);
    expect(departuresSinceRekey(founder.log)).toHaveLength(1);
    founder.addMember(ids[3]!.publicKey, { roles: ['member'] });
    expect(departuresSinceRekey(founder.log)).toEqual([]);
  });

  it('a refused leaving (the last founder) waits for nothing', () => {
    const { actors } = cell();
    const founder = actors[0]!;
    expect(() => founder.leave()).toThrow(ActionNotAllowedError);
    expect(departuresSinceRekey(founder.log)).toEqual([]);
  });

  it('only those whom the rules let move the relay are in line to re-key', () => {
    const { ids, actors } = cell();
    const founder = actors[0]!;
    const allowed = ids.map((id) => id.onion).filter((onion) => founder.mayMoveRelay(onion));
    // The founder and the two organizers (activist-cell: organizers may move); not members, not strangers.
    expect(allowed.sort()).toEqual([ids[0]!.onion, ids[1]!.onion, ids[2]!.onion].sort());
    expect(founder.mayMoveRelay(Identity.generate().onion)).toBe(false);
    expect(founder.mayMoveRelay('__proto__' as OnionName)).toBe(false);
    expect(founder.mayMoveRelay('constructor' as OnionName)).toBe(false);
  });
});

describe('removing a member from a pursuance with no group', () => {
  it('signs a plain removal (no invites), and creates no group', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'node-rekey-'));
    const node = await startNode({ dataDir: dir, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null });
    try {
      const api = (method: string, path: string, body?: unknown) =>
        http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
      const { id } = (await api('POST', '/api/pursuances', { name: 'Offline cell', template: 'activist-cell' })).body as { id: string };
      const member = Identity.generate().onion;
      await api('POST', `/api/pursuances/${id}/members`, { onion: member, roles: ['member'] });
      const removed = await api('DELETE', `/api/pursuances/${id}/members/${member}`, {});
      expect(removed.status).toBeLessThan(300);
      const event = node.registry.get(id).log.event((removed.body as { id: string }).id as never)!;
      expect(event.header.kind).toBe('member.remove');
      expect((event.header.body as { invites?: unknown[] }).invites).toBeUndefined();
      expect(node.registry.get(id).log.isAccepted(event.id)).toBe(true);
      expect(node.peer.groups()).toEqual([]);
      expect(node.sync.groupOf(id)).toBeNull();
      // The code a refused removal gets is unchanged by re-keying.
      expect((await api('DELETE', `/api/pursuances/${id}/members/${member}`, {})).body).toMatchObject({ code: RejectionCode.UNKNOWN_TARGET });
    } finally {
      await node.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

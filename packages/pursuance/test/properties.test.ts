import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, sha256, toHex } from '@pursuance/crypto';
import {
  MAX_RELAY_MIRRORS,
  ActionNotAllowedError,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  MemberViewCache,
  buildMemberView,
  type EventId,
  type SignedEvent,
} from '../src/index.js';
import { allows, compileAbility, permissionUniverse } from '../src/rules/compile.js';
import type { Lockbox } from '../src/bodies.js';
import { Keyring, openLockbox } from '../src/keys.js';
import { buildTaskView, collectKeys } from '../src/view.js';
import { forge } from './support/harness.js';
import { ancestorsOf, clock, joinAs, template } from './support/helpers.js';
import { run, seededShuffle, step, type World } from './support/world.js';

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

  it("event by event, the state hash (re-encoding only what changed) equals one taken from scratch, and each author's last sequence is the highest held", () => {
    fc.assert(
      fc.property(script, fc.integer(), (steps, seed) => {
        const world = run(steps);
        const log = new PursuanceLog(world.actors[0]!.log.genesis.bytes);
        const authors = world.ids.map((id) => id.onion);
        for (const e of seededShuffle([...world.all.values()], seed)) {
          log.add(e.bytes);
          expect(log.stateHash()).toBe(toHex(sha256(log.stateBytes())));
          for (const onion of authors) expect(log.lastSeq(onion)).toBe(Math.max(0, ...log.eventsBy(onion).map((x) => x.header.seq)));
        }
      }),
      { numRuns: 25 },
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
          const cache = new MemberViewCache(keyring, me);
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

  it('the keys collected are those a walk of the whole fold order opens, found by looking for lockboxes anywhere in any accepted body', () => {
    // The oracle knows no kinds: a kind missing from collectKeys' table, or a refused event read,
    // makes them differ; so would a key kept other than the one its id commits to.
    interface Carrier {
      readonly role: string;
      readonly keyId: Uint8Array;
      readonly lockboxes: readonly Lockbox[];
    }
    const carriers = (value: unknown, out: Carrier[] = []): Carrier[] => {
      if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return out;
      if (Array.isArray(value)) for (const v of value) carriers(v, out);
      else {
        const v = value as Partial<Carrier>;
        if (typeof v.role === 'string' && v.keyId instanceof Uint8Array && Array.isArray(v.lockboxes)) out.push(v as Carrier);
        else for (const child of Object.values(value)) carriers(child, out);
      }
      return out;
    };
    const walked = (log: PursuanceLog, me: Identity): Map<string, string> => {
      const keys = new Map<string, string>();
      for (const id of log.order()) {
        if (!log.isAccepted(id)) continue;
        for (const c of carriers(log.event(id)!.header.body)) {
          if (keys.has(toHex(c.keyId))) continue;
          for (const lb of c.lockboxes) {
            const k = openLockbox(me, c.role, c.keyId, lb);
            if (k) keys.set(toHex(k.keyId), `${k.role}:${toHex(k.key)}`);
          }
        }
      }
      return keys;
    };
    let opened = 0;
    fc.assert(
      fc.property(script, fc.integer(), (steps, seed) => {
        const world = run(steps);
        const log = foldOf(world, seededShuffle([...world.all.values()], seed));
        for (const me of world.ids) {
          const keyring = collectKeys(log, me);
          const got = new Map(keyring.keyIds().map((id) => [id, `${keyring.get(id)!.role}:${toHex(keyring.get(id)!.key)}`]));
          expect(got).toEqual(walked(log, me));
          opened += got.size;
        }
      }),
      { numRuns: 30 },
    );
    expect(opened).toBeGreaterThan(0);
  });

  it('a submission reads exactly for its author and whoever holds the key it was sealed to, never for anyone else', () => {
    fc.assert(
      fc.property(script, (steps) => {
        const world = run(steps);
        const log = foldOf(world, [...world.all.values()]);
        const submissions = log.order().filter((id) => log.isAccepted(id) && log.event(id)!.header.kind === 'submission.create');
        for (const reader of world.ids) {
          const keyring = collectKeys(log, reader);
          const view = buildMemberView(log, reader, keyring);
          for (const id of submissions) {
            const e = log.event(id) as SignedEvent<'submission.create'>;
            const mayRead = e.author === reader.onion || keyring.has(e.header.body.keyId);
            expect(view.tasks.get(id)!.readable, `${reader.onion} reading ${id}`).toBe(mayRead);
          }
        }
      }),
      { numRuns: 25 },
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

  it('a member who lost a role holds no key made after it by someone who saw the loss, and any racing key it holds is marked as known to it', () => {
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
            let lostBy: EventId | null = null;
            for (const eid of log.order()) {
              if (!log.isAccepted(eid)) continue;
              const e = log.event(eid)!;
              const b = e.header.body as { member?: Uint8Array; role?: string };
              const target = b.member && Buffer.from(b.member).equals(Buffer.from(id.publicKey));
              const lost =
                (e.header.kind === 'member.remove' && target) ||
                (e.header.kind === 'role.remove' && target && b.role === roleId) ||
                (e.header.kind === 'member.leave' && e.author === id.onion);
              if (lost) [lostAt, lostBy] = [position.get(eid)!, eid];
            }
            if (lostAt < 0 || lostBy === null) continue;
            for (const epoch of role.epochs) {
              if (position.get(epoch.introducedBy)! <= lostAt) continue;
              checked++;
              if (!keys.has(epoch.keyIdHex)) continue;
              // Only a rotation that raced the loss (its author had not seen it) may have reached
              // them, and its key is then marked, so nobody who saw the loss may seal to it.
              const why = `${id.onion} holds epoch ${epoch.epoch} of ${roleId}`;
              expect(ancestorsOf(log, epoch.introducedBy).has(lostBy), `${why}, made after the loss`).toBe(false);
              expect(epoch.leftBy, `${why}, not marked as known to it`).toContain(lostBy);
            }
          }
        }
      }),
      { numRuns: 40 },
    );
    // The generator must actually produce removals followed by rotations.
    expect(checked).toBeGreaterThan(0);
  });

  it('mirror relays: whatever the arrival order of concurrent adds, drops and moves, replicas agree on the relay and its mirrors, and the list stays well-formed', () => {
    // Three members who may move the relay, each acting on their own replica and syncing at
    // random; a third of the events are signed by hand past the author's check (duplicate
    // adds, drops of unlisted mirrors, the relay dropped…). Bundles include prototype names.
    const BUNDLES = ['r0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', '__proto__', 'constructor'];
    const relayStep = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({ t: fc.constant('act' as const), actor: fc.nat(2), op: fc.nat(2), bundle: fc.nat(BUNDLES.length - 1), forged: fc.boolean() }),
      },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }) },
    );
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.array(relayStep, { minLength: 5, maxLength: 40 }), fc.array(fc.integer(), { minLength: 2, maxLength: 2 }), (steps, seeds) => {
        const now = clock();
        const ids = [Identity.generate(), Identity.generate(), Identity.generate()];
        const founder = PursuanceAuthor.create(ids[0]!, { name: 'mirrors', rules: template('activist-cell'), relay: 'r0' }, now);
        for (const id of ids.slice(1)) founder.addMember(id.publicKey, { roles: ['organizer', 'member'] });
        const actors = [founder, ...ids.slice(1).map((id) => joinAs(id, founder.log, now))];
        const kinds = ['relay.add', 'relay.drop', 'relay.move'] as const;
        for (const s of steps) {
          if (s.t === 'sync') {
            if (s.from !== s.to) actors[s.to]!.log.addAll([...actors[s.from]!.log.events()].map((e) => e.bytes));
            continue;
          }
          const me = actors[s.actor]!;
          const bundle = BUNDLES[s.bundle]!;
          const kind = kinds[s.op]!;
          if (s.forged) {
            const body = kind === 'relay.move' ? { bundle, invites: [] } : { bundle };
            me.log.add(forge(me.identity, me.log, kind, body as never, [], { time: now() }));
            continue;
          }
          try {
            if (kind === 'relay.add') me.addMirror(bundle);
            else if (kind === 'relay.drop') me.dropMirror(bundle);
            else me.moveRelay(bundle, new Uint8Array(48));
          } catch (err) {
            if (!(err instanceof ActionNotAllowedError)) throw err;
          }
        }
        const events = new Map<EventId, SignedEvent>();
        for (const a of actors) for (const e of a.log.events()) events.set(e.id, e);
        const all = [...events.values()];
        const reference = new PursuanceLog(founder.log.genesis.bytes);
        reference.addAll(all.map((e) => e.bytes));
        const relay = reference.state().relay;
        // Well-formed: no duplicates, never the relay itself, never past the bound.
        expect(new Set(relay.mirrors).size).toBe(relay.mirrors.length);
        expect(relay.mirrors).not.toContain(relay.bundle);
        expect(relay.mirrors.length).toBeLessThanOrEqual(MAX_RELAY_MIRRORS);
        // And exactly what the accepted relay events say, applied in fold order.
        let model = { bundle: 'r0' as string | null, mirrors: [] as string[] };
        for (const id of reference.order()) {
          const e = reference.event(id)!;
          if (!reference.isAccepted(id) || !e.header.kind.startsWith('relay.')) continue;
          accepted++;
          const b = (e.header.body as { bundle: string }).bundle;
          if (e.header.kind === 'relay.add') model = { ...model, mirrors: [...model.mirrors, b] };
          else if (e.header.kind === 'relay.drop') model = { ...model, mirrors: model.mirrors.filter((m) => m !== b) };
          else model = { bundle: b, mirrors: model.mirrors.filter((m) => m !== b) };
        }
        refused += reference.foldRejections().length;
        expect({ bundle: relay.bundle, mirrors: relay.mirrors }).toEqual(model);
        // Any arrival order, and every replica once it holds everything, folds to the same state.
        for (const seed of seeds) {
          // One at a time; what waits for its author's member.add is offered again, as in foldOf.
          const log = new PursuanceLog(founder.log.genesis.bytes);
          const later = seededShuffle(all, seed).filter((e) => log.add(e.bytes).rejection?.code === RejectionCode.PENDING_REFUSED);
          log.addAll(later.map((e) => e.bytes));
          expect(log.state().relay).toEqual(relay);
          expect(log.stateHash()).toBe(reference.stateHash());
        }
        for (const a of actors) {
          a.log.addAll(all.map((e) => e.bytes));
          expect(a.log.state().relay).toEqual(relay);
          expect(a.log.stateHash()).toBe(reference.stateHash());
        }
      }),
      { numRuns: 40 },
    );
    // Not vacuous: the histories list and refuse mirrors.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

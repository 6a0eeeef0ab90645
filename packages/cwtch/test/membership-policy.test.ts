import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, type OnionName } from '@pursuance/crypto';
import {
  foundingMembers,
  isRepairCandidate,
  knownMembers,
  mayMove,
  mayPostToRetired,
  mayServe,
  repairCandidates,
  type MembershipFacts,
} from '../src/membership-policy.js';
import { MAX_MOVE_CHAIN, currentHome, moveChain, type MoveLinks } from '../src/move-chain.js';

/**
 * The group-membership policy is pure: these check its rules directly over every shape of
 * group (closed or open, retired or not, any senders and application members), and the move
 * chain walks over chains of any length, with holes and cycles.
 */
const pool: OnionName[] = Array.from({ length: 6 }, () => Identity.generate().onion);
const onion = fc.constantFrom(...pool);
const onions = fc.uniqueArray(onion, { maxLength: pool.length });

interface Shape {
  members: OnionName[] | null;
  owner: OnionName;
  retired: boolean;
  senders: OnionName[];
  app: OnionName[];
}

const shape: fc.Arbitrary<Shape> = fc.record({ members: fc.option(onions, { nil: null }), owner: onion, retired: fc.boolean(), senders: onions, app: onions });

/** Facts over a shape, counting how often the costly parts (log walk, resolver) are asked. */
function facts(s: Shape): MembershipFacts & { asked: { senders: number; app: number } } {
  const asked = { senders: 0, app: 0 };
  return {
    members: s.members,
    owner: s.owner,
    retired: s.retired,
    senders: () => {
      asked.senders++;
      return new Set(s.senders);
    },
    appMembers: () => {
      asked.app++;
      return s.app;
    },
    asked,
  };
}

describe('membership policy', () => {
  it('isRepairCandidate agrees with repairCandidates, which lists nobody twice', () => {
    fc.assert(
      fc.property(shape, onion, (s, who) => {
        const candidates = repairCandidates(facts(s));
        expect(new Set(candidates).size).toBe(candidates.length);
        expect(isRepairCandidate(facts(s), who)).toBe(candidates.includes(who));
      }),
    );
  });

  it('a closed group asks, serves and admits its member list only, without consulting log or application', () => {
    fc.assert(
      fc.property(shape, onion, fc.boolean(), (s, who, accepted) => {
        const members = s.members ?? [s.owner];
        const f = facts({ ...s, members });
        expect(repairCandidates(f)).toEqual(members);
        expect(mayServe(f, who, accepted)).toBe(members.includes(who));
        expect(mayPostToRetired(f, who)).toBe(members.includes(who));
        expect(knownMembers(f)).toEqual(members);
        expect(f.asked).toEqual({ senders: 0, app: 0 });
      }),
    );
  });

  it('an open group asks its owner, its senders and the members the application names', () => {
    fc.assert(
      fc.property(shape, (s) => {
        const f = facts({ ...s, members: null, retired: false });
        expect(new Set(repairCandidates(f))).toEqual(new Set([s.owner, ...s.senders, ...s.app]));
      }),
    );
  });

  it('an open group also serves accepted contacts, never a stranger', () => {
    fc.assert(
      fc.property(shape, onion, fc.boolean(), (s, who, accepted) => {
        const f = facts({ ...s, members: null, retired: false });
        const member = who === s.owner || s.senders.includes(who) || s.app.includes(who);
        expect(mayServe(f, who, accepted)).toBe(member || accepted);
      }),
    );
  });

  it('a retired open group counts only the members the application names: owner, past senders and contacts are out', () => {
    fc.assert(
      fc.property(shape, onion, fc.boolean(), (s, who, accepted) => {
        const f = facts({ ...s, members: null, retired: true });
        expect(repairCandidates(f)).toEqual(s.app);
        expect(mayServe(f, who, accepted)).toBe(s.app.includes(who));
        expect(mayPostToRetired(f, who)).toBe(s.app.includes(who));
      }),
    );
  });

  it('whoever is asked for repair may also be served', () => {
    fc.assert(
      fc.property(shape, fc.boolean(), (s, accepted) => {
        for (const who of repairCandidates(facts(s))) expect(mayServe(facts(s), who, accepted)).toBe(true);
      }),
    );
  });

  it('a new closed group holds its creator first and each requested member once; no list keeps it open', () => {
    fc.assert(
      fc.property(onion, fc.array(onion, { maxLength: 8 }), (creator, requested) => {
        const members = foundingMembers(creator, requested);
        expect(members?.[0]).toBe(creator);
        expect(new Set(members)).toEqual(new Set([creator, ...requested]));
        expect(new Set(members).size).toBe(members?.length);
      }),
    );
    expect(foundingMembers(pool[0]!, null)).toBeNull();
    expect(foundingMembers(pool[0]!, undefined)).toBeNull();
  });

  it('only the owner may move a group', () => {
    fc.assert(
      fc.property(onion, onion, (owner, actor) => {
        expect(mayMove({ owner }, actor)).toBe(actor === owner);
      }),
    );
  });
});

/** A line of `length` groups g0 → g1 → …, of which the ones in `missing` are not held. */
function line(length: number, missing: ReadonlySet<number>): (id: string) => MoveLinks | undefined {
  return (id) => {
    const i = Number(id.slice(1));
    if (!/^g\d+$/.test(id) || i >= length || missing.has(i)) return undefined;
    return { movedFrom: i > 0 ? `g${i - 1}` : null, movedTo: i < length - 1 ? `g${i + 1}` : null };
  };
}

const index = (id: string): number => Number(id.slice(1));

describe('move chain', () => {
  it('on a short chain held whole, every group resolves to the last and its history is the whole chain', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_MOVE_CHAIN }).chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1))),
        ([n, start]) => {
          const lookup = line(n, new Set());
          expect(currentHome(`g${start}`, lookup)).toBe(`g${n - 1}`);
          expect(moveChain(`g${start}`, lookup)).toEqual(Array.from({ length: n }, (_, i) => `g${i}`));
        },
      ),
    );
  });

  it('with holes and any length, both walks stay on held, linked groups and within the bound', () => {
    const arb = fc
      .integer({ min: 1, max: 3 * MAX_MOVE_CHAIN })
      .chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1), fc.uniqueArray(fc.nat(n - 1), { maxLength: 6 })))
      .filter(([, start, missing]) => !missing.includes(start));
    fc.assert(
      fc.property(arb, ([n, start, missingList]) => {
        const missing = new Set(missingList);
        const lookup = line(n, missing);
        const home = index(currentHome(`g${start}`, lookup));
        expect(home).toBeGreaterThanOrEqual(start);
        expect(home - start).toBeLessThanOrEqual(MAX_MOVE_CHAIN);
        for (let i = start; i <= home; i++) expect(missing.has(i)).toBe(false);
        // It stops at the bound, or where the next group is not held or does not exist.
        if (home - start < MAX_MOVE_CHAIN) expect(home === n - 1 || missing.has(home + 1)).toBe(true);

        const chain = moveChain(`g${start}`, lookup).map(index);
        expect(chain.length).toBeGreaterThan(0);
        expect(chain.length).toBeLessThanOrEqual(MAX_MOVE_CHAIN);
        chain.forEach((i, k) => {
          expect(missing.has(i)).toBe(false);
          if (k > 0) expect(i).toBe(chain[k - 1]! + 1);
        });
        // The history begins where the chain is cut (unless the bound came first), and then holds the start.
        const first = chain[0]!;
        expect(start - first).toBeLessThanOrEqual(MAX_MOVE_CHAIN);
        if (start - first < MAX_MOVE_CHAIN) {
          expect(first === 0 || missing.has(first - 1)).toBe(true);
          expect(chain).toContain(start);
        }
      }),
    );
  });

  it('a cycle of moves (a hostile owner can sign one) ends the walks instead of looping', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), (n) => {
        const lookup = (id: string): MoveLinks | undefined => {
          const i = index(id);
          return i < n ? { movedFrom: `g${(i + n - 1) % n}`, movedTo: `g${(i + 1) % n}` } : undefined;
        };
        expect(index(currentHome('g0', lookup))).toBeLessThan(n);
        expect(moveChain('g0', lookup).length).toBe(MAX_MOVE_CHAIN);
      }),
    );
  });
});

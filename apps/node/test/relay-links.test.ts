import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256, toHex } from '@pursuance/crypto';
import { RelayArrivals, lackingOn, rendezvousOrder, repairerOf } from '../src/sync/relay-links.js';

const ids = (...xs: string[]) => new Set(xs);

describe('what one relay lacks that the others delivered', () => {
  it('counts events another relay delivered by the cutoff, once, and not those this one holds or that came later', () => {
    const arrivals = new RelayArrivals(1_000);
    arrivals.note('a', ['e1', 'e2', 'e3'], 2_000);
    arrivals.note('b', ['e2'], 2_500);
    arrivals.note('c', ['e1', 'e4'], 9_000);
    // A repeated note keeps the first arrival.
    arrivals.note('a', ['e1'], 8_000);
    const held = [ids('e1', 'e2', 'e3'), ids('e2'), ids('e1', 'e4')];
    expect(lackingOn(1, ['a', 'b', 'c'], held, arrivals, 5_000).sort()).toEqual(['e1', 'e3']);
    expect(lackingOn(1, ['a', 'b', 'c'], held, arrivals, 9_000).sort()).toEqual(['e1', 'e3', 'e4']);
    expect(lackingOn(0, ['a', 'b', 'c'], held, arrivals, 5_000)).toEqual([]);
    expect(lackingOn(2, ['a', 'b', 'c'], held, arrivals, 5_000).sort()).toEqual(['e2', 'e3']);
  });

  it('takes what a relay held before this node started as arrived at the start, not earlier and not never', () => {
    const arrivals = new RelayArrivals(10_000);
    const held = [ids('old'), ids()];
    expect(lackingOn(1, ['a', 'b'], held, arrivals, 9_999)).toEqual([]);
    expect(lackingOn(1, ['a', 'b'], held, arrivals, 10_000)).toEqual(['old']);
    expect(arrivals.arrival('b', 'old', held[1]!)).toBeUndefined();
  });

  it('with a single relay nothing is lacking, whatever it holds', () => {
    const arrivals = new RelayArrivals(0);
    arrivals.note('a', ['x'], 1);
    expect(lackingOn(0, ['a'], [ids('x')], arrivals, 10)).toEqual([]);
  });
});

describe('who posts a lacking event again', () => {
  const onion = fc.oneof(fc.string({ minLength: 1, maxLength: 56 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'));

  it('is one of the members, the same whatever order they are listed in, and nobody without members (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.uniqueArray(onion, { minLength: 1, maxLength: 12 }), fc.nat(), (eventId, members, seed) => {
        const chosen = repairerOf(eventId, members);
        expect(members).toContain(chosen);
        const shuffled = [...members].sort((x, y) => ((x.length * 31 + seed) % 7) - ((y.length * 31 + seed) % 7) || (x < y ? -1 : 1));
        expect(repairerOf(eventId, shuffled)).toBe(chosen);
        expect(repairerOf(eventId, new Set(members))).toBe(chosen);
      }),
    );
    expect(repairerOf('e', [])).toBeUndefined();
  });

  it('orders every member once by SHA-256(key ‖ onion), whatever order they are listed in; the first is the repairer (property)', () => {
    const rank = (key: string, onion: string) => toHex(sha256(new TextEncoder().encode(`${key}:${onion}`)));
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.uniqueArray(onion, { minLength: 1, maxLength: 12 }), (key, members) => {
        const order = rendezvousOrder(key, [...members, ...members.slice(0, 3)]);
        expect([...order].sort()).toEqual([...members].sort());
        for (let i = 1; i < order.length; i++) expect(rank(key, order[i - 1]!) < rank(key, order[i]!)).toBe(true);
        expect(rendezvousOrder(key, [...members].reverse())).toEqual(order);
        expect(order[0]).toBe(repairerOf(key, members));
      }),
    );
    expect(rendezvousOrder('e', [])).toEqual([]);
  });

  it('spreads events over the members (each of 5 gets between 10% and 30% of 2,000 events)', () => {
    const members = ['ana', 'ben', 'cai', 'dee', 'eve'];
    const counts = new Map(members.map((m) => [m, 0]));
    for (let i = 0; i < 2_000; i++) {
      const chosen = repairerOf(`event-${i}`, members)!;
      counts.set(chosen, counts.get(chosen)! + 1);
    }
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(200);
      expect(n).toBeLessThan(600);
    }
  });

  it('a member who leaves passes on only the events that fell to it', () => {
    const members = ['ana', 'ben', 'cai', 'dee'];
    for (let i = 0; i < 500; i++) {
      const id = `e${i}`;
      const before = repairerOf(id, members);
      const after = repairerOf(
        id,
        members.filter((m) => m !== 'ben'),
      );
      if (before !== 'ben') expect(after).toBe(before);
    }
  });
});

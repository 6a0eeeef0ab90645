import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventId, SignedEvent } from '../src/envelope.js';
import { Positions, slotTable } from '../src/fold/positions.js';
import { HeldSet } from '../src/held-set.js';

// Ids a hostile author or a broken peer might bring: prototype names, empty, prefixes of each other.
const id = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', '', 'a', 'ab', '0'.repeat(64)),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 6 }),
) as fc.Arbitrary<EventId>;
const op = fc.oneof(fc.record({ add: id }), fc.record({ del: id }));
const event = (i: EventId): SignedEvent => ({ id: i }) as SignedEvent;

describe("HeldSet (a log's events by id, each with a slot)", () => {
  it('answers as a map of ids, gives slots in the order taken, never twice, and lists what it holds in that order (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const set = new HeldSet();
        const model = new Map<EventId, { e: SignedEvent; slot: number }>();
        let next = 0;
        for (const o of ops) {
          if ('add' in o) {
            const e = event(o.add);
            set.add(e);
            if (!model.has(o.add)) model.set(o.add, { e, slot: next++ });
          } else {
            set.delete(o.del);
            model.delete(o.del);
          }
        }
        expect(set.size).toBe(model.size);
        for (const i of new Set([...ops.map((o) => ('add' in o ? o.add : o.del))])) {
          expect(set.has(i)).toBe(model.has(i));
          expect(set.get(i)).toBe(model.get(i)?.e);
          expect(set.slotOf(i)).toBe(model.get(i)?.slot);
        }
        expect([...set.values()]).toEqual([...model.values()].sort((a, b) => a.slot - b.slot).map((m) => m.e));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the first event and its slot when an id is added again', () => {
    const set = new HeldSet();
    const first = event('ab' as EventId);
    set.add(first);
    set.add(event('ab' as EventId));
    expect([set.get('ab' as EventId), set.slotOf('ab' as EventId), set.size]).toEqual([first, 0, 1]);
  });
});

describe("Positions (a fold's index of each processed event, by slot)", () => {
  it('answers as a map would, for events held or not, whatever the slots (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(id, { maxLength: 60 }),
        fc.array(fc.record({ at: fc.nat(), index: fc.nat({ max: 2 ** 31 - 2 }) }), { maxLength: 100 }),
        fc.nat({ max: 5000 }),
        (ids, sets, spread) => {
          // Slots far apart grow the table by more than a doubling at once.
          const slots = new Map(ids.map((i, k) => [i, k * (spread + 1)]));
          const held = ids.slice(0, Math.ceil(ids.length / 2));
          const positions = new Positions((i) => (held.includes(i) ? slots.get(i) : undefined));
          const model = new Map<EventId, number>();
          for (const { at, index } of sets) {
            if (held.length === 0) break;
            const i = held[at % held.length]!;
            positions.set(i, index);
            model.set(i, index);
          }
          expect(positions.size).toBe(model.size);
          for (const i of [...ids, 'not-held' as EventId]) {
            expect(positions.get(i)).toBe(model.get(i));
            expect(positions.has(i)).toBe(model.has(i));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps what is set at the slots where its table grows (each power of two and either side)', () => {
    const edges = [...new Set([1, 2, 3, 10, 11, 12, 13].flatMap((k) => [2 ** k - 1, 2 ** k, 2 ** k + 1]))];
    const slots = new Map(edges.map((slot) => [`e${slot}` as EventId, slot]));
    const positions = new Positions((i) => slots.get(i));
    // Largest first too: a table grown from its first size straight to a far slot.
    for (const [k, slot] of [...edges].reverse().entries()) positions.set(`e${slot}` as EventId, k);
    for (const [k, slot] of [...edges].reverse().entries()) expect(positions.get(`e${slot}` as EventId)).toBe(k);
    expect(positions.size).toBe(edges.length);
    const grown = new Positions((i) => slots.get(i));
    for (const slot of edges) {
      grown.set(`e${slot}` as EventId, slot);
      // Read at once, and at the first slot past what is set so far: nothing there yet.
      expect(grown.get(`e${slot}` as EventId)).toBe(slot);
    }
    // Straight to twice the first size, and a read just past a table never grown.
    const jump = new Positions((i) => slots.get(i));
    expect(jump.get('e1024' as EventId)).toBeUndefined();
    jump.set('e2048' as EventId, 7);
    expect([jump.get('e2048' as EventId), jump.get('e4096' as EventId)]).toEqual([7, undefined]);
    const far = slotTable();
    far.set(4096, 5);
    expect([far.get(4096), far.get(4097)]).toEqual([5, 0]);
    const table = slotTable();
    for (const slot of edges) {
      expect(table.get(slot)).toBe(0);
      table.set(slot, -slot);
      expect(table.get(slot)).toBe(-slot);
      expect(table.get(slot + 1)).toBe(0);
    }
    for (const slot of edges) expect(table.get(slot)).toBe(-slot);
  });

  it('refuses an event its log does not hold: a fold that processed one would lose it', () => {
    const positions = new Positions(() => undefined);
    expect(() => positions.set('__proto__' as EventId, 0)).toThrow(/no slot/);
    expect(positions.size).toBe(0);
  });
});

describe('slotTable', () => {
  it('reads 0 where nothing was set, and what was set anywhere else (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 100_000 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { maxLength: 50 }),
        fc.array(fc.nat({ max: 200_000 })),
        (writes, reads) => {
          const table = slotTable();
          const model = new Map<number, number>();
          for (const [slot, value] of writes) {
            table.set(slot, value);
            model.set(slot, value);
          }
          for (const slot of [...reads, ...model.keys()]) expect(table.get(slot)).toBe(model.get(slot) ?? 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OnionName } from '@pursuance/crypto';
import type { EventId } from '../src/index.js';
import { SeqIndex } from '../src/seq-index.js';

const authors = ['a', 'b', 'constructor', '__proto__'] as OnionName[];
/** Honest runs, their neighbours, and what a hostile author may sign: 1, far ahead, 2^40 (the schema's bound). */
const seq = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom(1, 2, 64, 65, 66, 129, 2 ** 31, 2 ** 32, 2 ** 40));
const op = fc.oneof(
  fc.record({ op: fc.constant('set' as const), author: fc.constantFrom(...authors), seq, id: fc.constantFrom('x', 'y', 'z', 'constructor') }),
  fc.record({ op: fc.constant('delete' as const), author: fc.constantFrom(...authors), seq }),
);

describe('SeqIndex', () => {
  it('answers as a map of (author, sequence) would, whatever numbers it is given (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.array(seq, { maxLength: 20 }), (ops, probes) => {
        const index = new SeqIndex();
        const model = new Map<string, EventId>();
        const asked = new Set<string>();
        for (const o of ops) {
          const key = `${o.author}:${o.seq}`;
          asked.add(key);
          if (o.op === 'set') {
            index.set(o.author, o.seq, o.id as EventId);
            model.set(key, o.id as EventId);
          } else {
            index.delete(o.author, o.seq);
            model.delete(key);
          }
        }
        for (const a of authors) for (const s of probes) asked.add(`${a}:${s}`);
        for (const key of asked) {
          const at = key.lastIndexOf(':');
          expect(index.get(key.slice(0, at) as OnionName, Number(key.slice(at + 1))), key).toBe(model.get(key));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('answers for an honest run of 10,000, for numbers just past its slack and far past it, and for nothing in between', () => {
    const index = new SeqIndex();
    const a = 'a' as OnionName;
    for (let s = 1; s <= 10_000; s++) index.set(a, s, `e${s}` as EventId);
    index.set(a, 2 ** 40, 'far' as EventId);
    index.set(a, 10_000 + 65, 'past the slack' as EventId);
    expect(index.get(a, 1)).toBe('e1');
    expect(index.get(a, 10_000)).toBe('e10000');
    expect(index.get(a, 2 ** 40)).toBe('far');
    expect(index.get(a, 10_065)).toBe('past the slack');
    expect(index.get(a, 10_001)).toBeUndefined();
    expect(index.get(a, 2 ** 40 - 1)).toBeUndefined();
    expect(index.get('b' as OnionName, 1)).toBeUndefined();
  });

  it('holds an honest run in its array, and what a hostile author signs far from it apart, so the array is neither sparse nor huge', () => {
    const index = new SeqIndex();
    const a = 'a' as OnionName;
    const b = 'b' as OnionName;
    for (let s = 1; s <= 1_000; s++) index.set(a, s, `e${s}` as EventId);
    expect(index.layout(a)).toEqual({ dense: 1_000, far: 0 });
    // Far ahead, the schema's bound, and below the run's start: apart.
    for (const s of [1_000 + 64 + 2, 2 ** 31, 2 ** 40]) index.set(a, s, 'far' as EventId);
    index.set(b, 500, 'b500' as EventId);
    index.set(b, 499, 'below' as EventId);
    expect(index.layout(a)).toEqual({ dense: 1_000, far: 3 });
    expect(index.layout(b)).toEqual({ dense: 1, far: 1 });
    // Within the slack past the run: joins it, holes and all (1,001 … 1,064 empty).
    index.set(a, 1_000 + 64 + 1, 'at the slack' as EventId);
    expect(index.layout(a)).toEqual({ dense: 1_065, far: 3 });
    expect(index.get(a, 1_032)).toBeUndefined();
    // Deleting leaves the run's length (a hole) and shrinks nothing else; numbers off the run touch no slot.
    index.delete(a, 500);
    index.delete(a, 2 ** 40);
    index.delete(a, -1);
    index.delete(a, 5_000);
    expect(index.layout(a)).toEqual({ dense: 1_065, far: 2 });
    expect([index.get(a, 500), index.get(a, 2 ** 40), index.get(a, 501)]).toEqual([undefined, undefined, 'e501']);
    // The number just past the run's end (held apart): deleting it adds no slot.
    index.delete(a, 1_066);
    expect(index.layout(a)).toEqual({ dense: 1_065, far: 1 });
    expect(index.layout('nobody' as OnionName)).toEqual({ dense: 0, far: 0 });
  });

  it('lets a hostile author spacing numbers just within the slack make only their own array sparse, at most 65 slots a number', () => {
    const index = new SeqIndex();
    const hostile = 'hostile' as OnionName;
    const honest = 'honest' as OnionName;
    for (let s = 1; s <= 100; s++) index.set(honest, s, `h${s}` as EventId);
    const signed = 1_000;
    for (let k = 0; k < signed; k++) index.set(hostile, 1 + k * 65, `x${k}` as EventId);
    expect(index.layout(hostile).dense).toBeLessThanOrEqual(65 * signed);
    expect(index.get(hostile, 1 + 999 * 65)).toBe('x999');
    expect(index.get(hostile, 2)).toBeUndefined();
    expect(index.layout(honest)).toEqual({ dense: 100, far: 0 });
    expect(index.get(honest, 100)).toBe('h100');
  });
});

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
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, decodeEvent } from '../src/index.js';
import { packByteStrings } from '../src/pack-bytes.js';
import { clock, template } from './support/helpers.js';

/** Every Uint8Array under `root`, in visiting order. */
function byteStrings(root: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (root instanceof Uint8Array) out.push(root);
  else if (root !== null && typeof root === 'object') for (const key of Object.keys(root)) byteStrings((root as Record<string, unknown>)[key], out);
  return out;
}

/** Every object and array under `root` (byte strings excluded). */
function objects(root: unknown, out: object[] = []): object[] {
  if (root !== null && typeof root === 'object' && !(root instanceof Uint8Array)) {
    out.push(root);
    for (const key of Object.keys(root)) objects((root as Record<string, unknown>)[key], out);
  }
  return out;
}

/** A deep copy (byte strings copied too), built with own data properties only, `__proto__` included. */
function copy(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(copy);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return value;
}

const keyName = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'buffer'));
const tree = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ maxLength: 6 }),
    fc.integer(),
    fc.constant(null),
    fc.array(tie('node'), { maxLength: 5 }),
    fc.dictionary(keyName, tie('node'), { maxKeys: 5 }),
  ),
}));
const root = fc.oneof(fc.array(tree.node, { maxLength: 5 }), fc.dictionary(keyName, tree.node, { maxKeys: 5 }));

describe('packByteStrings', () => {
  it('keeps every value, shares one buffer among the byte strings, and keeps them apart', () => {
    fc.assert(
      fc.property(root, (value) => {
        const before = copy(value);
        const count = byteStrings(value).length;
        const prototypes = objects(value).map((o) => [o, Object.getPrototypeOf(o)] as const);
        packByteStrings(value);
        expect(value).toEqual(before);
        // No value was written to a prototype (a `__proto__` key), nothing was added or lost.
        for (const [o, proto] of prototypes) expect(Object.getPrototypeOf(o)).toBe(proto);
        const after = byteStrings(value);
        expect(after).toHaveLength(count);
        if (after.length < 2) return;
        const buffers = new Set(after.map((b) => b.buffer));
        expect(buffers.size).toBe(1);
        // Disjoint, back to back: a write into one is seen by no other.
        const spans = after.map((b) => [b.byteOffset, b.byteOffset + b.length] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
        expect(spans.at(-1)![1]).toBe([...buffers][0]!.byteLength);
        for (const b of after) b.fill(0xff);
        for (const [i, b] of after.entries())
          expect(
            b.every((x) => x === 0xff),
            `byte string ${i}`,
          ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes a byte string held under an own `__proto__` key to that key, not to the prototype', () => {
    const holder = JSON.parse('{"__proto__": null, "a": null}') as Record<string, unknown>;
    Object.defineProperty(holder, '__proto__', { value: new Uint8Array([1, 2]), enumerable: true, writable: true, configurable: true });
    holder.a = new Uint8Array([3]);
    packByteStrings(holder);
    expect(Object.getPrototypeOf(holder)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(holder, '__proto__')?.value).toEqual(new Uint8Array([1, 2]));
    expect((Object.getOwnPropertyDescriptor(holder, '__proto__')?.value as Uint8Array).buffer).toBe((holder.a as Uint8Array).buffer);
  });

  it('leaves a lone byte string where it is', () => {
    const only = new Uint8Array([9, 9]);
    const holder = { x: { y: [only] }, n: 1 };
    packByteStrings(holder);
    expect(holder.x.y[0]).toBe(only);
  });
});

describe('decodeEvent: one allocation per event', () => {
  it('gives the encoding and every byte string of the header views of one buffer, equal to what was sent', () => {
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell 1', rules: template('activist-cell') }, now);
    const task = founder.createTask({ audience: ['member'], title: 'Print flyers' });
    const sent = task.bytes;
    const event = decodeEvent(Uint8Array.from(sent));
    expect(event.bytes).toEqual(sent);
    expect(event.id).toBe(task.id);
    const strings = byteStrings(event.header);
    expect(strings.length).toBeGreaterThan(2);
    for (const b of strings) expect(b.buffer).toBe(event.bytes.buffer);
    // Wiping a header field (a key after use) leaves the signed encoding as it was.
    for (const b of strings) b.fill(0);
    expect(event.bytes).toEqual(sent);
  });
});

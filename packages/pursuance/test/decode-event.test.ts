import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, decodeEvent } from '../src/index.js';
import { clock, template } from './support/helpers.js';

/** Every Uint8Array under `root`. */
function byteStrings(root: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (root instanceof Uint8Array) out.push(root);
  else if (root !== null && typeof root === 'object') for (const key of Object.keys(root)) byteStrings((root as Record<string, unknown>)[key], out);
  return out;
}

describe('decodeEvent: what it hands back', () => {
  it('the header’s byte strings are copies of their own, never views of the bytes given, so wiping one (a key after use) leaves the encoding as it was', () => {
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell 1', rules: template('activist-cell') }, now);
    const task = founder.createTask({ audience: ['member'], title: 'Print flyers' });
    const sent = Uint8Array.from(task.bytes);
    // The event in the middle of a larger buffer, as a frame or a page of rows hands it over.
    const frame = new Uint8Array(sent.length + 64).fill(0xee);
    frame.set(sent, 32);
    const given = frame.subarray(32, 32 + sent.length);
    const event = decodeEvent(given);
    expect(event.id).toBe(task.id);
    expect(event.bytes).toEqual(sent);
    const strings = byteStrings(event.header);
    expect(strings.length).toBeGreaterThan(2);
    for (const b of strings) expect(b.buffer).not.toBe(frame.buffer);
    for (const b of strings) b.fill(0);
    expect(event.bytes).toEqual(sent);
    expect(frame.subarray(0, 32).every((x) => x === 0xee) && frame.subarray(32 + sent.length).every((x) => x === 0xee)).toBe(true);
    // Decoded again from the same bytes: the same event (nothing above changed what was given).
    expect(decodeEvent(given).id).toBe(task.id);
  });
});

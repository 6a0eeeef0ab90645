import { createHash } from 'node:crypto';
import { expect } from 'vitest';

/** Test-local hex helpers, independent of the package's own (so a bug there cannot hide). */
export function unhex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new Error(`bad hex in test vector: ${hex.slice(0, 16)}…`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Copy of `bytes` with bit `bit` of byte `index` flipped. */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = new Uint8Array(bytes);
  out[index] = out[index]! ^ (1 << bit);
  return out;
}

/** RFC 4648 base32 (uppercase, no padding), written here so onion tests don't reuse the code under test. */
export function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

/** rend-spec-v3 onion name, computed independently of src/onion.ts. */
export function referenceOnion(publicKey: Uint8Array, version = 0x03, corruptChecksum = false): string {
  const checksum = createHash('sha3-256').update('.onion checksum').update(publicKey).update(Uint8Array.of(version)).digest().subarray(0, 2);
  if (corruptChecksum) checksum[0] = checksum[0]! ^ 0x01;
  return base32(Buffer.concat([publicKey, checksum, Uint8Array.of(version)])).toLowerCase();
}

/** Assert `fn` throws an instance of `type` (and return it for further checks). */
export function expectThrowsType<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(type);
  return thrown as E;
}

export async function expectRejectsType<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  let thrown: unknown;
  try {
    await promise;
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a rejection').toBeInstanceOf(type);
  return thrown as E;
}

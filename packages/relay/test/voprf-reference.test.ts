import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ristretto255, ristretto255_hasher, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { sha512, toHex } from '@pursuance/crypto';
import { TokenProofInvalidError } from '../src/errors.js';
import { blindInputs, deriveVoprfKeyPair, evaluateBlindedBatch, evaluateInput, finalizeBatch, isValidElement, voprfKeyPairFromSecret } from '../src/voprf.js';

/**
 * The VOPRF runs on libsodium's ristretto255; @noble/curves' RFC 9497 implementation is the
 * reference. Every function must give noble's bytes on random inputs, with the same random
 * draws fed to both (a fixed RNG), and refuse what noble refuses.
 */
const noble = ristretto255_oprf.voprf;
const { Point } = ristretto255;
const ORDER = Point.Fn.ORDER;
const u16 = (n: number) => Uint8Array.of(n >>> 8, n & 0xff);

/**
 * RFC 9497 §3.3.2 Evaluate from noble's primitives (noble runs it but does not declare it for
 * the VOPRF mode): Hash(len ‖ input ‖ len ‖ skS·HashToGroup(input) ‖ "Finalize").
 */
function nobleEvaluate(secretKey: Uint8Array, input: Uint8Array): Uint8Array {
  const dst = new TextEncoder().encode('HashToGroup-OPRFV1-\x01-ristretto255-SHA512');
  const element = ristretto255_hasher.hashToCurve(input, { DST: dst }).multiply(Point.Fn.fromBytes(secretKey)).toBytes();
  return sha512(u16(input.length), input, u16(element.length), element, new TextEncoder().encode('Finalize'));
}

/** An RNG that hands out the given 48-byte draws in order (both implementations draw 48 bytes per scalar). */
function draws(list: readonly Uint8Array[]): (length?: number) => Uint8Array {
  let next = 0;
  return (length) => {
    const draw = list[next++];
    if (draw === undefined || length !== 48) throw new Error('unexpected draw');
    return draw;
  };
}

const draw48 = fc.uint8Array({ minLength: 48, maxLength: 48 });
const input = fc.uint8Array({ maxLength: 80 });
const keyPair = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((seed) => deriveVoprfKeyPair(seed, Uint8Array.of(1)));
/** Inputs with their blinding draws, blinded by noble. */
const batch = fc
  .array(fc.tuple(input, draw48), { minLength: 1, maxLength: 6 })
  .map((pairs) => pairs.map(([i, d]) => ({ input: i, ...noble.blind(i, draws([d])) })));

function le(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

function toLe32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}

describe('VOPRF fast path equals @noble/curves (the reference)', () => {
  it('DeriveKeyPair and the key from a stored secret', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }), (seed, info) => {
        const fast = deriveVoprfKeyPair(seed, info);
        const reference = noble.deriveKeyPair(seed, info);
        expect(toHex(fast.secretKey)).toBe(toHex(reference.secretKey));
        expect(toHex(fast.publicKey)).toBe(toHex(reference.publicKey));
        expect(toHex(voprfKeyPairFromSecret(reference.secretKey).publicKey)).toBe(toHex(reference.publicKey));
      }),
      { numRuns: 100 },
    );
  });

  it('Blind, with the same random draws', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(input, draw48), { minLength: 1, maxLength: 6 }), (pairs) => {
        const fast = blindInputs(
          pairs.map(([i]) => i),
          draws(pairs.map(([, d]) => d)),
        );
        pairs.forEach(([i, d], k) => {
          const reference = noble.blind(i, draws([d]));
          expect(toHex(fast[k]!.blind)).toBe(toHex(reference.blind));
          expect(toHex(fast[k]!.blinded)).toBe(toHex(reference.blinded));
        });
      }),
      { numRuns: 60 },
    );
  });

  it('BlindEvaluateBatch: evaluated elements and the batch DLEQ proof, with the same proof nonce', () => {
    fc.assert(
      fc.property(keyPair, batch, draw48, (key, items, nonce) => {
        const blinded = items.map((i) => i.blinded);
        const fast = evaluateBlindedBatch(key, blinded, draws([nonce]));
        const reference = noble.blindEvaluateBatch(key.secretKey, key.publicKey, blinded, draws([nonce]));
        expect(fast.evaluated.map(toHex)).toEqual(reference.evaluated.map(toHex));
        expect(toHex(fast.proof)).toBe(toHex(reference.proof));
      }),
      { numRuns: 40 },
    );
  });

  it('FinalizeBatch accepts noble’s proofs and gives noble’s outputs; Evaluate agrees', () => {
    fc.assert(
      fc.property(keyPair, batch, (key, items) => {
        const reference = noble.blindEvaluateBatch(
          key.secretKey,
          key.publicKey,
          items.map((i) => i.blinded),
        );
        const outputs = finalizeBatch(items, reference.evaluated, key.publicKey, reference.proof);
        const expected = noble.finalizeBatch(
          items.map((item, k) => ({ ...item, evaluated: reference.evaluated[k]! })),
          key.publicKey,
          reference.proof,
        );
        expect(outputs.map(toHex)).toEqual(expected.map(toHex));
        expect(items.map((i) => toHex(evaluateInput(key.secretKey, i.input)))).toEqual(items.map((i) => toHex(nobleEvaluate(key.secretKey, i.input))));
      }),
      { numRuns: 40 },
    );
  });

  it('FinalizeBatch refuses what noble refuses: another key, a flipped bit, a non-canonical scalar', () => {
    fc.assert(
      fc.property(keyPair, keyPair, batch, fc.nat({ max: 511 }), fc.boolean(), (key, other, items, bit, bumpC) => {
        fc.pre(toHex(key.secretKey) !== toHex(other.secretKey));
        const blinded = items.map((i) => i.blinded);
        const honest = noble.blindEvaluateBatch(key.secretKey, key.publicKey, blinded);
        const withItems = (evaluated: readonly Uint8Array[]) => items.map((item, k) => ({ ...item, evaluated: evaluated[k]! }));
        const refusedByBoth = (evaluated: Uint8Array[], proof: Uint8Array) => {
          expect(() => noble.finalizeBatch(withItems(evaluated), key.publicKey, proof)).toThrow();
          expect(() => finalizeBatch(items, evaluated, key.publicKey, proof)).toThrow(TokenProofInvalidError);
        };
        const tagged = noble.blindEvaluateBatch(other.secretKey, other.publicKey, blinded);
        refusedByBoth(tagged.evaluated, tagged.proof);
        const flipped = new Uint8Array(honest.proof);
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
        refusedByBoth(honest.evaluated, flipped);
        // c + n or s + n: the same value mod n, but not its canonical encoding.
        const at = bumpC ? 0 : 32;
        const scalar = le(honest.proof.subarray(at, at + 32)) + ORDER;
        if (scalar < 2n ** 256n) {
          const bumped = new Uint8Array(honest.proof);
          bumped.set(toLe32(scalar), at);
          refusedByBoth(honest.evaluated, bumped);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('element validation matches noble’s canonical decoding (identity refused)', () => {
    const reference = (bytes: Uint8Array) => {
      try {
        return !Point.fromBytes(bytes).equals(Point.ZERO);
      } catch {
        return false;
      }
    };
    const element = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      // Valid elements, and the same with one bit flipped (mostly invalid, sometimes valid).
      fc.tuple(input, draw48, fc.nat({ max: 255 }), fc.boolean()).map(([i, d, bit, flip]) => {
        const bytes = new Uint8Array(noble.blind(i, draws([d])).blinded);
        if (flip) bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
        return bytes;
      }),
      fc.constant(new Uint8Array(32)),
      fc.uint8Array({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(element, (bytes) => {
        expect(isValidElement(bytes)).toBe(bytes.length === 32 && reference(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

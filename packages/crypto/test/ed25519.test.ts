import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, InvalidOnionAddressError, onionFromPublicKey, publicKeyFromOnion, defaultVerifier, sha512, verifySignature } from '../src/index.js';
import { ED25519_SIGNATURE_LENGTH, isWeakPublicKey, NaclSignatureVerifier, NodeSignatureVerifier, publicKeyFromSeed } from '../src/ed25519.js';
import { InvalidKeyError, InvalidSignatureFormatError } from '../src/errors.js';
import { expectThrowsType, flipBit, hex, unhex, utf8 } from './support/helpers.js';
import { RFC8032_ED25519 } from './vectors/rfc8032.js';
import { TOR_ED25519_VECTORS } from './vectors/tor.js';

const node = new NodeSignatureVerifier();
const nacl = new NaclSignatureVerifier();
const verifiers = [node, nacl] as const;

/** L, the order of the ed25519 base point (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function scalarOf(signature: Uint8Array): bigint {
  return BigInt('0x' + hex(signature.slice(32).reverse()));
}

function withScalar(signature: Uint8Array, s: bigint): Uint8Array {
  const out = new Uint8Array(signature);
  let rest = s;
  for (let i = 32; i < 64; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  expect(rest).toBe(0n);
  return out;
}

describe('RFC 8032 §7.1 Ed25519 test vectors', () => {
  for (const v of RFC8032_ED25519) {
    describe(v.name, () => {
      const seed = unhex(v.secretKey);
      const message = unhex(v.message);
      const signature = unhex(v.signature);
      const publicKey = unhex(v.publicKey);

      it('derives the public key from the seed', () => {
        expect(hex(publicKeyFromSeed(seed))).toBe(v.publicKey);
        expect(hex(Identity.fromSeed(seed).publicKey)).toBe(v.publicKey);
      });

      it('produces the exact signature bytes', () => {
        expect(hex(Identity.fromSeed(seed).sign(message))).toBe(v.signature);
      });

      it('verifies with the node:crypto and tweetnacl verifiers', () => {
        for (const verifier of verifiers) expect(verifier.verify(message, signature, publicKey), verifier.name).toBe(true);
        expect(verifySignature(message, signature, publicKey)).toBe(true);
        expect(Identity.fromSeed(seed).verify(message, signature)).toBe(true);
      });

      it('rejects the signature for a changed message or a flipped signature bit', () => {
        const otherMessage = message.length === 0 ? Uint8Array.of(0) : flipBit(message, message.length - 1);
        for (const verifier of verifiers) {
          expect(verifier.verify(otherMessage, signature, publicKey), verifier.name).toBe(false);
          expect(verifier.verify(message, flipBit(signature, 0), publicKey), `${verifier.name} R`).toBe(false);
          expect(verifier.verify(message, flipBit(signature, 40, 3), publicKey), `${verifier.name} S`).toBe(false);
          expect(verifier.verify(message, signature, flipBit(publicKey, 5)), `${verifier.name} key`).toBe(false);
        }
      });
    });
  }

  it('TEST SHA(abc) signs the SHA-512 digest of "abc"', () => {
    const vector = RFC8032_ED25519.find((v) => v.name.startsWith('TEST SHA(abc)'));
    expect(vector).toBeDefined();
    expect(hex(sha512(utf8('abc')))).toBe(vector!.message);
  });

  it('TEST 1024 really has a 1023-byte message', () => {
    expect(unhex(RFC8032_ED25519.find((v) => v.name.startsWith('TEST 1024'))!.message).length).toBe(1023);
  });
});

describe("tor's ed25519 vectors (src/test/ed25519_vectors.inc)", () => {
  it('derive the listed public keys and self-signatures (sign(publicKey))', () => {
    for (const v of TOR_ED25519_VECTORS) {
      const id = Identity.fromSeed(unhex(v.seed));
      expect(hex(id.publicKey)).toBe(v.publicKey);
      expect(hex(id.sign(id.publicKey))).toBe(v.selfSignature);
      for (const verifier of verifiers) {
        expect(verifier.verify(unhex(v.publicKey), unhex(v.selfSignature), unhex(v.publicKey))).toBe(true);
      }
    }
  });
});

describe('signing', () => {
  it('is deterministic (RFC 8032 signatures have no per-signature randomness)', () => {
    const id = Identity.generate();
    const message = utf8('same message twice');
    expect(hex(id.sign(message))).toBe(hex(id.sign(message)));
    expect(id.sign(message)).toHaveLength(ED25519_SIGNATURE_LENGTH);
  });

  it('different identities do not verify each other', () => {
    const a = Identity.generate();
    const b = Identity.generate();
    const sig = a.sign(utf8('hello'));
    expect(b.verify(utf8('hello'), sig)).toBe(false);
    expect(a.verify(utf8('hello'), sig)).toBe(true);
  });

  it('Identity.fromSeed copies the seed (later changes to the caller buffer do not matter)', () => {
    const seed = unhex(RFC8032_ED25519[1]!.secretKey);
    const id = Identity.fromSeed(seed);
    seed.fill(0);
    expect(hex(id.sign(unhex('72')))).toBe(RFC8032_ED25519[1]!.signature);
  });

  it('rejects seeds that are not 32 bytes', () => {
    expectThrowsType(() => Identity.fromSeed(new Uint8Array(31)), InvalidKeyError);
    expectThrowsType(() => Identity.fromSeed(new Uint8Array(33)), InvalidKeyError);
    expectThrowsType(() => publicKeyFromSeed(new Uint8Array(0)), InvalidKeyError);
  });
});

describe('verifiers: malformed input', () => {
  const id = Identity.fromSeed(unhex(RFC8032_ED25519[0]!.secretKey));
  const sig = unhex(RFC8032_ED25519[0]!.signature);

  for (const verifier of verifiers) {
    it(`${verifier.name}: throws InvalidSignatureFormatError for a signature that is not 64 bytes`, () => {
      expectThrowsType(() => verifier.verify(new Uint8Array(), sig.subarray(0, 63), id.publicKey), InvalidSignatureFormatError);
      expectThrowsType(() => verifier.verify(new Uint8Array(), new Uint8Array(65), id.publicKey), InvalidSignatureFormatError);
      expectThrowsType(() => verifier.verify(new Uint8Array(), new Uint8Array(0), id.publicKey), InvalidSignatureFormatError);
    });

    it(`${verifier.name}: throws InvalidKeyError for a public key that is not 32 bytes`, () => {
      expectThrowsType(() => verifier.verify(new Uint8Array(), sig, id.publicKey.subarray(0, 31)), InvalidKeyError);
      expectThrowsType(() => verifier.verify(new Uint8Array(), sig, new Uint8Array(33)), InvalidKeyError);
    });

    it(`${verifier.name}: returns false (does not throw) for a 32-byte key that is not a curve point`, () => {
      // y = 2 has no x on edwards25519 (x25519PublicFromEd25519 refuses it too, see x25519.test.ts).
      const notAPoint = unhex('02'.padEnd(64, '0'));
      expect(verifier.verify(new Uint8Array(), sig, notAPoint)).toBe(false);
      expect(verifier.verify(new Uint8Array(), sig, notAPoint)).toBe(false); // second call: node's cached `null`
    });

    it(`${verifier.name}: rejects the malleated signature (R, S + L) and S = L`, () => {
      // RFC 8032 §5.1.7 requires S < L; otherwise every signature has a second valid encoding.
      const message = utf8('malleability');
      const good = id.sign(message);
      const s = scalarOf(good);
      expect(s < L).toBe(true);
      expect(verifier.verify(message, good, id.publicKey)).toBe(true);
      expect(verifier.verify(message, withScalar(good, s + L), id.publicKey)).toBe(false);
      expect(verifier.verify(message, withScalar(good, L), id.publicKey)).toBe(false);
    });
  }

  it('the default verifier is the node:crypto one', () => {
    expect(defaultVerifier).toBeInstanceOf(NodeSignatureVerifier);
  });

  it('NodeSignatureVerifier stays correct when its key cache evicts', () => {
    const small = new NodeSignatureVerifier(2);
    const ids = [0, 1, 2, 3].map((i) => Identity.fromSeed(new Uint8Array(32).fill(i + 1)));
    const message = utf8('cache');
    const sigs = ids.map((i) => i.sign(message));
    for (let round = 0; round < 3; round++) {
      ids.forEach((signer, i) => {
        expect(small.verify(message, sigs[i]!, signer.publicKey)).toBe(true);
        expect(small.verify(message, sigs[(i + 1) % ids.length]!, signer.publicKey)).toBe(false);
      });
    }
  });
});

describe('node:crypto and tweetnacl verifiers agree (property)', () => {
  // tweetnacl's verify costs ~6–10 ms here, so these properties run 50 times each.
  const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const messageArb = fc.uint8Array({ maxLength: 300 });

  it('on valid signatures (both true)', () => {
    fc.assert(
      fc.property(seedArb, messageArb, (seed, message) => {
        const id = Identity.fromSeed(seed);
        const sig = id.sign(message);
        expect(node.verify(message, sig, id.publicKey)).toBe(true);
        expect(nacl.verify(message, sig, id.publicKey)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('on signatures with one flipped bit (both false)', () => {
    fc.assert(
      fc.property(seedArb, messageArb, fc.nat({ max: 63 }), fc.nat({ max: 7 }), (seed, message, index, bit) => {
        const id = Identity.fromSeed(seed);
        const bad = flipBit(id.sign(message), index, bit);
        expect(node.verify(message, bad, id.publicKey)).toBe(false);
        expect(nacl.verify(message, bad, id.publicKey)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('on altered messages (both false)', () => {
    const alteredArb = fc
      .tuple(messageArb, fc.oneof(fc.constant('append' as const), fc.constant('flip' as const), fc.constant('truncate' as const)), fc.nat())
      .filter(([m, how]) => how === 'append' || m.length > 0);
    fc.assert(
      fc.property(seedArb, alteredArb, (seed, [message, how, n]) => {
        const id = Identity.fromSeed(seed);
        const sig = id.sign(message);
        let altered: Uint8Array;
        if (how === 'append') altered = Uint8Array.from([...message, n & 0xff]);
        else if (how === 'flip') altered = flipBit(message, n % message.length, n % 8);
        else altered = message.subarray(0, n % message.length);
        expect(node.verify(altered, sig, id.publicKey)).toBe(false);
        expect(nacl.verify(altered, sig, id.publicKey)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('on signatures checked against another identity (both false)', () => {
    fc.assert(
      fc.property(seedArb, seedArb, messageArb, (seedA, seedB, message) => {
        fc.pre(hex(seedA) !== hex(seedB));
        const a = Identity.fromSeed(seedA);
        const b = Identity.fromSeed(seedB);
        const sig = a.sign(message);
        expect(node.verify(message, sig, b.publicKey)).toBe(false);
        expect(nacl.verify(message, sig, b.publicKey)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });
});

describe('small-order public keys', () => {
  // The identity point (y = 1) and a point of order 2 (y = -1): torsion points, never honest keys.
  const identityPoint = new Uint8Array(32);
  identityPoint[0] = 1;
  const orderTwo = unhex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
  const universalSignature = new Uint8Array(64);
  universalSignature.set(identityPoint, 0); // R = identity, S = 0

  it('are weak, and no signature under them verifies (not even the universal forgery)', () => {
    for (const key of [identityPoint, orderTwo]) {
      expect(isWeakPublicKey(key)).toBe(true);
      expect(new NodeSignatureVerifier().verify(utf8('any message'), universalSignature, key)).toBe(false);
      expect(new NaclSignatureVerifier().verify(utf8('any message'), universalSignature, key)).toBe(false);
    }
    expect(isWeakPublicKey(Identity.generate().publicKey)).toBe(false);
  });

  it('are refused as onion names', () => {
    expect(() => publicKeyFromOnion(onionFromPublicKey(identityPoint))).toThrow(InvalidOnionAddressError);
  });
});

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, x25519, x25519PublicFromEd25519, x25519SecretFromEd25519Seed } from '../src/index.js';
import { InvalidKeyError, WeakSharedSecretError } from '../src/errors.js';
import { generateX25519KeyPair, x25519PublicFromSecret } from '../src/x25519.js';
import { expectThrowsType, hex, unhex } from './support/helpers.js';
import { NOBLE_ED_TO_X25519, RFC7748_DH, RFC7748_ITERATED, RFC7748_SCALAR_MULT, X25519_LOW_ORDER_POINTS } from './vectors/rfc7748.js';
import { RFC8032_ED25519 } from './vectors/rfc8032.js';
import { TOR_ED25519_VECTORS } from './vectors/tor.js';

describe('RFC 7748 X25519 vectors', () => {
  it('§5.2 scalar multiplication vectors (including a u with its top bit set)', () => {
    for (const v of RFC7748_SCALAR_MULT) {
      expect(hex(x25519(unhex(v.scalar), unhex(v.u)))).toBe(v.output);
    }
  });

  it('§5.2 iterated vector after 1 and 1000 iterations', () => {
    let k = unhex(RFC7748_ITERATED.start);
    let u = unhex(RFC7748_ITERATED.start);
    for (let i = 1; i <= 1000; i++) {
      const next = x25519(k, u);
      u = k;
      k = next;
      if (i === 1) expect(hex(k)).toBe(RFC7748_ITERATED.after1);
    }
    expect(hex(k)).toBe(RFC7748_ITERATED.after1000);
  });

  it('§6.1 Diffie-Hellman: public keys and the shared secret, both directions', () => {
    const a = unhex(RFC7748_DH.alicePrivate);
    const b = unhex(RFC7748_DH.bobPrivate);
    expect(hex(x25519PublicFromSecret(a))).toBe(RFC7748_DH.alicePublic);
    expect(hex(x25519PublicFromSecret(b))).toBe(RFC7748_DH.bobPublic);
    expect(hex(x25519(a, unhex(RFC7748_DH.bobPublic)))).toBe(RFC7748_DH.shared);
    expect(hex(x25519(b, unhex(RFC7748_DH.alicePublic)))).toBe(RFC7748_DH.shared);
  });

  it('x25519PublicFromSecret equals X25519(k, 9)', () => {
    const nine = unhex(RFC7748_ITERATED.start);
    for (const k of [RFC7748_DH.alicePrivate, RFC7748_DH.bobPrivate, RFC7748_SCALAR_MULT[0]!.scalar]) {
      expect(hex(x25519PublicFromSecret(unhex(k)))).toBe(hex(x25519(unhex(k), nine)));
    }
  });
});

describe('low-order public keys', () => {
  it('every low-order u-coordinate gives WeakSharedSecretError', () => {
    const secret = unhex(RFC7748_DH.alicePrivate);
    for (const point of X25519_LOW_ORDER_POINTS) {
      const err = expectThrowsType(() => x25519(secret, unhex(point)), WeakSharedSecretError);
      expect(err.code).toBe('WEAK_SHARED_SECRET');
    }
  });

  it('also with a freshly generated secret key', () => {
    const { secretKey } = generateX25519KeyPair();
    for (const point of X25519_LOW_ORDER_POINTS) expectThrowsType(() => x25519(secretKey, unhex(point)), WeakSharedSecretError);
  });
});

describe('X25519 input validation', () => {
  it('rejects keys that are not 32 bytes with InvalidKeyError', () => {
    const k = unhex(RFC7748_DH.alicePrivate);
    const p = unhex(RFC7748_DH.bobPublic);
    expectThrowsType(() => x25519(k.subarray(0, 31), p), InvalidKeyError);
    expectThrowsType(() => x25519(k, p.subarray(0, 31)), InvalidKeyError);
    expectThrowsType(() => x25519(new Uint8Array(33), p), InvalidKeyError);
    expectThrowsType(() => x25519(k, new Uint8Array(33)), InvalidKeyError);
    expectThrowsType(() => x25519PublicFromSecret(new Uint8Array(16)), InvalidKeyError);
  });

  it('ed25519 → X25519 conversions reject bad input with InvalidKeyError', () => {
    expectThrowsType(() => x25519PublicFromEd25519(new Uint8Array(31)), InvalidKeyError);
    expectThrowsType(() => x25519SecretFromEd25519Seed(new Uint8Array(33)), InvalidKeyError);
    // y = 2 is not the y-coordinate of any edwards25519 point.
    expectThrowsType(() => x25519PublicFromEd25519(unhex('02'.padEnd(64, '0'))), InvalidKeyError);
  });
});

describe('generateX25519KeyPair', () => {
  it('returns 32-byte keys whose public half matches the secret, and agreeing pairs', () => {
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    expect(a.secretKey).toHaveLength(32);
    expect(a.publicKey).toHaveLength(32);
    expect(hex(x25519PublicFromSecret(a.secretKey))).toBe(hex(a.publicKey));
    expect(hex(a.publicKey)).not.toBe(hex(b.publicKey));
    expect(hex(x25519(a.secretKey, b.publicKey))).toBe(hex(x25519(b.secretKey, a.publicKey)));
  });
});

describe('ed25519 → X25519 conversion', () => {
  it("matches tor's curve25519 keys for its ed25519 vectors (src/test/ed25519_vectors.inc)", () => {
    for (const v of TOR_ED25519_VECTORS) {
      const seed = unhex(v.seed);
      const secret = x25519SecretFromEd25519Seed(seed);
      // tor uses the first (clamped) half of its expanded key as the curve25519 secret.
      expect(hex(secret)).toBe(v.expandedSecretKey.slice(0, 64));
      expect(hex(x25519PublicFromSecret(secret))).toBe(v.curve25519PublicKey);
      expect(hex(x25519PublicFromEd25519(unhex(v.publicKey)))).toBe(v.curve25519PublicKey);
    }
  });

  it("matches noble-curves' edwardsToMontgomery known answer", () => {
    const seed = unhex(NOBLE_ED_TO_X25519.edSeed);
    expect(hex(x25519SecretFromEd25519Seed(seed))).toBe(NOBLE_ED_TO_X25519.x25519Secret);
    expect(hex(x25519PublicFromEd25519(Identity.fromSeed(seed).publicKey))).toBe(NOBLE_ED_TO_X25519.x25519Public);
  });

  it('the secret is the clamped first half of SHA-512(seed) (RFC 8032 §5.1.5), for the RFC 8032 seeds', () => {
    for (const v of RFC8032_ED25519) {
      const h = createHash('sha512').update(unhex(v.secretKey)).digest().subarray(0, 32);
      h[0] = h[0]! & 248;
      h[31] = (h[31]! & 127) | 64;
      const secret = x25519SecretFromEd25519Seed(unhex(v.secretKey));
      expect(hex(secret)).toBe(hex(h));
      expect(hex(x25519PublicFromSecret(secret))).toBe(hex(x25519PublicFromEd25519(unhex(v.publicKey))));
    }
  });

  it('x25519PublicFromSecret(x25519SecretFromEd25519Seed(seed)) = x25519PublicFromEd25519(pub), for random seeds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const pub = Identity.fromSeed(seed).publicKey;
        expect(hex(x25519PublicFromSecret(x25519SecretFromEd25519Seed(seed)))).toBe(hex(x25519PublicFromEd25519(pub)));
      }),
      { numRuns: 100 },
    );
  });

  it('identities agree on a shared secret: x25519(a.secret, b.public) = x25519(b.secret, a.public)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (sa, sb) => {
        fc.pre(hex(sa) !== hex(sb));
        const a = Identity.fromSeed(sa);
        const b = Identity.fromSeed(sb);
        const ab = x25519(a.x25519SecretKey(), b.x25519PublicKey());
        const ba = x25519(b.x25519SecretKey(), a.x25519PublicKey());
        expect(hex(ab)).toBe(hex(ba));
        expect(hex(a.x25519PublicKey())).toBe(hex(x25519PublicFromSecret(a.x25519SecretKey())));
        // A third party's key gives a different secret.
        const c = generateX25519KeyPair();
        expect(hex(x25519(a.x25519SecretKey(), c.publicKey))).not.toBe(hex(ab));
      }),
      { numRuns: 100 },
    );
  });

  it('Identity returns copies: mutating a returned key does not change the next one', () => {
    const id = Identity.fromSeed(unhex(RFC8032_ED25519[0]!.secretKey));
    const secret = id.x25519SecretKey();
    const pub = id.x25519PublicKey();
    const secretHex = hex(secret);
    const pubHex = hex(pub);
    secret.fill(0);
    pub.fill(0);
    expect(hex(id.x25519SecretKey())).toBe(secretHex);
    expect(hex(id.x25519PublicKey())).toBe(pubHex);
  });

  it('Identity.diffieHellman agrees with x25519() and with the peer, and refuses low-order keys', () => {
    const a = Identity.fromSeed(unhex(RFC8032_ED25519[0]!.secretKey));
    const b = Identity.fromSeed(unhex(RFC8032_ED25519[1]!.secretKey));
    const expected = hex(x25519(a.x25519SecretKey(), b.x25519PublicKey()));
    expect(hex(a.diffieHellman(b.x25519PublicKey()))).toBe(expected);
    expect(hex(a.diffieHellman(b.x25519PublicKey()))).toBe(expected); // cached key object, same answer
    expect(hex(b.diffieHellman(a.x25519PublicKey()))).toBe(expected);
    const peer = generateX25519KeyPair();
    expect(hex(a.diffieHellman(peer.publicKey))).toBe(hex(x25519(peer.secretKey, a.x25519PublicKey())));
    for (const point of X25519_LOW_ORDER_POINTS) expectThrowsType(() => a.diffieHellman(unhex(point)), WeakSharedSecretError);
    expectThrowsType(() => a.diffieHellman(new Uint8Array(31)), InvalidKeyError);
  });
});

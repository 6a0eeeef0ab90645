import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  Identity,
  InvalidKeyError,
  ROLE_BOX_OVERHEAD,
  RoleKeyPair,
  isUsableBoxKey,
  isUsableSigningKey,
  concatBytes,
  sealToRole,
  secretboxOpen,
  verifySignature,
} from '../src/index.js';
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { X25519_LOW_ORDER_POINTS } from './vectors/rfc7748.js';

const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('role key pairs derived from a role secret', () => {
  it('derive the same public keys from the same secret, unrelated ones from another', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
        const pa = RoleKeyPair.fromSecret(a).publicKeys;
        expect(RoleKeyPair.fromSecret(Uint8Array.from(a)).publicKeys).toEqual(pa);
        expect(isUsableBoxKey(pa.box)).toBe(true);
        expect(isUsableSigningKey(pa.sig)).toBe(true);
        // The two halves are separate keys, not one key in two encodings.
        expect(Buffer.from(pa.sig).equals(Buffer.from(pa.box))).toBe(false);
        if (!Buffer.from(a).equals(Buffer.from(b))) {
          const pb = RoleKeyPair.fromSecret(b).publicKeys;
          expect(Buffer.from(pb.sig).equals(Buffer.from(pa.sig))).toBe(false);
          expect(Buffer.from(pb.box).equals(Buffer.from(pa.box))).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('derives exactly HKDF-SHA-256(secret, label) → ed25519 / X25519, as an independent implementation computes it', () => {
    // @noble is a second implementation: if the labels or the derivation changed silently, every
    // published role key would stop matching the secrets its holders keep.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        const pair = RoleKeyPair.fromSecret(secret);
        const seed = nobleHkdf(nobleSha256, secret, new Uint8Array(0), text('pursuance/role/ed25519/v2'), 32);
        const boxSecret = nobleHkdf(nobleSha256, secret, new Uint8Array(0), text('pursuance/role/x25519/v2'), 32);
        expect(pair.publicKeys.sig).toEqual(ed25519.getPublicKey(seed));
        expect(pair.publicKeys.box).toEqual(nobleX25519.getPublicKey(boxSecret));
      }),
      { numRuns: 20 },
    );
  });

  it('signs with a key whose public half verifies, and only that one', () => {
    const pair = RoleKeyPair.fromSecret(new Uint8Array(32).fill(1));
    const other = RoleKeyPair.fromSecret(new Uint8Array(32).fill(2));
    const sig = pair.sign(text('hello'));
    expect(verifySignature(text('hello'), sig, pair.publicKeys.sig)).toBe(true);
    expect(verifySignature(text('hellO'), sig, pair.publicKeys.sig)).toBe(false);
    expect(verifySignature(text('hello'), sig, other.publicKeys.sig)).toBe(false);
  });

  it('refuses a secret of the wrong length', () => {
    for (const n of [0, 16, 31, 33, 64]) expect(() => RoleKeyPair.fromSecret(new Uint8Array(n)), `${n} bytes`).toThrow(InvalidKeyError);
  });
});

describe('sealing to a role', () => {
  const editors = RoleKeyPair.fromSecret(new Uint8Array(32).fill(3));
  const sources = RoleKeyPair.fromSecret(new Uint8Array(32).fill(4));
  const context = text('pursuance p / role editors / epoch 1');

  it('round-trips for the role under the same context only, with a fixed overhead', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }), (m, otherContext) => {
        const sealed = sealToRole(editors.publicKeys.box, m, context);
        expect(sealed.length).toBe(m.length + ROLE_BOX_OVERHEAD);
        expect(editors.open(sealed, context)).toEqual(m);
        expect(() => sources.open(sealed, context)).toThrow(DecryptionError);
        if (!Buffer.from(otherContext).equals(Buffer.from(context))) expect(() => editors.open(sealed, otherContext)).toThrow(DecryptionError);
      }),
      { numRuns: 60 },
    );
  });

  it('seals under exactly SHA-256(domain ‖ SHA-256(context) ‖ X25519 ‖ ephemeral ‖ recipient), as an independent implementation computes it', () => {
    const secret = new Uint8Array(32).fill(3);
    const sealed = sealToRole(editors.publicKeys.box, text('a tip'), context);
    const boxSecret = nobleHkdf(nobleSha256, secret, new Uint8Array(0), text('pursuance/role/x25519/v2'), 32);
    const ephemeral = sealed.subarray(0, 32);
    const shared = nobleX25519.getSharedSecret(boxSecret, ephemeral);
    const key = nobleSha256(concatBytes(text('pursuance/role-box/v1'), nobleSha256(context), shared, ephemeral, editors.publicKeys.box));
    expect(secretboxOpen(key, sealed.subarray(32))).toEqual(text('a tip'));
  });

  it('says why a box does not open: too short, or a non-canonical ephemeral key', () => {
    const sealed = sealToRole(editors.publicKeys.box, text('a tip'), context);
    expect(() => editors.open(sealed.subarray(0, ROLE_BOX_OVERHEAD - 1), context)).toThrow(/too short/);
    const top = sealed.slice();
    top[31] = top[31]! | 0x80;
    expect(() => editors.open(top, context)).toThrow(/non-canonical ephemeral key/);
    expect(() => RoleKeyPair.fromSecret(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => sealToRole(new Uint8Array(32), text('x'), context)).toThrow(/not a usable X25519 public key/);
  });

  it('two boxes of one message differ (a fresh ephemeral key each time)', () => {
    const a = sealToRole(editors.publicKeys.box, text('tip'), context);
    const b = sealToRole(editors.publicKeys.box, text('tip'), context);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('fails closed on any altered byte, truncation, a flipped top bit or a low-order ephemeral key', () => {
    const sealed = sealToRole(editors.publicKeys.box, text('a tip'), context);
    for (let i = 0; i < sealed.length; i++) {
      const t = sealed.slice();
      t[i] = t[i]! ^ 0x01;
      expect(() => editors.open(t, context), `byte ${i}`).toThrow(DecryptionError);
    }
    const top = sealed.slice();
    top[31] = top[31]! | 0x80;
    expect(() => editors.open(top, context)).toThrow(DecryptionError);
    for (const n of [0, 31, 32, ROLE_BOX_OVERHEAD - 1]) expect(() => editors.open(sealed.subarray(0, n), context)).toThrow(DecryptionError);
    for (const point of X25519_LOW_ORDER_POINTS) {
      const t = sealed.slice();
      t.set(unhex(point), 0);
      expect(() => editors.open(t, context), point).toThrow(DecryptionError);
    }
  });

  it('refuses to seal to a key that is low-order, non-canonical or the wrong length', () => {
    for (const point of X25519_LOW_ORDER_POINTS) {
      expect(isUsableBoxKey(unhex(point)), point).toBe(false);
      expect(() => sealToRole(unhex(point), text('x'), context)).toThrow(InvalidKeyError);
    }
    // p itself and 2^255 - 1: not reduced, so one key would have two encodings.
    const p = unhex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(isUsableBoxKey(p)).toBe(false);
    expect(isUsableBoxKey(new Uint8Array(32).fill(0xff))).toBe(false);
    // p + 2 ≡ 2, an ordinary coordinate once reduced: refused only because it is not reduced.
    expect(isUsableBoxKey(unhex('ef' + 'ff'.repeat(30) + '7f'))).toBe(false);
    expect(isUsableBoxKey(unhex('02' + '00'.repeat(31)))).toBe(true);
    expect(isUsableBoxKey(new Uint8Array(31).fill(9))).toBe(false);
    // p - 20 is reduced: u = p - 1 - 19 is an ordinary coordinate.
    const reduced = unhex('d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(isUsableBoxKey(reduced)).toBe(true);
  });

  it('refuses a signing key of small order or off the curve', () => {
    expect(isUsableSigningKey(Identity.generate().publicKey)).toBe(true);
    // The identity point (y = 1) verifies forged signatures for every message.
    expect(isUsableSigningKey(unhex('0100000000000000000000000000000000000000000000000000000000000000'))).toBe(false);
    expect(isUsableSigningKey(new Uint8Array(31))).toBe(false);
  });
});

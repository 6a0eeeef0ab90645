import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptionError, Identity, randomKey, secretboxOpen, secretboxSeal } from '../src/index.js';
import { InvalidKeyError } from '../src/errors.js';
import {
  SEALED_OVERHEAD,
  SECRETBOX_KEY_LENGTH,
  SECRETBOX_NONCE_LENGTH,
  SECRETBOX_OVERHEAD,
  boxOpen,
  boxSeal,
  openSealedToPublicKey,
  sealToPublicKey,
} from '../src/nacl.js';
import { generateX25519KeyPair } from '../src/x25519.js';
import { expectThrowsType, flipBit, hex, unhex, utf8 } from './support/helpers.js';
import { NACL_BOX, NACL_FIRSTKEY, NACL_NONCE, NACL_PLAINTEXT } from './vectors/nacl.js';
import { RFC7748_DH } from './vectors/rfc7748.js';

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const messageArb = fc.uint8Array({ maxLength: 200 });

function everyTamperingFails(sealed: Uint8Array, open: (bytes: Uint8Array) => Uint8Array): void {
  for (let i = 0; i < sealed.length; i++) {
    for (const bit of [0, 7]) expectThrowsType(() => open(flipBit(sealed, i, bit)), DecryptionError);
  }
  for (let n = 0; n < sealed.length; n++) expectThrowsType(() => open(sealed.subarray(0, n)), DecryptionError);
  expectThrowsType(() => open(Uint8Array.from([...sealed, 0])), DecryptionError);
}

describe('NaCl known answers (libsodium test/default/secretbox.c, box.c)', () => {
  it('secretboxSeal with the fixed nonce returns nonce ‖ the expected box', () => {
    const sealed = secretboxSeal(unhex(NACL_FIRSTKEY), unhex(NACL_PLAINTEXT), unhex(NACL_NONCE));
    expect(hex(sealed)).toBe(NACL_NONCE + NACL_BOX);
    expect(sealed).toHaveLength(SECRETBOX_NONCE_LENGTH + SECRETBOX_OVERHEAD + NACL_PLAINTEXT.length / 2);
  });

  it('secretboxOpen opens the expected box', () => {
    expect(hex(secretboxOpen(unhex(NACL_FIRSTKEY), unhex(NACL_NONCE + NACL_BOX)))).toBe(NACL_PLAINTEXT);
  });

  it('boxOpen opens the crypto_box vector from either side of the RFC 7748 key pairs', () => {
    const sealed = unhex(NACL_NONCE + NACL_BOX);
    // Box made with (bobpk, alicesk): Bob opens with Alice's public key and his secret key …
    expect(hex(boxOpen(unhex(RFC7748_DH.alicePublic), unhex(RFC7748_DH.bobPrivate), sealed))).toBe(NACL_PLAINTEXT);
    // … and the DH is symmetric, so Alice can open her own box too.
    expect(hex(boxOpen(unhex(RFC7748_DH.bobPublic), unhex(RFC7748_DH.alicePrivate), sealed))).toBe(NACL_PLAINTEXT);
  });

  it('boxOpen refuses the vector under an unrelated key pair', () => {
    const other = generateX25519KeyPair();
    expectThrowsType(() => boxOpen(unhex(RFC7748_DH.alicePublic), other.secretKey, unhex(NACL_NONCE + NACL_BOX)), DecryptionError);
  });
});

describe('secretbox', () => {
  it('round trips arbitrary messages, with the documented overhead', () => {
    fc.assert(
      fc.property(keyArb, messageArb, (key, message) => {
        const sealed = secretboxSeal(key, message);
        expect(sealed).toHaveLength(message.length + SEALED_OVERHEAD);
        expect(hex(secretboxOpen(key, sealed))).toBe(hex(message));
      }),
      { numRuns: 300 },
    );
  });

  it('uses a fresh random nonce per seal', () => {
    const key = randomKey();
    const a = secretboxSeal(key, utf8('same'));
    const b = secretboxSeal(key, utf8('same'));
    expect(hex(a.subarray(0, SECRETBOX_NONCE_LENGTH))).not.toBe(hex(b.subarray(0, SECRETBOX_NONCE_LENGTH)));
    expect(hex(a)).not.toBe(hex(b));
  });

  it('randomKey returns distinct 32-byte keys', () => {
    expect(randomKey()).toHaveLength(SECRETBOX_KEY_LENGTH);
    expect(hex(randomKey())).not.toBe(hex(randomKey()));
  });

  it('any flipped bit, any truncation, or an extra byte → DecryptionError', () => {
    const key = randomKey();
    const sealed = secretboxSeal(key, utf8('attack at dawn'));
    everyTamperingFails(sealed, (bytes) => secretboxOpen(key, bytes));
  });

  it('tampering with a random bit of a random message is detected (property)', () => {
    fc.assert(
      fc.property(keyArb, messageArb, fc.nat(), fc.nat({ max: 7 }), (key, message, index, bit) => {
        const sealed = secretboxSeal(key, message);
        expectThrowsType(() => secretboxOpen(key, flipBit(sealed, index % sealed.length, bit)), DecryptionError);
      }),
      { numRuns: 300 },
    );
  });

  it('a wrong key → DecryptionError', () => {
    fc.assert(
      fc.property(keyArb, keyArb, messageArb, (key, other, message) => {
        fc.pre(hex(key) !== hex(other));
        const err = expectThrowsType(() => secretboxOpen(other, secretboxSeal(key, message)), DecryptionError);
        expect(err.code).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 100 },
    );
  });

  it('a wrong key or nonce length → InvalidKeyError', () => {
    expectThrowsType(() => secretboxSeal(new Uint8Array(31), utf8('x')), InvalidKeyError);
    expectThrowsType(() => secretboxSeal(new Uint8Array(33), utf8('x')), InvalidKeyError);
    expectThrowsType(() => secretboxSeal(randomKey(), utf8('x'), new Uint8Array(23)), InvalidKeyError);
    expectThrowsType(() => secretboxSeal(randomKey(), utf8('x'), new Uint8Array(25)), InvalidKeyError);
    expectThrowsType(() => secretboxOpen(new Uint8Array(16), new Uint8Array(64)), InvalidKeyError);
  });
});

describe('box (X25519 + XSalsa20-Poly1305)', () => {
  it('round trips between two key pairs and refuses a third', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const alice = generateX25519KeyPair();
        const bob = generateX25519KeyPair();
        const eve = generateX25519KeyPair();
        const sealed = boxSeal(bob.publicKey, alice.secretKey, message);
        expect(sealed).toHaveLength(message.length + SEALED_OVERHEAD);
        expect(hex(boxOpen(alice.publicKey, bob.secretKey, sealed))).toBe(hex(message));
        expectThrowsType(() => boxOpen(eve.publicKey, bob.secretKey, sealed), DecryptionError);
        expectThrowsType(() => boxOpen(alice.publicKey, eve.secretKey, sealed), DecryptionError);
      }),
      { numRuns: 50 },
    );
  });

  it('works with the X25519 keys derived from ed25519 identities', () => {
    const alice = Identity.generate();
    const bob = Identity.generate();
    const sealed = boxSeal(bob.x25519PublicKey(), alice.x25519SecretKey(), utf8('hi bob'));
    expect(boxOpen(alice.x25519PublicKey(), bob.x25519SecretKey(), sealed)).toEqual(utf8('hi bob'));
  });

  it('any flipped bit, any truncation, or an extra byte → DecryptionError', () => {
    const alice = generateX25519KeyPair();
    const bob = generateX25519KeyPair();
    const sealed = boxSeal(bob.publicKey, alice.secretKey, utf8('a box for bob'));
    everyTamperingFails(sealed, (bytes) => boxOpen(alice.publicKey, bob.secretKey, bytes));
  });

  it('wrong key lengths → InvalidKeyError', () => {
    const k = generateX25519KeyPair();
    expectThrowsType(() => boxSeal(new Uint8Array(31), k.secretKey, utf8('x')), InvalidKeyError);
    expectThrowsType(() => boxSeal(k.publicKey, new Uint8Array(33), utf8('x')), InvalidKeyError);
    expectThrowsType(() => boxOpen(new Uint8Array(31), k.secretKey, new Uint8Array(64)), InvalidKeyError);
    expectThrowsType(() => boxOpen(k.publicKey, new Uint8Array(0), new Uint8Array(64)), InvalidKeyError);
  });
});

describe('sealToPublicKey (anonymous sealed box)', () => {
  it('round trips, with an ephemeral public key prefix', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const recipient = generateX25519KeyPair();
        const sealed = sealToPublicKey(recipient.publicKey, message);
        expect(sealed).toHaveLength(32 + SEALED_OVERHEAD + message.length);
        expect(hex(openSealedToPublicKey(recipient.secretKey, sealed))).toBe(hex(message));
        expectThrowsType(() => openSealedToPublicKey(generateX25519KeyPair().secretKey, sealed), DecryptionError);
      }),
      { numRuns: 50 },
    );
  });

  it('uses a fresh ephemeral key per message', () => {
    const recipient = generateX25519KeyPair();
    const a = sealToPublicKey(recipient.publicKey, utf8('same'));
    const b = sealToPublicKey(recipient.publicKey, utf8('same'));
    expect(hex(a.subarray(0, 32))).not.toBe(hex(b.subarray(0, 32)));
  });

  it('works as a lockbox to an identity', () => {
    const member = Identity.generate();
    const sealed = sealToPublicKey(member.x25519PublicKey(), utf8('group key'));
    expect(openSealedToPublicKey(member.x25519SecretKey(), sealed)).toEqual(utf8('group key'));
    expectThrowsType(() => openSealedToPublicKey(Identity.generate().x25519SecretKey(), sealed), DecryptionError);
  });

  it('any flipped bit (including in the ephemeral key), any truncation, or an extra byte → DecryptionError', () => {
    const recipient = generateX25519KeyPair();
    const sealed = sealToPublicKey(recipient.publicKey, utf8('lockbox'));
    everyTamperingFails(sealed, (bytes) => openSealedToPublicKey(recipient.secretKey, bytes));
  });

  it('rejects the ephemeral key with its (ignored-by-X25519) top bit set', () => {
    const recipient = generateX25519KeyPair();
    const sealed = sealToPublicKey(recipient.publicKey, utf8('one encoding only'));
    expect(sealed[31]! & 0x80).toBe(0);
    expectThrowsType(() => openSealedToPublicKey(recipient.secretKey, flipBit(sealed, 31, 7)), DecryptionError);
  });
});

describe('secretbox on libsodium agrees with tweetnacl (the reference)', () => {
  it('seals byte for byte as tweetnacl does, and each opens what the other sealed (property)', async () => {
    const { default: nacl } = await import('tweetnacl');
    fc.assert(
      fc.property(keyArb, fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.uint8Array({ maxLength: 2000 }), (key, nonce, message) => {
        const ours = secretboxSeal(key, message, nonce);
        const reference = nacl.secretbox(message, nonce, key);
        expect(hex(ours)).toBe(hex(Uint8Array.from([...nonce, ...reference])));
        expect(hex(secretboxOpen(key, ours))).toBe(hex(message));
        expect(hex(nacl.secretbox.open(ours.subarray(24), nonce, key)!)).toBe(hex(message));
      }),
      { numRuns: 300 },
    );
  });
});

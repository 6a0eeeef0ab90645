// Tests added because a mutation run (npm run mutate -- crypto) showed these checks could be
// removed or weakened with every other test still passing.
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  Identity,
  InvalidOnionAddressError,
  TEST_SCRYPT_PARAMS,
  canonicalDecode,
  isOnionName,
  onionFromPublicKey,
  openFromIdentity,
  openWithPassword,
  publicKeyFromOnion,
  sealWithPassword,
  strictDecode,
} from '../src/index.js';
import { InvalidEncodingError, KdfParametersError, NonCanonicalEncodingError } from '../src/errors.js';
import { NaclSignatureVerifier, NodeSignatureVerifier, isWeakPublicKey } from '../src/ed25519.js';
import { deriveKeyFromPassword } from '../src/kdf.js';
import { expectRejectsType, expectThrowsType, unhex } from './support/helpers.js';

/** y = 2 (sign bit clear) has no x on the curve: 32 bytes that are not an ed25519 point. */
const NOT_A_POINT = unhex('0200000000000000000000000000000000000000000000000000000000000000');

describe('keys that are not curve points', () => {
  it('the test key really is not a point (checked with @noble directly)', () => {
    expect(() => ed25519.Point.fromBytes(NOT_A_POINT)).toThrow();
  });

  it('count as weak, so no signature check or onion name accepts them', () => {
    expect(isWeakPublicKey(NOT_A_POINT)).toBe(true);
    const signer = Identity.generate();
    const message = new Uint8Array([1, 2, 3]);
    const signature = signer.sign(message);
    expect(new NodeSignatureVerifier().verify(message, signature, NOT_A_POINT)).toBe(false);
    expect(new NaclSignatureVerifier().verify(message, signature, NOT_A_POINT)).toBe(false);
  });

  it('an onion name whose checksum is right but whose key is not a point is refused', () => {
    const onion = onionFromPublicKey(NOT_A_POINT);
    expect(isOnionName(onion)).toBe(false);
    expectThrowsType(() => publicKeyFromOnion(onion), InvalidOnionAddressError);
  });
});

describe('anonymous box to an identity: the documented construction, built independently', () => {
  const recipient = Identity.fromSeed(new Uint8Array(32).fill(7));
  const plaintext = new TextEncoder().encode('role key');

  /** eph_pub ‖ secretbox_k(m), k = SHA-256(label ‖ X25519(eph, R) ‖ eph_pub ‖ R), built with tweetnacl and node:crypto. */
  function handBuilt(label: string): Uint8Array {
    const eph = nacl.box.keyPair();
    const r = recipient.x25519PublicKey();
    const shared = nacl.scalarMult(eph.secretKey, r);
    const k = createHash('sha256').update(label).update(shared).update(eph.publicKey).update(r).digest();
    const nonce = new Uint8Array(24).fill(9);
    const box = nacl.secretbox(plaintext, nonce, new Uint8Array(k));
    return Uint8Array.from([...eph.publicKey, ...nonce, ...box]);
  }

  it('opens a box built from the specification with the v1 domain label', () => {
    expect(openFromIdentity(recipient, handBuilt('pursuance/anonymous-box/v1'))).toEqual(plaintext);
  });

  it('refuses a box whose key was derived without the domain label or under another one', () => {
    expectThrowsType(() => openFromIdentity(recipient, handBuilt('')), DecryptionError);
    expectThrowsType(() => openFromIdentity(recipient, handBuilt('pursuance/anonymous-box/v2')), DecryptionError);
  });
});

describe('strictDecode (for bytes pinned by a signature)', () => {
  it('keeps the data-model checks but not the canonical-order check', () => {
    // {"b":1,"a":2} with keys out of canonical order: strict accepts, canonical refuses.
    const unsorted = unhex('a2616201616102');
    expect(strictDecode(unsorted)).toEqual({ b: 1, a: 2 });
    expectThrowsType(() => canonicalDecode(unsorted), NonCanonicalEncodingError);
  });

  it('refuses bytes that are not CBOR with InvalidEncodingError carrying the cause', () => {
    const err = expectThrowsType(() => strictDecode(unhex('ff')), InvalidEncodingError);
    expect(err.cause).toBeInstanceOf(Error);
    expectThrowsType(() => strictDecode(unhex('1801')), InvalidEncodingError); // non-minimal integer
  });

  it('refuses values outside the data model (a non-integer float, undefined)', () => {
    expectThrowsType(() => strictDecode(unhex('f93e00')), InvalidEncodingError); // 1.5
    expectThrowsType(() => strictDecode(unhex('a16161f7')), InvalidEncodingError); // {"a": undefined}
  });
});

describe('scrypt parameter bounds (inclusive)', () => {
  const salt = new Uint8Array(16);
  it('r = 32 is accepted and r = 33 refused', async () => {
    await expect(deriveKeyFromPassword('pw', salt, { N: 2 ** 10, r: 32, p: 1 })).resolves.toHaveLength(32);
    await expectRejectsType(deriveKeyFromPassword('pw', salt, { N: 2 ** 10, r: 33, p: 1 }), KdfParametersError);
  });
});

describe('a password-sealed blob with malformed base64', () => {
  it('is InvalidEncodingError (not a wrong password) for the box and for the salt', async () => {
    const sealed = await sealWithPassword('pw', new Uint8Array([1]), TEST_SCRYPT_PARAMS);
    await expectRejectsType(openWithPassword('pw', { ...sealed, box: `${sealed.box}!` }), InvalidEncodingError);
    await expectRejectsType(openWithPassword('pw', { ...sealed, salt: '%%%' }), InvalidEncodingError);
  });
});

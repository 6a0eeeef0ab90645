import { sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import nacl from 'tweetnacl';
import { InvalidKeyError, InvalidSignatureFormatError } from './errors.js';
import { importOkpPrivateKey, importOkpPublicKey, rawPublicKey } from './key-objects.js';

/**
 * Ed25519 on node:crypto (OpenSSL). Signatures are plain RFC 8032, byte-identical to
 * tweetnacl's `sign.detached`; node:crypto is ~60x faster here, which matters for replay.
 */

export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export function privateKeyObjectFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_SEED_LENGTH) throw new InvalidKeyError('an ed25519 seed is 32 bytes');
  return importOkpPrivateKey('Ed25519', seed);
}

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) throw new InvalidKeyError('an ed25519 public key is 32 bytes');
  try {
    return importOkpPublicKey('Ed25519', publicKey);
  } catch (cause) {
    throw new InvalidKeyError(`not a valid ed25519 public key (${(cause as Error).message})`);
  }
}

export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  return rawPublicKey(privateKeyObjectFromSeed(seed));
}

export function signWithKeyObject(key: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, key));
}

/**
 * Small-order public keys (the identity point and the other torsion points) admit
 * signatures that verify for every message, e.g. (R = identity, S = 0); no honest key is
 * ever small-order, so such keys are refused everywhere a key is accepted.
 */
export function isWeakPublicKey(publicKey: Uint8Array): boolean {
  try {
    return ed25519.Point.fromBytes(publicKey).isSmallOrder();
  } catch {
    return true; // not a curve point at all
  }
}

function checkSignature(signature: Uint8Array): void {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) {
    throw new InvalidSignatureFormatError('an ed25519 signature is 64 bytes');
  }
}

/**
 * The one interface every signature check in the project goes through, so the backend can be
 * swapped (node:crypto here; tweetnacl as a reference; a browser build could use @noble).
 * Returns false for a wrong signature or a public key that is not a curve point; throws only
 * for malformed lengths, which are programming or parsing errors upstream.
 */
export interface SignatureVerifier {
  readonly name: string;
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
}

/** node:crypto verifier with a small cache of parsed public keys (members sign many events). */
export class NodeSignatureVerifier implements SignatureVerifier {
  public readonly name = 'node:crypto';
  private readonly keys = new Map<string, KeyObject | null>();
  public constructor(private readonly cacheSize = 4096) {}

  public verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
    checkSignature(signature);
    const key = this.keyFor(publicKey);
    if (key === null) return false;
    return nodeVerify(null, message, key, signature);
  }

  private keyFor(publicKey: Uint8Array): KeyObject | null {
    if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) throw new InvalidKeyError('an ed25519 public key is 32 bytes');
    const id = Buffer.from(publicKey).toString('base64');
    let key = this.keys.get(id);
    if (key === undefined) {
      try {
        key = isWeakPublicKey(publicKey) ? null : publicKeyObject(publicKey);
      } catch {
        key = null;
      }
      if (this.keys.size >= this.cacheSize) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(id, key);
    }
    return key;
  }
}

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const ED25519_ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/** RFC 8032 §5.1.7: the S half of a signature must be < L (else S + L would be a second valid signature). */
function scalarIsCanonical(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!;
    const l = ED25519_ORDER_LE[i]!;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

/** Pure-JS reference verifier (tweetnacl); slow, kept to cross-check the fast backend. */
export class NaclSignatureVerifier implements SignatureVerifier {
  public readonly name = 'tweetnacl';
  public verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
    checkSignature(signature);
    if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) throw new InvalidKeyError('an ed25519 public key is 32 bytes');
    // tweetnacl skips the S < L check that OpenSSL (and RFC 8032) perform; without it this
    // reference verifier would accept the malleated signature (R, S + L) the default rejects.
    if (!scalarIsCanonical(signature) || isWeakPublicKey(publicKey)) return false;
    return nacl.sign.detached.verify(message, signature, publicKey);
  }
}

/** The project-wide default verifier. */
export const defaultVerifier: SignatureVerifier = new NodeSignatureVerifier();

export function verifySignature(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return defaultVerifier.verify(message, signature, publicKey);
}

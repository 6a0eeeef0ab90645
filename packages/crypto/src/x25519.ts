import { diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { InvalidKeyError, WeakSharedSecretError } from './errors.js';
import { importOkpPrivateKey, importOkpPublicKey, rawPrivateKey, rawPublicKey } from './key-objects.js';

/**
 * X25519 for the 3DH handshake and lockboxes. The Edwards→Montgomery conversions come from
 * @noble/curves (Node has none); the Diffie-Hellman itself runs on node:crypto because it is
 * ~30x faster than pure JS here and handshakes/s is a measured target.
 */
export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** Montgomery u-coordinate of an ed25519 public key: u = (1 + y) / (1 − y). */
export function x25519PublicFromEd25519(edPublicKey: Uint8Array): Uint8Array {
  if (edPublicKey.length !== 32) throw new InvalidKeyError('an ed25519 public key is 32 bytes');
  try {
    return ed25519.utils.toMontgomery(edPublicKey);
  } catch (cause) {
    throw new InvalidKeyError(`ed25519 public key is not a curve point (${(cause as Error).message})`);
  }
}

/** X25519 scalar of an ed25519 seed: the clamped first half of SHA-512(seed), as RFC 8032 derives it. */
export function x25519SecretFromEd25519Seed(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new InvalidKeyError('an ed25519 seed is 32 bytes');
  return ed25519.utils.toMontgomerySecret(seed);
}

export function generateX25519KeyPair(): X25519KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublicKey(privateKey), secretKey: rawPrivateKey(privateKey) };
}

/** A reusable private KeyObject, for callers that perform many exchanges with one secret. */
export function x25519PrivateKeyObject(secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== 32) throw new InvalidKeyError('an X25519 secret key is 32 bytes');
  return importOkpPrivateKey('X25519', secretKey);
}

export function x25519PublicFromSecret(secretKey: Uint8Array): Uint8Array {
  return rawPublicKey(x25519PrivateKeyObject(secretKey));
}

/**
 * X25519 with a private KeyObject. Throws WeakSharedSecretError for a low-order peer key
 * (all-zero output), which a contributory handshake must refuse.
 */
export function x25519WithKeyObject(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new InvalidKeyError('an X25519 public key is 32 bytes');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: importOkpPublicKey('X25519', publicKey) });
  } catch {
    // OpenSSL itself refuses an all-zero result; report it as the same typed error.
    throw new WeakSharedSecretError();
  }
  if (shared.every((b) => b === 0)) throw new WeakSharedSecretError();
  return new Uint8Array(shared);
}

/** X25519(secret, public); see x25519WithKeyObject. */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return x25519WithKeyObject(x25519PrivateKeyObject(secretKey), publicKey);
}

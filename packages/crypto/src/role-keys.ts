import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concatBytes } from './bytes.js';
import { privateKeyObjectFromSeed, publicKeyFromSeed, signWithKeyObject, isWeakPublicKey } from './ed25519.js';
import { DecryptionError, InvalidKeyError, WeakSharedSecretError } from './errors.js';
import { hkdfSha256, sha256 } from './hash.js';
import { rawPublicKey } from './key-objects.js';
import { SEALED_OVERHEAD, secretboxOpen, secretboxSeal } from './nacl.js';
import { x25519PrivateKeyObject, x25519PublicFromSecret, x25519WithKeyObject } from './x25519.js';

/**
 * The public halves of a role key, for audiences that members write to without reading.
 *
 * A role epoch is 32 secret bytes that travel in lockboxes. From them every holder derives the
 * same ed25519 signing pair and X25519 box pair (HKDF-SHA-256, one label each), so nothing new
 * needs to travel, and a holder can check the public halves a rotation published against the
 * secret it opened: a rotator cannot publish keys the holders do not hold without being caught.
 * No salt: the input is already 32 uniformly random bytes, fresh for every epoch.
 */
const SIGNING_LABEL = 'pursuance/role/ed25519/v2';
const BOX_LABEL = 'pursuance/role/x25519/v2';
const SEAL_DOMAIN = new TextEncoder().encode('pursuance/role-box/v1');
const ROLE_SECRET_LENGTH = 32;
/** What sealing to a role adds to the plaintext: the ephemeral key, the nonce and the MAC. */
export const ROLE_BOX_OVERHEAD = 32 + SEALED_OVERHEAD;

export interface RolePublicKeys {
  /** ed25519: verifies what a holder of the role signs as the role. */
  readonly sig: Uint8Array;
  /** X25519: anyone may seal to it; only holders of the role open. */
  readonly box: Uint8Array;
}

/** The key pairs derived from one role epoch's secret. */
export class RoleKeyPair {
  readonly #signing: KeyObject;
  readonly #box: KeyObject;
  public readonly publicKeys: RolePublicKeys;

  private constructor(secret: Uint8Array) {
    const signingSeed = hkdfSha256(secret, new Uint8Array(0), SIGNING_LABEL, 32);
    const boxSecret = hkdfSha256(secret, new Uint8Array(0), BOX_LABEL, 32);
    try {
      this.#signing = privateKeyObjectFromSeed(signingSeed);
      this.#box = x25519PrivateKeyObject(boxSecret);
      this.publicKeys = { sig: publicKeyFromSeed(signingSeed), box: x25519PublicFromSecret(boxSecret) };
    } finally {
      signingSeed.fill(0);
      boxSecret.fill(0);
    }
  }

  public static fromSecret(secret: Uint8Array): RoleKeyPair {
    if (secret.length !== ROLE_SECRET_LENGTH) throw new InvalidKeyError('a role key secret is 32 bytes');
    return new RoleKeyPair(secret);
  }

  public sign(message: Uint8Array): Uint8Array {
    return signWithKeyObject(this.#signing, message);
  }

  /** Open what sealToRole sealed to this role under the same `context`; DecryptionError otherwise. */
  public open(sealed: Uint8Array, context: Uint8Array): Uint8Array {
    if (sealed.length < ROLE_BOX_OVERHEAD) throw new DecryptionError('sealed role box is too short');
    const ephemeral = sealed.subarray(0, 32);
    // X25519 ignores the top bit: refusing it keeps one byte string per box.
    if ((ephemeral[31]! & 0x80) !== 0) throw new DecryptionError('non-canonical ephemeral key in a role box');
    let shared: Uint8Array;
    try {
      shared = x25519WithKeyObject(this.#box, ephemeral);
    } catch (err) {
      if (err instanceof WeakSharedSecretError || err instanceof InvalidKeyError) throw new DecryptionError('role box has a weak ephemeral key');
      throw err;
    }
    const key = boxKey(context, shared, ephemeral, this.publicKeys.box);
    try {
      return secretboxOpen(key, sealed.subarray(32));
    } finally {
      key.fill(0);
    }
  }
}

/** The sealing key binds the context and both public keys, so a box cannot be re-targeted or moved to another context. */
function boxKey(context: Uint8Array, shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  try {
    return sha256(SEAL_DOMAIN, sha256(context), shared, ephemeral, recipient);
  } finally {
    shared.fill(0);
  }
}

/**
 * Anonymous box to a role's X25519 key: a fresh ephemeral key per box, so the box says nothing
 * of who sealed it (the event carrying it is signed separately). `context` says what the box is
 * for (pursuance, role, epoch); opening under another context fails.
 */
export function sealToRole(boxPublic: Uint8Array, plaintext: Uint8Array, context: Uint8Array): Uint8Array {
  if (!isUsableBoxKey(boxPublic)) throw new InvalidKeyError('not a usable X25519 public key for a role');
  const { privateKey } = generateKeyPairSync('x25519');
  const ephemeral = rawPublicKey(privateKey);
  const key = boxKey(context, x25519WithKeyObject(privateKey, boxPublic), ephemeral, boxPublic);
  try {
    return concatBytes(ephemeral, secretboxSeal(key, plaintext));
  } finally {
    key.fill(0);
  }
}

const FIELD_PRIME = 2n ** 255n - 19n;
// Any fixed scalar will do: clamping makes it a multiple of the cofactor, so every point of small
// order maps to the all-zero output, which x25519WithKeyObject refuses.
let probe: KeyObject | undefined;

/**
 * Whether `u` is an X25519 public key anyone should seal to: 32 bytes, canonical (u < p, so one
 * key has one encoding) and not of small order (a box to it would be readable by everyone).
 */
export function isUsableBoxKey(u: Uint8Array): boolean {
  if (u.length !== 32) return false;
  let value = 0n;
  for (let i = 31; i >= 0; i--) value = (value << 8n) | BigInt(u[i]!);
  if (value >= FIELD_PRIME) return false;
  probe ??= x25519PrivateKeyObject(sha256(new TextEncoder().encode('pursuance/small-order-probe')));
  try {
    x25519WithKeyObject(probe, u).fill(0);
    return true;
  } catch (err) {
    if (err instanceof WeakSharedSecretError || err instanceof InvalidKeyError) return false;
    throw err;
  }
}

/** Whether `key` is an ed25519 key a role may sign with: a curve point, not of small order. */
export function isUsableSigningKey(key: Uint8Array): boolean {
  return key.length === 32 && !isWeakPublicKey(key);
}

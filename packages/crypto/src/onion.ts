import { base32 } from '@scure/base';
import { concatBytes, equalBytes } from './bytes.js';
import { InvalidOnionAddressError } from './errors.js';
import { isWeakPublicKey } from './ed25519.js';
import { sha3_256 } from './hash.js';

/**
 * Tor v3 onion names (rend-spec-v3, "Encoding onion addresses"):
 *   onion = base32(PUBKEY(32) ‖ CHECKSUM(2) ‖ VERSION(1)), lowercase, 56 characters,
 *   CHECKSUM = SHA3-256(".onion checksum" ‖ PUBKEY ‖ VERSION)[0..2], VERSION = 0x03.
 * We use the 56-character label without ".onion" as the identity handle, as Cwtch does.
 */
export type OnionName = string & { readonly __onion: true };

const CHECKSUM_PREFIX = new TextEncoder().encode('.onion checksum');
const VERSION = 0x03;
export const ONION_NAME_LENGTH = 56;

function checksum(publicKey: Uint8Array): Uint8Array {
  return sha3_256(CHECKSUM_PREFIX, publicKey, Uint8Array.of(VERSION)).subarray(0, 2);
}

export function onionFromPublicKey(publicKey: Uint8Array): OnionName {
  if (publicKey.length !== 32) throw new InvalidOnionAddressError('an ed25519 public key is 32 bytes');
  const raw = concatBytes(publicKey, checksum(publicKey), Uint8Array.of(VERSION));
  return base32.encode(raw).toLowerCase() as OnionName;
}

/**
 * Decode and validate an onion name (with or without the ".onion" suffix) back to its
 * ed25519 public key. Rejects wrong length, alphabet, version and checksum.
 */
export function publicKeyFromOnion(onion: string): Uint8Array {
  const label = onion.endsWith('.onion') ? onion.slice(0, -'.onion'.length) : onion;
  if (label.length !== ONION_NAME_LENGTH) {
    throw new InvalidOnionAddressError(`an onion name has ${ONION_NAME_LENGTH} characters`);
  }
  if (!/^[a-z2-7]+$/.test(label)) throw new InvalidOnionAddressError('an onion name is lowercase base32');
  const raw = base32.decode(label.toUpperCase());
  const publicKey = raw.subarray(0, 32);
  if (raw[34] !== VERSION) throw new InvalidOnionAddressError('unsupported onion version');
  if (!equalBytes(raw.subarray(32, 34), checksum(publicKey))) {
    throw new InvalidOnionAddressError('onion checksum mismatch');
  }
  if (isWeakPublicKey(publicKey)) throw new InvalidOnionAddressError('onion key is not a valid, full-order ed25519 point');
  return new Uint8Array(publicKey);
}

/** Parse-and-validate as a type guard, for code that only needs a yes/no. */
export function isOnionName(value: unknown): value is OnionName {
  if (typeof value !== 'string') return false;
  try {
    publicKeyFromOnion(value);
    return !value.endsWith('.onion');
  } catch {
    return false;
  }
}

/** Narrow a string to OnionName after validating it. */
export function parseOnionName(value: string): OnionName {
  publicKeyFromOnion(value);
  if (value.endsWith('.onion')) return value.slice(0, -'.onion'.length) as OnionName;
  return value as OnionName;
}

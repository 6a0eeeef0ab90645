import { isOnionName, publicKeyFromOnion } from '@pursuance/crypto';

/**
 * Validating an onion name decodes its key and checks it is a full-order curve point (a square
 * root on the curve), which costs more than an ed25519 signature check. The same few member
 * onions appear on every group message and stored record, so validated keys are cached
 * (bounded, oldest evicted first).
 */
const CACHE_SIZE = 4096;
const keys = new Map<string, Uint8Array>();

/** The ed25519 key of a valid onion name, or undefined if `onion` is not one. */
export function onionKey(onion: string): Uint8Array | undefined {
  const cached = keys.get(onion);
  if (cached !== undefined) return cached;
  if (!isOnionName(onion)) return undefined;
  const key = publicKeyFromOnion(onion);
  if (keys.size >= CACHE_SIZE) keys.delete(keys.keys().next().value!);
  keys.set(onion, key);
  return key;
}

export function isValidOnion(value: unknown): boolean {
  return typeof value === 'string' && onionKey(value) !== undefined;
}

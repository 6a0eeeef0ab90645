import { createHash, createHmac, hkdfSync } from 'node:crypto';

// node:crypto (OpenSSL) is several times faster than pure-JS hashing on this platform and all
// of these are standard algorithms, so they live here behind plain functions.

export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** A SHA-256 fed piece by piece: a big value hashed with pauses between its pieces (canonicalPieces). */
export interface Sha256Stream {
  update(part: Uint8Array): void;
  digest(): Uint8Array;
}

export function sha256Stream(): Sha256Stream {
  const h = createHash('sha256');
  return { update: (part) => void h.update(part), digest: () => new Uint8Array(h.digest()) };
}

export function sha512(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function sha3_256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha3-256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function sha3_512(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha3-512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * HMAC-SHA-256 as lowercase hex, strings taken as UTF-8: the same digest as hmacSha256 over the
 * encoded parts, without the copies (a node tags every stored row it reads with one).
 */
export function hmacSha256Hex(key: Uint8Array, ...parts: readonly (Uint8Array | string)[]): string {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** HKDF-SHA-256 (RFC 5869), extract and expand in one call; a string `info` is taken as UTF-8. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 1 || length > 255 * 32) throw new RangeError('HKDF-SHA-256 output is 1 to 8160 bytes');
  const infoBytes = typeof info === 'string' ? new TextEncoder().encode(info) : info;
  return new Uint8Array(hkdfSync('sha256', ikm, salt, infoBytes, length));
}

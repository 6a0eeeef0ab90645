import { timingSafeEqual } from 'node:crypto';

/** Concatenate byte arrays into one fresh Uint8Array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time equality (length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('invalid hex string');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Standard base64 with padding (what Go's encoding/json uses for []byte). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Strict standard base64: only the canonical encoding of some bytes is accepted, anything else
 * gives `undefined` (no exception: codecs call this on every field of every message). Node's
 * decoder is lenient (skips whitespace and invalid characters, accepts URL-safe letters and
 * non-zero trailing bits), so the decoded bytes are re-encoded and must give back the input
 * exactly — which rejects all of those at once, and is several times cheaper than a regex.
 */
export function decodeStrictBase64(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `decodeStrictBase64` for callers that treat a bad encoding as a programming or input error. */
export function fromBase64(text: string): Uint8Array {
  const bytes = decodeStrictBase64(text);
  if (bytes === undefined) throw new TypeError('invalid or non-canonical base64 string');
  return bytes;
}

/** Overwrite a buffer holding secret material once it is no longer needed. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

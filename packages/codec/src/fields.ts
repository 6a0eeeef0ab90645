import { decodeStrictBase64 } from '@pursuance/crypto';
import { z } from 'zod';

/** Length of the padded base64 text of `size` bytes. */
export function base64Length(size: number): number {
  return Math.ceil(size / 3) * 4;
}

/**
 * A JSON string field holding the strict base64 of exactly `size` bytes. The string length is
 * checked before decoding, so an oversized field costs nothing to refuse.
 */
export function base64Bytes(size: number) {
  return base64Field(size, (n) => n === size, `expected base64 of ${size} bytes`);
}

/** A JSON string field holding the strict base64 of at most `maxBytes` bytes. */
export function base64UpTo(maxBytes: number) {
  return base64Field(maxBytes, (n) => n <= maxBytes, `expected base64 of at most ${maxBytes} bytes`);
}

function base64Field(maxBytes: number, fits: (length: number) => boolean, message: string) {
  return z
    .string()
    .max(base64Length(maxBytes))
    .transform((text, ctx) => {
      const bytes = decodeStrictBase64(text);
      if (bytes !== undefined && fits(bytes.length)) return bytes;
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    });
}

/** An in-memory byte string of exactly `length` bytes (for schemas over decoded values). */
export function bytes(length: number): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine((b) => b.length === length, { message: `expected ${length} bytes` });
}

/** An in-memory byte string of at most `max` bytes. */
export function bytesUpTo(max: number): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine((b) => b.length <= max, { message: `expected at most ${max} bytes` });
}

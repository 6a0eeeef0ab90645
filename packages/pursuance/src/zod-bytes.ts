import { z } from 'zod';

/** A byte string of exactly `length` bytes (or of at most `max` bytes with `bytesUpTo`). */
export function bytes(length: number): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine((b) => b.length === length, { message: `expected ${length} bytes` });
}

export function bytesUpTo(max: number): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine((b) => b.length <= max, { message: `expected at most ${max} bytes` });
}

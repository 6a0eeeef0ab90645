import type { z } from 'zod';
import { StoreCorruptError } from './errors.js';

/**
 * A JSON document the node keeps sealed in its store (EventStore.sealedDocument), read back with
 * its schema: `empty` when there is none yet, StoreCorruptError naming `what` when it does not
 * parse or fit (the store authenticated the bytes, so that is a bug or a damaged store, never input).
 */
export function readSealedJson<T>(schema: z.ZodType<T>, json: string | null, empty: T, what: string): T {
  if (json === null) return empty;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new StoreCorruptError(`the ${what} document is not JSON`, { cause });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new StoreCorruptError(`the ${what} document is malformed`, { cause: parsed.error });
  return parsed.data;
}

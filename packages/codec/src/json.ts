import type { z } from 'zod';

/**
 * Every wire format in the stack is JSON checked by a zod schema; this is the one place that
 * turns bytes or text into a validated value. Each codec passes its own `fail`, so a defect
 * surfaces as that codec's typed error. Reasons name the defect, never the content: a hostile
 * peer's bytes must not end up in our logs.
 */
export type CodecFailure = (reason: string, cause?: unknown) => Error;

export interface JSONLimits {
  /** Refuse before parsing: JSON.parse on an unbounded input is the cheapest way to burn our CPU. */
  readonly maxBytes?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function encodeJSON(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parse `payload` as fatal UTF-8 JSON validated by `schema`; any defect becomes `fail(reason)`. */
export function decodeJSON<T>(payload: Uint8Array, schema: z.ZodType<T>, fail: CodecFailure, limits: JSONLimits = {}): T {
  if (limits.maxBytes !== undefined && payload.length > limits.maxBytes) throw fail('payload too large');
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw fail('payload is not UTF-8 JSON', cause);
  }
  return validate(value, schema, fail);
}

/** `decodeJSON` for text that arrives as a string (pasted invites, stored attributes). */
export function parseJSONText<T>(text: string, schema: z.ZodType<T>, fail: CodecFailure, limits: { readonly maxLength?: number } = {}): T {
  if (limits.maxLength !== undefined && text.length > limits.maxLength) throw fail('text too long');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw fail('text is not JSON', cause);
  }
  return validate(value, schema, fail);
}

function validate<T>(value: unknown, schema: z.ZodType<T>, fail: CodecFailure): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw fail(`invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
}

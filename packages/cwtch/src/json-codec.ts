import { fromBase64 } from '@pursuance/crypto';
import { z } from 'zod';

/**
 * Strict JSON helpers for the peer codecs: fatal UTF-8, size caps checked before parsing,
 * zod schemas, and one typed error per codec. Reasons name the defect, never the content.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function encodeJSON(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJSON<T>(payload: Uint8Array, maxBytes: number, schema: z.ZodType<T>, fail: (reason: string, cause?: unknown) => Error): T {
  if (payload.length > maxBytes) throw fail('payload too large');
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw fail('payload is not UTF-8 JSON', cause);
  }
  return parseWith(value, schema, fail);
}

export function parseJSONText<T>(text: string, maxLength: number, schema: z.ZodType<T>, fail: (reason: string, cause?: unknown) => Error): T {
  if (text.length > maxLength) throw fail('text too long');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw fail('text is not JSON', cause);
  }
  return parseWith(value, schema, fail);
}

function parseWith<T>(value: unknown, schema: z.ZodType<T>, fail: (reason: string, cause?: unknown) => Error): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw fail(`invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.code ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Standard base64 (strict, canonical) of at most `maxBytes` decoded bytes. */
export function base64Field(maxBytes: number) {
  return z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .transform((text, ctx) => {
      try {
        const bytes = fromBase64(text);
        if (bytes.length <= maxBytes) return bytes;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: `expected base64 of at most ${maxBytes} bytes` });
      return z.NEVER;
    });
}

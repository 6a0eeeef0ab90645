import { fromBase64 } from '@pursuance/crypto';
import { z } from 'zod';

/**
 * JSON helpers shared by the board and token-service codecs: strict UTF-8, and base64 fields
 * of one exact decoded size (checked on the string length first, so an oversized field costs
 * nothing to refuse).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function base64Length(size: number): number {
  return Math.ceil(size / 3) * 4;
}

export function base64Bytes(size: number) {
  return z
    .string()
    .length(base64Length(size))
    .transform((text, ctx) => {
      try {
        const bytes = fromBase64(text);
        if (bytes.length === size) return bytes;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: `expected base64 of ${size} bytes` });
      return z.NEVER;
    });
}

export function encodeJSON(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/**
 * Parse `payload` as UTF-8 JSON validated by `schema`; any defect becomes `fail(reason)`.
 * Reasons name the defect only; they never echo the payload.
 */
export function decodeJSON<T>(payload: Uint8Array, schema: z.ZodType<T>, fail: (reason: string, cause?: unknown) => Error): T {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw fail('payload is not UTF-8 JSON', cause);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw fail(`invalid message at ${issue?.path.join('.') || '(root)'}: ${issue?.code ?? 'invalid'}`);
  }
  return parsed.data;
}

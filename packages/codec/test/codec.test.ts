import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toBase64 } from '@pursuance/crypto';
import { base64Bytes, base64Length, base64UpTo, bytes, bytesUpTo, decodeJSON, encodeJSON, parseJSONText } from '../src/index.js';

class TestCodecError extends Error {
  public readonly code = 'TEST_CODEC';
}
const fail = (reason: string, cause?: unknown) => new TestCodecError(reason, { cause });
const refusal = (run: () => unknown): TestCodecError => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(TestCodecError);
    return err as TestCodecError;
  }
  throw new Error('expected a refusal');
};

const Point = z.strictObject({ x: z.number(), key: base64Bytes(4) });

describe('decodeJSON', () => {
  it('round-trips a value through encodeJSON', () => {
    const key = Uint8Array.of(1, 2, 3, 4);
    expect(decodeJSON(encodeJSON({ x: 1, key: toBase64(key) }), Point, fail)).toEqual({ x: 1, key });
  });

  it('refuses bytes that are not UTF-8 as such (no replacement characters), with the cause kept', () => {
    const err = refusal(() => decodeJSON(Uint8Array.of(0x22, 0xff, 0x22), z.string(), fail));
    expect(err.message).toBe('payload is not UTF-8 JSON');
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('refuses a payload over maxBytes before parsing it, and accepts one at the limit', () => {
    const payload = encodeJSON('x'.repeat(8));
    expect(payload.length).toBe(10);
    expect(refusal(() => decodeJSON(payload, z.string(), fail, { maxBytes: 9 })).message).toBe('payload too large');
    expect(decodeJSON(payload, z.string(), fail, { maxBytes: 10 })).toBe('xxxxxxxx');
  });

  it('names the path of the first defect and never echoes the content', () => {
    const secret = 'do-not-log-me';
    const err = refusal(() => decodeJSON(encodeJSON({ x: secret, key: 'AAAAAA==' }), Point, fail));
    expect(err.message).toMatch(/^invalid at x: /);
    expect(err.message).not.toContain(secret);
    expect(refusal(() => decodeJSON(encodeJSON(5), Point, fail)).message).toMatch(/^invalid at \(root\): /);
  });

  it('names a nested path with dots, and says what was expected there', () => {
    const Nested = z.strictObject({ outer: z.strictObject({ key: base64Bytes(4) }) });
    const err = refusal(() => decodeJSON(encodeJSON({ outer: { key: 'AAE=' } }), Nested, fail));
    expect(err.message).toBe('invalid at outer.key: expected base64 of 4 bytes');
    const upTo = refusal(() => parseJSONText('{"k":"AAAA"}', z.strictObject({ k: base64UpTo(2) }), fail));
    expect(upTo.message).toBe('invalid at k: expected base64 of at most 2 bytes');
  });

  it('keeps prototype names as plain data (JSON.parse makes own properties, strict schemas refuse them)', () => {
    const payload = new TextEncoder().encode('{"x":1,"key":"AAAAAA==","__proto__":{"polluted":true}}');
    refusal(() => decodeJSON(payload, Point, fail));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never throws anything but the codec error, whatever the bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (payload) => {
        try {
          decodeJSON(payload, Point, fail, { maxBytes: 48 });
        } catch (err) {
          expect(err).toBeInstanceOf(TestCodecError);
        }
      }),
    );
  });
});

describe('parseJSONText', () => {
  it('parses and validates text, refusing over-long text, non-JSON and invalid values', () => {
    expect(parseJSONText('{"a":1}', z.strictObject({ a: z.literal(1) }), fail)).toEqual({ a: 1 });
    expect(refusal(() => parseJSONText('"abc"', z.string(), fail, { maxLength: 4 })).message).toBe('text too long');
    expect(parseJSONText('"ab"', z.string(), fail, { maxLength: 4 })).toBe('ab');
    expect(refusal(() => parseJSONText('{', z.unknown(), fail)).message).toBe('text is not JSON');
    expect(refusal(() => parseJSONText('1', z.string(), fail)).message).toMatch(/^invalid at \(root\)/);
  });
});

describe('base64 fields', () => {
  it('accept exactly the canonical base64 of the declared size (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), (size, actual) => {
        const text = toBase64(new Uint8Array(actual).fill(7));
        expect(text.length).toBe(base64Length(actual));
        expect(base64Bytes(size).safeParse(text).success).toBe(size === actual);
        expect(base64UpTo(size).safeParse(text).success).toBe(actual <= size);
      }),
    );
  });

  it('refuse lenient spellings that Node would decode: whitespace, URL-safe letters, missing padding, non-zero trailing bits', () => {
    const field = base64Bytes(2);
    expect(field.safeParse('AAE=').success).toBe(true);
    for (const bad of ['AAE', ' AAE=', 'AA-=', 'AAF=', 'AAE=\n', '']) expect(field.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  it('refuse an oversized string by its length, before decoding', () => {
    expect(base64UpTo(3).safeParse('A'.repeat(8)).success).toBe(false);
    expect(base64UpTo(3).safeParse('AAAA').success).toBe(true);
  });
});

describe('byte-string schemas over decoded values', () => {
  it('say what they expected', () => {
    expect(bytes(3).safeParse(new Uint8Array(2)).error?.issues[0]?.message).toBe('expected 3 bytes');
    expect(bytesUpTo(3).safeParse(new Uint8Array(4)).error?.issues[0]?.message).toBe('expected at most 3 bytes');
    const issue = base64Bytes(2).safeParse('AAF=').error?.issues[0];
    expect(issue).toMatchObject({ code: 'custom', message: 'expected base64 of 2 bytes' });
  });

  it('check the instance and the length, boundaries included', () => {
    expect(bytes(3).safeParse(new Uint8Array(3)).success).toBe(true);
    expect(bytes(3).safeParse(new Uint8Array(2)).success).toBe(false);
    expect(bytes(3).safeParse([0, 0, 0]).success).toBe(false);
    expect(bytesUpTo(3).safeParse(new Uint8Array(3)).success).toBe(true);
    expect(bytesUpTo(3).safeParse(new Uint8Array(0)).success).toBe(true);
    expect(bytesUpTo(3).safeParse(new Uint8Array(4)).success).toBe(false);
  });
});

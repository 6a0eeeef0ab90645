import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  equalBytes,
  fromBase64,
  fromHex,
  hkdfSha256,
  hmacSha256,
  hmacSha256Hex,
  sha256,
  sha3_256,
  sha512,
  toBase64,
  toHex,
  wipe,
} from '../src/index.js';
import { sha3_512 } from '../src/hash.js';
import { hex, utf8 } from './support/helpers.js';
import { HASH_ABC, RFC4231_CASE2 } from './vectors/hash.js';

describe('hash known answers', () => {
  it('SHA-256, SHA-512, SHA3-256, SHA3-512 of "abc"', () => {
    expect(hex(sha256(utf8('abc')))).toBe(HASH_ABC.sha256);
    expect(hex(sha512(utf8('abc')))).toBe(HASH_ABC.sha512);
    expect(hex(sha3_256(utf8('abc')))).toBe(HASH_ABC.sha3_256);
    expect(hex(sha3_512(utf8('abc')))).toBe(HASH_ABC.sha3_512);
  });

  it('hashing several parts equals hashing their concatenation', () => {
    for (const f of [sha256, sha512, sha3_256, sha3_512]) {
      expect(hex(f(utf8('a'), utf8(''), utf8('bc')))).toBe(hex(f(utf8('abc'))));
    }
  });

  it('HMAC-SHA-256, RFC 4231 test case 2 (also split into parts)', () => {
    expect(hex(hmacSha256(utf8(RFC4231_CASE2.key), utf8(RFC4231_CASE2.data)))).toBe(RFC4231_CASE2.hmacSha256);
    expect(hex(hmacSha256(utf8(RFC4231_CASE2.key), utf8('what do ya '), utf8('want for nothing?')))).toBe(RFC4231_CASE2.hmacSha256);
  });

  it('HMAC-SHA-256 as hex, RFC 4231 test case 2, from strings, bytes or both', () => {
    expect(hmacSha256Hex(utf8(RFC4231_CASE2.key), RFC4231_CASE2.data)).toBe(RFC4231_CASE2.hmacSha256);
    expect(hmacSha256Hex(utf8(RFC4231_CASE2.key), 'what do ya ', utf8('want for nothing?'))).toBe(RFC4231_CASE2.hmacSha256);
  });

  it('HMAC as hex equals the hex of the HMAC over the UTF-8 parts (stored index tags depend on it)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 40 })), { maxLength: 5 }),
        (key, parts) => {
          const bytes = parts.map((p) => (typeof p === 'string' ? utf8(p) : p));
          expect(hmacSha256Hex(key, ...parts)).toBe(toHex(hmacSha256(key, ...bytes)));
        },
      ),
    );
  });
});

describe('HKDF-SHA-256 (RFC 5869 test cases 1 and 3)', () => {
  const ikm = new Uint8Array(22).fill(0x0b);
  it('derives the published output keying material', () => {
    const salt = Uint8Array.from({ length: 13 }, (_, i) => i);
    const info = Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i);
    expect(hex(hkdfSha256(ikm, salt, info, 42))).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    expect(hex(hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 42))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it('takes a string info as its UTF-8 bytes, and refuses lengths HKDF cannot give', () => {
    expect(hkdfSha256(ikm, ikm, 'label é', 32)).toEqual(hkdfSha256(ikm, ikm, utf8('label é'), 32));
    expect(hkdfSha256(ikm, ikm, 'a', 32)).not.toEqual(hkdfSha256(ikm, ikm, 'b', 32));
    for (const bad of [0, -1, 1.5, 255 * 32 + 1]) expect(() => hkdfSha256(ikm, ikm, 'a', bad)).toThrow(RangeError);
    expect(hkdfSha256(ikm, ikm, 'a', 255 * 32)).toHaveLength(8160);
  });
});

describe('byte helpers', () => {
  it('hex round trip (and views are encoded from their offset)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 8 }), (bytes, offset) => {
        const backing = new Uint8Array(offset + bytes.length).fill(0xaa);
        backing.set(bytes, offset);
        const view = backing.subarray(offset);
        expect(toHex(view)).toBe(Buffer.from(bytes).toString('hex'));
        expect(fromHex(toHex(view))).toEqual(bytes);
      }),
    );
    expect(fromHex('ABcd')).toEqual(Uint8Array.of(0xab, 0xcd));
  });

  it('fromHex rejects odd lengths and non-hex characters', () => {
    for (const bad of ['a', 'abc', 'zz', '0x00', 'a b0', 'ab\n']) expect(() => fromHex(bad), bad).toThrow(TypeError);
  });

  it('base64 round trip (and views are encoded from their offset)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 8 }), (bytes, offset) => {
        const backing = new Uint8Array(offset + bytes.length).fill(0x55);
        backing.set(bytes, offset);
        const text = toBase64(backing.subarray(offset));
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
    );
  });

  it('fromBase64 rejects what a lenient decoder would skip or guess', () => {
    for (const bad of ['AAA', 'AA=', 'A===', 'AA==AA==', 'AAAA\n', ' AAAA', 'AA AA', 'AB-_', 'AAAA=', '====', 'A', 'AB==', 'AAB=']) {
      expect(() => fromBase64(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
    expect(fromBase64('')).toEqual(new Uint8Array());
  });

  it('equalBytes', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
    expect(equalBytes(new Uint8Array(), new Uint8Array())).toBe(true);
  });

  it('concatBytes and wipe', () => {
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
    expect(concatBytes()).toEqual(new Uint8Array());
    const secret = Uint8Array.of(9, 9, 9);
    wipe(secret);
    expect(secret).toEqual(new Uint8Array(3));
  });
});

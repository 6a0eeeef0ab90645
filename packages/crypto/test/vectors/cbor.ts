/**
 * CBOR examples from RFC 8949 Appendix A (identical to RFC 7049 Appendix A), as published in
 * machine-readable form by the CBOR working group: cbor/test-vectors, appendix_a.json
 * (commit 3f5ec87a…). https://www.rfc-editor.org/rfc/rfc8949#appendix-A
 */
import type { CanonicalValue } from '../../src/index.js';

/**
 * Examples whose value is in this package's data model and whose Appendix A encoding is
 * already the deterministic (RFC 8949 §4.2.1) one: encode must produce exactly these bytes,
 * decode must accept them.
 */
export const CBOR_CANONICAL_EXAMPLES: readonly { readonly hex: string; readonly value: CanonicalValue }[] = [
  { hex: '00', value: 0 },
  { hex: '01', value: 1 },
  { hex: '0a', value: 10 },
  { hex: '17', value: 23 },
  { hex: '1818', value: 24 },
  { hex: '1819', value: 25 },
  { hex: '1864', value: 100 },
  { hex: '1903e8', value: 1000 },
  { hex: '1a000f4240', value: 1000000 },
  { hex: '1b000000e8d4a51000', value: 1000000000000 },
  { hex: '20', value: -1 },
  { hex: '29', value: -10 },
  { hex: '3863', value: -100 },
  { hex: '3903e7', value: -1000 },
  { hex: 'f4', value: false },
  { hex: 'f5', value: true },
  { hex: 'f6', value: null },
  { hex: '40', value: new Uint8Array() },
  { hex: '4401020304', value: Uint8Array.of(1, 2, 3, 4) },
  { hex: '60', value: '' },
  { hex: '6161', value: 'a' },
  { hex: '6449455446', value: 'IETF' },
  { hex: '62225c', value: '"\\' },
  { hex: '62c3bc', value: '\u00fc' },
  { hex: '63e6b0b4', value: '\u6c34' },
  { hex: '64f0908591', value: '\ud800\udd51' },
  { hex: '80', value: [] },
  { hex: '83010203', value: [1, 2, 3] },
  { hex: '8301820203820405', value: [1, [2, 3], [4, 5]] },
  {
    hex: '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    value: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
  },
  { hex: 'a0', value: {} },
  { hex: 'a26161016162820203', value: { a: 1, b: [2, 3] } },
  { hex: '826161a161626163', value: ['a', { b: 'c' }] },
  { hex: 'a56161614161626142616361436164614461656145', value: { a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' } },
];

/**
 * Appendix A examples outside the data model or not deterministically encoded: canonicalDecode
 * must refuse every one (floats, integers beyond 2^53 − 1, bignums, simple values, undefined,
 * tags, indefinite lengths, integer map keys).
 */
export const CBOR_REJECTED_EXAMPLES: readonly { readonly hex: string; readonly what: string }[] = [
  { hex: '1bffffffffffffffff', what: '18446744073709551615' },
  { hex: 'c249010000000000000000', what: 'bignum 2^64' },
  { hex: '3bffffffffffffffff', what: '-18446744073709551616' },
  { hex: 'c349010000000000000000', what: 'negative bignum' },
  { hex: 'f90000', what: 'float 0.0' },
  { hex: 'f98000', what: 'float -0.0' },
  { hex: 'f93c00', what: 'float 1.0' },
  { hex: 'fb3ff199999999999a', what: 'float 1.1' },
  { hex: 'f93e00', what: 'float 1.5' },
  { hex: 'f97bff', what: 'float 65504.0' },
  { hex: 'fa47c35000', what: 'float 100000.0' },
  { hex: 'fa7f7fffff', what: 'float 3.4028234663852886e+38' },
  { hex: 'fb7e37e43c8800759c', what: 'float 1.0e+300' },
  { hex: 'f90001', what: 'float 5.960464477539063e-8' },
  { hex: 'f90400', what: 'float 0.00006103515625' },
  { hex: 'f9c400', what: 'float -4.0' },
  { hex: 'fbc010666666666666', what: 'float -4.1' },
  { hex: 'f97c00', what: 'Infinity' },
  { hex: 'f97e00', what: 'NaN' },
  { hex: 'f9fc00', what: '-Infinity' },
  { hex: 'fa7f800000', what: 'Infinity (single)' },
  { hex: 'fa7fc00000', what: 'NaN (single)' },
  { hex: 'faff800000', what: '-Infinity (single)' },
  { hex: 'fb7ff0000000000000', what: 'Infinity (double)' },
  { hex: 'fb7ff8000000000000', what: 'NaN (double)' },
  { hex: 'fbfff0000000000000', what: '-Infinity (double)' },
  { hex: 'f7', what: 'undefined' },
  { hex: 'f0', what: 'simple(16)' },
  { hex: 'f818', what: 'simple(24)' },
  { hex: 'f8ff', what: 'simple(255)' },
  { hex: 'c074323031332d30332d32315432303a30343a30305a', what: '0("2013-03-21T20:04:00Z")' },
  { hex: 'c11a514b67b0', what: '1(1363896240)' },
  { hex: 'c1fb41d452d9ec200000', what: '1(1363896240.5)' },
  { hex: 'd74401020304', what: "23(h'01020304')" },
  { hex: 'd818456449455446', what: "24(h'6449455446')" },
  { hex: 'd82076687474703a2f2f7777772e6578616d706c652e636f6d', what: '32("http://www.example.com")' },
  { hex: 'a201020304', what: '{1: 2, 3: 4}' },
  { hex: '5f42010243030405ff', what: "(_ h'0102', h'030405')" },
  { hex: '7f657374726561646d696e67ff', what: '(_ "strea", "ming")' },
  { hex: '9fff', what: '[_ ]' },
  { hex: '9f018202039f0405ffff', what: '[_ 1, [2, 3], [_ 4, 5]]' },
  { hex: '9f01820203820405ff', what: '[_ 1, [2, 3], [4, 5]]' },
  { hex: '83018202039f0405ff', what: '[1, [2, 3], [_ 4, 5]]' },
  { hex: '83019f0203ff820405', what: '[1, [_ 2, 3], [4, 5]]' },
  { hex: '9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff', what: '[_ 1, …, 25]' },
  { hex: 'bf61610161629f0203ffff', what: '{_ "a": 1, "b": [_ 2, 3]}' },
  { hex: '826161bf61626163ff', what: '["a", {_ "b": "c"}]' },
  { hex: 'bf6346756ef563416d7421ff', what: '{_ "Fun": true, "Amt": -2}' },
];

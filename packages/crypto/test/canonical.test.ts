import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanonicalMemo, CryptoError, canonicalDecode, canonicalEncode, canonicalPieces, isCanonicalMap, type CanonicalValue } from '../src/index.js';
import { InvalidEncodingError, NonCanonicalEncodingError } from '../src/errors.js';
import { MAX_CANONICAL_DEPTH } from '../src/canonical.js';
import { hex, unhex } from './support/helpers.js';
import { CBOR_CANONICAL_EXAMPLES, CBOR_REJECTED_EXAMPLES } from './vectors/cbor.js';

// ---------------------------------------------------------------------------------------------
// An independent reference encoder for the data model (RFC 8949 §4.2.1 core deterministic
// encoding: shortest arguments, definite lengths, map keys sorted bytewise by their encoding).

function head(major: number, argument: number | bigint): Uint8Array {
  const n = BigInt(argument);
  const m = major << 5;
  if (n < 24n) return Uint8Array.of(m | Number(n));
  if (n <= 0xffn) return Uint8Array.of(m | 24, Number(n));
  if (n <= 0xffffn) return Uint8Array.of(m | 25, Number(n >> 8n), Number(n & 0xffn));
  const bytes = n <= 0xffff_ffffn ? 4 : 8;
  const out = new Uint8Array(1 + bytes);
  out[0] = m | (bytes === 4 ? 26 : 27);
  for (let i = 0; i < bytes; i++) out[bytes - i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

function referenceEncode(value: CanonicalValue): Uint8Array {
  if (value === null) return Uint8Array.of(0xf6);
  if (value === false) return Uint8Array.of(0xf4);
  if (value === true) return Uint8Array.of(0xf5);
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1n - BigInt(value));
  if (typeof value === 'string') {
    const utf8 = new TextEncoder().encode(value);
    return Buffer.concat([head(3, utf8.length), utf8]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(referenceEncode)]);
  const entries = Object.entries(value as Record<string, CanonicalValue>).map(([k, v]) => [referenceEncode(k), referenceEncode(v)] as const);
  entries.sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat([head(5, entries.length), ...entries.flat()]);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Strings in the data model: any Unicode text that does not begin with a byte order mark (see below). */
const noLeadingBom = (s: string): boolean => s.charCodeAt(0) !== 0xfeff;
const keyArb = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 30 }).filter(noLeadingBom),
  fc.constantFrom('__proto__', 'constructor', '0', '10', '-1'),
);
const scalarArb = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -24, -25, -256, -257, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
  fc.string({ unit: 'binary', maxLength: 40 }).filter(noLeadingBom),
  fc.string({ maxLength: 30 }),
  fc.uint8Array({ maxLength: 40 }),
);
const { value: canonicalValueArb } = fc.letrec<{ value: CanonicalValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.array(fc.tuple(keyArb, tie('value')), { maxLength: 6 }).map((entries) => Object.fromEntries(entries) as CanonicalValue),
  ),
}));

/** Rebuild every object in `value` with its keys inserted in a shuffled order. */
function reorderKeys(value: CanonicalValue, random: () => number): CanonicalValue {
  if (Array.isArray(value)) return value.map((v: CanonicalValue) => reorderKeys(v, random));
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const entries = Object.entries(value as Record<string, CanonicalValue>);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, reorderKeys(v, random)]));
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isCanonicalError(err: unknown): boolean {
  return err instanceof NonCanonicalEncodingError || err instanceof InvalidEncodingError;
}

function expectRejected(bytes: Uint8Array, label = hex(bytes)): void {
  let thrown: unknown;
  try {
    canonicalDecode(bytes);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `${label} should be rejected`).toBeInstanceOf(CryptoError);
  expect(isCanonicalError(thrown), `${label}: ${String(thrown)}`).toBe(true);
}

/** The decode contract for arbitrary input: a typed rejection, or a value that re-encodes to the same bytes. */
function checkDecodeContract(bytes: Uint8Array): boolean {
  let value: CanonicalValue;
  try {
    value = canonicalDecode(bytes);
  } catch (err) {
    if (!isCanonicalError(err)) throw new Error(`canonicalDecode(${hex(bytes)}) threw a non-CryptoError: ${String(err)}`, { cause: err });
    return false;
  }
  expect(hex(canonicalEncode(value))).toBe(hex(bytes));
  expect(hex(referenceEncode(value))).toBe(hex(bytes));
  return true;
}

// ---------------------------------------------------------------------------------------------

describe('RFC 8949 Appendix A examples', () => {
  it('encode to exactly the listed bytes, and decode back', () => {
    for (const { hex: expected, value } of CBOR_CANONICAL_EXAMPLES) {
      expect(hex(canonicalEncode(value)), expected).toBe(expected);
      expect(canonicalDecode(unhex(expected)), expected).toEqual(value);
    }
  });

  it('the reference encoder agrees with them (so it can be trusted in the properties below)', () => {
    for (const { hex: expected, value } of CBOR_CANONICAL_EXAMPLES) expect(hex(referenceEncode(value))).toBe(expected);
  });

  it('everything outside the data model or not deterministically encoded is rejected', () => {
    for (const { hex: bytes, what } of CBOR_REJECTED_EXAMPLES) expectRejected(unhex(bytes), what);
  });
});

describe('canonicalEncode / canonicalDecode properties', () => {
  it('round trip: decode(encode(v)) = v, and re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(canonicalValueArb, (value) => {
        const bytes = canonicalEncode(value);
        const decoded = canonicalDecode(bytes);
        expect(decoded).toEqual(value);
        expect(hex(canonicalEncode(decoded))).toBe(hex(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('encoding equals the independent RFC 8949 §4.2.1 reference encoding', () => {
    fc.assert(
      fc.property(canonicalValueArb, (value) => {
        expect(hex(canonicalEncode(value))).toBe(hex(referenceEncode(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('encoding does not depend on object key insertion order', () => {
    fc.assert(
      fc.property(canonicalValueArb, fc.integer(), (value, seed) => {
        const shuffled = reorderKeys(value, mulberry32(seed));
        expect(hex(canonicalEncode(shuffled))).toBe(hex(canonicalEncode(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('different values have different encodings (injective on random pairs)', () => {
    fc.assert(
      fc.property(canonicalValueArb, canonicalValueArb, (a, b) => {
        const same = hex(canonicalEncode(a)) === hex(canonicalEncode(b));
        if (same) expect(canonicalDecode(canonicalEncode(a))).toEqual(canonicalDecode(canonicalEncode(b)));
        else expect(canonicalDecode(canonicalEncode(a))).not.toEqual(canonicalDecode(canonicalEncode(b)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('hand-built non-canonical encodings are rejected', () => {
  const cases: [string, string][] = [
    ['unsorted map keys', 'a2' + '6162' + '01' + '6161' + '02'],
    ['map keys sorted lexicographically instead of by encoded length', 'a2' + '626161' + '02' + '6162' + '01'],
    ['unsorted keys in a nested map', '81' + 'a2' + '6163' + 'f6' + '6161' + 'f6'],
    ['duplicate map keys', 'a2' + '6161' + '01' + '6161' + '02'],
    ['duplicate keys with different values of different types', 'a2' + '6161' + 'f4' + '6161' + 'f5'],
    ['non-minimal uint (1 as 1 byte)', '1801'],
    ['non-minimal uint (23 as 1 byte)', '1817'],
    ['non-minimal uint (1 as 2 bytes)', '190001'],
    ['non-minimal uint (255 as 2 bytes)', '1900ff'],
    ['non-minimal uint (1 as 4 bytes)', '1a00000001'],
    ['non-minimal uint (65535 as 4 bytes)', '1a0000ffff'],
    ['non-minimal uint (1 as 8 bytes)', '1b0000000000000001'],
    ['non-minimal uint (2^32-1 as 8 bytes)', '1b00000000ffffffff'],
    ['non-minimal negative int (-1 as 1 byte)', '3800'],
    ['non-minimal negative int (-1 as 8 bytes)', '3b0000000000000000'],
    ['non-minimal text length', '780161'],
    ['non-minimal byte-string length', '580100'],
    ['non-minimal array length', '980101'],
    ['non-minimal map length', 'b8016161f6'],
    ['indefinite-length text string', '7f' + '6161' + 'ff'],
    ['indefinite-length empty text string', '7fff'],
    ['indefinite-length byte string', '5f' + '4100' + 'ff'],
    ['indefinite-length array', '9f' + '01' + 'ff'],
    ['indefinite-length map', 'bf' + '6161' + '01' + 'ff'],
    ['half float 1.0', 'f93c00'],
    ['single float 1.0', 'fa3f800000'],
    ['double float 1.0', 'fb3ff0000000000000'],
    ['double float 1.5 inside an array', '81fb3ff8000000000000'],
    ['float as a map value', 'a16161f93c00'],
    ['undefined', 'f7'],
    ['undefined in an array', '8201f7'],
    ['undefined as a map value', 'a16161f7'],
    ['simple value 0', 'e0'],
    ['simple value 19', 'f3'],
    ['simple value 32', 'f820'],
    ['tag 0 (date string)', 'c0' + '6161'],
    ['tag 1 (epoch)', 'c101'],
    ['tag 2 (bignum 1)', 'c24101'],
    ['tag 24 (embedded CBOR)', 'd8184101'],
    ['tag 55799 (self-described CBOR)', 'd9d9f7' + '01'],
    ['tagged map value', 'a16161c101'],
    ['integer map key', 'a1' + '01' + '02'],
    ['byte-string map key', 'a1' + '4100' + '01'],
    ['array map key', 'a1' + '80' + '01'],
    ['null map key', 'a1' + 'f6' + '01'],
    ['integer 2^53 (outside the safe range)', '1b0020000000000000'],
    ['integer -(2^53) - 1', '3b0020000000000000'],
    ['trailing byte after a complete item', '0100'],
    ['two concatenated items', '6161' + '6162'],
    ['empty input', ''],
    ['truncated array', '8301'],
    ['truncated text', '6461'],
    ['truncated argument', '19ff'],
    ['lone break', 'ff'],
    ['reserved additional info 28', '1c'],
    ['reserved additional info 31 on major type 0', '1f'],
    ['invalid UTF-8 in text', '62c328'],
    ['overlong UTF-8 encoding of "/"', '62c0af'],
    ['UTF-8-encoded surrogate half', '63eda080'],
    ['huge byte-string length', '5bffffffffffffffff'],
    ['huge array length', '9b00000000ffffffff'],
  ];

  for (const [what, bytes] of cases) {
    it(what, () => expectRejected(unhex(bytes), what));
  }

  it('nesting deeper than MAX_CANONICAL_DEPTH is rejected, at the limit it is accepted', () => {
    const nested = (depth: number): Uint8Array => unhex('81'.repeat(depth) + '01');
    expect(canonicalDecode(nested(MAX_CANONICAL_DEPTH))).toBeDefined();
    expectRejected(nested(MAX_CANONICAL_DEPTH + 1));
    expectRejected(nested(100_000)); // must not escape as a RangeError (stack overflow)
    expectRejected(unhex('a1616181'.repeat(2000) + '01'));
  });
});

describe('canonicalEncode refuses values outside the data model', () => {
  const bad: [string, unknown][] = [
    ['float', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['bigint', 1n],
    ['undefined', undefined],
    ['undefined in an array', [1, undefined]],
    ['array hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['undefined object value', { a: undefined }],
    ['function', () => 1],
    ['symbol', Symbol('s')],
    ['Date', new Date(0)],
    ['Map', new Map([['a', 1]])],
    ['Set', new Set([1])],
    [
      'class instance',
      new (class Point {
        public x = 1;
      })(),
    ],
    ['Int8Array', new Int8Array(2)],
    ['Uint16Array', new Uint16Array(2)],
    ['ArrayBuffer', new ArrayBuffer(2)],
    ['DataView', new DataView(new ArrayBuffer(2))],
    ['float nested in an object', { a: [{ b: 0.5 }] }],
    ['lone high surrogate', 'a\ud800b'],
    ['lone low surrogate', '\udc00'],
    ['reversed surrogate pair', '\udc00\ud800'],
    ['lone surrogate in a map key', { '\ud83d': 1 }],
    ['lone surrogate nested in an array', [['\udfff']]],
  ];

  for (const [what, value] of bad) {
    it(what, () => {
      let thrown: unknown;
      try {
        canonicalEncode(value as CanonicalValue);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(InvalidEncodingError);
    });
  }

  it('nesting: MAX_CANONICAL_DEPTH levels encode, one more does not', () => {
    const nest = (depth: number): CanonicalValue => {
      let v: CanonicalValue = 1;
      for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
      return v;
    };
    expect(canonicalDecode(canonicalEncode(nest(MAX_CANONICAL_DEPTH)))).toEqual(nest(MAX_CANONICAL_DEPTH));
    expect(() => canonicalEncode(nest(MAX_CANONICAL_DEPTH + 1))).toThrow(InvalidEncodingError);
  });

  it('two strings differing only in an unpaired surrogate cannot collide (they would both become U+FFFD)', () => {
    expect(hex(canonicalEncode('\ufffd'))).toBe('63efbfbd');
    expect(() => canonicalEncode('\ud800')).toThrow(InvalidEncodingError);
    expect(() => canonicalEncode({ '\ud800': 1, '\ufffd': 2 })).toThrow(InvalidEncodingError);
  });
});

describe('edge cases of the data model', () => {
  it('-0 encodes as the integer 0', () => {
    expect(hex(canonicalEncode(-0))).toBe('00');
    expect(Object.is(canonicalDecode(unhex('00')), 0)).toBe(true);
  });

  it('Buffer (a Uint8Array subclass) encodes as a byte string and decodes as a plain Uint8Array', () => {
    const bytes = canonicalEncode(Buffer.from([1, 2, 3]));
    expect(hex(bytes)).toBe('43010203');
    expect(canonicalDecode(bytes)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('null-prototype objects encode like plain objects', () => {
    const obj = Object.assign(Object.create(null) as Record<string, CanonicalValue>, { b: 2, a: 1 });
    expect(hex(canonicalEncode(obj))).toBe(hex(canonicalEncode({ a: 1, b: 2 })));
  });

  it('"__proto__" is an ordinary key: it round trips as an own property and pollutes nothing', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as CanonicalValue;
    const bytes = canonicalEncode(value);
    const decoded = canonicalDecode(bytes) as Record<string, CanonicalValue>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(hex(canonicalEncode(decoded))).toBe(hex(bytes));
  });

  it('integer-like keys are ordered by their encoding, not by JS property order', () => {
    // JS enumerates "10" before "b"; CBOR deterministic order is by encoded key: "b" (61 62) < "10" (62 31 30).
    expect(hex(canonicalEncode({ '10': 1, b: 2 }))).toBe('a2' + '616202' + '62313001');
    expect(canonicalDecode(unhex('a2' + '616202' + '62313001'))).toEqual({ '10': 1, b: 2 });
  });
});

describe('fuzzing canonicalDecode', () => {
  it('100,000 random byte strings: each decodes to a value that re-encodes identically, or throws a CryptoError', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        if (checkDecodeContract(bytes)) accepted++;
      }),
      { numRuns: 100_000 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('CBOR-shaped random bytes (header bytes over-represented)', () => {
    const headers = [
      0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x20, 0x38, 0x40, 0x41, 0x58, 0x5f, 0x60, 0x61, 0x62, 0x78, 0x7f, 0x80, 0x81, 0x82, 0x98, 0x9f, 0xa0, 0xa1, 0xa2,
      0xb8, 0xbf, 0xc0, 0xc2, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff,
    ];
    const byte = fc.oneof(fc.constantFrom(...headers), fc.integer({ min: 0, max: 255 }));
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (list) => {
        if (checkDecodeContract(Uint8Array.from(list))) accepted++;
      }),
      { numRuns: 30_000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('mutated valid encodings (bit flips, truncation, insertion, deletion) keep the contract', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('flip', 'truncate', 'insert', 'delete', 'replace'),
      position: fc.nat(),
      bit: fc.nat({ max: 7 }),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(canonicalValueArb, mutation, (value, m) => {
        const bytes = canonicalEncode(value);
        const i = m.position % (bytes.length + (m.kind === 'insert' ? 1 : 0));
        let mutated: Uint8Array;
        switch (m.kind) {
          case 'flip':
            mutated = new Uint8Array(bytes);
            mutated[i] = mutated[i]! ^ (1 << m.bit);
            break;
          case 'truncate':
            mutated = bytes.subarray(0, i);
            break;
          case 'insert':
            mutated = Uint8Array.from([...bytes.subarray(0, i), m.byte, ...bytes.subarray(i)]);
            break;
          case 'delete':
            mutated = Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)]);
            break;
          default:
            mutated = new Uint8Array(bytes);
            mutated[i] = m.byte;
        }
        if (checkDecodeContract(mutated)) accepted++;
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('a string beginning with a byte order mark', () => {
  it('is refused when encoding, wherever it sits, and bytes carrying one never decode (the decoder would drop it)', () => {
    const bom = '\uFEFFtitle';
    for (const value of [bom, { [bom]: 1 }, { a: [{ b: bom }] }, [bom]] as CanonicalValue[]) {
      expect(() => canonicalEncode(value), JSON.stringify(value)).toThrow(InvalidEncodingError);
    }
    // A BOM inside a string is ordinary text and round-trips.
    expect(canonicalDecode(canonicalEncode('a\uFEFFb'))).toBe('a\uFEFFb');
    // Hand-made CBOR text string 0x68 (8 bytes): EF BB BF "title" — what another encoder could send.
    const forged = Uint8Array.from([0x68, 0xef, 0xbb, 0xbf, ...new TextEncoder().encode('title')]);
    expect(() => canonicalDecode(forged)).toThrow();
    expect(() => canonicalDecode(Uint8Array.from([0xa1, ...forged, 0x01]))).toThrow();
  });
});

describe('canonicalPieces (a big value encoded piece by piece, for hashing with pauses)', () => {
  const joined = (value: CanonicalValue, split: number): Uint8Array => Buffer.concat([...canonicalPieces(value, split)]);

  it('concatenate to exactly the whole encoding, for any value and any split depth, however its keys were inserted (property)', () => {
    fc.assert(
      fc.property(canonicalValueArb, fc.nat(4), fc.integer(), (value, split, seed) => {
        const whole = canonicalEncode(value);
        expect(hex(joined(reorderKeys(value, mulberry32(seed)), split))).toBe(hex(whole));
        expect(hex(whole)).toBe(hex(referenceEncode(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('split a map into its head, then each key and its value, in encoded-key order; lists of every length get the shortest head', () => {
    const pieces = [...canonicalPieces({ bb: [1, 2], a: 'x', ccc: null }, 2)].map(hex);
    // a3 (3 entries); "a" "x"; "bb" [2 entries] 1 2; "ccc" null.
    expect(pieces).toEqual(['a3', '6161', '6178', '626262', '82', '01', '02', '63636363', 'f6']);
    for (const n of [0, 23, 24, 255, 256, 65_535, 65_536]) {
      const list = new Array<CanonicalValue>(n).fill(0);
      expect(hex(joined(list, 1))).toBe(hex(canonicalEncode(list)));
      expect(hex([...canonicalPieces(list, 1)][0]!)).toBe(hex(referenceEncode(list)).slice(0, n < 24 ? 2 : n < 256 ? 4 : n < 65_536 ? 6 : 10));
    }
  });

  it('refuse what canonicalEncode refuses, at the same depth (nothing hashes that would not encode)', () => {
    let deep: CanonicalValue = 1;
    for (let i = 0; i <= MAX_CANONICAL_DEPTH; i++) deep = [deep];
    const refused: unknown[] = [
      deep,
      { a: [1.5] },
      { a: [{ b: undefined }] },
      [new Map()],
      { '\uFEFFk': 1 },
      ['\uD800'],
      Object.create({ inherited: 1 }) as CanonicalValue,
      { a: Object.assign(Object.create({ x: 1 }) as object, { y: 2 }) },
    ];
    for (const value of refused) {
      expect(() => canonicalEncode(value as CanonicalValue), String(value)).toThrow(InvalidEncodingError);
      for (const split of [1, 2, 3, 70]) expect(() => joined(value as CanonicalValue, split), `${String(value)} split ${split}`).toThrow(InvalidEncodingError);
    }
    // Exactly at the limit: both encode.
    let atLimit: CanonicalValue = 1;
    for (let i = 0; i < MAX_CANONICAL_DEPTH; i++) atLimit = [atLimit];
    expect(hex(joined(atLimit, 70))).toBe(hex(canonicalEncode(atLimit)));
  });
});

describe('CanonicalMemo (a frozen piece met again is not encoded again)', () => {
  const joined = (value: CanonicalValue, split: number, memo: CanonicalMemo): Uint8Array => Buffer.concat([...canonicalPieces(value, split, memo)]);
  /** Freeze every object and array in `value` (bytes cannot be frozen: they stay as they are). */
  const deepFreeze = <T>(value: T): T => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
    for (const v of Object.values(value)) deepFreeze(v);
    return Object.freeze(value);
  };

  it('give exactly the whole encoding through a run of values, frozen or not, sharing one memo, whatever the split (property)', () => {
    fc.assert(
      fc.property(fc.array(canonicalValueArb, { minLength: 1, maxLength: 8 }), fc.nat(3), (values, split) => {
        const memo = new CanonicalMemo();
        for (const value of values) {
          const frozen = deepFreeze(structuredClone(value));
          // Twice each: the second time from the memo where the piece is frozen.
          for (const v of [value, frozen, frozen, value]) expect(hex(joined(v, split, memo))).toBe(hex(canonicalEncode(value)));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('hand back the very bytes of the frozen entries met again, and encode the new one', () => {
    const task = (i: number, closed: boolean) => deepFreeze({ id: `t${i}`, audience: ['crew'], closed, parent: null });
    const tasks = Array.from({ length: 50 }, (_, i) => task(i, false));
    const memo = new CanonicalMemo();
    const first = [...canonicalPieces({ name: 'board', tasks }, 2, memo)];
    const changed = tasks.map((t, i) => (i === 7 ? task(7, true) : t));
    const second = [...canonicalPieces({ name: 'board', tasks: changed }, 2, memo)];
    expect(second.length).toBe(first.length);
    const taskPieces = (pieces: Uint8Array[]) => pieces.filter((p) => p.length > 20);
    expect(taskPieces(first)).toHaveLength(50);
    // 49 of the 50 task pieces are the very same arrays; only task 7's is new.
    expect(taskPieces(second).filter((p) => !taskPieces(first).includes(p))).toHaveLength(1);
    expect(hex(Buffer.concat(second))).toBe(hex(canonicalEncode({ name: 'board', tasks: changed })));
  });

  it('encode afresh what could have changed since: an unfrozen piece, one frozen only on top, one with a getter', () => {
    const memo = new CanonicalMemo();
    const open = { a: [1] };
    const shallow = Object.freeze({ a: [1] });
    let n = 1;
    const getter = Object.freeze(
      Object.defineProperty({}, 'a', {
        get: () => n,
        enumerable: true,
      }),
    ) as CanonicalValue;
    for (const value of [open, shallow, getter] as CanonicalValue[]) expect(hex(joined([value], 1, memo))).toBe(hex(canonicalEncode([value])));
    open.a.push(2);
    shallow.a.push(2);
    n = 2;
    for (const value of [open, shallow, getter] as CanonicalValue[]) expect(hex(joined([value], 1, memo))).toBe(hex(canonicalEncode([value])));
    expect(hex(joined([getter], 1, memo))).toBe(hex(canonicalEncode([{ a: 2 }])));
    // Empty bytes can be frozen, yet a view on a resizable buffer grows with it.
    // Resizable buffers are ES2024, past this project's lib: typed here.
    const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };
    const buffer = new Resizable(0, { maxByteLength: 4 });
    const growing = Object.freeze({ b: new Uint8Array(buffer) });
    expect(hex(joined([growing], 1, memo))).toBe(hex(canonicalEncode([{ b: new Uint8Array(0) }])));
    buffer.resize(2);
    expect(hex(joined([growing], 1, memo))).toBe(hex(canonicalEncode([{ b: new Uint8Array(2) }])));
  });

  it('refuse what the encoder refuses, frozen or not, and a remembered piece met deeper than the depth limit allows', () => {
    const memo = new CanonicalMemo();
    for (const bad of [Object.freeze(new Map()), Object.freeze(new Date(0)), Object.freeze([Number.NaN]), Object.freeze({ a: undefined })]) {
      expect(() => joined([bad as unknown as CanonicalValue], 1, memo)).toThrow(InvalidEncodingError);
      expect(() => joined([bad as unknown as CanonicalValue], 1, memo)).toThrow(InvalidEncodingError);
    }
    let deep: CanonicalValue = 1;
    for (let i = 0; i < MAX_CANONICAL_DEPTH - 1; i++) deep = deepFreeze([deep]);
    // At depth 1 it fits exactly; one level deeper it does not, memo or not.
    expect(hex(joined([deep], 1, memo))).toBe(hex(canonicalEncode([deep])));
    expect(() => joined([[deep]], 2, memo)).toThrow(InvalidEncodingError);
    expect(() => canonicalEncode([[deep]])).toThrow(InvalidEncodingError);
  });

  it('keep prototype names as plain keys, in a frozen piece met again as in one met once', () => {
    const memo = new CanonicalMemo();
    // Own properties named as the prototype's, as JSON.parse makes them (an object literal would not).
    const named = deepFreeze(JSON.parse('{"__proto__":{"constructor":"x"},"constructor":{"toString":1},"hasOwnProperty":[]}') as CanonicalValue);
    const expected = hex(canonicalEncode([named]));
    expect(hex(joined([named], 1, memo))).toBe(expected);
    expect(hex(joined([named], 1, memo))).toBe(expected);
    expect(Object.keys(named as object)).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
  });

  it('refuse a cycle as the encoder does, without overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    Object.freeze(cyclic);
    expect(() => joined([cyclic as CanonicalValue], 1, new CanonicalMemo())).toThrow(InvalidEncodingError);
  });
});

describe('isCanonicalMap', () => {
  it('is true of maps only: never of null, a list, bytes, or a scalar (property over decoded values)', () => {
    fc.assert(
      fc.property(canonicalValueArb, (v) => {
        const decoded = canonicalDecode(canonicalEncode(v));
        // Another way to tell a plain object from null, lists, bytes and scalars than the one under test.
        expect(isCanonicalMap(decoded)).toBe(Object.prototype.toString.call(v) === '[object Object]');
      }),
      { numRuns: 300 },
    );
    for (const notMap of [null, [], [{}], new Uint8Array(0), new Uint8Array([1]), 0, 1, '', 'map', true, false, undefined])
      expect(isCanonicalMap(notMap)).toBe(false);
    expect(isCanonicalMap({})).toBe(true);
  });

  it('a decoded map whose keys are prototype names is a map, with those keys as its own', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const decoded = canonicalDecode(canonicalEncode(Object.fromEntries([[key, 1]])));
      expect(isCanonicalMap(decoded)).toBe(true);
      expect(Object.hasOwn(decoded as object, key)).toBe(true);
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    }
  });
});

import { decode, encode, rfc8949EncodeOptions } from 'cborg';
import { equalBytes } from './bytes.js';
import { InvalidEncodingError, NonCanonicalEncodingError } from './errors.js';

/**
 * Canonical bytes for everything that is signed or hashed: deterministically encoded CBOR
 * (RFC 8949 §4.2.1, "core deterministic encoding") over a deliberately small data model:
 *
 *   null | boolean | safe integer | string | Uint8Array | CanonicalValue[] | { [key: string]: CanonicalValue }
 *
 * - integers use the shortest form; map keys are sorted bytewise by their encoded form;
 *   no indefinite lengths, no tags, no floats, no undefined, no duplicate keys;
 * - decoding is strict and additionally re-encodes the value and requires identical bytes,
 *   so exactly one byte string is accepted for every value (signatures cannot be malleated by
 *   re-encoding, and event ids = hash of the bytes are stable).
 * CBOR (rather than canonical JSON) because signed payloads carry many raw byte strings
 * (keys, ciphertexts, signatures) that JSON would need base64 for.
 */
export type CanonicalValue = null | boolean | number | string | Uint8Array | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

/**
 * Whether a decoded value is a map (the one kind of object that is neither a list nor bytes):
 * what every reader of a canonical document asks before it reads fields.
 */
export function isCanonicalMap(value: unknown): value is { readonly [key: string]: CanonicalValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

const DECODE_OPTIONS = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  useMaps: false,
} as const;

/** Nesting limit: deeper structures are refused rather than risking stack exhaustion. */
export const MAX_CANONICAL_DEPTH = 64;

/**
 * A UTF-16 string with an unpaired surrogate has no UTF-8 encoding: the encoder would silently
 * write U+FFFD, so two different strings (or two distinct map keys) would get the same bytes.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A string that begins with U+FEFF (a byte order mark) does not survive a round trip: the CBOR
 * decoder's UTF-8 decoding drops a leading BOM, so the event its author signed would decode as
 * something else, and fail the canonical check, on every other replica. Refused at both ends.
 */
const BOM = 0xfeff;

function checkString(value: string): void {
  if (LONE_SURROGATE.test(value)) throw new InvalidEncodingError('strings must be well-formed Unicode (unpaired surrogate)');
  if (value.charCodeAt(0) === BOM) throw new InvalidEncodingError('a string may not begin with U+FEFF (a byte order mark)');
}

function check(value: unknown, depth: number): void {
  if (depth > MAX_CANONICAL_DEPTH) throw new InvalidEncodingError('value nests too deeply');
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') {
    checkString(value);
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new InvalidEncodingError('only safe integers are allowed (no floats)');
    return;
  }
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const v of value) check(v, depth + 1);
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new InvalidEncodingError('only plain objects are allowed');
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      checkString(k);
      if (v === undefined) throw new InvalidEncodingError('undefined is not encodable; omit the key instead');
      check(v, depth + 1);
    }
    return;
  }
  throw new InvalidEncodingError(`type ${typeof value} is not encodable`);
}

export function canonicalEncode(value: CanonicalValue): Uint8Array {
  return leafBytes(value, 0);
}

/**
 * canonicalEncode(value) in pieces whose concatenation is exactly its bytes: maps and arrays
 * down to `split` levels come as their head and then their entries (a map's sorted by encoded
 * key, as the whole encoding sorts them), deeper values whole. For hashing a value too big to
 * encode between two turns of an event loop (a pursuance's public state at a million events:
 * seconds): the caller hashes piece by piece and pauses between pieces. Checked as
 * canonicalEncode checks, at each value's real depth.
 */
export function* canonicalPieces(value: CanonicalValue, split: number, memo?: CanonicalMemo): Generator<Uint8Array> {
  yield* piecesOf(value, split, 0, memo);
}

function* piecesOf(value: CanonicalValue, split: number, depth: number, memo: CanonicalMemo | undefined): Generator<Uint8Array> {
  if (split <= 0 || value === null || typeof value !== 'object' || value instanceof Uint8Array) {
    yield memo ? memo.encode(value, depth) : leafBytes(value, depth);
    return;
  }
  if (depth > MAX_CANONICAL_DEPTH) throw new InvalidEncodingError('value nests too deeply');
  if (Array.isArray(value)) {
    yield head(MAJOR_ARRAY, value.length);
    for (const v of value as readonly CanonicalValue[]) yield* piecesOf(v, split - 1, depth + 1, memo);
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new InvalidEncodingError('only plain objects are allowed');
  const entries = Object.entries(value as Record<string, CanonicalValue>).map(([k, v]): [Uint8Array, CanonicalValue] => {
    checkString(k);
    if (v === undefined) throw new InvalidEncodingError('undefined is not encodable; omit the key instead');
    return [encode(k, rfc8949EncodeOptions), v];
  });
  entries.sort(([a], [b]) => compareBytes(a, b));
  yield head(MAJOR_MAP, entries.length);
  for (const [key, v] of entries) {
    yield key;
    yield* piecesOf(v, split - 1, depth + 1, memo);
  }
}

/**
 * The encodings of canonicalPieces' whole pieces, remembered by the piece itself: a
 * pursuance's public state is hashed again after every change, and after one task changed all
 * but one of its 5,000 task entries are the very objects they were (the state keeps them), so
 * only the new one is encoded. Only a deeply frozen piece is remembered (plain objects and
 * arrays, frozen all the way down, with data properties only): nothing can change it after its
 * bytes were taken. Anything else is checked and encoded each time, as without a memo. The
 * depth is kept with the bytes, since the depth limit depends on it. Entries go when their
 * piece is collected (a WeakMap), so what is kept follows the live state.
 */
export class CanonicalMemo {
  readonly #bytes = new WeakMap<object, { readonly depth: number; readonly bytes: Uint8Array }>();

  /** The encoding of `value` at `depth`: the one remembered, else checked and encoded (and remembered if frozen). */
  public encode(value: CanonicalValue, depth: number): Uint8Array {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return leafBytes(value, depth);
    const known = this.#bytes.get(value);
    if (known !== undefined && known.depth === depth) return known.bytes;
    const bytes = leafBytes(value, depth);
    if (deeplyFrozen(value)) this.#bytes.set(value, { depth, bytes });
    return bytes;
  }
}

/** A piece encoded whole, after the checks canonicalEncode makes (at the piece's real depth). */
function leafBytes(value: CanonicalValue, depth: number): Uint8Array {
  check(value, depth);
  return encode(value, rfc8949EncodeOptions);
}

/**
 * Frozen all the way down, every property a data property: it cannot change. Asked only of a
 * value the encoder's checks passed (plain objects, arrays, bytes, scalars). Bytes never count
 * as frozen: a view on a resizable buffer can change length.
 */
function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (ArrayBuffer.isView(value) || !Object.isFrozen(value)) return false;
  for (const d of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (!('value' in d) || !deeplyFrozen(d.value)) return false;
  }
  return true;
}

const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;

/** The shortest head of a major type with argument `n` (RFC 8949 §3, §4.2.1). */
function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >>> 8, n & 0xff);
  if (n < 0x100000000) return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  // An array of 2^32 entries does not fit in memory: no longer head is ever needed.
  throw new InvalidEncodingError('too many entries');
}

/** Bytewise lexicographic order, a prefix first: how deterministic encoding sorts map keys. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Strict decode and data-model check, WITHOUT the re-encode comparison. Only for bytes whose
 * exact form is pinned another way — e.g. covered byte for byte by a signature — where a
 * second encoding of the same value could only come from the signer and would be a different
 * message anyway. Everything else uses canonicalDecode.
 */
export function strictDecode(bytes: Uint8Array): CanonicalValue {
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw new InvalidEncodingError(`not valid CBOR: ${(cause as Error).message}`, { cause });
  }
  check(value, 0);
  return value as CanonicalValue;
}

export function canonicalDecode(bytes: Uint8Array): CanonicalValue {
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw new InvalidEncodingError(`not valid CBOR: ${(cause as Error).message}`, { cause });
  }
  check(value, 0);
  const again = encode(value, rfc8949EncodeOptions);
  if (!equalBytes(again, bytes)) throw new NonCanonicalEncodingError('bytes are not the canonical encoding of their value');
  return value as CanonicalValue;
}

import {
  DecryptionError,
  PaddingError,
  strictDecode,
  canonicalEncode,
  isCanonicalMap,
  hmacSha256,
  hmacSha256Hex,
  padToSize,
  secretboxOpen,
  secretboxSeal,
  unpad,
  wipe,
  type CanonicalValue,
  type Identity,
} from '@pursuance/crypto';
import { StoreCorruptError } from './errors.js';

/**
 * The node store's keys, derived with HKDF-SHA256 from the profile identity's secret (which is
 * itself sealed under the profile password in the Cwtch profile). Deriving rather than keeping
 * a random data key means nothing more to seal, back up or re-seal on a password change, no
 * second scrypt on every start, and a store that only the profile's unlocked identity opens.
 * One key seals rows (secretbox); another keys the index tags (HMAC-SHA256), so clear index
 * columns cannot be matched against event or pursuance ids by anyone without the profile.
 */
const encoder = new TextEncoder();
const SALT = encoder.encode('pursuance/node-store/v1');
/** Sealed rows are padded to a multiple of this, so a row's size says little about its content. */
export const ROW_PADDING_BUCKET = 256;

/**
 * HKDF-SHA256 (RFC 5869) for one 32-byte output block: PRK = HMAC(salt, ikm), OKM = HMAC(PRK,
 * info ‖ 0x01). Built on the crypto package's HMAC, as the profile vault derives its keys.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  const prk = hmacSha256(salt, ikm);
  try {
    return hmacSha256(prk, info, Uint8Array.of(1));
  } finally {
    wipe(prk);
  }
}

export type TagKind = 'event' | 'pursuance' | 'input' | 'projection' | 'bucket' | 'count' | 'fold';

export class StoreKeys {
  readonly #sealKey: Uint8Array;
  readonly #indexKey: Uint8Array;

  private constructor(sealKey: Uint8Array, indexKey: Uint8Array) {
    this.#sealKey = sealKey;
    this.#indexKey = indexKey;
  }

  public static forIdentity(identity: Identity): StoreKeys {
    const ikm = identity.x25519SecretKey();
    try {
      const derive = (info: string) => hkdfSha256(ikm, SALT, encoder.encode(info));
      return new StoreKeys(derive('seal'), derive('index'));
    } finally {
      wipe(ikm);
    }
  }

  /** A keyed hash of an id, for the clear index columns (hex, 64 characters). */
  public tag(kind: TagKind, id: string): string {
    return hmacSha256Hex(this.#indexKey, kind, '\u0000', id);
  }

  /** Seal a record: canonical CBOR, padded to the bucket, secretbox with a random nonce. */
  public seal(record: Record<string, CanonicalValue>): Buffer {
    const plain = canonicalEncode(record);
    const size = Math.ceil((plain.length + 4) / ROW_PADDING_BUCKET) * ROW_PADDING_BUCKET;
    return Buffer.from(secretboxSeal(this.#sealKey, padToSize(plain, size)));
  }

  /** Open a sealed record; StoreCorruptError when it does not open, unpad or decode to a map of type `t` (or one of them). */
  public open(sealed: Uint8Array, t: string | readonly string[]): Record<string, CanonicalValue> {
    let value: CanonicalValue;
    try {
      // No re-encode comparison (canonicalDecode): secretbox authenticated these bytes under a
      // key only this profile holds, and this class wrote them canonically. A replay of 100,000
      // events spent 1.2 s on that comparison alone.
      value = strictDecode(unpad(secretboxOpen(this.#sealKey, sealed)));
    } catch (cause) {
      if (cause instanceof DecryptionError) throw new StoreCorruptError("a stored row does not open under this profile's store key", { cause });
      if (cause instanceof PaddingError) throw new StoreCorruptError('a stored row is badly padded', { cause });
      throw new StoreCorruptError('a stored row does not decode', { cause });
    }
    if (!isCanonicalMap(value)) throw new StoreCorruptError('a stored row is not a record');
    const record = value;
    const types: readonly string[] = typeof t === 'string' ? [t] : t;
    if (!Object.hasOwn(record, 't') || typeof record.t !== 'string' || !types.includes(record.t))
      throw new StoreCorruptError(`a stored row is not a ${types.join(' or ')} record`);
    return record;
  }

  /** Whether `sealed` opens under this key (the store's key check). */
  public opens(sealed: Uint8Array, t: string): boolean {
    try {
      this.open(sealed, t);
      return true;
    } catch (err) {
      if (err instanceof StoreCorruptError) return false;
      throw err;
    }
  }

  public wipe(): void {
    wipe(this.#sealKey);
    wipe(this.#indexKey);
  }
}

import { randomBytes } from 'node:crypto';
import {
  CryptoError,
  DecryptionError,
  Identity,
  WrongPasswordError as CryptoWrongPasswordError,
  canonicalDecode,
  canonicalEncode,
  hmacSha256,
  openWithPassword,
  sealWithPassword,
  secretboxOpen,
  secretboxSeal,
  toHex,
  wipe,
  type CanonicalValue,
  type PasswordSealed,
  type ScryptParams,
} from '@pursuance/crypto';
import { z } from 'zod';
import { ProfileCorruptError, ProfileNotFoundError, WrongPasswordError } from './errors.js';
import type { ListOptions, ProfileStore, StoreOp } from './store.js';

/**
 * The profile at rest. The header holds the identity seed and a random master key, sealed
 * together under the password (scrypt + secretbox, from packages/crypto). Every record is
 * then sealed with a key derived from the master key, and collection names and record keys
 * are replaced by keyed hashes, so the store (and anyone reading its file) sees neither
 * contents nor contacts, group ids or message signatures. Each sealed record carries its own
 * collection and key, checked on read, so records cannot be swapped around undetected.
 */
const HEADER_VERSION = 1;
const MASTER_KEY_SIZE = 32;
const SEED_SIZE = 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const HeaderSchema = z.strictObject({
  v: z.literal(HEADER_VERSION),
  sealed: z.strictObject({
    v: z.literal(1),
    kdf: z.literal('scrypt'),
    N: z.number().int(),
    r: z.number().int(),
    p: z.number().int(),
    salt: z.string().max(64),
    box: z.string().max(256),
  }),
});

export interface VaultRecord {
  readonly key: string;
  readonly value: CanonicalValue;
  readonly seq: number;
}

export class ProfileVault {
  readonly #store: ProfileStore;
  readonly #sealKey: Uint8Array;
  readonly #indexKey: Uint8Array;
  readonly #collectionIds = new Map<string, string>();

  private constructor(store: ProfileStore, masterKey: Uint8Array) {
    this.#store = store;
    this.#sealKey = hmacSha256(masterKey, encoder.encode('cwtch/profile/seal-key/v1'));
    this.#indexKey = hmacSha256(masterKey, encoder.encode('cwtch/profile/index-key/v1'));
  }

  public get store(): ProfileStore {
    return this.#store;
  }

  /**
   * Create a new profile (fresh identity, fresh master key) in an empty store.
   * ProfileExistsError, and no change, if the store already holds one.
   */
  public static async create(store: ProfileStore, password: string, params?: ScryptParams): Promise<{ vault: ProfileVault; identity: Identity }> {
    const secret = new Uint8Array(randomBytes(SEED_SIZE + MASTER_KEY_SIZE));
    try {
      const identity = Identity.fromSeed(secret.subarray(0, SEED_SIZE));
      const sealed = await sealWithPassword(password, secret, params);
      await store.createHeader(encoder.encode(JSON.stringify({ v: HEADER_VERSION, sealed })));
      return { vault: new ProfileVault(store, secret.subarray(SEED_SIZE)), identity };
    } finally {
      wipe(secret);
    }
  }

  /**
   * Open the profile with its password. Reads only: a wrong password (WrongPasswordError) or a
   * damaged header (ProfileCorruptError) leaves the store exactly as it was.
   */
  public static async unlock(store: ProfileStore, password: string): Promise<{ vault: ProfileVault; identity: Identity }> {
    const header = await store.readHeader();
    if (header === undefined) throw new ProfileNotFoundError();
    let sealed: PasswordSealed;
    try {
      sealed = HeaderSchema.parse(JSON.parse(decoder.decode(header))).sealed;
    } catch (cause) {
      throw new ProfileCorruptError('profile header is malformed', { cause });
    }
    let secret: Uint8Array;
    try {
      secret = await openWithPassword(password, sealed);
    } catch (cause) {
      if (cause instanceof CryptoWrongPasswordError) throw new WrongPasswordError({ cause });
      if (cause instanceof CryptoError) throw new ProfileCorruptError(`profile header does not open: ${cause.code}`, { cause });
      throw cause;
    }
    try {
      if (secret.length !== SEED_SIZE + MASTER_KEY_SIZE) throw new ProfileCorruptError('profile header holds the wrong amount of key material');
      const identity = Identity.fromSeed(secret.subarray(0, SEED_SIZE));
      return { vault: new ProfileVault(store, secret.subarray(SEED_SIZE)), identity };
    } finally {
      wipe(secret);
    }
  }

  #collectionId(collection: string): string {
    let id = this.#collectionIds.get(collection);
    if (id === undefined) {
      id = 'c' + toHex(hmacSha256(this.#indexKey, encoder.encode('collection'), Uint8Array.of(0), encoder.encode(collection)).subarray(0, 16));
      this.#collectionIds.set(collection, id);
    }
    return id;
  }

  #recordKey(collection: string, key: string): string {
    return toHex(
      hmacSha256(this.#indexKey, encoder.encode('record'), Uint8Array.of(0), encoder.encode(collection), Uint8Array.of(0), encoder.encode(key)).subarray(0, 20),
    );
  }

  #seal(collection: string, key: string, value: CanonicalValue): Uint8Array {
    return secretboxSeal(this.#sealKey, canonicalEncode({ c: collection, k: key, v: value }));
  }

  #open(collection: string, key: string | undefined, sealed: Uint8Array): { key: string; value: CanonicalValue } {
    let decoded: CanonicalValue;
    try {
      decoded = canonicalDecode(secretboxOpen(this.#sealKey, sealed));
    } catch (cause) {
      if (cause instanceof DecryptionError) throw new ProfileCorruptError('a profile record does not open under the profile key', { cause });
      throw new ProfileCorruptError('a profile record does not decode', { cause });
    }
    const record = decoded as { c?: unknown; k?: unknown; v?: CanonicalValue };
    if (
      typeof record !== 'object' ||
      record === null ||
      record.c !== collection ||
      typeof record.k !== 'string' ||
      (key !== undefined && record.k !== key) ||
      record.v === undefined
    ) {
      throw new ProfileCorruptError('a profile record is not where it belongs');
    }
    return { key: record.k, value: record.v };
  }

  /** A sealed put, to be applied with `write` (possibly together with others, atomically). */
  public put(collection: string, key: string, value: CanonicalValue): StoreOp {
    return { type: 'put', collection: this.#collectionId(collection), key: this.#recordKey(collection, key), value: this.#seal(collection, key, value) };
  }

  public delete(collection: string, key: string): StoreOp {
    return { type: 'delete', collection: this.#collectionId(collection), key: this.#recordKey(collection, key) };
  }

  public write(ops: readonly StoreOp[]): Promise<void> {
    return ops.length === 0 ? Promise.resolve() : this.#store.write(ops);
  }

  public async get(collection: string, key: string): Promise<CanonicalValue | undefined> {
    const sealed = await this.#store.get(this.#collectionId(collection), this.#recordKey(collection, key));
    return sealed === undefined ? undefined : this.#open(collection, key, sealed).value;
  }

  public async list(collection: string, options?: ListOptions): Promise<VaultRecord[]> {
    const records = await this.#store.list(this.#collectionId(collection), options);
    return records.map((r) => ({ ...this.#open(collection, undefined, r.value), seq: r.seq }));
  }

  /** Every record of a collection, read in pages. */
  public async *all(collection: string, pageSize = 1000): AsyncGenerator<VaultRecord> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.list(collection, { afterSeq, limit: pageSize });
      for (const r of page) yield r;
      if (page.length < pageSize) return;
      afterSeq = page.at(-1)!.seq;
    }
  }

  public count(collection: string): Promise<number> {
    return this.#store.count(this.#collectionId(collection));
  }

  /** Forget the keys (the store itself is closed by its owner). */
  public lock(): void {
    wipe(this.#sealKey);
    wipe(this.#indexKey);
  }
}

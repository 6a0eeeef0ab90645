import { ProfileExistsError, StoreClosedError, StoreInvalidOperationError } from './errors.js';

/**
 * The profile's storage port. Everything a peer keeps goes through it as opaque bytes: one
 * header (the password-sealed keys) and records in named collections. The profile layer
 * seals every record and hashes every collection name and key before they get here, so a
 * store only ever sees random-looking names and ciphertexts.
 *
 * Implementations: MemoryProfileStore (tests, throwaway peers) and the SQLite/TypeORM store in
 * packages/cwtch-store-sqlite. Both pass the contract suite in `@pursuance/cwtch/testing`.
 */
export interface ProfileRecord {
  readonly key: string;
  readonly value: Uint8Array;
  /**
   * Position in the store: assigned when a key is first put into its collection, kept when its
   * value is replaced, strictly increasing across the store. Lists come back in this order.
   */
  readonly seq: number;
}

export type StoreOp =
  | { readonly type: 'put'; readonly collection: string; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly collection: string; readonly key: string };

export interface ListOptions {
  /** Only records with seq > afterSeq (for paging: pass the last seq seen). */
  readonly afterSeq?: number;
  readonly limit?: number;
}

export interface ProfileStore {
  /** The profile header, or undefined for an empty store. */
  readHeader(): Promise<Uint8Array | undefined>;
  /** Store the header of a new profile; ProfileExistsError (and no change) if one exists. */
  createHeader(header: Uint8Array): Promise<void>;
  get(collection: string, key: string): Promise<Uint8Array | undefined>;
  /**
   * Apply puts and deletes atomically and durably: after it resolves they survive a restart;
   * if it rejects, none of them happened. Invalid ops reject with StoreInvalidOperationError
   * before anything is written.
   */
  write(ops: readonly StoreOp[]): Promise<void>;
  /** Records of one collection in seq order. */
  list(collection: string, options?: ListOptions): Promise<ProfileRecord[]>;
  count(collection: string): Promise<number>;
  close(): Promise<void>;
}

export const MAX_STORE_NAME_LENGTH = 200;
export const MAX_STORE_VALUE_SIZE = 1 << 20;
export const MAX_HEADER_SIZE = 64 * 1024;

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_STORE_NAME_LENGTH) {
    throw new StoreInvalidOperationError(`${what} must be a string of 1..${MAX_STORE_NAME_LENGTH} characters`);
  }
}

/** Validate a batch before anything is written (shared by every implementation). */
export function validateOps(ops: readonly StoreOp[]): void {
  const list: unknown = ops; // callers may be untyped JavaScript
  if (!Array.isArray(list)) throw new StoreInvalidOperationError('write takes an array of operations');
  for (const op of ops) {
    checkName('collection', op.collection);
    checkName('key', op.key);
    if (op.type === 'put') {
      if (!(op.value instanceof Uint8Array)) throw new StoreInvalidOperationError('a value is a Uint8Array');
      if (op.value.length > MAX_STORE_VALUE_SIZE) throw new StoreInvalidOperationError(`a value is at most ${MAX_STORE_VALUE_SIZE} bytes`);
    } else if (op.type !== 'delete') {
      throw new StoreInvalidOperationError('an operation is a put or a delete');
    }
  }
}

export function validateHeader(header: Uint8Array): void {
  if (!(header instanceof Uint8Array) || header.length === 0 || header.length > MAX_HEADER_SIZE) {
    throw new StoreInvalidOperationError(`a header is 1..${MAX_HEADER_SIZE} bytes`);
  }
}

export function validateListOptions(options: ListOptions): { afterSeq: number; limit: number } {
  const afterSeq = options.afterSeq ?? 0;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new StoreInvalidOperationError('afterSeq is a non-negative integer');
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreInvalidOperationError('limit is a non-negative integer');
  return { afterSeq, limit };
}

/** The data of a MemoryProfileStore, kept apart so a test can "restart" over the same data. */
export class MemoryProfileState {
  public header: Uint8Array | undefined;
  public readonly collections = new Map<string, Map<string, { seq: number; value: Uint8Array }>>();
  public lastSeq = 0;
}

/** In-memory ProfileStore: the contract exactly, durable as long as its state object lives. */
export class MemoryProfileStore implements ProfileStore {
  readonly #state: MemoryProfileState;
  #closed = false;

  public constructor(state: MemoryProfileState = new MemoryProfileState()) {
    this.#state = state;
  }

  public get state(): MemoryProfileState {
    return this.#state;
  }

  #open(): MemoryProfileState {
    if (this.#closed) throw new StoreClosedError();
    return this.#state;
  }

  public readHeader(): Promise<Uint8Array | undefined> {
    return run(() => {
      const header = this.#open().header;
      return header === undefined ? undefined : new Uint8Array(header);
    });
  }

  public createHeader(header: Uint8Array): Promise<void> {
    return run(() => {
      const state = this.#open();
      validateHeader(header);
      if (state.header !== undefined) throw new ProfileExistsError();
      state.header = new Uint8Array(header);
    });
  }

  public get(collection: string, key: string): Promise<Uint8Array | undefined> {
    return run(() => {
      const found = this.#open().collections.get(collection)?.get(key);
      return found === undefined ? undefined : new Uint8Array(found.value);
    });
  }

  public write(ops: readonly StoreOp[]): Promise<void> {
    return run(() => {
      const state = this.#open();
      validateOps(ops);
      for (const op of ops) {
        let records = state.collections.get(op.collection);
        if (op.type === 'delete') {
          records?.delete(op.key);
          continue;
        }
        if (records === undefined) {
          records = new Map();
          state.collections.set(op.collection, records);
        }
        const existing = records.get(op.key);
        // Map keeps insertion order and set() on an existing key keeps its place, so iteration
        // order is seq order.
        if (existing) existing.value = new Uint8Array(op.value);
        else records.set(op.key, { seq: ++state.lastSeq, value: new Uint8Array(op.value) });
      }
    });
  }

  public list(collection: string, options: ListOptions = {}): Promise<ProfileRecord[]> {
    return run(() => {
      const { afterSeq, limit } = validateListOptions(options);
      const out: ProfileRecord[] = [];
      const records = this.#open().collections.get(collection);
      if (records === undefined || limit === 0) return out;
      for (const [key, record] of records) {
        if (record.seq <= afterSeq) continue;
        out.push({ key, seq: record.seq, value: new Uint8Array(record.value) });
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  public count(collection: string): Promise<number> {
    return run(() => this.#open().collections.get(collection)?.size ?? 0);
  }

  public close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

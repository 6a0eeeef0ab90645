import { toHex } from '@pursuance/crypto';
import { StoreClosedError } from './errors.js';
import {
  DEFAULT_BUCKET_MS,
  PRUNE_BATCH,
  bucketOf,
  capPruneCount,
  firstKeptDay,
  storageDay,
  type PostOutcome,
  type PostRecord,
  type RelayStore,
  type RelayStoreOptions,
  type StoreStats,
  type StoredMessage,
} from './store.js';

/** The state of a MemoryRelayStore, kept apart so a test can "reopen" the same data. */
export class MemoryRelayState {
  public readonly messages: StoredMessage[] = [];
  public readonly bySignature = new Map<string, StoredMessage>();
  public readonly spent = new Set<string>();
  public lastSeq = 0;
  /** Per storage day, the last seq stored that day (what retention reads; see STORAGE_DAY_MS). */
  public readonly days = new Map<number, number>();
  /** Per fetch bucket, the last seq filed under it (what seqBeforeBucket reads; see DEFAULT_BUCKET_MS). */
  public readonly buckets = new Map<number, number>();
}

/** Spent tokens are keyed "epoch:hex(input)". */
const spentKey = (epoch: number, input: Uint8Array): string => `${epoch}:${toHex(input)}`;

const messageBytes = (m: StoredMessage): number => m.signature.byteLength + m.ciphertext.byteLength;

/**
 * In-memory RelayStore for tests and for embedding a throwaway relay. Durable only as long
 * as the process lives; everything else follows the contract exactly.
 */
export class MemoryRelayStore implements RelayStore {
  readonly #state: MemoryRelayState;
  readonly #maxMessages: number | undefined;
  readonly #retentionMs: number | undefined;
  readonly #pruneBatch: number;
  readonly #now: () => number;
  /** The fetch bucket length in ms (see RelayStoreOptions.bucketMs). */
  public readonly bucketMs: number;
  /** The latest bucket a message was filed under (read from the marks at "open", as the other stores do). */
  #lastBucket: number;
  #pruned = 0;
  #expired = 0;
  #closed = false;

  public constructor(options: RelayStoreOptions & { state?: MemoryRelayState } = {}) {
    this.#state = options.state ?? new MemoryRelayState();
    this.#maxMessages = options.maxMessages;
    this.#retentionMs = options.retentionMs;
    this.#pruneBatch = options.pruneBatch ?? PRUNE_BATCH;
    this.#now = options.now ?? Date.now;
    this.bucketMs = options.bucketMs ?? DEFAULT_BUCKET_MS;
    this.#lastBucket = Number.NEGATIVE_INFINITY;
    for (const bucket of this.#state.buckets.keys()) this.#lastBucket = Math.max(this.#lastBucket, bucket);
  }

  #open(): MemoryRelayState {
    if (this.#closed) throw new StoreClosedError();
    return this.#state;
  }

  public post(record: PostRecord): Promise<PostOutcome> {
    try {
      const state = this.#open();
      const token = spentKey(record.tokenEpoch, record.tokenInput);
      if (state.spent.has(token)) return Promise.resolve({ kind: 'token-spent' });
      state.spent.add(token);
      const signature = toHex(record.signature);
      if (state.bySignature.has(signature)) return Promise.resolve({ kind: 'duplicate' });
      const message: StoredMessage = {
        seq: ++state.lastSeq,
        signature: new Uint8Array(record.signature),
        ciphertext: new Uint8Array(record.ciphertext),
      };
      const before = state.messages.length;
      state.messages.push(message);
      state.bySignature.set(signature, message);
      // A clock stepped back must not file a new message under an older day (it would expire early).
      const latestDay = Math.max(-Infinity, ...state.days.keys());
      state.days.set(Math.max(storageDay(this.#now()), latestDay), message.seq);
      // Likewise a message is never filed under an older bucket than one before it.
      this.#lastBucket = this.#bucketNow();
      state.buckets.set(this.#lastBucket, message.seq);
      this.#prune(state, before);
      return Promise.resolve({ kind: 'stored', message });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** One "transaction"'s pruning, by the same rules and bounds as the SQLite store. Returns how many went. */
  #prune(state: MemoryRelayState, before: number): number {
    let expired = 0;
    if (this.#retentionMs !== undefined) {
      const keepFrom = firstKeptDay(this.#now(), this.#retentionMs);
      const upTo = Math.max(0, ...[...state.days].filter(([day]) => day < keepFrom).map(([, seq]) => seq));
      while (expired < this.#pruneBatch && (state.messages[expired]?.seq ?? Infinity) <= upTo) expired += 1;
      this.#drop(state, expired);
    }
    const pruned = capPruneCount(Math.min(before, state.messages.length), state.messages.length, this.#maxMessages, this.#pruneBatch);
    this.#drop(state, pruned);
    this.#expired += expired;
    this.#pruned += pruned;
    const oldest = state.messages[0]?.seq ?? state.lastSeq + 1;
    for (const [day, seq] of state.days) if (seq < oldest) state.days.delete(day);
    for (const [bucket, seq] of state.buckets) if (seq < oldest) state.buckets.delete(bucket);
    return expired + pruned;
  }

  #drop(state: MemoryRelayState, n: number): void {
    for (const gone of state.messages.splice(0, n)) state.bySignature.delete(toHex(gone.signature));
  }

  public pruneDue(): Promise<number> {
    return this.#async(() => {
      const state = this.#open();
      let total = 0;
      for (;;) {
        const n = this.#prune(state, state.messages.length);
        total += n;
        if (n === 0) return total;
      }
    });
  }

  public isSpent(tokenEpoch: number, tokenInput: Uint8Array): Promise<boolean> {
    return this.#async(() => this.#open().spent.has(spentKey(tokenEpoch, tokenInput)));
  }

  public dropSpentBefore(epoch: number): Promise<number> {
    return this.#async(() => {
      const state = this.#open();
      let dropped = 0;
      for (const key of state.spent) {
        if (Number(key.slice(0, key.indexOf(':'))) < epoch) {
          state.spent.delete(key);
          dropped += 1;
        }
      }
      return dropped;
    });
  }

  public seqOf(signature: Uint8Array): Promise<number | undefined> {
    return this.#async(() => this.#open().bySignature.get(toHex(signature))?.seq);
  }

  public lastSeq(): Promise<number> {
    return this.#async(() => this.#open().lastSeq);
  }

  public currentBucket(): number {
    this.#open();
    return this.#bucketNow();
  }

  #bucketNow(): number {
    return Math.max(bucketOf(this.#now(), this.bucketMs), this.#lastBucket);
  }

  public seqBeforeBucket(bucket: number): Promise<number> {
    return this.#async(() => {
      let before = 0;
      for (const [b, seq] of this.#open().buckets) if (b < bucket) before = Math.max(before, seq);
      return before;
    });
  }

  public count(fromSeq: number, toSeq: number): Promise<number> {
    return this.#async(() => this.#range(fromSeq, toSeq).length);
  }

  public read(fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#async(() => this.#range(fromSeq, toSeq).slice(0, Math.max(0, limit)));
  }

  #range(fromSeq: number, toSeq: number): StoredMessage[] {
    // Messages are kept in seq order; a linear filter is fine for test-sized data.
    return this.#open().messages.filter((m) => m.seq >= fromSeq && m.seq <= toSeq);
  }

  public stats(): Promise<StoreStats> {
    return this.#async(() => {
      const state = this.#open();
      return {
        messages: state.messages.length,
        bytes: state.messages.reduce((sum, m) => sum + messageBytes(m), 0),
        spentTokens: state.spent.size,
        pruned: this.#pruned,
        expired: this.#expired,
        maxMessages: this.#maxMessages,
        retentionMs: this.#retentionMs,
      };
    });
  }

  public close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #async<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

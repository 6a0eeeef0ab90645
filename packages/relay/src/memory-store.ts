import { toHex } from '@pursuance/crypto';
import { StoreClosedError } from './errors.js';
import { messagesToPrune, type PostOutcome, type PostRecord, type RelayStore, type RelayStoreOptions, type StoreStats, type StoredMessage } from './store.js';

/** The state of a MemoryRelayStore, kept apart so a test can "reopen" the same data. */
export class MemoryRelayState {
  public readonly messages: StoredMessage[] = [];
  public readonly bySignature = new Map<string, StoredMessage>();
  public readonly spent = new Set<string>();
  public lastSeq = 0;
}

/**
 * In-memory RelayStore for tests and for embedding a throwaway relay. Durable only as long
 * as the process lives; everything else follows the contract exactly.
 */
export class MemoryRelayStore implements RelayStore {
  readonly #state: MemoryRelayState;
  readonly #maxMessages: number | undefined;
  #pruned = 0;
  #closed = false;

  public constructor(options: RelayStoreOptions & { state?: MemoryRelayState } = {}) {
    this.#state = options.state ?? new MemoryRelayState();
    this.#maxMessages = options.maxMessages;
  }

  #open(): MemoryRelayState {
    if (this.#closed) throw new StoreClosedError();
    return this.#state;
  }

  public post(record: PostRecord): Promise<PostOutcome> {
    try {
      const state = this.#open();
      const token = toHex(record.tokenInput);
      if (state.spent.has(token)) return Promise.resolve({ kind: 'token-spent' });
      state.spent.add(token);
      const signature = toHex(record.signature);
      if (state.bySignature.has(signature)) return Promise.resolve({ kind: 'duplicate' });
      const message: StoredMessage = {
        seq: ++state.lastSeq,
        signature: new Uint8Array(record.signature),
        ciphertext: new Uint8Array(record.ciphertext),
      };
      state.messages.push(message);
      state.bySignature.set(signature, message);
      this.#prune(state);
      return Promise.resolve({ kind: 'stored', message });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #prune(state: MemoryRelayState): void {
    const n = messagesToPrune(state.messages.length, this.#maxMessages);
    for (const gone of state.messages.splice(0, n)) state.bySignature.delete(toHex(gone.signature));
    this.#pruned += n;
  }

  public isSpent(tokenInput: Uint8Array): Promise<boolean> {
    return this.#async(() => this.#open().spent.has(toHex(tokenInput)));
  }

  public seqOf(signature: Uint8Array): Promise<number | undefined> {
    return this.#async(() => this.#open().bySignature.get(toHex(signature))?.seq);
  }

  public lastSeq(): Promise<number> {
    return this.#async(() => this.#open().lastSeq);
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
      return { messages: state.messages.length, spentTokens: state.spent.size, pruned: this.#pruned, maxMessages: this.#maxMessages };
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

import { StoreClosedError } from '@pursuance/relay';

/**
 * What a store's one writer does, one transaction per call. Each must leave the store's
 * in-memory state (counts, last seq) updated before it returns, because callers are told the
 * outcome right after.
 */
export interface GroupCommitWriter<R, O> {
  /** Commit a batch of posts in one transaction; outcomes in the batch's order. Throws a typed error for all of them. */
  commit(batch: readonly R[]): Promise<O[]>;
  /** One bounded prune-only transaction; how many messages it deleted (0 = nothing more is due). */
  pruneStep(): Promise<number>;
}

interface Pending<R, O> {
  readonly record: R;
  resolve(outcome: O): void;
  reject(error: Error): void;
}

const nextTurn = (): Promise<void> => new Promise<void>((done) => setImmediate(done));

/**
 * The writer loop of a relay store: posts that arrive while a transaction runs are committed
 * together in the next one (group commit: one durable commit for many posts), their outcomes
 * resolve in commit order, one-off jobs (dropping an epoch's spent tokens) run between
 * transactions, and a pruning catch-up runs one bounded transaction at a time with posts let
 * in between, so it never holds posting back by more than one batch.
 */
export class GroupCommitLoop<R, O> {
  readonly #writer: GroupCommitWriter<R, O>;
  readonly #maxBatch: number;
  readonly #queue: Pending<R, O>[] = [];
  readonly #jobs: (() => Promise<void>)[] = [];
  /** Callers of pruneDue waiting for a pass that finds nothing more to delete. */
  #pruneWaiters: { resolve(deleted: number): void; reject(error: Error): void }[] = [];
  #pruneDeleted = 0;
  #flushing: Promise<void> | undefined;
  #closed = false;

  public constructor(writer: GroupCommitWriter<R, O>, maxBatch: number) {
    this.#writer = writer;
    this.#maxBatch = maxBatch;
  }

  public get closed(): boolean {
    return this.#closed;
  }

  public submit(record: R): Promise<O> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#kick();
    });
  }

  /** Run `job` alone, between two transactions of the loop. */
  public job<T>(job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#jobs.push(() => job().then(resolve, reject));
      this.#kick();
    });
  }

  /** Resolves with how many messages were deleted once a pass finds nothing more due. */
  public pruneDue(): Promise<number> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#pruneWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Stop taking work, finish what is queued (a pruning catch-up is cut short: the next start resumes it). */
  public async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    this.#settlePruneWaiters();
  }

  #kick(): void {
    // On the next turn, so posts arriving in the same tick share one transaction.
    this.#flushing ??= nextTurn().then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      for (;;) {
        const job = this.#jobs.shift();
        if (job !== undefined) await job();
        else if (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.#maxBatch));
        else if (this.#pruneWaiters.length > 0 && !this.#closed) await this.#pruneOnce();
        else break;
        // Let posts that arrived meanwhile reach the queue before the next prune-only pass.
        if (this.#queue.length === 0 && this.#pruneWaiters.length > 0) await nextTurn();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #commit(batch: Pending<R, O>[]): Promise<void> {
    let outcomes: O[];
    try {
      outcomes = await this.#writer.commit(batch.map((p) => p.record));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    }
    // In order: the board publishes live pushes as these resolve, so seq order is kept.
    batch.forEach((p, i) => p.resolve(outcomes[i]!));
  }

  async #pruneOnce(): Promise<void> {
    let deleted: number;
    try {
      deleted = await this.#writer.pruneStep();
    } catch (err) {
      const waiters = this.#pruneWaiters;
      this.#pruneWaiters = [];
      this.#pruneDeleted = 0;
      for (const w of waiters) w.reject(err as Error);
      return;
    }
    this.#pruneDeleted += deleted;
    if (deleted === 0) this.#settlePruneWaiters();
  }

  #settlePruneWaiters(): void {
    const waiters = this.#pruneWaiters;
    const deleted = this.#pruneDeleted;
    this.#pruneWaiters = [];
    this.#pruneDeleted = 0;
    for (const w of waiters) w.resolve(deleted);
  }
}

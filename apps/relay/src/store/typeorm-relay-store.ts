import type { DataSource, QueryRunner } from 'typeorm';
import { toHex } from '@pursuance/crypto';
import { openDurableSqlite, relayMigrations } from '@pursuance/migrations';
import {
  DEFAULT_BUCKET_MS,
  PRUNE_BATCH,
  StoreClosedError,
  StoreFailedError,
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
} from '@pursuance/relay';
import { relayEntities } from './entities.js';

export interface TypeormRelayStoreOptions extends RelayStoreOptions {
  /** SQLite database file (its -wal and -shm files live beside it). */
  readonly path: string;
  /** Posts committed together at most (group commit). */
  readonly maxBatch?: number;
  /** Called after every commit: for metrics (never receives message content). */
  readonly onCommit?: (info: CommitInfo) => void;
}

export interface CommitInfo {
  /** Posts in the commit (0 for a transaction that only pruned). */
  readonly posts: number;
  readonly stored: number;
  /** Deleted for the cap. */
  readonly pruned: number;
  /** Deleted for the retention window. */
  readonly expired: number;
  readonly seconds: number;
}

interface Pruning {
  readonly pruned: number;
  readonly expired: number;
  /** Bytes of the deleted messages. */
  readonly bytes: number;
}

interface Pending {
  readonly record: PostRecord;
  resolve(outcome: PostOutcome): void;
  reject(error: Error): void;
}

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
/** Spent tokens in memory: "epoch:hex(input)". */
const spentKey = (epoch: number, input: Uint8Array): string => `${epoch}:${toHex(input)}`;
const placeholders = (n: number, row = '?'): string => Array.from({ length: n }, () => row).join(',');
/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766; stay well below it per statement. */
const ROWS_PER_INSERT = 200;

/**
 * RelayStore on SQLite through TypeORM (sqlite3 driver), in WAL mode with synchronous=FULL:
 * a post is acknowledged only after the transaction holding its message AND its spent token
 * committed, so a crash can neither lose an acknowledged post nor let a token be spent twice.
 *
 * Writes go through one group-commit loop on the writer connection: posts that arrive while a
 * commit is running are committed together in the next transaction (one fsync for many
 * posts). Reads (replays) use a second, read-only connection, which in WAL mode sees only
 * committed data and never waits for the writer. The schema comes from the migrations, which
 * run on open; `synchronize` is never used.
 */
export class TypeormRelayStore implements RelayStore {
  readonly #writer: DataSource;
  readonly #reader: DataSource;
  readonly #maxMessages: number | undefined;
  readonly #retentionMs: number | undefined;
  readonly #pruneBatch: number;
  readonly #now: () => number;
  /** The fetch bucket length in ms (see RelayStoreOptions.bucketMs). */
  public readonly bucketMs: number;
  readonly #maxBatch: number;
  readonly #onCommit: ((info: CommitInfo) => void) | undefined;
  readonly #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** Callers of pruneDue waiting for a pass that finds nothing more to delete. */
  #pruneWaiters: { resolve(deleted: number): void; reject(error: Error): void }[] = [];
  #pruneDeleted = 0;
  /** One-off writes that must not interleave with a commit (they run between transactions). */
  readonly #jobs: (() => Promise<void>)[] = [];
  #lastSeq: number;
  #messages: number;
  #bytes: number;
  /** The latest storage day marked (a clock stepped back never files messages under an older one). */
  #lastDay: number;
  /** The latest fetch bucket marked (buckets never decrease with seq, whatever the clock does). */
  #lastBucket: number;
  #spentTokens: number;
  #pruned = 0;
  #expired = 0;
  #closed = false;
  /** Names of migrations applied when this store was opened (empty when the schema was current). */
  public readonly appliedMigrations: readonly string[];

  private constructor(
    writer: DataSource,
    reader: DataSource,
    options: TypeormRelayStoreOptions,
    state: { lastSeq: number; messages: number; bytes: number; lastDay: number; lastBucket: number; spentTokens: number; applied: string[] },
  ) {
    this.#writer = writer;
    this.#reader = reader;
    this.#maxMessages = options.maxMessages;
    this.#retentionMs = options.retentionMs;
    this.#pruneBatch = options.pruneBatch ?? PRUNE_BATCH;
    this.#now = options.now ?? Date.now;
    this.bucketMs = options.bucketMs ?? DEFAULT_BUCKET_MS;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#onCommit = options.onCommit;
    this.#lastSeq = state.lastSeq;
    this.#messages = state.messages;
    this.#bytes = state.bytes;
    this.#lastDay = state.lastDay;
    this.#lastBucket = state.lastBucket;
    this.#spentTokens = state.spentTokens;
    this.appliedMigrations = state.applied;
  }

  public static async open(options: TypeormRelayStoreOptions): Promise<TypeormRelayStore> {
    const { writer, reader, applied } = await openDurableSqlite({ path: options.path, entities: relayEntities, migrations: relayMigrations, reader: true });
    try {
      const [seqRow] = await writer.query<{ seq: number }[]>(`SELECT seq FROM sqlite_sequence WHERE name = 'relay_messages'`);
      const [countRow] = await writer.query<{ n: number; b: number }[]>(
        'SELECT COUNT(*) AS n, COALESCE(SUM(length(signature) + length(ciphertext)), 0) AS b FROM relay_messages',
      );
      const [spentRow] = await writer.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM relay_spent_tokens');
      const [dayRow] = await writer.query<{ d: number | null }[]>('SELECT MAX(day) AS d FROM relay_store_days');
      const [bucketRow] = await writer.query<{ b: number | null }[]>('SELECT MAX(bucket) AS b FROM relay_store_buckets');
      return new TypeormRelayStore(writer, reader!, options, {
        lastSeq: seqRow?.seq ?? 0,
        messages: countRow?.n ?? 0,
        bytes: countRow?.b ?? 0,
        lastDay: dayRow?.d ?? Number.NEGATIVE_INFINITY,
        lastBucket: bucketRow?.b ?? Number.NEGATIVE_INFINITY,
        spentTokens: spentRow?.n ?? 0,
        applied,
      });
    } catch (err) {
      await writer.destroy().catch(() => undefined);
      await reader?.destroy().catch(() => undefined);
      throw err;
    }
  }

  public post(record: PostRecord): Promise<PostOutcome> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      // Start a flush on the next turn so posts arriving in the same tick share it.
      this.#kick();
    });
  }

  #kick(): void {
    this.#flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.#flush());
  }

  /**
   * The one writer loop: posts first, then (when none wait) one bounded prune-only transaction
   * at a time, so a long catch-up of pruning never holds posts back by more than one batch.
   */
  async #flush(): Promise<void> {
    try {
      for (;;) {
        const job = this.#jobs.shift();
        if (job !== undefined) await job();
        else if (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.#maxBatch));
        else if (this.#pruneWaiters.length > 0 && !this.#closed) await this.#pruneOnly();
        else break;
        // Let posts that arrived meanwhile reach the queue before the next prune-only pass.
        if (this.#queue.length === 0 && this.#pruneWaiters.length > 0) await new Promise<void>((done) => setImmediate(done));
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  public pruneDue(): Promise<number> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#pruneWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  async #pruneOnly(): Promise<void> {
    const started = performance.now();
    let pruning: Pruning;
    const runner = this.#writer.createQueryRunner();
    try {
      await runner.startTransaction();
      pruning = await this.#prune(runner, this.#messages, this.#messages);
      await runner.commitTransaction();
    } catch (cause) {
      await runner.rollbackTransaction().catch(() => undefined);
      const error = new StoreFailedError(`prune failed: ${(cause as { code?: string }).code ?? 'unknown'}`);
      const waiters = this.#pruneWaiters;
      this.#pruneWaiters = [];
      this.#pruneDeleted = 0;
      for (const w of waiters) w.reject(error);
      return;
    }
    this.#applyPruning(pruning);
    const deleted = pruning.pruned + pruning.expired;
    this.#pruneDeleted += deleted;
    if (deleted > 0) this.#onCommit?.({ posts: 0, stored: 0, ...pruning, seconds: (performance.now() - started) / 1000 });
    else this.#settlePruneWaiters();
  }

  #settlePruneWaiters(): void {
    const waiters = this.#pruneWaiters;
    const deleted = this.#pruneDeleted;
    this.#pruneWaiters = [];
    this.#pruneDeleted = 0;
    for (const w of waiters) w.resolve(deleted);
  }

  #applyPruning(pruning: Pruning): void {
    this.#messages -= pruning.pruned + pruning.expired;
    this.#bytes -= pruning.bytes;
    this.#pruned += pruning.pruned;
    this.#expired += pruning.expired;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const started = performance.now();
    let result: Awaited<ReturnType<TypeormRelayStore['transact']>>;
    try {
      result = await this.transact(batch.map((p) => p.record));
    } catch (cause) {
      // The error names no parameters: TypeORM's QueryFailedError carries them (ciphertexts, tokens).
      const error = new StoreFailedError(`commit failed: ${(cause as { code?: string }).code ?? 'unknown'}`);
      for (const p of batch) p.reject(error);
      return;
    }
    this.#lastSeq = result.lastSeq;
    this.#lastDay = result.day ?? this.#lastDay;
    this.#lastBucket = result.bucket ?? this.#lastBucket;
    this.#messages += result.stored;
    this.#bytes += result.storedBytes;
    this.#applyPruning(result.pruning);
    this.#spentTokens += result.newTokens;
    const { pruned, expired } = result.pruning;
    this.#onCommit?.({ posts: batch.length, stored: result.stored, pruned, expired, seconds: (performance.now() - started) / 1000 });
    // In order: the board publishes live pushes as these resolve, so seq order is kept.
    batch.forEach((p, i) => p.resolve(result.outcomes[i]!));
  }

  /** One transaction: spend the batch's tokens, store its new messages, prune (cap and retention, bounded). */
  private async transact(records: readonly PostRecord[]): Promise<{
    outcomes: PostOutcome[];
    lastSeq: number;
    newTokens: number;
    stored: number;
    storedBytes: number;
    day: number | undefined;
    bucket: number | undefined;
    pruning: Pruning;
  }> {
    const runner = this.#writer.createQueryRunner();
    try {
      await runner.startTransaction();
      const spent = await this.#spentAmong(runner, records);
      const signatures = await this.#existing(
        runner,
        'relay_messages',
        'signature',
        records.map((r) => r.signature),
      );
      const outcomes: PostOutcome[] = [];
      const tokenRows: [number, Buffer][] = [];
      const messageRows: (number | Buffer)[][] = [];
      let seq = this.#lastSeq;
      let storedBytes = 0;
      for (const record of records) {
        const token = spentKey(record.tokenEpoch, record.tokenInput);
        if (spent.has(token)) {
          outcomes.push({ kind: 'token-spent' });
          continue;
        }
        spent.add(token);
        tokenRows.push([record.tokenEpoch, buf(record.tokenInput)]);
        const signature = toHex(record.signature);
        if (signatures.has(signature)) {
          outcomes.push({ kind: 'duplicate' });
          continue;
        }
        signatures.add(signature);
        seq += 1;
        storedBytes += record.signature.byteLength + record.ciphertext.byteLength;
        messageRows.push([seq, buf(record.signature), buf(record.ciphertext)]);
        outcomes.push({ kind: 'stored', message: { seq, signature: record.signature, ciphertext: record.ciphertext } });
      }
      for (let i = 0; i < tokenRows.length; i += ROWS_PER_INSERT) {
        const rows = tokenRows.slice(i, i + ROWS_PER_INSERT);
        await runner.query(`INSERT INTO relay_spent_tokens (epoch, input) VALUES ${placeholders(rows.length, '(?,?)')}`, rows.flat());
      }
      for (let i = 0; i < messageRows.length; i += ROWS_PER_INSERT) {
        const rows = messageRows.slice(i, i + ROWS_PER_INSERT);
        await runner.query(`INSERT INTO relay_messages (seq, signature, ciphertext) VALUES ${placeholders(rows.length, '(?,?,?)')}`, rows.flat());
      }
      let day: number | undefined;
      let bucket: number | undefined;
      if (messageRows.length > 0) {
        day = Math.max(storageDay(this.#now()), this.#lastDay);
        await runner.query(
          'INSERT INTO relay_store_days (day, last_seq) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
          [day, seq],
        );
        bucket = this.#bucketNow();
        await runner.query(
          'INSERT INTO relay_store_buckets (bucket, last_seq) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
          [bucket, seq],
        );
      }
      // Pruned in the same transaction: the cap holds at every commit.
      const pruning = await this.#prune(runner, this.#messages, this.#messages + messageRows.length, seq);
      await runner.commitTransaction();
      return { outcomes, lastSeq: seq, newTokens: tokenRows.length, stored: messageRows.length, storedBytes, day, bucket, pruning };
    } catch (err) {
      await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Delete, oldest first, up to a batch of messages past the retention window, then what the
   * cap requires (see capPruneCount), then the day and bucket marks no stored message needs any more.
   * `before`/`after` are the message counts before and after this transaction's inserts.
   */
  async #prune(runner: QueryRunner, before: number, after: number, lastSeq: number = this.#lastSeq): Promise<Pruning> {
    let count = after;
    let bytes = 0;
    const deleteOldest = async (limit: number, upToSeq: number): Promise<number> => {
      if (limit <= 0) return 0;
      // Measured first, then deleted as one seq range (TypeORM's sqlite driver returns no rows from a DELETE).
      const [head] = (await runner.query(
        'SELECT COUNT(*) AS n, MAX(seq) AS last, COALESCE(SUM(b), 0) AS b FROM (SELECT seq, length(signature) + length(ciphertext) AS b FROM relay_messages WHERE seq <= ? ORDER BY seq LIMIT ?)',
        [upToSeq, limit],
      )) as { n: number; last: number | null; b: number }[];
      if (head === undefined || head.last === null) return 0;
      await runner.query('DELETE FROM relay_messages WHERE seq <= ?', [head.last]);
      bytes += head.b;
      count -= head.n;
      return head.n;
    };
    let expired = 0;
    if (this.#retentionMs !== undefined) {
      const [row] = (await runner.query('SELECT MAX(last_seq) AS s FROM relay_store_days WHERE day < ?', [firstKeptDay(this.#now(), this.#retentionMs)])) as {
        s: number | null;
      }[];
      if (row !== undefined && row.s !== null) expired = await deleteOldest(this.#pruneBatch, row.s);
    }
    const pruned = await deleteOldest(capPruneCount(Math.min(before, count), count, this.#maxMessages, this.#pruneBatch), Number.MAX_SAFE_INTEGER);
    if (expired + pruned > 0) {
      await runner.query('DELETE FROM relay_store_days WHERE last_seq < (SELECT COALESCE(MIN(seq), ?) FROM relay_messages)', [lastSeq + 1]);
      await runner.query('DELETE FROM relay_store_buckets WHERE last_seq < (SELECT COALESCE(MIN(seq), ?) FROM relay_messages)', [lastSeq + 1]);
    }
    return { pruned, expired, bytes };
  }

  async #existing(runner: QueryRunner, table: string, column: string, values: Uint8Array[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < values.length; i += ROWS_PER_INSERT) {
      const chunk = values.slice(i, i + ROWS_PER_INSERT).map(buf);
      const rows = (await runner.query(`SELECT ${column} AS v FROM ${table} WHERE ${column} IN (${placeholders(chunk.length)})`, chunk)) as { v: Buffer }[];
      for (const row of rows) found.add(row.v.toString('hex'));
    }
    return found;
  }

  /** Which of the records' tokens are spent already, as spentKey strings (one query per epoch chunk). */
  async #spentAmong(runner: QueryRunner, records: readonly PostRecord[]): Promise<Set<string>> {
    const byEpoch = new Map<number, Uint8Array[]>();
    for (const r of records) byEpoch.set(r.tokenEpoch, [...(byEpoch.get(r.tokenEpoch) ?? []), r.tokenInput]);
    const found = new Set<string>();
    for (const [epoch, inputs] of byEpoch) {
      for (let i = 0; i < inputs.length; i += ROWS_PER_INSERT) {
        const chunk = inputs.slice(i, i + ROWS_PER_INSERT).map(buf);
        const rows = (await runner.query(`SELECT input AS v FROM relay_spent_tokens WHERE epoch = ? AND input IN (${placeholders(chunk.length)})`, [
          epoch,
          ...chunk,
        ])) as { v: Buffer }[];
        for (const row of rows) found.add(spentKey(epoch, row.v));
      }
    }
    return found;
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  public async isSpent(tokenEpoch: number, tokenInput: Uint8Array): Promise<boolean> {
    this.#check();
    const rows = await this.#reader.query<unknown[]>('SELECT 1 AS one FROM relay_spent_tokens WHERE epoch = ? AND input = ?', [tokenEpoch, buf(tokenInput)]);
    return rows.length > 0;
  }

  /**
   * Runs in the writer loop between commits, as its own transaction, so it never lands inside
   * a post's transaction. Posts of the dropped epochs are refused before the store is asked, so
   * nothing racing it can spend one of these tokens.
   */
  public dropSpentBefore(epoch: number): Promise<number> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#jobs.push(async () => {
        const runner = this.#writer.createQueryRunner();
        try {
          await runner.startTransaction();
          const [row] = (await runner.query('SELECT COUNT(*) AS n FROM relay_spent_tokens WHERE epoch < ?', [epoch])) as { n: number }[];
          await runner.query('DELETE FROM relay_spent_tokens WHERE epoch < ?', [epoch]);
          await runner.commitTransaction();
          const n = row?.n ?? 0;
          this.#spentTokens -= n;
          resolve(n);
        } catch (cause) {
          await runner.rollbackTransaction().catch(() => undefined);
          reject(new StoreFailedError(`dropping spent tokens failed: ${(cause as { code?: string }).code ?? 'unknown'}`));
        }
      });
      this.#kick();
    });
  }

  public async seqOf(signature: Uint8Array): Promise<number | undefined> {
    this.#check();
    const rows = await this.#reader.query<{ seq: number }[]>('SELECT seq FROM relay_messages WHERE signature = ?', [buf(signature)]);
    return rows[0]?.seq;
  }

  /** The last committed seq (never one of a transaction still in progress). */
  public lastSeq(): Promise<number> {
    return this.#closed ? Promise.reject(new StoreClosedError()) : Promise.resolve(this.#lastSeq);
  }

  /** The last committed bucket or the clock's, whichever is later (never one of a transaction still in progress). */
  public currentBucket(): number {
    this.#check();
    return this.#bucketNow();
  }

  /** A clock stepped back files under the latest bucket marked, so buckets never decrease with seq. */
  #bucketNow(): number {
    return Math.max(bucketOf(this.#now(), this.bucketMs), this.#lastBucket);
  }

  public async seqBeforeBucket(bucket: number): Promise<number> {
    this.#check();
    const [row] = await this.#reader.query<{ s: number | null }[]>('SELECT MAX(last_seq) AS s FROM relay_store_buckets WHERE bucket < ?', [bucket]);
    return row?.s ?? 0;
  }

  public async count(fromSeq: number, toSeq: number): Promise<number> {
    this.#check();
    const [row] = await this.#reader.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM relay_messages WHERE seq BETWEEN ? AND ?', [fromSeq, toSeq]);
    return row?.n ?? 0;
  }

  public async read(fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]> {
    this.#check();
    const rows = await this.#reader.query<{ seq: number; signature: Buffer; ciphertext: Buffer }[]>(
      'SELECT seq, signature, ciphertext FROM relay_messages WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?',
      [fromSeq, toSeq, Math.max(0, limit)],
    );
    return rows.map((r) => ({ seq: r.seq, signature: bytes(r.signature), ciphertext: bytes(r.ciphertext) }));
  }

  public stats(): Promise<StoreStats> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return Promise.resolve({
      messages: this.#messages,
      bytes: this.#bytes,
      spentTokens: this.#spentTokens,
      pruned: this.#pruned,
      expired: this.#expired,
      maxMessages: this.#maxMessages,
      retentionMs: this.#retentionMs,
    });
  }

  /** Commit what is queued, checkpoint the WAL into the database file, and close both connections. */
  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    // A catch-up still due is not worth delaying a stop for: the next start's sweep resumes it.
    this.#settlePruneWaiters();
    await this.#reader.destroy().catch(() => undefined);
    await this.#writer.query('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    await this.#writer.destroy();
  }
}

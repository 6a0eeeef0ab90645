import pg from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { toHex } from '@pursuance/crypto';
import { relayPostgresMigrations } from '@pursuance/migrations';
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
import { GroupCommitLoop } from './group-commit.js';
import { relayPostgresEntities } from './postgres-entities.js';
import type { CommitInfo } from './typeorm-relay-store.js';

export interface PostgresRelayStoreOptions extends RelayStoreOptions {
  /** postgres://user[:password]@host[:port]/database[?sslmode=…]; a password may also come from PGPASSWORD or ~/.pgpass. */
  readonly url: string;
  /** Posts committed together at most (group commit). */
  readonly maxBatch?: number;
  /** Pooled connections for reads (replays, lookups), beside the writer's own. */
  readonly readers?: number;
  /** Called after every commit: for metrics (never receives message content). */
  readonly onCommit?: (info: CommitInfo) => void;
  /**
   * How long to wait for the writer lock before giving up with StoreInUseError (default 15 s):
   * a relay restarted right after a crash may find the old session not yet ended.
   */
  readonly lockWaitMs?: number;
}

/** Another relay holds this database's writer lock. */
export class StoreInUseError extends Error {
  public readonly code = 'STORE_IN_USE';
  public constructor() {
    super('the relay database is in use by another relay (it holds the writer lock)');
    this.name = 'StoreInUseError';
  }
}

interface Pruning {
  readonly pruned: number;
  readonly expired: number;
  /** Bytes of the deleted messages. */
  readonly bytes: number;
}

interface State {
  lastSeq: number;
  messages: number;
  bytes: number;
  /** The latest storage day marked (a clock stepped back never files messages under an older one). */
  lastDay: number;
  /** The latest fetch bucket marked (buckets never decrease with seq, whatever the clock does). */
  lastBucket: number;
  spentTokens: number;
}

/**
 * The session-level advisory lock that makes one relay the only writer of a database (the
 * PostgreSQL counterpart of relay.lock): the spent-token check and the in-memory counts assume
 * no other writer. PostgreSQL drops it with the session, so a killed relay never leaves it held.
 */
const LOCK_KEY = [0x72656c61, 0x79737472] as const; // "rela", "ystr"
const SEQUENCE = 'relay_messages_seq_seq';
const LOCK_WAIT_MS = 15_000;

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
/** `pg` returns bigint and COUNT/SUM as strings; every value here is below 2^53 (the seq sequence stops there). */
const num = (v: string | number | null | undefined): number => Number(v ?? 0);
const spentKey = (epoch: number, input: Uint8Array): string => `${epoch}:${toHex(input)}`;
const codeOf = (cause: unknown): string => (cause as { code?: unknown }).code?.toString() ?? 'unknown';

/**
 * RelayStore on PostgreSQL through TypeORM (`pg` driver), with the guarantees of the SQLite
 * store: a post is acknowledged only after the transaction holding its message AND its spent
 * token committed with synchronous_commit on (WAL flushed), so a crash can neither lose an
 * acknowledged post nor let a token be spent twice.
 *
 * One writer connection, holding the database's writer lock, runs the group-commit loop; reads
 * (replays, lookups) take other pooled connections and see only committed data, so a replay
 * never waits for the writer. The schema comes from the PostgreSQL migrations, which run on
 * open in one transaction; `synchronize` is never used.
 */
export class PostgresRelayStore implements RelayStore {
  readonly #ds: DataSource;
  readonly #loop: GroupCommitLoop<PostRecord, PostOutcome>;
  readonly #maxMessages: number | undefined;
  readonly #retentionMs: number | undefined;
  readonly #pruneBatch: number;
  readonly #now: () => number;
  /** The fetch bucket length in ms (see RelayStoreOptions.bucketMs). */
  public readonly bucketMs: number;
  readonly #onCommit: ((info: CommitInfo) => void) | undefined;
  #writer: QueryRunner | undefined;
  readonly #lockWaitMs: number;
  /** Set when a transaction failed: a COMMIT cut off mid-flight may have landed, so the counts are read again. */
  #stale = false;
  #state: State;
  #pruned = 0;
  #expired = 0;
  #closed = false;
  /** Names of migrations applied when this store was opened (empty when the schema was current). */
  public readonly appliedMigrations: readonly string[];
  /** The server's `fsync` setting: off means a server crash can lose commits it acknowledged (the daemon warns). */
  public readonly serverFsync: boolean;

  private constructor(ds: DataSource, writer: QueryRunner, options: PostgresRelayStoreOptions, state: State, applied: string[], fsync: boolean) {
    this.#ds = ds;
    this.#writer = writer;
    this.#maxMessages = options.maxMessages;
    this.#retentionMs = options.retentionMs;
    this.#pruneBatch = options.pruneBatch ?? PRUNE_BATCH;
    this.#now = options.now ?? Date.now;
    this.bucketMs = options.bucketMs ?? DEFAULT_BUCKET_MS;
    this.#onCommit = options.onCommit;
    this.#lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
    this.#state = state;
    this.appliedMigrations = applied;
    this.serverFsync = fsync;
    this.#loop = new GroupCommitLoop({ commit: (batch) => this.#commit(batch), pruneStep: () => this.#pruneOnly() }, options.maxBatch ?? 256);
  }

  public static async open(options: PostgresRelayStoreOptions): Promise<PostgresRelayStore> {
    const ds = new DataSource({
      type: 'postgres',
      driver: pg,
      url: options.url,
      entities: relayPostgresEntities,
      migrations: relayPostgresMigrations,
      migrationsRun: false,
      synchronize: false,
      logging: false,
      applicationName: 'pursuance-relay',
      connectTimeoutMS: 15_000,
      // The writer, the migrations (run on a connection of their own), and the readers.
      poolSize: 2 + (options.readers ?? 4),
      extra: { keepAlive: true },
      // An idle pooled connection that dies is dropped by the pool; the next query reconnects.
      poolErrorHandler: () => undefined,
    });
    await ds.initialize();
    let writer: QueryRunner | undefined;
    try {
      writer = await acquireWriter(ds, options.lockWaitMs ?? LOCK_WAIT_MS);
      const applied = await ds.runMigrations({ transaction: 'all' });
      const [fsync] = (await writer.query('SHOW fsync')) as { fsync: string }[];
      const state = await loadState(writer);
      return new PostgresRelayStore(
        ds,
        writer,
        options,
        state,
        applied.map((m) => m.name),
        fsync?.fsync !== 'off',
      );
    } catch (err) {
      await writer?.release().catch(() => undefined);
      await ds.destroy().catch(() => undefined);
      throw err;
    }
  }

  public post(record: PostRecord): Promise<PostOutcome> {
    return this.#closed ? Promise.reject(new StoreClosedError()) : this.#loop.submit(record);
  }

  public pruneDue(): Promise<number> {
    return this.#closed ? Promise.reject(new StoreClosedError()) : this.#loop.pruneDue();
  }

  /** Runs in the writer loop between commits, as its own transaction, never inside a post's. */
  public dropSpentBefore(epoch: number): Promise<number> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#loop.job(async () => {
      const gone = await this.#transaction('dropping spent tokens failed', async (runner) => {
        const [row] = (await runner.query('WITH gone AS (DELETE FROM relay_spent_tokens WHERE epoch < $1 RETURNING 1) SELECT COUNT(*) AS n FROM gone', [
          epoch,
        ])) as { n: string }[];
        return num(row?.n);
      });
      this.#state.spentTokens -= gone;
      return gone;
    });
  }

  /** The writer's connection, taken again (with the lock, and the counts re-read) after it was lost or a transaction failed. */
  async #writerConnection(): Promise<QueryRunner> {
    if (this.#writer !== undefined && !this.#writer.isReleased && !this.#stale) return this.#writer;
    if (this.#writer !== undefined && this.#writer.isReleased) this.#writer = undefined;
    this.#writer ??= await acquireWriter(this.#ds, this.#lockWaitMs);
    this.#state = await loadState(this.#writer);
    this.#stale = false;
    return this.#writer;
  }

  /** One transaction on the writer connection; any failure becomes a StoreFailedError naming only a code (TypeORM's errors carry the parameters: ciphertexts, tokens). */
  async #transaction<T>(what: string, body: (runner: QueryRunner) => Promise<T>): Promise<T> {
    let runner: QueryRunner;
    try {
      runner = await this.#writerConnection();
    } catch (cause) {
      throw new StoreFailedError(`${what}: ${codeOf(cause)}`);
    }
    try {
      await runner.startTransaction();
      const result = await body(runner);
      await runner.commitTransaction();
      return result;
    } catch (cause) {
      this.#stale = true;
      let rolledBack = true;
      await runner.rollbackTransaction().catch(() => (rolledBack = false));
      // A connection that cannot even roll back is gone: drop it (and with it the lock); the next write reconnects.
      if (!rolledBack) {
        await runner.release().catch(() => undefined);
        this.#writer = undefined;
      }
      throw new StoreFailedError(`${what}: ${codeOf(cause)}`);
    }
  }

  async #commit(records: readonly PostRecord[]): Promise<PostOutcome[]> {
    const started = performance.now();
    const result = await this.#transaction('commit failed', (runner) => this.#transact(runner, records));
    const state = this.#state;
    state.lastSeq = result.lastSeq;
    state.lastDay = result.day ?? state.lastDay;
    state.lastBucket = result.bucket ?? state.lastBucket;
    state.messages += result.stored;
    state.bytes += result.storedBytes;
    state.spentTokens += result.newTokens;
    this.#applyPruning(result.pruning);
    const { pruned, expired } = result.pruning;
    this.#onCommit?.({ posts: records.length, stored: result.stored, pruned, expired, seconds: (performance.now() - started) / 1000 });
    return result.outcomes;
  }

  async #pruneOnly(): Promise<number> {
    const started = performance.now();
    const pruning = await this.#transaction('prune failed', (runner) => this.#prune(runner, this.#state.messages, this.#state.messages, this.#state.lastSeq));
    this.#applyPruning(pruning);
    const deleted = pruning.pruned + pruning.expired;
    if (deleted > 0) this.#onCommit?.({ posts: 0, stored: 0, ...pruning, seconds: (performance.now() - started) / 1000 });
    return deleted;
  }

  #applyPruning(pruning: Pruning): void {
    this.#state.messages -= pruning.pruned + pruning.expired;
    this.#state.bytes -= pruning.bytes;
    this.#pruned += pruning.pruned;
    this.#expired += pruning.expired;
  }

  /** Inside one transaction: spend the batch's tokens, store its new messages, prune (cap and retention, bounded). */
  async #transact(
    runner: QueryRunner,
    records: readonly PostRecord[],
  ): Promise<{
    outcomes: PostOutcome[];
    lastSeq: number;
    newTokens: number;
    stored: number;
    storedBytes: number;
    day: number | undefined;
    bucket: number | undefined;
    pruning: Pruning;
  }> {
    const spentRows = (await runner.query(
      'SELECT epoch, input FROM relay_spent_tokens WHERE (epoch, input) IN (SELECT * FROM unnest($1::integer[], $2::bytea[]))',
      [records.map((r) => r.tokenEpoch), records.map((r) => buf(r.tokenInput))],
    )) as { epoch: number; input: Buffer }[];
    const spent = new Set(spentRows.map((row) => spentKey(row.epoch, row.input)));
    const signatureRows = (await runner.query('SELECT signature FROM relay_messages WHERE signature = ANY($1::bytea[])', [
      records.map((r) => buf(r.signature)),
    ])) as { signature: Buffer }[];
    const signatures = new Set(signatureRows.map((row) => row.signature.toString('hex')));

    // Decided in order, so within a batch the first use of a token or signature wins, as it would one post at a time.
    const decisions: ('token-spent' | 'duplicate' | 'stored')[] = [];
    const tokenEpochs: number[] = [];
    const tokenInputs: Buffer[] = [];
    const newMessages: PostRecord[] = [];
    for (const record of records) {
      const token = spentKey(record.tokenEpoch, record.tokenInput);
      if (spent.has(token)) {
        decisions.push('token-spent');
        continue;
      }
      spent.add(token);
      tokenEpochs.push(record.tokenEpoch);
      tokenInputs.push(buf(record.tokenInput));
      const signature = toHex(record.signature);
      if (signatures.has(signature)) {
        decisions.push('duplicate');
        continue;
      }
      signatures.add(signature);
      decisions.push('stored');
      newMessages.push(record);
    }

    // Seqs come from the sequence, never from the table, so none is handed out twice, whatever was pruned or rolled back.
    let seqs: number[] = [];
    if (newMessages.length > 0) {
      const rows = (await runner.query(`SELECT nextval('${SEQUENCE}') AS s FROM generate_series(1, $1)`, [newMessages.length])) as { s: string }[];
      seqs = rows.map((row) => num(row.s)).sort((a, b) => a - b);
    }
    if (tokenInputs.length > 0) {
      await runner.query('INSERT INTO relay_spent_tokens (epoch, input) SELECT * FROM unnest($1::integer[], $2::bytea[])', [tokenEpochs, tokenInputs]);
    }
    let storedBytes = 0;
    const outcomes: PostOutcome[] = [];
    let next = 0;
    for (const [i, decision] of decisions.entries()) {
      if (decision !== 'stored') {
        outcomes.push({ kind: decision });
        continue;
      }
      const record = records[i]!;
      storedBytes += record.signature.byteLength + record.ciphertext.byteLength;
      outcomes.push({ kind: 'stored', message: { seq: seqs[next++]!, signature: record.signature, ciphertext: record.ciphertext } });
    }
    let day: number | undefined;
    let bucket: number | undefined;
    let lastSeq = this.#state.lastSeq;
    if (newMessages.length > 0) {
      await runner.query('INSERT INTO relay_messages (seq, signature, ciphertext) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])', [
        seqs,
        newMessages.map((r) => buf(r.signature)),
        newMessages.map((r) => buf(r.ciphertext)),
      ]);
      lastSeq = seqs.at(-1)!;
      day = Math.max(storageDay(this.#now()), this.#state.lastDay);
      await runner.query(
        'INSERT INTO relay_store_days (day, last_seq) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET last_seq = GREATEST(relay_store_days.last_seq, excluded.last_seq)',
        [day, lastSeq],
      );
      bucket = this.#bucketNow();
      await runner.query(
        'INSERT INTO relay_store_buckets (bucket, last_seq) VALUES ($1, $2) ON CONFLICT (bucket) DO UPDATE SET last_seq = GREATEST(relay_store_buckets.last_seq, excluded.last_seq)',
        [bucket, lastSeq],
      );
    }
    // Pruned in the same transaction: the cap holds at every commit.
    const pruning = await this.#prune(runner, this.#state.messages, this.#state.messages + newMessages.length, lastSeq);
    return { outcomes, lastSeq, newTokens: tokenInputs.length, stored: newMessages.length, storedBytes, day, bucket, pruning };
  }

  /**
   * Delete, oldest first, up to a batch of messages past the retention window, then what the
   * cap requires (see capPruneCount), then the day and bucket marks no stored message needs any more.
   * `before`/`after` are the message counts before and after this transaction's inserts.
   */
  async #prune(runner: QueryRunner, before: number, after: number, lastSeq: number): Promise<Pruning> {
    let count = after;
    let deletedBytes = 0;
    const deleteOldest = async (limit: number, upToSeq: number): Promise<number> => {
      if (limit <= 0) return 0;
      const [gone] = (await runner.query(
        `WITH gone AS (
           DELETE FROM relay_messages WHERE seq IN (SELECT seq FROM relay_messages WHERE seq <= $1 ORDER BY seq LIMIT $2)
           RETURNING octet_length(signature) + octet_length(ciphertext) AS b
         ) SELECT COUNT(*) AS n, COALESCE(SUM(b), 0) AS b FROM gone`,
        [upToSeq, limit],
      )) as { n: string; b: string }[];
      const n = num(gone?.n);
      deletedBytes += num(gone?.b);
      count -= n;
      return n;
    };
    let expired = 0;
    if (this.#retentionMs !== undefined) {
      const [row] = (await runner.query('SELECT MAX(last_seq) AS s FROM relay_store_days WHERE day < $1', [firstKeptDay(this.#now(), this.#retentionMs)])) as {
        s: string | null;
      }[];
      if (row !== undefined && row.s !== null) expired = await deleteOldest(this.#pruneBatch, num(row.s));
    }
    const pruned = await deleteOldest(capPruneCount(Math.min(before, count), count, this.#maxMessages, this.#pruneBatch), Number.MAX_SAFE_INTEGER);
    if (expired + pruned > 0) {
      await runner.query('DELETE FROM relay_store_days WHERE last_seq < (SELECT COALESCE(MIN(seq), $1) FROM relay_messages)', [lastSeq + 1]);
      await runner.query('DELETE FROM relay_store_buckets WHERE last_seq < (SELECT COALESCE(MIN(seq), $1) FROM relay_messages)', [lastSeq + 1]);
    }
    return { pruned, expired, bytes: deletedBytes };
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  public async isSpent(tokenEpoch: number, tokenInput: Uint8Array): Promise<boolean> {
    this.#check();
    const rows = await this.#ds.query<unknown[]>('SELECT 1 AS one FROM relay_spent_tokens WHERE epoch = $1 AND input = $2', [tokenEpoch, buf(tokenInput)]);
    return rows.length > 0;
  }

  public async seqOf(signature: Uint8Array): Promise<number | undefined> {
    this.#check();
    const rows = await this.#ds.query<{ seq: string }[]>('SELECT seq FROM relay_messages WHERE signature = $1', [buf(signature)]);
    return rows[0] === undefined ? undefined : num(rows[0].seq);
  }

  /** The last committed seq (never one of a transaction still in progress). */
  public lastSeq(): Promise<number> {
    return this.#closed ? Promise.reject(new StoreClosedError()) : Promise.resolve(this.#state.lastSeq);
  }

  /** The last committed bucket or the clock's, whichever is later (never one of a transaction still in progress). */
  public currentBucket(): number {
    this.#check();
    return this.#bucketNow();
  }

  /** A clock stepped back files under the latest bucket marked, so buckets never decrease with seq. */
  #bucketNow(): number {
    return Math.max(bucketOf(this.#now(), this.bucketMs), this.#state.lastBucket);
  }

  public async seqBeforeBucket(bucket: number): Promise<number> {
    this.#check();
    const [row] = await this.#ds.query<{ s: string | null }[]>('SELECT MAX(last_seq) AS s FROM relay_store_buckets WHERE bucket < $1::bigint', [bucket]);
    return num(row?.s);
  }

  public async count(fromSeq: number, toSeq: number): Promise<number> {
    this.#check();
    const [row] = await this.#ds.query<{ n: string }[]>('SELECT COUNT(*) AS n FROM relay_messages WHERE seq BETWEEN $1 AND $2', [fromSeq, toSeq]);
    return num(row?.n);
  }

  public async read(fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]> {
    this.#check();
    const rows = await this.#ds.query<{ seq: string; signature: Buffer; ciphertext: Buffer }[]>(
      'SELECT seq, signature, ciphertext FROM relay_messages WHERE seq BETWEEN $1 AND $2 ORDER BY seq LIMIT $3',
      [fromSeq, toSeq, Math.max(0, limit)],
    );
    return rows.map((r) => ({ seq: num(r.seq), signature: bytes(r.signature), ciphertext: bytes(r.ciphertext) }));
  }

  public stats(): Promise<StoreStats> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    const { messages, bytes: storedBytes, spentTokens } = this.#state;
    return Promise.resolve({
      messages,
      bytes: storedBytes,
      spentTokens,
      pruned: this.#pruned,
      expired: this.#expired,
      maxMessages: this.#maxMessages,
      retentionMs: this.#retentionMs,
    });
  }

  /** Commit what is queued, give the writer lock back, and close every connection. */
  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loop.close();
    const writer = this.#writer;
    this.#writer = undefined;
    if (writer !== undefined && !writer.isReleased) {
      await writer.query('SELECT pg_advisory_unlock($1, $2)', [...LOCK_KEY]).catch(() => undefined);
      await writer.release().catch(() => undefined);
    }
    await this.#ds.destroy();
  }
}

/**
 * A connection of its own for the writer, holding the writer lock (waited for up to
 * `lockWaitMs`), with synchronous_commit on whatever the server's default.
 */
async function acquireWriter(ds: DataSource, lockWaitMs: number): Promise<QueryRunner> {
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SET lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}`);
    try {
      await runner.query('SELECT pg_advisory_lock($1, $2)', [...LOCK_KEY]);
    } catch (err) {
      // 55P03 lock_not_available: lock_timeout passed with the lock still held by another session.
      if (codeOf(err) === '55P03') throw new StoreInUseError();
      throw err;
    }
    await runner.query('SET lock_timeout = 0');
    // "Committed" must mean "WAL flushed": a server default of off or local-only would ack posts a crash can lose.
    await runner.query('SET synchronous_commit TO on');
    return runner;
  } catch (err) {
    await runner.release().catch(() => undefined);
    throw err;
  }
}

async function loadState(runner: QueryRunner): Promise<State> {
  const [seqRow] = (await runner.query(`SELECT COALESCE(pg_sequence_last_value('${SEQUENCE}'), 0) AS s`)) as { s: string }[];
  const [countRow] = (await runner.query(
    'SELECT COUNT(*) AS n, COALESCE(SUM(octet_length(signature) + octet_length(ciphertext)), 0) AS b FROM relay_messages',
  )) as { n: string; b: string }[];
  const [spentRow] = (await runner.query('SELECT COUNT(*) AS n FROM relay_spent_tokens')) as { n: string }[];
  const [dayRow] = (await runner.query('SELECT MAX(day) AS d FROM relay_store_days')) as { d: number | null }[];
  const [bucketRow] = (await runner.query('SELECT MAX(bucket) AS b FROM relay_store_buckets')) as { b: number | null }[];
  return {
    lastSeq: num(seqRow?.s),
    messages: num(countRow?.n),
    bytes: num(countRow?.b),
    lastDay: dayRow?.d ?? Number.NEGATIVE_INFINITY,
    lastBucket: bucketRow?.b ?? Number.NEGATIVE_INFINITY,
    spentTokens: num(spentRow?.n),
  };
}

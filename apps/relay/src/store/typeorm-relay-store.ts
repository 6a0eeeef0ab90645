import type { DataSource, QueryRunner } from 'typeorm';
import { toHex } from '@pursuance/crypto';
import { openDurableSqlite, relayMigrations } from '@pursuance/migrations';
import {
  StoreClosedError,
  StoreFailedError,
  messagesToPrune,
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
  readonly posts: number;
  readonly stored: number;
  readonly pruned: number;
  readonly seconds: number;
}

interface Pending {
  readonly record: PostRecord;
  resolve(outcome: PostOutcome): void;
  reject(error: Error): void;
}

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
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
  readonly #maxBatch: number;
  readonly #onCommit: ((info: CommitInfo) => void) | undefined;
  readonly #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #lastSeq: number;
  #messages: number;
  #spentTokens: number;
  #pruned = 0;
  #closed = false;
  /** Names of migrations applied when this store was opened (empty when the schema was current). */
  public readonly appliedMigrations: readonly string[];

  private constructor(
    writer: DataSource,
    reader: DataSource,
    options: TypeormRelayStoreOptions,
    state: { lastSeq: number; messages: number; spentTokens: number; applied: string[] },
  ) {
    this.#writer = writer;
    this.#reader = reader;
    this.#maxMessages = options.maxMessages;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#onCommit = options.onCommit;
    this.#lastSeq = state.lastSeq;
    this.#messages = state.messages;
    this.#spentTokens = state.spentTokens;
    this.appliedMigrations = state.applied;
  }

  public static async open(options: TypeormRelayStoreOptions): Promise<TypeormRelayStore> {
    const { writer, reader, applied } = await openDurableSqlite({ path: options.path, entities: relayEntities, migrations: relayMigrations, reader: true });
    try {
      const [seqRow] = await writer.query<{ seq: number }[]>(`SELECT seq FROM sqlite_sequence WHERE name = 'relay_messages'`);
      const [countRow] = await writer.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM relay_messages');
      const [spentRow] = await writer.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM relay_spent_tokens');
      return new TypeormRelayStore(writer, reader!, options, { lastSeq: seqRow?.seq ?? 0, messages: countRow?.n ?? 0, spentTokens: spentRow?.n ?? 0, applied });
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
      this.#flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.#maxBatch));
    } finally {
      this.#flushing = undefined;
    }
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
    this.#messages += result.stored - result.pruned;
    this.#spentTokens += result.newTokens;
    this.#pruned += result.pruned;
    this.#onCommit?.({ posts: batch.length, stored: result.stored, pruned: result.pruned, seconds: (performance.now() - started) / 1000 });
    // In order: the board publishes live pushes as these resolve, so seq order is kept.
    batch.forEach((p, i) => p.resolve(result.outcomes[i]!));
  }

  /** One transaction: spend the batch's tokens, store its new messages, prune to the cap. */
  private async transact(
    records: readonly PostRecord[],
  ): Promise<{ outcomes: PostOutcome[]; lastSeq: number; newTokens: number; stored: number; pruned: number }> {
    const runner = this.#writer.createQueryRunner();
    try {
      await runner.startTransaction();
      const spent = await this.#existing(
        runner,
        'relay_spent_tokens',
        'input',
        records.map((r) => r.tokenInput),
      );
      const signatures = await this.#existing(
        runner,
        'relay_messages',
        'signature',
        records.map((r) => r.signature),
      );
      const outcomes: PostOutcome[] = [];
      const tokenRows: Buffer[] = [];
      const messageRows: (number | Buffer)[][] = [];
      let seq = this.#lastSeq;
      for (const record of records) {
        const token = toHex(record.tokenInput);
        if (spent.has(token)) {
          outcomes.push({ kind: 'token-spent' });
          continue;
        }
        spent.add(token);
        tokenRows.push(buf(record.tokenInput));
        const signature = toHex(record.signature);
        if (signatures.has(signature)) {
          outcomes.push({ kind: 'duplicate' });
          continue;
        }
        signatures.add(signature);
        seq += 1;
        messageRows.push([seq, buf(record.signature), buf(record.ciphertext)]);
        outcomes.push({ kind: 'stored', message: { seq, signature: record.signature, ciphertext: record.ciphertext } });
      }
      for (let i = 0; i < tokenRows.length; i += ROWS_PER_INSERT) {
        const rows = tokenRows.slice(i, i + ROWS_PER_INSERT);
        await runner.query(`INSERT INTO relay_spent_tokens (input) VALUES ${placeholders(rows.length, '(?)')}`, rows);
      }
      for (let i = 0; i < messageRows.length; i += ROWS_PER_INSERT) {
        const rows = messageRows.slice(i, i + ROWS_PER_INSERT);
        await runner.query(`INSERT INTO relay_messages (seq, signature, ciphertext) VALUES ${placeholders(rows.length, '(?,?,?)')}`, rows.flat());
      }
      const pruned = messagesToPrune(this.#messages + messageRows.length, this.#maxMessages);
      if (pruned > 0) {
        // Pruned in the same transaction: the cap holds at every commit.
        await runner.query('DELETE FROM relay_messages WHERE seq IN (SELECT seq FROM relay_messages ORDER BY seq LIMIT ?)', [pruned]);
      }
      await runner.commitTransaction();
      return { outcomes, lastSeq: seq, newTokens: tokenRows.length, stored: messageRows.length, pruned };
    } catch (err) {
      await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    }
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

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  public async isSpent(tokenInput: Uint8Array): Promise<boolean> {
    this.#check();
    const rows = await this.#reader.query<unknown[]>('SELECT 1 AS one FROM relay_spent_tokens WHERE input = ?', [buf(tokenInput)]);
    return rows.length > 0;
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
    return Promise.resolve({ messages: this.#messages, spentTokens: this.#spentTokens, pruned: this.#pruned, maxMessages: this.#maxMessages });
  }

  /** Commit what is queued, checkpoint the WAL into the database file, and close both connections. */
  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#reader.destroy().catch(() => undefined);
    await this.#writer.query('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    await this.#writer.destroy();
  }
}

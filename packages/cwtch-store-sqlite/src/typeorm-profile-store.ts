import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import {
  ProfileExistsError,
  StoreClosedError,
  StoreFailedError,
  validateHeader,
  validateListOptions,
  validateOps,
  type ListOptions,
  type ProfileRecord,
  type ProfileStore,
  type StoreOp,
} from '@pursuance/cwtch';
import { cwtchMigrations, openDurableSqlite } from '@pursuance/migrations';
import { cwtchEntities } from './entities.js';

export interface TypeormProfileStoreOptions {
  /** SQLite database file (its -wal and -shm files live beside it). */
  readonly path: string;
}

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
/** Rows per multi-row statement (3 parameters each, far below SQLite's variable limit). */
const ROWS_PER_STATEMENT = 200;

/**
 * ProfileStore on SQLite through TypeORM (sqlite3 driver): WAL mode, synchronous=FULL, so a
 * resolved write is on disk. Writes are serialised through one writer connection, each batch
 * in one transaction (all or nothing); reads use a second, read-only connection that in WAL
 * mode sees only committed data. The schema comes from the migrations, run on open;
 * `synchronize` is never used. Errors name no parameters (which would be sealed records).
 */
export class TypeormProfileStore implements ProfileStore {
  readonly #writer: DataSource;
  readonly #reader: DataSource;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Names of migrations applied when this store was opened (empty when the schema was current). */
  public readonly appliedMigrations: readonly string[];

  private constructor(writer: DataSource, reader: DataSource, applied: string[]) {
    this.#writer = writer;
    this.#reader = reader;
    this.appliedMigrations = applied;
  }

  public static async open(options: TypeormProfileStoreOptions): Promise<TypeormProfileStore> {
    const { writer, reader, applied } = await openDurableSqlite({ path: options.path, entities: cwtchEntities, migrations: cwtchMigrations, reader: true });
    return new TypeormProfileStore(writer, reader!, applied);
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /** Run `fn` after every write queued before it (one writer, one transaction at a time). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #transaction(fn: (query: (sql: string, params?: unknown[]) => Promise<unknown>) => Promise<void>): Promise<void> {
    const runner = this.#writer.createQueryRunner();
    try {
      await runner.startTransaction();
      try {
        await fn((sql, params) => runner.query(sql, params) as Promise<unknown>);
        await runner.commitTransaction();
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      }
    } finally {
      await runner.release();
    }
  }

  public async readHeader(): Promise<Uint8Array | undefined> {
    this.#check();
    const rows = await this.#reader.query<{ header: Buffer }[]>('SELECT header FROM cwtch_profile_header WHERE id = 1');
    return rows[0] === undefined ? undefined : bytes(rows[0].header);
  }

  public createHeader(header: Uint8Array): Promise<void> {
    try {
      this.#check();
      validateHeader(header);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return this.#serial(async () => {
      let exists = false;
      await this.#fail(() =>
        this.#transaction(async (query) => {
          const rows = (await query('SELECT 1 AS one FROM cwtch_profile_header WHERE id = 1')) as unknown[];
          if (rows.length > 0) {
            exists = true;
            return;
          }
          await query('INSERT INTO cwtch_profile_header (id, header) VALUES (1, ?)', [buf(header)]);
        }),
      );
      if (exists) throw new ProfileExistsError();
    });
  }

  public async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    this.#check();
    const rows = await this.#reader.query<{ value: Buffer }[]>('SELECT value FROM cwtch_records WHERE collection = ? AND key = ?', [collection, key]);
    return rows[0] === undefined ? undefined : bytes(rows[0].value);
  }

  public write(ops: readonly StoreOp[]): Promise<void> {
    try {
      this.#check();
      validateOps(ops);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (ops.length === 0) return Promise.resolve();
    return this.#serial(() =>
      this.#fail(() =>
        this.#transaction(async (query) => {
          // Consecutive puts go in multi-row upserts; order between puts and deletes is kept.
          let i = 0;
          while (i < ops.length) {
            const op = ops[i]!;
            if (op.type === 'delete') {
              await query('DELETE FROM cwtch_records WHERE collection = ? AND key = ?', [op.collection, op.key]);
              i += 1;
              continue;
            }
            const rows: (string | Buffer)[] = [];
            let n = 0;
            while (i < ops.length && n < ROWS_PER_STATEMENT) {
              const put = ops[i]!;
              if (put.type !== 'put') break;
              rows.push(put.collection, put.key, buf(put.value));
              n += 1;
              i += 1;
            }
            await query(
              `INSERT INTO cwtch_records (collection, key, value) VALUES ${Array.from({ length: n }, () => '(?,?,?)').join(',')} ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value`,
              rows,
            );
          }
        }),
      ),
    );
  }

  public async list(collection: string, options: ListOptions = {}): Promise<ProfileRecord[]> {
    this.#check();
    const { afterSeq, limit } = validateListOptions(options);
    if (limit === 0) return [];
    const rows = await this.#reader.query<{ seq: number; key: string; value: Buffer }[]>(
      'SELECT seq, key, value FROM cwtch_records WHERE collection = ? AND seq > ? ORDER BY seq LIMIT ?',
      [collection, afterSeq, Math.min(limit, Number.MAX_SAFE_INTEGER)],
    );
    return rows.map((r) => ({ seq: r.seq, key: r.key, value: bytes(r.value) }));
  }

  public async count(collection: string): Promise<number> {
    this.#check();
    const rows = await this.#reader.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM cwtch_records WHERE collection = ?', [collection]);
    return rows[0]?.n ?? 0;
  }

  async #fail<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof ProfileExistsError) throw cause;
      // TypeORM's QueryFailedError carries the parameters (sealed records): keep only the code.
      throw new StoreFailedError(`profile store write failed: ${(cause as { code?: string }).code ?? 'unknown'}`);
    }
  }

  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#reader.destroy();
    await this.#writer.destroy();
  }
}

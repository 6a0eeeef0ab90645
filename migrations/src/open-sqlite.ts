import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import { DataSource, type DataSourceOptions, type MigrationInterface } from 'typeorm';

export interface DurableSqliteOptions {
  /** The database file, or ':memory:' (tests: no WAL, nothing on disk). */
  readonly path: string;
  readonly entities: NonNullable<DataSourceOptions['entities']>;
  readonly migrations: readonly (new () => MigrationInterface)[];
  /** Also open a read-only connection (reads then never queue behind a write transaction). */
  readonly reader?: boolean;
}

export interface DurableSqlite {
  readonly writer: DataSource;
  readonly reader: DataSource | null;
  /** Names of the migrations this open applied (empty when the schema was current). */
  readonly applied: string[];
}

/**
 * Open one of the project's SQLite databases the way every store needs it: its directory
 * private to the user, WAL with synchronous=FULL (the WAL is fsynced at each commit, so
 * "committed" means "on disk"), the schema brought up to date by its explicit migrations
 * (never `synchronize`), and on failure nothing left open.
 */
export async function openDurableSqlite(options: DurableSqliteOptions): Promise<DurableSqlite> {
  const onDisk = options.path !== ':memory:';
  if (onDisk) await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
  const common = { type: 'sqlite' as const, database: options.path, entities: options.entities, synchronize: false, logging: false, enableWAL: onDisk, busyTimeout: 10_000 };
  const writer = new DataSource({ ...common, migrations: [...options.migrations], migrationsRun: false });
  await writer.initialize();
  let reader: DataSource | null = null;
  try {
    await writer.query('PRAGMA synchronous = FULL');
    const applied = await writer.runMigrations({ transaction: 'each' });
    if (options.reader) {
      reader = new DataSource({ ...common, flags: sqlite3.OPEN_READONLY });
      await reader.initialize();
    }
    return { writer, reader, applied: applied.map((m) => m.name) };
  } catch (err) {
    await writer.destroy().catch(() => undefined);
    await reader?.destroy().catch(() => undefined);
    throw err;
  }
}

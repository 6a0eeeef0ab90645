import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
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
 * Open one of the project's SQLite databases the way every store needs it: a new directory
 * private to the user and the database files (db, -wal, -shm) readable by their owner only,
 * whatever modes they had before, WAL with synchronous=FULL (the WAL is fsynced at each commit, so
 * "committed" means "on disk"), the schema brought up to date by its explicit migrations
 * (never `synchronize`), and on failure nothing left open.
 */
export async function openDurableSqlite(options: DurableSqliteOptions): Promise<DurableSqlite> {
  const onDisk = options.path !== ':memory:';
  if (onDisk) {
    await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
    // SQLite creates a database with the umask's mode (often 0644) and gives -wal and -shm the
    // database's mode, so the database must be owner-only before SQLite first opens it.
    await writeFile(options.path, new Uint8Array(0), { flag: 'a', mode: 0o600 });
    for (const path of sqliteFiles(options.path)) await ownerOnly(path);
  }
  const common = {
    type: 'sqlite' as const,
    database: options.path,
    entities: options.entities,
    synchronize: false,
    logging: false,
    enableWAL: onDisk,
    busyTimeout: 10_000,
  };
  const writer = new DataSource({ ...common, migrations: [...options.migrations], migrationsRun: false });
  await writer.initialize();
  let reader: DataSource | null = null;
  try {
    await writer.query('PRAGMA synchronous = FULL');
    const applied = await writer.runMigrations({ transaction: 'each' });
    if (onDisk) for (const path of sqliteFiles(options.path)) await ownerOnly(path);
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

/** The files SQLite keeps for a database in WAL mode. */
function sqliteFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

/**
 * Take group and other permissions off a file (or directory) if it exists; owner bits stay.
 * Applied to what already exists too: files made before, or a data dir made 0755 by hand,
 * must not stay readable by other users of the machine.
 */
export async function ownerOnly(path: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((mode & 0o077) !== 0) await chmod(path, mode & 0o700);
}

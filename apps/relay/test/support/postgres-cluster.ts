import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, chown, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster owned by one test file: `initdb` into a temp dir, `postgres` on
 * its own free port on 127.0.0.1 (password auth, a generated password) with its unix socket in
 * that dir, stopped by PID and removed by `stop()`. Nothing of the machine's own PostgreSQL (if
 * any) is used. A missing PostgreSQL is an error, not a skip: CI installs it
 * (test/ci/install-system-deps.sh).
 */
export interface PostgresCluster {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The postmaster's PID. */
  readonly pid: number;
  /** A connection URL for `database` (with the password in it). */
  url(database: string): string;
  /** A new, empty database; resolves with its name. */
  createDatabase(): Promise<string>;
  /** Run SQL as the superuser in `database` (default `postgres`). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  stop(): Promise<void>;
}

/** Generous: initdb plus first start on a loaded 2-core machine. */
const START_LIMIT_MS = 120_000;
const STOP_LIMIT_MS = 60_000;
const SUPERUSER = 'relay_test';

/** The directory holding initdb and postgres: PATH first, then Debian's /usr/lib/postgresql/<version>/bin (newest). */
export async function findPostgresBinDir(): Promise<string> {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of onPath) {
    try {
      await access(join(dir, 'initdb'));
      // A symlink (Debian's /usr/local/bin shims) leads to the directory that also holds `postgres`.
      const real = await realpath(join(dir, 'initdb'));
      const binDir = real.slice(0, real.lastIndexOf('/'));
      await access(join(binDir, 'postgres'));
      return binDir;
    } catch {
      continue;
    }
  }
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const version of versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))) {
    const binDir = `/usr/lib/postgresql/${version}/bin`;
    try {
      await access(join(binDir, 'initdb'));
      await access(join(binDir, 'postgres'));
      return binDir;
    } catch {
      continue;
    }
  }
  throw new Error(
    'PostgreSQL not found (no initdb on PATH or under /usr/lib/postgresql/*/bin): install Debian\'s "postgresql" (test/ci/install-system-deps.sh)',
  );
}

/**
 * PostgreSQL refuses to run as root. Under root (CI containers) the cluster runs as the
 * `postgres` account Debian's package creates, else as `nobody`.
 */
async function clusterAccount(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const entries = new Map(
    passwd
      .split('\n')
      .map((line) => line.split(':'))
      .filter((f) => f.length >= 4)
      .map((f) => [f[0]!, { uid: Number(f[2]), gid: Number(f[3]) }]),
  );
  const account = entries.get('postgres') ?? entries.get('nobody');
  if (account === undefined) throw new Error('running as root and neither a "postgres" nor a "nobody" account exists to run PostgreSQL as');
  return account;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function run(command: string, args: string[], account: { uid: number; gid: number } | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...account });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${output}`))));
  });
}

/** Start `postgres` and wait for "ready to accept connections" on its log; rejects with the log if it exits first or the limit passes. */
function startPostmaster(
  binDir: string,
  dataDir: string,
  socketDir: string,
  port: number,
  account: { uid: number; gid: number } | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(
    join(binDir, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=60', '-c', 'shared_buffers=32MB'],
    { env, stdio: ['ignore', 'pipe', 'pipe'], ...account },
  );
  let log = '';
  return new Promise((resolve, reject) => {
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postgres did not accept connections within ${START_LIMIT_MS / 1000} s: ${log}`));
    }, START_LIMIT_MS);
    const onData = (d: string): void => {
      log += d;
      if (log.includes('ready to accept connections')) {
        clearTimeout(limit);
        resolve({ child, log: () => log });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.once('error', (err) => {
      clearTimeout(limit);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(limit);
      reject(new Error(`postgres exited (${code ?? signal}) before accepting connections: ${log}`));
    });
  });
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const binDir = await findPostgresBinDir();
  const account = await clusterAccount();
  const root = await mkdtemp(join(tmpdir(), 'relay-pg-'));
  try {
    const socketDir = join(root, 'socket');
    const dataDir = join(root, 'data');
    await mkdir(socketDir, { mode: 0o700 });
    const password = randomBytes(18).toString('base64url');
    const pwfile = join(root, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (account !== undefined) {
      for (const path of [root, socketDir, pwfile]) await chown(path, account.uid, account.gid);
      // The account must be able to reach the temp dir (mkdtemp makes it 0700, owned by it now).
      await chmod(root, 0o700);
    }
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
    await run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-instructions'],
      account,
      env,
    );
    await rm(pwfile);
    let started: { child: ChildProcess; log: () => string } | undefined;
    let port = 0;
    // A port found free can be taken before postgres binds it: try another.
    for (let attempt = 0; started === undefined; attempt++) {
      port = await freePort();
      try {
        started = await startPostmaster(binDir, dataDir, socketDir, port, account, env);
      } catch (err) {
        if (attempt >= 4 || !/could not (bind|create listen)/i.test((err as Error).message)) throw err;
      }
    }
    const postmaster = started.child;
    const exited = new Promise<void>((resolve) => postmaster.once('exit', () => resolve()));
    // A test run that dies without afterAll must not leave a cluster behind.
    const onExit = (): void => void postmaster.kill('SIGKILL');
    process.once('exit', onExit);
    const url = (database: string): string => `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    let databases = 0;
    const query = async <T>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> => {
      const client = new pg.Client({ connectionString: url(database) });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as T[];
      } finally {
        await client.end();
      }
    };
    let stopping: Promise<void> | undefined;
    return {
      port,
      user: SUPERUSER,
      password,
      pid: postmaster.pid!,
      url,
      query,
      async createDatabase() {
        const name = `relay_${process.pid}_${++databases}`;
        await query(`CREATE DATABASE "${name}"`);
        return name;
      },
      stop() {
        stopping ??= (async () => {
          process.removeListener('exit', onExit);
          if (postmaster.exitCode === null && postmaster.signalCode === null) {
            // SIGINT: PostgreSQL's fast shutdown (disconnect clients, checkpoint, exit).
            postmaster.kill('SIGINT');
            const limit = setTimeout(() => postmaster.kill('SIGKILL'), STOP_LIMIT_MS);
            await exited;
            clearTimeout(limit);
          }
          await rm(root, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

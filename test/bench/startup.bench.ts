/**
 * Node start-up at big stores (issue 16, item 5: "API ready < 1 s", "RSS after start-up"), figures
 * printed, never asserted. Per store size (BENCH_STARTUP_SIZES, comma-separated, default 100,000
 * events):
 *  - a generated backlog written straight into a node store (as a long-running node would hold it);
 *  - the first start, which has no persisted projections yet (full replay, projections written);
 *  - BENCH_STARTUP_RUNS (default 3) restarts: time from spawn until the board's first page of
 *    tasks (what the dashboard asks for first: GET …/tasks?limit=FIRST_TASK_PAGE) has arrived
 *    ("API ready"; the client's own parse of it is not counted), then until the whole task list
 *    has, time until the CLI's dashboard line ("fully started"), and the node
 *    process's RSS at both moments and its lowest over BENCH_STARTUP_SETTLE (default 20) seconds
 *    of idling after (the load's garbage returned), and the time of a small read (GET
 *    /api/pursuances) every 50 ms while the logs load, beside the same read once started;
 * beside same-run baselines: a bare Node process start, the raw SQLite open + one-row reads of the
 * same store in this process, the first start, the same CLI start on an empty store, the
 * profile password's scrypt (the unlock every start waits for), and one more restart with the
 * folds the clean stops kept removed (every event folded again, as before they were kept).
 * BENCH_STORE_CACHE (a directory) keeps each generated store there and copies it on later runs:
 * a million events take far longer to generate than to start. At a million events the first
 * start's replay needs a larger V8 heap than the default (NODE_OPTIONS=--max-old-space-size=…,
 * which the node process inherits).
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { DEFAULT_SCRYPT_PARAMS } from '@pursuance/crypto';
import { deriveScrypt } from '@pursuance/crypto/scrypt';
import { openNodeStore } from '@pursuance/node';
import { http } from '../../apps/node/test/support/http.js';
import { backlogChunks, type WrittenBacklog } from '../support/backlog.js';
import { spawnCli, type Spawned } from '../support/processes.js';
import { fmt, printTable, timeAsync } from './measure.js';
import { vm, writeNodeStore } from './node-store.js';

const SIZES = (process.env.BENCH_STARTUP_SIZES ?? '100000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isFinite(n) && n > 0);
const RUNS = Math.max(1, Number(process.env.BENCH_STARTUP_RUNS ?? 3));
const PASSWORD = 'bench node password';
// Up to here the generator keeps the whole log (100,000 events are one chunk, as before); beyond, it moves on from a base.
const GENERATION_CHUNK = 200_000;
// The dashboard's FIRST_TASK_PAGE (apps/dashboard/src/lib/pursuance-store.ts, outside this project's
// sources): the board's first request for tasks.
const FIRST_TASK_PAGE = 500;
// The resolution of "API ready": a refused connection costs the node nothing, so polls are close.
const POLL_MS = 5;
// Generous: the current code may only answer once the whole log is replayed, on a loaded 2-core machine.
const READY_LIMIT_MS = 10 * 60_000;
const DASHBOARD_LINE = /dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** "median (min–max)" of seconds, shown in ms. */
function msSpread(seconds: readonly number[]): string {
  const ms = seconds.map((s) => s * 1000);
  const digits = median(ms) < 10 ? 2 : 0;
  return `${fmt(median(ms), digits)} ms (${fmt(Math.min(...ms), digits)}–${fmt(Math.max(...ms), digits)})`;
}

/** "median ms, p95 ms, max ms (n reads)" of seconds. */
function readSpread(seconds: readonly number[]): string {
  if (seconds.length === 0) return 'no reads';
  const ms = [...seconds].map((s) => s * 1000).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return `${fmt(at(0.5), 1)} ms, ${fmt(at(0.95), 1)} ms, ${fmt(ms.at(-1)!, 1)} ms (${fmt(ms.length)} reads)`;
}

function mbSpread(bytes: readonly number[]): string {
  const mb = bytes.map((b) => b / 1e6);
  return `${fmt(median(mb))} MB (${fmt(Math.min(...mb))}–${fmt(Math.max(...mb))})`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function startNode(dataDir: string, port: number): Spawned {
  return spawnCli(['node', 'start', '--data-dir', dataDir, '--port', String(port)], { PURSUANCE_PASSWORD: PASSWORD });
}

/**
 * Poll a tasks route (the whole list, or a page) from `since` until it answers 200 with
 * `expected` tasks; seconds since `since`.
 * Refused connections (not listening yet) and 503 PURSUANCE_LOADING are "not yet"; anything else is
 * reported, as is the node exiting.
 */
async function untilTasks(
  proc: Spawned,
  port: number,
  path: string,
  token: string,
  expected: number,
  since: number,
): Promise<{ seconds: number; bytes: number }> {
  let last = 'no answer yet';
  while (performance.now() - since < READY_LIMIT_MS) {
    if (proc.child.exitCode !== null) throw new Error(`node exited (${proc.child.exitCode}) before the API was ready: ${proc.stderr()}`);
    try {
      const res = await http(port, 'GET', path, { token });
      const list = Array.isArray(res.body) ? (res.body as unknown[]) : (res.body as { tasks?: unknown } | null)?.tasks;
      if (res.status === 200 && Array.isArray(list) && list.length === expected)
        return { seconds: (res.receivedAt - since) / 1000, bytes: Buffer.byteLength(res.text) };
      if (res.status === 200) last = `200 with ${Array.isArray(list) ? list.length : 'a non-list'} of ${expected} tasks`;
      else if (res.status === 503) last = `503 ${(res.body as { code?: string }).code ?? res.text.slice(0, 80)}`;
      else throw new Error(`GET ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET') throw err;
      last = code;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`the API was not ready within ${READY_LIMIT_MS / 1000} s (last: ${last})`);
}

interface Restart {
  /** The board's first page (what the dashboard asks for first) has arrived. */
  readonly apiReady: number;
  /** The whole list, asked for once the first page was in (a tool that wants every task at once). */
  readonly wholeList: number;
  /** The task list's size as the API sent it. */
  readonly listBytes: number;
  readonly fullyStarted: number;
  readonly rssAtApi: number;
  readonly rssAtFull: number;
  /** The lowest RSS over SETTLE_SAMPLES seconds of idling after the full start. */
  readonly rssSettled: number;
  readonly hwm: number;
  /** Which came first: the full task list over HTTP, or the dashboard line. */
  readonly apiFirst: boolean;
  /** Seconds per read of the pursuance list while the logs load (from API ready to the dashboard line). */
  readonly loadingReads: number[];
  /** The same read on the started node (the same-run baseline). */
  readonly idleReads: number[];
}

/**
 * Time GET /api/pursuances (a small read) in seconds; undefined when it did not answer 200, or
 * its kept-alive socket was reset under it (the server closing an idle one as it was reused).
 */
async function timedRead(port: number, token: string): Promise<number | undefined> {
  const start = performance.now();
  try {
    const res = await http(port, 'GET', '/api/pursuances', { token });
    return res.status === 200 ? (performance.now() - start) / 1000 : undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'ECONNRESET') return undefined;
    throw err;
  }
}

/** Seconds of idling after the full start over which the settled RSS is sampled (once a second). */
const SETTLE_SAMPLES = Number(process.env.BENCH_STARTUP_SETTLE ?? 20);

async function restart(dataDir: string, path: string, token: string, expected: number): Promise<Restart> {
  const port = await freePort();
  const since = performance.now();
  const proc = startNode(dataDir, port);
  try {
    const pid = proc.child.pid!;
    const api = untilTasks(proc, port, `${path}?limit=${FIRST_TASK_PAGE}`, token, Math.min(FIRST_TASK_PAGE, expected), since).then(async (got) => ({
      ...got,
      mem: await vm(pid),
      whole: await untilTasks(proc, port, path, token, expected, since),
    }));
    const full = proc.waitForLine(DASHBOARD_LINE).then(() => (performance.now() - since) / 1000);
    // While the logs load (after the API answers, until the dashboard line), a small read every 50 ms.
    let started = false;
    void full.then(() => (started = true));
    const loadingReads: number[] = [];
    const a = await api;
    while (!started) {
      const t = await timedRead(port, token);
      if (t !== undefined && !started) loadingReads.push(t);
      await new Promise((r) => setTimeout(r, 50));
    }
    const fullyStarted = await full;
    const idleReads: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = await timedRead(port, token);
      if (t !== undefined) idleReads.push(t);
    }
    // Read once both have happened, so "after full start" includes serving the whole list once.
    const after = await vm(pid);
    // The load leaves garbage the collector returns once the node is idle (V8's memory reducer
    // runs a few seconds after allocation stops): what the node holds while it sits idle.
    let settled = after.rss;
    for (let i = 0; i < SETTLE_SAMPLES; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      settled = Math.min(settled, (await vm(pid)).rss);
    }
    return {
      apiReady: a.seconds,
      wholeList: a.whole.seconds,
      listBytes: a.whole.bytes,
      fullyStarted,
      rssAtApi: a.mem.rss,
      rssAtFull: after.rss,
      rssSettled: settled,
      hwm: after.hwm,
      apiFirst: a.seconds < fullyStarted,
      loadingReads,
      idleReads,
    };
  } finally {
    await proc.stop('SIGTERM');
  }
}

/** Baseline (a): spawn a bare `node -e ""` and wait for it to exit. */
async function bareNodeStart(): Promise<number> {
  const { seconds } = await timeAsync(
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node -e "" exited ${code}`))));
      }),
  );
  return seconds;
}

function dbGet<T>(db: sqlite3.Database, sql: string): Promise<T | undefined> {
  return new Promise((resolve, reject) => db.get<T>(sql, (err, row) => (err ? reject(err) : resolve(row))));
}

/**
 * Baseline (b): open the node's SQLite file read-only in this process, read one meta row and (if
 * the table exists yet) one projection row, close. The floor under "API ready" from a store.
 */
async function rawSqliteRead(file: string): Promise<{ seconds: number; projections: boolean }> {
  let projections = false;
  const { seconds } = await timeAsync(async () => {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
    });
    try {
      await dbGet(db, 'SELECT name FROM node_store_meta LIMIT 1');
      projections = (await dbGet(db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'node_sealed_projections'`)) !== undefined;
      if (projections) await dbGet(db, 'SELECT * FROM node_sealed_projections LIMIT 1');
    } finally {
      await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
    }
  });
  return { seconds, projections };
}

/**
 * Baseline (f)'s store: the folds the last clean stop kept (node_store_meta rows `fold:…`)
 * removed, so the next start folds every event again, as before they were kept.
 */
async function dropKeptFolds(file: string): Promise<number> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(d)));
  });
  try {
    return await new Promise<number>((resolve, reject) =>
      db.run(`DELETE FROM node_store_meta WHERE name LIKE 'fold:%'`, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve(this.changes);
      }),
    );
  } finally {
    await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
  }
}

/**
 * Baseline (d): the same CLI start on a store with no events (profile unlock, module load, listen):
 * the fixed cost under "API ready" that no projection work can remove. Median of 3.
 */
async function emptyStoreStart(): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-node-startup-empty-'));
  try {
    const opened = await openNodeStore({ dataDir: join(dir, 'node'), password: PASSWORD });
    await opened.close();
    const seconds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const since = performance.now();
      const proc = startNode(join(dir, 'node'), 0);
      try {
        await proc.waitForLine(DASHBOARD_LINE);
        seconds.push((performance.now() - since) / 1000);
      } finally {
        await proc.stop('SIGTERM');
      }
    }
    return seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface WrittenStore {
  readonly id: string;
  readonly events: number;
  readonly eventBytes: number;
  readonly tasks: number;
  /** Seconds to generate the backlog and to write it (undefined: copied from the cache). */
  readonly generated?: number;
  readonly written?: number;
}

/**
 * A node store holding a generated backlog of `size` events, in `dataDir`: generated and written
 * (and, with BENCH_STORE_CACHE, kept there for later runs), or copied from that cache. The
 * generator hands over chunks and moves on from a base (backlogChunks), so the bench process
 * never holds the whole history, and holds none of it once a node starts.
 */
async function storeOf(size: number, dataDir: string): Promise<WrittenStore> {
  const cache = process.env.BENCH_STORE_CACHE ? join(process.env.BENCH_STORE_CACHE, `startup-${size}-seed42`) : undefined;
  if (cache) {
    const meta = await readFile(join(cache, 'meta.json'), 'utf8').catch(() => undefined);
    if (meta !== undefined) {
      await cp(join(cache, 'node'), dataDir, { recursive: true });
      return JSON.parse(meta) as WrittenStore;
    }
  }
  // Chunks of at most GENERATION_CHUNK events, written as they come: a million events are never all in memory.
  const chunks = backlogChunks(size, { members: 50, rotations: 20, seed: 42 }, GENERATION_CHUNK);
  let eventBytes = 0;
  let events = 0;
  let generation = 0;
  let made: WrittenBacklog | undefined;
  const taken = (function* (): Generator<Uint8Array[]> {
    for (;;) {
      const started = performance.now();
      const next = chunks.next();
      generation += (performance.now() - started) / 1000;
      if (next.done) {
        made = next.value;
        return;
      }
      events += next.value.length;
      eventBytes += next.value.reduce((n, x) => n + x.length, 0);
      yield next.value;
    }
  })();
  const write = await timeAsync(() => writeNodeStore(dataDir, PASSWORD, taken));
  const store: WrittenStore = {
    id: made!.log.id,
    events,
    eventBytes,
    tasks: made!.log.state().tasks.size,
    generated: generation,
    written: write.seconds - generation,
  };
  if (cache) {
    await cp(dataDir, join(cache, 'node'), { recursive: true });
    await writeFile(join(cache, 'meta.json'), JSON.stringify({ id: store.id, events: store.events, eventBytes: store.eventBytes, tasks: store.tasks }));
  }
  return store;
}

async function startup(size: number, empty: readonly number[]): Promise<[string, string][]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-node-startup-'));
  const dataDir = join(dir, 'node');
  try {
    const backlog = await storeOf(size, dataDir);
    const { eventBytes, tasks: taskCount } = backlog;
    const tasksPath = `/api/pursuances/${backlog.id}/tasks`;

    // First start: a store written directly has no persisted projections, so this is the full replay.
    const firstSince = performance.now();
    const first = startNode(dataDir, 0);
    let firstStart: number;
    let firstMem: { hwm: number; rss: number };
    try {
      await first.waitForLine(DASHBOARD_LINE);
      firstStart = (performance.now() - firstSince) / 1000;
      firstMem = await vm(first.child.pid!);
    } finally {
      await first.stop('SIGTERM');
    }
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();

    const runs: Restart[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await restart(dataDir, tasksPath, token, taskCount));
    // Baseline (f): one more restart with the kept folds removed (every event folded again).
    const dropped = await dropKeptFolds(join(dataDir, 'node.sqlite'));
    const unkept = await restart(dataDir, tasksPath, token, taskCount);

    // Baselines, with the node stopped (its WAL checkpointed), so the raw open sees the same file.
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) bare.push(await bareNodeStart());
    const raw: number[] = [];
    let projections = false;
    for (let i = 0; i < 5; i++) {
      const r = await rawSqliteRead(join(dataDir, 'node.sqlite'));
      raw.push(r.seconds);
      projections = r.projections;
    }

    // The unlock's floor: a new profile's password KDF, raw (nothing primed), in this process.
    const kdf: number[] = [];
    for (let i = 0; i < 3; i++) kdf.push((await timeAsync(() => deriveScrypt(PASSWORD, new Uint8Array(16), DEFAULT_SCRYPT_PARAMS, 32))).seconds);

    const apiMedian = median(runs.map((r) => r.apiReady));
    const rawMedian = median(raw);
    const apiFirst = runs.filter((r) => r.apiFirst).length;
    return [
      ['events', fmt(backlog.events)],
      ['event bytes', `${fmt(eventBytes / 1e6, 1)} MB`],
      ['tasks in the log (the list the API must serve)', fmt(taskCount)],
      ['the task list as served (GET …/tasks, without histories)', `${fmt(median(runs.map((r) => r.listBytes)) / 1e6, 1)} MB`],
      ['generation (in-process)', backlog.generated === undefined ? 'copied from BENCH_STORE_CACHE' : `${fmt(backlog.generated, 1)} s`],
      [
        'store written directly (EventStore.append, 5,000 per tx)',
        backlog.written === undefined ? 'copied from BENCH_STORE_CACHE' : `${fmt(backlog.written, 2)} s`,
      ],
      [
        'first start (no projections yet: full replay + projections written)',
        `${fmt(firstStart, 2)} s, RSS ${fmt(firstMem.rss / 1e6)} MB, peak ${fmt(firstMem.hwm / 1e6)} MB`,
      ],
      [`restarts measured`, fmt(runs.length)],
      [`API ready (the board's first page: GET …/tasks?limit=${FIRST_TASK_PAGE}, 200 with its tasks, since spawn)`, msSpread(runs.map((r) => r.apiReady))],
      ['the whole task list (GET …/tasks, asked for once the first page was in; since spawn)', msSpread(runs.map((r) => r.wholeList))],
      ['fully started (dashboard line, since spawn)', msSpread(runs.map((r) => r.fullyStarted))],
      ['API ready before the dashboard line', `${apiFirst} of ${runs.length} runs`],
      ['GET /api/pursuances while the logs load (every 50 ms, all runs): median, p95, max', readSpread(runs.flatMap((r) => r.loadingReads))],
      ['baseline: the same read once started (20 per run)', readSpread(runs.flatMap((r) => r.idleReads))],
      ['RSS at API ready', mbSpread(runs.map((r) => r.rssAtApi))],
      ['RSS after full start', mbSpread(runs.map((r) => r.rssAtFull))],
      [`RSS idle after full start (lowest over ${SETTLE_SAMPLES} s)`, mbSpread(runs.map((r) => r.rssSettled))],
      ['peak RSS (VmHWM, after full start)', mbSpread(runs.map((r) => r.hwm))],
      ['baseline (a): bare node process start (node -e "", median of 5)', msSpread(bare)],
      [
        `baseline (b): raw SQLite open + meta row${projections ? ' + node_sealed_projections row' : ' (no node_sealed_projections yet)'} (median of 5)`,
        msSpread(raw),
      ],
      ['baseline (c): start-up before persisted projections (= first start)', `${fmt(firstStart * 1000)} ms`],
      ['baseline (d): the same CLI start on an empty store (dashboard line, median of 3)', msSpread(empty)],
      [
        `baseline (e): the profile password's scrypt (N = 2^${Math.log2(DEFAULT_SCRYPT_PARAMS.N)}, r = ${DEFAULT_SCRYPT_PARAMS.r}, p = ${DEFAULT_SCRYPT_PARAMS.p}; raw, median of 3)`,
        msSpread(kdf),
      ],
      [
        `baseline (f): fully started with the kept fold removed (${dropped} row${dropped === 1 ? '' : 's'}: every event folded again; one restart)`,
        `${fmt(unkept.fullyStarted * 1000)} ms, RSS after ${fmt(unkept.rssAtFull / 1e6)} MB`,
      ],
      ['fully started / baseline (f)', `${fmt((median(runs.map((r) => r.fullyStarted)) / unkept.fullyStarted) * 100, 1)} %`],
      ['API ready / baseline (b)', `${fmt(apiMedian / rawMedian)}×`],
      ['API ready / baseline (a)', `${fmt(apiMedian / median(bare), 1)}×`],
      ['API ready / baseline (c)', `${fmt((apiMedian / firstStart) * 100, 1)} %`],
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`node start-up benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
const empty = await emptyStoreStart();
for (const size of SIZES) printTable(`node start-up at a ${fmt(size)}-event store (${RUNS} restarts)`, await startup(size, empty));

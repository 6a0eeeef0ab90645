/**
 * Relay benchmarks, each beside a baseline measured in the same run (figures are printed,
 * never asserted):
 *  - posts/s end to end (token spend + durable group-committed ack) with 1, 8 and 64
 *    concurrent clients against the daemon process, each beside raw SQLite inserts of the same
 *    rows (message + spent token) with the same durability (WAL, synchronous=FULL) and as many
 *    rows per commit as clients, with the ratio;
 *  - replay of 100,000 stored messages (messages/s, MB/s) beside a raw SQLite read of the same
 *    rows and raw loopback TCP, with the ratio;
 *  - token issuance (end to end, per proof-of-work difficulty) and the per-token crypto
 *    (server batch evaluation + proof, client verification + unblinding, redemption check);
 *  - sizing: bytes on disk per stored message, relay RSS empty and with 1,000,000 stored
 *    messages (database generated directly), so RAM per 1M messages is the difference.
 * Clients run in this process and the relay in its own, sharing the machine's 2 cores.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { Identity } from '@pursuance/crypto';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  MemoryKeyBundlePins,
  MemoryRelayStore,
  RelayClient,
  RelayServer,
  TokenKeyring,
  blindInputs,
  evaluateBlindedBatch,
  finalizeBatch,
  generateVoprfKeyPair,
  loadVoprf,
  newTokenInputs,
  spendToken,
  trustKeyBundle,
  verifySpentToken,
  type EncryptedGroupMessage,
  type SignedKeyBundle,
} from '@pursuance/relay';
import { LoopbackACN, PACKET_SIZE } from '@pursuance/tapir';
import { startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { fmt, printTable, rateOf, rawTcpThroughput, timeAsync } from './measure.js';

const POSTS_PER_RUN = 3000;
const REPLAY_MESSAGES = 100_000;
const RSS_MESSAGES = 1_000_000;

function message(): EncryptedGroupMessage {
  return { ciphertext: new Uint8Array(randomBytes(GROUP_CIPHERTEXT_SIZE)), signature: new Uint8Array(randomBytes(GROUP_SIGNATURE_SIZE)) };
}

// ---------------------------------------------------------------------------------------------
// Small promise wrappers over sqlite3 for the baselines and for generating databases.
// ---------------------------------------------------------------------------------------------

function openDb(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(db)));
  });
}
function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (err) => (err ? reject(err) : resolve())));
}
function closeDb(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
}

/** Raw rows/s per durable commit size, two ways (see rawSqliteBaseline). */
interface RawRates {
  /** One INSERT per row and table, awaited one by one (the relay issue's original baseline). */
  readonly perStatement: ReadonlyMap<number, number>;
  /** One multi-row INSERT per table and commit (how the relay's store writes a batch). */
  readonly multiRow: ReadonlyMap<number, number>;
}

/**
 * Raw inserts of relay-sized rows (message + spent token) with the relay's durability, at
 * each commit size the posts run produces (1, 8 and 64 clients each with one post in flight
 * commit about that many posts together).
 */
async function rawSqliteBaseline(dir: string, sizes: readonly number[]): Promise<RawRates> {
  const db = await openDb(join(dir, 'baseline.sqlite'));
  await run(db, 'PRAGMA journal_mode = WAL');
  await run(db, 'PRAGMA synchronous = FULL');
  await run(db, 'CREATE TABLE m (seq INTEGER PRIMARY KEY AUTOINCREMENT, signature BLOB NOT NULL UNIQUE, ciphertext BLOB NOT NULL)');
  await run(db, 'CREATE TABLE t (epoch INTEGER NOT NULL, input BLOB NOT NULL, PRIMARY KEY (epoch, input)) WITHOUT ROWID');
  const rows = (n: number) =>
    Array.from({ length: n }, () => {
      const m = message();
      return [Buffer.from(m.signature), Buffer.from(m.ciphertext), randomBytes(32)] as const;
    });
  // As many rows as the posts run stores at that concurrency, so both see the same disk and noise.
  const commitsFor = (size: number) => Math.ceil(POSTS_PER_RUN / size);
  const perStatement = new Map<number, number>();
  const multiRow = new Map<number, number>();
  for (const size of sizes) {
    const commits = commitsFor(size);
    const batches = Array.from({ length: commits }, () => rows(size));
    const a = await timeAsync(async () => {
      for (const batch of batches) {
        await run(db, 'BEGIN');
        for (const [sig, ct, tok] of batch) {
          await run(db, 'INSERT INTO t (epoch, input) VALUES (0, ?)', [tok]);
          await run(db, 'INSERT INTO m (signature, ciphertext) VALUES (?, ?)', [sig, ct]);
        }
        await run(db, 'COMMIT');
      }
    });
    perStatement.set(size, (commits * size) / a.seconds);
    const again = Array.from({ length: commits }, () => rows(size));
    const b = await timeAsync(async () => {
      for (const batch of again) {
        await run(db, 'BEGIN');
        await run(
          db,
          `INSERT INTO t (epoch, input) VALUES ${Array(size).fill('(0,?)').join(',')}`,
          batch.map((r) => r[2]),
        );
        await run(
          db,
          `INSERT INTO m (signature, ciphertext) VALUES ${Array(size).fill('(?,?)').join(',')}`,
          batch.flatMap((r) => [r[0], r[1]]),
        );
        await run(db, 'COMMIT');
      }
    });
    multiRow.set(size, (commits * size) / b.seconds);
  }
  await closeDb(db);
  return { perStatement, multiRow };
}

// ---------------------------------------------------------------------------------------------
// End-to-end posts against the daemon.
// ---------------------------------------------------------------------------------------------

async function clientsWithTokens(acn: LoopbackACN, bundle: SignedKeyBundle, count: number, tokensEach: number): Promise<RelayClient[]> {
  const clients = Array.from({ length: count }, () => new RelayClient({ acn, bundle, batchSize: 100, lowWaterMark: 0 }));
  for (const client of clients) {
    while (client.wallet.size < tokensEach) await client.buyTokens(Math.min(100, tokensEach - client.wallet.size));
  }
  return clients;
}

function histogramMean(metrics: string, name: string): number {
  const sum = Number(new RegExp(`^${name}_sum (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const count = Number(new RegExp(`^${name}_count (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  return sum / count;
}

const CONCURRENCY = [1, 8, 64] as const;

interface PostsRun {
  readonly rate: number;
  readonly postsPerCommit: number;
  readonly msPerPostPerClient: number;
}

async function postsEndToEnd(relay: RelayProcess, acn: LoopbackACN, bundle: SignedKeyBundle): Promise<{ runs: Map<number, PostsRun>; meanCommitMs: number }> {
  const runs = new Map<number, PostsRun>();
  for (const concurrency of CONCURRENCY) {
    const perClient = Math.ceil(POSTS_PER_RUN / concurrency);
    const clients = await clientsWithTokens(acn, bundle, concurrency, perClient);
    const sessions = await Promise.all(clients.map((c) => c.openSession()));
    const messages = sessions.map(() => Array.from({ length: perClient }, message));
    const before = await relay.metrics();
    const { seconds } = await timeAsync(() =>
      Promise.all(
        sessions.map(async (session, i) => {
          for (const m of messages[i]!) await session.post(m);
        }),
      ),
    );
    const after = await relay.metrics();
    const commits = (text: string) => Number(/^relay_commit_posts_count (\S+)$/m.exec(text)?.[1] ?? 0);
    const total = perClient * concurrency;
    runs.set(concurrency, {
      rate: total / seconds,
      postsPerCommit: total / (commits(after) - commits(before)),
      msPerPostPerClient: (seconds / total) * concurrency * 1000,
    });
    await Promise.all(clients.map((c) => c.close()));
  }
  const metrics = await relay.metrics();
  return { runs, meanCommitMs: histogramMean(metrics, 'relay_commit_duration_seconds') * 1000 };
}

function postsTable(posts: Awaited<ReturnType<typeof postsEndToEnd>>, raw: RawRates): [string, string][] {
  const rows: [string, string][] = [];
  for (const concurrency of CONCURRENCY) {
    const run = posts.runs.get(concurrency)!;
    const perStatement = raw.perStatement.get(concurrency)!;
    const multiRow = raw.multiRow.get(concurrency)!;
    rows.push(
      [
        `posts/s end to end, ${concurrency} client${concurrency > 1 ? 's' : ''} (sequential posts each)`,
        `${fmt(run.rate)} /s (${fmt(run.msPerPostPerClient, 2)} ms per post per client; ${fmt(run.postsPerCommit, 1)} posts per commit)`,
      ],
      [
        `  raw SQLite, ${concurrency} row${concurrency > 1 ? 's' : ''} + token per durable commit, a statement per row`,
        `${fmt(perStatement)} rows/s  → ratio ${fmt(run.rate / perStatement, 2)}×`,
      ],
      [
        `  raw SQLite, ${concurrency} row${concurrency > 1 ? 's' : ''} + token per durable commit, multi-row statements`,
        `${fmt(multiRow)} rows/s  → ratio ${fmt(run.rate / multiRow, 2)}×`,
      ],
    );
  }
  rows.push(['mean durable commit (relay_commit_duration_seconds)', `${fmt(posts.meanCommitMs, 2)} ms`]);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Databases generated directly (for replay and RSS): same schema, via the daemon's migrations.
// ---------------------------------------------------------------------------------------------

async function fillDatabase(path: string, count: number): Promise<void> {
  const db = await openDb(path);
  await run(db, 'PRAGMA synchronous = OFF'); // setup only, not measured
  const perTx = 5000;
  for (let done = 0; done < count; done += perTx) {
    await run(db, 'BEGIN');
    const n = Math.min(perTx, count - done);
    for (let i = 0; i < n; i += 100) {
      const rows = Math.min(100, n - i);
      const params: Buffer[] = [];
      const tokens: (number | Buffer)[] = [];
      for (let r = 0; r < rows; r++) {
        params.push(randomBytes(GROUP_SIGNATURE_SIZE), randomBytes(GROUP_CIPHERTEXT_SIZE));
        tokens.push(0, randomBytes(32));
      }
      await run(db, `INSERT INTO relay_messages (signature, ciphertext) VALUES ${Array(rows).fill('(?,?)').join(',')}`, params);
      await run(db, `INSERT INTO relay_spent_tokens (epoch, input) VALUES ${Array(rows).fill('(?,?)').join(',')}`, tokens);
    }
    await run(db, 'COMMIT');
  }
  await run(db, 'PRAGMA wal_checkpoint(TRUNCATE)');
  await closeDb(db);
}

/** A daemon data dir (keys + migrated schema) holding `count` generated messages. */
async function generatedRelay(root: string, name: string, count: number): Promise<{ dataDir: string; dbPath: string }> {
  const dataDir = join(root, name);
  const first = await startRelayProcess({ dataDir, registryDir: join(root, 'registry'), args: ['--no-metrics'] });
  await first.stop();
  const dbPath = join(dataDir, 'relay.sqlite');
  await fillDatabase(dbPath, count);
  return { dataDir, dbPath };
}

/** Baseline: read the stored rows straight from SQLite, page by page as the board does (500 per query). */
async function rawSqliteRead(dbPath: string): Promise<{ rows: number; seconds: number }> {
  const db = await openDb(dbPath);
  const page = 500;
  const all = (from: number) =>
    new Promise<{ seq: number; signature: Buffer; ciphertext: Buffer }[]>((resolve, reject) =>
      db.all(
        'SELECT seq, signature, ciphertext FROM relay_messages WHERE seq >= ? ORDER BY seq LIMIT ?',
        [from, page],
        (err, rows: { seq: number; signature: Buffer; ciphertext: Buffer }[]) => (err ? reject(err) : resolve(rows)),
      ),
    );
  const { value: rows, seconds } = await timeAsync(async () => {
    let n = 0;
    for (let from = 1; ;) {
      const rows = await all(from);
      if (rows.length === 0) return n;
      n += rows.length;
      from = rows.at(-1)!.seq + 1;
    }
  });
  await closeDb(db);
  return { rows, seconds };
}

async function replayThroughput(root: string, acn: LoopbackACN): Promise<[string, string][]> {
  const { dataDir, dbPath } = await generatedRelay(root, 'replay', REPLAY_MESSAGES);
  const raw = await rawSqliteRead(dbPath);
  const relay = await startRelayProcess({ dataDir, registryDir: join(root, 'registry'), args: ['--no-metrics'] });
  const bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
  const client = new RelayClient({ acn, bundle });
  const session = await client.openSession();
  let bytes = 0;
  const { value: count, seconds } = await timeAsync(() => session.replayEach({ onMessage: (m) => (bytes += m.ciphertext.length + m.signature.length) }));
  await client.close();
  await relay.stop();
  const wireBytes = (count + 1) * PACKET_SIZE;
  const tcp = await rawTcpThroughput(wireBytes);
  const rate = count / seconds;
  const rawRate = raw.rows / raw.seconds;
  return [
    [`replay of ${fmt(count)} stored messages, one client`, `${fmt(rate)} messages/s in ${fmt(seconds, 1)} s`],
    [`  raw SQLite read of the same ${fmt(raw.rows)} rows (pages of 500)`, `${fmt(rawRate)} rows/s  → ratio ${fmt(rate / rawRate, 2)}×`],
    [
      'replay payload throughput (ciphertext + signature)',
      `${fmt(bytes / seconds / 1e6, 1)} MB/s (${fmt(wireBytes / seconds / 1e6, 1)} MB/s of 8192-byte packets)`,
    ],
    ['  raw TCP loopback, same number of 8192-byte writes', `${fmt(tcp, 1)} MB/s  → ratio ${fmt(wireBytes / seconds / 1e6 / tcp, 2)}×`],
  ];
}

async function rssOf(relay: RelayProcess): Promise<number> {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

async function sizing(root: string, acn: LoopbackACN): Promise<[string, string][]> {
  // The same daemon with nothing stored: what a million messages add is the difference.
  const empty = await startRelayProcess({ dataDir: join(root, 'empty'), registryDir: join(root, 'registry'), args: ['--no-metrics'] });
  const emptyRss = await rssOf(empty);
  await empty.stop();
  const generated = await timeAsync(() => generatedRelay(root, 'million', RSS_MESSAGES));
  const { dataDir, dbPath } = generated.value;
  const size = (await stat(dbPath)).size;
  const started = await timeAsync(() => startRelayProcess({ dataDir, registryDir: join(root, 'registry'), args: ['--no-metrics'] }));
  const relay = started.value;
  const idle = await rssOf(relay);
  const bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
  const [client] = await clientsWithTokens(acn, bundle, 1, 1000);
  const session = await client!.openSession();
  const first = message();
  await session.post(first);
  for (let i = 1; i < 1000; i++) await session.post(message());
  const afterPosts = await rssOf(relay);
  // A member catching up on the newest 1,000 messages of a million (Cwtch "replay since").
  let replayed = 0;
  await session.replayEach({ since: first.signature, onMessage: () => replayed++ });
  const afterReplay = await rssOf(relay);
  await client!.close();
  await relay.stop();
  const payload = GROUP_CIPHERTEXT_SIZE + GROUP_SIGNATURE_SIZE;
  return [
    [`database with ${fmt(RSS_MESSAGES)} messages (+ as many spent tokens)`, `${fmt(size / 1e9, 2)} GB, generated in ${fmt(generated.seconds, 0)} s`],
    ['bytes on disk per stored message (WAL checkpointed)', `${fmt(size / RSS_MESSAGES)} B (payload ${fmt(payload)} B + token, indexes, pages)`],
    ['relay start-up (unseal keys, open, count) to ready', `${fmt(started.seconds, 1)} s`],
    ['relay RSS idle, empty store', `${fmt(emptyRss, 0)} MiB`],
    [`relay RSS idle, ${fmt(RSS_MESSAGES)} messages stored`, `${fmt(idle, 0)} MiB (${fmt(idle - emptyRss, 0)} MiB more per 1M messages)`],
    ['relay RSS after 1,000 more posts', `${fmt(afterPosts, 0)} MiB`],
    [`relay RSS after a replay since (${fmt(replayed)} messages)`, `${fmt(afterReplay, 0)} MiB`],
  ];
}

// ---------------------------------------------------------------------------------------------
// Tokens.
// ---------------------------------------------------------------------------------------------

async function tokenIssuance(root: string): Promise<[string, string][]> {
  const rows: [string, string][] = [];
  const key = generateVoprfKeyPair();
  const board = Identity.generate().onion;
  const items = blindInputs(newTokenInputs(100));
  const batch = evaluateBlindedBatch(
    key,
    items.map((i) => i.blinded),
  );
  const outputs = finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof);
  const m = message();
  const spent = spendToken({ epoch: 0, input: items[0]!.input, output: outputs[0]! }, m, board);
  const evaluate = rateOf(
    'server: evaluate 100 blinded + batch DLEQ proof',
    () =>
      evaluateBlindedBatch(
        key,
        items.map((i) => i.blinded),
      ),
    2,
  );
  const finalize = rateOf('client: verify proof + unblind 100', () => finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof), 2);
  const redeem = rateOf('relay: redemption check (PRF re-evaluation + HMAC)', () => verifySpentToken(key.secretKey, spent, m, board), 2);
  rows.push(
    [evaluate.label, `${fmt(evaluate.perSecond * 100)} tokens/s`],
    [finalize.label, `${fmt(finalize.perSecond * 100)} tokens/s`],
    [redeem.label, `${fmt(redeem.perSecond)} redemptions/s`],
  );
  for (const difficulty of [1, 16]) {
    const registryDir = join(root, `tokens-${difficulty}`);
    const acn = new LoopbackACN({ registryDir });
    const relay = await RelayServer.start({
      acn,
      boardIdentity: Identity.generate(),
      tokenIdentity: Identity.generate(),
      tokenKeys: TokenKeyring.generate(),
      store: new MemoryRelayStore(),
      powDifficulty: difficulty,
    });
    const bundle = await trustKeyBundle(relay.exportedBundle, new MemoryKeyBundlePins());
    const client = new RelayClient({ acn, bundle, batchSize: 100 });
    const batches = difficulty > 8 ? 10 : 40;
    const { seconds } = await timeAsync(async () => {
      for (let i = 0; i < batches; i++) await client.buyTokens();
    });
    rows.push([
      `issuance end to end, PoW ${difficulty} bit${difficulty > 1 ? 's' : ''}, batches of 100`,
      `${fmt((batches * 100) / seconds)} tokens/s (${fmt((seconds / batches) * 1000, 1)} ms per batch)`,
    ]);
    await client.close();
    await relay.close();
    await acn.close();
  }
  return rows;
}

async function main(): Promise<void> {
  process.stdout.write(`relay benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  const root = await mkdtemp(join(tmpdir(), 'relay-bench-'));
  const acn = new LoopbackACN({ registryDir: join(root, 'registry') });
  try {
    printTable('tokens (VOPRF ristretto255-SHA512)', await tokenIssuance(root));

    const relay = await startRelayProcess({ dataDir: join(root, 'posts'), registryDir: join(root, 'registry'), args: ['--pow-difficulty', '1'] });
    const bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
    const posts = await postsEndToEnd(relay, acn, bundle);
    await relay.stop();
    const raw = await rawSqliteBaseline(root, CONCURRENCY);
    printTable('posts through the daemon beside raw SQLite (both WAL, synchronous=FULL)', postsTable(posts, raw));

    printTable('replay', await replayThroughput(root, acn));
    printTable('sizing', await sizing(root, acn));
  } finally {
    await acn.close();
    await rm(root, { recursive: true, force: true });
  }
}

await loadVoprf();
await main();

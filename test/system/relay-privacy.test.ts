import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, concatBytes, padToSize, randomKey, secretboxSeal, toBase64, toHex, type OnionName } from '@pursuance/crypto';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_PADDED_PLAINTEXT_SIZE,
  MemoryKeyBundlePins,
  RelayClient,
  trustKeyBundle,
  type EncryptedGroupMessage,
} from '@pursuance/relay';
import { Connection, LoopbackACN, TAPIR_PORT } from '@pursuance/tapir';
import { startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { interpose } from '../../packages/tapir/test/support/proxy.js';

/**
 * What the relay learns. Several simulated groups post padded secretbox ciphertexts whose
 * plaintexts name the group and its members; afterwards we search everything the relay kept
 * or saw — its SQLite files (with the WAL, while running and after stopping), its whole data
 * dir, its stdout and JSON logs at debug level, the raw bytes it received (through a recording
 * proxy) and the decrypted request payloads its applications received — for the plaintexts,
 * member onion names and keys, group ids and group keys. None may appear; every stored
 * ciphertext must have the one fixed length.
 */
const GROUPS = 3;
const MEMBERS = 3;
const POSTS_PER_MEMBER = 4;

interface Group {
  readonly id: Uint8Array;
  readonly key: Uint8Array;
  readonly members: Identity[];
}

const encoder = new TextEncoder();
let dir: string;
let relay: RelayProcess;
let acn: LoopbackACN;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-privacy-'));
  relay = await startRelayProcess({ dataDir: join(dir, 'data'), registryDir: join(dir, 'registry'), args: ['--log-level', 'debug'] });
  acn = new LoopbackACN({ registryDir: join(dir, 'registry') });
});
afterAll(async () => {
  await relay.stop('SIGKILL');
  await acn.close();
  await rm(dir, { recursive: true, force: true });
});

/** The group layer as a future Cwtch group would do it: pad to a fixed size, then secretbox. */
function groupMessage(group: Group, author: Identity, relayOnion: OnionName, text: string): EncryptedGroupMessage {
  const plaintext = encoder.encode(JSON.stringify({ groupId: toHex(group.id), sender: author.onion, members: group.members.map((m) => m.onion), text }));
  const ciphertext = secretboxSeal(group.key, padToSize(plaintext, GROUP_PADDED_PLAINTEXT_SIZE));
  const signature = author.sign(concatBytes(group.id, encoder.encode(relayOnion), ciphertext));
  return { ciphertext, signature };
}

/** Every form a secret could take in the haystacks: the raw bytes, and hex / base64 text. */
function forms(needle: Uint8Array | string): Buffer[] {
  if (typeof needle === 'string') return [Buffer.from(needle, 'utf8')];
  return [Buffer.from(needle), Buffer.from(toHex(needle)), Buffer.from(toBase64(needle))];
}

function findAny(haystack: Buffer, needles: Map<string, Uint8Array | string>): string[] {
  const found: string[] = [];
  for (const [name, needle] of needles) if (forms(needle).some((f) => haystack.includes(f))) found.push(name);
  return found;
}

async function dataDirFiles(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(join(dir, 'data'))) files.set(name, await readFile(join(dir, 'data', name)));
  return files;
}

function query<T>(path: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows) => {
        db.close();
        if (e) reject(e);
        else resolve(rows as T[]);
      });
    });
  });
}

describe('what the relay learns', () => {
  it('stores, logs and receives no plaintext, member identity or group id; every ciphertext has one length', async () => {
    const bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
    const groups: Group[] = Array.from({ length: GROUPS }, () => ({
      id: new Uint8Array(randomBytes(16)),
      key: randomKey(),
      members: Array.from({ length: MEMBERS }, () => Identity.generate()),
    }));
    const secrets = new Map<string, Uint8Array | string>();
    groups.forEach((g, gi) => {
      secrets.set(`group ${gi} id`, g.id);
      secrets.set(`group ${gi} key`, g.key);
      g.members.forEach((m, mi) => {
        secrets.set(`group ${gi} member ${mi} onion`, m.onion);
        secrets.set(`group ${gi} member ${mi} public key`, m.publicKey);
      });
    });

    // Record what reaches the relay: raw bytes on both onions, and each request payload
    // before sealing (= what the relay's applications decrypt and parse).
    const boardTap = await interpose(join(dir, 'registry'), bundle.boardOnion, TAPIR_PORT);
    const tokenTap = await interpose(join(dir, 'registry'), bundle.tokenOnion, TAPIR_PORT);
    const payloads: Buffer[] = [];
    const originalSend = Connection.prototype.send;
    Connection.prototype.send = function (this: Connection, payload: Uint8Array) {
      payloads.push(Buffer.from(payload));
      return originalSend.call(this, payload);
    };
    const sessionOnions: string[] = [];
    try {
      await Promise.all(
        groups.flatMap((group, gi) =>
          group.members.map(async (member, mi) => {
            const client = new RelayClient({ acn, bundle, batchSize: POSTS_PER_MEMBER });
            const session = await client.openSession();
            sessionOnions.push(session.localOnion);
            for (let i = 0; i < POSTS_PER_MEMBER; i++) {
              const text = `meet at the library, group ${gi} member ${mi} note ${i} ${toHex(randomBytes(6))}`;
              secrets.set(`plaintext g${gi} m${mi} #${i}`, text);
              await session.post(groupMessage(group, member, bundle.boardOnion, text));
            }
            await session.replay();
            await client.close();
          }),
        ),
      );
    } finally {
      Connection.prototype.send = originalSend;
    }
    await boardTap.close();
    await tokenTap.close();

    const dbPath = join(dir, 'data', 'relay.sqlite');
    const total = GROUPS * MEMBERS * POSTS_PER_MEMBER;
    // One fixed length for every ciphertext, 64-byte signatures, and nothing else stored.
    const lengths = await query<{ c: number; s: number; n: number }>(
      dbPath,
      'SELECT length(ciphertext) AS c, length(signature) AS s, COUNT(*) AS n FROM relay_messages GROUP BY 1, 2',
    );
    expect(lengths).toEqual([{ c: GROUP_CIPHERTEXT_SIZE, s: 64, n: total }]);
    const columns = await query<{ name: string; type: string }>(
      dbPath,
      "SELECT m.name || '.' || p.name AS name, p.type AS type FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name LIKE 'relay_%' ORDER BY 1",
    );
    // Retention keeps one row per UTC day and bucketed fetch one per bucket (an hour by default),
    // each the last seq stored then, never a time per message;
    // a spent token is its key epoch (a week, shared by every client) and its input.
    expect(columns.map((c) => c.name)).toEqual([
      'relay_messages.ciphertext',
      'relay_messages.seq',
      'relay_messages.signature',
      'relay_spent_tokens.epoch',
      'relay_spent_tokens.input',
      'relay_store_buckets.bucket',
      'relay_store_buckets.last_seq',
      'relay_store_days.day',
      'relay_store_days.last_seq',
    ]);
    const days = await query<{ day: number }>(dbPath, 'SELECT day FROM relay_store_days');
    expect(days.length).toBeGreaterThanOrEqual(1);
    expect(days.length).toBeLessThanOrEqual(2); // a run across midnight UTC

    const sessionSecrets = new Map(sessionOnions.map((o, i) => [`session ${i} onion`, o] as [string, string]));
    // While running (the WAL holds recent commits), and after a graceful stop (checkpointed).
    const running = await dataDirFiles();
    expect([...running.keys()].some((f) => f.endsWith('-wal'))).toBe(true);
    expect(await relay.stop('SIGTERM')).toBe(0);
    const stopped = await dataDirFiles();
    for (const [phase, files] of [
      ['running', running],
      ['stopped', stopped],
    ] as const) {
      for (const [name, bytes] of files) {
        expect(findAny(bytes, secrets), `${phase} ${name}`).toEqual([]);
        expect(findAny(bytes, sessionSecrets), `${phase} ${name}`).toEqual([]);
      }
    }
    // Raw files can split a value across pages (a 4 KB blob overflows a 4 KB page), so also
    // scan the logical content: every cell of every table.
    const tables = await query<{ name: string }>(dbPath, "SELECT name FROM sqlite_master WHERE type = 'table'");
    const cells: Buffer[] = [];
    for (const { name } of tables) {
      for (const row of await query<Record<string, unknown>>(dbPath, `SELECT * FROM "${name}"`)) {
        for (const value of Object.values(row)) cells.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
      }
    }
    expect(cells.length).toBeGreaterThan(total * 3);
    expect(findAny(Buffer.concat(cells), secrets)).toEqual([]);
    expect(findAny(Buffer.concat(cells), sessionSecrets)).toEqual([]);

    const logs = Buffer.from(relay.stdout() + relay.stderr());
    expect(findAny(logs, secrets)).toEqual([]);
    expect(findAny(logs, sessionSecrets)).toEqual([]);
    const wire = Buffer.concat([boardTap.recorded(), tokenTap.recorded()]);
    expect(wire.length).toBeGreaterThan(total * 8192);
    expect(findAny(wire, secrets)).toEqual([]);
    expect(findAny(Buffer.concat(payloads), secrets)).toEqual([]);

    // The scans do find what is there: the relay's own onion in its output, a stored
    // ciphertext in its database, a posted signature in the request payloads.
    const [row] = await query<{ c: Buffer; s: Buffer }>(dbPath, 'SELECT ciphertext AS c, signature AS s FROM relay_messages LIMIT 1');
    expect(findAny(logs, new Map([['board onion', bundle.boardOnion]]))).toEqual(['board onion']);
    expect(findAny(stopped.get('relay.sqlite')!, new Map([['a ciphertext head', new Uint8Array(row!.c.subarray(0, 64))]]))).toEqual(['a ciphertext head']);
    expect(findAny(Buffer.concat(cells), new Map([['a ciphertext', new Uint8Array(row!.c)]]))).toEqual(['a ciphertext']);
    expect(findAny(Buffer.concat(payloads), new Map([['a signature', new Uint8Array(row!.s)]]))).toEqual(['a signature']);
  });
});

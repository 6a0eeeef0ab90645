import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Identity, equalBytes, type CanonicalValue } from '@pursuance/crypto';
import { nodeMigrations } from '@pursuance/migrations';
import { PursuanceAuthor, RejectionCode, type Rejection, type Rules, type SignedEvent } from '@pursuance/pursuance';
import { DEFAULT_TEMPLATES_DIR } from '../src/start.js';
import { loadTemplates } from '../src/domain/templates.js';
import { nodeEntities } from '../src/store/entities.js';
import { KeyVaultEmptyError, StoreCorruptError, StoreKeyMismatchError } from '../src/store/errors.js';
import { EventStore, KEY_SECRETS_PER_ACTION } from '../src/store/event-store.js';
import { StoreKeys, hkdfSha256 } from '../src/store/store-keys.js';

let dir: string;
let rules: Rules;
const me = Identity.generate();

beforeAll(async () => {
  rules = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-event-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small real pursuance: genesis, a member added, a task. */
function sampleEvents(): SignedEvent[] {
  const author = PursuanceAuthor.create(me, { name: 'Store cell', rules });
  const add = author.addMember(Identity.generate().publicKey, { name: 'mo', roles: ['member'] });
  const task = author.createTask({ audience: ['member'], title: 'Leaflets' });
  return [author.log.genesis, add, task];
}

async function withStore<T>(path: string, identity: Identity, run: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await EventStore.open(path, identity);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

async function allEvents(store: EventStore, pursuanceId: string): Promise<{ id: string; bytes: Uint8Array }[]> {
  const out: { id: string; bytes: Uint8Array }[] = [];
  for await (const page of store.stream(pursuanceId, 2)) out.push(...page);
  return out;
}

describe('node event store: unique by event id', () => {
  it('stores one row for the same event appended twice, or the same id from two origins', async () => {
    const path = join(dir, 'node.sqlite');
    const events = sampleEvents();
    const id = events[0]!.id;
    await withStore(path, me, async (store) => {
      expect(await store.append(events, 'local')).toBe(3);
      expect(await store.append(events, 'local')).toBe(0);
      expect(await store.append([events[1]!], 'group')).toBe(0);
      expect(await store.append([events[2]!, events[1]!], 'peer')).toBe(0);
      expect(await store.count(id)).toBe(3);
      expect(await store.count()).toBe(3);
      const stored = await allEvents(store, id);
      expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
      expect(stored.every((e, i) => equalBytes(e.bytes, events[i]!.bytes))).toBe(true);
      expect(await store.pursuanceIds()).toEqual([id]);
    });
  });

  it('refuses a raw second INSERT of the same event id (the unique constraint, not only the code)', async () => {
    const path = join(dir, 'node.sqlite');
    const [genesis] = sampleEvents();
    await withStore(path, me, async (store) => {
      await store.append([genesis!], 'local');
      const [row] = await store.dataSource.query<{ event_tag: string; pursuance_tag: string; sealed: Buffer }[]>(
        `SELECT event_tag, pursuance_tag, sealed FROM node_sealed_events`,
      );
      await expect(
        store.dataSource.query(`INSERT INTO node_sealed_events (event_tag, pursuance_tag, sealed) VALUES (?, ?, ?)`, [
          row!.event_tag,
          row!.pursuance_tag,
          row!.sealed,
        ]),
      ).rejects.toThrow(/UNIQUE constraint failed: node_sealed_events\.event_tag/);
      expect(await store.count()).toBe(1);
    });
  });

  it('keeps each rejected input once, by its hash, and forgets it on request', async () => {
    const path = join(dir, 'node.sqlite');
    const [genesis] = sampleEvents();
    const bytes = Uint8Array.of(1, 2, 3);
    const rejection: Rejection = { eventId: 'ab'.repeat(32), code: RejectionCode.INVALID_ENCODING, reason: 'not CBOR' };
    await withStore(path, me, async (store) => {
      await store.recordInvalid(rejection, bytes, 'group', genesis!.id, 5);
      await store.recordInvalid(rejection, bytes, 'peer', genesis!.id, 6);
      const kept = await store.rejectedInputs(genesis!.id);
      expect(kept.map((k) => ({ ...k, bytes: [...k.bytes] }))).toEqual([
        { hash: rejection.eventId, pursuanceId: genesis!.id, code: 'INVALID_ENCODING', reason: 'not CBOR', origin: 'group', receivedAt: 5, bytes: [1, 2, 3] },
      ]);
      await store.deleteRejectedInput(rejection.eventId);
      expect(await store.rejectedInputs(genesis!.id)).toEqual([]);
    });
  });
});

describe('node event store: event counts', () => {
  /** Three small pursuances' events, each list in order (a member added, then tasks). */
  function threePursuances(): SignedEvent[][] {
    return [0, 1, 2].map((i) => {
      const author = PursuanceAuthor.create(me, { name: `Count ${i}`, rules });
      const add = author.addMember(Identity.generate().publicKey, { name: 'mo', roles: ['member'] });
      return [author.log.genesis, add, ...Array.from({ length: 4 }, (_, t) => author.createTask({ audience: ['member'], title: `T${t}` }))];
    });
  }
  const rowsOf = async (store: EventStore, pursuanceId: string): Promise<number> => (await allEvents(store, pursuanceId)).length;

  it('equal the rows stored, over any appends of new and repeated events across pursuances (property)', async () => {
    const pursuances = threePursuances();
    const all = pursuances.flat();
    const batchArb = fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 6 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { maxLength: 6 }), async (batches) => {
        await withStore(join(dir, `count-${run++}.sqlite`), me, async (store) => {
          for (const batch of batches)
            await store.append(
              [...new Set(batch)].map((i) => all[i]!),
              'peer',
            );
          for (const events of pursuances) expect(await store.count(events[0]!.id)).toBe(await rowsOf(store, events[0]!.id));
          expect(await store.count()).toBe(new Set(batches.flat()).size);
        });
      }),
      { numRuns: 25 },
    );
  });

  it("are counted again when the counter is missing or is not this pursuance's, and kept from then on", async () => {
    const [a, b] = threePursuances();
    const path = join(dir, 'counters.sqlite');
    const counters = (store: EventStore) =>
      store.dataSource.query<{ name: string; value: Buffer }[]>(`SELECT name, value FROM node_store_meta WHERE name LIKE 'count:%' ORDER BY name`);
    await withStore(path, me, async (store) => {
      await store.append([...a!.slice(0, 3), ...b!.slice(0, 2)], 'peer');
      const rows = await counters(store);
      expect(rows).toHaveLength(2);
      // Names that do not show the pursuance, within the column's 32 characters.
      for (const { name } of rows) expect(name).toMatch(/^count:[0-9a-f]{26}$/);
      // Swapped: each counter now opens, but as the other pursuance's.
      await store.dataSource.query(`UPDATE node_store_meta SET value = ? WHERE name = ?`, [rows[1]!.value, rows[0]!.name]);
      await store.dataSource.query(`UPDATE node_store_meta SET value = ? WHERE name = ?`, [rows[0]!.value, rows[1]!.name]);
      expect(await store.count(a![0]!.id)).toBe(3);
      expect(await store.count(b![0]!.id)).toBe(2);
      // Sealed under this store's key and naming the right pursuance, yet no count (the encoding carries no fractions): each counted from the rows.
      const keys = StoreKeys.forIdentity(me);
      for (const n of [-1, '3', null, new Uint8Array([3]), [3]]) {
        await store.dataSource.query(`UPDATE node_store_meta SET value = ? WHERE name = ?`, [keys.seal({ t: 'count', p: a![0]!.id, n }), rows[0]!.name]);
        expect(await store.count(a![0]!.id), String(n)).toBe(3);
      }
      // Garbage, then none at all (a store from before counters): counted from the rows.
      await store.dataSource.query(`UPDATE node_store_meta SET value = ? WHERE name = ?`, [Buffer.from('not sealed'), rows[0]!.name]);
      await store.dataSource.query(`DELETE FROM node_store_meta WHERE name = ?`, [rows[1]!.name]);
      expect(await store.count(a![0]!.id)).toBe(3);
      expect(await store.count(b![0]!.id)).toBe(2);
      // The next append writes them right again, and counts on from there.
      await store.append([a![3]!, b![2]!, b![3]!], 'peer');
      expect(await store.count(a![0]!.id)).toBe(4);
      expect(await store.count(b![0]!.id)).toBe(4);
      expect(await counters(store)).toHaveLength(2);
      // An empty or unknown pursuance counts nothing.
      expect(await store.count('e'.repeat(64))).toBe(0);
      expect(await store.count('__proto__')).toBe(0);
    });
    // Kept across a reopen.
    await withStore(path, me, async (store) => expect(await store.count(a![0]!.id)).toBe(4));
  });
});

describe('node event store: migrations', () => {
  it('create the schema on an empty database, are no-ops on restart, and match the entities', async () => {
    const path = join(dir, 'node.sqlite');
    await withStore(path, me, () => Promise.resolve());
    await withStore(path, me, () => Promise.resolve());
    const ds = new DataSource({ type: 'sqlite', database: path, entities: nodeEntities, migrations: nodeMigrations, synchronize: false });
    await ds.initialize();
    try {
      expect(await ds.showMigrations()).toBe(false); // nothing pending
      // The schema the migrations built is exactly what the entities describe.
      const diff = await ds.driver.createSchemaBuilder().log();
      expect(diff.upQueries.map((q) => q.query)).toEqual([]);
      const [mode] = await ds.query<{ journal_mode: string }[]>('PRAGMA journal_mode');
      expect(mode?.journal_mode).toBe('wal');
      const tables = (await ds.query<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)).map((t) => t.name);
      // The first schema's plaintext tables are gone.
      expect(tables).toEqual([
        'migrations',
        'node_key_vault',
        'node_sealed_events',
        'node_sealed_projections',
        'node_sealed_rejects',
        'node_store_meta',
        'sqlite_sequence',
      ]);
    } finally {
      await ds.destroy();
    }
  });

  it('match the entities without the store opening (fresh migrations only), and roll back to nothing', async () => {
    const ds = new DataSource({ type: 'sqlite', database: join(dir, 'm.sqlite'), entities: nodeEntities, migrations: nodeMigrations, synchronize: false });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
      expect((await ds.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
      for (let i = 0; i < nodeMigrations.length; i++) await ds.undoLastMigration();
      expect(await ds.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'node_%'`)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });
});

describe('node event store: sealed rows', () => {
  it('opens only under the key of the identity that created it', async () => {
    const path = join(dir, 'node.sqlite');
    await withStore(path, me, (store) => store.append(sampleEvents(), 'local'));
    const err = await EventStore.open(path, Identity.generate()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreKeyMismatchError);
    expect((err as StoreKeyMismatchError).code).toBe('STORE_KEY_MISMATCH');
    await withStore(path, me, async (store) => expect(await store.count()).toBe(3));
  });

  it('refuses a sealed row moved to another row (tags bind each row to its event)', async () => {
    const path = join(dir, 'node.sqlite');
    const events = sampleEvents();
    await withStore(path, me, async (store) => {
      await store.append(events, 'local');
      // Swap two rows' sealed blobs, as someone editing the file could.
      await store.dataSource.query(`UPDATE node_sealed_events SET sealed = (SELECT sealed FROM node_sealed_events WHERE seq = 2) WHERE seq = 3`);
      await expect(allEvents(store, events[0]!.id)).rejects.toThrow(StoreCorruptError);
    });
  });

  it("refuses a sealed row moved under another pursuance's tag when that pursuance is read", async () => {
    const path = join(dir, 'node.sqlite');
    const one = sampleEvents();
    const two = sampleEvents();
    await withStore(path, me, async (store) => {
      await store.append([...one, ...two], 'local');
      expect(await allEvents(store, two[0]!.id)).toHaveLength(3);
      // The last event of the first pursuance, relabelled as the second's (its own tags kept otherwise).
      await store.dataSource.query(`UPDATE node_sealed_events SET pursuance_tag = (SELECT pursuance_tag FROM node_sealed_events WHERE seq = 4) WHERE seq = 3`);
      await expect(allEvents(store, two[0]!.id)).rejects.toThrow(/is not where it belongs/);
      expect(await allEvents(store, one[0]!.id)).toHaveLength(2);
    });
  });

  it("refuses a pursuance's kept fold moved under another pursuance's row", async () => {
    const path = join(dir, 'node.sqlite');
    const one = sampleEvents();
    const two = sampleEvents();
    await withStore(path, me, async (store) => {
      await store.append([...one, ...two], 'local');
      await store.writeFoldCheckpoint(one[0]!.id, Uint8Array.of(1, 2, 3));
      const [kept] = await store.dataSource.query<{ value: Buffer }[]>(`SELECT value FROM node_store_meta WHERE name LIKE 'fold:%'`);
      await store.writeFoldCheckpoint(two[0]!.id, Uint8Array.of(4, 5, 6));
      expect((await store.foldCheckpoint(two[0]!.id))?.bytes).toEqual(Buffer.from([4, 5, 6]));
      // The first pursuance's sealed row copied over the second's, as someone editing the file could.
      await store.dataSource.query(`UPDATE node_store_meta SET value = ? WHERE name LIKE 'fold:%' AND value != ?`, [kept!.value, kept!.value]);
      await expect(store.foldCheckpoint(two[0]!.id)).rejects.toThrow(/a fold checkpoint row is not where it belongs/);
      expect((await store.foldCheckpoint(one[0]!.id))?.bytes).toEqual(Buffer.from([1, 2, 3]));
    });
  });

  it('derive the store key with HKDF-SHA256 (RFC 5869 test case 1, first block)', () => {
    const okm = hkdfSha256(
      new Uint8Array(22).fill(0x0b),
      Uint8Array.from({ length: 13 }, (_, i) => i),
      Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i),
    );
    expect(Buffer.from(okm).toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf');
  });

  it('seal and open round-trip any record, and refuse any tampered byte (property)', () => {
    const keys = StoreKeys.forIdentity(me);
    const other = StoreKeys.forIdentity(Identity.generate());
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), (text, bytes, when, flip) => {
        const sealed = keys.seal({ t: 'event', s: text, b: bytes, r: when });
        expect(sealed.length % 256).toBe(40); // padded to the bucket, plus nonce and tag
        const opened = keys.open(sealed, 'event');
        expect(opened.s).toBe(text);
        expect(equalBytes(opened.b as Uint8Array, bytes)).toBe(true);
        const tampered = Buffer.from(sealed);
        tampered[flip % tampered.length]! ^= 1;
        expect(() => keys.open(tampered, 'event')).toThrow(StoreCorruptError);
        expect(() => other.open(sealed, 'event')).toThrow(StoreCorruptError);
        expect(() => keys.open(sealed, 'reject')).toThrow(StoreCorruptError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('node event store: hostile sealed values', () => {
  /** An own data property whatever its name: a literal `__proto__` would set the prototype instead. */
  const own = (key: string, value: CanonicalValue): Record<string, CanonicalValue> =>
    Object.defineProperty({}, key, { value, enumerable: true, writable: true, configurable: true });

  it('a sealed value that is not a map is no record; a map without its own type is not of that type', () => {
    const keys = StoreKeys.forIdentity(me);
    for (const notMap of [null, [], [{ t: 'event' }], new Uint8Array([1]), 7, 'event', true])
      expect(() => keys.open(keys.seal(notMap as never), 'event')).toThrow('a stored row is not a record');
    for (const noType of [{}, own('constructor', 'event'), own('__proto__', { t: 'event' }), { t: 1 }, { t: 'eventx' }])
      expect(() => keys.open(keys.seal(noType), 'event')).toThrow('a stored row is not a event record');
  });

  it('the safety-number row: a malformed entry or list is refused as corrupt; prototype names as onions are plain keys', async () => {
    const path = join(dir, 'node.sqlite');
    const keys = StoreKeys.forIdentity(me);
    await withStore(path, me, async (store) => {
      const put = (contacts: CanonicalValue) =>
        store.dataSource.query(
          `INSERT INTO node_store_meta (name, value) VALUES ('safety-verified', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`,
          [keys.seal({ t: 'safety', contacts })],
        );
      const good = { o: '__proto__', n: '12345', at: 1 };
      for (const entry of [null, [], new Uint8Array(2), 7, 'x', { o: 'a', n: 'b' }, { o: 1, n: 'b', at: 1 }, own('__proto__', good), own('constructor', 'x')]) {
        await put([good, entry]);
        await expect(store.safetyVerifications()).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: 'a safety-number entry is malformed' });
      }
      await put({ 0: good });
      await expect(store.safetyVerifications()).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: 'the safety-number row is not a list' });
      await put([good, { ...good, o: 'constructor', at: 2 }]);
      const read = await store.safetyVerifications();
      expect([...read.keys()]).toEqual(['__proto__', 'constructor']);
      expect(read.get('constructor')).toEqual({ safetyNumber: '12345', verifiedAt: 2 });
    });
  });
});

describe('node event store: key vault', () => {
  it('hands out only secrets already at rest, once each, and marks them used with the next append', async () => {
    const path = join(dir, 'node.sqlite');
    const events = sampleEvents();
    const drawn: Uint8Array[] = [];
    await withStore(path, me, async (store) => {
      expect(() => store.takeKeySecret()).toThrow(KeyVaultEmptyError);
      await store.ensureKeySecrets();
      const [atRest] = await store.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_key_vault WHERE used = 0`);
      expect(atRest!.n).toBeGreaterThanOrEqual(KEY_SECRETS_PER_ACTION);
      drawn.push(store.takeKeySecret(), store.takeKeySecret());
      expect(equalBytes(drawn[0]!, drawn[1]!)).toBe(false);
      expect(await store.usedKeySecrets()).toEqual([]);
      await store.append([events[0]!], 'local');
      const used = await store.usedKeySecrets();
      expect(used.map((s) => Buffer.from(s).toString('hex'))).toEqual(drawn.map((s) => Buffer.from(s).toString('hex')));
      // A secret drawn by an action that then failed is burned by the next append, never handed out again.
      drawn.push(store.takeKeySecret());
      await store.append([events[1]!], 'local');
      expect(await store.usedKeySecrets()).toHaveLength(3);
    });
    await withStore(path, me, async (store) => {
      await store.ensureKeySecrets();
      const next = Array.from({ length: KEY_SECRETS_PER_ACTION }, () => Buffer.from(store.takeKeySecret()).toString('hex'));
      for (const s of drawn) expect(next).not.toContain(Buffer.from(s).toString('hex'));
      expect(new Set(next).size).toBe(next.length);
    });
  });
});

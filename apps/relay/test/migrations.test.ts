import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { relayMigrations } from '@pursuance/migrations';
import { DEFAULT_BUCKET_MS, bucketOf } from '@pursuance/relay';
import { record } from '@pursuance/relay/testing';
import { relayEntities } from '../src/store/entities.js';
import { TypeormRelayStore } from '../src/store/typeorm-relay-store.js';

describe('relay migrations', () => {
  it('create the schema on an empty database, are no-ops on restart, and match the entities', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-migrations-'));
    const path = join(dir, 'relay.sqlite');
    try {
      const first = await TypeormRelayStore.open({ path });
      expect(first.appliedMigrations).toEqual(relayMigrations.map((m) => new m().name));
      await first.close();
      const second = await TypeormRelayStore.open({ path });
      expect(second.appliedMigrations).toEqual([]);
      await second.close();

      const ds = new DataSource({ type: 'sqlite', database: path, entities: relayEntities, migrations: relayMigrations, synchronize: false });
      await ds.initialize();
      try {
        expect(await ds.showMigrations()).toBe(false); // nothing pending
        // The schema the migrations built is exactly what the entities describe.
        const diff = await ds.driver.createSchemaBuilder().log();
        expect(diff.upQueries.map((q) => q.query)).toEqual([]);
        const [mode] = await ds.query<{ journal_mode: string }[]>('PRAGMA journal_mode');
        expect(mode?.journal_mode).toBe('wal');
        const tables = (await ds.query<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)).map((t) => t.name);
        expect(tables).toEqual(['migrations', 'relay_messages', 'relay_spent_tokens', 'relay_store_buckets', 'relay_store_days', 'sqlite_sequence']);
      } finally {
        await ds.destroy();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('roll back cleanly (down) to an empty schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-migrations-'));
    const ds = new DataSource({ type: 'sqlite', database: join(dir, 'r.sqlite'), migrations: relayMigrations, synchronize: false });
    await ds.initialize();
    try {
      await ds.runMigrations();
      for (let i = 0; i < relayMigrations.length; i++) await ds.undoLastMigration();
      const tables = (await ds.query<unknown[]>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'relay_%'`)).length;
      expect(tables).toBe(0);
    } finally {
      await ds.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('file messages stored before retention existed under the day of the upgrade, so none expire early', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-migrations-'));
    const database = join(dir, 'r.sqlite');
    const old = new DataSource({ type: 'sqlite', database, migrations: relayMigrations.slice(0, 1), synchronize: false });
    await old.initialize();
    await old.runMigrations();
    for (let i = 0; i < 3; i++) await old.query('INSERT INTO relay_messages (signature, ciphertext) VALUES (?, ?)', [Buffer.from([i]), Buffer.alloc(8)]);
    await old.destroy();
    const ds = new DataSource({ type: 'sqlite', database, migrations: relayMigrations, synchronize: false });
    await ds.initialize();
    try {
      const before = Math.floor(Date.now() / 86_400_000);
      await ds.runMigrations({ transaction: 'each' });
      const after = Math.floor(Date.now() / 86_400_000);
      const days = await ds.query<{ day: number; last_seq: number }[]>('SELECT day, last_seq FROM relay_store_days');
      expect(days).toHaveLength(1);
      expect(days[0]!.last_seq).toBe(3);
      expect(days[0]!.day).toBeGreaterThanOrEqual(before);
      expect(days[0]!.day).toBeLessThanOrEqual(after);
    } finally {
      await ds.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('relay migration: spent-token epochs', () => {
  it('keeps every message and leaves the epoch-keyed spent table empty (the retired key redeems nothing)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-migrations-'));
    const database = join(dir, 'r.sqlite');
    const old = new DataSource({ type: 'sqlite', database, migrations: relayMigrations.slice(0, 2), synchronize: false });
    await old.initialize();
    await old.runMigrations();
    await old.query('INSERT INTO relay_messages (signature, ciphertext) VALUES (?, ?)', [Buffer.from([7]), Buffer.alloc(8)]);
    await old.query('INSERT INTO relay_spent_tokens (input) VALUES (?)', [Buffer.alloc(32, 1)]);
    await old.destroy();
    const store = await TypeormRelayStore.open({ path: database });
    try {
      expect(store.appliedMigrations).toEqual(['RelaySpentTokenEpochs1764892800000', 'RelayStoreBuckets1765152000000']);
      expect(await store.stats()).toMatchObject({ messages: 1, spentTokens: 0 });
      expect(await store.seqOf(Uint8Array.of(7))).toBe(1);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('relay migration: bucket marks', () => {
  const upgraded = async (messages: number, body: (store: TypeormRelayStore) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-migrations-'));
    const database = join(dir, 'r.sqlite');
    const old = new DataSource({ type: 'sqlite', database, migrations: relayMigrations.slice(0, 3), synchronize: false });
    await old.initialize();
    await old.runMigrations();
    for (let i = 0; i < messages; i++) await old.query('INSERT INTO relay_messages (signature, ciphertext) VALUES (?, ?)', [Buffer.from([i]), Buffer.alloc(8)]);
    await old.destroy();
    const store = await TypeormRelayStore.open({ path: database });
    try {
      expect(store.appliedMigrations).toEqual(['RelayStoreBuckets1765152000000']);
      await body(store);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('file the messages stored before buckets existed under bucket 0: only a fetch from bucket 0 reaches them', async () => {
    await upgraded(3, async (store) => {
      expect(await store.seqBeforeBucket(0)).toBe(0);
      expect(await store.seqBeforeBucket(1)).toBe(3);
      const now = bucketOf(Date.now(), DEFAULT_BUCKET_MS);
      expect(store.currentBucket()).toBeGreaterThanOrEqual(now);
      expect(await store.seqBeforeBucket(store.currentBucket())).toBe(3);
      // A message stored after the upgrade is filed under the clock's bucket, after the old ones.
      const posted = await store.post(record());
      expect(posted.kind === 'stored' && posted.message.seq).toBe(4);
      expect(await store.seqBeforeBucket(store.currentBucket())).toBe(3);
      expect(await store.seqBeforeBucket(store.currentBucket() + 1)).toBe(4);
    });
  });

  it('mark nothing on an empty database', async () => {
    await upgraded(0, async (store) => {
      expect(await store.seqBeforeBucket(Number.MAX_SAFE_INTEGER)).toBe(0);
      // No mark holds it back: the clock's bucket (read around it, in case an hour turns meanwhile).
      const before = bucketOf(Date.now(), DEFAULT_BUCKET_MS);
      const current = store.currentBucket();
      expect(current).toBeGreaterThanOrEqual(before);
      expect(current).toBeLessThanOrEqual(bucketOf(Date.now(), DEFAULT_BUCKET_MS));
    });
  });
});

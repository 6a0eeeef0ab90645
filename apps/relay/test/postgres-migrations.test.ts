import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayPostgresMigrations } from '@pursuance/migrations';
import { DEFAULT_BUCKET_MS, bucketOf } from '@pursuance/relay';
import { record } from '@pursuance/relay/testing';
import { relayPostgresEntities } from '../src/store/postgres-entities.js';
import { PostgresRelayStore } from '../src/store/postgres-relay-store.js';
import { startPostgresCluster, type PostgresCluster } from './support/postgres-cluster.js';

let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await startPostgresCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const relayTables = async (database: string): Promise<string[]> =>
  (await cluster.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`, [], database)).map((r) => r.t);

describe('relay PostgreSQL migrations', () => {
  it('create the schema on an empty database, are no-ops on restart, and match the entities', async () => {
    const database = await cluster.createDatabase();
    const first = await PostgresRelayStore.open({ url: cluster.url(database) });
    expect(first.appliedMigrations).toEqual(relayPostgresMigrations.map((m) => new m().name));
    await first.close();
    const second = await PostgresRelayStore.open({ url: cluster.url(database) });
    expect(second.appliedMigrations).toEqual([]);
    await second.close();

    const ds = new DataSource({
      type: 'postgres',
      driver: pg,
      url: cluster.url(database),
      entities: relayPostgresEntities,
      migrations: relayPostgresMigrations,
      synchronize: false,
    });
    await ds.initialize();
    try {
      expect(await ds.showMigrations()).toBe(false); // nothing pending
      // The schema the migrations built is exactly what the entities describe.
      const diff = await ds.driver.createSchemaBuilder().log();
      expect(diff.upQueries.map((q) => q.query)).toEqual([]);
      expect(await relayTables(database)).toEqual(['migrations', 'relay_messages', 'relay_spent_tokens', 'relay_store_buckets', 'relay_store_days']);
      // The seq sequence stops where a JS number stops being exact.
      const [seq] = await ds.query<{ max: string }[]>(`SELECT max_value::text AS max FROM pg_sequences WHERE sequencename = 'relay_messages_seq_seq'`);
      expect(seq?.max).toBe(String(Number.MAX_SAFE_INTEGER));
    } finally {
      await ds.destroy();
    }
  });

  it('build the same tables, keys and uniqueness as the SQLite relay schema', async () => {
    const database = await cluster.createDatabase();
    const store = await PostgresRelayStore.open({ url: cluster.url(database) });
    await store.close();
    const columns = await cluster.query<{ table: string; column: string; type: string; nullable: string }>(
      `SELECT table_name AS table, column_name AS column, data_type AS type, is_nullable AS nullable
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name LIKE 'relay_%' ORDER BY table_name, ordinal_position`,
      [],
      database,
    );
    expect(columns.map((c) => `${c.table}.${c.column} ${c.type}${c.nullable === 'NO' ? ' not null' : ''}`)).toEqual([
      'relay_messages.seq bigint not null',
      'relay_messages.signature bytea not null',
      'relay_messages.ciphertext bytea not null',
      'relay_spent_tokens.epoch integer not null',
      'relay_spent_tokens.input bytea not null',
      'relay_store_buckets.bucket integer not null',
      'relay_store_buckets.last_seq bigint not null',
      'relay_store_days.day integer not null',
      'relay_store_days.last_seq bigint not null',
    ]);
    const keys = await cluster.query<{ table: string; kind: string; columns: string }>(
      `SELECT tc.table_name AS table, tc.constraint_type AS kind, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position) AS columns
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
        WHERE tc.table_schema = 'public' AND tc.table_name LIKE 'relay_%'
        GROUP BY tc.table_name, tc.constraint_type, tc.constraint_name ORDER BY 1, 2, 3`,
      [],
      database,
    );
    expect(keys.map((k) => `${k.table} ${k.kind} (${k.columns})`)).toEqual([
      'relay_messages PRIMARY KEY (seq)',
      'relay_messages UNIQUE (signature)',
      'relay_spent_tokens PRIMARY KEY (epoch,input)',
      'relay_store_buckets PRIMARY KEY (bucket)',
      'relay_store_days PRIMARY KEY (day)',
    ]);
  });

  it('roll back cleanly (down) to an empty schema', async () => {
    const database = await cluster.createDatabase();
    const ds = new DataSource({ type: 'postgres', driver: pg, url: cluster.url(database), migrations: relayPostgresMigrations, synchronize: false });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'all' });
      expect(await relayTables(database)).toContain('relay_messages');
      for (let i = 0; i < relayPostgresMigrations.length; i++) await ds.undoLastMigration({ transaction: 'all' });
      expect(await relayTables(database)).toEqual(['migrations']);
      const sequences = await cluster.query(`SELECT 1 FROM pg_sequences WHERE sequencename LIKE 'relay_%'`, [], database);
      expect(sequences).toEqual([]);
      // And up again from there.
      await ds.runMigrations({ transaction: 'all' });
      expect(await relayTables(database)).toEqual(['migrations', 'relay_messages', 'relay_spent_tokens', 'relay_store_buckets', 'relay_store_days']);
    } finally {
      await ds.destroy();
    }
  });

  it('leave nothing behind when a migration fails: all run in one transaction', async () => {
    const database = await cluster.createDatabase();
    // A table in the way of the initial schema: the migration fails half-way through.
    await cluster.query('CREATE TABLE relay_store_days (x integer)', [], database);
    await expect(PostgresRelayStore.open({ url: cluster.url(database) })).rejects.toThrow(/relay_store_days/);
    // relay_messages and relay_spent_tokens, created before the failure, are gone again; only
    // TypeORM's bookkeeping table (made before the transaction) stays, recording nothing.
    expect(await relayTables(database)).toEqual(['migrations', 'relay_store_days']);
    expect(await cluster.query('SELECT name FROM migrations', [], database)).toEqual([]);
  });
});

describe('relay PostgreSQL migration: bucket marks', () => {
  const upgraded = async (messages: number): Promise<PostgresRelayStore> => {
    const database = await cluster.createDatabase();
    const old = new DataSource({
      type: 'postgres',
      driver: pg,
      url: cluster.url(database),
      migrations: relayPostgresMigrations.slice(0, 1),
      synchronize: false,
    });
    await old.initialize();
    try {
      await old.runMigrations({ transaction: 'all' });
      for (let i = 0; i < messages; i++)
        await old.query('INSERT INTO relay_messages (signature, ciphertext) VALUES ($1, $2)', [Buffer.from([i]), Buffer.alloc(8)]);
    } finally {
      await old.destroy();
    }
    const store = await PostgresRelayStore.open({ url: cluster.url(database) });
    expect(store.appliedMigrations).toEqual(['RelayPostgresStoreBuckets1765152000000']);
    return store;
  };

  it('file the messages stored before buckets existed under bucket 0: only a fetch from bucket 0 reaches them', async () => {
    const store = await upgraded(3);
    try {
      expect(await store.seqBeforeBucket(0)).toBe(0);
      expect(await store.seqBeforeBucket(1)).toBe(3);
      expect(store.currentBucket()).toBeGreaterThanOrEqual(bucketOf(Date.now(), DEFAULT_BUCKET_MS));
      expect(await store.seqBeforeBucket(store.currentBucket())).toBe(3);
      // A message stored after the upgrade is filed under the clock's bucket, after the old ones.
      const posted = await store.post(record());
      expect(posted.kind === 'stored' && posted.message.seq).toBe(4);
      expect(await store.seqBeforeBucket(store.currentBucket())).toBe(3);
      expect(await store.seqBeforeBucket(store.currentBucket() + 1)).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('mark nothing on an empty database', async () => {
    const store = await upgraded(0);
    try {
      expect(await store.seqBeforeBucket(2_147_483_647)).toBe(0);
      // No mark holds it back: the clock's bucket (read around it, in case an hour turns meanwhile).
      const before = bucketOf(Date.now(), DEFAULT_BUCKET_MS);
      const current = store.currentBucket();
      expect(current).toBeGreaterThanOrEqual(before);
      expect(current).toBeLessThanOrEqual(bucketOf(Date.now(), DEFAULT_BUCKET_MS));
    } finally {
      await store.close();
    }
  });
});

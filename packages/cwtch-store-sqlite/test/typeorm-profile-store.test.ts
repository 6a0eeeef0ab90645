import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { runProfileStoreContractTests } from '@pursuance/cwtch/testing';
import { cwtchMigrations } from '@pursuance/migrations';
import { TypeormProfileStore } from '../src/index.js';
import { cwtchEntities } from '../src/entities.js';

async function dump(path: string): Promise<string> {
  const ds = new DataSource({ type: 'sqlite', database: path, entities: cwtchEntities, synchronize: false });
  await ds.initialize();
  try {
    const header = await ds.query('SELECT id, hex(header) AS h FROM cwtch_profile_header ORDER BY id');
    const records = await ds.query('SELECT seq, collection, key, hex(value) AS v FROM cwtch_records ORDER BY seq');
    const sequence = await ds.query(`SELECT seq FROM sqlite_sequence WHERE name = 'cwtch_records'`);
    return JSON.stringify({ header, records, sequence });
  } finally {
    await ds.destroy();
  }
}

runProfileStoreContractTests(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwtch-store-'));
  const path = join(dir, 'profile.sqlite');
  return {
    open: () => TypeormProfileStore.open({ path }),
    snapshot: () => dump(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}, 'sqlite (TypeORM)');

describe('cwtch migrations', () => {
  it('create the schema (WAL) on an empty database, are no-ops on restart, and match the entities', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cwtch-migrations-'));
    const path = join(dir, 'profile.sqlite');
    try {
      const first = await TypeormProfileStore.open({ path });
      expect(first.appliedMigrations).toEqual(cwtchMigrations.map((m) => new m().name));
      await first.close();
      const second = await TypeormProfileStore.open({ path });
      expect(second.appliedMigrations).toEqual([]);
      await second.close();

      const ds = new DataSource({ type: 'sqlite', database: path, entities: cwtchEntities, migrations: cwtchMigrations, synchronize: false });
      await ds.initialize();
      try {
        expect(await ds.showMigrations()).toBe(false);
        const diff = await ds.driver.createSchemaBuilder().log();
        expect(diff.upQueries.map((q) => q.query)).toEqual([]);
        const [mode] = await ds.query<{ journal_mode: string }[]>('PRAGMA journal_mode');
        expect(mode?.journal_mode).toBe('wal');
        const tables = (await ds.query<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)).map((t) => t.name);
        expect(tables).toEqual(['cwtch_profile_header', 'cwtch_records', 'migrations', 'sqlite_sequence']);
      } finally {
        await ds.destroy();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('roll back cleanly (down) to an empty schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cwtch-migrations-'));
    const ds = new DataSource({ type: 'sqlite', database: join(dir, 'p.sqlite'), migrations: cwtchMigrations, synchronize: false });
    await ds.initialize();
    try {
      await ds.runMigrations();
      await ds.undoLastMigration();
      const tables = await ds.query<unknown[]>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'cwtch_%'`);
      expect(tables).toHaveLength(0);
    } finally {
      await ds.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { relayMigrations } from '@pursuance/migrations';
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
        expect(tables).toEqual(['migrations', 'relay_messages', 'relay_spent_tokens', 'sqlite_sequence']);
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
      await ds.undoLastMigration();
      const tables = (await ds.query<unknown[]>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'relay_%'`)).length;
      expect(tables).toBe(0);
    } finally {
      await ds.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

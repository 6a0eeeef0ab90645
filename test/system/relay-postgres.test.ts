import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyBundlePins, RelayClient, trustKeyBundle } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { startPostgresCluster, type PostgresCluster } from '../../apps/relay/test/support/postgres-cluster.js';
import { runRelay, startRelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { randomMessage } from '../../packages/relay/test/support/fixtures.js';

/**
 * The daemon on PostgreSQL (`--store postgres://…` / PURSUANCE_RELAY_STORE): it runs, keeps its
 * keys in the data dir and its data in the database, maps failures to the documented exit
 * codes, and never writes the URL's password anywhere.
 */
let cluster: PostgresCluster;
let dir: string;
beforeAll(async () => {
  cluster = await startPostgresCluster();
  dir = await mkdtemp(join(tmpdir(), 'relay-postgres-'));
});
afterAll(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

const base = (name: string): string[] => ['--data-dir', join(dir, name), '--loopback-registry', join(dir, 'registry'), '--no-metrics', '--pow-difficulty', '2'];
const env = { PURSUANCE_RELAY_PASSWORD: 'relay password 1' };

describe('relay daemon on PostgreSQL', () => {
  it('stores posts in the database named by PURSUANCE_RELAY_STORE, keys in the data dir, and keeps them across a restart', async () => {
    const url = cluster.url(await cluster.createDatabase());
    const registryDir = join(dir, 'registry');
    const acn = new LoopbackACN({ registryDir });
    try {
      const first = await startRelayProcess({ dataDir: join(dir, 'env'), registryDir, args: ['--no-metrics'], env: { PURSUANCE_RELAY_STORE: url } });
      const bundle = await trustKeyBundle(first.bundle, new MemoryKeyBundlePins());
      const client = new RelayClient({ acn, bundle });
      const session = await client.openSession();
      const message = randomMessage();
      await session.post(message);
      await client.close();
      expect(await first.stop()).toBe(0);
      expect(first.stderr()).toMatch(/"event":"relay.started".*"store":"postgres"/);
      await access(join(dir, 'env', 'relay-keys.json'));
      await expect(access(join(dir, 'env', 'relay.sqlite'))).rejects.toThrow();
      const stored = await cluster.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM relay_messages', [], new URL(url).pathname.slice(1));
      expect(stored[0]!.n).toBe(1);

      const second = await startRelayProcess({ dataDir: join(dir, 'env'), registryDir, args: ['--no-metrics'], env: { PURSUANCE_RELAY_STORE: url } });
      const again = new RelayClient({ acn, bundle: await trustKeyBundle(second.bundle, new MemoryKeyBundlePins()) });
      const replayed = await (await again.openSession()).replay();
      expect(replayed.map((m) => Buffer.from(m.signature).toString('hex'))).toEqual([Buffer.from(message.signature).toString('hex')]);
      await again.close();
      expect(await second.stop()).toBe(0);
      for (const log of [first.stderr(), second.stderr()]) expect(log).not.toContain(cluster.password);
    } finally {
      await acn.close();
    }
  });

  it('refuses a bad --store with exit 2, and a database it cannot open with exit 5, never printing the password', async () => {
    const secret = 'Never-Print-Me-42';
    const bad = await runRelay([...base('bad'), '--store', `mysql://relay:${secret}@127.0.0.1/relay`], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--store/);
    const database = await cluster.createDatabase();
    for (const url of [
      // Wrong password.
      `postgres://${cluster.user}:${secret}@127.0.0.1:${cluster.port}/${database}`,
      // No such database.
      `postgres://${cluster.user}:${secret}@127.0.0.1:${cluster.port}/no_such_db`,
    ]) {
      const failed = await runRelay([...base('unopenable'), '--store', url], env);
      expect(failed.code, failed.stderr).toBe(5);
      expect(failed.stderr).toMatch(/cannot open the relay database postgres:\/\/relay_test:\*\*\*@127\.0\.0\.1/);
      for (const out of [failed.stdout, failed.stderr, bad.stdout, bad.stderr]) expect(out).not.toContain(secret);
    }
  });

  it('lets one relay at a time use a database: a second one, from another data dir, exits with 6', async () => {
    const url = cluster.url(await cluster.createDatabase());
    const registryDir = join(dir, 'registry');
    const owner = await startRelayProcess({ dataDir: join(dir, 'owner'), registryDir, args: ['--no-metrics', '--store', url] });
    try {
      const twin = await runRelay([...base('twin'), '--store', url], env);
      expect(twin.code, twin.stderr).toBe(6);
      expect(twin.stderr).toMatch(/in use by another relay/);
      expect(twin.stderr).not.toContain(cluster.password);
    } finally {
      expect(await owner.stop()).toBe(0);
    }
  }, 120_000);
});

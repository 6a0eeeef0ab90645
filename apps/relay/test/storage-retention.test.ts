import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, toHex } from '@pursuance/crypto';
import { MemoryKeyBundlePins, RelayClient, STORAGE_DAY_MS, trustKeyBundle } from '@pursuance/relay';
import { randomMessage } from '@pursuance/relay/testing';
import { LoopbackACN } from '@pursuance/tapir';
import { relayProgram, resolveConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { RelayDaemon } from '../src/relay-daemon.js';
import { metricValue } from './support/relay-process.js';

it('the daemon applies --retention-days with its clock: old messages go on the next post, metrics say why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-retention-'));
  const program = relayProgram().exitOverride();
  const registryDir = join(dir, 'registry');
  program.parse(
    ['--data-dir', join(dir, 'data'), '--loopback-registry', registryDir, '--metrics-port', '0', '--pow-difficulty', '2', '--retention-days', '2'],
    {
      from: 'user',
    },
  );
  const config = resolveConfig(program.opts(), (key) => program.getOptionValueSource(key));
  let now = Date.UTC(2026, 0, 10, 12);
  const daemon = await RelayDaemon.start({
    config,
    password: 'relay password 1',
    log: createLogger('error', () => undefined),
    scryptParams: TEST_SCRYPT_PARAMS,
    now: () => now,
  });
  const acn = new LoopbackACN({ registryDir });
  // The client shares the daemon's clock: token epochs are judged by time on both sides.
  const client = new RelayClient({ acn, bundle: await trustKeyBundle(daemon.exportedBundle, new MemoryKeyBundlePins()), now: () => now });
  try {
    const session = await client.openSession();
    const old = [randomMessage(), randomMessage(), randomMessage()];
    for (const m of old) await session.post(m);
    now += 2 * STORAGE_DAY_MS; // exactly the window: nothing is past it yet
    const kept = randomMessage();
    await session.post(kept);
    expect((await session.replay()).length).toBe(4);
    now += STORAGE_DAY_MS; // the first day now lies wholly before now − 2 days
    const fresh = randomMessage();
    await session.post(fresh);
    expect((await session.replay()).map((m) => toHex(m.signature))).toEqual([kept, fresh].map((m) => toHex(m.signature)));
    const text = await (await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`)).text();
    expect(metricValue(text, 'relay_retention_days')).toBe(2);
    expect(metricValue(text, 'relay_pruned_messages_total', '{reason="retention"}')).toBe(3);
    expect(metricValue(text, 'relay_pruned_messages_total', '{reason="cap"}')).toBeUndefined();
    expect(metricValue(text, 'relay_stored_messages')).toBe(2);
    expect(metricValue(text, 'relay_stored_bytes')).toBe(2 * (4096 + 64));
  } finally {
    await client.close();
    await daemon.stop();
    await acn.close();
    await rm(dir, { recursive: true, force: true });
  }
});

it('the daemon signs --bucket-seconds into its bundle, files messages by it, and answers fetches the same after a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-buckets-'));
  const registryDir = join(dir, 'registry');
  const start = async (): Promise<RelayDaemon> => {
    const program = relayProgram().exitOverride();
    program.parse(['--data-dir', join(dir, 'data'), '--loopback-registry', registryDir, '--no-metrics', '--pow-difficulty', '2', '--bucket-seconds', '600'], {
      from: 'user',
    });
    const config = resolveConfig(program.opts(), (key) => program.getOptionValueSource(key));
    return RelayDaemon.start({
      config,
      password: 'relay password 1',
      log: createLogger('error', () => undefined),
      scryptParams: TEST_SCRYPT_PARAMS,
      now: () => now,
    });
  };
  let now = Date.UTC(2026, 0, 10, 12);
  const B = now / 600_000;
  let daemon = await start();
  const pins = new MemoryKeyBundlePins();
  const acn = new LoopbackACN({ registryDir });
  const hex = (m: { signature: Uint8Array }): string => toHex(m.signature);
  const fetched = async (client: RelayClient, fromBucket: number): Promise<{ ids: string[]; bucket: number }> => {
    const session = await client.openSession();
    const ids: string[] = [];
    const { bucket } = await session.fetchEach({ fromBucket, onMessage: (m) => ids.push(hex(m)) });
    session.close();
    return { ids, bucket };
  };
  let client: RelayClient | undefined;
  try {
    const bundle = await trustKeyBundle(daemon.exportedBundle, pins);
    expect(bundle.bucketSeconds).toBe(600);
    client = new RelayClient({ acn, bundle, now: () => now });
    const session = await client.openSession();
    const first = randomMessage();
    await session.post(first);
    now += 2 * 600_000;
    const second = randomMessage();
    await session.post(second);
    expect(await fetched(client, B + 1)).toEqual({ ids: [hex(second)], bucket: B + 2 });
    await client.close();
    await daemon.stop();

    now -= 3 * 600_000; // the clock steps back over the restart: nothing is filed earlier for it
    daemon = await start();
    expect((await trustKeyBundle(daemon.exportedBundle, pins)).bucketSeconds).toBe(600);
    client = new RelayClient({ acn, bundle, now: () => now });
    expect(await fetched(client, B + 1)).toEqual({ ids: [hex(second)], bucket: B + 2 });
    expect((await fetched(client, 0)).ids).toEqual([hex(first), hex(second)]);
  } finally {
    await client?.close();
    await daemon.stop();
    await acn.close();
    await rm(dir, { recursive: true, force: true });
  }
});

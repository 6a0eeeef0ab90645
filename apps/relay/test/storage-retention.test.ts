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

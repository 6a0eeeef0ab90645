import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { MemoryKeyBundlePins, RelayClient, epochStartMs, redeemUntilMs, spendToken, trustKeyBundle } from '@pursuance/relay';
import { randomMessage } from '@pursuance/relay/testing';
import { LoopbackACN } from '@pursuance/tapir';
import { relayProgram, resolveConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { RelayDaemon } from '../src/relay-daemon.js';
import { metricValue } from './support/relay-process.js';

it('the daemon keeps one key schedule across restarts, refuses an expired epoch’s tokens and forgets their spent set', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-epochs-'));
  const registryDir = join(dir, 'registry');
  const program = relayProgram().exitOverride();
  program.parse(['--data-dir', join(dir, 'data'), '--loopback-registry', registryDir, '--metrics-port', '0', '--pow-difficulty', '2'], { from: 'user' });
  const config = resolveConfig(program.opts(), (key) => program.getOptionValueSource(key));
  let now = Date.UTC(2026, 0, 10, 12);
  const start = (): Promise<RelayDaemon> =>
    RelayDaemon.start({ config, password: 'relay password 1', log: createLogger('error', () => undefined), scryptParams: TEST_SCRYPT_PARAMS, now: () => now });
  const acn = new LoopbackACN({ registryDir });
  let daemon = await start();
  const bundle = await trustKeyBundle(daemon.exportedBundle, new MemoryKeyBundlePins());
  const schedule = bundle.tokenSchedule;
  expect(schedule).toMatchObject({ startSeconds: Date.UTC(2026, 0, 10) / 1000, epochSeconds: 7 * 86_400, graceSeconds: 7 * 86_400, count: 1024 });
  let client = new RelayClient({ acn, bundle, batchSize: 3, now: () => now });
  try {
    const session = await client.openSession();
    await session.post(randomMessage());
    const spare = await client.takeToken();
    expect(spare.epoch).toBe(0);
    session.close();
    await client.close();
    await daemon.stop();

    // Three weeks on: epoch 0 ended two weeks ago, so its grace is over too.
    now = redeemUntilMs(schedule, 0) + 1;
    daemon = await start();
    await expect(trustKeyBundle(daemon.exportedBundle, new MemoryKeyBundlePins())).resolves.toMatchObject({ tokenEpochRoot: bundle.tokenEpochRoot });
    client = new RelayClient({ acn, bundle, batchSize: 3, now: () => now });
    const later = await client.openSession();
    const m = randomMessage();
    expect(await later.postSpent(m, spendToken(spare, m, bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    await later.post(randomMessage()); // buys under the present epoch and posts
    expect((await client.takeToken()).epoch).toBe(2);
    // The start-up sweep forgot epoch 0's spent tokens; only the new post's token is remembered.
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`)).text();
    await expect.poll(async () => metricValue(await metrics(), 'relay_spent_tokens'), { timeout: 60_000 }).toBe(1);
    const text = await metrics();
    expect(metricValue(text, 'relay_token_epoch')).toBe(2);
    expect(metricValue(text, 'relay_token_schedule_end_seconds')).toBe(epochStartMs(schedule, 1024) / 1000);
    expect(metricValue(text, 'relay_posts_rejected_total', '{code="TOKEN_EXPIRED"}')).toBe(1);
    later.close();
  } finally {
    await client.close();
    await daemon.stop();
    await acn.close();
    await rm(dir, { recursive: true, force: true });
  }
});

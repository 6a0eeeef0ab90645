import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importKeyBundle } from '@pursuance/relay';
import { spawnCli } from '../support/processes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-relay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pursuance relay start', () => {
  it('runs the relay daemon with its own options and stops cleanly on SIGTERM', async () => {
    const relay = spawnCli(
      ['relay', 'start', '--data-dir', join(dir, 'relay'), '--loopback-registry', join(dir, 'registry'), '--pow-difficulty', '1', '--no-metrics'],
      {
        PURSUANCE_RELAY_PASSWORD: 'relay cli password',
      },
    );
    const [, bundle] = await relay.waitForLine(/key-bundle (\S+)\n/);
    await relay.waitForLine(/^ready$/m);
    expect(importKeyBundle(bundle!).boardOnion).toMatch(/^[a-z2-7]{56}$/);
    expect(await relay.stop('SIGTERM')).toBe(0);
  });
});

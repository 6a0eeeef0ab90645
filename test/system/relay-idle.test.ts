import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, toHex } from '@pursuance/crypto';
import { MemoryKeyBundlePins, RelayClient, trustKeyBundle, type EncryptedGroupMessage, type SignedKeyBundle } from '@pursuance/relay';
import { ApplicationChain, AuthApp, LoopbackACN, TapirService } from '@pursuance/tapir';
import { metricValue, startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { randomMessage } from '../../packages/relay/test/support/fixtures.js';

/**
 * The daemon's --idle-timeout-ms: a board session that sends nothing is closed (and counted in
 * the metrics), while a client's session that renews itself with proofs of work stays and keeps posting.
 */
let dir: string;
let relay: RelayProcess;
let acn: LoopbackACN;
let bundle: SignedKeyBundle;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-idle-'));
  relay = await startRelayProcess({ dataDir: join(dir, 'data'), registryDir: join(dir, 'registry'), args: ['--idle-timeout-ms', '1500'] });
  acn = new LoopbackACN({ registryDir: join(dir, 'registry') });
  bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
});
afterAll(async () => {
  await relay.stop('SIGKILL');
  await acn.close();
  await rm(dir, { recursive: true, force: true });
});

describe('relay daemon idle timeout', () => {
  it('closes a board session that sends nothing and keeps one that renews', async () => {
    const client = new RelayClient({ acn, bundle, batchSize: 5, renewIntervalMs: 300 });
    const attacker = new TapirService(acn, Identity.generate());
    try {
      const session = await client.openSession();
      const seen: EncryptedGroupMessage[] = [];
      await session.subscribe((m) => seen.push(m));
      const idle = await attacker.connect(bundle.boardOnion, new ApplicationChain([new AuthApp()]), { identity: Identity.generate() });
      await idle.closed;
      expect(session.isClosed).toBe(false);
      const m = randomMessage();
      await session.post(m);
      while (seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
      expect(seen.map((s) => toHex(s.signature))).toEqual([toHex(m.signature)]);

      const metrics = await relay.metrics();
      expect(metricValue(metrics, 'relay_connections', '{service="board",state="idleTimedOut"}')).toBe(1);
      expect(metricValue(metrics, 'relay_connection_errors_total', '{service="board",code="IDLE_TIMEOUT"}')).toBe(1);
    } finally {
      await client.close();
      await attacker.close();
    }
  });
});

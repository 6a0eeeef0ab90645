import { join } from 'node:path';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { LoopbackACN } from '@pursuance/tapir';

/** Peer timings for tests: retries in tens of milliseconds, so waiting on events stays quick. */
export const FAST_PEER = {
  retry: { baseMs: 50, maxMs: 400, jitter: 0 },
  relayRetry: { baseMs: 50, maxMs: 400, jitter: 0 },
  repairDelayMs: 50,
  relayClient: { batchSize: 10 },
};

/**
 * startNode options for an in-process test node named `name` under `root`, on the loopback
 * network of `registryDir`. (Callers pass these to their own startNode: tests import it from
 * source, benchmarks from the build.)
 */
export function testNodeOptions(root: string, name: string, registryDir: string) {
  return {
    dataDir: join(root, name),
    password: `${name} password`,
    displayName: name,
    scrypt: TEST_SCRYPT_PARAMS,
    logger: false as const,
    dashboardDir: null,
    acn: new LoopbackACN({ registryDir }),
    peerOptions: FAST_PEER,
  };
}

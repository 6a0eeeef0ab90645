import { Identity } from '@pursuance/crypto';
import { MemoryRelayStore, RelayServer } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { LoopbackACN } from '@pursuance/tapir';

/**
 * A relay in this process on the loopback network of `registryDir`, with a memory store and
 * cheap proof of work: for node tests that need a real relay but not a relay process. The
 * caller closes both the relay and its ACN.
 */
export async function startMemoryRelay(registryDir: string, boardIdentity: Identity = Identity.generate()): Promise<{ relay: RelayServer; acn: LoopbackACN }> {
  const acn = new LoopbackACN({ registryDir });
  const relay = await RelayServer.start({
    acn,
    boardIdentity,
    tokenIdentity: Identity.generate(),
    tokenKeys: testTokenKeys(),
    store: new MemoryRelayStore(),
    powDifficulty: 2,
  });
  return { relay, acn };
}

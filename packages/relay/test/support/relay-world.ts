import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '@pursuance/crypto';
import { LoopbackACN, type TapirError } from '@pursuance/tapir';
import {
  MemoryKeyBundlePins,
  MemoryRelayStore,
  RelayClient,
  RelayServer,
  trustKeyBundle,
  type RelayClientOptions,
  type RelayStore,
  type SignedKeyBundle,
} from '../../src/index.js';
import type { RelayServerOptions } from '../../src/relay-server.js';
import { testTokenKeys } from '../../src/testing/index.js';

export interface RelayWorld {
  readonly registryDir: string;
  readonly relay: RelayServer;
  readonly store: RelayStore;
  readonly bundle: SignedKeyBundle;
  readonly acn: LoopbackACN;
  /** Errors that closed relay connections (board and token service). */
  readonly errors: TapirError[];
  client(options?: Partial<RelayClientOptions>): RelayClient;
  cleanup(): Promise<void>;
}

/** An in-process relay on a private loopback network, with a memory store, torn down after. */
export async function relayWorld(options: Partial<RelayServerOptions> = {}): Promise<RelayWorld> {
  const registryDir = await mkdtemp(join(tmpdir(), 'relay-test-'));
  const serverAcn = new LoopbackACN({ registryDir });
  const acn = new LoopbackACN({ registryDir });
  const store = options.store ?? new MemoryRelayStore();
  const relay = await RelayServer.start({
    acn: serverAcn,
    boardIdentity: Identity.generate(),
    tokenIdentity: Identity.generate(),
    tokenKeys: testTokenKeys(),
    store,
    powDifficulty: 2,
    ...options,
  });
  const errors: TapirError[] = [];
  relay.boardService.on('connectionError', (_c, e) => errors.push(e));
  relay.tokenService.on('connectionError', (_c, e) => errors.push(e));
  const bundle = await trustKeyBundle(relay.exportedBundle, new MemoryKeyBundlePins());
  const clients: RelayClient[] = [];
  return {
    registryDir,
    relay,
    store,
    bundle,
    acn,
    errors,
    client(clientOptions = {}) {
      const client = new RelayClient({ acn, bundle, batchSize: 5, ...clientOptions });
      clients.push(client);
      return client;
    },
    async cleanup() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await relay.close();
      await store.close();
      await acn.close();
      await serverAcn.close();
      await rm(registryDir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the next `count` events of `name` on `emitter`. */
export function nextEvents<T>(
  emitter: { on(name: string, cb: (v: T) => void): unknown; off(name: string, cb: (v: T) => void): unknown },
  name: string,
  count: number,
): Promise<T[]> {
  return new Promise((resolve) => {
    const seen: T[] = [];
    const cb = (v: T): void => {
      seen.push(v);
      if (seen.length === count) {
        emitter.off(name, cb);
        resolve(seen);
      }
    };
    emitter.on(name, cb);
  });
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity, TEST_SCRYPT_PARAMS, type OnionName } from '@pursuance/crypto';
import { MemoryKeyBundlePins, MemoryRelayStore, RelayServer, trustKeyBundle, type RelayStore } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { testTokenKeys } from '@pursuance/relay/testing';
import { CwtchPeer, MemoryProfileStore, type CwtchPeerOptions } from '../../src/index.js';
import { MemoryProfileState } from '../../src/store.js';

export const PASSWORD = 'test password';

/** Fast policies for tests: retries in tens of milliseconds, so waiting on events stays quick. */
export const FAST: Partial<CwtchPeerOptions> = {
  retry: { baseMs: 40, maxMs: 300, jitter: 0 },
  relayRetry: { baseMs: 40, maxMs: 300, jitter: 0 },
  ackTimeoutMs: 5_000,
  requestTimeoutMs: 5_000,
  repairDelayMs: 30,
  relayClient: { batchSize: 10 },
};

export interface PeerHandle {
  readonly name: string;
  readonly state: MemoryProfileState;
  peer: CwtchPeer;
  /** Stop this peer (its data stays) and open it again from the same store. */
  restart(options?: { start?: boolean }): Promise<CwtchPeer>;
  stop(): Promise<void>;
}

export interface CwtchWorld {
  readonly registryDir: string;
  acn(): LoopbackACN;
  /** `options`: peer options over the fast test defaults (kept across restarts). */
  peer(name: string, options?: { start?: boolean; options?: Partial<CwtchPeerOptions> }): Promise<PeerHandle>;
  relay(options?: { store?: RelayStore }): Promise<{ server: RelayServer; bundle: string; onion: OnionName; stop(): Promise<void> }>;
  cleanup(): Promise<void>;
}

/** A private loopback network per test file: peers in this process, relays in this process. */
export async function cwtchWorld(): Promise<CwtchWorld> {
  const registryDir = await mkdtemp(join(tmpdir(), 'cwtch-test-'));
  const acns: LoopbackACN[] = [];
  const peers = new Set<CwtchPeer>();
  const relays: (() => Promise<void>)[] = [];
  const acn = (): LoopbackACN => {
    const a = new LoopbackACN({ registryDir });
    acns.push(a);
    return a;
  };
  return {
    registryDir,
    acn,
    async peer(name, options = {}) {
      const state = new MemoryProfileState();
      const open = async (create: boolean): Promise<CwtchPeer> => {
        const common = { store: new MemoryProfileStore(state), acn: acn(), password: PASSWORD, ...FAST, ...options.options };
        const p = create ? await CwtchPeer.create({ ...common, displayName: name, scryptParams: TEST_SCRYPT_PARAMS }) : await CwtchPeer.open(common);
        peers.add(p);
        if (options.start ?? true) await p.start();
        return p;
      };
      const handle: PeerHandle = {
        name,
        state,
        peer: await open(true),
        async restart(restartOptions = {}) {
          await handle.stop();
          const common = { store: new MemoryProfileStore(state), acn: acn(), password: PASSWORD, ...FAST, ...options.options };
          handle.peer = await CwtchPeer.open(common);
          peers.add(handle.peer);
          if (restartOptions.start ?? true) await handle.peer.start();
          return handle.peer;
        },
        async stop() {
          await handle.peer.stop();
          peers.delete(handle.peer);
        },
      };
      return handle;
    },
    async relay(options = {}) {
      const store = options.store ?? new MemoryRelayStore();
      const server = await RelayServer.start({
        acn: acn(),
        boardIdentity: Identity.generate(),
        tokenIdentity: Identity.generate(),
        tokenKeys: testTokenKeys(),
        store,
        powDifficulty: 2,
      });
      await trustKeyBundle(server.exportedBundle, new MemoryKeyBundlePins());
      const stop = async (): Promise<void> => {
        await server.close();
      };
      relays.push(stop);
      return { server, bundle: server.exportedBundle, onion: server.bundle.boardOnion, stop };
    },
    async cleanup() {
      await Promise.allSettled([...peers].map((p) => p.stop()));
      await Promise.allSettled(relays.map((stop) => stop()));
      await Promise.allSettled(acns.map((a) => a.close()));
      await rm(registryDir, { recursive: true, force: true });
    },
  };
}

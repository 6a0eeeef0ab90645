import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { watchChanges, type ChangeStream } from './change-stream.js';
import { spawnNodeProcess, type NodeProcess } from './node-process.js';
import { startRelayProcess, type Spawned } from './processes.js';
import { testNodeOptions } from './test-node.js';

/** A node's HTTP API: its port and token (an in-process node, or a process). */
export interface Api {
  readonly port: number;
  readonly token: string;
}

/** Call `path` on a node's API with its token. */
export const api = (n: Api, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

/** A node run as its own `pursuance node start` process, with its live stream of changes. */
export type StreamedProcess = NodeProcess & ChangeStream;

/**
 * A relay process on a private loopback network, and the nodes a system test starts on it:
 * in-process nodes (`node`) and node processes (`process`), every one stopped by `close`.
 */
export interface RelayNetwork {
  readonly dir: string;
  readonly registryDir: string;
  readonly relay: Spawned;
  /** The relay's exported key bundle. */
  readonly bundle: string;
  node(name: string): Promise<RunningNode>;
  process(name: string): Promise<StreamedProcess>;
  close(): Promise<void>;
}

export async function relayNetwork(prefix: string): Promise<RelayNetwork> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const registryDir = join(dir, 'registry');
  const nodes: RunningNode[] = [];
  const procs: StreamedProcess[] = [];
  let started: { relay: Spawned; bundle: string };
  try {
    started = await startRelayProcess(join(dir, 'relay'), registryDir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    registryDir,
    relay: started.relay,
    bundle: started.bundle,
    async node(name) {
      const n = await startNode(testNodeOptions(dir, name, registryDir));
      nodes.push(n);
      return n;
    },
    async process(name) {
      const p = await spawnNodeProcess(name, join(dir, name), registryDir);
      const stream = watchChanges(p.port, p.token);
      const streamed = { ...p, ...stream };
      procs.push(streamed);
      return streamed;
    },
    async close() {
      for (const n of nodes) await n.close().catch(() => undefined);
      for (const p of procs) {
        p.close();
        await p.proc.stop('SIGTERM');
      }
      await started.relay.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

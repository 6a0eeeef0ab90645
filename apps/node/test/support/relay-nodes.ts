import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelayServer } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { startNode, type RunningNode, type StartNodeOptions } from '../../src/index.js';
import { testNodeOptions } from '../../../../test/support/test-node.js';
import { startMemoryRelay } from './memory-relay.js';

/**
 * In-process nodes over loopback relays, for one test file: each node's data dir under one
 * temporary root (so a node can be stopped and started again on its own data), and everything
 * closed together at the end.
 */
export class RelayNodes {
  readonly relays: { relay: RelayServer; acn: LoopbackACN }[] = [];
  readonly #acns: LoopbackACN[] = [];
  readonly #running = new Set<RunningNode>();

  private constructor(
    readonly root: string,
    readonly registryDir: string,
    /** The test's own network access: posting into an inbox as a stranger (or a former holder) would. */
    readonly acn: LoopbackACN,
  ) {}

  public static async open(prefix: string, relays: number): Promise<RelayNodes> {
    const root = await mkdtemp(join(tmpdir(), prefix));
    const registryDir = join(root, 'loopback');
    const nodes = new RelayNodes(root, registryDir, new LoopbackACN({ registryDir }));
    for (let i = 0; i < relays; i++) nodes.relays.push(await startMemoryRelay(registryDir));
    return nodes;
  }

  /** A node's options: its data dir by name, so the same name starts the same node again. */
  public options(name: string): ReturnType<typeof testNodeOptions> {
    return testNodeOptions(this.root, name, this.registryDir);
  }

  public async start(name: string, extra: Partial<StartNodeOptions> = {}): Promise<RunningNode> {
    const options = this.options(name);
    this.#acns.push(options.acn);
    const n = await startNode({ ...options, ...extra });
    this.#running.add(n);
    return n;
  }

  public async stop(n: RunningNode): Promise<void> {
    this.#running.delete(n);
    await n.close();
  }

  public async close(): Promise<void> {
    for (const n of this.#running) await n.close().catch(() => undefined);
    for (const a of [this.acn, ...this.#acns]) await a.close().catch(() => undefined);
    for (const r of this.relays) {
      await r.relay.close();
      await r.acn.close();
    }
    await rm(this.root, { recursive: true, force: true });
  }
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, type RunningNode } from '@pursuance/node';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilChange } from '../support/until-change.js';

export interface RelayPair {
  readonly a: RunningNode;
  readonly b: RunningNode;
  readonly id: string;
  /** Call a node's API as its user; a non-2xx answer throws, naming the call. */
  call<T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface RelayPairOptions {
  /** The body of POST /api/pursuances (name plus a template or rules). */
  readonly pursuance: Record<string, unknown>;
  /** The roles the founder gives B. */
  readonly roles: readonly string[];
  /** A dashboard build for both nodes to serve (none by default). */
  readonly dashboardDir?: string | null;
}

/**
 * Two in-process nodes in one pursuance, synced through a relay daemon process over
 * LoopbackACN (the demo network's path): A founds it and attaches the relay, adds B with
 * `roles`, and B accepts the group invite and catches up to A's state.
 */
export async function startRelayPair(options: RelayPairOptions): Promise<RelayPair> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-relay-pair-'));
  const registryDir = join(dir, 'registry');
  const { relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir);
  const nodes: RunningNode[] = [];
  const close = async () => {
    for (const n of nodes) await n.close().catch(() => undefined);
    await relay.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const call = async <T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> => {
    const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  };
  try {
    for (const name of ['a', 'b']) nodes.push(await startNode({ ...testNodeOptions(dir, name, registryDir), dashboardDir: options.dashboardDir ?? null }));
    const [a, b] = nodes as [RunningNode, RunningNode];
    const { id } = await call<{ id: string }>(a, 'POST', '/api/pursuances', options.pursuance);
    await call(a, 'POST', `/api/pursuances/${id}/relay/attach`, { bundle });
    await call(a, 'POST', `/api/pursuances/${id}/members`, { onion: b.identity.onion, name: 'b', roles: [...options.roles] });
    const { invite } = await call<{ invite: string }>(a, 'GET', `/api/pursuances/${id}/invite`);
    await call(b, 'POST', '/api/invites/accept', { invite });
    await untilChange(
      b,
      () => b.registry.has(id) && b.registry.get(id).log.stateHash() === a.registry.get(id).log.stateHash(),
      'B to join and catch up',
      120_000,
    );
    return { a, b, id, call, close };
  } catch (err) {
    await close();
    throw err;
  }
}

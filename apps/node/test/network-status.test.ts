import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { LoopbackACN, type AcnStatus } from '@pursuance/tapir';
import { startNode, type RunningNode } from '../src/index.js';
import { http, nextSse } from './support/http.js';

/** A loopback network whose reported status the test drives, as a tor restart would. */
class ScriptedStatusACN extends LoopbackACN {
  #status: AcnStatus = {
    state: 'up',
    bootstrap: { progress: 100, summary: 'Done' },
    version: '0.4.9.11',
    circuitsOk: true,
    outages: 0,
    lastDownAt: null,
    lastUpAt: 1,
    lastError: null,
  };
  readonly #listeners = new Set<(s: AcnStatus) => void>();
  public override status(): AcnStatus {
    return this.#status;
  }
  public override onStatus(listener: (s: AcnStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  public set(change: Partial<AcnStatus>): void {
    this.#status = { ...this.#status, ...change };
    for (const l of this.#listeners) l(this.#status);
  }
  public get listenerCount(): number {
    return this.#listeners.size;
  }
}

let dir: string;
let node: RunningNode;
const acn = new ScriptedStatusACN();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-network-'));
  node = await startNode({ dataDir: dir, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false, acn });
});
afterAll(async () => {
  await node?.close();
  await acn.close();
  await rm(dir, { recursive: true, force: true });
});

describe('network status (GET /api/network, SSE `network`)', () => {
  it('reports the network kind and its status, to the token holder only', async () => {
    expect((await http(node.port, 'GET', '/api/network')).status).toBe(401);
    const view = (await http(node.port, 'GET', '/api/network', { token: node.token })).body;
    expect(view).toEqual({ kind: 'loopback', status: acn.status() });
  });

  it('pushes every change (a tor going down, then coming back) and serves the latest', async () => {
    const down = nextSse(node.port, node.token, 'network', (d) => d.state === 'down');
    await down.ready;
    acn.set({ state: 'down', outages: 1, lastDownAt: 2, lastError: 'ACN_CONTROL', circuitsOk: false });
    expect(await down.event).toMatchObject({ state: 'down', outages: 1, lastError: 'ACN_CONTROL' });
    expect(((await http(node.port, 'GET', '/api/network', { token: node.token })).body as { status: AcnStatus }).status.state).toBe('down');

    const up = nextSse(node.port, node.token, 'network', (d) => d.state === 'up');
    await up.ready;
    acn.set({ state: 'up', lastUpAt: 3, circuitsOk: true });
    expect(await up.event).toMatchObject({ state: 'up', outages: 1, lastUpAt: 3 });
  });

  it('lists the route in the API document', async () => {
    const doc = (await http(node.port, 'GET', '/api/openapi.json', { token: node.token })).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/api/network');
  });

  it('stops listening to the network when the node closes', async () => {
    expect(acn.listenerCount).toBe(1);
    const other = new ScriptedStatusACN();
    const d2 = await mkdtemp(join(tmpdir(), 'node-network-'));
    const n2 = await startNode({ dataDir: d2, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false, acn: other });
    expect(other.listenerCount).toBe(1);
    await n2.close();
    expect(other.listenerCount).toBe(0);
    await other.close();
    await rm(d2, { recursive: true, force: true });
  });
});

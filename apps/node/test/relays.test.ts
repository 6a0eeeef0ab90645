import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PeerStoppedError } from '@pursuance/cwtch';
import { Identity } from '@pursuance/crypto';
import { type RelayServer, exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import type { LoopbackACN } from '@pursuance/tapir';
import type { PursuanceSummary } from '../src/domain/read-models.js';
import { startNode, type RunningNode } from '../src/index.js';
import type { RelayModel } from '../src/sync/sync.service.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';
import { startMemoryRelay } from './support/memory-relay.js';

/**
 * Relays the node knows (issue 14, item 2): GET /api/relays lists every relay this node has
 * pinned, with its bundle to reuse and the pursuances on it; POST /api/pursuances takes a relay
 * to attach the new pursuance to at once; and a pursuance on no relay says so in its summary.
 * One node and one relay on a loopback network.
 */
let root: string;
let relayAcn: LoopbackACN;
let relay: RelayServer;
let node: RunningNode;
let bundle: string;
const board = Identity.generate();

const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
const relays = async () => (await call('GET', '/api/relays')).body as RelayModel[];
const list = async () => (await call('GET', '/api/pursuances')).body as PursuanceSummary[];
type Created = PursuanceSummary & { attachError: { code: string; message: string } | null };

/** Resolve once the peer reports `relay` synced (at once if it already is); generous limit for a loaded machine. */
function relaySynced(onion: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const on = ({ relay: r }: { relay: string }) => {
      if (r !== onion) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`relay ${onion} never synced`));
    }, 60_000);
    const done = () => {
      clearTimeout(timer);
      node.peer.off('relaySynced', on);
    };
    node.peer.on('relaySynced', on);
    if (node.peer.isRelaySynced(onion)) {
      done();
      resolve();
    }
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-relays-'));
  const registry = join(root, 'loopback');
  ({ relay, acn: relayAcn } = await startMemoryRelay(registry, board));
  bundle = relay.exportedBundle;
  node = await startNode(testNodeOptions(root, 'n', registry));
});

afterAll(async () => {
  await node?.close();
  await relay?.close();
  await relayAcn?.close();
  await rm(root, { recursive: true, force: true });
});

describe('relays the node knows', () => {
  let onRelay: string;

  it('knows none at first, and creates nothing for a bundle that is garbage or whose keys changed', async () => {
    expect(await relays()).toEqual([]);
    const garbage = await call('POST', '/api/pursuances', { name: 'Cell', template: 'activist-cell', relay: bundle.slice(0, 60) });
    expect(garbage.status).toBe(400);
    expect(garbage.body).toMatchObject({ code: 'INVALID_BUNDLE', field: 'relay' });
    expect(await list()).toEqual([]);
    expect(await relays()).toEqual([]);
    // The template is checked before the bundle is pinned: a refused request pins nothing.
    const noTemplate = await call('POST', '/api/pursuances', { name: 'Cell', template: 'nope', relay: bundle });
    expect(noTemplate.status).toBe(400);
    expect(await relays()).toEqual([]);
  });

  it('creates a pursuance on a relay in one request, and lists the relay with its bundle and the pursuance', async () => {
    const r = await call('POST', '/api/pursuances', { name: 'On the relay', template: 'activist-cell', relay: bundle });
    expect(r.status).toBe(201);
    const created = r.body as Created;
    expect(created).toMatchObject({ name: 'On the relay', attached: true, relay: bundle, attachError: null });
    onRelay = created.id;
    expect(node.sync.status(onRelay).groupId).not.toBeNull();
    await relaySynced(board.onion);
    const [known, ...rest] = await relays();
    expect(rest).toEqual([]);
    expect(known).toMatchObject({ boardOnion: board.onion, bundle, pursuances: [{ id: onRelay, name: 'On the relay' }], synced: true });
    expect(known!.lastSyncAt).toEqual(expect.any(Number));
    // The bundle it offers is one the node takes back: attaching another pursuance with it works.
    const again = (await call('POST', '/api/pursuances', { name: 'Second', template: 'activist-cell', relay: known!.bundle })).body as Created;
    expect(again).toMatchObject({ attached: true, attachError: null });
    expect((await relays())[0]!.pursuances.map((p) => p.name)).toEqual(['On the relay', 'Second']);
  });

  it('says "not attached" for a pursuance on no relay, in its summary and in the relay list', async () => {
    const r = await call('POST', '/api/pursuances', { name: 'Offline', template: 'activist-cell' });
    expect(r.status).toBe(201);
    const offline = r.body as Created;
    expect(offline).toMatchObject({ attached: false, relay: null, attachError: null });
    expect((await call('GET', `/api/pursuances/${offline.id}`)).body).toMatchObject({ attached: false, relay: null });
    expect((await list()).find((p) => p.id === offline.id)).toMatchObject({ attached: false, relay: null });
    expect((await list()).find((p) => p.id === onRelay)).toMatchObject({ attached: true, relay: bundle });
    expect((await relays()).flatMap((x) => x.pursuances.map((p) => p.id))).not.toContain(offline.id);
    // Attached afterwards (with the whole line the demo printed, pasted), it says so.
    // Only one printed label is taken off: a label alone, or a label twice, is no bundle.
    for (const pasted of ['relay bundle ', 'key-bundle  ', `relay bundle relay bundle ${bundle}`]) {
      const refused = await call('POST', `/api/pursuances/${offline.id}/relay/attach`, { bundle: pasted });
      expect([refused.status, (refused.body as { code: string }).code]).toEqual([400, 'INVALID_BUNDLE']);
    }
    expect((await call('POST', `/api/pursuances/${offline.id}/relay/attach`, { bundle: `  relay bundle ${bundle}\n` })).status).toBe(200);
    expect((await call('GET', `/api/pursuances/${offline.id}`)).body).toMatchObject({ attached: true, relay: bundle });
  });

  it('refuses a relay whose keys changed before creating anything', async () => {
    const before = await list();
    const changed = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const r = await call('POST', '/api/pursuances', { name: 'Cell', template: 'activist-cell', relay: changed });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'RELAY_KEYS_CHANGED' });
    expect(await list()).toEqual(before);
    expect((await relays()).map((x) => x.bundle)).toEqual([bundle]);
  });

  it('still creates the pursuance when attaching fails, and says why', async () => {
    const attach = vi.spyOn(node.sync, 'attach').mockRejectedValueOnce(new PeerStoppedError());
    try {
      const r = await call('POST', '/api/pursuances', { name: 'Unlucky', template: 'activist-cell', relay: bundle });
      expect(r.status).toBe(201);
      const created = r.body as Created;
      expect(created).toMatchObject({ name: 'Unlucky', attached: false, attachError: { code: 'PEER_STOPPED', message: expect.any(String) } });
      expect((await list()).map((p) => p.id)).toContain(created.id);
      expect(attach).toHaveBeenCalledWith(created.id, bundle);
    } finally {
      attach.mockRestore();
    }
  });
});

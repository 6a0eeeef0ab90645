import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import type { SnapshotsModel } from '../../apps/node/src/domain/snapshots.js';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilAsync, untilChange } from '../support/until-change.js';

/**
 * Joining from an attested snapshot, end to end (issue 16, item 3): a relay daemon process and
 * in-process nodes on one loopback network. The founder vouches for a snapshot; a newcomer
 * joins by link; its node asks the founder's node for the snapshot, checks it, starts from it,
 * then joins the group, whose relay replays the whole history; once that history is here the
 * newcomer's node folds it from the genesis and finds that it agrees. Where no snapshot is
 * vouched for enough, the newcomer is told why and replays the whole history instead.
 */
let dir: string;
let registryDir: string;
let relay: Spawned;
let bundle: string;
const nodes: RunningNode[] = [];
async function node(name: string): Promise<RunningNode> {
  const n = await startNode(testNodeOptions(dir, name, registryDir));
  nodes.push(n);
  return n;
}
const api = async <T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
};
const snapshotsOf = (n: RunningNode, id: string) => api<SnapshotsModel>(n, 'GET', `/api/pursuances/${id}/snapshots`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snapshot-join-'));
  registryDir = join(dir, 'registry');
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir));
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Make a link on `founder`, have `newcomer` ask with it, approve, and wait until the newcomer holds the founder's state. */
async function joinByLink(founder: RunningNode, newcomer: RunningNode, id: string): Promise<void> {
  const made = await api<{ link: string; invite: { id: string } }>(founder, 'POST', `/api/pursuances/${id}/join-invites`, {
    roles: ['member'],
    expiresInHours: 24,
  });
  await api(newcomer, 'POST', '/api/invites/accept', { invite: made.link });
  await untilAsync(
    [founder.joins, newcomer.joins],
    async () => (await api<{ state: string }[]>(founder, 'GET', `/api/pursuances/${id}/join-invites`)).some((i) => i.state === 'requested'),
    'the request to reach the founder',
    90_000,
  );
  await api(founder, 'POST', `/api/pursuances/${id}/join-invites/${made.invite.id}/approve`, {});
  const hash = () => founder.registry.get(id).log.stateHash();
  await untilChange(
    [newcomer, founder],
    () => newcomer.registry.has(id) && newcomer.registry.get(id).log.base === undefined && newcomer.registry.get(id).log.stateHash() === hash(),
    'the newcomer to hold the whole history and agree',
    120_000,
  );
}

describe('joining from an attested snapshot', () => {
  it('starts from the founder’s snapshot, then verifies the relay’s full history against it', { timeout: 240_000 }, async () => {
    const [founder, noor] = [await node('Fatima'), await node('Noor')];
    const { id } = await api<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Tenants union', template: 'activist-cell', relay: bundle });
    for (let i = 0; i < 20; i++) await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: `before ${i}` });
    const attested = await api<{ id: string }>(founder, 'POST', `/api/pursuances/${id}/snapshots`);
    expect(attested.id).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i < 3; i++) await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: `after ${i}` });
    const [offered] = (await snapshotsOf(founder, id)).snapshots;
    expect(offered).toMatchObject({ counted: 1, enough: true, check: { outcome: 'agrees' } });

    await joinByLink(founder, noor, id);
    const mine = await snapshotsOf(noor, id);
    expect(mine.refused).toEqual([]);
    expect(mine.startedFrom).toMatchObject({
      hash: offered!.hash,
      events: offered!.events,
      attesters: [founder.identity.onion],
      verified: { outcome: 'agrees', reason: null },
    });
    // After verification Noor is a member like any other: every task readable, old ones included.
    const tasks = await api<{ title: string | null }[]>(noor, 'GET', `/api/pursuances/${id}/tasks`);
    expect(tasks.map((t) => t.title).sort()).toEqual(
      [...Array.from({ length: 20 }, (_, i) => `before ${i}`), ...Array.from({ length: 3 }, (_, i) => `after ${i}`)].sort(),
    );

    // A restart rebuilds the verified pursuance from the whole history.
    const hash = noor.registry.get(id).log.stateHash();
    await noor.close();
    nodes.splice(nodes.indexOf(noor), 1);
    const again = await node('Noor');
    expect(again.registry.get(id).log.base).toBeUndefined();
    expect(again.registry.get(id).log.stateHash()).toBe(hash);
    expect((await snapshotsOf(again, id)).startedFrom?.verified.outcome).toBe('agrees');
  });

  it('where no snapshot is vouched for, the newcomer is told why and replays the whole history', { timeout: 240_000 }, async () => {
    const [founder, sami] = [await node('Farah'), await node('Sami')];
    const { id } = await api<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Nobody vouched', template: 'activist-cell', relay: bundle });
    await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'one' });
    expect((await snapshotsOf(founder, id)).snapshots).toEqual([]);

    await joinByLink(founder, sami, id);
    const mine = await snapshotsOf(sami, id);
    expect(mine.startedFrom).toBeNull();
    expect(mine.refused).toEqual([
      {
        from: founder.identity.onion,
        code: 'NO_SNAPSHOT',
        reason: expect.stringContaining('no snapshot here has enough attestations yet') as unknown,
        at: expect.any(Number) as unknown,
      },
    ]);
  });
});

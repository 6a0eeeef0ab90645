import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../src/index.js';
import type { SnapshotsModel } from '../src/domain/snapshots.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Members vouch for snapshots unasked (AutoVoucher), so a newcomer to an old pursuance need not
 * wait for someone to press "vouch". Nodes here vouch from 20 events (the default is 1,000).
 * Events move between the two nodes by export and import, so every step is a plain request.
 */
const EVERY = 20;
let root: string;
let a: RunningNode; // founder, vouches
let b: RunningNode; // organizer: the default rules let founders alone vouch
let solo: RunningNode; // vouching turned off
const nodes: RunningNode[] = [];

async function start(name: string, autoVouchEvery: number): Promise<RunningNode> {
  const n = await startNode({ ...testNodeOptions(root, name, join(root, 'loopback')), autoVouchEvery });
  nodes.push(n);
  return n;
}
const api = async (n: RunningNode, method: string, path: string, body?: unknown) => {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  expect(r.status, `${method} ${path}: ${r.text}`).toBeLessThan(300);
  return r.body;
};
const ship = async (pid: string, from: RunningNode, to: RunningNode) => {
  const { events } = (await api(from, 'GET', `/api/pursuances/${pid}/events`)) as { events: string[] };
  await api(to, 'POST', `/api/pursuances/${pid}/events`, { events });
};
const tasks = async (n: RunningNode, pid: string, count: number) => {
  for (let i = 0; i < count; i++) await api(n, 'POST', `/api/pursuances/${pid}/tasks`, { audience: ['member'], title: `task ${i}` });
  // A vouch runs after the change that makes it due, in the node's queue: wait for the queue.
  await n.registry.idle();
};
const ownAttestations = (n: RunningNode, pid: string) =>
  n.registry
    .get(pid)
    .log.eventsBy(n.identity.onion)
    .filter((e) => e.header.kind === 'snapshot.attest');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'auto-vouch-'));
  [a, b, solo] = [await start('a', EVERY), await start('b', EVERY), await start('solo', 0)];
});
afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('vouching for snapshots unasked', () => {
  it('a founder vouches once the history is long enough, once per frontier, and again as it grows; a non-founder never does', async () => {
    const pid = ((await api(a, 'POST', '/api/pursuances', { name: 'Vouched', template: 'activist-cell' })) as { id: string }).id;
    await api(a, 'POST', `/api/pursuances/${pid}/members`, { onion: b.identity.onion, name: 'b', roles: ['organizer', 'member'] });
    await ship(pid, a, b);
    await tasks(b, pid, 1); // every member has written: a stable point exists
    await ship(pid, b, a);
    await tasks(a, pid, 5);
    expect(ownAttestations(a, pid), 'below the threshold').toEqual([]);

    await tasks(a, pid, EVERY);
    // b has not written since the start: the only stable point is the start, too little to vouch for.
    expect(ownAttestations(a, pid), 'nothing worth vouching for').toEqual([]);

    await ship(pid, a, b);
    await tasks(b, pid, 1);
    await ship(pid, b, a);
    // A try waits for the history to grow by a quarter since the last one.
    await tasks(a, pid, EVERY / 2);
    const first = ownAttestations(a, pid);
    expect(first).toHaveLength(1);
    const covered = (e: { header: { body: unknown } }) => (e.header.body as { events: number }).events;
    expect(covered(first[0]!)).toBeGreaterThanOrEqual(EVERY);
    const listed = (await api(a, 'GET', `/api/pursuances/${pid}/snapshots`)) as SnapshotsModel;
    expect(listed.snapshots[0]).toMatchObject({ counted: 1, enough: true, check: { outcome: 'agrees' } });
    expect(listed.snapshots[0]!.attesters.map((x) => x.onion)).toEqual([a.identity.onion]);

    // The history grows by more than a quarter, but b has not written since: the newest stable
    // point is the one already vouched for, and nothing is signed twice.
    await tasks(a, pid, EVERY);
    expect(ownAttestations(a, pid)).toHaveLength(1);

    // b writes again: a vouches for a later point, at least a quarter larger.
    await ship(pid, a, b);
    await tasks(b, pid, 1);
    await ship(pid, b, a);
    await tasks(a, pid, EVERY);
    const both = ownAttestations(a, pid);
    expect(both).toHaveLength(2);
    expect(covered(both[1]!)).toBeGreaterThanOrEqual(Math.ceil(covered(both[0]!) * 1.25));

    await ship(pid, a, b);
    await tasks(b, pid, EVERY);
    expect(ownAttestations(b, pid), 'b is no founder: the rules let founders alone vouch').toEqual([]);
  });

  it('a node with vouching turned off never vouches; the same history on a node with it on is vouched for', async () => {
    const on = await start('solo-on', EVERY);
    for (const [n, expected] of [
      [solo, 0],
      [on, 1],
    ] as const) {
      const pid = ((await api(n, 'POST', '/api/pursuances', { name: 'Alone', template: 'activist-cell' })) as { id: string }).id;
      await tasks(n, pid, EVERY * 2);
      expect(ownAttestations(n, pid).length > 0, n === solo ? 'turned off' : 'turned on').toBe(expected === 1);
    }
  });
});

/**
 * Joining a pursuance, timed end to end over the demo network's path (a relay daemon process,
 * in-process nodes on LoopbackACN): by invite link — the newcomer asks, the founder's node
 * answers "pending", the founder approves, the newcomer is caught up — beside the older way in
 * the same run (the founder adds the member by address, the newcomer pastes the group invite
 * and is caught up), which is the baseline: the link adds one p2p round trip and a person.
 * Figures are printed, never asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, type RunningNode } from '@pursuance/node';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilAsync, untilChange } from '../support/until-change.js';
import { fmt, printTable } from './measure.js';

const ROUNDS = Number(process.env.JOIN_BENCH_ROUNDS ?? 5);

const dir = await mkdtemp(join(tmpdir(), 'bench-join-'));
const registryDir = join(dir, 'registry');
const { relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir);
const nodes: RunningNode[] = [];
const node = async (name: string) => {
  const n = await startNode(testNodeOptions(dir, name, registryDir));
  nodes.push(n);
  return n;
};
const call = async <T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
};
const ms = (start: number) => performance.now() - start;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const founder = await node('founder');
  const { id } = await call<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Bench', template: 'activist-cell', relay: bundle });
  const caughtUp = (n: RunningNode) =>
    untilChange([n, founder], () => n.registry.has(id) && n.registry.get(id).log.stateHash() === founder.registry.get(id).log.stateHash(), 'catch-up', 120_000);
  const asked: number[] = [];
  const approvedToIn: number[] = [];
  const linkTotal: number[] = [];
  const groupTotal: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // By link: ask → "pending" → approve → caught up.
    const newcomer = await node(`link-${round}`);
    const made = await call<{ link: string; invite: { id: string } }>(founder, 'POST', `/api/pursuances/${id}/join-invites`, { roles: ['member'] });
    const t0 = performance.now();
    await call(newcomer, 'POST', '/api/invites/accept', { invite: made.link });
    await untilAsync([newcomer.joins], async () => (await newcomer.joins.requests())[0]?.status === 'pending', 'pending', 60_000);
    asked.push(ms(t0));
    const t1 = performance.now();
    await call(founder, 'POST', `/api/pursuances/${id}/join-invites/${made.invite.id}/approve`, {});
    await caughtUp(newcomer);
    approvedToIn.push(ms(t1));
    linkTotal.push(ms(t0));

    // Baseline: added by address, then the group invite pasted.
    const added = await node(`group-${round}`);
    const t2 = performance.now();
    await call(founder, 'POST', `/api/pursuances/${id}/members`, { onion: added.identity.onion, roles: ['member'] });
    const { invite } = await call<{ invite: string }>(founder, 'GET', `/api/pursuances/${id}/invite`);
    await call(added, 'POST', '/api/invites/accept', { invite });
    await caughtUp(added);
    groupTotal.push(ms(t2));
  }
  const events = founder.registry.get(id).log.size;
  printTable(`Joining a pursuance over loopback + relay daemon (median of ${ROUNDS}; history grows to ${events} events)`, [
    ['link: ask → "pending" answer', `${fmt(median(asked))} ms`],
    ['link: approve → caught up', `${fmt(median(approvedToIn))} ms`],
    ['link: total (without the person)', `${fmt(median(linkTotal))} ms`],
    ['baseline: add by address + group invite → caught up', `${fmt(median(groupTotal))} ms`],
    ['link / baseline', `${fmt(median(linkTotal) / median(groupTotal), 2)}×`],
  ]);
} finally {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay.stop();
  await rm(dir, { recursive: true, force: true });
}

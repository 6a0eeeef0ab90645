/**
 * Joining by link from an attested snapshot vs by replaying the whole history, end to end over
 * the demo network's path (a relay daemon process, in-process nodes on LoopbackACN), in the
 * same run (figures printed, never asserted). The founder's pursuance grows to
 * BENCH_SNAPSHOT_JOIN_TASKS tasks through the API, the founder vouches for a snapshot and adds a
 * few tasks after it; then two newcomers join by link, one whose node asks for the snapshot and
 * one whose node does not (the baseline). For each: approval → usable (the newcomer's state is
 * the founder's), and approval → the whole history here, folded from the genesis and agreeing. The
 * snapshot's hand-over over direct messages is timed too (its size and parts), since that is
 * what grows with the history on the snapshot path.
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

const TASKS = Number(process.env.BENCH_SNAPSHOT_JOIN_TASKS ?? 2_000);

const dir = await mkdtemp(join(tmpdir(), 'bench-snapshot-join-'));
const registryDir = join(dir, 'registry');
const { relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir);
const nodes: RunningNode[] = [];
const node = async (name: string, snapshotJoins = true) => {
  const n = await startNode({ ...testNodeOptions(dir, name, registryDir), snapshotJoins });
  nodes.push(n);
  return n;
};
const call = async <T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
};
const ms = (start: number) => performance.now() - start;

try {
  const founder = await node('founder');
  const { id } = await call<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Bench', template: 'activist-cell', relay: bundle });
  const built = performance.now();
  for (let i = 0; i < TASKS; i++)
    await call(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: `task ${i}`, body: 'x'.repeat(200) });
  const buildMs = ms(built);
  const vouched = performance.now();
  await call(founder, 'POST', `/api/pursuances/${id}/snapshots`);
  const vouchMs = ms(vouched);
  for (let i = 0; i < 10; i++) await call(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: `after ${i}` });
  const events = founder.registry.get(id).log.size;

  const join = async (name: string, snapshotJoins: boolean) => {
    const newcomer = await node(name, snapshotJoins);
    const made = await call<{ link: string; invite: { id: string } }>(founder, 'POST', `/api/pursuances/${id}/join-invites`, { roles: ['member'] });
    await call(newcomer, 'POST', '/api/invites/accept', { invite: made.link });
    await untilAsync([newcomer.joins], async () => (await newcomer.joins.requests())[0]?.status === 'pending', 'pending', 120_000);
    const t0 = performance.now();
    await call(founder, 'POST', `/api/pursuances/${id}/join-invites/${made.invite.id}/approve`, {});
    // Usable: the newcomer's state is the founder's (from a snapshot that is before the history arrives).
    const hash = () => founder.registry.get(id).log.stateHash();
    await untilChange([newcomer, founder], () => newcomer.registry.has(id) && newcomer.registry.get(id).log.stateHash() === hash(), 'usable', 900_000);
    const usable = ms(t0);
    await untilChange(
      [newcomer, founder],
      () =>
        newcomer.registry.get(id).log.base === undefined &&
        newcomer.registry.get(id).log.size >= events &&
        newcomer.registry.get(id).log.stateHash() === hash(),
      'caught up',
      900_000,
    );
    return { usable, whole: ms(t0), startedFrom: (await call<{ startedFrom: unknown }>(newcomer, 'GET', `/api/pursuances/${id}/snapshots`)).startedFrom };
  };
  const viaSnapshot = await join('from-snapshot', true);
  if (viaSnapshot.startedFrom === null) throw new Error('the newcomer did not start from the snapshot');
  const viaReplay = await join('full-replay', false);
  const parts = (await founder.peer.directMessages(nodes[1]!.identity.onion)).filter((m) => m.direction === 'out' && m.overlay === 1004);
  const bytes = parts.reduce((n, m) => n + m.data.length, 0);

  printTable(`Joining by link over loopback + relay daemon: ${fmt(events)} events (${fmt(TASKS)} tasks)`, [
    ['building the history through the API', `${fmt(buildMs / 1000, 1)} s`],
    ['vouching for a snapshot (capture and sign)', `${fmt(vouchMs)} ms`],
    ['snapshot hand-over: parts (direct messages) / text sent', `${fmt(parts.length)} / ${fmt(bytes / 1024)} KiB`],
    ['from a snapshot: approve → usable', `${fmt(viaSnapshot.usable)} ms`],
    ['from a snapshot: approve → whole history verified', `${fmt(viaSnapshot.whole)} ms`],
    ['baseline, full replay: approve → usable', `${fmt(viaReplay.usable)} ms`],
    ['baseline, full replay: approve → caught up', `${fmt(viaReplay.whole)} ms`],
    ['usable: full replay / snapshot', `${fmt(viaReplay.usable / viaSnapshot.usable, 1)}×`],
  ]);
} finally {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay.stop();
  await rm(dir, { recursive: true, force: true });
}

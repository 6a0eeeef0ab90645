/**
 * Links between pursuances through the node (issue 18), figures printed, never asserted. Four
 * in-process nodes on a loopback network with two in-process relays, as in
 * apps/node/test/links.test.ts: A's founder sends tasks to B's members. Measured:
 *  - the same run's baseline: one drop-box post to the loopback relay (a throwaway identity, a
 *    relay session of its own with its proof of work), which every send and receipt costs;
 *  - a task from the API call on A's node to the task in B's member's state (send latency);
 *  - the receipt back: from the API call to A's node listing the send as accepted;
 *  - a burst of tasks sent back to back, until every one is in B's member's state (tasks/s).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postToDropBox } from '@pursuance/cwtch';
import type { EventId } from '@pursuance/pursuance';
import { LoopbackACN } from '@pursuance/tapir';
// The node as built (dist): tsx does not run TypeORM's decorators from source.
import { startNode, type RunningNode } from '@pursuance/node';
import type { LinkModel } from '../../apps/node/src/sync/link.service.js';
import { http } from '../../apps/node/test/support/http.js';
import { startMemoryRelay } from '../../apps/node/test/support/memory-relay.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilAsync, untilChange } from '../support/until-change.js';
import { fmt, printTable } from './measure.js';

const SENDS = Number(process.env.LINK_BENCH_SENDS ?? 15);
const BURST = Number(process.env.LINK_BENCH_BURST ?? 30);
const LIMIT_MS = 300_000;

const root = await mkdtemp(join(tmpdir(), 'bench-links-'));
const registryDir = join(root, 'loopback');
const relays = [await startMemoryRelay(registryDir), await startMemoryRelay(registryDir)];
const acn = new LoopbackACN({ registryDir });
const nodes: RunningNode[] = [];
const acns: LoopbackACN[] = [];

async function start(name: string): Promise<RunningNode> {
  const options = testNodeOptions(root, name, registryDir);
  acns.push(options.acn);
  const n = await startNode(options);
  nodes.push(n);
  return n;
}
async function ok<T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}
const at = (id: string, path = '') => `/api/pursuances/${id}${path}`;

async function pursuance(founder: RunningNode, member: RunningNode, name: string, bundle: string): Promise<string> {
  const id = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name, template: 'activist-cell', relay: bundle })).id;
  await ok(founder, 'POST', at(id, '/members'), { onion: member.identity.onion, name: `${name} member`, roles: ['member'] });
  const { invite } = await ok<{ invite: string }>(founder, 'GET', at(id, '/invite'));
  await ok(member, 'POST', '/api/invites/accept', { invite });
  await untilChange(
    [member, founder],
    () => member.registry.has(id) && member.registry.get(id).log.stateHash() === founder.registry.get(id).log.stateHash(),
    'join',
    LIMIT_MS,
  );
  return id;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const spread = (ms: readonly number[]) => `${fmt(median(ms), 1)} ms (${fmt(Math.min(...ms), 1)}–${fmt(Math.max(...ms), 1)}, n = ${ms.length})`;

try {
  const [fa, ma, fb, mb] = [await start('fa'), await start('ma'), await start('fb'), await start('mb')];
  const A = await pursuance(fa, ma, 'Port Watch', relays[0]!.relay.exportedBundle);
  const B = await pursuance(fb, mb, 'Harbour Desk', relays[1]!.relay.exportedBundle);
  const offerA = await ok<{ text: string }>(fa, 'POST', at(A, '/links/offers'), { to: B, anchor: 'organizer' });
  const offerB = await ok<{ text: string }>(fb, 'POST', at(B, '/links/offers'), { to: A, anchor: 'organizer' });
  await ok(fb, 'POST', at(B, '/links'), { offer: offerA.text, theyMay: [{ theirRole: 'organizer', on: 'member' }] });
  await ok(fa, 'POST', at(A, '/links'), { offer: offerB.text, weSend: [{ ours: 'organizer', theirs: 'member' }] });
  await untilChange(
    [fa],
    () =>
      fa.registry
        .get(A)
        .log.state()
        .links?.get(B as EventId)
        ?.keys.has('member') === true,
    'B’s key',
    LIMIT_MS,
  );

  // Baseline: bare drop-box posts of a task-sized payload into B's inbox (garbage there: counted, never carried).
  const inbox = fa.registry
    .get(A)
    .log.state()
    .links!.get(B as EventId)!.theirInbox;
  const posts: number[] = [];
  for (let i = 0; i < SENDS; i++) {
    const t0 = performance.now();
    await postToDropBox(inbox, new Uint8Array(1200).fill(i), { acn });
    posts.push(performance.now() - t0);
  }

  const fromA = () => [...mb.registry.get(B).log.state().tasks.values()].filter((t) => t.origin !== undefined).length;
  const sendMs: number[] = [];
  const receiptMs: number[] = [];
  for (let i = 0; i < SENDS; i++) {
    const before = fromA();
    const t0 = performance.now();
    const sent = await ok<{ id: string }>(fa, 'POST', at(A, `/links/${B}/tasks`), {
      ours: 'organizer',
      theirs: 'member',
      title: `Task ${i}`,
      body: 'x'.repeat(400),
    });
    await untilChange([mb], () => fromA() > before, 'the task at B', LIMIT_MS);
    sendMs.push(performance.now() - t0);
    await untilAsync(
      [fa.links],
      async () => (await ok<LinkModel[]>(fa, 'GET', at(A, '/links')))[0]!.sent.find((s) => s.id === sent.id)?.status === 'accepted',
      'the receipt',
      LIMIT_MS,
    );
    receiptMs.push(performance.now() - t0);
  }

  const before = fromA();
  const t0 = performance.now();
  for (let i = 0; i < BURST; i++) await ok(fa, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: `Burst ${i}` });
  const sentAll = performance.now() - t0;
  await untilChange([mb], () => fromA() >= before + BURST, 'the burst at B', LIMIT_MS);
  const burstSeconds = (performance.now() - t0) / 1000;

  printTable('links through the node (loopback, in-process relays; one machine, every node on it)', [
    ['baseline: one drop-box post (throwaway identity, session, proof of work)', spread(posts)],
    ['a task: API call on A → in the state of B’s member', spread(sendMs)],
    ['its receipt: API call on A → A lists it as accepted', spread(receiptMs)],
    [`a burst of ${BURST} tasks: sent (each API call returns once posted)`, `${fmt(sentAll / BURST, 1)} ms per task`],
    [`the burst: until every task is in the state of B’s member`, `${fmt(BURST / burstSeconds, 1)} tasks/s (${fmt(burstSeconds, 2)} s)`],
  ]);
} finally {
  for (const n of nodes) await n.close().catch(() => undefined);
  for (const a of [acn, ...acns]) await a.close().catch(() => undefined);
  for (const r of relays) {
    await r.relay.close();
    await r.acn.close();
  }
  await rm(root, { recursive: true, force: true });
}

/**
 * Moving a pursuance to a relay (figures printed, never asserted): a node holding a
 * BENCH_MOVE_EVENTS-event pursuance (default 10,000) posts its whole history into a group on a
 * relay daemon process, as `relay.move` and `relay/attach` do, until the relay has acknowledged
 * every message as durable. Each group message costs one relay token (bought on the way), so
 * messages posted are tokens spent.
 *
 *  - baseline, in the same run: one event per group message (what reconcile did before
 *    event batches), on its own relay so it buys its own tokens;
 *  - batched: what the node does now (SyncService.reconcile with `all`, sync/event-batch.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE } from '@pursuance/cwtch';
import { startNode, type RunningNode } from '@pursuance/node';
import { packEvents } from '../../apps/node/src/sync/event-batch.js';
import { generateBacklog } from '../support/backlog.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { fmt, printTable, timeAsync } from './measure.js';

const EVENTS = Number(process.env.BENCH_MOVE_EVENTS ?? 10_000);

/** Resolves once the node's peer has had `count` posts to `relay` acknowledged as durable. */
function acknowledged(node: RunningNode, relay: string, count: number): Promise<void> {
  let acked = 0;
  return new Promise((resolve) => {
    const on = ({ relay: r }: { relay: string }): void => {
      if (r !== relay || ++acked < count) return;
      node.peer.off('groupMessagePosted', on);
      resolve();
    };
    node.peer.on('groupMessagePosted', on);
  });
}

const root = await mkdtemp(join(tmpdir(), 'move-bench-'));
const registryDir = join(root, 'registry');
const relays: Spawned[] = [];
let node: RunningNode | undefined;
try {
  const backlog = generateBacklog(EVENTS);
  const bytes = backlog.bytes.reduce((n, b) => n + b.length, 0);
  const [before, after] = [await startRelayProcess(join(root, 'relay-1'), registryDir), await startRelayProcess(join(root, 'relay-2'), registryDir)];
  relays.push(before.relay, after.relay);
  node = await startNode(testNodeOptions(root, 'mover', registryDir));
  const n = node;
  await n.registry.ingest(backlog.id, backlog.bytes, 'peer');
  const events = [...n.registry.get(backlog.id).log.events()];

  // Baseline: one message per event, posted in log order into a group of its own.
  const relay1 = await n.peer.addRelay(before.bundle);
  const group1 = await n.peer.createGroup({ name: 'baseline move', relay: relay1, members: null });
  const one = await timeAsync(async () => {
    const done = acknowledged(n, relay1, events.length);
    for (const e of events) await n.peer.postToGroup(group1, e.bytes);
    await done;
  });

  // Batched: the node's own path (attach posts the whole log, as a move does).
  const expected = packEvents(
    events.map((e) => e.bytes),
    MAX_GROUP_PAYLOAD_PER_MESSAGE,
  ).length;
  const relay2 = await n.peer.addRelay(after.bundle);
  const batched = await timeAsync(async () => {
    const done = acknowledged(n, relay2, expected);
    await n.sync.attach(backlog.id, after.bundle);
    await done;
    return n.sync.groupOf(backlog.id)!;
  });
  const held = n.peer.groupHistory(batched.value).length;

  printTable(`Moving a ${fmt(events.length)}-event pursuance (${fmt(bytes / 1e6, 1)} MB of events) to a relay daemon, until every message is durable`, [
    ['baseline: one event per message — messages (tokens)', fmt(events.length)],
    ['baseline: one event per message — seconds', fmt(one.seconds, 1)],
    ['batched — messages (tokens)', `${fmt(held)} (${fmt((100 * held) / events.length, 1)} % of the baseline)`],
    ['batched — seconds', `${fmt(batched.seconds, 1)} (${fmt(one.seconds / batched.seconds, 1)}x faster)`],
    ['group message payload', `${fmt(MAX_GROUP_PAYLOAD_PER_MESSAGE)} B; mean event ${fmt(bytes / events.length)} B`],
  ]);
} finally {
  await node?.close().catch(() => undefined);
  for (const r of relays) await r.stop().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}

/**
 * Node benchmarks (figures printed, never asserted):
 *  - end-to-end latency from a command on node A (a task comment over A's HTTP API) to the
 *    event being in node B's projection (what B's API serves), over LoopbackACN through a
 *    relay daemon process: p50 / p99 over BENCH_LATENCY_EVENTS (default 1,000) events;
 *  - cold rebuild of projections (POST /api/admin/rebuild) from a BENCH_NODE_EVENTS-event
 *    store (default 100,000), beside the pure fold rate of the same bytes in this process,
 *    and the node process's peak RSS (VmHWM).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PursuanceLog } from '@pursuance/pursuance';
import { http } from '../../apps/node/test/support/http.js';
import { generateBacklog } from '../support/backlog.js';
import { spawnCli } from '../support/processes.js';
import { fmt, printTable, timeAsync } from './measure.js';
import { vm, writeNodeStore } from './node-store.js';
import { startRelayPair } from './relay-pair.js';
import { untilChange } from '../support/until-change.js';

const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 1_000);
const STORE_EVENTS = Number(process.env.BENCH_NODE_EVENTS ?? 100_000);
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function latency(): Promise<[string, string][]> {
  const pair = await startRelayPair({ pursuance: { name: 'Latency', template: 'activist-cell' }, roles: ['member'] });
  const { a, b, id } = pair;
  try {
    const task = await pair.call<{ id: string }>(a, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'latency' });
    await untilChange([b, a], () => b.registry.get(id).log.stateHash() === a.registry.get(id).log.stateHash(), 'B to hold the task', 60_000);

    // When each event lands in B's projection (onChange fires after B's store append and fold).
    const arrived = new Map<string, number>();
    let waiting: { id: string; resolve: () => void } | undefined;
    b.registry.onChange((change) => {
      const at = performance.now();
      for (const e of change.events) arrived.set(e.id, at);
      if (waiting && arrived.has(waiting.id)) waiting.resolve();
    });
    const samples: number[] = [];
    const { seconds } = await timeAsync(async () => {
      for (let i = 0; i < LATENCY_EVENTS; i++) {
        const t0 = performance.now();
        const ref = await pair.call<{ id: string }>(a, 'POST', `/api/pursuances/${id}/tasks/${task.id}/changes`, { op: 'comment', body: `c${i}` });
        if (!arrived.has(ref.id)) await new Promise<void>((resolve) => (waiting = { id: ref.id, resolve }));
        waiting = undefined;
        samples.push(arrived.get(ref.id)! - t0);
      }
    });
    const hashesEqual = b.registry.get(id).log.stateHash() === a.registry.get(id).log.stateHash();
    samples.sort((x, y) => x - y);
    return [
      ['events (task comments, one at a time)', fmt(samples.length)],
      ['p50', `${fmt(percentile(samples, 50), 1)} ms`],
      ['p99', `${fmt(percentile(samples, 99), 1)} ms`],
      ['min / max', `${fmt(samples[0]!, 1)} / ${fmt(samples.at(-1)!, 1)} ms`],
      ['throughput (sequential)', `${fmt(samples.length / seconds, 1)} events/s`],
      ['state hashes equal afterwards', String(hashesEqual)],
    ];
  } finally {
    await pair.close();
  }
}

function timeSync<T>(fn: () => T): { value: T; seconds: number } {
  const start = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - start) / 1000 };
}

async function rebuild(): Promise<[string, string][]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-node-rebuild-'));
  try {
    const gen = timeSync(() => generateBacklog(STORE_EVENTS, { members: 50, rotations: 20, seed: 42 }));
    const backlog = gen.value;
    const totalBytes = backlog.bytes.reduce((n, x) => n + x.length, 0);

    // Pure fold rate (pursuance core, this process): parse + verify + fold the same bytes.
    global.gc?.();
    const fold = timeSync(() => {
      const log = new PursuanceLog(backlog.bytes[0]!);
      log.addAll(backlog.bytes.slice(1));
      return log.stateHash();
    });

    const write = await timeAsync(() => writeNodeStore(join(dir, 'node'), 'bench node password', backlog.bytes));

    // The node as its own process: start-up replays the store, then a timed rebuild.
    const started = performance.now();
    const proc = spawnCli(['node', 'start', '--data-dir', join(dir, 'node'), '--port', '0'], { PURSUANCE_PASSWORD: 'bench node password' });
    try {
      const port = Number((await proc.waitForLine(/dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/))[1]);
      const token = (await proc.waitForLine(/token ([A-Za-z0-9_-]{43})\n/))[1]!;
      const startup = (performance.now() - started) / 1000;
      const afterStart = await vm(proc.child.pid!);
      const rebuilt = await timeAsync(() => http(port, 'POST', '/api/admin/rebuild', { token }));
      if (rebuilt.value.status !== 200) throw new Error(`rebuild: ${rebuilt.value.status} ${rebuilt.value.text}`);
      const info = (await http(port, 'GET', `/api/pursuances/${backlog.id}`, { token })).body as { stateHash: string; events: number };
      const mem = await vm(proc.child.pid!);
      const foldRate = backlog.bytes.length / fold.seconds;
      const rebuildRate = backlog.bytes.length / rebuilt.seconds;
      return [
        [`generated log (${fmt(gen.seconds, 1)} s to generate)`, `${fmt(backlog.bytes.length)} events, ${fmt(totalBytes / 1e6, 1)} MB`],
        ['store written directly (EventStore.append, 5,000 per tx)', `${fmt(write.seconds, 2)} s`],
        ['pure fold, same bytes (PursuanceLog.addAll + stateHash)', `${fmt(fold.seconds, 2)} s = ${fmt(foldRate)} events/s`],
        ['node process start-up (scrypt unlock + replay + listen)', `${fmt(startup, 2)} s`],
        [
          'POST /api/admin/rebuild (store read + fold)',
          `${fmt(rebuilt.seconds, 2)} s = ${fmt(rebuildRate)} events/s (${fmt((rebuildRate / foldRate) * 100, 1)} % of pure fold)`,
        ],
        ['state hash equals the in-process fold', String(info.stateHash === fold.value && info.events === backlog.bytes.length)],
        ['node RSS after start-up', `${fmt(afterStart.rss / 1e6)} MB`],
        ['node RSS after rebuild', `${fmt(mem.rss / 1e6)} MB`],
        ['node peak RSS (VmHWM, start-up + rebuild)', `${fmt(mem.hwm / 1e6)} MB`],
      ];
    } finally {
      await proc.stop('SIGTERM');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`node benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
printTable(`command on A → visible in B (LoopbackACN, relay daemon process), ${fmt(LATENCY_EVENTS)} events`, await latency());
printTable(`cold rebuild of projections from a ${fmt(STORE_EVENTS)}-event store`, await rebuild());

/**
 * The product over a private Tor network (test/tor/tornet.sh) beside the same flow on loopback,
 * both measured in this run (figures printed, never asserted). `npm run bench:tor`; needs the
 * Debian `tor` package.
 *
 * For each network — loopback (LoopbackACN through a registry directory) and Tor (every process
 * with a managed tor of its own, joined to the private network through --torrc-file) — as
 * separate processes, a user's flow through the nodes' HTTP APIs:
 *  - start: a relay daemon and two nodes, spawn → announced (and, on Tor, → tor bootstrapped);
 *  - join: accept the invite → the member holds the founder's state;
 *  - task latency: 50 tasks one at a time, founder's API → member's API (p50 / p99);
 *  - 30-task burst: 30 tasks POSTed at once → all readable at the member;
 *  - a MOVE_EVENTS-event pursuance (default 10,000, created locally before any relay):
 *    attach + the member's join (every event posted to relay 1 and replayed by the member), then
 *    a move to relay 2 (every event re-posted there) until a task posted after the move is
 *    readable at the member, who followed the move.
 * And the post pipelining at the layer where it lives: a fresh Cwtch peer posting 30 and 200
 * group messages through the relay daemon with one post per round trip (the old behaviour) and
 * with the window, over loopback and over Tor.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LoopbackACN, type ACN } from '@pursuance/tapir';
import { http } from '../../apps/node/test/support/http.js';
import { TorACN } from '../../packages/tapir/src/acn/tor-acn.js';
import { watchChanges, type ChangeStream } from '../support/change-stream.js';
import { percentile, startNodeProgram, startRelayProgram, type AnnouncedNode, type AnnouncedRelay } from '../support/tor-product.js';
import { startTorNetwork, torAcnOptions, torNetworkClientTorrcLines, type TorNetwork } from '../tor/tornet.js';
import { burstOnce } from './group-burst.js';
import { fmt, printTable } from './measure.js';

const MOVE_EVENTS = Number(process.env.TOR_BENCH_MOVE_EVENTS ?? 10_000);
const LATENCY_TASKS = 50;
const BURST_TASKS = 30;
const POST_WINDOW = 16;
const START_MS = 300_000;
/** One condition (generous: the big move over Tor re-posts every event through a Tor circuit). */
const WAIT_MS = 30 * 60_000;
const RECHECK_MS = 2_000;

type Mode = 'loopback' | 'tor';

type NodeProc = AnnouncedNode & { readonly name: string; readonly changes: ChangeStream };
type RelayProc = AnnouncedRelay & { readonly name: string };
type Proc = NodeProc | RelayProc;

/** How the processes of one mode reach each other. */
interface Network {
  readonly mode: Mode;
  readonly dir: string;
  /** The flags that put a program on this network. */
  readonly flags: readonly string[];
  /** An ACN for a peer in this process (the group bursts). */
  readonly acn: ACN;
}

type Figures = Map<string, string>;

const ms = (v: number): string => `${fmt(v)} ms`;
const s = (v: number): string => `${fmt(v / 1000, 2)} s`;

async function startRelay(net: Network, name: string): Promise<RelayProc> {
  const args = ['--data-dir', join(net.dir, name), '--pow-difficulty', '1', '--no-metrics', ...net.flags];
  return { name, ...(await startRelayProgram(name, args, {}, { tor: net.mode === 'tor', startMs: START_MS })) };
}

async function startNode(net: Network, name: string): Promise<NodeProc> {
  const args = ['--data-dir', join(net.dir, name), '--port', '0', '--name', name, ...net.flags];
  const started = await startNodeProgram(name, args, {}, { tor: net.mode === 'tor', startMs: START_MS });
  return { name, ...started, changes: watchChanges(started.port, started.token) };
}

async function api<T>(n: NodeProc, method: string, path: string, body?: unknown): Promise<T> {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${n.name} ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
}

/** Wait until `check` holds, re-checking on each `changed` event `n` reports. */
async function until(n: NodeProc, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const seen = n.changes.count();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${n.name}: ${what} did not happen within ${WAIT_MS} ms\n${n.program.tail(20)}`);
    await Promise.race([n.changes.after(seen), delay(RECHECK_MS)]);
  }
}

const stateHash = async (n: NodeProc, id: string): Promise<string | undefined> =>
  (await api<{ stateHash?: string }>(n, 'GET', `/api/pursuances/${id}`)).stateHash;
const readable = async (n: NodeProc, id: string, task: string): Promise<boolean> => {
  const r = await http(n.port, 'GET', `/api/pursuances/${id}/tasks/${task}`, { token: n.token });
  return r.status === 200 && (r.body as { readable?: boolean }).readable === true;
};
const createTask = async (n: NodeProc, id: string, title: string): Promise<string> =>
  (await api<{ id: string }>(n, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title })).id;

/** Accept `founder`'s invite to `id` on `member`; resolves when the member holds the founder's state. */
async function joinAndCatchUp(founder: NodeProc, member: NodeProc, id: string): Promise<void> {
  const { invite } = await api<{ invite: string }>(founder, 'GET', `/api/pursuances/${id}/invite`);
  await api(member, 'POST', '/api/invites/accept', { invite });
  const target = await stateHash(founder, id);
  await until(member, "to reach the founder's state", async () => (await stateHash(member, id).catch(() => undefined)) === target);
}

/** The whole flow on one network; every figure under its label. */
async function productFlow(net: Network): Promise<Figures> {
  const figures: Figures = new Map();
  const procs: Proc[] = [];
  try {
    const t0 = Date.now();
    const [relay1, founder, member] = await Promise.all([startRelay(net, 'relay1'), startNode(net, 'founder'), startNode(net, 'member')]);
    procs.push(relay1, founder, member);
    figures.set('start: relay + 2 nodes, spawned together → all announced', ms(Date.now() - t0));
    if (net.mode === 'tor') {
      const boots = [relay1, founder, member].map((p) => p.bootstrapMs!);
      figures.set('  of which: managed tor bootstrapped (spawn → 100 %), min–max', `${ms(Math.min(...boots))} – ${ms(Math.max(...boots))}`);
    }

    // A small pursuance: join, latency, burst.
    const { id } = await api<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Bench', template: 'activist-cell' });
    await api(founder, 'POST', `/api/pursuances/${id}/relay/attach`, { bundle: relay1.bundle });
    await api(founder, 'POST', `/api/pursuances/${id}/members`, { onion: member.onion, name: 'member', roles: ['member'] });
    const tJoin = Date.now();
    await joinAndCatchUp(founder, member, id);
    figures.set("join: accept the invite → the member holds the founder's state", ms(Date.now() - tJoin));

    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_TASKS; i++) {
      const t = performance.now();
      const task = await createTask(founder, id, `Latency ${i}`);
      await until(member, `task ${i}`, () => readable(member, id, task));
      latencies.push(performance.now() - t);
    }
    figures.set(
      `task latency, founder API → member API, ${LATENCY_TASKS} tasks one at a time: p50 / p99`,
      `${ms(percentile(latencies, 0.5))} / ${ms(percentile(latencies, 0.99))}`,
    );

    const tBurst = Date.now();
    const burst = await Promise.all(Array.from({ length: BURST_TASKS }, (_, i) => createTask(founder, id, `Burst ${i}`)));
    await until(member, 'the whole burst', async () => (await Promise.all(burst.map((t) => readable(member, id, t)))).every(Boolean));
    figures.set(`${BURST_TASKS}-task burst: POSTed at once → all readable at the member`, ms(Date.now() - tBurst));

    // A big pursuance, built locally before it has a relay (its creation is not measured).
    const big = (await api<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Big', template: 'activist-cell' })).id;
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < MOVE_EVENTS) await createTask(founder, big, `Backlog ${next++}`);
      }),
    );
    await api(founder, 'POST', `/api/pursuances/${big}/members`, { onion: member.onion, name: 'member', roles: ['member'] });
    const count = (await api<{ events: string[] }>(founder, 'GET', `/api/pursuances/${big}/events`)).events.length;
    const tAttach = Date.now();
    await api(founder, 'POST', `/api/pursuances/${big}/relay/attach`, { bundle: relay1.bundle });
    await joinAndCatchUp(founder, member, big);
    figures.set(`${fmt(count)}-event pursuance: attach to relay 1 → the member joined and holds it all`, s(Date.now() - tAttach));

    const relay2 = await startRelay(net, 'relay2');
    procs.push(relay2);
    const tMove = Date.now();
    await api(founder, 'POST', `/api/pursuances/${big}/relay/move`, { bundle: relay2.bundle });
    const after = await createTask(founder, big, 'After the move');
    await until(member, 'the task after the move', () => readable(member, big, after));
    const moved = await api<{ relay: string }>(member, 'GET', `/api/pursuances/${big}/sync`);
    const relay2Board = (await relay2.program.waitForLine(/^board ([a-z2-7]{56})$/, 'stdout', 1_000)).match[1];
    if (moved.relay !== relay2Board) throw new Error(`the member is on ${moved.relay}, not relay 2 (${relay2Board})`);
    figures.set(`${fmt(count)}-event move to relay 2: POST /relay/move → the next task readable at the member (who followed)`, s(Date.now() - tMove));
    return figures;
  } finally {
    for (const p of procs.reverse()) {
      if ('changes' in p) p.changes.close();
      await p.program.stop('SIGTERM', 10_000);
    }
  }
}

/** Group post bursts from a peer in this process, window 1 (the old behaviour) then the window. */
async function groupBursts(net: Network): Promise<Figures> {
  const figures: Figures = new Map();
  const relay = await startRelay(net, 'burst-relay');
  try {
    for (const count of [30, 200]) {
      const old = await burstOnce(net.acn, relay.bundle, count, 1);
      const piped = await burstOnce(net.acn, relay.bundle, count, POST_WINDOW);
      figures.set(`${count} group posts, window 1 (one post per round trip)`, `${fmt(old, 2)} s`);
      figures.set(`${count} group posts, window ${POST_WINDOW}`, `${fmt(piped, 2)} s (×${fmt(old / piped, 1)})`);
    }
  } finally {
    await relay.program.stop('SIGTERM', 10_000);
  }
  return figures;
}

/** Rows "label | loopback | Tor" from the two modes' figures. */
function sideBySide(loopback: Figures, tor: Figures): [string, string][] {
  // Tor has every loopback label and a few of its own; keep its order.
  const labels = [...new Set([...tor.keys(), ...loopback.keys()])];
  const width = Math.max(...[...loopback.values()].map((v) => v.length), 'loopback'.length);
  return [['', `${'loopback'.padEnd(width)}  Tor`] as [string, string]].concat(
    labels.map((l) => [l, `${(loopback.get(l) ?? '—').padEnd(width)}  ${tor.get(l) ?? '—'}`]),
  );
}

async function main(): Promise<void> {
  process.stdout.write(`\nTor benchmarks — node ${process.version}, ${new Date().toISOString()}, ${fmt(MOVE_EVENTS)} backlog tasks\n`);
  const root = await mkdtemp(join(tmpdir(), 'tor-bench-'));
  let tornet: TorNetwork | undefined;
  const acns: ACN[] = [];
  try {
    const registry = join(root, 'registry');
    await mkdir(registry);
    const loopbackAcn = new LoopbackACN({ registryDir: registry });
    acns.push(loopbackAcn);
    const loopback: Network = { mode: 'loopback', dir: join(root, 'loopback'), flags: ['--loopback-registry', registry], acn: loopbackAcn };

    tornet = await startTorNetwork();
    process.stdout.write(`private Tor network ready in ${tornet.bootstrapSeconds} s (5 authorities + 2 clients)\n`);
    const torrc = join(root, 'tornet.torrc');
    await writeFile(torrc, `${(await torNetworkClientTorrcLines(tornet)).join('\n')}\n`);
    const torAcn = new TorACN(torAcnOptions(tornet, 0));
    acns.push(torAcn);
    const tor: Network = { mode: 'tor', dir: join(root, 'tor'), flags: ['--tor', '--torrc-file', torrc], acn: torAcn };

    const flows = { loopback: await productFlow(loopback), tor: await productFlow(tor) };
    printTable('the product as processes through the nodes’ HTTP APIs (2 cores shared by every process and tor)', sideBySide(flows.loopback, flows.tor));
    const bursts = { loopback: await groupBursts(loopback), tor: await groupBursts(tor) };
    printTable('group post bursts from a fresh peer through a relay daemon (tokens bought on the way)', sideBySide(bursts.loopback, bursts.tor));
  } finally {
    for (const acn of acns) await acn.close();
    await tornet?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();

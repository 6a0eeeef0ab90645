/**
 * The whole product over a private Tor network (test/tor/tornet.sh), run as a user runs it: a
 * relay daemon process and three `pursuance node start` processes, each with --tor and no
 * control address, so each starts and owns a tor of its own (joining the private network through
 * --torrc-file, which holds what tornet's own clients are configured with). Through the nodes'
 * HTTP APIs only, the flow of node-processes.test.ts: create from the activist-cell template,
 * attach the relay, add and invite two members who join, tasks per audience (and the API→API
 * latency of a series of tasks), a removal that rotates the member key, and a move to a second
 * relay daemon (its own tor too) while a member is offline. Then: no process touched the loopback
 * registry, every established TCP connection of every node and relay process ends at that
 * process's own tor (or is this test talking to a node's HTTP API), and SIGTERM ends every
 * process, and its tor, within 5 s.
 *
 * Needs the Debian `tor` package; without it every test FAILS (TorNotInstalledError), never skips.
 * Timings are printed with console.info (`[tor-product] …`), never asserted.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, type HttpResult } from '../../apps/node/test/support/http.js';
import { watchChanges, type ChangeStream } from '../support/change-stream.js';
import {
  commandLine,
  establishedConnections,
  isRunning,
  listeningPorts,
  managedTorOf,
  percentile,
  startNodeProgram,
  startRelayProgram,
  type Connection,
  type Program,
} from '../support/tor-product.js';
import { startTorNetwork, torNetworkClientTorrcLines, type TorNetwork } from '../tor/tornet.js';

/** Tasks in the latency series (the closing note reports p50/p99 over 50). */
const TASKS = 50;
/** A process to start its tor, bootstrap, publish its onions and announce itself; 10+ tors share 2 cores. */
const START_MS = 300_000;
/** One condition over Tor (a join, a task reaching a node, following a move). */
const WAIT_MS = 180_000;
/**
 * After the relay's tor restarts, a dialling tor often keeps failing to reach the re-published
 * onion for ~3 min under load ("waiting for circuit"; 183 s in CI, 4–8 s on a quiet machine):
 * its cached onion-service state must expire first. Delivery does resume; the limit says how
 * long we accept, and the closing note reports this as a known weakness.
 */
const RELAY_TOR_RECOVERY_MS = 360_000;
/** Re-check a condition at least this often even without a `changed` event. */
const RECHECK_MS = 5_000;
/** What the issue demands of SIGTERM, for every process. */
const STOP_LIMIT_MS = 5_000;

/** A node or relay process with the tor it started. */
interface Proc {
  readonly name: string;
  readonly program: Program;
  readonly dataDir: string;
  /** Replaced when the test restarts that tor under the process (the process relaunches it on the same ports). */
  tor: { readonly pid: number; readonly controlPort: number };
  /** From spawning the process until its tor reported 100 %, and until it announced itself. */
  readonly bootstrapMs: number;
  readonly readyMs: number;
  /** Nodes only: the HTTP API port (connections from this test to it are allowed). */
  readonly httpPort: number | undefined;
}

interface NodeProc extends Proc {
  readonly port: number;
  readonly token: string;
  readonly onion: string;
  readonly changes: ChangeStream;
}

interface RelayProc extends Proc {
  readonly bundle: string;
  readonly board: string;
}

let network: TorNetwork | undefined;
let startError: unknown;
let dir: string;
let registry: string;
let torrcFile: string;
const procs: Proc[] = [];
const timings: string[] = [];

function report(line: string): void {
  timings.push(line);
  console.info(`[tor-product] ${line}`);
}

function net(): TorNetwork {
  if (network === undefined) throw startError instanceof Error ? startError : new Error('the Tor network did not start');
  return network;
}

/** The end of every process's output, and of each managed tor's log, for failure messages. */
async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const p of procs) {
    parts.push(p.program.tail(25));
    const log = await readFile(join(p.dataDir, 'tor', 'notice.log'), 'utf8').catch(() => '');
    parts.push(
      log
        .split('\n')
        .slice(-8)
        .map((l) => `  ${p.name} tor: ${l}`)
        .join('\n'),
    );
  }
  return parts.join('\n');
}

async function startRelay(name: string): Promise<RelayProc> {
  const dataDir = join(dir, name);
  const args = ['--data-dir', dataDir, '--pow-difficulty', '1', '--no-metrics', '--tor', '--torrc-file', torrcFile];
  const started = await startRelayProgram(name, args, { PURSUANCE_LOOPBACK_REGISTRY: registry }, { tor: true, startMs: START_MS });
  try {
    const relay: RelayProc = {
      ...started,
      name,
      dataDir,
      tor: await managedTorOf(started.program, join(dataDir, 'tor')),
      bootstrapMs: started.bootstrapMs!,
      httpPort: undefined,
    };
    procs.push(relay);
    return relay;
  } catch (err) {
    await started.program.stop('SIGKILL', 10_000);
    throw err;
  }
}

async function startNode(name: string): Promise<NodeProc> {
  const dataDir = join(dir, name);
  const args = ['--data-dir', dataDir, '--port', '0', '--name', name, '--tor', '--torrc-file', torrcFile];
  const started = await startNodeProgram(name, args, { PURSUANCE_LOOPBACK_REGISTRY: registry }, { tor: true, startMs: START_MS });
  try {
    const node: NodeProc = {
      ...started,
      name,
      dataDir,
      tor: await managedTorOf(started.program, join(dataDir, 'tor')),
      bootstrapMs: started.bootstrapMs!,
      httpPort: started.port,
      changes: watchChanges(started.port, started.token),
    };
    procs.push(node);
    return node;
  } catch (err) {
    await started.program.stop('SIGKILL', 10_000);
    throw err;
  }
}

function api(n: NodeProc, method: string, path: string, body?: unknown): Promise<HttpResult> {
  return http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
}

/** Wait until `check` (an API read) holds, re-checking on each `changed` event the node reports. */
async function until(n: NodeProc, what: string, check: () => Promise<boolean>, limitMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const seen = n.changes.count();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${n.name}: ${what} did not happen within ${limitMs} ms\n${await diagnostics()}`);
    await Promise.race([n.changes.after(seen), delay(RECHECK_MS)]);
  }
}

/** SIGTERM `p`; it and its tor must be gone within 5 s, with exit code 0. */
async function stopWithinLimit(p: Proc): Promise<number> {
  const logs = p.program.tail(30);
  if (p.httpPort !== undefined) (p as NodeProc).changes.close();
  const result = await p.program.stop('SIGTERM', STOP_LIMIT_MS);
  expect(result.hung, `${p.name} was still running ${STOP_LIMIT_MS} ms after SIGTERM:\n${logs}`).toBe(false);
  expect(result.code, `${p.name} exit code after SIGTERM:\n${p.program.tail(30)}`).toBe(0);
  // The program stops its tor by PID before exiting (TAKEOWNERSHIP and __OwningControllerProcess
  // back that up); give a straggler the time of one of those checks.
  const deadline = Date.now() + 20_000;
  while ((await isRunning(p.tor.pid)) && Date.now() < deadline) await delay(100);
  expect(await isRunning(p.tor.pid), `${p.name}'s tor (pid ${p.tor.pid}) outlived it`).toBe(false);
  report(`SIGTERM ${p.name}: exited (code ${result.code}) after ${result.ms} ms, its tor gone too`);
  return result.ms;
}

/** Why a connection does not lead to `p`'s own tor (or the test, on the HTTP API), or undefined when it does. */
function strayReason(p: Proc, c: Connection): string | undefined {
  if (c.peerPid === p.tor.pid) return undefined;
  if (c.peerPid === process.pid && p.httpPort !== undefined && c.local.port === p.httpPort) return undefined;
  const ends = `${c.local.address}:${c.local.port} → ${c.remote.address}:${c.remote.port}`;
  if (c.peer === undefined) return `${ends} leads off this machine (or closed mid-read)`;
  return `${ends} leads to pid ${c.peerPid ?? 'unknown'}`;
}

/**
 * Check that every established connection of `p` ends at its own tor: its control port, its
 * SOCKS port (streams out), or one of `p`'s onion listeners (streams tor delivers in); or is
 * this test on `p`'s HTTP API. A connection that looks stray is looked at again a second later,
 * so one that merely closed between two reads of /proc is not blamed. So that the check is not
 * vacuous, the process must hold its control connection and, when it is in a relay session
 * (`holdsRelaySession`), a Tor stream.
 */
async function expectOnlyTorConnections(p: Proc, holdsRelaySession = true): Promise<void> {
  const first = await establishedConnections(p.program.pid);
  let stray = first.filter((c) => strayReason(p, c) !== undefined);
  if (stray.length > 0) {
    await delay(1_000);
    const again = await establishedConnections(p.program.pid);
    stray = again.filter((c) => strayReason(p, c) !== undefined && stray.some((s) => s.inode === c.inode));
    if (stray.length > 0) {
      const described = await Promise.all(stray.map(async (c) => `${strayReason(p, c)} (${c.peerPid ? await commandLine(c.peerPid) : '-'})`));
      expect.fail(`${p.name} has connections that do not lead to its tor (pid ${p.tor.pid}):\n${described.join('\n')}`);
    }
  }
  const torPorts = await listeningPorts(p.tor.pid);
  const ownPorts = await listeningPorts(p.program.pid);
  const kinds = { control: 0, socks: 0, onionIn: 0, api: 0 };
  for (const c of first) {
    if (c.peerPid !== p.tor.pid) kinds.api++;
    else if (c.peer?.local.port === p.tor.controlPort) kinds.control++;
    else if (torPorts.has(c.peer?.local.port ?? -1)) kinds.socks++;
    else if (ownPorts.has(c.local.port)) kinds.onionIn++;
  }
  // Not vacuous: the process does hold its control connection and Tor streams right now.
  expect(kinds.control, `${p.name}: no connection to its tor's control port`).toBeGreaterThan(0);
  if (holdsRelaySession) expect(kinds.socks + kinds.onionIn, `${p.name}: no Tor stream (SOCKS out or onion in)`).toBeGreaterThan(0);
  report(
    `${p.name}: ${first.length} established connections, all to its tor (pid ${p.tor.pid}) or this test's API calls: ` +
      `control ${kinds.control}, SOCKS ${kinds.socks}, onion streams in ${kinds.onionIn}, API ${kinds.api}`,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tor-product-'));
  registry = join(dir, 'loopback-registry');
  await mkdir(registry);
  try {
    network = await startTorNetwork();
  } catch (err) {
    // Rethrown by every test: a missing tor is a failure, not a skip.
    startError = err;
    return;
  }
  report(`private Tor network ready in ${network.bootstrapSeconds} s (5 authorities + 2 clients)`);
  torrcFile = join(dir, 'tornet.torrc');
  await writeFile(torrcFile, `${(await torNetworkClientTorrcLines(network)).join('\n')}\n`);
}, 300_000);

afterAll(async () => {
  for (const p of procs) {
    if (p.httpPort !== undefined) (p as NodeProc).changes.close();
    if (p.program.running()) await p.program.stop('SIGKILL', 10_000);
  }
  await network?.stop();
  if (timings.length > 0) console.info(`[tor-product] summary:\n  ${timings.join('\n  ')}`);
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('the whole product over a private Tor network, each process with a tor of its own', () => {
  let relay: RelayProc;
  let founder: NodeProc;
  let alice: NodeProc;
  let bob: NodeProc;
  let id: string;
  const taskOf = async (n: NodeProc, t: string) =>
    (await api(n, 'GET', `/api/pursuances/${id}/tasks/${t}`)).body as { title?: string | null; readable?: boolean };
  const hashOf = async (n: NodeProc) => ((await api(n, 'GET', `/api/pursuances/${id}`)).body as { stateHash?: string }).stateHash;

  it('a relay daemon and three nodes each start a tor, bootstrap on the private network and serve', { timeout: START_MS + 60_000 }, async () => {
    net();
    const t0 = Date.now();
    [relay, founder, alice, bob] = await Promise.all([startRelay('relay1'), startNode('founder'), startNode('alice'), startNode('bob')]);
    report(`relay + 3 nodes all ready ${Date.now() - t0} ms after spawning them together`);
    for (const p of [relay, founder, alice, bob]) {
      report(`${p.name}: tor bootstrapped ${p.bootstrapMs} ms after spawn, announced ready at ${p.readyMs} ms`);
      // Its tor joined the private network through the file, not the public one.
      const torrc = await readFile(join(p.dataDir, 'tor', 'torrc'), 'utf8');
      expect(torrc).toContain('TestingTorNetwork 1');
      expect(torrc).toMatch(/^DirAuthority /m);
    }
    for (const n of [founder, alice, bob]) {
      const { body } = await api(n, 'GET', '/api/network');
      expect(body).toMatchObject({ kind: 'tor', status: { state: 'up', bootstrap: { progress: 100 }, outages: 0, lastError: null } });
      expect((body as { status: { version: string } }).status.version).toMatch(/^\d+\.\d+\.\d+/);
    }
    // Each process printed its bootstrap progress on the way (not just the final line).
    expect(founder.program.lines.filter((l) => l.stream === 'stderr' && l.text.startsWith('tor: bootstrapped')).length).toBeGreaterThan(1);
    expect(relay.program.lines.filter((l) => l.text.includes('"event":"tor.bootstrap"')).length).toBeGreaterThan(1);
  });

  it('creates a pursuance, attaches the relay, and two members join from the invite', { timeout: 3 * WAIT_MS }, async () => {
    net();
    const created = await api(founder, 'POST', '/api/pursuances', { name: 'Over Tor', template: 'activist-cell' });
    expect(created.status).toBe(201);
    id = (created.body as { id: string }).id;
    const t0 = Date.now();
    expect((await api(founder, 'POST', `/api/pursuances/${id}/relay/attach`, { bundle: relay.bundle })).status).toBe(200);
    report(`attach to the relay: ${Date.now() - t0} ms`);
    await api(founder, 'POST', `/api/pursuances/${id}/members`, { onion: alice.onion, name: 'alice', roles: ['member'] });
    await api(founder, 'POST', `/api/pursuances/${id}/members`, { onion: bob.onion, name: 'bob', roles: ['member', 'organizer'] });
    const { invite } = (await api(founder, 'GET', `/api/pursuances/${id}/invite`)).body as { invite: string };
    for (const member of [alice, bob]) {
      const t1 = Date.now();
      expect((await api(member, 'POST', '/api/invites/accept', { invite })).body).toEqual({ pursuanceId: id, status: 'joined' });
      const target = await hashOf(founder);
      await until(member, "to reach the founder's state", async () => (await hashOf(member)) === target);
      report(`join: ${member.name} reached the founder's state ${Date.now() - t1} ms after accepting the invite`);
    }
    const status = (await api(alice, 'GET', `/api/pursuances/${id}/sync`)).body as { relay: string; gaps: string[] };
    expect(status).toMatchObject({ relay: relay.board, gaps: [] });
  });

  it(`shows tasks per audience, and ${TASKS} tasks each travel from the founder's API to bob's`, { timeout: 2 * WAIT_MS + TASKS * 30_000 }, async () => {
    net();
    const open = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Visible to members' })).body as { id: string };
    const sealed = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['organizer'], title: 'Organizers only' })).body as { id: string };
    for (const n of [alice, bob]) await until(n, 'the sealed task to arrive', async () => (await taskOf(n, sealed.id)).readable !== undefined);
    expect(await taskOf(alice, open.id)).toMatchObject({ title: 'Visible to members', readable: true });
    expect(await taskOf(alice, sealed.id)).toMatchObject({ title: null, readable: false });
    expect(await taskOf(bob, sealed.id)).toMatchObject({ title: 'Organizers only', readable: true });

    // One at a time, so each latency is one task's trip (founder's node → relay → bob's node),
    // not time spent queued behind the others.
    const latencies: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const t0 = performance.now();
      const created = await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: `Task ${i}` });
      expect(created.status).toBe(201);
      const task = (created.body as { id: string }).id;
      await until(bob, `task ${i} to arrive`, async () => (await taskOf(bob, task)).readable === true);
      latencies.push(performance.now() - t0);
      ids.push(task);
    }
    for (const [i, task] of ids.entries()) expect(await taskOf(bob, task)).toMatchObject({ title: `Task ${i}`, readable: true });
    await until(alice, 'every task to arrive', async () => (await taskOf(alice, ids.at(-1)!)).readable === true);
    const ms = (v: number): string => `${Math.round(v)} ms`;
    report(
      `task latency founder API → bob API over ${TASKS} tasks: p50 ${ms(percentile(latencies, 0.5))}, p99 ${ms(percentile(latencies, 0.99))}, ` +
        `min ${ms(Math.min(...latencies))}, max ${ms(Math.max(...latencies))}, mean ${ms(latencies.reduce((a, b) => a + b, 0) / latencies.length)}`,
    );
  });

  it('removing a member rotates the member key; the removed member receives nothing later', { timeout: 3 * WAIT_MS }, async () => {
    net();
    const t0 = Date.now();
    const removal = (await api(founder, 'DELETE', `/api/pursuances/${id}/members/${alice.onion}`, { reason: 'left' })).body as { id: string };
    expect(removal).toMatchObject({ kind: 'member.remove' });
    await until(
      alice,
      'to learn of her removal',
      async () => !((await api(alice, 'GET', `/api/pursuances/${id}/members`)).body as { onion: string }[]).some((m) => m.onion === alice.onion),
    );
    report(`removal: alice's node learned of it ${Date.now() - t0} ms after the DELETE`);
    const later = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'After alice' })).body as { id: string };
    await until(bob, 'the task after the removal to arrive', async () => (await taskOf(bob, later.id)).readable === true);
    expect((await api(alice, 'GET', `/api/pursuances/${id}/tasks/${later.id}`)).status).toBe(404);
    const roles = (await api(bob, 'GET', `/api/pursuances/${id}/roles`)).body as { id: string; epoch: number; iHoldKey: boolean }[];
    expect(roles.find((r) => r.id === 'member')).toMatchObject({ epoch: 1, iHoldKey: true });
    const refused = await api(alice, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'not any more' });
    expect(refused.body).toMatchObject({ code: 'NOT_A_MEMBER' });
  });

  it('every connection of the relay and the nodes leads to its own tor', { timeout: 60_000 }, async () => {
    net();
    for (const p of [relay, founder, alice, bob]) await expectOnlyTorConnections(p);
  });

  it('moves to a second relay (its own tor) while bob is offline; bob follows; the first relay stops', { timeout: START_MS + 4 * WAIT_MS }, async () => {
    net();
    const relay2 = await startRelay('relay2');
    report(`relay2: tor bootstrapped ${relay2.bootstrapMs} ms after spawn, announced ready at ${relay2.readyMs} ms`);
    await stopWithinLimit(bob);
    const t0 = Date.now();
    expect((await api(founder, 'POST', `/api/pursuances/${id}/relay/move`, { bundle: relay2.bundle })).status).toBe(200);
    const moveMs = Date.now() - t0;
    const moved = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'On relay 2' })).body as { id: string };
    expect(((await api(founder, 'GET', `/api/pursuances/${id}/sync`)).body as { relay: string }).relay).toBe(relay2.board);

    const t1 = Date.now();
    bob = await startNode('bob');
    report(`bob (restarted on the same data dir): tor bootstrapped ${bob.bootstrapMs} ms after spawn, announced ready at ${bob.readyMs} ms`);
    await until(bob, 'to follow the move and receive the task on relay 2', async () => (await taskOf(bob, moved.id)).readable === true);
    expect(((await api(bob, 'GET', `/api/pursuances/${id}/sync`)).body as { relay: string }).relay).toBe(relay2.board);
    const followMs = Date.now() - t1;

    await stopWithinLimit(relay);
    const t2 = Date.now();
    const last = (await api(bob, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Only relay 2' })).body as { id: string };
    await until(founder, "bob's task on relay 2 to arrive", async () => (await taskOf(founder, last.id)).readable === true);
    const lastMs = Date.now() - t2;
    const target = await hashOf(founder);
    await until(bob, "to reach the founder's state", async () => (await hashOf(bob)) === target);
    report(
      `relay move: POST /relay/move ${moveMs} ms; restarted bob followed it to relay 2 in ${followMs} ms (from spawn, incl. its tor); ` +
        `bob → founder via relay 2 alone: ${lastMs} ms`,
    );
    relay = relay2;
  });

  it('no process touched the loopback registry, and every connection still leads to its own tor', { timeout: 60_000 }, async () => {
    net();
    // Alice was removed and her only relay is gone, so she may hold no Tor stream at all now.
    for (const p of [relay, founder, bob]) await expectOnlyTorConnections(p);
    await expectOnlyTorConnections(alice, false);
    expect(await readdir(registry), 'the loopback registry every process was pointed at').toEqual([]);
  });

  it(
    'the tor under the relay, then the one under a node, restarts mid-run; delivery resumes without touching either process',
    { timeout: 4 * WAIT_MS + RELAY_TOR_RECOVERY_MS },
    async () => {
      net();
      const networkOf = async (n: NodeProc) => ((await api(n, 'GET', '/api/network')).body as { status: { state: string; outages: number } }).status;
      /** A task from `from` reaches `to` (readable), and how long that took. */
      const deliver = async (from: NodeProc, to: NodeProc, title: string, limitMs = WAIT_MS): Promise<number> => {
        const t0 = Date.now();
        const created = await api(from, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title });
        expect(created.status).toBe(201);
        const task = (created.body as { id: string }).id;
        await until(to, `"${title}" to arrive`, async () => (await taskOf(to, task)).readable === true, limitMs);
        return Date.now() - t0;
      };
      /** Stop `p`'s tor as its operating system or a user would (SIGTERM, a clean exit); `p` must start it again by itself. */
      const restartTorUnder = async (p: Proc, relaunched: RegExp, stream: 'stdout' | 'stderr'): Promise<{ downMs: number }> => {
        const old = p.tor;
        const t0 = Date.now();
        process.kill(old.pid, 'SIGTERM');
        const deadline = Date.now() + 20_000;
        while ((await isRunning(old.pid)) && Date.now() < deadline) await delay(100);
        expect(await isRunning(old.pid), `${p.name}'s tor ignored SIGTERM`).toBe(false);
        const back = await p.program.waitForLine(relaunched, stream, WAIT_MS);
        p.tor = await managedTorOf(p.program, join(p.dataDir, 'tor'));
        expect(p.tor.pid).not.toBe(old.pid);
        // The same control port: nothing a dialler or the process knows of has moved.
        expect(p.tor.controlPort).toBe(old.controlPort);
        return { downMs: back.at - t0 };
      };

      // Before: the flow works both ways.
      await deliver(founder, bob, 'Before any restart');

      // The relay's tor: its onion is re-published by the relay, and the nodes' sessions, which died
      // with the old tor's circuits, find it again.
      const relayPid = relay.program.pid;
      const t1 = Date.now();
      const relayTor = await restartTorUnder(relay, /"event":"tor\.relaunched"/, 'stderr');
      await relay.program.waitForLine(/"event":"network\.up".*"outages":1\b/, 'stderr', WAIT_MS);
      const viaRelay = await deliver(founder, bob, 'After the relay tor restart', RELAY_TOR_RECOVERY_MS);
      const arrivedAfter = Date.now() - t1;
      await deliver(bob, founder, 'Back the other way');
      expect(relay.program.running() && relay.program.pid === relayPid, 'the relay process kept running').toBe(true);
      report(
        `restart of the relay's tor: relaunched ${relayTor.downMs} ms after SIGTERM; the next task founder → bob arrived ${arrivedAfter} ms after the SIGTERM ` +
          `(that task itself ${viaRelay} ms)`,
      );

      // Bob's tor: bob's node reconnects to its tor, re-publishes its own onion, and its relay session comes back.
      const bobPid = bob.program.pid;
      expect(await networkOf(bob)).toMatchObject({ state: 'up', outages: 0 });
      const t2 = Date.now();
      const bobTor = await restartTorUnder(bob, /^tor: running again/, 'stderr');
      await until(bob, 'its network status to show the outage and the recovery', async () => {
        const s = await networkOf(bob);
        return s.state === 'up' && s.outages === 1;
      });
      const toBob = await deliver(founder, bob, 'After bob tor restart');
      const fromBob = await deliver(bob, founder, 'From bob after his tor restart');
      expect(bob.program.running() && bob.program.pid === bobPid, "bob's node kept running").toBe(true);
      report(
        `restart of bob's tor: relaunched ${bobTor.downMs} ms after SIGTERM; founder → bob and bob → founder both delivered ${Date.now() - t2} ms after the SIGTERM ` +
          `(those tasks ${toBob} / ${fromBob} ms)`,
      );
      const target = await hashOf(founder);
      await until(bob, "to reach the founder's state", async () => (await hashOf(bob)) === target);
      // The restarted tors are the processes' own, and still the only way out.
      for (const p of [relay, bob]) await expectOnlyTorConnections(p);
    },
  );

  it('SIGTERM ends every process, and its tor, within 5 s', { timeout: 120_000 }, async () => {
    net();
    for (const p of [relay, founder, alice, bob]) await stopWithinLimit(p);
    expect(await readdir(registry)).toEqual([]);
  });
});

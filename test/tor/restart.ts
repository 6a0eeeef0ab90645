/**
 * Restart one client tor of a private Tor network (test/tor/tornet.sh) in place, as a user's tor
 * restarts under a running program: stop it by its recorded PID, start it again with the same
 * torrc and DataDirectory (so the same control and SOCKS ports), and wait for its control port.
 *
 *   const net = await startTorNetwork();
 *   const r = await restartTorClient(net, 0);   // { oldPid, newPid, stoppedAfterMs, controlAfterMs }
 *
 * The new PID is appended to DIR/tornet.pids, so `tornet.sh stop` (network.stop()) stops it too.
 * The torrc still names this process as __OwningControllerProcess, so the new tor also exits
 * by itself if the test runner dies.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { assertTorInstalled, type TorNetwork } from './tornet.js';

export interface RestartOptions {
  /** Longest wait for the old tor to exit after SIGTERM before SIGKILL (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** Longest wait for the new tor's control port (default 60 s). */
  readonly startTimeoutMs?: number;
}

export interface RestartResult {
  readonly oldPid: number;
  readonly newPid: number;
  /** From SIGTERM until the old process was gone. */
  readonly stoppedAfterMs: number;
  /** From starting the new tor until its control port accepted a connection (and, with cookie
   * auth, its fresh cookie file was written). */
  readonly controlAfterMs: number;
}

const POLL_MS = 50;

/** The last PID recorded for `name` in DIR/tornet.pids ("PID NAME" lines; restarts append). */
export async function recordedPid(network: TorNetwork, name: string): Promise<number> {
  const lines = (await readFile(join(network.dir, 'tornet.pids'), 'utf8')).split('\n');
  let pid: number | undefined;
  for (const line of lines) {
    const [p, n] = line.trim().split(/\s+/);
    if (n === name && p !== undefined && /^\d+$/.test(p)) pid = Number(p);
  }
  if (pid === undefined) throw new Error(`no PID recorded for ${name} in ${network.dir}/tornet.pids`);
  return pid;
}

/** Whether `pid` is still a live tor process started for this network (the check tornet.sh's
 * stop makes, so that a recycled PID is never signalled). */
async function isOurTor(pid: number, networkDir: string): Promise<boolean> {
  try {
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
    if (comm !== 'tor') return false;
    const status = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised name) is the state; a zombie has already exited.
    if (status.slice(status.lastIndexOf(')') + 2).startsWith('Z')) return false;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    return cmdline.includes(`${networkDir}/`);
  } catch {
    return false;
  }
}

function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Stop client `index`'s tor (SIGTERM, SIGKILL after the limit) and wait until it is gone. */
export async function stopTorClient(network: TorNetwork, index: number, options: RestartOptions = {}): Promise<{ pid: number; stoppedAfterMs: number }> {
  const client = network.clients[index];
  if (client === undefined) throw new RangeError(`the network has no client ${index}`);
  const pid = await recordedPid(network, client.name);
  // tornet.sh starts each tor with the resolved DIR, which is where the data dirs live.
  const networkDir = dirname(client.dataDir);
  if (!(await isOurTor(pid, networkDir))) throw new Error(`${client.name} (pid ${pid}) is not running`);
  const t0 = Date.now();
  process.kill(pid, 'SIGTERM');
  const limit = t0 + (options.stopTimeoutMs ?? 10_000);
  while (await isOurTor(pid, networkDir)) {
    if (Date.now() > limit) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await delay(POLL_MS);
  }
  // SIGKILL is not instantaneous either.
  while (await isOurTor(pid, networkDir)) await delay(POLL_MS);
  return { pid, stoppedAfterMs: Date.now() - t0 };
}

/** Start client `index`'s tor again exactly as tornet.sh does (foreground tor in its own
 * session, same torrc), record its PID, and wait for its control port. */
export async function startTorClient(network: TorNetwork, index: number, options: RestartOptions = {}): Promise<{ pid: number; controlAfterMs: number }> {
  const client = network.clients[index];
  if (client === undefined) throw new RangeError(`the network has no client ${index}`);
  const { tor } = await assertTorInstalled();
  const t0 = Date.now();
  const cookieBefore = client.cookieFile === null ? undefined : await mtimeMs(client.cookieFile);
  const out = openSync(join(client.dataDir, 'stdout.log'), 'a');
  let pid: number | undefined;
  let exited: string | undefined;
  try {
    // detached = setsid: like tornet.sh, the tor does not share the test runner's process group.
    const child = spawn(tor, ['--defaults-torrc', '/dev/null', '-f', join(client.dataDir, 'torrc')], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.once('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
    });
    child.once('error', (err) => {
      exited = err.message;
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  if (pid === undefined) throw new Error(`cannot start tor for ${client.name}: ${exited ?? 'no PID'}`);
  await appendFile(join(network.dir, 'tornet.pids'), `${pid} ${client.name}\n`);

  const limit = t0 + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`the restarted tor of ${client.name} stopped (${exited}); see ${client.log}`);
    const portUp = await acceptsConnections(network.host, client.controlPort);
    // tor opens its control port a moment before it writes the new cookie.
    const cookieFresh = client.cookieFile === null || ((await mtimeMs(client.cookieFile)) ?? -1) > (cookieBefore ?? -1);
    if (portUp && cookieFresh) return { pid, controlAfterMs: Date.now() - t0 };
    if (Date.now() > limit) throw new Error(`the restarted tor of ${client.name} did not open its control port within ${limit - t0} ms`);
    await delay(POLL_MS);
  }
}

/** Stop and start client `index`'s tor; its ports, keys and DataDirectory stay the same. */
export async function restartTorClient(network: TorNetwork, index: number, options: RestartOptions = {}): Promise<RestartResult> {
  const stopped = await stopTorClient(network, index, options);
  const started = await startTorClient(network, index, options);
  return { oldPid: stopped.pid, newPid: started.pid, stoppedAfterMs: stopped.stoppedAfterMs, controlAfterMs: started.controlAfterMs };
}

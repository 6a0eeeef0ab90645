/**
 * Helpers for running the whole product as separate processes over a private Tor network:
 * programs whose output lines carry the time they arrived (bootstrap and readiness timings come
 * from what the programs print), the managed tor each program started, and who is at the other
 * end of each of a process's TCP connections (read from /proc, so nothing needs to be installed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CLI } from './processes.js';

export interface TimedLine {
  /** Date.now() when the line arrived. */
  readonly at: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export interface StopResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** From sending the signal until the process was gone (or until the limit, when hung). */
  readonly ms: number;
  /** Still running at the limit; it was then SIGKILLed. */
  readonly hung: boolean;
}

export interface Program {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  readonly lines: readonly TimedLine[];
  /** The first line (already seen or still to come) on `stream` matching `pattern`. Rejects if the
   * program exits first or `timeoutMs` passes, quoting the end of its output. */
  waitForLine(pattern: RegExp, stream: 'stdout' | 'stderr', timeoutMs: number): Promise<{ match: RegExpExecArray; at: number }>;
  /** The last `n` lines of both streams, for failure messages. */
  tail(n?: number): string;
  running(): boolean;
  /** Send `signal`; SIGKILL if it is still running `limitMs` later. */
  stop(signal: NodeJS.Signals, limitMs: number): Promise<StopResult>;
}

/** Start `node <script> …args` with `env` added to this process's environment. */
export function spawnProgram(name: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv): Program {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const startedAt = Date.now();
  const lines: TimedLine[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream].setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      const at = Date.now();
      for (const text of parts) lines.push({ at, stream, text });
      if (parts.length > 0) notify();
    });
  }
  void exited.then(notify);
  const tail = (n = 40): string =>
    lines
      .slice(-n)
      .map((l) => `  ${name} ${l.stream}: ${l.text}`)
      .join('\n');

  return {
    name,
    child,
    pid: child.pid!,
    startedAt,
    lines,
    tail,
    running: () => exit === undefined,
    waitForLine: (pattern, stream, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${name} printed no line matching ${pattern} within ${timeoutMs} ms:\n${tail()}`)), timeoutMs);
        const finish = (result: Error | { match: RegExpExecArray; at: number }): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (result instanceof Error) reject(result);
          else resolve(result);
        };
        function check(): void {
          for (const line of lines) {
            if (line.stream !== stream) continue;
            const match = pattern.exec(line.text);
            if (match !== null) return finish({ match, at: line.at });
          }
          if (exit !== undefined) finish(new Error(`${name} exited (${exit.signal ?? `code ${exit.code}`}) before printing ${pattern}:\n${tail()}`));
        }
        listeners.add(check);
        check();
      }),
    async stop(signal, limitMs) {
      const sent = Date.now();
      if (exit !== undefined) return { ...exit, ms: 0, hung: false };
      child.kill(signal);
      const outcome = await Promise.race([exited, delay(limitMs).then(() => 'hung' as const)]);
      if (outcome !== 'hung') return { ...outcome, ms: Date.now() - sent, hung: false };
      child.kill('SIGKILL');
      const killed = await exited;
      return { ...killed, ms: limitMs, hung: true };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------------------------

/** A live process (a zombie has exited: it only waits to be reaped). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** `pid`'s direct children whose command name is `comm`. */
export async function childProcesses(pid: number, comm: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (open < 0 || close < 0) continue;
    // Fields after the name: state, ppid, …
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === pid && stat.slice(open + 1, close) === comm) found.push(Number(entry));
  }
  return found;
}

export async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
}

/** The managed tor a program started: its one `tor` child running from `dataDir`, and that tor's control port. */
export async function managedTorOf(program: Program, dataDir: string): Promise<{ pid: number; controlPort: number }> {
  const tors = [];
  for (const pid of await childProcesses(program.pid, 'tor')) if ((await commandLine(pid)).includes(`${dataDir}/torrc`)) tors.push(pid);
  if (tors.length !== 1) throw new Error(`${program.name} should run exactly one tor from ${dataDir}; found ${JSON.stringify(tors)}`);
  const port = /^PORT=127\.0\.0\.1:(\d+)\s*$/m.exec(await readFile(`${dataDir}/control-port`, 'utf8'))?.[1];
  if (port === undefined) throw new Error(`${dataDir}/control-port names no loopback port`);
  return { pid: tors[0]!, controlPort: Number(port) };
}

// ---------------------------------------------------------------------------------------------
// TCP connections
// ---------------------------------------------------------------------------------------------

export interface TcpEnd {
  readonly address: string;
  readonly port: number;
}

export interface TcpSocket {
  readonly local: TcpEnd;
  readonly remote: TcpEnd;
  /** The kernel's state code: 01 ESTABLISHED, 0A LISTEN, … */
  readonly state: string;
  readonly inode: number;
}

export const TCP_ESTABLISHED = '01';
export const TCP_LISTEN = '0A';

/** `0100007F:1F90` (IPv4) or 32 hex digits (IPv6), each 32-bit word in host (little-endian) order. */
function parseEnd(text: string): TcpEnd {
  const [hex, port] = text.split(':') as [string, string];
  const words = hex.match(/.{8}/g)!.map((w) => Buffer.from(w, 'hex').reverse());
  const bytes = Buffer.concat(words);
  let address: string;
  if (bytes.length === 4) address = [...bytes].join('.');
  else if (bytes.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))) address = [...bytes.subarray(12)].join('.');
  else address = (bytes.toString('hex').match(/.{4}/g) ?? []).join(':');
  return { address, port: parseInt(port, 16) };
}

/** Every TCP socket of this network namespace (/proc/net/tcp and tcp6). */
export async function tcpSockets(): Promise<TcpSocket[]> {
  const sockets: TcpSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      sockets.push({ local: parseEnd(f[1]!), remote: parseEnd(f[2]!), state: f[3]!, inode: Number(f[9]) });
    }
  }
  return sockets;
}

/** Socket inodes open in `pid` (its fds that link to `socket:[inode]`). */
export async function socketInodes(pid: number): Promise<Set<number>> {
  const inodes = new Set<number>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m !== null) inodes.add(Number(m[1]));
  }
  return inodes;
}

/** Which process holds each socket inode, over every process this user can inspect. */
export async function socketOwners(): Promise<Map<number, number>> {
  const owners = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const inode of await socketInodes(Number(entry))) if (!owners.has(inode)) owners.set(inode, Number(entry));
  }
  return owners;
}

export interface Connection {
  readonly inode: number;
  readonly local: TcpEnd;
  readonly remote: TcpEnd;
  /** The socket at the other end when it is on this machine, and the process holding it. */
  readonly peer: TcpSocket | undefined;
  readonly peerPid: number | undefined;
}

/** The established TCP connections of `pid`, each with the process at its other end. */
export async function establishedConnections(pid: number): Promise<Connection[]> {
  const mine = await socketInodes(pid);
  const table = await tcpSockets();
  const owners = await socketOwners();
  const key = (local: TcpEnd, remote: TcpEnd): string => `${local.address}:${local.port}>${remote.address}:${remote.port}`;
  const byEnds = new Map(table.map((s) => [key(s.local, s.remote), s]));
  return table
    .filter((s) => s.state === TCP_ESTABLISHED && mine.has(s.inode))
    .map((s) => {
      const peer = byEnds.get(key(s.remote, s.local));
      return { inode: s.inode, local: s.local, remote: s.remote, peer, peerPid: peer === undefined ? undefined : owners.get(peer.inode) };
    });
}

/** Ports `pid` listens on. */
export async function listeningPorts(pid: number): Promise<Set<number>> {
  const mine = await socketInodes(pid);
  return new Set((await tcpSockets()).filter((s) => s.state === TCP_LISTEN && mine.has(s.inode)).map((s) => s.local.port));
}

/** Nearest-rank percentile of `values` (q in 0…1). */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------------------------
// the programs' announcements
// ---------------------------------------------------------------------------------------------

export const RELAY_MAIN = fileURLToPath(new URL('../../apps/relay/dist/main.js', import.meta.url));

/** What a relay daemon printed on start (the bootstrap line only when it runs its own tor). */
export interface AnnouncedRelay {
  readonly program: Program;
  readonly bundle: string;
  readonly board: string;
  /** Spawn → `ready`. */
  readonly readyMs: number;
  /** Spawn → its managed tor at 100 %, or null without `tor`. */
  readonly bootstrapMs: number | null;
}

/** What `pursuance node start` printed on start. */
export interface AnnouncedNode {
  readonly program: Program;
  readonly onion: string;
  readonly port: number;
  readonly token: string;
  /** Spawn → the token line (the last of its announcement). */
  readonly readyMs: number;
  readonly bootstrapMs: number | null;
}

/** Spawn a relay daemon with `args` and read its announcement; a program that never announces is killed. */
export async function startRelayProgram(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { tor: boolean; startMs: number },
): Promise<AnnouncedRelay> {
  const program = spawnProgram(name, RELAY_MAIN, args, { PURSUANCE_RELAY_PASSWORD: 'relay password', ...env });
  try {
    const bundle = (await program.waitForLine(/^key-bundle (\S+)$/, 'stdout', opts.startMs)).match[1]!;
    const ready = await program.waitForLine(/^ready$/, 'stdout', opts.startMs);
    const board = (await program.waitForLine(/^board ([a-z2-7]{56})$/, 'stdout', 1_000)).match[1]!;
    const booted = opts.tor ? await program.waitForLine(/"event":"tor\.bootstrap".*"progress":100\b/, 'stderr', 1_000) : undefined;
    return { program, bundle, board, readyMs: ready.at - program.startedAt, bootstrapMs: booted ? booted.at - program.startedAt : null };
  } catch (err) {
    await program.stop('SIGKILL', 10_000);
    throw err;
  }
}

/** Spawn `pursuance node start` with `args` (password "<name> password") and read its announcement. */
export async function startNodeProgram(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { tor: boolean; startMs: number },
): Promise<AnnouncedNode> {
  const program = spawnProgram(name, CLI, ['node', 'start', ...args], { PURSUANCE_PASSWORD: `${name} password`, ...env });
  try {
    const onion = (await program.waitForLine(/^node ([a-z2-7]{56})$/, 'stdout', opts.startMs)).match[1]!;
    const port = Number((await program.waitForLine(/^dashboard http:\/\/127\.0\.0\.1:(\d+)\/$/, 'stdout', 10_000)).match[1]);
    const tokenLine = await program.waitForLine(/^token ([A-Za-z0-9_-]{43})$/, 'stdout', 10_000);
    const booted = opts.tor ? await program.waitForLine(/^tor: bootstrapped 100 %/, 'stderr', 1_000) : undefined;
    return {
      program,
      onion,
      port,
      token: tokenLine.match[1]!,
      readyMs: tokenLine.at - program.startedAt,
      bootstrapMs: booted ? booted.at - program.startedAt : null,
    };
  } catch (err) {
    await program.stop('SIGKILL', 10_000);
    throw err;
  }
}

/**
 * Managed tor: launch the system `tor` as our child with a generated torrc (torrc.ts) and a
 * private DataDirectory, wait until it has bootstrapped, and stop it by PID. Cwtch ships and
 * manages its own tor for the same reason: a user should not have to hand-edit a torrc to get
 * a control port with a readable cookie.
 *
 * tor is tied to us three ways: `__OwningControllerProcess` (tor polls our PID, ~15 s), the
 * control connection we keep open after TAKEOWNERSHIP (tor exits as soon as it closes, e.g. when
 * we crash), and stop() (SIGTERM, then SIGKILL). It runs in its own session so a terminal's
 * Ctrl-C reaches only us, and we shut it down after our own clean shutdown.
 *
 * tor's log and output stay in files inside its DataDirectory; errors quote at most a few of
 * its warning lines, with transport arguments (bridge certificates) redacted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { TorAbortedError, TorBootstrapTimeoutError, TorConfigError, TorDataDirectoryBusyError, TorLaunchError, TorNotFoundError } from '../errors.js';
import type { TorACNOptions } from './tor-acn.js';
import { parseReplyArgs } from './tor-control-args.js';
import { TorControlClient } from './tor-control.js';
import { MANAGED_TOR_HOST, managedTorPaths, managedTorrc, parseBridgeLine, type ManagedTorPaths } from './torrc.js';

export interface TorBootstrapProgress {
  /** 0–100; 100 means tor can build circuits. Never decreases across calls. */
  readonly progress: number;
  /** tor's phase tag, e.g. `conn_done`, `done`. */
  readonly tag: string;
  /** Human-readable phase, e.g. "Loading relay descriptors". */
  readonly summary: string;
  /** tor's reason when it reports a problem during bootstrap (e.g. a bridge refusing). */
  readonly warning?: string;
}

export interface LaunchTorOptions {
  /** tor's DataDirectory, created with mode 0700 (e.g. `<app data dir>/tor`). Keeps its keys,
   * consensus cache, torrc, log and output. */
  readonly dataDir: string;
  /** Binary name (searched on PATH and in /usr/sbin, /usr/bin, /usr/local/{s,}bin) or path; default `tor`. */
  readonly torBinary?: string | undefined;
  /** Bridge lines; with any, tor reaches the network only through them (`UseBridges 1`). */
  readonly bridges?: readonly string[] | undefined;
  /** Transport plugin (path, or `t1,t2 exec /path [args]`); when bridges need a transport and
   * this is unset, lyrebird or obfs4proxy is looked up on PATH. */
  readonly transportPlugin?: string | undefined;
  /** Extra torrc lines (see parseTorrcLine for what is refused). */
  readonly torrcLines?: readonly string[] | undefined;
  /** Told each bootstrap change (monotonic progress). A throwing callback is ignored. */
  readonly onProgress?: ((progress: TorBootstrapProgress) => void) | undefined;
  /** Aborting stops tor and rejects with TorAbortedError. */
  readonly signal?: AbortSignal | undefined;
  /** From spawning to 100 % (default 300 s: bridges on a slow network take minutes). */
  readonly bootstrapTimeoutMs?: number | undefined;
  /** From spawning until the control port is up (default 60 s). */
  readonly startTimeoutMs?: number | undefined;
  /** stop(): how long SIGTERM gets before SIGKILL (default 10 s). */
  readonly stopGraceMs?: number | undefined;
  /** Listen on these ports instead of random ones (a relaunch reuses its predecessor's). When a
   * port is taken, tor cannot bind it and the launch fails with TorLaunchError: never another port. */
  readonly controlPort?: number | undefined;
  readonly socksPort?: number | undefined;
  /** How long to keep trying while another tor holds the DataDirectory (default 30 s: the tor of a
   * crashed earlier run notices its dead owner within ~15 s). Each try lasts ≥ 5 s (tor's own wait). */
  readonly dataDirBusyWaitMs?: number | undefined;
}

export interface RelaunchTorOptions {
  /** Aborting stops the new tor and rejects with TorAbortedError. */
  readonly signal?: AbortSignal | undefined;
}

export interface TorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** true when stop() (or a failed launch) ended it; false when tor died by itself. */
  readonly stopped: boolean;
}

export interface ManagedTor {
  readonly pid: number;
  /** tor's version, e.g. "0.4.9.11". */
  readonly version: string;
  readonly controlHost: string;
  readonly controlPort: number;
  readonly socksHost: string;
  readonly socksPort: number;
  readonly cookieFile: string;
  readonly dataDir: string;
  /** tor's notice-level log. */
  readonly logFile: string;
  /** Settles (never rejects) when the tor process has exited, for whatever reason. */
  readonly exited: Promise<TorExit>;
  /** Options for a TorACN on this tor (cookie auth). */
  torACNOptions(extra?: Partial<TorACNOptions>): TorACNOptions;
  /** The current bootstrap phase, asked on the owning control connection. */
  bootstrapStatus(): Promise<TorBootstrapProgress>;
  /** SIGTERM by PID, SIGKILL after the grace period; resolves once tor has exited. Idempotent. */
  stop(): Promise<void>;
  /**
   * Launch a new tor in place of this one (after it died): the same options, DataDirectory and
   * torrc, on this tor's control and SOCKS ports, so that a TorACN reconnects where it was.
   * Fails like launchTor (TorLaunchError when a port is taken); no bootstrap progress callback.
   */
  relaunch(options?: RelaunchTorOptions): Promise<ManagedTor>;
}

const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 300_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_GRACE_MS = 10_000;
const DEFAULT_DATA_DIR_BUSY_WAIT_MS = 30_000;
/** What tor logs when its DataDirectory lock is held by another process. */
const DATA_DIR_LOCKED = 'another Tor process is running with the same data directory';
const POLL_MS = 100;
const BOOTSTRAP_POLL_MS = 1000;
const FALLBACK_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/opt/homebrew/bin'];
const TOR_INSTALL_HINT =
  'install tor (Debian/Ubuntu: sudo apt-get install tor; Fedora: sudo dnf install tor; macOS: brew install tor) or give the path of a tor binary';
const TRANSPORT_CLIENTS = ['lyrebird', 'obfs4proxy'];

// ---------------------------------------------------------------------------------------------
// binaries
// ---------------------------------------------------------------------------------------------

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Full path of an executable: `name` itself when it contains a slash, else the first match on
 * PATH or in the usual bin/sbin directories (Debian installs tor in /usr/sbin, which is not on a
 * normal user's PATH). undefined when there is none.
 */
export async function findExecutable(name: string): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutableFile(name)) ? resolve(name) : undefined;
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d.length > 0);
  for (const dir of [...dirs, ...FALLBACK_BIN_DIRS]) {
    const path = join(dir, name);
    if (await isExecutableFile(path)) return resolve(path);
  }
  return undefined;
}

/** The tor binary to launch; TorNotFoundError (with how to install it) when there is none. */
export async function findTorBinary(torBinary = 'tor'): Promise<string> {
  if (typeof torBinary !== 'string' || torBinary.length === 0 || /[\0\r\n]/.test(torBinary)) {
    throw new TorConfigError('tor binary: must be a program name or path');
  }
  const found = await findExecutable(torBinary);
  if (found === undefined) {
    const where = torBinary.includes('/') ? `${torBinary} is not an executable file` : `no '${torBinary}' on PATH or in ${FALLBACK_BIN_DIRS.join(', ')}`;
    throw new TorNotFoundError(`cannot start a managed tor: ${where}; ${TOR_INSTALL_HINT}`);
  }
  return found;
}

/** The transport plugin to write: the configured one, or (when bridges need a transport and none
 * is configured) lyrebird or obfs4proxy from PATH. */
async function transportPluginFor(options: LaunchTorOptions): Promise<string | undefined> {
  if (options.transportPlugin !== undefined) {
    const plugin = options.transportPlugin;
    // A bare program name is looked up like tor itself; tor needs an absolute path.
    if (typeof plugin === 'string' && /^[^\s/]+$/.test(plugin.trim())) {
      const found = await findExecutable(plugin.trim());
      if (found === undefined) throw new TorConfigError(`transport plugin: no '${plugin.trim()}' on PATH`);
      return found;
    }
    return plugin;
  }
  const bridges = (options.bridges ?? []).map((b, i) => parseBridgeLine(b, `bridge ${i + 1}`));
  if (!bridges.some((b) => b.transport !== undefined)) return undefined;
  for (const name of TRANSPORT_CLIENTS) {
    const found = await findExecutable(name);
    if (found !== undefined) return found;
  }
  throw new TorConfigError(
    'bridges: they use a pluggable transport but no transport plugin is configured and neither lyrebird nor obfs4proxy is installed (Debian: apt-get install obfs4proxy)',
  );
}

// ---------------------------------------------------------------------------------------------
// tor's output, for error messages
// ---------------------------------------------------------------------------------------------

/** Warnings that every run prints here and that never explain a failure. */
const NOISE = [/running Tor as root/i, /compiled with OpenSSL/i, /Tor can't help you if you use it wrong/i];

/** Bounded, printable, and without transport arguments (bridge certificates are semi-secret). */
function sanitize(line: string): string {
  let clean = '';
  for (const ch of line) {
    const code = ch.codePointAt(0)!;
    clean += code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029 ? '?' : ch;
  }
  clean = clean.replace(/\b([A-Za-z0-9_.-]+)=[^\s'"]{12,}/g, '$1=…');
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}

/** The last few warning/error lines tor wrote (log file and output), sanitized. */
async function torComplaints(paths: readonly string[], max = 5): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    let text: string;
    try {
      const buf = await readFile(path);
      text = buf.subarray(Math.max(0, buf.length - 64 * 1024)).toString('utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /\[(warn|err)\]\s*(.*)$/.exec(line);
      if (m === null || NOISE.some((n) => n.test(m[2]!))) continue;
      const msg = sanitize(m[2]!);
      if (!found.includes(msg)) found.push(msg);
    }
  }
  return found.slice(-max);
}

/** Whether tor's log, from byte `from` on (what this launch appended), contains `text`. */
async function torLogged(path: string, from: number, text: string): Promise<boolean> {
  const log = await readFile(path).catch(() => Buffer.alloc(0));
  return log.subarray(from).toString('utf8').includes(text);
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

function explain(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `; tor said: ${lines.join(' | ')}`;
}

// ---------------------------------------------------------------------------------------------
// process
// ---------------------------------------------------------------------------------------------

/** tor needs no secrets from our environment (passwords, tokens): give it only the basics. */
function torEnvironment(dataDir: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: process.env['HOME'] ?? dataDir, LANG: 'C' };
}

async function verifyConfig(binary: string, paths: ManagedTorPaths): Promise<void> {
  const verifyLog = join(paths.dataDirectory, 'verify-config.log');
  const out = await open(verifyLog, 'w', 0o600);
  let result: { code: number | null; error?: Error };
  try {
    result = await new Promise((done) => {
      const child = spawn(binary, ['--defaults-torrc', '/dev/null', '-f', paths.torrc, '--verify-config'], {
        stdio: ['ignore', out.fd, out.fd],
        env: torEnvironment(paths.dataDirectory),
      });
      child.once('error', (error) => done({ code: null, error }));
      child.once('exit', (code) => done({ code }));
    });
  } finally {
    await out.close();
  }
  if (result.error !== undefined) throw new TorLaunchError(`cannot run ${binary}`, { cause: result.error });
  if (result.code !== 0) {
    throw new TorConfigError(`tor refused the generated configuration (exit ${result.code})${explain(await torComplaints([verifyLog]))}`);
  }
}

class TorProcess {
  public readonly pid: number;
  public readonly exited: Promise<TorExit>;
  #running = true;
  #stopRequested = false;
  #stopping: Promise<void> | undefined;

  private constructor(child: ChildProcess, pid: number) {
    this.pid = pid;
    this.exited = new Promise<TorExit>((done) => {
      child.once('exit', (code, signal) => {
        this.#running = false;
        done({ code, signal, stopped: this.#stopRequested });
      });
    });
  }

  public static async spawn(binary: string, paths: ManagedTorPaths): Promise<TorProcess> {
    const out = await open(paths.stdoutFile, 'w', 0o600);
    try {
      // detached: its own session, so a terminal's Ctrl-C does not kill tor under our shutdown.
      const child = spawn(binary, ['--defaults-torrc', '/dev/null', '-f', paths.torrc], {
        stdio: ['ignore', out.fd, out.fd],
        detached: true,
        env: torEnvironment(paths.dataDirectory),
      });
      const pid = await new Promise<number>((done, fail) => {
        child.once('error', (err) => fail(new TorLaunchError(`cannot start ${binary}`, { cause: err })));
        child.once('spawn', () => done(child.pid!));
      });
      return new TorProcess(child, pid);
    } finally {
      // The child holds its own copy of the descriptor.
      await out.close();
    }
  }

  public get running(): boolean {
    return this.#running;
  }

  public stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopRequested = true;
    if (!this.#running) return;
    // Only while we have not seen it exit: until node reaps it the PID cannot be reused.
    this.#signal('SIGTERM');
    if (await settlesWithin(this.exited, graceMs)) return;
    this.#signal('SIGKILL');
    await settlesWithin(this.exited, 10_000);
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((done) => {
    timer = setTimeout(() => done(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// waiting
// ---------------------------------------------------------------------------------------------

type Stop = { kind: 'aborted' } | { kind: 'exited'; exit: TorExit } | { kind: 'deadline' };

/** Resolves when the launch must end early: abort, tor's exit, or the deadline. */
function stopConditions(tor: TorProcess, deadline: number, signal: AbortSignal | undefined): { stopped: Promise<Stop>; dispose: () => void } {
  let dispose = (): void => undefined;
  const stopped = new Promise<Stop>((done) => {
    const timer = setTimeout(() => done({ kind: 'deadline' }), Math.max(0, deadline - Date.now()));
    const onAbort = (): void => done({ kind: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted === true) onAbort();
    void tor.exited.then((exit) => done({ kind: 'exited', exit }));
    dispose = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  });
  return { stopped, dispose };
}

class LaunchStopped extends Error {
  public constructor(public readonly stop: Stop) {
    super('launch stopped');
  }
}

/** `work`, unless a stop condition comes first (then LaunchStopped). */
async function unlessStopped<T>(stopped: Promise<Stop>, work: Promise<T>): Promise<T> {
  work.catch(() => undefined); // observed below, or abandoned when a stop wins
  const outcome = await Promise.race([work.then((value) => ({ value })), stopped.then((stop) => ({ stop }))]);
  if ('stop' in outcome) throw new LaunchStopped(outcome.stop);
  return outcome.value;
}

async function readControlPort(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^PORT=127\.0\.0\.1:(\d{1,5})\s*$/m.exec(text);
  const port = Number(m?.[1]);
  return m !== null && port >= 1 && port <= 65535 ? port : undefined;
}

async function pollUntil<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

function parseBootstrap(text: string): TorBootstrapProgress | undefined {
  const args = parseReplyArgs(text);
  const progress = Number.parseInt(args.values.get('PROGRESS') ?? '', 10);
  if (!Number.isInteger(progress) || progress < 0 || progress > 100) return undefined;
  const warning = args.values.get('WARNING');
  return {
    progress,
    tag: args.values.get('TAG') ?? '',
    summary: args.values.get('SUMMARY') ?? '',
    ...(warning !== undefined ? { warning: sanitize(warning) } : {}),
  };
}

/** The first SOCKS listener tor reports on our loopback address. */
async function socksPortOf(control: TorControlClient): Promise<number> {
  const raw = (await control.getInfo(['net/listeners/socks'])).get('net/listeners/socks') ?? '';
  const m = /"?127\.0\.0\.1:(\d{1,5})"?/.exec(raw);
  const port = Number(m?.[1]);
  if (m === null || port < 1 || port > 65535) throw new TorLaunchError('tor reports no SOCKS listener on 127.0.0.1');
  return port;
}

// ---------------------------------------------------------------------------------------------
// launch
// ---------------------------------------------------------------------------------------------

/**
 * Start a managed tor and wait until it has bootstrapped (100 %). Rejects with TorConfigError
 * (a bad setting; nothing is started), TorNotFoundError, TorLaunchError (tor could not start or
 * exited; the message quotes its warnings), TorBootstrapTimeoutError or TorAbortedError; in
 * every case a tor that was started has been stopped again.
 */
export async function launchTor(options: LaunchTorOptions): Promise<ManagedTor> {
  if (isAborted(options.signal)) throw new TorAbortedError();
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) throw new TorConfigError('tor data directory: must be a path');
  const dataDir = resolve(options.dataDir);
  const paths = managedTorPaths(dataDir);
  const binary = await findTorBinary(options.torBinary);
  const transportPlugin = await transportPluginFor(options);
  // Generated (and so validated) before anything is written or started.
  const torrc = managedTorrc({
    dataDirectory: dataDir,
    owningPid: process.pid,
    bridges: options.bridges,
    transportPlugin,
    extraLines: options.torrcLines,
    controlPort: options.controlPort,
    socksPort: options.socksPort,
  });

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700); // mkdir leaves an existing directory's mode alone; tor insists
  await writeFile(paths.torrc, torrc, { mode: 0o600 });
  await chmod(paths.torrc, 0o600);
  await verifyConfig(binary, paths);
  if (isAborted(options.signal)) throw new TorAbortedError();

  const busyUntil = Date.now() + (options.dataDirBusyWaitMs ?? DEFAULT_DATA_DIR_BUSY_WAIT_MS);
  for (;;) {
    try {
      return await startTor(binary, paths, options);
    } catch (err) {
      // No tight loop: tor itself waited 5 s for the lock before giving up.
      if (!(err instanceof TorDataDirectoryBusyError) || Date.now() >= busyUntil || isAborted(options.signal)) throw err;
    }
  }
}

/** One tor process from spawn to 100 % bootstrapped (or failed, and stopped). */
async function startTor(binary: string, paths: ManagedTorPaths, options: LaunchTorOptions): Promise<ManagedTor> {
  // A file from an earlier run or try would point at a port nobody (or something else) listens on.
  await rm(paths.controlPortFile, { force: true });
  const startedAt = Date.now();
  const logStart = await sizeOf(paths.logFile);
  const tor = await TorProcess.spawn(binary, paths);
  const graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const startDeadline = startedAt + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  const bootstrapDeadline = startedAt + (options.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS);
  let control: TorControlClient | undefined;
  let last: TorBootstrapProgress | undefined;
  let phase = 'start';
  const conditions = stopConditions(tor, Math.min(startDeadline, bootstrapDeadline), options.signal);
  let bootstrapConditions: ReturnType<typeof stopConditions> | undefined;
  try {
    const controlPort = await unlessStopped(
      conditions.stopped,
      pollUntil(() => readControlPort(paths.controlPortFile)),
    );
    control = await unlessStopped(conditions.stopped, TorControlClient.connect({ host: MANAGED_TOR_HOST, port: controlPort }));
    const client = control;
    await unlessStopped(conditions.stopped, client.authenticate({ cookieFile: paths.cookieFile }));
    // From here tor exits when this connection closes, e.g. when our process dies.
    await unlessStopped(conditions.stopped, client.command('TAKEOWNERSHIP'));
    const version = (await unlessStopped(conditions.stopped, client.getInfo(['version']))).get('version') ?? '';
    conditions.dispose();

    phase = 'bootstrap';
    bootstrapConditions = stopConditions(tor, bootstrapDeadline, options.signal);
    const done = new Promise<void>((finish) => {
      const report = (next: TorBootstrapProgress | undefined): void => {
        if (next === undefined || (last !== undefined && next.progress < last.progress)) return;
        const changed = last === undefined || next.progress !== last.progress || next.tag !== last.tag || next.warning !== last.warning;
        if (changed) {
          last = next;
          try {
            options.onProgress?.(next);
          } catch {
            // The caller's display bug must not abort the launch.
          }
        }
        if (next.progress === 100) finish();
      };
      client.onEvent((event) => {
        const text = event.lines[0]?.text ?? '';
        if (text.startsWith('STATUS_CLIENT ') && text.includes(' BOOTSTRAP ')) report(parseBootstrap(text));
      });
      // Events cover every change; the poll covers the phase before the subscription and any
      // event tor might coalesce.
      const poll = async (): Promise<void> => {
        while (!client.closed) {
          const raw = (await client.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '';
          report(parseBootstrap(raw));
          if (last?.progress === 100) return;
          await new Promise((wake) => setTimeout(wake, BOOTSTRAP_POLL_MS));
        }
      };
      poll().catch(() => undefined);
    });
    await unlessStopped(bootstrapConditions.stopped, client.setEvents(['STATUS_CLIENT']));
    await unlessStopped(bootstrapConditions.stopped, done);
    await client.setEvents([]);
    const socksPort = await unlessStopped(bootstrapConditions.stopped, socksPortOf(client));
    bootstrapConditions.dispose();
    return managedTor(tor, client, { version, controlPort, socksPort, paths, graceMs, options });
  } catch (err) {
    conditions.dispose();
    bootstrapConditions?.dispose();
    await control?.close().catch(() => undefined);
    await tor.stop(graceMs);
    throw await launchFailure(err, { phase, last, logStart }, paths, options);
  }
}

/** A function, so that TypeScript does not keep a narrowing of `aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

async function launchFailure(
  err: unknown,
  { phase, last, logStart }: { phase: string; last: TorBootstrapProgress | undefined; logStart: number },
  paths: ManagedTorPaths,
  options: LaunchTorOptions,
): Promise<Error> {
  // tor may open its control port before it finds the lock taken, so this failure can come as
  // an exit or as a control connection that broke.
  if (phase === 'start' && !(err instanceof LaunchStopped && err.stop.kind === 'aborted') && (await torLogged(paths.logFile, logStart, DATA_DIR_LOCKED))) {
    return new TorDataDirectoryBusyError(
      `another tor is still using ${paths.dataDirectory} (the tor of an earlier run that has not exited yet?); stop it, or wait and try again`,
    );
  }
  const complaints = explain(await torComplaints([paths.logFile, paths.stdoutFile]));
  if (!(err instanceof LaunchStopped)) {
    if (err instanceof TorLaunchError) return err;
    return new TorLaunchError(`tor started but could not be controlled (${(err as Error).message})${complaints}`, { cause: err });
  }
  const where = last === undefined ? '' : ` (bootstrap at ${last.progress} %: ${sanitize(last.summary)})`;
  switch (err.stop.kind) {
    case 'aborted':
      return new TorAbortedError(`launching tor was aborted${where}`);
    case 'exited': {
      const { code, signal } = err.stop.exit;
      return new TorLaunchError(`tor exited during ${phase} (${signal ?? `code ${code}`})${where}${complaints}`);
    }
    default: {
      if (phase === 'start') {
        return new TorLaunchError(`tor did not open its control port within ${options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms${complaints}`);
      }
      const ms = options.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS;
      return new TorBootstrapTimeoutError(`tor did not finish bootstrapping within ${ms} ms${where}${complaints}`);
    }
  }
}

function managedTor(
  tor: TorProcess,
  control: TorControlClient,
  info: { version: string; controlPort: number; socksPort: number; paths: ManagedTorPaths; graceMs: number; options: LaunchTorOptions },
): ManagedTor {
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    // Closing the owning connection alone would end tor too; the signal makes it certain.
    await control.close().catch(() => undefined);
    await tor.stop(info.graceMs);
  };
  return {
    pid: tor.pid,
    version: info.version,
    controlHost: MANAGED_TOR_HOST,
    controlPort: info.controlPort,
    socksHost: MANAGED_TOR_HOST,
    socksPort: info.socksPort,
    cookieFile: info.paths.cookieFile,
    dataDir: info.paths.dataDirectory,
    logFile: info.paths.logFile,
    exited: tor.exited,
    torACNOptions: (extra = {}) => ({
      controlHost: MANAGED_TOR_HOST,
      controlPort: info.controlPort,
      socksHost: MANAGED_TOR_HOST,
      socksPort: info.socksPort,
      cookieFile: info.paths.cookieFile,
      ...extra,
    }),
    bootstrapStatus: async () => {
      const raw = (await control.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '';
      const phase = parseBootstrap(raw);
      if (phase === undefined) throw new TorLaunchError('tor reported a malformed bootstrap phase');
      return phase;
    },
    stop: () => (stopping ??= stop()),
    relaunch: (relaunchOptions = {}) =>
      launchTor({
        ...info.options,
        controlPort: info.controlPort,
        socksPort: info.socksPort,
        // Progress is for the first start (CLI output); a relaunch shows in TorACN's status.
        onProgress: undefined,
        signal: relaunchOptions.signal,
      }),
  };
}

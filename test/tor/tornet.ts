/**
 * Test fixture: a private Tor network (test/tor/tornet.sh) for integration tests.
 *
 *   const net = await startTorNetwork();          // ~15–30 s on 2 cores
 *   const [a, b] = createTorAcnPair(net);         // TorACN on client0 and client1
 *   …
 *   await a.close(); await b.close(); await net.stop();
 *
 * The tors get __OwningControllerProcess = this process, so they exit by themselves (~15 s)
 * if the test runner dies without calling stop().
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorACN, type TorACNOptions } from '../../packages/tapir/src/acn/tor-acn.js';
import { TorControlClient, type TorAuthOptions } from '../../packages/tapir/src/acn/tor-control.js';

export const TORNET_SCRIPT = fileURLToPath(new URL('./tornet.sh', import.meta.url));

export interface TorNetworkClient {
  readonly name: string;
  readonly socksPort: number;
  readonly controlPort: number;
  /** null when the network uses TORNET_CONTROL_PASSWORD instead of cookies. */
  readonly cookieFile: string | null;
  readonly dataDir: string;
  readonly log: string;
}

export interface TorNetwork {
  readonly dir: string;
  readonly host: string;
  readonly basePort: number;
  /** Seconds the script took from start to "every client ready", as it measured. */
  readonly bootstrapSeconds: number;
  readonly clients: readonly TorNetworkClient[];
  /** The script's own output (progress lines and timings). */
  readonly output: string;
  stop(): Promise<void>;
}

export interface StartTorNetworkOptions {
  /** Use this directory (keys are reused across starts); default: a fresh temp dir, removed on stop. */
  readonly dir?: string;
  /** First of the 3 × (authorities + relays + clients) consecutive ports; default: a free range. */
  readonly basePort?: number;
  /** Seconds to wait for readiness (the script's TORNET_TIMEOUT, default 180). */
  readonly timeoutSeconds?: number;
  /** Extra TORNET_* settings (TORNET_AUTHS, TORNET_CLIENTS, …). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Thrown when the machine has no tor: tests that need it must fail, not skip. */
export class TorNotInstalledError extends Error {
  public constructor(what: string) {
    super(
      `${what} is not installed or not on PATH; the Tor integration tests need the Debian 'tor' package ` +
        `(apt-get install -y tor), which provides tor and tor-gencert`,
    );
    this.name = 'TorNotInstalledError';
  }
}

const PORTS_PER_NODE = 3;

/** Full path of an executable on PATH or in the usual sbin dirs (Debian puts tor in /usr/sbin,
 * which is not on a non-root user's PATH). */
async function findBinary(name: string): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d.length > 0);
  for (const dir of [...dirs, '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Paths of tor and tor-gencert; throws TorNotInstalledError if either is missing. */
export async function assertTorInstalled(): Promise<{ tor: string; gencert: string }> {
  const tor = await resolveBinary('tor', process.env['TORNET_TOR']);
  const gencert = await resolveBinary('tor-gencert', process.env['TORNET_GENCERT']);
  return { tor, gencert };
}

async function resolveBinary(name: string, override: string | undefined): Promise<string> {
  const path = override ?? (await findBinary(name));
  if (path === undefined) throw new TorNotInstalledError(name);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new TorNotInstalledError(`${name} (${path})`);
  }
  return path;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A random run of `count` ports that are free right now (above the usual ephemeral range start). */
export async function findFreePortRange(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error(`no run of ${count} free loopback ports found`);
}

function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [TORNET_SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

interface NetworkJson {
  readonly host: string;
  readonly basePort: number;
  readonly bootstrapSeconds: number;
  readonly clients: TorNetworkClient[];
}

/** Start a private network (5 authorities + 2 clients by default) and wait until it is ready. */
export async function startTorNetwork(options: StartTorNetworkOptions = {}): Promise<TorNetwork> {
  const binaries = await assertTorInstalled();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tornet-')));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TORNET_TOR: binaries.tor,
    TORNET_GENCERT: binaries.gencert,
    ...options.env,
    TORNET_OWNER_PID: String(process.pid),
  };
  if (options.timeoutSeconds !== undefined) env['TORNET_TIMEOUT'] = String(options.timeoutSeconds);
  const nodes = Number(env['TORNET_AUTHS'] ?? 5) + Number(env['TORNET_RELAYS'] ?? 0) + Number(env['TORNET_CLIENTS'] ?? 2);
  const basePort = options.basePort ?? (await findFreePortRange(nodes * PORTS_PER_NODE));

  const started = await runScript(['start', dir, String(basePort)], env);
  const stop = async (): Promise<void> => {
    await runScript(['stop', dir], env);
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  if (started.code !== 0) {
    await stop();
    throw new Error(`tornet.sh start failed (exit ${started.code}):\n${started.output}`);
  }
  const json = JSON.parse(await readFile(join(dir, 'network.json'), 'utf8')) as NetworkJson;
  let stopped: Promise<void> | undefined;
  return {
    dir,
    host: json.host,
    basePort: json.basePort,
    bootstrapSeconds: json.bootstrapSeconds,
    clients: json.clients,
    output: started.output,
    stop: () => (stopped ??= stop()),
  };
}

/** Control-port credentials for a client: its cookie file, or TORNET_CONTROL_PASSWORD. */
export function torControlAuth(client: TorNetworkClient): TorAuthOptions {
  if (client.cookieFile !== null) return { cookieFile: client.cookieFile };
  const password = process.env['TORNET_CONTROL_PASSWORD'];
  if (password === undefined) throw new Error('the network uses password auth but TORNET_CONTROL_PASSWORD is not set');
  return { password };
}

/** TorACN options for one client of the network. */
export function torAcnOptions(network: TorNetwork, clientIndex: number, extra: Partial<TorACNOptions> = {}): TorACNOptions {
  const client = network.clients[clientIndex];
  if (client === undefined) throw new RangeError(`the network has no client ${clientIndex}`);
  return {
    controlHost: network.host,
    controlPort: client.controlPort,
    socksHost: network.host,
    socksPort: client.socksPort,
    ...torControlAuth(client),
    ...extra,
  };
}

/** Two TorACN instances on two different client tors, for tests of peer-to-peer paths. */
export function createTorAcnPair(network: TorNetwork, extra: Partial<TorACNOptions> = {}): [TorACN, TorACN] {
  if (network.clients.length < 2) throw new RangeError('createTorAcnPair needs a network with two clients');
  return [new TorACN(torAcnOptions(network, 0, extra)), new TorACN(torAcnOptions(network, 1, extra))];
}

/** Options of each network node's torrc that belong to that node alone; everything else in a
 * client's torrc is what any tor needs to join this network. */
const NODE_OWN_OPTIONS = new Set([
  'datadirectory',
  'nickname',
  'log',
  'controlport',
  'socksport',
  'cookieauthentication',
  'hashedcontrolpassword',
  '__owningcontrollerprocess',
]);

/**
 * The torrc lines a tor needs to join this network (TestingTorNetwork, the DirAuthority lines,
 * the path settings …), read from the network's own generated torrc of client `clientIndex`,
 * without that client's ports, directories, credentials and owner.
 */
export async function torNetworkClientTorrcLines(network: TorNetwork, clientIndex = 0): Promise<string[]> {
  const client = network.clients[clientIndex];
  if (client === undefined) throw new RangeError(`the network has no client ${clientIndex}`);
  const text = await readFile(join(client.dataDir, 'torrc'), 'utf8');
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .filter((line) => !NODE_OWN_OPTIONS.has(line.split(' ', 1)[0]!.toLowerCase()));
  if (!lines.some((line) => line.startsWith('DirAuthority '))) throw new Error(`${client.name}'s torrc has no DirAuthority lines`);
  return lines;
}

export interface TorBridge {
  /** `127.0.0.1:<ORPort> <fingerprint>`: a plain bridge line. */
  readonly plainLine: string;
  /** `obfs4 127.0.0.1:<port> <fingerprint> cert=… iat-mode=0`, when started with obfs4. */
  readonly obfs4Line: string | undefined;
  readonly fingerprint: string;
  readonly pid: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface StartTorBridgeOptions {
  /** Path of obfs4proxy (or lyrebird) to also serve obfs4; plain bridge only when unset. */
  readonly obfs4Plugin?: string;
  /** Seconds to wait for the bridge to be usable (default 120). */
  readonly timeoutSeconds?: number;
}

/**
 * A bridge relay for this network: a relay with `BridgeRelay 1` and `PublishServerDescriptor 0`,
 * so it is in no consensus and only clients given its bridge line know it. Ready once it has
 * bootstrapped on the network (it serves clients the directory it fetched) and, with obfs4,
 * once its obfs4 port accepts connections and its bridge line (cert) is written. Its files live
 * under the network's directory; stop() it before the network's stop() removes that.
 */
export async function startTorBridge(network: TorNetwork, options: StartTorBridgeOptions = {}): Promise<TorBridge> {
  const { tor } = await assertTorInstalled();
  const dataDir = join(network.dir, `bridge-${process.pid}-${Date.now()}`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const orPort = await findFreePortRange(2);
  const obfs4Port = orPort + 1;
  const host = network.host;
  const torrc = [
    ...(await torNetworkClientTorrcLines(network)),
    `DataDirectory ${dataDir}`,
    'Nickname tornetbridge',
    `Log notice file ${join(dataDir, 'notice.log')}`,
    `ControlPort ${host}:auto`,
    `ControlPortWriteToFile ${join(dataDir, 'control-port')}`,
    'CookieAuthentication 1',
    'SocksPort 0',
    `ORPort ${host}:${orPort}`,
    `Address ${host}`,
    'AssumeReachable 1',
    'ExitRelay 0',
    'BridgeRelay 1',
    'BridgeDistribution none',
    'PublishServerDescriptor 0',
    'ContactInfo tornet test bridge <nobody@localhost>',
    'MaxConsensusAgeForDiffs 2 minutes',
    `__OwningControllerProcess ${process.pid}`,
    ...(options.obfs4Plugin !== undefined
      ? [`ServerTransportPlugin obfs4 exec ${options.obfs4Plugin}`, `ServerTransportListenAddr obfs4 ${host}:${obfs4Port}`, 'ExtORPort auto']
      : []),
  ];
  await writeFile(join(dataDir, 'torrc'), `${torrc.join('\n')}\n`, { mode: 0o600 });
  const out = await open(join(dataDir, 'stdout.log'), 'w');
  const child = spawn(tor, ['--defaults-torrc', '/dev/null', '-f', join(dataDir, 'torrc')], { stdio: ['ignore', out.fd, out.fd], detached: true });
  await out.close();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => (exited = true));
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const killed = await Promise.race([exit.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000))]);
    if (!killed && !exited) child.kill('SIGKILL');
    await exit;
  };

  const deadline = Date.now() + (options.timeoutSeconds ?? 120) * 1000;
  const logTail = async (): Promise<string> => (await readFile(join(dataDir, 'notice.log'), 'utf8').catch(() => '')).split('\n').slice(-25).join('\n');
  /** Poll `probe` every 250 ms until it returns a value; fail on exit or the deadline. */
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    for (;;) {
      if (exited) throw new Error(`the bridge tor exited while waiting for ${what}:\n${await logTail()}`);
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`the bridge was not ready (${what}) in time:\n${await logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  try {
    const fingerprint = await until('its fingerprint', async () => /^\S+ ([0-9A-F]{40})\s*$/.exec(await readFile(join(dataDir, 'fingerprint'), 'utf8'))?.[1]);
    const controlPort = await until('its control port', async () => {
      const m = /PORT=[\d.]+:(\d+)/.exec(await readFile(join(dataDir, 'control-port'), 'utf8'));
      return m === null ? undefined : Number(m[1]);
    });
    const control = await TorControlClient.connect({ host, port: controlPort });
    try {
      await control.authenticate({ cookieFile: join(dataDir, 'control_auth_cookie') });
      await until('bootstrap', async () => ((await control.bootstrapPhase()).progress === 100 ? true : undefined));
    } finally {
      await control.close();
    }
    let obfs4Line: string | undefined;
    if (options.obfs4Plugin !== undefined) {
      const line = await until('the obfs4 bridge line', async () => {
        const text = await readFile(join(dataDir, 'pt_state', 'obfs4_bridgeline.txt'), 'utf8');
        return /^Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> (cert=\S+ iat-mode=\d)\s*$/m.exec(text)?.[1];
      });
      await until('the obfs4 port', () => portFree(obfs4Port).then((free) => (free ? undefined : true)));
      obfs4Line = `obfs4 ${host}:${obfs4Port} ${fingerprint} ${line}`;
    }
    return { plainLine: `${host}:${orPort} ${fingerprint}`, obfs4Line, fingerprint, pid: child.pid!, dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

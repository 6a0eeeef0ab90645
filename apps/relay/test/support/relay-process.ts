import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseOnionName, type OnionName } from '@pursuance/crypto';

/** The built daemon (vitest's globalSetup runs `tsc -b` first). */
export const RELAY_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface RelayProcess {
  readonly child: ChildProcess;
  readonly bundle: string;
  readonly boardOnion: OnionName;
  readonly tokenOnion: OnionName;
  readonly metricsUrl: string | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null if killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Signal and wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Prometheus text from the metrics endpoint. */
  metrics(): Promise<string>;
}

export interface RelayProcessOptions {
  readonly dataDir: string;
  readonly registryDir: string;
  readonly password?: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

function spawnRelay(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null>; onOut: (cb: () => void) => void } {
  const child = spawn(process.execPath, [RELAY_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited, onOut: (cb) => listeners.push(cb) };
}

function relayArgs(options: RelayProcessOptions): string[] {
  return ['--data-dir', options.dataDir, '--loopback-registry', options.registryDir, '--metrics-port', '0', '--pow-difficulty', '2', ...(options.args ?? [])];
}

function relayEnv(options: RelayProcessOptions): NodeJS.ProcessEnv {
  return { PURSUANCE_RELAY_PASSWORD: options.password ?? 'relay password 1', ...options.env };
}

/** Start the daemon and wait for its "ready" line (rejects with its stderr if it exits first). */
export async function startRelayProcess(options: RelayProcessOptions): Promise<RelayProcess> {
  const p = spawnRelay(relayArgs(options), relayEnv(options));
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (/^ready$/m.test(p.out())) resolve();
    };
    p.onOut(check);
    void p.exited.then((code) => reject(new Error(`relay exited (${code}) before ready: ${p.err()}`)));
  });
  const line = (name: string): string | undefined => new RegExp(`^${name} (\\S+)$`, 'm').exec(p.out())?.[1];
  const metricsUrl = line('metrics');
  return {
    child: p.child,
    bundle: line('key-bundle')!,
    boardOnion: parseOnionName(line('board')!),
    tokenOnion: parseOnionName(line('token-service')!),
    metricsUrl,
    stdout: p.out,
    stderr: p.err,
    exited: p.exited,
    async stop(signal = 'SIGTERM') {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
      return p.exited;
    },
    async metrics() {
      if (metricsUrl === undefined) throw new Error('metrics are disabled');
      return (await fetch(metricsUrl)).text();
    },
  };
}

/** Run the daemon to completion (for --help, usage errors, wrong passwords…). */
export async function runRelay(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnRelay(args, env);
  const code = await p.exited;
  return { code, stdout: p.out(), stderr: p.err() };
}

/** One metric's value from Prometheus text (labels as written, e.g. `{outcome="stored"}`). */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels}`.replace(/[{}"=,]/g, (c) => `\\${c}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

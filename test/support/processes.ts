import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `pursuance` everyone runs: the CLI bundled by apps/cli/bundle.mjs (`npm run build`; the system tests' global setup). */
export const CLI = fileURLToPath(new URL('../../apps/cli/dist/bundle/pursuance.mjs', import.meta.url));
/** tsc's output the bundle is made from: spawned only to compare it with the bundle. */
export const UNBUNDLED_CLI = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));

export interface Spawned {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<RegExpExecArray>;
  stdout(): string;
  stderr(): string;
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const m = w.pattern.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`process exited (${code}) before printing ${w.pattern}: ${err}`));
  });
  return {
    child,
    waitForLine: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve, reject });
        check();
      }),
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Run the CLI to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnCli(args, env);
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
  // Let the pipes flush.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * A relay daemon process (`pursuance relay start`) on the loopback network of `registryDir`,
 * with test settings (PoW difficulty 1, no metrics port); resolves once it is ready, with the
 * key bundle members pin.
 */
export async function startRelayProcess(dataDir: string, registryDir: string): Promise<{ relay: Spawned; bundle: string }> {
  const relay = spawnCli(['relay', 'start', '--data-dir', dataDir, '--loopback-registry', registryDir, '--pow-difficulty', '1', '--no-metrics'], {
    PURSUANCE_RELAY_PASSWORD: 'relay password',
  });
  try {
    const bundle = (await relay.waitForLine(/key-bundle (\S+)\n/))[1]!;
    await relay.waitForLine(/^ready$/m);
    return { relay, bundle };
  } catch (err) {
    await relay.stop();
    throw err;
  }
}

/**
 * launchTor's process handling, without a Tor network: fake tor binaries (scripts) for the
 * failure paths, and the real tor with `DisableNetwork 1` (it starts, opens its control port and
 * stays at 0 %) for the bootstrap timeout, abort and cleanup. The real-tor tests FAIL without
 * the Debian `tor` package (TorNotFoundError), like the system tests; bootstrapping to 100 % is
 * covered on the private network in test/system/managed-tor.test.ts.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TorAbortedError, TorBootstrapTimeoutError, TorConfigError, TorDataDirectoryBusyError, TorLaunchError, TorNotFoundError } from '../src/errors.js';
import { findTorBinary, launchTor, type TorBootstrapProgress } from '../src/acn/managed-tor.js';
import { isAlive } from './support/process-alive.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'managed-tor-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** PIDs of live processes whose command line mentions `needle` (a data directory). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ');
      const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** A stand-in for tor: `--verify-config` runs `verify`, a real start runs `start`. */
async function fakeTor(name: string, verify: string, start: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, `#!/bin/bash\nfor a in "$@"; do if [ "$a" = --verify-config ]; then\n${verify}\nfi; done\n${start}\n`);
  await chmod(path, 0o755);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('findTorBinary', () => {
  it('fails with TorNotFoundError and an install hint when there is no such binary', async () => {
    for (const name of ['no-such-tor-binary-xyz', join(root, 'missing', 'tor')]) {
      const err = await rejection(findTorBinary(name));
      expect(err).toBeInstanceOf(TorNotFoundError);
      expect((err as TorNotFoundError).code).toBe('TOR_NOT_FOUND');
      expect(err.message).toContain('apt-get install tor');
    }
  });

  it('refuses a file that is not executable, and names with line breaks', async () => {
    const plain = join(root, 'not-executable');
    await writeFile(plain, '#!/bin/sh\n');
    expect(await rejection(findTorBinary(plain))).toBeInstanceOf(TorNotFoundError);
    expect(await rejection(findTorBinary('tor\nx'))).toBeInstanceOf(TorConfigError);
  });

  it('finds the installed tor (on PATH or in /usr/sbin)', async () => {
    expect(await findTorBinary()).toMatch(/\/tor$/);
  });
});

describe('launchTor with a fake tor', () => {
  it('checks every setting before creating or starting anything', async () => {
    const dataDir = join(root, 'never-created');
    const bad = [
      { torrcLines: ['ControlPort 9051'] },
      { torrcLines: ['Nickname x\nControlPort 9051'] },
      { bridges: ['bridge.example:443'] },
      { bridges: [`obfs4 192.0.2.1:443 ${'A'.repeat(40)} cert=x`], transportPlugin: 'obfs4 exec relative/path' },
    ];
    for (const options of bad) {
      const err = await rejection(launchTor({ dataDir, torBinary: '/bin/true', ...options }));
      expect(err).toBeInstanceOf(TorConfigError);
    }
    await expect(stat(dataDir)).rejects.toThrow();
    expect(await rejection(launchTor({ dataDir, torBinary: join(root, 'no-tor') }))).toBeInstanceOf(TorNotFoundError);
    const aborted = new AbortController();
    aborted.abort();
    expect(await rejection(launchTor({ dataDir, torBinary: '/bin/true', signal: aborted.signal }))).toBeInstanceOf(TorAbortedError);
    await expect(stat(dataDir)).rejects.toThrow();
  });

  it('reports a configuration tor refuses as TorConfigError quoting tor, without starting it', async () => {
    const marker = join(root, 'badconfig-started');
    const bin = await fakeTor(
      'tor-badconfig',
      `echo "Dec 03 08:00:00.000 [warn] Failed to parse/validate config: Unknown option 'Frobnicate'.  Failing."; exit 1`,
      `touch ${marker}; exit 0`,
    );
    const err = await rejection(launchTor({ dataDir: join(root, 'badconfig'), torBinary: bin }));
    expect(err).toBeInstanceOf(TorConfigError);
    expect(err.message).toContain("Unknown option 'Frobnicate'");
    await expect(stat(marker)).rejects.toThrow();
  });

  it('reports a tor that exits at start as TorLaunchError with its warnings, bridge certificates redacted', async () => {
    const bin = await fakeTor(
      'tor-exits',
      'exit 0',
      `echo "Dec 03 08:00:00.000 [warn] You are running Tor as root."; echo "Dec 03 08:00:00.000 [warn] Bridge cert=SECRETCERTSECRETCERT1234 refused"; echo "[err] Reading config failed"; exit 3`,
    );
    const dataDir = join(root, 'exits');
    const err = await rejection(launchTor({ dataDir, torBinary: bin }));
    expect(err).toBeInstanceOf(TorLaunchError);
    expect((err as TorLaunchError).code).toBe('TOR_LAUNCH');
    expect(err.message).toContain('code 3');
    expect(err.message).toContain('Reading config failed');
    expect(err.message).not.toContain('SECRETCERT');
    expect(err.message).not.toContain('as root');
    // tor's output is kept in its data directory, private to us.
    expect(await readFile(join(dataDir, 'tor-output.log'), 'utf8')).toContain('Reading config failed');
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'torrc'))).mode & 0o777).toBe(0o600);
  });

  it('kills a tor that never opens its control port, and says so', async () => {
    const pidFile = join(root, 'hang.pid');
    const bin = await fakeTor('tor-hangs', 'exit 0', `echo $$ > ${pidFile}; exec sleep 600`);
    const err = await rejection(launchTor({ dataDir: join(root, 'hangs'), torBinary: bin, startTimeoutMs: 1500, stopGraceMs: 2000 }));
    expect(err).toBeInstanceOf(TorLaunchError);
    expect(err.message).toMatch(/control port within 1500 ms/);
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });
});

describe('launchTor with the real tor, offline (DisableNetwork 1)', () => {
  it('gives up after the bootstrap timeout with the last progress, and leaves no tor running', async () => {
    const dataDir = join(root, 'offline-timeout');
    const seen: TorBootstrapProgress[] = [];
    const err = await rejection(launchTor({ dataDir, torrcLines: ['DisableNetwork 1'], bootstrapTimeoutMs: 10_000, onProgress: (p) => seen.push(p) }));
    expect(err).toBeInstanceOf(TorBootstrapTimeoutError);
    expect((err as TorBootstrapTimeoutError).code).toBe('TOR_BOOTSTRAP_TIMEOUT');
    expect(err.message).toContain('bootstrap at 0 %');
    expect(seen[0]).toMatchObject({ progress: 0, tag: 'starting' });
    expect(await processesMentioning(dataDir)).toEqual([]);
    // tor's own log stays in its data directory.
    expect(await readFile(join(dataDir, 'notice.log'), 'utf8')).toContain('Bootstrapped 0%');
  }, 60_000);

  it('stops tor when the launch is aborted mid-bootstrap, ignoring a stale control-port file and a throwing progress callback', async () => {
    const dataDir = join(root, 'offline-abort');
    // A leftover from an earlier run pointing at a port nobody should trust.
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(join(dataDir, 'control-port'), 'PORT=127.0.0.1:1\n');
    const abort = new AbortController();
    let calls = 0;
    const err = await rejection(
      launchTor({
        dataDir,
        torrcLines: ['DisableNetwork 1'],
        signal: abort.signal,
        onProgress: () => {
          calls++;
          abort.abort();
          throw new Error('a display bug');
        },
      }),
    );
    expect(err).toBeInstanceOf(TorAbortedError);
    expect((err as TorAbortedError).code).toBe('TOR_ABORTED');
    expect(calls).toBe(1);
    expect(await processesMentioning(dataDir)).toEqual([]);
  }, 60_000);

  /** A tor left over from an earlier run: it holds `dataDir`'s lock until killed. */
  async function staleTor(dataDir: string): Promise<{ kill(): void; exited: Promise<void> }> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const torrc = join(root, `${dataDir.split('/').pop()}-stale.torrc`);
    await writeFile(torrc, `DataDirectory ${dataDir}\nSocksPort 0\nDisableNetwork 1\nLog notice file ${dataDir}/stale.log\n`);
    const child = spawn(await findTorBinary(), ['--defaults-torrc', '/dev/null', '-f', torrc], { stdio: 'ignore' });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    // Holding the lock: tor logs its start-up once it has taken it.
    for (let i = 0; i < 200 && !(await readFile(join(dataDir, 'stale.log'), 'utf8').catch(() => '')).includes('DisableNetwork is set'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return { kill: () => child.kill('SIGKILL'), exited };
  }

  it('waits for the tor of an earlier run to let go of the data directory, then starts', async () => {
    const dataDir = join(root, 'busy-then-free');
    const stale = await staleTor(dataDir);
    let killedAt = 0;
    // Longer than tor's own 5 s wait, so at least one start fails on the lock and is tried again.
    const timer = setTimeout(() => {
      killedAt = Date.now();
      stale.kill();
    }, 7_000);
    try {
      const err = await rejection(launchTor({ dataDir, torrcLines: ['DisableNetwork 1'], bootstrapTimeoutMs: 15_000 }));
      // Past the lock: it started and was controlled, then (offline) timed out bootstrapping.
      expect(err, err.message).toBeInstanceOf(TorBootstrapTimeoutError);
      expect(killedAt).toBeGreaterThan(0);
      const log = await readFile(join(dataDir, 'notice.log'), 'utf8');
      expect(log).toContain('another Tor process is running with the same data directory');
      expect(log).toContain('Bootstrapped 0%');
    } finally {
      clearTimeout(timer);
      stale.kill();
      await stale.exited;
    }
    expect(await processesMentioning(dataDir)).toEqual([]);
  }, 90_000);

  it('gives up with TorDataDirectoryBusyError when the other tor keeps the data directory', async () => {
    const dataDir = join(root, 'busy');
    const stale = await staleTor(dataDir);
    try {
      const err = await rejection(launchTor({ dataDir, torrcLines: ['DisableNetwork 1'], dataDirBusyWaitMs: 1 }));
      expect(err).toBeInstanceOf(TorDataDirectoryBusyError);
      expect(err).toBeInstanceOf(TorLaunchError);
      expect((err as TorLaunchError).code).toBe('TOR_LAUNCH');
      expect(err.message).toContain(`another tor is still using ${dataDir}`);
      // The other tor is not ours to stop; only our attempt is gone.
      expect(await processesMentioning(`${dataDir}/torrc`)).toEqual([]);
    } finally {
      stale.kill();
      await stale.exited;
    }
  }, 60_000);

  it('reports an option the real tor does not know as TorConfigError', async () => {
    const err = await rejection(launchTor({ dataDir: join(root, 'offline-unknown'), torrcLines: ['FrobnicateTheNetwork 1'] }));
    expect(err).toBeInstanceOf(TorConfigError);
    expect(err.message).toContain('FrobnicateTheNetwork');
  }, 60_000);
});

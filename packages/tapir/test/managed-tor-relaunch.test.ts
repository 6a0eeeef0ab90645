/**
 * ManagedTorACN keeping its tor alive, without a Tor network: a fake tor binary (a node script
 * that reads the generated torrc, binds the ports it names and speaks enough of the control
 * protocol for launchTor and TorACN) is killed, relaunched on the same ports, made to fail so
 * that the backoff shows, kept from its port, and left mid-relaunch by close().
 * What the fake does on its next start is read from `fake-mode` in its DataDirectory.
 * The same against the real tor on the private network: test/system/managed-tor.test.ts.
 */
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TorStatus } from '../src/acn/acn.js';
import { openAcn } from '../src/acn/acn-config.js';
import { launchTor } from '../src/acn/managed-tor.js';
import { ManagedTorACN, type ManagedTorACNOptions, type RelaunchEvent } from '../src/acn/managed-tor-acn.js';
import { isAlive } from './support/process-alive.js';

const FAKE_TOR = String.raw`
const fs = require('node:fs');
const net = require('node:net');
const crypto = require('node:crypto');
const args = process.argv.slice(2);
if (args.includes('--verify-config')) process.exit(0);
const torrc = fs.readFileSync(args[args.indexOf('-f') + 1], 'utf8');
const opt = (k) => { const m = new RegExp('^' + k + ' (.*)$', 'm').exec(torrc); return m ? m[1].replace(/^"|"$/g, '') : undefined; };
const dataDir = opt('DataDirectory');
const port = (k) => { const v = opt(k).split(':')[1]; return v === 'auto' ? 0 : Number(v); };
let mode = 'serve';
try { mode = fs.readFileSync(dataDir + '/fake-mode', 'utf8').trim(); } catch {}
fs.appendFileSync(dataDir + '/fake-launches', process.pid + ' ' + mode + ' ' + opt('ControlPort') + ' ' + opt('SocksPort') + '\n');
if (mode === 'fail') { console.log('Jan 01 00:00:00.000 [err] fake tor told to fail'); process.exit(1); }
const bootstrap = mode === 'slow' ? 'NOTICE BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting"' : 'NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"';
const cookie = crypto.randomBytes(32);
const listen = (server, p) => new Promise((ok) => {
  server.once('error', (e) => { console.log('Jan 01 00:00:00.000 [warn] Could not bind to 127.0.0.1:' + p + ': ' + e.code); process.exit(1); });
  server.listen(p, '127.0.0.1', () => ok(server.address().port));
});
(async () => {
  const socksPort = await listen(net.createServer((s) => s.destroy()), port('SocksPort'));
  const control = net.createServer((s) => {
    let buf = '';
    let owner = false;
    s.on('error', () => {});
    s.on('close', () => { if (owner) process.exit(0); });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 2);
        const [cmd, ...rest] = line.split(' ');
        const info = { version: '0.4.9.11', 'status/bootstrap-phase': bootstrap, 'status/circuit-established': '1', 'net/listeners/socks': '"127.0.0.1:' + socksPort + '"' };
        if (cmd === 'PROTOCOLINFO') s.write('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE="' + opt('CookieAuthFile') + '"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n');
        else if (cmd === 'AUTHENTICATE') { if (Buffer.from(rest[0] || '', 'hex').equals(cookie)) s.write('250 OK\r\n'); else { s.write('515 Authentication failed\r\n'); s.end(); } }
        else if (cmd === 'TAKEOWNERSHIP') { owner = true; s.write('250 OK\r\n'); }
        else if (cmd === 'GETINFO') s.write(rest.map((k) => '250-' + k + '=' + info[k] + '\r\n').join('') + '250 OK\r\n');
        else s.write('250 OK\r\n');
      }
    });
  });
  const controlPort = await listen(control, port('ControlPort'));
  fs.writeFileSync(opt('CookieAuthFile'), cookie, { mode: 0o600 });
  fs.writeFileSync(opt('ControlPortWriteToFile'), 'PORT=127.0.0.1:' + controlPort + '\n');
})();
`;

let root: string;
let fakeTor: string;
const acns: ManagedTorACN[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'managed-tor-relaunch-'));
  fakeTor = join(root, 'fake-tor');
  await writeFile(fakeTor, `#!${process.execPath}\n${FAKE_TOR}`);
  await chmod(fakeTor, 0o755);
});

afterAll(async () => {
  for (const acn of acns) await acn.close();
  await rm(root, { recursive: true, force: true });
});

/** PIDs of live fake tors started from `dataDir`. */
async function torsFrom(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (cmdline.includes(`${dataDir}/torrc`) && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) pids.push(Number(entry));
  }
  return pids;
}

interface Harness {
  readonly acn: ManagedTorACN;
  readonly dataDir: string;
  readonly events: RelaunchEvent[];
  readonly statuses: TorStatus[];
  /** Resolves with the first event (already seen or to come) that `match` accepts. */
  event(match: (e: RelaunchEvent) => boolean): Promise<RelaunchEvent>;
  status(match: (s: TorStatus) => boolean): Promise<TorStatus>;
  setMode(mode: 'serve' | 'fail' | 'slow'): Promise<void>;
  launches(): Promise<string[]>;
}

async function start(name: string, options: ManagedTorACNOptions): Promise<Harness> {
  const dataDir = join(root, name);
  const tor = await launchTor({ dataDir, torBinary: fakeTor, stopGraceMs: 2000 });
  const events: RelaunchEvent[] = [];
  const statuses: TorStatus[] = [];
  const wake = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...wake]) w();
  };
  const acn = new ManagedTorACN(
    tor,
    { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } },
    {
      ...options,
      onRelaunch: (e) => {
        events.push(e);
        notify();
      },
    },
  );
  acns.push(acn);
  acn.onStatus((s) => {
    statuses.push(s);
    notify();
  });
  const waitFor = <T>(list: T[], match: (x: T) => boolean): Promise<T> =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = list.find(match);
        if (found === undefined) return;
        wake.delete(check);
        resolve(found);
      };
      wake.add(check);
      check();
    });
  return {
    acn,
    dataDir,
    events,
    statuses,
    event: (match) => waitFor(events, match),
    status: (match) => waitFor(statuses, match),
    setMode: (mode) => writeFile(join(dataDir, 'fake-mode'), mode),
    launches: async () => (await readFile(join(dataDir, 'fake-launches'), 'utf8')).trim().split('\n'),
  };
}

describe('ManagedTorACN relaunching its tor (fake tor)', () => {
  it('relaunches a killed tor on the same ports with the same torrc, and the ACN goes down and up again', async () => {
    const h = await start('killed', { relaunch: { initialDelayMs: 50, maxDelayMs: 400 } });
    const first = h.acn.managedTor;
    await h.status((s) => s.state === 'up');
    const torrcBefore = await readFile(join(h.dataDir, 'torrc'), 'utf8');
    expect(torrcBefore).toContain('ControlPort 127.0.0.1:auto');

    process.kill(first.pid, 'SIGKILL');
    const relaunched = await h.event((e) => e.kind === 'relaunched');
    expect(relaunched).toMatchObject({ kind: 'relaunched', attempt: 1 });
    expect(h.events[0]).toMatchObject({ kind: 'exited', pid: first.pid, exit: { signal: 'SIGKILL', stopped: false } });
    const second = h.acn.managedTor;
    expect(second.pid).not.toBe(first.pid);
    expect(isAlive(second.pid)).toBe(true);
    expect([second.controlPort, second.socksPort]).toEqual([first.controlPort, first.socksPort]);
    // The learned ports are pinned in the torrc from now on; everything else is unchanged.
    const torrcAfter = await readFile(join(h.dataDir, 'torrc'), 'utf8');
    expect(torrcAfter).toContain(`ControlPort 127.0.0.1:${first.controlPort}`);
    expect(torrcAfter).toContain(`SocksPort 127.0.0.1:${first.socksPort}`);
    const normalize = (t: string): string => t.replace(/^(ControlPort|SocksPort) .*$/gm, '$1');
    expect(normalize(torrcAfter)).toBe(normalize(torrcBefore));

    const up = await h.status((s) => s.state === 'up' && s.outages === 1);
    expect(up.lastDownAt).not.toBeNull();
    expect(h.statuses.some((s) => s.state === 'down')).toBe(true);

    await h.acn.close();
    expect(isAlive(second.pid)).toBe(false);
    expect(await torsFrom(h.dataDir)).toEqual([]);
  }, 60_000);

  it('backs off, capped, while launches fail; never moves to another port; then comes back', async () => {
    const h = await start('failing', { relaunch: { initialDelayMs: 40, maxDelayMs: 320 }, random: () => 0.5 });
    const first = h.acn.managedTor;
    await h.status((s) => s.state === 'up');
    await h.setMode('fail');
    process.kill(first.pid, 'SIGKILL');
    await h.event((e) => e.kind === 'failed' && e.attempt === 6);

    // Equal jitter at r = 0.5: 3/4 of a step that doubles from 40 ms and stops at 320 ms.
    const delays = h.events.filter((e) => e.kind !== 'relaunched').map((e) => (e as { delayMs: number }).delayMs);
    expect(delays.slice(0, 7)).toEqual([30, 60, 120, 240, 240, 240, 240]);
    expect(h.events.filter((e) => e.kind === 'failed').every((e) => e.kind === 'failed' && e.code === 'TOR_LAUNCH')).toBe(true);

    // Something else takes the SOCKS port: attempts keep failing on that port rather than moving.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(first.socksPort, '127.0.0.1', resolve));
    const failedSoFar = h.events.filter((e) => e.kind === 'failed').length;
    await h.setMode('serve');
    await h.event((e) => e.kind === 'failed' && e.attempt > failedSoFar + 1);
    const complaint = await readFile(join(h.dataDir, 'tor-output.log'), 'utf8');
    expect(complaint).toContain(`Could not bind to 127.0.0.1:${first.socksPort}`);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));

    await h.event((e) => e.kind === 'relaunched');
    expect([h.acn.managedTor.controlPort, h.acn.managedTor.socksPort]).toEqual([first.controlPort, first.socksPort]);
    // Every attempt after the first launch asked for exactly the old ports.
    const launches = await h.launches();
    expect(launches.length).toBeGreaterThan(8);
    for (const line of launches.slice(1)) {
      expect(line.split(' ').slice(2)).toEqual([`127.0.0.1:${first.controlPort}`, `127.0.0.1:${first.socksPort}`]);
    }
    await h.status((s) => s.state === 'up' && s.outages === 1);
    await h.acn.close();
    expect(await torsFrom(h.dataDir)).toEqual([]);
  }, 60_000);

  it('close() during the wait before a relaunch ends at once and starts nothing', async () => {
    // A wait far longer than this test's timeout: close() must not sit it out.
    const h = await start('close-waiting', { relaunch: { initialDelayMs: 600_000, maxDelayMs: 600_000 } });
    const first = h.acn.managedTor;
    await h.status((s) => s.state === 'up');
    process.kill(first.pid, 'SIGKILL');
    await h.event((e) => e.kind === 'exited');
    await h.acn.close();
    expect(h.acn.status().state).toBe('closed');
    expect(await h.launches()).toHaveLength(1);
    expect(await torsFrom(h.dataDir)).toEqual([]);
  }, 30_000);

  it('close() during a relaunch attempt stops the tor that attempt started', async () => {
    const h = await start('close-launching', { relaunch: { initialDelayMs: 20, maxDelayMs: 20 } });
    const first = h.acn.managedTor;
    await h.status((s) => s.state === 'up');
    // The next tor opens its control port but never finishes bootstrapping.
    await h.setMode('slow');
    process.kill(first.pid, 'SIGKILL');
    let launches = await h.launches();
    while (launches.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      launches = await h.launches();
    }
    const pending = Number(launches[1]!.split(' ')[0]);
    expect(isAlive(pending)).toBe(true);
    await h.acn.close();
    expect(isAlive(pending)).toBe(false);
    expect(await torsFrom(h.dataDir)).toEqual([]);
    expect(h.events.some((e) => e.kind === 'relaunched')).toBe(false);
  }, 30_000);
});

describe('openAcn passes the relaunch hook through to a managed tor', () => {
  it('tells the program that its tor died and that it runs again', async () => {
    const dataDir = join(root, 'via-open-acn');
    const events: RelaunchEvent[] = [];
    let wake: () => void = () => undefined;
    const acn = await openAcn(
      { tor: true, torDataDir: dataDir, torBinary: fakeTor },
      {
        onRelaunch: (e) => {
          events.push(e);
          wake();
        },
      },
    );
    expect(acn).toBeInstanceOf(ManagedTorACN);
    acns.push(acn as ManagedTorACN);
    const [pid] = await torsFrom(dataDir);
    process.kill(pid!, 'SIGKILL');
    // Waits on the hook itself (no timer); the test's own timeout bounds it.
    await new Promise<void>((resolve) => {
      wake = () => {
        if (events.some((e) => e.kind === 'relaunched')) resolve();
      };
      wake();
    });
    expect(events[0]).toMatchObject({ kind: 'exited', pid });
    expect(events.at(-1)).toMatchObject({ kind: 'relaunched', attempt: 1 });
  });
});

/**
 * Managed tor (tapir launches and owns the system `tor`) on the private Tor network of
 * test/tor/tornet.sh: it joins the network through extra torrc lines read from the network's own
 * client torrc, bootstraps with reported progress, serves an onion that the network's client 1
 * reaches, and is gone after stop. Then the same through a bridge that is in no consensus: a
 * plain bridge, and obfs4 with Debian's obfs4proxy, where the managed tor's only OR connections
 * are to the bridge.
 *
 * Needs the Debian `tor` package (and `obfs4proxy` for the obfs4 test); without them the tests
 * FAIL (TorNotInstalledError / an install hint), never skip, like tor-acn.test.ts.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { openAcn } from '../../packages/tapir/src/acn/acn-config.js';
import { findExecutable, launchTor, type ManagedTor, type TorBootstrapProgress } from '../../packages/tapir/src/acn/managed-tor.js';
import { ManagedTorACN } from '../../packages/tapir/src/acn/managed-tor-acn.js';
import { TorACN } from '../../packages/tapir/src/acn/tor-acn.js';
import { TorControlClient } from '../../packages/tapir/src/acn/tor-control.js';
import { startTorBridge, startTorNetwork, torAcnOptions, torNetworkClientTorrcLines, type TorBridge, type TorNetwork } from '../tor/tornet.js';
import { echo, roundTrip } from '../tor/echo-stream.js';
import { isAlive } from '../../packages/tapir/test/support/process-alive.js';

const PORT = 9878;

/** Progress must only go up, start below 100 and end at 100 ("done"). */
function expectMonotonicToDone(seen: readonly TorBootstrapProgress[]): void {
  expect(seen.length).toBeGreaterThan(1);
  expect(seen[0]!.progress).toBeLessThan(100);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.progress).toBeGreaterThanOrEqual(seen[i - 1]!.progress);
  expect(seen.at(-1)).toMatchObject({ progress: 100, tag: 'done' });
}

describe('managed tor on a private Tor network', () => {
  let network: TorNetwork | undefined;
  let startError: unknown;
  let joinLines: string[] = [];
  let client1: TorACN | undefined;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'managed-tor-'));
    try {
      network = await startTorNetwork();
      joinLines = await torNetworkClientTorrcLines(network);
    } catch (err) {
      // Rethrown by every test: a missing tor is N failures, not N skips.
      startError = err;
      return;
    }
    console.info(`[managed-tor] private network ready in ${network.bootstrapSeconds} s`);
    client1 = new TorACN(torAcnOptions(network, 1));
  }, 240_000);

  afterAll(async () => {
    await client1?.close();
    await network?.stop();
    await rm(work, { recursive: true, force: true });
  }, 60_000);

  function net(): TorNetwork {
    if (network === undefined) throw startError instanceof Error ? startError : new Error('the Tor network did not start');
    return network;
  }

  /** Publish an echo onion through `acn` and reach it from the network's client 1. */
  async function echoFromClient1(acn: TorACN, label: string): Promise<void> {
    const identity = Identity.generate();
    const listener = await acn.listen(identity, PORT, echo);
    try {
      expect(listener.onion).toBe(identity.onion);
      const socket = await client1!.open(identity.onion, PORT, { timeoutMs: 60_000 });
      try {
        const payload = Buffer.from(`${label}: ${'x'.repeat(2000)}`);
        expect((await roundTrip(socket, payload)).equals(payload)).toBe(true);
      } finally {
        socket.destroy();
      }
    } finally {
      await listener.close();
    }
  }

  it('launches tor, bootstraps on the network with monotonic progress, serves an onion, and stops it by PID', async () => {
    net();
    const seen: TorBootstrapProgress[] = [];
    const dataDir = join(work, 'direct');
    const t0 = Date.now();
    const acn = await openAcn({ tor: true, torDataDir: dataDir, torrcLines: joinLines }, { onProgress: (p) => seen.push(p) });
    const bootstrapMs = Date.now() - t0;
    expect(acn).toBeInstanceOf(ManagedTorACN);
    const tor = (acn as ManagedTorACN).managedTor;
    let closed = false;
    try {
      expectMonotonicToDone(seen);
      expect(tor.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(isAlive(tor.pid)).toBe(true);
      expect(tor.controlPort).not.toBe(tor.socksPort);
      // Private data directory, owned by this process, cookie auth in it.
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      const torrc = await readFile(join(dataDir, 'torrc'), 'utf8');
      expect(torrc).toContain(`__OwningControllerProcess ${process.pid}`);
      expect(torrc).toContain('ExitRelay 0');
      expect(torrc).not.toMatch(/^ORPort/m);
      expect(tor.cookieFile).toBe(join(dataDir, 'control_auth_cookie'));
      expect(await acn.bootstrapStatus()).toEqual({ progress: 100, summary: 'Done' });
      console.info(`[managed-tor] managed tor ${tor.version} bootstrapped in ${bootstrapMs} ms (${seen.length} progress reports)`);

      const t1 = Date.now();
      await echoFromClient1(acn as TorACN, 'managed');
      console.info(`[managed-tor] onion on the managed tor reached from client 1 after ${Date.now() - t1} ms`);

      await acn.close();
      closed = true;
      expect(await tor.exited).toMatchObject({ stopped: true });
      expect(isAlive(tor.pid)).toBe(false);
      // stop() again is harmless.
      await tor.stop();
    } finally {
      if (!closed) await acn.close();
    }
  }, 180_000);

  it('relaunches a killed managed tor on the same ports; the same onion is reachable again from client 1', async () => {
    net();
    const dataDir = join(work, 'relaunch');
    const acn = (await openAcn({ tor: true, torDataDir: dataDir, torrcLines: joinLines })) as ManagedTorACN;
    try {
      const identity = Identity.generate();
      const listener = await acn.listen(identity, PORT, echo);
      const reach = async (label: string): Promise<void> => {
        const socket = await client1!.open(identity.onion, PORT, { timeoutMs: 60_000 });
        try {
          const payload = Buffer.from(`${label}: ${'y'.repeat(2000)}`);
          expect((await roundTrip(socket, payload)).equals(payload)).toBe(true);
        } finally {
          socket.destroy();
        }
      };
      await reach('before');
      const first = acn.managedTor;
      const upAgain = new Promise<number>((resolve) => {
        const off = acn.onStatus((s) => {
          if (s.state === 'up' && s.outages === 1) {
            off();
            resolve(Date.now());
          }
        });
      });
      const killedAt = Date.now();
      process.kill(first.pid, 'SIGKILL');
      const upAt = await upAgain;
      // TorACN is back as soon as the new tor's control port is; the swap to the new ManagedTor
      // follows once that tor has bootstrapped.
      const deadline = Date.now() + 120_000;
      while (acn.managedTor === first && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const relaunchedAt = Date.now();
      const second = acn.managedTor;
      expect(second.pid).not.toBe(first.pid);
      expect([second.controlPort, second.socksPort]).toEqual([first.controlPort, first.socksPort]);
      expect(await first.exited).toMatchObject({ signal: 'SIGKILL', stopped: false });
      // The client dials the same address; the listener object never changed.
      expect(listener.onion).toBe(identity.onion);
      // client 1's cached descriptor names the dead tor's introduction points: its first tries
      // may fail until it fetches the one the new tor published.
      const failures: string[] = [];
      for (let tries = 1; ; tries++) {
        try {
          await reach(`after, try ${tries}`);
          break;
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? (err as Error).name}: ${(err as Error).message}`);
          if (Date.now() - killedAt > 240_000) throw new Error(`the onion was not reachable again within 240 s: ${failures.join(' | ')}`, { cause: err });
          await new Promise((resolve) => setTimeout(resolve, 1000)); // pace the retries; each open() already retries
        }
      }
      const reachedAt = Date.now();
      expect(acn.status()).toMatchObject({ state: 'up', outages: 1 });
      console.info(
        `[managed-tor] SIGKILLed managed tor: control connection up again after ${upAt - killedAt} ms, relaunched tor bootstrapped by ${relaunchedAt - killedAt} ms, ` +
          `same onion reached from client 1 after ${reachedAt - killedAt} ms (${failures.length} failed tries first)`,
      );
      if (failures.length > 0) console.info(`[managed-tor] failed tries: ${failures.join(' | ')}`);
      await acn.close();
      expect(isAlive(second.pid)).toBe(false);
    } finally {
      await acn.close();
    }
  }, 360_000);

  describe('through a bridge', () => {
    let bridge: TorBridge | undefined;
    let obfs4proxy: string | undefined;

    beforeAll(async () => {
      if (network === undefined) return;
      obfs4proxy = await findExecutable('obfs4proxy');
      const t0 = Date.now();
      bridge = await startTorBridge(network, obfs4proxy !== undefined ? { obfs4Plugin: obfs4proxy } : {});
      console.info(`[managed-tor] bridge ready in ${Date.now() - t0} ms (obfs4: ${obfs4proxy !== undefined})`);
    }, 180_000);

    afterAll(async () => {
      await bridge?.stop();
    }, 60_000);

    /** Fingerprints of every OR connection and of every built circuit's first hop. */
    async function entryPoints(tor: ManagedTor): Promise<{ orconns: string[]; firstHops: string[] }> {
      const control = await TorControlClient.connect({ port: tor.controlPort });
      try {
        await control.authenticate({ cookieFile: tor.cookieFile });
        const info = await control.getInfo(['orconn-status', 'circuit-status']);
        const orconns = [...(info.get('orconn-status') ?? '').matchAll(/\$([0-9A-F]{40})/g)].map((m) => m[1]!);
        const firstHops = (info.get('circuit-status') ?? '')
          .split('\n')
          .filter((line) => / BUILT /.test(line))
          .map((line) => /BUILT \$([0-9A-F]{40})/.exec(line)?.[1] ?? `unparsed: ${line}`);
        return { orconns, firstHops };
      } finally {
        await control.close();
      }
    }

    async function bootstrapThroughBridge(line: string, name: string): Promise<TorBootstrapProgress[]> {
      const seen: TorBootstrapProgress[] = [];
      const t0 = Date.now();
      const tor = await launchTor({ dataDir: join(work, name), torrcLines: joinLines, bridges: [line], onProgress: (p) => seen.push(p) });
      const ms = Date.now() - t0;
      const acn = new ManagedTorACN(tor);
      try {
        expectMonotonicToDone(seen);
        console.info(`[managed-tor] ${name}: bootstrapped through the bridge in ${ms} ms`);
        // The bridge is in no consensus, so reaching the network at all proves it was used; and
        // every connection this tor holds, and every circuit, starts at the bridge.
        const { orconns, firstHops } = await entryPoints(tor);
        expect(orconns.length).toBeGreaterThan(0);
        expect(new Set(orconns)).toEqual(new Set([bridge!.fingerprint]));
        for (const hop of firstHops) expect(hop).toBe(bridge!.fingerprint);
        await echoFromClient1(acn, name);
        expect(new Set((await entryPoints(tor)).orconns)).toEqual(new Set([bridge!.fingerprint]));
      } finally {
        await acn.close();
      }
      expect(isAlive(tor.pid)).toBe(false);
      return seen;
    }

    it('bootstraps through a plain bridge that is in no consensus, and serves an onion through it', async () => {
      const network = net();
      // The network does not know the bridge: a client can find the network only through it.
      const control = await TorControlClient.connect({ port: network.clients[1]!.controlPort });
      try {
        await control.authenticate(torAcnOptions(network, 1));
        const consensus = (await control.getInfo(['ns/all'])).get('ns/all') ?? '';
        // Relays appear in `r` lines by the unpadded base64 of their identity digest.
        const asListed = (fingerprint: string): string => ` ${Buffer.from(fingerprint, 'hex').toString('base64').replace(/=+$/, '')} `;
        const auth0 = (await readFile(join(network.dir, 'auth0', 'fingerprint'), 'utf8')).trim().split(' ')[1]!;
        expect(consensus).toContain(asListed(auth0));
        expect(consensus).not.toContain(asListed(bridge!.fingerprint));
      } finally {
        await control.close();
      }
      const seen = await bootstrapThroughBridge(bridge!.plainLine, 'plain-bridge');
      expect(seen.some((p) => p.tag.endsWith('_pt'))).toBe(false);
    }, 180_000);

    it('bootstraps through an obfs4 bridge with Debian’s obfs4proxy (found on PATH)', async () => {
      net();
      if (obfs4proxy === undefined) throw new Error('obfs4proxy is not installed; the obfs4 bridge test needs it (apt-get install -y obfs4proxy)');
      const seen = await bootstrapThroughBridge(bridge!.obfs4Line!, 'obfs4-bridge');
      // tor reported connecting through the pluggable transport.
      expect(seen.map((p) => p.tag)).toContain('conn_done_pt');
      expect(await readFile(join(work, 'obfs4-bridge', 'torrc'), 'utf8')).toContain(`ClientTransportPlugin obfs4 exec ${obfs4proxy}`);
    }, 180_000);
  });
});

/**
 * TorACN surviving the loss of its tor control connection (a tor restart or crash), against the
 * fake control port on real 127.0.0.1 sockets: status transitions, reconnection with capped
 * backoff, re-publication of every onion with the same key and port mapping, open()/listen()
 * during an outage, prompt close(), and hostile replies while reconnecting.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Identity } from '@pursuance/crypto';
import type { TorStatus } from '../src/acn/acn.js';
import { type ReconnectFailureInfo, TorACN, type TorACNOptions } from '../src/acn/tor-acn.js';
import { DEFAULT_RECONNECT_POLICY, type TorACNClock, reconnectDelay } from '../src/acn/tor-control-backoff.js';
import { AcnClosedError, AcnTimeoutError, AcnUnreachableError, type TapirErrorCode } from '../src/errors.js';
import { type FakeTorOptions, type SocksBehaviour, FakeTor, fakeSocks } from './support/fake-tor.js';

const TAPIR_PORT = 9878;
/** Generous limits for condition waits on a loaded 2-core machine. */
const WAIT = { timeout: 15_000, interval: 5 };

/** A clock whose timers fire almost at once but record the delay asked for. */
function recordingClock(): { clock: TorACNClock; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    clock: {
      now: () => Date.now(),
      setTimer(fn, ms) {
        delays.push(ms);
        const t = setTimeout(fn, 1);
        return () => clearTimeout(t);
      },
    },
  };
}

function keyOf(id: Identity): string {
  return Buffer.from(id.torExpandedSecretKey()).toString('base64');
}

/** Resolves with the first status (current or later) that satisfies `pred`. */
function statusWhere(acn: TorACN, pred: (s: TorStatus) => boolean, limitMs = WAIT.timeout): Promise<TorStatus> {
  return new Promise((resolve, reject) => {
    if (pred(acn.status())) {
      resolve(acn.status());
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status never matched; last: ${JSON.stringify(acn.status())}`));
    }, limitMs);
    const off = acn.onStatus((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

/** Consecutive duplicates removed: the sequence of states a subscriber saw. */
function transitions(states: readonly string[]): string[] {
  return states.filter((s, i) => i === 0 || states[i - 1] !== s);
}

const TAPIR_CODES: readonly TapirErrorCode[] = ['ACN_CONTROL', 'ACN_TIMEOUT', 'ACN_CLOSED', 'ACN_UNREACHABLE'];

describe('TorACN reconnects to tor and re-publishes its onions', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(opts: Partial<FakeTorOptions> = {}, acnOpts: Partial<TorACNOptions> = {}, socksScript: SocksBehaviour[] = [{ reply: 0 }]) {
    const tor = await new FakeTor({ methods: 'NULL', uploadAfterMs: 5, ...opts }).start();
    const socks = await fakeSocks(socksScript);
    const { clock, delays } = recordingClock();
    const failures: ReconnectFailureInfo[] = [];
    const acn = new TorACN({
      controlPort: tor.port,
      socksPort: socks.port,
      publishTimeoutMs: 10_000,
      openRetryDelayMs: 10,
      clock,
      onReconnectFailure: (f) => failures.push(f),
      ...acnOpts,
    });
    const states: string[] = [];
    const history: TorStatus[] = [];
    acn.onStatus((s) => {
      states.push(s.state);
      history.push(s);
    });
    cleanup.push(
      () => tor.stop(),
      () => socks.stop(),
      () => acn.close(),
    );
    return { tor, socks, acn, delays, failures, states, history };
  }

  function idsFor(...ids: Identity[]): Map<string, string> {
    return new Map(ids.map((id) => [keyOf(id), id.onion]));
  }

  function addOnions(lines: readonly string[]): string[] {
    return lines.filter((l) => l.startsWith('ADD_ONION ')).sort();
  }

  it('loss → down → backoff → the same onions ADD_ONIONed again with the same keys and ports → up', async () => {
    const a = Identity.generate();
    const b = Identity.generate();
    const { tor, acn, delays, states } = await setup({ serviceIds: idsFor(a, b) }, { reconnect: { initialDelayMs: 40, maxDelayMs: 400 } });
    let inboundA = 0;
    const la = await acn.listen(a, TAPIR_PORT, (s) => {
      inboundA++;
      s.destroy();
    });
    const lb = await acn.listen(b, 1234, (s) => s.destroy());
    expect(acn.status()).toMatchObject({ state: 'up', outages: 0, lastError: null, circuitsOk: true, version: '0.4.9.11' });
    const firstAdds = addOnions(tor.commandsOf(1));
    expect(firstAdds).toHaveLength(2);

    await tor.goDown();
    const down = await statusWhere(acn, (s) => s.state === 'down');
    expect(down).toMatchObject({ outages: 1, lastError: 'ACN_CONTROL', bootstrap: null, circuitsOk: false });
    expect(down.lastDownAt).toEqual(expect.any(Number));
    // Still retrying while tor is away, with delays inside the policy.
    await vi.waitFor(() => expect(delays.length).toBeGreaterThanOrEqual(3), WAIT);
    expect(delays[0]).toBeGreaterThanOrEqual(20);
    expect(delays[0]).toBeLessThanOrEqual(40);
    expect(Math.max(...delays)).toBeLessThanOrEqual(400);

    await tor.comeBack();
    const up = await statusWhere(acn, (s) => s.state === 'up');
    expect(up).toMatchObject({ outages: 1, lastError: null, version: '0.4.9.11' });
    expect(up.lastUpAt!).toBeGreaterThanOrEqual(down.lastDownAt!);
    expect(transitions(states)).toEqual(['connecting', 'up', 'down', 'up']);

    // Same key blobs, same virtual ports, same local targets: the same onions, same listeners.
    const latest = tor.connections;
    expect(addOnions(tor.commandsOf(latest))).toEqual(firstAdds);
    expect(la.onion).toBe(a.onion);
    expect(lb.onion).toBe(b.onion);

    // A new inbound stream (as tor would forward it) still reaches the original listener.
    const target = /Port=9878,127\.0\.0\.1:(\d+)$/.exec(firstAdds.find((l) => l.includes('Port=9878'))!)![1]!;
    const inbound = connect({ host: '127.0.0.1', port: Number(target) });
    inbound.on('error', () => undefined);
    await vi.waitFor(() => expect(inboundA).toBe(1), WAIT);

    await la.close();
    expect(tor.commandsOf(latest).at(-1)).toBe(`DEL_ONION ${a.onion}`);
  });

  it('a reconnect that keeps failing keeps retrying with growing, capped delays and no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(() => {
      process.off('unhandledRejection', onUnhandled);
      return Promise.resolve();
    });
    const a = Identity.generate();
    const jitter = [0, 0.5, 0.999];
    let n = 0;
    const policy = { initialDelayMs: 10, maxDelayMs: 80 };
    const { tor, acn, delays, failures } = await setup({ serviceIds: idsFor(a) }, { reconnect: policy, random: () => jitter[n++ % jitter.length]! });
    await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    await tor.goDown();
    await vi.waitFor(() => expect(failures.length).toBeGreaterThanOrEqual(12), WAIT);

    expect(failures.slice(0, 12).map((f) => f.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['ACN_CONTROL']));
    // delays[0] follows the loss itself; delays[k] precedes attempt k + 1.
    delays.slice(0, 12).forEach((d, k) => {
      const step = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** k);
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
    });
    expect(Math.max(...delays)).toBeLessThanOrEqual(policy.maxDelayMs);
    expect(acn.status()).toMatchObject({ state: 'down', outages: 1, lastError: 'ACN_CONTROL' });

    await acn.close();
    expect(acn.status().state).toBe('closed');
    expect(unhandled).toEqual([]);
  });

  it('close() during a long backoff ends promptly, and ends the listen() and open() waiting for tor', async () => {
    const a = Identity.generate();
    const c = Identity.generate();
    // Real timers and a one-hour backoff: if close() did not cut the waits, this test times out.
    const { tor, acn } = await setup(
      { serviceIds: idsFor(a, c) },
      { clock: undefined, reconnect: { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 }, publishTimeoutMs: 3_600_000, openTimeoutMs: 3_600_000 },
    );
    await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    await tor.goDown();
    await statusWhere(acn, (s) => s.state === 'down');
    const opening = acn.open(Identity.generate().onion, TAPIR_PORT).catch((e: unknown) => e);
    const listening = acn.listen(c, TAPIR_PORT, (s) => s.destroy()).catch((e: unknown) => e);
    await acn.close();
    expect(await opening).toBeInstanceOf(AcnClosedError);
    expect(await listening).toBeInstanceOf(AcnClosedError);
    expect(acn.status().state).toBe('closed');
  });

  it('close() while a reconnection hangs on a silent tor ends promptly', async () => {
    const a = Identity.generate();
    const { tor, acn, states } = await setup({ serviceIds: idsFor(a) }, { controlTimeoutMs: 3_600_000 });
    await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    tor.options.silent = true;
    tor.dropConnections();
    await statusWhere(acn, (s) => s.state === 'down');
    // The reconnection is stuck waiting for tor's PROTOCOLINFO reply.
    await vi.waitFor(() => {
      expect(tor.connections).toBeGreaterThanOrEqual(2);
      expect(tor.commandsOf(tor.connections)).toContain('PROTOCOLINFO 1');
    }, WAIT);
    await acn.close();
    expect(transitions(states).slice(-2)).toEqual(['down', 'closed']);
    // The hanging attempt's connection was closed too, not left to its command timeout.
    await vi.waitFor(() => expect(tor.openConnections).toBe(0), WAIT);
  });

  it('open() during an outage waits for tor within its own timeout and signal, then connects', async () => {
    const a = Identity.generate();
    const b = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: idsFor(a) });
    await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    await tor.goDown();
    await statusWhere(acn, (s) => s.state === 'down');

    await expect(acn.open(b.onion, TAPIR_PORT, { timeoutMs: 100 })).rejects.toBeInstanceOf(AcnTimeoutError);
    const ctl = new AbortController();
    const aborted = acn.open(b.onion, TAPIR_PORT, { signal: ctl.signal }).catch((e: unknown) => e);
    ctl.abort();
    expect(await aborted).toBeInstanceOf(AcnUnreachableError);
    expect(((await aborted) as Error).message).toMatch(/aborted by the caller/);

    const waiting = acn.open(b.onion, TAPIR_PORT, { timeoutMs: 60_000 });
    await tor.comeBack();
    const socket = await waiting;
    try {
      const echoed = await new Promise<string>((resolve) => {
        socket.once('data', (d: Buffer) => resolve(d.toString()));
        socket.write('after the outage');
      });
      expect(echoed).toBe('after the outage');
    } finally {
      socket.destroy();
    }
  });

  it('open(): a refused SOCKS port while tor still answers on its control port is AcnUnreachableError at once', async () => {
    const a = Identity.generate();
    const { acn, socks } = await setup({ serviceIds: idsFor(a) });
    await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    await socks.stop();
    const err = await acn.open(Identity.generate().onion, TAPIR_PORT, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnUnreachableError);
    expect((err as Error).message).toMatch(/no SOCKS connection/);
    expect(acn.status().state).toBe('up');
  });

  it('a listen() whose connection drops mid-publish completes on the reconnection', async () => {
    const a = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: idsFor(a), uploadAfterMs: undefined });
    const listening = acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    await vi.waitFor(() => expect(addOnions(tor.commandsOf(1))).toHaveLength(1), WAIT);
    tor.options.uploadAfterMs = 5;
    tor.dropConnections();
    const listener = await listening;
    expect(listener.onion).toBe(a.onion);
    expect(addOnions(tor.commandsOf(tor.connections))).toEqual(addOnions(tor.commandsOf(1)));
    expect(acn.status()).toMatchObject({ state: 'up', outages: 1 });
  });

  it('hostile control replies while reconnecting are typed errors, and the reconnection goes on', async () => {
    const a = Identity.generate();
    const other = Identity.generate();
    const { tor, acn, failures } = await setup({ serviceIds: idsFor(a) });
    const listener = await acn.listen(a, TAPIR_PORT, (s) => s.destroy());
    const hostile: [string, string][] = [
      ['ADD_ONION', `250-ServiceID=${other.onion}\r\n250 OK\r\n`], // another address for our key
      ['ADD_ONION', '250-ServiceID=../../etc/passwd\r\n250 OK\r\n'],
      ['ADD_ONION', '250 OK\r\n'], // no ServiceID at all
      ['ADD_ONION', '551 Onion address collision\r\n'],
      ['PROTOCOLINFO', '250-AUTH METHODS="NULL\r\n250 OK\r\n'], // unterminated quote
      ['PROTOCOLINFO', '250-AUTH METHODS=NULL\r\n2x0 OK\r\n'], // bad status code
      ['PROTOCOLINFO', `250-${'x'.repeat(200_000)}`], // an endless line
      ['AUTHENTICATE', '515 Authentication failed\r\n'],
      ['SETEVENTS', '552 Unrecognized event\r\n'],
      ['SETEVENTS', '\x00\xff\xfe\r\n'],
    ];
    for (const [command, reply] of hostile) {
      const before = failures.length;
      tor.options.override = (cmd) => (cmd === command ? reply : undefined);
      tor.dropConnections();
      await vi.waitFor(() => expect(failures.length).toBeGreaterThan(before), WAIT);
      for (const f of failures.slice(before)) expect(TAPIR_CODES).toContain(f.code);
      expect(acn.status().state).toBe('down');
      expect(TAPIR_CODES).toContain(acn.status().lastError);
    }
    // The other address was taken away again, never kept.
    expect(tor.commands).toContain(`DEL_ONION ${other.onion}`);

    tor.options.override = undefined;
    await statusWhere(acn, (s) => s.state === 'up');
    expect(addOnions(tor.commandsOf(tor.connections))).toEqual(addOnions(tor.commandsOf(1)));
    expect(listener.onion).toBe(a.onion);
    // No reply text, key or path ever reaches the status: only codes.
    expect(JSON.stringify(acn.status())).not.toContain(keyOf(a));
  });

  it('status(): version, bootstrap and circuits from tor, kept current by STATUS_CLIENT events', async () => {
    const { tor, acn, history } = await setup({
      version: '0.4.9.11 (git-abc)',
      bootstrap: 'NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY="Asking for relay descriptors"',
      circuitEstablished: '0',
    });
    // Subscribing (setup did) is enough to start watching tor, without any listen().
    const up = await statusWhere(acn, (s) => s.state === 'up');
    expect(up).toEqual({
      state: 'up',
      bootstrap: { progress: 45, summary: 'Asking for relay descriptors' },
      version: '0.4.9.11 (git-abc)',
      circuitsOk: false,
      outages: 0,
      lastDownAt: null,
      lastUpAt: expect.any(Number),
      lastError: null,
    });
    expect(Object.isFrozen(up)).toBe(true);
    expect(tor.commands).toContain('SETEVENTS HS_DESC STATUS_CLIENT');

    tor.emitEvent('STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=1000 TAG=x SUMMARY="garbage"');
    tor.emitEvent('STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=80 TAG=ap_conn SUMMARY="Connecting to a relay to build circuits"');
    await statusWhere(acn, (s) => s.bootstrap?.progress === 80);
    tor.emitEvent('STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED');
    await statusWhere(acn, (s) => s.circuitsOk);
    tor.emitEvent('STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"');
    await statusWhere(acn, (s) => s.bootstrap?.progress === 100);
    tor.emitEvent('STATUS_CLIENT NOTICE CIRCUIT_NOT_ESTABLISHED REASON=CLOCK_JUMPED');
    await statusWhere(acn, (s) => !s.circuitsOk);
    // Events are handled in order, so the garbled one was seen and ignored.
    expect(history.map((s) => s.bootstrap?.progress).filter((p) => p !== undefined && p > 100)).toEqual([]);
    expect(await acn.bootstrapStatus()).toEqual({ progress: 45, summary: 'Asking for relay descriptors' });
  });

  it('listen({ signal }) abandons a publish wait and removes the onion; close() ends one too', async () => {
    const a = Identity.generate();
    const b = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: idsFor(a, b), uploadAfterMs: undefined }, { publishTimeoutMs: 3_600_000 });

    await expect(acn.listen(a, TAPIR_PORT, () => undefined, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AcnClosedError);
    expect(addOnions(tor.commands)).toEqual([]);

    const ctl = new AbortController();
    const aborted = acn.listen(a, TAPIR_PORT, () => undefined, { signal: ctl.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(addOnions(tor.commands)).toHaveLength(1), WAIT);
    ctl.abort();
    expect(await aborted).toBeInstanceOf(AcnClosedError);
    await vi.waitFor(() => expect(tor.commands).toContain(`DEL_ONION ${a.onion}`), WAIT);

    // The identity can be published again after the aborted attempt.
    const again = acn.listen(a, TAPIR_PORT, () => undefined, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(await again).toBeInstanceOf(AcnTimeoutError);

    const pending = acn.listen(b, TAPIR_PORT, () => undefined).catch((e: unknown) => e);
    await vi.waitFor(() => expect(addOnions(tor.commands).some((l) => l.includes(keyOf(b)))).toBe(true), WAIT);
    await acn.close();
    expect(await pending).toBeInstanceOf(AcnClosedError);
  });

  it('listen() of an identity this ACN already publishes is refused', async () => {
    const a = Identity.generate();
    const { acn } = await setup({ serviceIds: idsFor(a) });
    const first = await acn.listen(a, TAPIR_PORT, () => undefined);
    await expect(acn.listen(a, 1234, () => undefined)).rejects.toThrow(/already published/);
    await first.close();
    const second = await acn.listen(a, 1234, () => undefined);
    expect(second.onion).toBe(a.onion);
  });
});

describe('reconnectDelay', () => {
  it('stays within [step/2, step] of a doubling step capped at maxDelayMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (initial, extra, n, r) => {
          const policy = { initialDelayMs: initial, maxDelayMs: initial + extra };
          const d = reconnectDelay(n, policy, r);
          const step = Math.min(policy.maxDelayMs, initial * 2 ** Math.max(0, n - 1));
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(step / 2));
          expect(d).toBeLessThanOrEqual(Math.ceil(step));
          expect(d).toBeLessThanOrEqual(policy.maxDelayMs);
          // More failures never shorten the step.
          expect(reconnectDelay(n + 1, policy, 1)).toBeGreaterThanOrEqual(reconnectDelay(n, policy, 1));
        },
      ),
    );
  });

  it('tolerates a broken random source', () => {
    for (const r of [Number.NaN, -1, 2, Infinity]) {
      const d = reconnectDelay(3, DEFAULT_RECONNECT_POLICY, r);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

/**
 * TorACN's listen/open logic against fake control and SOCKS5 servers on real 127.0.0.1
 * sockets (no tor involved).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { type OpenRetryInfo, TorACN, socks5ReplyCode } from '../src/acn/tor-acn.js';
import { AcnClosedError, AcnControlError, AcnTimeoutError, AcnUnreachableError } from '../src/errors.js';
import { type FakeTorOptions, type SocksBehaviour, FakeTor, fakeSocks, rawServer } from './support/fake-tor.js';

describe('TorACN with a fake tor', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(opts: Partial<FakeTorOptions>, socksScript: SocksBehaviour[] = [{ reply: 0 }], acnOpts = {}) {
    const tor = await new FakeTor({ methods: 'NULL', uploadAfterMs: 20, ...opts }).start();
    const socks = await fakeSocks(socksScript);
    const retries: OpenRetryInfo[] = [];
    const acn = new TorACN({
      controlPort: tor.port,
      socksPort: socks.port,
      publishTimeoutMs: 500,
      openRetryDelayMs: 10,
      onOpenRetry: (r) => retries.push(r),
      ...acnOpts,
    });
    cleanup.push(
      () => tor.stop(),
      () => socks.stop(),
      () => acn.close(),
    );
    return { tor, socks, acn, retries };
  }

  function keyOf(id: Identity): string {
    return Buffer.from(id.torExpandedSecretKey()).toString('base64');
  }

  it('listen(): ADD_ONION with the expanded key, waits for HS_DESC UPLOADED, DEL_ONION on close', async () => {
    const a = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: new Map([[keyOf(a), a.onion]]) });
    const listener = await acn.listen(a, 9878, (s) => s.destroy());
    expect(listener.onion).toBe(a.onion);
    const add = tor.commands.find((c) => c.startsWith('ADD_ONION'))!;
    expect(add).toMatch(/^ADD_ONION ED25519-V3:\S{88} Flags=DiscardPK Port=9878,127\.0\.0\.1:\d+$/);
    expect(tor.commands).toContain('SETEVENTS HS_DESC STATUS_CLIENT');
    await listener.close();
    expect(tor.commands.at(-1)).toBe(`DEL_ONION ${a.onion}`);
  });

  it('listen(): rejects and removes the onion when tor returns another ServiceID', async () => {
    const a = Identity.generate();
    const other = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: new Map([[keyOf(a), other.onion]]) });
    const err = await acn.listen(a, 9878, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/instead of/);
    expect((err as Error).message).not.toContain(keyOf(a));
    expect(tor.commands).toContain(`DEL_ONION ${other.onion}`);
  });

  it('listen(): AcnTimeoutError when the descriptor is never uploaded', async () => {
    const a = Identity.generate();
    const { tor, acn } = await setup({ serviceIds: new Map([[keyOf(a), a.onion]]), uploadAfterMs: undefined });
    await expect(acn.listen(a, 9878, () => undefined)).rejects.toBeInstanceOf(AcnTimeoutError);
    expect(tor.commands.at(-1)).toBe(`DEL_ONION ${a.onion}`);
  });

  it('bootstrapStatus() reports progress and summary', async () => {
    const { acn } = await setup({ bootstrap: 'NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY="Asking for relay descriptors"' });
    expect(await acn.bootstrapStatus()).toEqual({ progress: 45, summary: 'Asking for relay descriptors' });
  });

  it('open(): retries SOCKS 0x04 and then connects', async () => {
    const b = Identity.generate();
    const { acn, socks, retries } = await setup({}, [{ reply: 4 }, { reply: 4 }, { reply: 0 }]);
    const s = await acn.open(b.onion, 9878);
    expect(socks.requests).toEqual(Array(3).fill(`${b.onion}.onion:9878`));
    expect(retries.map((r) => [r.attempt, r.socks5Reply])).toEqual([
      [1, 4],
      [2, 4],
    ]);
    const echoed = await new Promise<string>((resolve) => {
      s.once('data', (d: Buffer) => resolve(d.toString()));
      s.write('ping');
    });
    expect(echoed).toBe('ping');
    s.destroy();
  });

  it('open(): gives up after openAttempts, and does not retry other SOCKS replies', async () => {
    const b = Identity.generate();
    const always4 = await setup({}, [{ reply: 4 }], { openAttempts: 3 });
    const err = await always4.acn.open(b.onion, 9878).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnUnreachableError);
    expect((err as Error).message).toMatch(/0x04, 3 attempts/);
    expect(always4.socks.requests).toHaveLength(3);

    const refused = await setup({}, [{ reply: 1 }]);
    await expect(refused.acn.open(b.onion, 9878)).rejects.toBeInstanceOf(AcnUnreachableError);
    expect(refused.socks.requests).toHaveLength(1);
  });

  it('open(): timeout, caller abort and ACN close each end a hanging dial with a typed error', async () => {
    const b = Identity.generate();
    const { acn } = await setup({}, ['silent']);
    await expect(acn.open(b.onion, 9878, { timeoutMs: 100 })).rejects.toBeInstanceOf(AcnTimeoutError);

    const ctl = new AbortController();
    const aborted = acn.open(b.onion, 9878, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    // Like LoopbackACN, a caller's abort is AcnUnreachableError; closing the ACN is AcnClosedError.
    await expect(aborted).rejects.toThrow(/aborted by the caller/);
    await expect(aborted).rejects.toBeInstanceOf(AcnUnreachableError);
    await expect(acn.open(b.onion, 9878, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AcnUnreachableError);

    const pending = acn.open(b.onion, 9878);
    setTimeout(() => void acn.close(), 50);
    await expect(pending).rejects.toBeInstanceOf(AcnClosedError);
    await expect(acn.open(b.onion, 9878)).rejects.toBeInstanceOf(AcnClosedError);
  });

  it('open(): a timeout or a SOCKS refusal asks tor for a fresh descriptor (HSFETCH); success and a caller abort do not', async () => {
    const b = Identity.generate();
    const c = Identity.generate();
    const refetched: string[] = [];
    const onDescriptorRefetch = (onion: string): void => {
      refetched.push(onion);
    };
    const hanging = await setup({}, ['silent'], { onDescriptorRefetch });
    await expect(hanging.acn.open(b.onion, 9878, { timeoutMs: 100 })).rejects.toBeInstanceOf(AcnTimeoutError);
    await expect.poll(() => refetched, { timeout: 10_000 }).toEqual([b.onion]);
    expect(hanging.tor.commands.filter((l) => l.startsWith('HSFETCH'))).toEqual([`HSFETCH ${b.onion}`]);
    // A caller's abort says nothing about the onion.
    await expect(hanging.acn.open(c.onion, 9878, { signal: AbortSignal.timeout(50) })).rejects.toBeInstanceOf(AcnUnreachableError);

    refetched.length = 0;
    const unreachable = await setup({}, [{ reply: 4 }], { openAttempts: 2, onDescriptorRefetch });
    await expect(unreachable.acn.open(c.onion, 9878)).rejects.toBeInstanceOf(AcnUnreachableError);
    await expect.poll(() => refetched, { timeout: 10_000 }).toEqual([c.onion]);

    const fine = await setup({}, [{ reply: 0 }], { onDescriptorRefetch });
    (await fine.acn.open(b.onion, 9878)).destroy();
    // The refetches above were already seen; the only control connections are theirs.
    expect(refetched).toEqual([c.onion]);
    expect(hanging.tor.commands.filter((l) => l.startsWith('HSFETCH'))).toEqual([`HSFETCH ${b.onion}`]);
    expect(fine.tor.commands).toEqual([]);
  });

  it('open(): a refetch that cannot reach the control port is dropped quietly', async () => {
    const dead = await rawServer(() => undefined);
    await dead.stop();
    const socks = await fakeSocks([{ reply: 4 }]);
    let refetches = 0;
    const acn = new TorACN({ controlPort: dead.port, socksPort: socks.port, openAttempts: 1, onDescriptorRefetch: () => refetches++ });
    cleanup.push(
      () => socks.stop(),
      () => acn.close(),
    );
    await expect(acn.open(Identity.generate().onion, 9878)).rejects.toBeInstanceOf(AcnUnreachableError);
    // The failed control attempt is reported in the status, not thrown anywhere.
    await expect.poll(() => acn.status().lastError, { timeout: 10_000 }).not.toBeNull();
    expect(refetches).toBe(0);
  });

  it('open(): an invalid onion name or unreachable SOCKS port is AcnUnreachableError', async () => {
    const { acn } = await setup({});
    await expect(acn.open('notanonion' as never, 9878)).rejects.toBeInstanceOf(AcnUnreachableError);
    const dead = await rawServer(() => undefined);
    await dead.stop();
    const acn2 = new TorACN({ controlPort: 1, socksPort: dead.port });
    await expect(acn2.open(Identity.generate().onion, 9878)).rejects.toBeInstanceOf(AcnUnreachableError);
    await acn2.close();
  });

  it('socks5ReplyCode() reads the reply code out of a socks error', () => {
    expect(socks5ReplyCode(new Error('Socks5 proxy rejected connection - HostUnreachable'))).toBe(4);
    expect(socks5ReplyCode(new Error('Socks5 proxy rejected connection - TTLExpired'))).toBe(6);
    expect(socks5ReplyCode(new Error('Proxy connection timed out'))).toBeUndefined();
    expect(socks5ReplyCode('nope')).toBeUndefined();
  });
});

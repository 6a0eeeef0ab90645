/**
 * TorControlClient against a fake tor control port on real 127.0.0.1 sockets: the
 * authentication flow (SAFECOOKIE, COOKIE, HASHEDPASSWORD, NULL) and its failure modes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TorControlClient } from '../src/acn/tor-control.js';
import { AcnClosedError, AcnControlError, AcnTimeoutError, TapirError } from '../src/errors.js';
import { type FakeTorOptions, FakeTor, rawServer } from './support/fake-tor.js';

describe('TorControlClient authentication', () => {
  let dir: string;
  let cookieFile: string;
  const cookie = randomBytes(32);
  const fakes: FakeTor[] = [];
  const clients: TorControlClient[] = [];

  async function fake(opts: FakeTorOptions): Promise<FakeTor> {
    const f = await new FakeTor(opts).start();
    fakes.push(f);
    return f;
  }
  async function client(f: FakeTor): Promise<TorControlClient> {
    const c = await TorControlClient.connect({ port: f.port, commandTimeoutMs: 2000 });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tor-control-test-'));
    cookieFile = join(dir, 'control "auth" cookie');
    await writeFile(cookieFile, cookie);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(fakes.splice(0).map((f) => f.stop()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prefers SAFECOOKIE, using the cookie file tor announces, and never sends the cookie', async () => {
    const escaped = cookieFile.replace(/"/g, '\\"');
    const f = await fake({ methods: 'COOKIE,SAFECOOKIE', cookie, cookieFileInReply: escaped });
    const c = await client(f);
    expect(await c.authenticate()).toBe('SAFECOOKIE');
    expect(f.commands[0]).toBe('PROTOCOLINFO 1');
    expect(f.commands[1]).toMatch(/^AUTHCHALLENGE SAFECOOKIE [0-9a-f]{64}$/);
    expect(f.commands[2]).toMatch(/^AUTHENTICATE [0-9a-f]{64}$/);
    expect(f.commands.join('\n')).not.toContain(cookie.toString('hex'));
    expect(await c.bootstrapPhase()).toEqual({ progress: 100, tag: 'done', summary: 'Done' });
  });

  it('refuses a control port that cannot prove it knows the cookie (SAFECOOKIE server hash)', async () => {
    const f = await fake({ methods: 'SAFECOOKIE', cookie, lieAboutServerHash: true });
    const c = await client(f);
    const err = await c.authenticate({ cookieFile }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/SAFECOOKIE server check/);
    expect(f.commands.some((cmd) => cmd.startsWith('AUTHENTICATE'))).toBe(false);
  });

  it('uses plain COOKIE only with a cookie file the caller named', async () => {
    const f1 = await fake({ methods: 'COOKIE', cookie, cookieFileInReply: '/etc/hostname' });
    const c1 = await client(f1);
    const err = await c1.authenticate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/no usable tor control authentication method/);
    expect(f1.commands).toEqual(['PROTOCOLINFO 1']);

    const f2 = await fake({ methods: 'COOKIE', cookie });
    const c2 = await client(f2);
    expect(await c2.authenticate({ cookieFile })).toBe('COOKIE');
    expect(f2.commands[1]).toBe(`AUTHENTICATE ${cookie.toString('hex')}`);
  });

  it('falls back to HASHEDPASSWORD when the cookie cannot be read, and reports a wrong password', async () => {
    const f = await fake({ methods: 'SAFECOOKIE,HASHEDPASSWORD', cookie, password: 'pa"ss wörd' });
    const c = await client(f);
    expect(await c.authenticate({ cookieFile: join(dir, 'missing'), password: 'pa"ss wörd' })).toBe('HASHEDPASSWORD');
    expect(f.commands[1]).toBe(`AUTHENTICATE ${Buffer.from('pa"ss wörd').toString('hex')}`);

    const f2 = await fake({ methods: 'HASHEDPASSWORD', password: 'right' });
    const c2 = await client(f2);
    const err = await c2.authenticate({ password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/515/);
    expect((err as Error).message).not.toContain('wrong');
    expect((err as Error).message).not.toContain(Buffer.from('wrong').toString('hex'));
  });

  it('uses NULL when tor requires no authentication', async () => {
    const f = await fake({ methods: 'NULL' });
    const c = await client(f);
    expect(await c.authenticate()).toBe('NULL');
    expect(f.commands).toEqual(['PROTOCOLINFO 1', 'AUTHENTICATE']);
  });

  it('refuses cookie files of the wrong size', async () => {
    const big = join(dir, 'big');
    await writeFile(big, randomBytes(4096));
    const f = await fake({ methods: 'COOKIE,SAFECOOKIE', cookie });
    const c = await client(f);
    const err = await c.authenticate({ cookieFile: big }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/not 32 bytes/);
  });

  it('refuses commands containing line breaks (no command smuggling)', async () => {
    const f = await fake({ methods: 'NULL' });
    const c = await client(f);
    await expect(c.command('GETINFO version\r\nSIGNAL HALT')).rejects.toBeInstanceOf(AcnControlError);
    await expect(c.getInfo(['version SIGNAL'])).rejects.toBeInstanceOf(AcnControlError);
    await expect(c.delOnion('x\r\nSIGNAL HALT')).rejects.toBeInstanceOf(AcnControlError);
    // HSFETCH takes only a service id: a prefix, an upper-case id, a smuggled line, a prototype name.
    for (const bad of ['', 'a'.repeat(55), 'A'.repeat(56), `${'a'.repeat(56)}\r\nSIGNAL HALT`, '__proto__', 'constructor']) {
      await expect(c.hsFetch(bad)).rejects.toBeInstanceOf(AcnControlError);
    }
    expect(f.commands).toEqual([]);
  });
});

describe('TorControlClient failure modes', () => {
  it('cannot connect: AcnControlError', async () => {
    const { port, stop } = await rawServer(() => undefined);
    await stop();
    await expect(TorControlClient.connect({ port })).rejects.toBeInstanceOf(AcnControlError);
  });

  it('a silent control port: the command times out with AcnTimeoutError', async () => {
    const srv = await rawServer(() => undefined);
    const c = await TorControlClient.connect({ port: srv.port, commandTimeoutMs: 100 });
    await expect(c.command('GETINFO version')).rejects.toBeInstanceOf(AcnTimeoutError);
    expect(c.closed).toBe(true);
    await srv.stop();
  });

  it('the peer hangs up mid-reply: pending commands reject with AcnControlError', async () => {
    const srv = await rawServer((s) => s.once('data', () => s.end('250-partial\r\n')));
    const c = await TorControlClient.connect({ port: srv.port });
    await expect(c.command('GETINFO version')).rejects.toBeInstanceOf(AcnControlError);
    await srv.stop();
  });

  it('a reply with no command pending is a protocol error', async () => {
    const srv = await rawServer((s) => s.write('250 OK\r\n'));
    const c = await TorControlClient.connect({ port: srv.port });
    const closed = new Promise<Error>((resolve) => c.onClose(resolve));
    expect(await closed).toBeInstanceOf(AcnControlError);
    await srv.stop();
  });

  it('a flood without newlines is cut off at the line limit', async () => {
    const srv = await rawServer((s) => {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = (): void => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    const c = await TorControlClient.connect({ port: srv.port, limits: { maxLineBytes: 1024 } });
    const err = await c.command('GETINFO version').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcnControlError);
    expect((err as Error).message).toMatch(/longer than 1024/);
    await srv.stop();
  });

  it('close() rejects pending commands with AcnClosedError', async () => {
    const srv = await rawServer(() => undefined);
    const c = await TorControlClient.connect({ port: srv.port });
    const pending = c.command('GETINFO version');
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(AcnClosedError);
    await srv.stop();
  });

  it('fuzz: a hostile control port sending random bytes only produces typed errors, never hangs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.constantFrom('250 OK\r\n', '250-', '250+x=\r\n', '.\r\n', '650 HS_DESC UPLOADED\r\n', '515 no\r\n').map((s) => Buffer.from(s)),
          ),
          { maxLength: 12 },
        ),
        fc.boolean(),
        async (chunks, hangUp) => {
          const srv = await rawServer((s) => {
            s.once('data', () => {
              for (const ch of chunks) s.write(ch);
              if (hangUp) s.end();
            });
          });
          try {
            const c = await TorControlClient.connect({ port: srv.port, commandTimeoutMs: 200, limits: { maxLineBytes: 256 } });
            const started = Date.now();
            try {
              await c.authenticate({ password: 'x' });
            } catch (err) {
              expect(err).toBeInstanceOf(TapirError);
            }
            try {
              await c.bootstrapPhase();
            } catch (err) {
              expect(err).toBeInstanceOf(TapirError);
            }
            expect(Date.now() - started).toBeLessThan(2000);
            await c.close();
          } finally {
            await srv.stop();
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});

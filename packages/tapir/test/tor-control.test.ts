/**
 * Unit tests for the tor control-port client and TorACN, with no tor involved: the reply parser
 * (examples + fast-check fuzzing), quoted-argument parsing, the authentication flow and TorACN's
 * listen/open logic against fake control and SOCKS5 servers on real 127.0.0.1 sockets.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { AcnClosedError, AcnControlError, AcnTimeoutError, AcnUnreachableError, TapirError } from '../src/errors.js';
import {
  ControlReplyParser,
  TorControlClient,
  parseReplyArgs,
  type ControlReply,
  type ReplyParserLimits,
} from '../src/acn/tor-control.js';
import { TorACN, socks5ReplyCode, type OpenRetryInfo } from '../src/acn/tor-acn.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function parseAll(input: string | Uint8Array, limits?: Partial<ReplyParserLimits>): ControlReply[] {
  const replies: ControlReply[] = [];
  const parser = new ControlReplyParser((r) => replies.push(r), limits);
  parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return replies;
}

function expectControlError(fn: () => unknown, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(AcnControlError);
  if (message) expect((thrown as Error).message).toMatch(message);
}

/** Serialize replies the way tor does (CRLF, dot-stuffed data blocks). */
function serialize(replies: readonly ControlReply[]): string {
  let out = '';
  for (const reply of replies) {
    reply.lines.forEach((line, i) => {
      const last = i === reply.lines.length - 1;
      if (line.data !== undefined) {
        out += `${line.status}+${line.text}\r\n`;
        for (const d of line.data.split('\n')) out += `${d.startsWith('.') ? '.' : ''}${d}\r\n`;
        out += '.\r\n';
      } else {
        out += `${line.status}${last ? ' ' : '-'}${line.text}\r\n`;
      }
    });
  }
  return out;
}

async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

// ---------------------------------------------------------------------------------------------
// A fake tor control port: just enough of control-spec to exercise the client
// ---------------------------------------------------------------------------------------------

interface FakeTorOptions {
  methods: string;
  cookie?: Buffer;
  cookieFileInReply?: string;
  password?: string;
  /** Answer AUTHCHALLENGE with a wrong SERVERHASH (not our tor / wrong cookie). */
  lieAboutServerHash?: boolean;
  /** base64 expanded key → ServiceID to return; unknown keys get a fixed bogus id. */
  serviceIds?: Map<string, string>;
  /** Emit HS_DESC UPLOADED this many ms after ADD_ONION (undefined: never). */
  uploadAfterMs?: number;
  bootstrap?: string;
}

class FakeTor {
  public readonly commands: string[] = [];
  public readonly server: Server;
  public port = 0;
  readonly #opts: FakeTorOptions;
  readonly #sockets = new Set<Socket>();

  public constructor(opts: FakeTorOptions) {
    this.#opts = opts;
    this.server = createServer((socket) => this.#serve(socket));
  }

  public async start(): Promise<this> {
    this.port = await listenLocal(this.server);
    return this;
  }

  public async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await closeServer(this.server);
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    let authenticated = false;
    let challenge: { clientNonce: Buffer; serverNonce: Buffer } | undefined;
    const send = (s: string): void => {
      if (!socket.destroyed) socket.write(s);
    };
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffered.indexOf('\r\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        this.commands.push(line);
        const [cmd, ...args] = line.split(' ');
        const o = this.#opts;
        if (cmd === 'PROTOCOLINFO') {
          const cookieFile = o.cookieFileInReply !== undefined ? ` COOKIEFILE="${o.cookieFileInReply}"` : '';
          send(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=${o.methods}${cookieFile}\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`);
        } else if (cmd === 'AUTHCHALLENGE') {
          const clientNonce = Buffer.from(args[1] ?? '', 'hex');
          const serverNonce = randomBytes(32);
          challenge = { clientNonce, serverNonce };
          const key = 'Tor safe cookie authentication server-to-controller hash';
          const hash = createHmac('sha256', key)
            .update(o.lieAboutServerHash === true ? randomBytes(32) : o.cookie!)
            .update(clientNonce)
            .update(serverNonce)
            .digest('hex')
            .toUpperCase();
          send(`250 AUTHCHALLENGE SERVERHASH=${hash} SERVERNONCE=${serverNonce.toString('hex').toUpperCase()}\r\n`);
        } else if (cmd === 'AUTHENTICATE') {
          const given = Buffer.from(args[0] ?? '', 'hex');
          let ok = false;
          if (challenge !== undefined) {
            const key = 'Tor safe cookie authentication controller-to-server hash';
            const expected = createHmac('sha256', key)
              .update(o.cookie!)
              .update(challenge.clientNonce)
              .update(challenge.serverNonce)
              .digest();
            ok = expected.equals(given);
          } else if (o.methods.includes('NULL')) {
            ok = true;
          } else if (o.cookie !== undefined && given.equals(o.cookie)) {
            ok = o.methods.split(',').includes('COOKIE');
          } else if (o.password !== undefined) {
            ok = given.toString('utf8') === o.password;
          }
          if (ok) {
            authenticated = true;
            send('250 OK\r\n');
          } else {
            send('515 Authentication failed: Password did not match HashedControlPassword value\r\n');
            socket.end();
          }
        } else if (!authenticated) {
          send('514 Authentication required.\r\n');
          socket.end();
        } else if (cmd === 'GETINFO' && args[0] === 'status/bootstrap-phase') {
          send(`250-status/bootstrap-phase=${o.bootstrap ?? 'NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"'}\r\n250 OK\r\n`);
        } else if (cmd === 'SETEVENTS') {
          send('250 OK\r\n');
        } else if (cmd === 'ADD_ONION') {
          const key = (args[0] ?? '').replace(/^ED25519-V3:/, '');
          const id = o.serviceIds?.get(key) ?? 'a'.repeat(56);
          send(`250-ServiceID=${id}\r\n250 OK\r\n`);
          if (o.uploadAfterMs !== undefined) {
            setTimeout(() => {
              send(`650 HS_DESC UPLOAD ${id} UNKNOWN $AAAA~auth0 xyz HSDIR_INDEX=00\r\n`);
              send(`650 HS_DESC UPLOADED ${'b'.repeat(56)} UNKNOWN $AAAA~auth0\r\n`); // someone else's
              send(`650 HS_DESC UPLOADED ${id} UNKNOWN $AAAA~auth0\r\n`);
            }, o.uploadAfterMs);
          }
        } else if (cmd === 'DEL_ONION') {
          send('250 OK\r\n');
        } else if (cmd === 'QUIT') {
          send('250 closing connection\r\n');
          socket.end();
        } else {
          send('510 Unrecognized command\r\n');
        }
      }
    });
  }
}

/** A control port that accepts a connection and then does whatever `behave` says. */
async function rawServer(behave: (socket: Socket) => void): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    behave(socket);
  });
  const port = await listenLocal(server);
  return {
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reply parser
// ---------------------------------------------------------------------------------------------

describe('ControlReplyParser', () => {
  it('parses a single-line reply', () => {
    expect(parseAll('250 OK\r\n')).toEqual([{ status: 250, lines: [{ status: 250, text: 'OK' }] }]);
  });

  it('parses mid-reply lines, data blocks with dot-stuffing, and async events', () => {
    const input =
      '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n' +
      '250+config-text=\r\nControlPort 1\r\n..hidden\r\n\r\n.\r\n250 OK\r\n' +
      '650 HS_DESC UPLOADED abc UNKNOWN $X~y\r\n';
    const replies = parseAll(input);
    expect(replies).toHaveLength(3);
    expect(replies[0]!.lines.map((l) => l.text)).toEqual(['PROTOCOLINFO 1', 'AUTH METHODS=NULL', 'OK']);
    expect(replies[1]!.lines[0]).toEqual({ status: 250, text: 'config-text=', data: 'ControlPort 1\n.hidden\n' });
    expect(replies[1]!.lines[1]).toEqual({ status: 250, text: 'OK' });
    expect(replies[2]).toEqual({ status: 650, lines: [{ status: 650, text: 'HS_DESC UPLOADED abc UNKNOWN $X~y' }] });
  });

  it('gives the same result however the stream is chunked, and accepts bare LF', () => {
    const input = Buffer.from('250-a=1\r\n250+b=\r\nx\r\n.\r\n250 OK\n552 Unrecognized key "c"\r\n');
    const whole = parseAll(input);
    const replies: ControlReply[] = [];
    const parser = new ControlReplyParser((r) => replies.push(r));
    for (const byte of input) parser.push(Uint8Array.of(byte));
    expect(replies).toEqual(whole);
    expect(whole.map((r) => r.status)).toEqual([250, 552]);
    expect(parser.idle).toBe(true);
  });

  it('rejects malformed lines with AcnControlError and stays failed', () => {
    expectControlError(() => parseAll('hello\r\n'), /status code/);
    expectControlError(() => parseAll('25 OK\r\n'), /status code/);
    expectControlError(() => parseAll('250\r\n'), /status code/);
    expectControlError(() => parseAll('250*OK\r\n'), /status code/);
    expectControlError(() => parseAll('250-a\r\n550 b\r\n'), /status code changed/);
    const parser = new ControlReplyParser(() => undefined);
    expectControlError(() => parser.push(Buffer.from('x\r\n')));
    expectControlError(() => parser.push(Buffer.from('250 OK\r\n')));
  });

  it('bounds line length, reply size and line count', () => {
    const limits = { maxLineBytes: 32, maxReplyBytes: 256, maxReplyLines: 8 };
    // An endless line without a newline: fails once past the limit, buffering no more than it.
    const parser = new ControlReplyParser(() => undefined, limits);
    parser.push(Buffer.from('250-' + 'a'.repeat(28)));
    expect(parser.bufferedLineBytes).toBe(32);
    expectControlError(() => parser.push(Buffer.from('aa')), /longer than 32/);
    expect(parser.bufferedLineBytes).toBe(0);
    expect(parseAll(`250 ${'a'.repeat(28)}\r\n`, limits)).toHaveLength(1);
    expectControlError(() => parseAll(`250 ${'a'.repeat(29)}\r\n`, limits), /longer/);
    expectControlError(() => parseAll(`250+x=\r\n${`${'d'.repeat(30)}\r\n`.repeat(8)}.\r\n250 OK\r\n`, limits), /larger than 256/);
    expectControlError(() => parseAll(`${'250-a\r\n'.repeat(9)}250 OK\r\n`, limits), /more than 8 lines/);
    expectControlError(() => parseAll(`250+x=\r\n${'d\r\n'.repeat(9)}.\r\n250 OK\r\n`, limits), /more than 8 lines/);
  });

  it('reports a stream that ends in the middle of a reply', () => {
    const parser = new ControlReplyParser(() => undefined);
    parser.push(Buffer.from('250-a\r\n'));
    expectControlError(() => parser.end(), /ended in the middle/);
    const clean = new ControlReplyParser(() => undefined);
    clean.push(Buffer.from('250 OK\r\n'));
    expect(() => clean.end()).not.toThrow();
  });

  it('fuzz: arbitrary bytes in arbitrary chunks only ever raise AcnControlError, within limits', () => {
    const limits = { maxLineBytes: 64, maxReplyBytes: 512, maxReplyLines: 16 };
    // Bytes biased towards what the grammar cares about, so deep states are actually reached.
    const interesting = fc.oneof(
      fc.constantFrom(...Buffer.from('0123456789 +-.\r\n\r\n250 OK\r\n650 ')),
      fc.integer({ min: 0, max: 255 }),
    );
    const token = fc.oneof(
      fc.constantFrom('250 OK\r\n', '250-', '250+', '.\r\n', '..', '650 ', '\r\n', '\n', '550 ', 'X=', '"'),
      fc.string({ maxLength: 80 }),
    );
    const streams = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(interesting, { maxLength: 600 }).map((a) => Uint8Array.from(a)),
      fc.array(token, { maxLength: 60 }).map((t) => Buffer.from(t.join(''), 'utf8')),
    );
    fc.assert(
      fc.property(streams, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (bytes, cuts) => {
        let replies = 0;
        const parser = new ControlReplyParser(() => replies++, limits);
        let offset = 0;
        let i = 0;
        try {
          while (offset < bytes.length) {
            const n = cuts.length > 0 ? cuts[i++ % cuts.length]! : bytes.length;
            parser.push(bytes.subarray(offset, offset + n));
            offset += n;
            expect(parser.bufferedLineBytes).toBeLessThanOrEqual(limits.maxLineBytes + 1);
          }
          parser.end();
        } catch (err) {
          if (!(err instanceof AcnControlError)) throw err;
        }
        expect(replies).toBeLessThanOrEqual(bytes.length / 5);
      }),
      { numRuns: 20_000 },
    );
  });

  it('fuzz: well-formed replies round-trip through serialization and random chunking', () => {
    const text = fc.string({ unit: fc.constantFrom(...'abcXYZ019 =."-+$~'), maxLength: 30 });
    const line = (status: number): fc.Arbitrary<{ status: number; text: string; data?: string }> =>
      fc.oneof(
        text.map((t) => ({ status, text: t })),
        fc
          .tuple(text, fc.array(fc.string({ unit: fc.constantFrom(...'ab.. =+-'), maxLength: 12 }), { minLength: 1, maxLength: 5 }))
          .map(([t, d]) => ({ status, text: t, data: d.join('\n') })),
      );
    const reply = fc
      .constantFrom(250, 251, 451, 510, 552, 650)
      .chain((status) =>
        fc.tuple(fc.array(line(status), { maxLength: 4 }), text).map(([mid, end]) => ({
          status,
          lines: [...mid, { status, text: end }],
        })),
      );
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 17 }), (replies, cut) => {
        const bytes = Buffer.from(serialize(replies), 'utf8');
        const got: ControlReply[] = [];
        const parser = new ControlReplyParser((r) => got.push(r));
        for (let o = 0; o < bytes.length; o += cut) parser.push(bytes.subarray(o, o + cut));
        expect(got).toEqual(replies);
        expect(parser.idle).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('parseReplyArgs', () => {
  it('splits words and KEY=value pairs, unescaping quoted values', () => {
    const args = parseReplyArgs(
      String.raw`AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/tmp/a \"b\"\\c\n\101\303\251"  TAG=done`,
    );
    expect(args.words).toEqual(['AUTH']);
    expect(args.values.get('METHODS')).toBe('COOKIE,SAFECOOKIE');
    expect(args.values.get('COOKIEFILE')).toBe('/tmp/a "b"\\c\nAé');
    expect(args.values.get('TAG')).toBe('done');
    const boot = parseReplyArgs('NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn SUMMARY="Connecting to a relay to build circuits"');
    expect(boot.values.get('SUMMARY')).toBe('Connecting to a relay to build circuits');
  });

  it('rejects an unterminated quoted string', () => {
    expectControlError(() => parseReplyArgs('X="abc'), /unterminated/);
    expectControlError(() => parseReplyArgs('X="abc\\'), /unterminated/);
  });

  it('fuzz: any text parses or raises AcnControlError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'AB= "\\017n\u00e9'), maxLength: 60 }), (s) => {
        try {
          parseReplyArgs(s);
        } catch (err) {
          if (!(err instanceof AcnControlError)) throw err;
        }
      }),
      { numRuns: 5_000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Client over real sockets
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// TorACN against fakes
// ---------------------------------------------------------------------------------------------

type SocksBehaviour = { reply: number } | 'silent';

/** A SOCKS5 server: answers each CONNECT from `script` (last entry repeats), then echoes. */
async function fakeSocks(script: SocksBehaviour[]): Promise<{ port: number; requests: string[]; stop: () => Promise<void> }> {
  const requests: string[] = [];
  let n = 0;
  const srv = await rawServer((socket) => {
    const behaviour = script[Math.min(n++, script.length - 1)]!;
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'open' = 'greeting';
    socket.on('data', (chunk: Buffer) => {
      if (stage === 'open') return;
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'greeting' && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        buf = buf.subarray(2 + buf[1]!);
        stage = 'request';
        socket.write(Buffer.from([5, 0]));
      }
      if (stage === 'request' && buf.length >= 5 && buf.length >= 7 + buf[4]!) {
        const host = buf.subarray(5, 5 + buf[4]!).toString();
        const port = buf.readUInt16BE(5 + buf[4]!);
        requests.push(`${host}:${port}`);
        buf = buf.subarray(7 + buf[4]!);
        if (behaviour === 'silent') return;
        socket.write(Buffer.from([5, behaviour.reply, 0, 1, 0, 0, 0, 0, 0, 0]));
        if (behaviour.reply !== 0) {
          socket.end();
          return;
        }
        stage = 'open';
        socket.pipe(socket);
      }
    });
  });
  return { port: srv.port, requests, stop: srv.stop };
}

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
    cleanup.push(() => tor.stop(), () => socks.stop(), () => acn.close());
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
    expect(tor.commands).toContain('SETEVENTS HS_DESC');
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
    expect(retries.map((r) => [r.attempt, r.socks5Reply])).toEqual([[1, 4], [2, 4]]);
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

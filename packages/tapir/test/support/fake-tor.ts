/**
 * Shared by the tor control-port tests: a fake tor control port on a real 127.0.0.1 socket
 * (FakeTor), a raw server for misbehaving ports, and reply helpers.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { expect } from 'vitest';
import { type ControlReply, ControlReplyParser, type ReplyParserLimits } from '../../src/acn/tor-control-reply.js';
import { AcnControlError } from '../../src/errors.js';

export function parseAll(input: string | Uint8Array, limits?: Partial<ReplyParserLimits>): ControlReply[] {
  const replies: ControlReply[] = [];
  const parser = new ControlReplyParser((r) => replies.push(r), limits);
  parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return replies;
}

export function expectControlError(fn: () => unknown, message?: RegExp): void {
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
export function serialize(replies: readonly ControlReply[]): string {
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

export async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

// ---------------------------------------------------------------------------------------------
// A fake tor control port: just enough of control-spec to exercise the client
// ---------------------------------------------------------------------------------------------

export interface FakeTorOptions {
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
  /** GETINFO version (default "0.4.9.11"). */
  version?: string;
  /** GETINFO status/circuit-established (default "1"). */
  circuitEstablished?: string;
  /**
   * Answer a command with this raw text instead of the normal reply;
   * undefined: behave normally. For hostile or broken control ports.
   */
  override?: (command: string, line: string) => string | undefined;
  /** Read commands and never answer (a hung tor). */
  silent?: boolean;
}

/** One command as the fake received it, with the number of the connection it came on. */
export interface LoggedCommand {
  readonly connection: number;
  readonly line: string;
}

export class FakeTor {
  public readonly commands: string[] = [];
  public readonly log: LoggedCommand[] = [];
  public server: Server;
  public port = 0;
  /** Connections accepted so far (the first is number 1). */
  public connections = 0;
  /** Mutable: a test may change the behaviour between connections. */
  public readonly options: FakeTorOptions;
  readonly #sockets = new Set<Socket>();
  readonly #authenticated = new Set<Socket>();

  public constructor(opts: FakeTorOptions) {
    this.options = opts;
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

  /** Cut every control connection, as a tor that restarts or crashes does (and keep listening). */
  public dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  /** tor is gone: connections are cut and the port refuses new ones until comeBack(). */
  public async goDown(): Promise<void> {
    await this.stop();
  }

  /** tor is back on the same port. */
  public async comeBack(): Promise<void> {
    this.server = createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Send an asynchronous event (status 650) on every authenticated connection. */
  public emitEvent(text: string): void {
    for (const s of this.#authenticated) if (!s.destroyed) s.write(`650 ${text}\r\n`);
  }

  /** Control connections open right now. */
  public get openConnections(): number {
    return this.#sockets.size;
  }

  /** The commands of connection `n` (1-based). */
  public commandsOf(n: number): string[] {
    return this.log.filter((c) => c.connection === n).map((c) => c.line);
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    const connection = ++this.connections;
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#authenticated.delete(socket);
    });
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
        this.log.push({ connection, line });
        const [cmd, ...args] = line.split(' ');
        const o = this.options;
        const overridden = cmd !== undefined ? o.override?.(cmd, line) : undefined;
        if (o.silent === true) {
          // say nothing
        } else if (overridden !== undefined) {
          send(overridden);
        } else if (cmd === 'PROTOCOLINFO') {
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
            const expected = createHmac('sha256', key).update(o.cookie!).update(challenge.clientNonce).update(challenge.serverNonce).digest();
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
            this.#authenticated.add(socket);
            send('250 OK\r\n');
          } else {
            send('515 Authentication failed: Password did not match HashedControlPassword value\r\n');
            socket.end();
          }
        } else if (!authenticated) {
          send('514 Authentication required.\r\n');
          socket.end();
        } else if (cmd === 'GETINFO') {
          const known: Record<string, string> = {
            'status/bootstrap-phase': o.bootstrap ?? 'NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"',
            version: o.version ?? '0.4.9.11',
            'status/circuit-established': o.circuitEstablished ?? '1',
          };
          const unknown = args.find((k) => known[k] === undefined);
          if (unknown !== undefined) send(`552 Unrecognized key "${unknown}"\r\n`);
          else send(`${args.map((k) => `250-${k}=${known[k]}\r\n`).join('')}250 OK\r\n`);
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
        } else if (cmd === 'DEL_ONION' || cmd === 'HSFETCH') {
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
export async function rawServer(behave: (socket: Socket) => void): Promise<{ port: number; stop: () => Promise<void> }> {
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

export type SocksBehaviour = { reply: number } | 'silent';

/** A SOCKS5 server: answers each CONNECT from `script` (last entry repeats), then echoes. */
export async function fakeSocks(script: SocksBehaviour[]): Promise<{ port: number; requests: string[]; stop: () => Promise<void> }> {
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

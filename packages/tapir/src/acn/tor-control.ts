/**
 * A small client for tor's control port (torspec control-spec): authentication, GETINFO,
 * ADD_ONION / DEL_ONION and HS_DESC events — exactly what TorACN needs. The reply parser
 * (tor-control-reply.ts), reply arguments (tor-control-args.ts) and cookie authentication
 * (tor-control-auth.ts) live beside it.
 *
 * Written by hand on purpose: there is no maintained npm library for tor's control protocol
 * (the packages that exist have been abandoned for years and predate SAFECOOKIE, v3 onion
 * services and ED25519-V3 keys). The protocol is line-based and small, and owning the parser
 * lets us bound everything a broken or hostile control port can make us buffer.
 *
 * Security notes:
 * - Every failure is an AcnControlError / AcnTimeoutError / AcnClosedError; malformed input
 *   never throws anything else and never grows memory past the configured limits.
 * - Key material (ADD_ONION) and credentials (AUTHENTICATE) are never put in error messages.
 * - The COOKIEFILE path that tor announces is only used for SAFECOOKIE, where tor must prove
 *   it knows the cookie before we send anything derived from it. Plain COOKIE sends the file's
 *   contents, so it is only used with a cookie file the caller named explicitly.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { AcnClosedError, AcnControlError, AcnTimeoutError } from '../errors.js';
import { parseReplyArgs } from './tor-control-args.js';
import { SAFECOOKIE_NONCE_LENGTH, answerSafeCookieChallenge, readCookie } from './tor-control-auth.js';
import { ControlReplyParser, type ControlReply, type ReplyParserLimits } from './tor-control-reply.js';

export interface TorControlOptions {
  readonly host?: string;
  readonly port: number;
  /** TCP connect timeout (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Longest wait for the reply to one command (default 30 s). */
  readonly commandTimeoutMs?: number;
  readonly limits?: Partial<ReplyParserLimits>;
  /** Abandons a connection attempt still in progress (AcnClosedError). */
  readonly signal?: AbortSignal;
}

export interface TorAuthOptions {
  /** Cookie file to use; allows plain COOKIE auth and overrides the path tor announces. */
  readonly cookieFile?: string;
  /** Control password (for HashedControlPassword). */
  readonly password?: string;
}

export type TorAuthMethod = 'SAFECOOKIE' | 'COOKIE' | 'HASHEDPASSWORD' | 'NULL';

export interface ProtocolInfo {
  readonly methods: readonly string[];
  readonly cookieFile: string | undefined;
  readonly torVersion: string | undefined;
}

export interface OnionPort {
  /** Port advertised on the onion service. */
  readonly virtPort: number;
  /** Where tor forwards streams, "host:port". */
  readonly target: string;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface BootstrapPhase {
  readonly progress: number;
  readonly tag: string;
  readonly summary: string;
}

interface Pending {
  readonly resolve: (reply: ControlReply) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const GETINFO_KEY = /^[A-Za-z0-9/_.:@-]+$/;
const EVENT_NAME = /^[A-Z_]+$/;
const SERVICE_ID = /^[a-z2-7]{56}$/;
const TARGET = /^[A-Za-z0-9.:[\]-]+$/;

export class TorControlClient {
  readonly #socket: Socket;
  readonly #parser: ControlReplyParser;
  readonly #commandTimeoutMs: number;
  readonly #pending: Pending[] = [];
  readonly #eventListeners = new Set<(event: ControlReply) => void>();
  readonly #closeListeners = new Set<(err: Error) => void>();
  #closeError: Error | undefined;
  #closing = false;
  #protocolInfoSent = false;

  private constructor(socket: Socket, options: TorControlOptions) {
    this.#socket = socket;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
    this.#parser = new ControlReplyParser((reply) => this.#dispatch(reply), options.limits);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#parser.push(chunk);
      } catch (err) {
        this.#shutdown(toControlError(err));
      }
    });
    socket.on('end', () => {
      try {
        this.#parser.end();
      } catch (err) {
        this.#shutdown(toControlError(err));
      }
    });
    socket.on('error', (err) => this.#shutdown(new AcnControlError('tor control connection failed', { cause: err })));
    socket.on('close', () => this.#shutdown(new AcnControlError('tor closed the control connection')));
  }

  /** Open a TCP connection to the control port (not yet authenticated). */
  public static connect(options: TorControlOptions): Promise<TorControlClient> {
    const host = options.host ?? '127.0.0.1';
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new AcnClosedError('connecting to the tor control port was cancelled'));
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: options.port });
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        settle();
        socket.destroy();
        reject(new AcnClosedError('connecting to the tor control port was cancelled'));
      };
      const timer = setTimeout(() => {
        settle();
        socket.destroy();
        reject(new AcnTimeoutError(`tor control port ${host}:${options.port} did not accept a connection in ${timeoutMs} ms`));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => {
        settle();
        reject(new AcnControlError(`cannot connect to the tor control port ${host}:${options.port}`, { cause: err }));
      });
      socket.once('connect', () => {
        settle();
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new TorControlClient(socket, options));
      });
    });
  }

  public get closed(): boolean {
    return this.#closeError !== undefined;
  }

  /** Called once when the connection goes away (with the reason); returns an unsubscribe. */
  public onClose(listener: (err: Error) => void): () => void {
    if (this.#closeError !== undefined) {
      queueMicrotask(() => listener(this.#closeError!));
      return () => undefined;
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Receive every asynchronous event (status 650) this connection gets. */
  public onEvent(listener: (event: ControlReply) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /**
   * Send one command line and wait for its reply. Rejects with AcnControlError when tor answers
   * with anything but 2xx. `redacted` replaces the command in error messages (for secrets).
   */
  public async command(line: string, redacted?: string): Promise<ControlReply> {
    const reply = await this.#request(line);
    if (reply.status < 200 || reply.status > 299) {
      const first = reply.lines[0]?.text ?? '';
      throw new AcnControlError(`tor refused ${redacted ?? commandName(line)}: ${reply.status} ${truncate(first, 200)}`);
    }
    return reply;
  }

  #request(line: string): Promise<ControlReply> {
    if (this.#closeError !== undefined) return Promise.reject(this.#closeError);
    // A CR or LF would let a caller-supplied value smuggle in a second command.
    if (/[\r\n\0]/.test(line)) return Promise.reject(new AcnControlError('control command contains a line break'));
    return new Promise<ControlReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The reply may still come and would then be matched to the next command: drop the link.
        this.#shutdown(new AcnTimeoutError(`tor did not answer ${commandName(line)} within ${this.#commandTimeoutMs} ms`));
      }, this.#commandTimeoutMs);
      this.#pending.push({ resolve, reject, timer });
      this.#socket.write(`${line}\r\n`);
    });
  }

  #dispatch(reply: ControlReply): void {
    if (reply.status >= 600 && reply.status <= 699) {
      for (const listener of [...this.#eventListeners]) {
        try {
          listener(reply);
        } catch {
          // A listener's bug must not break the connection for everyone else.
        }
      }
      return;
    }
    const pending = this.#pending.shift();
    if (pending === undefined) {
      this.#shutdown(new AcnControlError('malformed tor control reply: a reply arrived with no command pending'));
      return;
    }
    clearTimeout(pending.timer);
    pending.resolve(reply);
  }

  #shutdown(reason: Error): void {
    if (this.#closeError !== undefined) return;
    const err = this.#closing ? new AcnClosedError('the tor control connection was closed') : reason;
    this.#closeError = err;
    this.#socket.destroy();
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#eventListeners.clear();
    for (const listener of [...this.#closeListeners]) {
      try {
        listener(err);
      } catch {
        // ignore: see #dispatch
      }
    }
    this.#closeListeners.clear();
  }

  /** Close the connection; pending commands reject with AcnClosedError. Onions not added with
   * Flags=Detach disappear with it. */
  public async close(): Promise<void> {
    if (this.#closeError !== undefined) return;
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.end('QUIT\r\n');
    const timer = setTimeout(() => this.#socket.destroy(), 1000);
    await closed;
    clearTimeout(timer);
    this.#shutdown(new AcnClosedError());
  }

  // ----- authentication ------------------------------------------------------------------------

  public async protocolInfo(): Promise<ProtocolInfo> {
    this.#protocolInfoSent = true;
    const reply = await this.command('PROTOCOLINFO 1');
    let methods: string[] = [];
    let cookieFile: string | undefined;
    let torVersion: string | undefined;
    for (const line of reply.lines) {
      const args = parseReplyArgs(line.text);
      if (args.words[0] === 'AUTH') {
        methods = (args.values.get('METHODS') ?? '').split(',').filter((m) => m.length > 0);
        cookieFile = args.values.get('COOKIEFILE');
      } else if (args.words[0] === 'VERSION') {
        torVersion = args.values.get('Tor');
      }
    }
    return { methods, cookieFile, torVersion };
  }

  /**
   * PROTOCOLINFO, then the best method tor offers that we can use: SAFECOOKIE, COOKIE (only with
   * an explicit cookieFile), HASHEDPASSWORD (with a password), NULL. tor closes the connection
   * after a failed AUTHENTICATE, so there is exactly one attempt.
   */
  public async authenticate(options: TorAuthOptions = {}): Promise<TorAuthMethod> {
    if (this.#protocolInfoSent) throw new AcnControlError('authenticate() must be the first exchange on a connection');
    const info = await this.protocolInfo();
    const offered = new Set(info.methods);
    const reasons: string[] = [];

    if (offered.has('SAFECOOKIE')) {
      const path = options.cookieFile ?? info.cookieFile;
      const cookie = path === undefined ? undefined : await readCookie(path, reasons);
      if (cookie !== undefined) {
        try {
          await this.#safeCookie(cookie);
        } finally {
          cookie.fill(0);
        }
        return 'SAFECOOKIE';
      }
    }
    if (offered.has('COOKIE') && options.cookieFile !== undefined) {
      const cookie = await readCookie(options.cookieFile, reasons);
      if (cookie !== undefined) {
        try {
          await this.command(`AUTHENTICATE ${Buffer.from(cookie).toString('hex')}`, 'AUTHENTICATE (COOKIE)');
        } finally {
          cookie.fill(0);
        }
        return 'COOKIE';
      }
    }
    if (offered.has('HASHEDPASSWORD') && options.password !== undefined) {
      // Hex form of the password: no quoting rules to get wrong (control-spec §3.5).
      await this.command(`AUTHENTICATE ${Buffer.from(options.password, 'utf8').toString('hex')}`, 'AUTHENTICATE (HASHEDPASSWORD)');
      return 'HASHEDPASSWORD';
    }
    if (offered.has('NULL')) {
      await this.command('AUTHENTICATE', 'AUTHENTICATE (NULL)');
      return 'NULL';
    }
    const why = reasons.length > 0 ? `; ${reasons.join('; ')}` : '';
    throw new AcnControlError(
      `no usable tor control authentication method (tor offers ${info.methods.join(',') || 'none'}; configure cookieFile or password${why})`,
    );
  }

  async #safeCookie(cookie: Uint8Array): Promise<void> {
    const clientNonce = randomBytes(SAFECOOKIE_NONCE_LENGTH);
    const reply = await this.command(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`);
    const clientHash = answerSafeCookieChallenge(cookie, clientNonce, reply.lines[0]?.text ?? '');
    await this.command(`AUTHENTICATE ${clientHash.toString('hex')}`, 'AUTHENTICATE (SAFECOOKIE)');
  }

  // ----- commands ------------------------------------------------------------------------------

  /** GETINFO for one or more keys; returns key → value (data values joined with "\n"). */
  public async getInfo(keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0 || !keys.every((k) => GETINFO_KEY.test(k))) {
      throw new AcnControlError('invalid GETINFO key');
    }
    const reply = await this.command(`GETINFO ${keys.join(' ')}`);
    const out = new Map<string, string>();
    for (const line of reply.lines) {
      const eq = line.text.indexOf('=');
      if (eq <= 0) continue; // the final "OK"
      const key = line.text.slice(0, eq);
      out.set(key, line.data ?? line.text.slice(eq + 1));
    }
    for (const k of keys) {
      if (!out.has(k)) throw new AcnControlError(`malformed tor control reply: GETINFO did not return ${k}`);
    }
    return out;
  }

  public async bootstrapPhase(): Promise<BootstrapPhase> {
    const raw = (await this.getInfo(['status/bootstrap-phase'])).get('status/bootstrap-phase') ?? '';
    const args = parseReplyArgs(raw);
    const progress = Number.parseInt(args.values.get('PROGRESS') ?? '', 10);
    if (!Number.isFinite(progress) || progress < 0 || progress > 100) {
      throw new AcnControlError('malformed tor control reply: bad bootstrap PROGRESS');
    }
    return { progress, tag: args.values.get('TAG') ?? '', summary: args.values.get('SUMMARY') ?? '' };
  }

  /** GETINFO status/circuit-established: whether tor has built a circuit recently. */
  public async circuitEstablished(): Promise<boolean> {
    const raw = (await this.getInfo(['status/circuit-established'])).get('status/circuit-established');
    if (raw !== '0' && raw !== '1') throw new AcnControlError('malformed tor control reply: bad status/circuit-established');
    return raw === '1';
  }

  /** GETINFO version: tor's version string (bounded, printable ASCII). */
  public async version(): Promise<string> {
    const raw = (await this.getInfo(['version'])).get('version') ?? '';
    if (!/^[\x20-\x7e]{1,100}$/.test(raw)) throw new AcnControlError('malformed tor control reply: bad version');
    return raw;
  }

  /** SETEVENTS replaces the whole subscription set of this connection. */
  public async setEvents(events: readonly string[]): Promise<void> {
    if (!events.every((e) => EVENT_NAME.test(e))) throw new AcnControlError('invalid event name');
    await this.command(['SETEVENTS', ...events].join(' '));
  }

  /**
   * ADD_ONION with our own 64-byte expanded ed25519 key (Flags=DiscardPK: tor must not echo it
   * back). Returns tor's ServiceID; the caller must compare it with the address it expects,
   * because tor accepts any 64 bytes and silently serves whatever address they imply.
   */
  public async addOnionEd25519V3(expandedSecretKey: Uint8Array, ports: readonly OnionPort[]): Promise<string> {
    if (expandedSecretKey.length !== 64) throw new AcnControlError('an ED25519-V3 expanded key is 64 bytes');
    if (ports.length === 0) throw new AcnControlError('ADD_ONION needs at least one port');
    const portArgs = ports.map((p) => {
      if (!isPort(p.virtPort) || !TARGET.test(p.target)) throw new AcnControlError('invalid ADD_ONION port mapping');
      return `Port=${p.virtPort},${p.target}`;
    });
    const key = Buffer.from(expandedSecretKey).toString('base64');
    const reply = await this.command(`ADD_ONION ED25519-V3:${key} Flags=DiscardPK ${portArgs.join(' ')}`, 'ADD_ONION');
    for (const line of reply.lines) {
      const args = parseReplyArgs(line.text);
      const id = args.values.get('ServiceID');
      if (id !== undefined) {
        if (!SERVICE_ID.test(id)) throw new AcnControlError('malformed tor control reply: bad ServiceID');
        return id;
      }
    }
    throw new AcnControlError('malformed tor control reply: ADD_ONION returned no ServiceID');
  }

  /**
   * Ask tor to fetch `serviceId`'s descriptor again from its HSDirs. A client keeps a cached
   * descriptor until it expires; after the service's tor restarts, that copy names introduction
   * points that no longer exist, and a fresh fetch is the quickest way past it.
   */
  public async hsFetch(serviceId: string): Promise<void> {
    if (!SERVICE_ID.test(serviceId)) throw new AcnControlError('invalid onion service id');
    await this.command(`HSFETCH ${serviceId}`);
  }

  public async delOnion(serviceId: string): Promise<void> {
    if (!SERVICE_ID.test(serviceId)) throw new AcnControlError('invalid onion service id');
    await this.command(`DEL_ONION ${serviceId}`);
  }

  /**
   * Resolves at the first `HS_DESC UPLOADED <serviceId>` event, i.e. once one HSDir holds the
   * descriptor. Registers at once, so call it *before* ADD_ONION to not miss a fast upload.
   * Needs `setEvents(['HS_DESC', …])` on this connection.
   */
  public waitForHsDescUploaded(serviceId: string, options: WaitOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        offEvent();
        offClose();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AcnClosedError('waiting for the onion descriptor upload was cancelled'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new AcnTimeoutError(`tor did not publish the onion service descriptor within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      const offEvent = this.onEvent((event) => {
        const words = (event.lines[0]?.text ?? '').split(' ');
        if (words[0] === 'HS_DESC' && words[1] === 'UPLOADED' && words[2] === serviceId) {
          cleanup();
          resolve();
        }
      });
      const offClose = this.onClose((err) => {
        cleanup();
        reject(err);
      });
      if (options.signal?.aborted === true) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
/** What a STATUS_CLIENT event says about tor's health (control-spec §4.1.10). */
export type ClientStatusEvent = { readonly kind: 'bootstrap'; readonly phase: BootstrapPhase } | { readonly kind: 'circuits'; readonly established: boolean };

/**
 * Reads the STATUS_CLIENT events TorACN shows in its status: BOOTSTRAP progress and
 * CIRCUIT_(NOT_)ESTABLISHED. Returns undefined for any other event; throws AcnControlError on a
 * malformed BOOTSTRAP event. The summary is bounded and stripped of control characters.
 */
export function parseClientStatusEvent(event: ControlReply): ClientStatusEvent | undefined {
  const text = event.lines[0]?.text ?? '';
  if (!text.startsWith('STATUS_CLIENT ')) return undefined;
  const args = parseReplyArgs(text);
  const action = args.words[2];
  if (action === 'CIRCUIT_ESTABLISHED') return { kind: 'circuits', established: true };
  if (action === 'CIRCUIT_NOT_ESTABLISHED') return { kind: 'circuits', established: false };
  if (action !== 'BOOTSTRAP') return undefined;
  const raw = args.values.get('PROGRESS') ?? '';
  const progress = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(progress >= 0 && progress <= 100)) throw new AcnControlError('malformed tor control reply: bad bootstrap PROGRESS');
  return {
    kind: 'bootstrap',
    phase: { progress, tag: truncate(args.values.get('TAG') ?? '', 64), summary: truncate(args.values.get('SUMMARY') ?? '', 200) },
  };
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function commandName(line: string): string {
  return line.split(' ', 1)[0] ?? '';
}

/** For text from tor that goes into an error message: bounded and without control characters. */
function truncate(s: string, max: number): string {
  let clean = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    clean += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? '?' : ch;
  }
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function toControlError(err: unknown): Error {
  return err instanceof AcnControlError ? err : new AcnControlError('tor control connection failed', { cause: err });
}

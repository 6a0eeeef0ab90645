/**
 * TorACN: the ACN backed by a running tor daemon. Onion services are published over tor's
 * control port (ADD_ONION with the identity's own key) and streams are opened through its
 * SOCKS5 port. Like every ACN it authenticates nothing; the tapir handshake binds identities.
 * (So it is fine that tor delivers inbound streams to a plain 127.0.0.1 listener that any local
 * process could also connect to.)
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { parseOnionName, type Identity, type OnionName } from '@pursuance/crypto';
import { AcnClosedError, AcnControlError, AcnTimeoutError, AcnUnreachableError } from '../errors.js';
import type { ACN, ACNListener, BootstrapStatus, OpenOptions } from './acn.js';
import { TorControlClient } from './tor-control.js';

export interface TorACNOptions {
  /** tor's ControlPort (default host 127.0.0.1). */
  readonly controlHost?: string;
  readonly controlPort: number;
  /** tor's SocksPort (default host 127.0.0.1). */
  readonly socksHost?: string;
  readonly socksPort: number;
  /** Control-port credentials; SAFECOOKIE works without either when tor announces its cookie. */
  readonly cookieFile?: string;
  readonly password?: string;
  /** How long listen() waits for the first descriptor upload (default 120 s). */
  readonly publishTimeoutMs?: number;
  /** Default open() timeout (default 120 s, as the ACN interface documents for tor). */
  readonly openTimeoutMs?: number;
  /** open() attempts when tor answers SOCKS 0x04 "host unreachable" (default 5). */
  readonly openAttempts?: number;
  /** Delay before the n-th retry is n × this (default 1000 ms). */
  readonly openRetryDelayMs?: number;
  /** Longest wait for one control-port reply (default 30 s). */
  readonly controlTimeoutMs?: number;
  /** Told about each open() retry (for logs and metrics; gets no key material). */
  readonly onOpenRetry?: (info: OpenRetryInfo) => void;
}

export interface OpenRetryInfo {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly socks5Reply: number;
  readonly delayMs: number;
}

/** SOCKS5 reply 0x04. With tor's ExtendedErrors off this is what a failed HS descriptor fetch
 * gives, typically because the service published a moment ago (TOR-TESTNET pitfall 6). */
const SOCKS5_HOST_UNREACHABLE = 0x04;

/** The `socks` package reports a SOCKS5 refusal only as text ("… - HostUnreachable"). */
const SOCKS5_REPLY_NAMES: Readonly<Record<string, number>> = {
  Failure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TTLExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressNotSupported: 0x08,
};

/** SOCKS5 reply code carried by an error from the `socks` package, if it is a refusal. */
export function socks5ReplyCode(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const m = /^Socks5 proxy rejected connection - (\w+)$/.exec(err.message);
  return m === null ? undefined : SOCKS5_REPLY_NAMES[m[1]!];
}

/** Why an in-flight open() was stopped (an AbortController's reason). */
type StopReason = 'timeout' | 'acn-closed' | 'caller';

export class TorACN implements ACN {
  public readonly kind = 'tor' as const;
  readonly #opts: TorACNOptions;
  #control: Promise<TorControlClient> | undefined;
  #closed = false;
  readonly #listeners = new Set<TorListener>();
  readonly #opening = new Set<AbortController>();

  public constructor(options: TorACNOptions) {
    if (!isPort(options.controlPort) || !isPort(options.socksPort)) {
      throw new RangeError('TorACN needs valid controlPort and socksPort numbers');
    }
    this.#opts = options;
  }

  public async listen(identity: Identity, port: number, onConnection: (socket: Socket) => void): Promise<ACNListener> {
    this.#assertOpen();
    if (!isPort(port)) throw new RangeError(`invalid onion port ${port}`);
    const server = createServer(onConnection);
    // Accept errors (e.g. EMFILE) must not crash the process; tor simply retries the stream.
    server.on('error', () => undefined);
    const localPort = await listenOnLoopback(server);
    const cancelWait = new AbortController();
    let control: TorControlClient | undefined;
    let added: string | undefined;
    try {
      control = await this.#controlClient();
      // Registered before ADD_ONION so that an upload racing the reply cannot be missed.
      const uploaded = control.waitForHsDescUploaded(identity.onion, {
        timeoutMs: this.#opts.publishTimeoutMs ?? 120_000,
        signal: cancelWait.signal,
      });
      uploaded.catch(() => undefined); // observed below, or abandoned when ADD_ONION fails
      const key = identity.torExpandedSecretKey();
      try {
        added = await control.addOnionEd25519V3(key, [{ virtPort: port, target: `127.0.0.1:${localPort}` }]);
      } finally {
        key.fill(0);
      }
      // tor accepts any 64-byte blob and serves whatever address it implies: never trust that
      // the service is the identity's without checking (TOR-TESTNET, "Trap").
      if (added !== identity.onion) {
        throw new AcnControlError(`tor published ${abbreviate(added)} instead of ${abbreviate(identity.onion)}; the expanded key does not match the identity`);
      }
      await uploaded;
      this.#assertOpen();
    } catch (err) {
      cancelWait.abort();
      server.close();
      if (added !== undefined && control !== undefined && !control.closed) {
        await control.delOnion(added).catch(() => undefined);
      }
      throw err;
    }
    const listener = new TorListener(added as OnionName, port, server, control, () => this.#listeners.delete(listener));
    this.#listeners.add(listener);
    return listener;
  }

  public async open(onion: OnionName, port: number, options: OpenOptions = {}): Promise<Socket> {
    this.#assertOpen();
    let name: OnionName;
    try {
      name = parseOnionName(onion);
    } catch (err) {
      throw new AcnUnreachableError('not a valid v3 onion name', { cause: err });
    }
    if (!isPort(port)) throw new RangeError(`invalid onion port ${port}`);
    const timeoutMs = options.timeoutMs ?? this.#opts.openTimeoutMs ?? 120_000;
    const attempts = Math.max(1, this.#opts.openAttempts ?? 5);
    const retryDelayMs = this.#opts.openRetryDelayMs ?? 1000;
    const deadline = Date.now() + timeoutMs;

    const stop = new AbortController();
    const onCallerAbort = (): void => stop.abort('caller' satisfies StopReason);
    if (options.signal?.aborted === true) throw stopError('caller', name, port, timeoutMs);
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(() => stop.abort('timeout' satisfies StopReason), timeoutMs);
    this.#opening.add(stop);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await socksConnect(
            { host: this.#opts.socksHost ?? '127.0.0.1', port: this.#opts.socksPort },
            `${name}.onion`,
            port,
            Math.max(1, deadline - Date.now()),
            stop.signal,
          );
        } catch (err) {
          if (stop.signal.aborted) throw stopError(stop.signal.reason as StopReason, name, port, timeoutMs);
          const code = socks5ReplyCode(err);
          const delay = retryDelayMs * attempt;
          // 0x04 right after publication is the HSDir fetch race; a moment later it works.
          if (code === SOCKS5_HOST_UNREACHABLE && attempt < attempts && Date.now() + delay < deadline) {
            this.#opts.onOpenRetry?.({ attempt, socks5Reply: code, delayMs: delay });
            await sleep(delay, stop.signal).catch(() => undefined);
            if (stop.signal.aborted) throw stopError(stop.signal.reason as StopReason, name, port, timeoutMs);
            continue;
          }
          const what = code === undefined ? 'no SOCKS connection' : `SOCKS5 reply 0x0${code.toString(16)}`;
          throw new AcnUnreachableError(`cannot reach ${abbreviate(name)}:${port} through tor (${what}, ${attempt} attempt${attempt === 1 ? '' : 's'})`, {
            cause: err,
          });
        }
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
      this.#opening.delete(stop);
    }
  }

  public async bootstrapStatus(): Promise<BootstrapStatus> {
    const control = await this.#controlClient();
    const phase = await control.bootstrapPhase();
    return { progress: phase.progress, summary: phase.summary };
  }

  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#opening) stop.abort('acn-closed' satisfies StopReason);
    await Promise.allSettled([...this.#listeners].map((l) => l.close()));
    const control = await this.#control?.catch(() => undefined);
    this.#control = undefined;
    // Closing the connection also removes anything DEL_ONION could not (no Flags=Detach).
    await control?.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AcnClosedError();
  }

  /** One authenticated control connection, made on first use and again after it drops. */
  #controlClient(): Promise<TorControlClient> {
    this.#assertOpen();
    if (this.#control !== undefined) return this.#control;
    const attempt = (async () => {
      const client = await TorControlClient.connect({
        host: this.#opts.controlHost ?? '127.0.0.1',
        port: this.#opts.controlPort,
        commandTimeoutMs: this.#opts.controlTimeoutMs ?? 30_000,
      });
      try {
        const auth: { cookieFile?: string; password?: string } = {};
        if (this.#opts.cookieFile !== undefined) auth.cookieFile = this.#opts.cookieFile;
        if (this.#opts.password !== undefined) auth.password = this.#opts.password;
        await client.authenticate(auth);
        await client.setEvents(['HS_DESC']);
      } catch (err) {
        await client.close();
        throw err;
      }
      client.onClose(() => {
        if (this.#control === attempt) this.#control = undefined;
        // tor removed every onion of this connection with it: their listeners are dead.
        for (const l of this.#listeners) if (l.uses(client)) l.close().catch(() => undefined);
      });
      return client;
    })();
    this.#control = attempt;
    attempt.catch(() => {
      if (this.#control === attempt) this.#control = undefined;
    });
    return attempt;
  }
}

class TorListener implements ACNListener {
  public readonly onion: OnionName;
  public readonly port: number;
  readonly #control: TorControlClient;
  readonly #server: Server;
  readonly #forget: () => void;
  #closing: Promise<void> | undefined;

  public constructor(onion: OnionName, port: number, server: Server, control: TorControlClient, forget: () => void) {
    this.onion = onion;
    this.port = port;
    this.#server = server;
    this.#control = control;
    this.#forget = forget;
  }

  /** Whether this service was added on `control` (and so vanishes with it). */
  public uses(control: TorControlClient): boolean {
    return this.#control === control;
  }

  public close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#forget();
    // Stop accepting; streams already handed out belong to their owners (ACNListener contract).
    this.#server.close();
    if (this.#control.closed) return; // the onion went away with the connection
    try {
      await this.#control.delOnion(this.onion);
    } catch (err) {
      if (!this.#control.closed) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Onion names are public, but logs need not record who talks to whom in full. */
function abbreviate(onion: string): string {
  return `${onion.slice(0, 8)}….onion`;
}

function stopError(reason: StopReason, onion: string, port: number, timeoutMs: number): Error {
  switch (reason) {
    case 'timeout':
      return new AcnTimeoutError(`opening ${abbreviate(onion)}:${port} through tor took longer than ${timeoutMs} ms`);
    case 'acn-closed':
      return new AcnClosedError();
    default:
      // Same mapping as LoopbackACN: errors.ts has no dedicated "aborted" class.
      return new AcnUnreachableError(`opening ${abbreviate(onion)}:${port} was aborted by the caller`);
  }
}

function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new AcnControlError('cannot open a local listener for the onion service', { cause: err }));
    server.once('error', onError);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', onError);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new AcnControlError('local listener has no TCP port'));
      else resolve(addr.port);
    });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One SOCKS5 CONNECT through tor. We dial the proxy ourselves and hand the socket to `socks`
 * (existing_socket) so that an abort can destroy it at any stage, which `socks` cannot do.
 */
async function socksConnect(proxy: { host: string; port: number }, host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  const raw = connect({ host: proxy.host, port: proxy.port });
  const onAbort = (): void => {
    raw.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => {
        raw.removeListener('error', reject);
        resolve();
      });
      raw.once('error', reject);
      raw.once('close', () => reject(new Error('socket closed')));
    });
    raw.removeAllListeners('close');
    const { socket } = await SocksClient.createConnection({
      proxy: { host: proxy.host, port: proxy.port, type: 5 },
      command: 'connect',
      destination: { host, port },
      timeout: timeoutMs,
      existing_socket: raw,
    });
    if (signal.aborted) throw new Error('aborted');
    return socket;
  } catch (err) {
    raw.destroy();
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

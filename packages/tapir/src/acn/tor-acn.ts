/**
 * TorACN: the ACN backed by a running tor daemon. Onion services are published over tor's
 * control port (ADD_ONION with the identity's own key) and streams are opened through its
 * SOCKS5 port. Like every ACN it authenticates nothing; the tapir handshake binds identities.
 * (So it is fine that tor delivers inbound streams to a plain 127.0.0.1 listener that any local
 * process could also connect to.)
 *
 * Surviving tor restarts: tor removes an onion added without Flags=Detach when the control
 * connection that added it closes (and a tor restart closes it). So once TorACN has connected,
 * it watches that connection and, when it drops, reconnects with capped exponential backoff,
 * authenticates again and re-adds every onion it owns with the same key and the same port
 * mapping. The onion address and the local listener therefore never change and ACNListener
 * objects stay valid; only streams that were in flight die. (Detached onions would survive a
 * lost connection but not a tor restart, and would outlive a crashed owner.)
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { parseOnionName, type Identity, type OnionName } from '@pursuance/crypto';
import { AcnClosedError, AcnControlError, AcnTimeoutError, AcnUnreachableError, TapirError } from '../errors.js';
import type { ACN, ACNListener, BootstrapStatus, ListenOptions, OpenOptions, TorStatus } from './acn.js';
import { DEFAULT_RECONNECT_POLICY, type ReconnectPolicy, type TorACNClock, reconnectDelay, systemClock } from './tor-control-backoff.js';
import { TorControlClient, parseClientStatusEvent } from './tor-control.js';
import type { ControlReply } from './tor-control-reply.js';

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
  /** Told when tor accepted an HSFETCH for an onion after a failed open() (for logs and tests). */
  readonly onDescriptorRefetch?: (onion: OnionName) => void;
  /** Backoff of control-port reconnection (default 250 ms doubling up to 15 s, with jitter). */
  readonly reconnect?: Partial<ReconnectPolicy>;
  /** Told about each failed control-port (re)connection attempt (for logs; a code, no secrets). */
  readonly onReconnectFailure?: (info: ReconnectFailureInfo) => void;
  /** Clock for the reconnection backoff and status timestamps (tests inject one). */
  readonly clock?: TorACNClock;
  /** Uniform [0, 1) source for the backoff jitter (default Math.random). */
  readonly random?: () => number;
}

export interface OpenRetryInfo {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly socks5Reply: number;
  readonly delayMs: number;
}

export interface ReconnectFailureInfo {
  /** Consecutive failed attempts so far (1-based). */
  readonly attempt: number;
  /** TapirErrorCode of the failure. */
  readonly code: string;
  /** How long TorACN waits before the next attempt. */
  readonly delayMs: number;
}

/** SOCKS5 reply 0x04. With tor's ExtendedErrors off this is what a failed HS descriptor fetch
 * gives, typically because the service published a moment ago (TOR-TESTNET pitfall 6). */
const SOCKS5_HOST_UNREACHABLE = 0x04;

/** How long open() asks a seemingly healthy control connection whether tor is still there
 * after tor's SOCKS port refused a connection. */
const PROBE_TIMEOUT_MS = 2000;

/** How long a failed open() waits for a control connection to ask for a fresh descriptor. */
const HSFETCH_WAIT_MS = 10_000;

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

const INITIAL_STATUS: TorStatus = Object.freeze({
  state: 'connecting',
  bootstrap: null,
  version: null,
  circuitsOk: false,
  outages: 0,
  lastDownAt: null,
  lastUpAt: null,
  lastError: null,
});

export class TorACN implements ACN {
  public readonly kind = 'tor' as const;
  readonly #opts: TorACNOptions;
  readonly #clock: TorACNClock;
  readonly #policy: ReconnectPolicy;
  #closed = false;
  /** Aborted by close(): cancels a control connection attempt in progress. */
  readonly #lifetime = new AbortController();
  /** Onions that a reconnection re-publishes (added at least once, not closed). */
  readonly #listeners = new Set<TorListener>();
  /** Every listener by onion, including those listen() is still publishing. */
  readonly #byOnion = new Map<string, TorListener>();
  readonly #opening = new Set<AbortController>();

  // ----- control connection supervision ------------------------------------------------------
  #supervising = false;
  /** The authenticated control connection while the state is 'up'. */
  #control: TorControlClient | undefined;
  /** A connection being set up (authenticating, re-publishing); closed by close(). */
  #connecting: TorControlClient | undefined;
  #everUp = false;
  #failedAttempts = 0;
  #lastAttemptError: Error | undefined;
  /** Ends the current backoff wait early (close(), or a caller that needs tor now). */
  #wake: (() => void) | undefined;
  /** Re-evaluated on every change of state; see #waitFor. */
  readonly #waiters = new Set<() => void>();

  #status: TorStatus = INITIAL_STATUS;
  readonly #statusListeners = new Set<(status: TorStatus) => void>();

  public constructor(options: TorACNOptions) {
    if (!isPort(options.controlPort) || !isPort(options.socksPort)) {
      throw new RangeError('TorACN needs valid controlPort and socksPort numbers');
    }
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#policy = { ...DEFAULT_RECONNECT_POLICY, ...options.reconnect };
  }

  // ----- status ----------------------------------------------------------------------------------

  /** The current health of tor as this ACN sees it (a frozen snapshot). */
  public status(): TorStatus {
    return this.#status;
  }

  /**
   * Called with a new snapshot on every change (state transitions, bootstrap progress, circuits,
   * errors). Subscribing also starts watching tor's control port if nothing has yet, so that an
   * app that only dials still sees tor's health. Returns an unsubscribe function.
   */
  public onStatus(listener: (status: TorStatus) => void): () => void {
    this.#statusListeners.add(listener);
    this.#supervise();
    return () => {
      this.#statusListeners.delete(listener);
    };
  }

  #setStatus(patch: Partial<TorStatus>): void {
    const next: TorStatus = { ...this.#status, ...patch };
    const prev = this.#status;
    if (
      next.state === prev.state &&
      next.version === prev.version &&
      next.circuitsOk === prev.circuitsOk &&
      next.outages === prev.outages &&
      next.lastDownAt === prev.lastDownAt &&
      next.lastUpAt === prev.lastUpAt &&
      next.lastError === prev.lastError &&
      next.bootstrap?.progress === prev.bootstrap?.progress &&
      next.bootstrap?.summary === prev.bootstrap?.summary
    ) {
      return;
    }
    this.#status = Object.freeze({ ...next, bootstrap: next.bootstrap === null ? null : Object.freeze({ ...next.bootstrap }) });
    for (const listener of [...this.#statusListeners]) {
      try {
        listener(this.#status);
      } catch {
        // A subscriber's bug must not break the connection handling for everyone else.
      }
    }
  }

  // ----- listen ----------------------------------------------------------------------------------

  public async listen(identity: Identity, port: number, onConnection: (socket: Socket) => void, options: ListenOptions = {}): Promise<ACNListener> {
    this.#assertOpen();
    if (!isPort(port)) throw new RangeError(`invalid onion port ${port}`);
    const aborted = (): Error => new AcnClosedError(`publishing ${abbreviate(identity.onion)} was aborted by the caller`);
    if (options.signal?.aborted === true) throw aborted();
    // tor refuses a second ADD_ONION of the same key, and re-publication is keyed by onion.
    if (this.#byOnion.has(identity.onion)) throw new AcnControlError(`${abbreviate(identity.onion)} is already published by this ACN`);
    const timeoutMs = options.timeoutMs ?? this.#opts.publishTimeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    const timedOut = (): Error => new AcnTimeoutError(`tor did not publish the onion service descriptor within ${timeoutMs} ms`);

    const server = createServer(onConnection);
    // Accept errors (e.g. EMFILE) must not crash the process; tor simply retries the stream.
    server.on('error', () => undefined);
    const localPort = await listenOnLoopback(server);
    const listener = new TorListener(identity, port, server, localPort, (l) => this.#forget(l));
    if (this.#closed || this.#byOnion.has(identity.onion)) {
      server.close();
      this.#assertOpen();
      throw new AcnControlError(`${abbreviate(identity.onion)} is already published by this ACN`);
    }
    this.#byOnion.set(identity.onion, listener);
    try {
      for (;;) {
        const client = await this.#waitUp({ deadline, signal: options.signal, failFast: true, timedOut, aborted });
        try {
          if (listener.addedOn !== client) await this.#publish(listener, client);
          // From here on a reconnection re-publishes it, even before the first upload.
          this.#listeners.add(listener);
          const uploaded = await this.#waitFor(() => (listener.uploadedOn === client ? true : client.closed ? false : undefined), {
            deadline,
            signal: options.signal,
            timedOut,
            aborted,
          });
          if (uploaded) return listener;
        } catch (err) {
          // The connection died under us: the reconnection re-publishes; wait for it.
          if (client.closed && !this.#closed && !isAborted(options.signal) && Date.now() < deadline) continue;
          throw err;
        }
      }
    } catch (err) {
      const added = listener.addedOn;
      listener.closeLocally();
      this.#forget(listener);
      // (After close() the connection is going away and takes the onion with it.)
      if (added !== undefined && !added.closed && !this.#closed) await added.delOnion(listener.onion).catch(() => undefined);
      throw err;
    }
  }

  #forget(listener: TorListener): void {
    this.#listeners.delete(listener);
    if (this.#byOnion.get(listener.onion) === listener) this.#byOnion.delete(listener.onion);
  }

  /** ADD_ONION `listener` on `client`, and check that tor serves the identity's own address. */
  async #publish(listener: TorListener, client: TorControlClient): Promise<void> {
    const key = listener.identity.torExpandedSecretKey();
    let added: string;
    try {
      added = await client.addOnionEd25519V3(key, [{ virtPort: listener.port, target: `127.0.0.1:${listener.localPort}` }]);
    } finally {
      key.fill(0);
    }
    // tor accepts any 64-byte blob and serves whatever address it implies: never trust that
    // the service is the identity's without checking (TOR-TESTNET, "Trap").
    if (added !== listener.onion) {
      await client.delOnion(added).catch(() => undefined);
      throw new AcnControlError(`tor published ${abbreviate(added)} instead of ${abbreviate(listener.onion)}; the expanded key does not match the identity`);
    }
    listener.addedOn = client;
  }

  // ----- open ------------------------------------------------------------------------------------

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
    const stopped = (): Error => stopError(stop.signal.reason as StopReason, name, port, timeoutMs);
    try {
      // During an outage tor's SOCKS port is gone too: wait for tor to come back instead.
      if (this.#supervising && this.#status.state === 'down') {
        await this.#waitUp({ signal: stop.signal, failFast: false, timedOut: stopped, aborted: stopped });
      }
      for (let attempt = 1; ;) {
        try {
          return await socksConnect(
            { host: this.#opts.socksHost ?? '127.0.0.1', port: this.#opts.socksPort },
            `${name}.onion`,
            port,
            Math.max(1, deadline - Date.now()),
            stop.signal,
          );
        } catch (err) {
          if (stop.signal.aborted) {
            if (stop.signal.reason === 'timeout') this.#refetchDescriptor(name);
            throw stopped();
          }
          // The socks library's own timer (set to the same deadline) may fire before ours: that
          // is still our timeout, not an unreachable onion.
          if (Date.now() >= deadline) {
            this.#refetchDescriptor(name);
            throw stopError('timeout', name, port, timeoutMs);
          }
          const code = socks5ReplyCode(err);
          if (code === undefined && (await this.#torWentAway(stop.signal, stopped))) continue;
          const delay = retryDelayMs * attempt;
          // 0x04 right after publication is the HSDir fetch race; a moment later it works.
          if (code === SOCKS5_HOST_UNREACHABLE && attempt < attempts && Date.now() + delay < deadline) {
            this.#opts.onOpenRetry?.({ attempt, socks5Reply: code, delayMs: delay });
            await sleep(delay, stop.signal).catch(() => undefined);
            if (stop.signal.aborted) throw stopped();
            attempt++;
            continue;
          }
          if (code !== undefined) this.#refetchDescriptor(name);
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

  /**
   * After an open that failed inside tor (a timeout or a SOCKS refusal), ask tor to fetch the
   * onion's descriptor afresh, without waiting. tor keeps a cached descriptor until it expires,
   * and when the service's tor restarted, its introduction points are gone: every later open
   * would spend its whole timeout on them. The refetch replaces the copy only with a newer one,
   * so asking for it needlessly costs one directory request. Best effort: it needs the control
   * connection (started here if nothing has yet), and a failure only leaves tor's own recovery.
   */
  #refetchDescriptor(name: OnionName): void {
    if (this.#closed) return;
    const gaveUp = (): Error => new AcnTimeoutError('no control connection for HSFETCH');
    void this.#waitUp({ deadline: Date.now() + HSFETCH_WAIT_MS, failFast: true, timedOut: gaveUp, aborted: gaveUp })
      .then((client) => client.hsFetch(name))
      .then(
        () => this.#opts.onDescriptorRefetch?.(name),
        () => undefined,
      );
  }

  /**
   * After tor's SOCKS port failed without a SOCKS reply: true once tor is back if that failure
   * was tor going away (then the caller retries), false if tor is there and the failure is real.
   * Only when the control connection is watched; otherwise there is nothing to wait for.
   */
  async #torWentAway(signal: AbortSignal, stopped: () => Error): Promise<boolean> {
    if (!this.#supervising || !this.#everUp) return false;
    const client = this.#control;
    if (this.#status.state === 'up' && client !== undefined) {
      // tor may have died a moment ago with its control connection's close still on the way.
      const probeDone = new AbortController();
      const alive = await Promise.race([
        client.version().then(
          () => true,
          () => false,
        ),
        sleep(PROBE_TIMEOUT_MS, AbortSignal.any([signal, probeDone.signal])).then(
          () => false,
          () => false,
        ),
      ]);
      probeDone.abort();
      if (signal.aborted) throw stopped();
      if (alive) return false;
    }
    await this.#waitUp({ signal, failFast: false, exclude: client, timedOut: stopped, aborted: stopped });
    return true;
  }

  // ----- bootstrap, close ----------------------------------------------------------------------

  public async bootstrapStatus(): Promise<BootstrapStatus> {
    this.#assertOpen();
    if (this.#status.state === 'down') throw new AcnControlError('the tor control connection is down; reconnecting');
    const timeoutMs = this.#opts.controlTimeoutMs ?? 30_000;
    const client = await this.#waitUp({
      deadline: Date.now() + timeoutMs,
      failFast: true,
      timedOut: () => new AcnTimeoutError(`no tor control connection within ${timeoutMs} ms`),
      aborted: () => new AcnClosedError(),
    });
    const phase = await client.bootstrapPhase();
    return { progress: phase.progress, summary: phase.summary };
  }

  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.abort();
    this.#wake?.();
    for (const stop of this.#opening) stop.abort('acn-closed' satisfies StopReason);
    this.#notify(); // every #waitFor rejects with AcnClosedError
    // No DEL_ONION round trips (a hung tor would make close() wait): closing the control
    // connection removes every onion we added, since none is detached.
    for (const listener of this.#byOnion.values()) listener.closeLocally();
    this.#byOnion.clear();
    this.#listeners.clear();
    const clients = [this.#control, this.#connecting].filter((c): c is TorControlClient => c !== undefined);
    this.#control = undefined;
    this.#connecting = undefined;
    this.#setStatus({ state: 'closed', circuitsOk: false });
    await Promise.allSettled(clients.map((c) => c.close()));
  }

  #assertOpen(): void {
    if (this.#closed) throw new AcnClosedError();
  }

  // ----- supervision -----------------------------------------------------------------------------

  /** Start keeping a control connection (idempotent): connect, and reconnect after every loss. */
  #supervise(): void {
    if (this.#supervising || this.#closed) return;
    this.#supervising = true;
    void this.#superviseLoop().finally(() => {
      this.#supervising = false;
    });
  }

  async #superviseLoop(): Promise<void> {
    /** Consecutive failed attempts and short-lived connections: the backoff exponent. */
    let streak = 0;
    /** Consecutive failed attempts since the last successful connection. */
    let failedInRow = 0;
    let delay = 0;
    while (!this.#closed) {
      if (delay > 0) {
        await this.#backoff(delay);
        if (this.#closed) return;
      }
      let client: TorControlClient;
      try {
        client = await this.#connect();
        if (this.#closed) {
          await client.close();
          return;
        }
      } catch (err) {
        if (this.#closed) return;
        streak++;
        failedInRow++;
        this.#failedAttempts++;
        this.#lastAttemptError = err instanceof TapirError ? err : new AcnControlError('tor control connection failed', { cause: err });
        const code = errorCode(err);
        delay = this.#nextDelay(streak);
        this.#setStatus({ lastError: code });
        this.#notify();
        try {
          this.#opts.onReconnectFailure?.({ attempt: failedInRow, code, delayMs: delay });
        } catch {
          // a logging hook must not stop the reconnection
        }
        continue;
      }
      failedInRow = 0;
      const upAt = this.#clock.now();
      this.#control = client;
      this.#everUp = true;
      this.#setStatus({ state: 'up', lastUpAt: upAt, lastError: null });
      this.#notify();
      const reason = await new Promise<Error>((resolve) => client.onClose(resolve));
      if (this.#control === client) this.#control = undefined;
      if (this.#closed) return;
      // A connection that dies at once, again and again (a broken or hostile tor), must not make
      // us spin: only a connection that lasted resets the backoff.
      streak = this.#clock.now() - upAt >= this.#policy.maxDelayMs ? 1 : streak + 1;
      delay = this.#nextDelay(streak);
      this.#setStatus({
        state: 'down',
        outages: this.#status.outages + 1,
        lastDownAt: this.#clock.now(),
        lastError: errorCode(reason),
        bootstrap: null,
        circuitsOk: false,
      });
      this.#notify();
    }
  }

  #nextDelay(streak: number): number {
    let r: number;
    try {
      r = (this.#opts.random ?? Math.random)();
    } catch {
      r = 0.5;
    }
    return reconnectDelay(streak, this.#policy, r);
  }

  /** Wait `ms` on the injected clock; close() (or a caller that needs tor) ends it early. */
  #backoff(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        this.#wake = undefined;
        resolve();
      };
      const cancel = this.#clock.setTimer(done, ms);
      this.#wake = done;
    });
  }

  /** Connect, authenticate, subscribe, read tor's state and re-add every onion we own. */
  async #connect(): Promise<TorControlClient> {
    const client = await TorControlClient.connect({
      host: this.#opts.controlHost ?? '127.0.0.1',
      port: this.#opts.controlPort,
      commandTimeoutMs: this.#opts.controlTimeoutMs ?? 30_000,
      signal: this.#lifetime.signal,
    });
    this.#connecting = client;
    try {
      if (this.#closed) throw new AcnClosedError();
      const auth: { cookieFile?: string; password?: string } = {};
      if (this.#opts.cookieFile !== undefined) auth.cookieFile = this.#opts.cookieFile;
      if (this.#opts.password !== undefined) auth.password = this.#opts.password;
      await client.authenticate(auth);
      // Before any ADD_ONION, so that no upload event can be missed.
      client.onEvent((event) => this.#onEvent(client, event));
      await client.setEvents(['HS_DESC', 'STATUS_CLIENT']);
      await this.#readTorState(client);
      for (const listener of [...this.#listeners]) {
        if (!this.#listeners.has(listener)) continue; // closed meanwhile
        await this.#publish(listener, client);
        // Closed while its ADD_ONION was in flight: take it away again.
        if (!this.#listeners.has(listener)) await client.delOnion(listener.onion);
      }
      if (this.#closed) throw new AcnClosedError();
      return client;
    } catch (err) {
      await client.close();
      throw err;
    } finally {
      if (this.#connecting === client) this.#connecting = undefined;
    }
  }

  /** Version, bootstrap and circuits for status(). Best effort: a tor that refuses or garbles
   * one of these is still usable for onions; only a lost connection fails the attempt. */
  async #readTorState(client: TorControlClient): Promise<void> {
    const ask = async <T>(query: () => Promise<T>): Promise<T | null> => {
      try {
        return await query();
      } catch (err) {
        if (client.closed) throw err;
        return null;
      }
    };
    const version = await ask(() => client.version());
    const phase = await ask(() => client.bootstrapPhase());
    const circuits = await ask(() => client.circuitEstablished());
    this.#setStatus({
      version: version ?? this.#status.version,
      bootstrap: phase === null ? null : { progress: phase.progress, summary: phase.summary },
      circuitsOk: circuits === true,
    });
  }

  #onEvent(client: TorControlClient, event: ControlReply): void {
    const text = event.lines[0]?.text ?? '';
    if (text.startsWith('HS_DESC UPLOADED ')) {
      const listener = this.#byOnion.get(text.split(' ')[2] ?? '');
      if (listener !== undefined) {
        listener.uploadedOn = client;
        this.#notify();
      }
      return;
    }
    let parsed;
    try {
      parsed = parseClientStatusEvent(event);
    } catch {
      return; // a garbled status event: keep the last known value
    }
    if (parsed?.kind === 'bootstrap') this.#setStatus({ bootstrap: { progress: parsed.phase.progress, summary: parsed.phase.summary } });
    else if (parsed?.kind === 'circuits') this.#setStatus({ circuitsOk: parsed.established });
  }

  // ----- waiting ---------------------------------------------------------------------------------

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves with the first defined value of `check`, re-evaluated on every change (#notify).
   * Rejects with what `check` throws, AcnClosedError on close(), `timedOut()` at the deadline
   * and `aborted()` when the signal aborts.
   */
  #waitFor<T>(
    check: () => T | undefined,
    options: { deadline?: number | undefined; signal?: AbortSignal | undefined; timedOut: () => Error; aborted: () => Error },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(poll);
        options.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = (): void => finish(() => reject(options.aborted()));
      const poll = (): void => {
        if (this.#closed) {
          finish(() => reject(new AcnClosedError()));
          return;
        }
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          finish(() => reject(err instanceof Error ? err : new AcnControlError('unexpected failure', { cause: err })));
          return;
        }
        if (value !== undefined) finish(() => resolve(value));
      };
      if (options.signal?.aborted === true) {
        onAbort();
        return;
      }
      if (options.deadline !== undefined) timer = setTimeout(() => finish(() => reject(options.timedOut())), Math.max(0, options.deadline - Date.now()));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(poll);
      poll();
    });
  }

  /**
   * The control connection once it is up (starting supervision if needed). `failFast`: before
   * the first successful connection, the next failed attempt rejects instead of waiting through
   * the backoff (a wrong port or password should be reported, not retried silently).
   */
  #waitUp(options: {
    deadline?: number;
    signal?: AbortSignal | undefined;
    failFast: boolean;
    exclude?: TorControlClient | undefined;
    timedOut: () => Error;
    aborted: () => Error;
  }): Promise<TorControlClient> {
    this.#supervise();
    const failedBefore = this.#failedAttempts;
    if (options.failFast && !this.#everUp) this.#wake?.();
    return this.#waitFor(() => {
      const client = this.#control;
      if (this.#status.state === 'up' && client !== undefined && !client.closed && client !== options.exclude) return client;
      if (options.failFast && !this.#everUp && this.#failedAttempts > failedBefore) throw this.#lastAttemptError!;
      return undefined;
    }, options);
  }
}

class TorListener implements ACNListener {
  public readonly onion: OnionName;
  public readonly port: number;
  public readonly identity: Identity;
  public readonly localPort: number;
  /** The control connection the onion was last added on (it vanishes with it). */
  public addedOn: TorControlClient | undefined;
  /** The control connection on which tor last reported a descriptor upload. */
  public uploadedOn: TorControlClient | undefined;
  readonly #server: Server;
  readonly #forget: (listener: TorListener) => void;
  #serverClosed = false;
  #closing: Promise<void> | undefined;

  public constructor(identity: Identity, port: number, server: Server, localPort: number, forget: (listener: TorListener) => void) {
    this.identity = identity;
    this.onion = identity.onion;
    this.port = port;
    this.#server = server;
    this.localPort = localPort;
    this.#forget = forget;
  }

  /** Stop accepting streams; streams already handed out belong to their owners. */
  public closeLocally(): void {
    if (this.#serverClosed) return;
    this.#serverClosed = true;
    this.#server.close();
  }

  public close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#forget(this);
    this.closeLocally();
    const control = this.addedOn;
    if (control === undefined || control.closed) return; // the onion went away with the connection
    try {
      await control.delOnion(this.onion);
    } catch (err) {
      if (!control.closed) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** (A function, so that TypeScript does not keep a narrowing of `aborted` across awaits.) */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function errorCode(err: unknown): string {
  return err instanceof TapirError ? err.code : 'ACN_CONTROL';
}

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

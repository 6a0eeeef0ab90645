import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Identity, OnionName } from '@pursuance/crypto';
import type { ACN, ACNListener, OpenOptions } from './acn/acn.js';
import {
  AdmissionTickets,
  admissionDifficulty,
  admissionPolicy,
  admitInbound,
  admitOutbound,
  type AdmissionCarry,
  type AdmissionGate,
  type AdmissionOptions,
  type AdmissionPolicy,
} from './admission.js';
import type { Application } from './application.js';
import { Connection } from './connection.js';
import {
  ConnectionClosedError,
  ConnectionEvictedError,
  HandshakeTimeoutError,
  IdleTimeoutError,
  TapirError,
  TooManyConnectionsError,
  type EvictionReason,
} from './errors.js';
import { TAPIR_PORT } from './wire-profile.js';

export interface TapirServiceOptions {
  /**
   * Open connections at most (inbound + outbound). At the limit a newcomer takes the place of
   * the oldest connection still in admission (it has paid nothing), else of the least recently
   * active established inbound connection (see Connection.lastActivity), else of the oldest
   * admitted one still in its handshake; it is refused only when there is none.
   */
  readonly maxConnections?: number;
  /**
   * Admitted connections still in setup (auth, proof of work) at most: the ones the service
   * spends handshake work on. At the limit, a connection being admitted takes the place of the
   * oldest one admitted without work, else of the oldest one that paid.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * Connections in admission (not yet admitted: no hello yet, or a proof of work demanded and
   * not yet presented) at most; they cost a socket and nothing else. At the limit a newcomer
   * takes the place of the oldest. Default: maxPendingHandshakes.
   */
  readonly maxUnadmitted?: number;
  /** When and how much proof of work inbound connections must present before any handshake work. */
  readonly admission?: AdmissionOptions;
  /** Dialling: refuse services that demand more admission work than this many bits (default 24). */
  readonly maxAdmissionBits?: number;
  /** A connection must finish its setup applications within this time. */
  readonly handshakeTimeoutMs?: number;
  /** Per-connection read-ahead in packets before the socket is paused. */
  readonly maxQueuedPackets?: number;
  /**
   * Close an established inbound connection whose application has not marked it active for
   * this long (IdleTimeoutError). Undefined or 0: never.
   */
  readonly idleTimeoutMs?: number;
}

export interface ServiceMetrics {
  accepted: number;
  dialled: number;
  established: number;
  /** Newcomers turned away: the service was closed, or full of connections it may not evict. */
  refused: number;
  /** Connections in setup dropped to make room for a newcomer (unadmitted first, oldest first). */
  evictedPending: number;
  /** Of evictedPending: connections dropped while still in admission (they had presented no work). */
  evictedUnpaid: number;
  /** Admission demands sent (proof of work asked for because of the load). */
  admissionDemands: number;
  /** Connections admitted on valid proof of work. */
  admissionPaid: number;
  /** Dialling: redials after a connection closed in admission (usually: evicted while solving). */
  admissionRedials: number;
  /** Established connections dropped (least recently active first) to make room for a newcomer. */
  evictedIdle: number;
  /** Established connections closed by the idle timeout. */
  idleTimedOut: number;
  failed: Record<string, number>;
}

/** Dial attempts per connect when the service keeps dropping the connection during admission. */
const MAX_ADMISSION_ATTEMPTS = 5;

export interface TapirServiceEvents {
  /** A connection finished its setup applications. */
  established: [Connection];
  /** A connection closed with an error (handshake failure, bad packet, protocol violation…). */
  connectionError: [Connection | undefined, TapirError];
}

/**
 * Hosts one identity's tapir endpoint: accepts inbound connections on an ACN and dials out,
 * running an application chain on each. It enforces the connection limits (evicting the oldest
 * pending or least recently active connection for a newcomer) and the handshake and idle
 * timeouts, keeps serving when a peer misbehaves (the offending connection is closed with a
 * typed error, reported on `connectionError`), and can broadcast to connections holding a
 * capability.
 */
export class TapirService extends EventEmitter<TapirServiceEvents> {
  readonly #acn: ACN;
  readonly #identity: Identity;
  readonly #maxConnections: number;
  readonly #maxPending: number;
  readonly #handshakeTimeoutMs: number;
  readonly #maxQueuedPackets: number;
  readonly #idleTimeoutMs: number;
  readonly #connections = new Map<number, Connection>();
  /** Connections still in setup, oldest first (a Map iterates in insertion order). */
  readonly #pending = new Map<number, Connection>();
  /** Inbound connections in setup by admission state, oldest first. */
  readonly #admission = new Map<number, { conn: Connection; state: 'unadmitted' | 'free' | 'paid' }>();
  readonly #maxUnadmitted: number;
  readonly #maxAdmissionBits: number | undefined;
  readonly #policy: AdmissionPolicy;
  readonly #tickets: AdmissionTickets;
  readonly #gate: AdmissionGate;
  readonly #listeners: ACNListener[] = [];
  #closed = false;
  public readonly metrics: ServiceMetrics = {
    accepted: 0,
    dialled: 0,
    established: 0,
    refused: 0,
    evictedPending: 0,
    evictedUnpaid: 0,
    admissionDemands: 0,
    admissionPaid: 0,
    admissionRedials: 0,
    evictedIdle: 0,
    idleTimedOut: 0,
    failed: {},
  };

  public constructor(acn: ACN, identity: Identity, options: TapirServiceOptions = {}) {
    super();
    this.#acn = acn;
    this.#identity = identity;
    this.#maxConnections = options.maxConnections ?? 256;
    this.#maxPending = options.maxPendingHandshakes ?? 64;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 30_000;
    this.#maxQueuedPackets = options.maxQueuedPackets ?? 64;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.#maxUnadmitted = options.maxUnadmitted ?? this.#maxPending;
    this.#maxAdmissionBits = options.maxAdmissionBits;
    this.#policy = admissionPolicy(options.admission, this.#maxPending);
    // A ticket outlives no handshake: one solved on a dropped connection is good for the redial.
    this.#tickets = new AdmissionTickets(this.#handshakeTimeoutMs);
    this.#gate = {
      tickets: this.#tickets,
      difficultyFor: (conn) => admissionDifficulty(this.#admission.size - (this.#admission.has(conn.id) ? 1 : 0), this.#policy),
      admit: (conn, paid) => this.#admit(conn, paid),
      demanded: () => {
        this.metrics.admissionDemands += 1;
      },
    };
  }

  /**
   * Bits of admission work a newcomer would be asked for right now (0 = none): rises with the
   * number of inbound connections in setup.
   */
  public get admissionBits(): number {
    return admissionDifficulty(this.#admission.size, this.#policy);
  }

  /** The admission policy in force (threshold, base and maximum bits). */
  public get admission(): AdmissionPolicy {
    return this.#policy;
  }

  public get identity(): Identity {
    return this.#identity;
  }

  public get onion(): OnionName {
    return this.#identity.onion;
  }

  /** Publish this identity on `port` and run `appFactory()` on every inbound connection. */
  public async listen(appFactory: () => Application, port: number = TAPIR_PORT): Promise<ACNListener> {
    const listener = await this.#acn.listen(this.#identity, port, (socket) => this.#accept(socket, appFactory));
    this.#listeners.push(listener);
    return listener;
  }

  /**
   * Dial `onion` and run `app` (normally an ApplicationChain ending in setup only). Resolves
   * with the connection once it is established; rejects with the typed error otherwise.
   * `identity` lets a caller use a throwaway identity (relay sessions are unlinkable).
   */
  public async connect(onion: OnionName, app: Application, options: { port?: number; identity?: Identity } & OpenOptions = {}): Promise<Connection> {
    if (this.#closed) throw new ConnectionClosedError('service is closed');
    if (this.#connections.size >= this.#maxConnections) throw new TooManyConnectionsError(this.#maxConnections);
    const conn = await this.#dialAdmitted(onion, options);
    const established = new Promise<void>((resolve) => conn.onEstablished(resolve));
    this.#run(conn, app);
    await Promise.race([
      established,
      conn.closed.then((error) => {
        throw error ?? new ConnectionClosedError('closed during setup');
      }),
    ]);
    return conn;
  }

  /** Send `payload` to every established connection holding `capability`. */
  public async broadcast(payload: Uint8Array, capability: string): Promise<number> {
    const targets = [...this.#connections.values()].filter((c) => c.isEstablished && c.hasCapability(capability));
    await Promise.allSettled(targets.map((c) => c.send(payload)));
    return targets.length;
  }

  public connections(): Connection[] {
    return [...this.#connections.values()];
  }

  public async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Stop accepting first, then drop live connections, then wait for the listeners: a
    // listener only finishes closing once its sockets are gone, so waiting before dropping
    // them would hang for as long as any peer stays connected.
    const closing = this.#listeners.map((l) => l.close());
    for (const conn of this.#connections.values()) conn.close();
    this.#connections.clear();
    await Promise.allSettled(closing);
  }

  /**
   * Open a connection and pass admission, redialling when the service drops it during admission
   * (a flood evicts unadmitted connections oldest first): the proof of work solved meanwhile is
   * presented in the next hello, which the service reads before anything else, so the redial is
   * admitted at once. Bounded by the handshake timeout and a few attempts.
   */
  async #dialAdmitted(onion: OnionName, options: { port?: number; identity?: Identity } & OpenOptions): Promise<Connection> {
    const carry: AdmissionCarry = {};
    const deadline = performance.now() + this.#handshakeTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const socket = await this.#acn.open(onion, options.port ?? TAPIR_PORT, options);
      this.metrics.dialled += 1;
      const conn = new Connection({
        socket,
        outbound: true,
        localIdentity: options.identity ?? this.#identity,
        expectedRemote: onion,
        maxQueuedPackets: this.#maxQueuedPackets,
      });
      // Registered so that close() ends it; the handshake timer starts over in #run.
      this.#connections.set(conn.id, conn);
      void conn.closed.then(() => this.#connections.delete(conn.id));
      const timer = setTimeout(() => conn.close(new HandshakeTimeoutError(this.#handshakeTimeoutMs)), Math.max(0, deadline - performance.now()));
      // The caller's signal ends the admission too (the application chain is not running yet to see it).
      const onAbort = (): void => conn.close(new ConnectionClosedError('dial aborted during admission'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted === true) onAbort();
      try {
        await admitOutbound(conn, {
          carry,
          ...(this.#maxAdmissionBits === undefined ? {} : { maxBits: this.#maxAdmissionBits }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        return conn;
      } catch (err) {
        const error = err instanceof TapirError ? err : new ConnectionClosedError(`admission failed: ${String(err)}`, { cause: err });
        conn.close(error);
        // Only a service that demanded work is worth redialling: one that closed before any
        // demand refused us (full of connections it may not evict) and would again.
        const retry =
          error instanceof ConnectionClosedError &&
          carry.demanded === true &&
          attempt < MAX_ADMISSION_ATTEMPTS &&
          !this.#closed &&
          options.signal?.aborted !== true &&
          performance.now() < deadline;
        if (!retry) throw err;
        this.metrics.admissionRedials += 1;
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  #accept(socket: Socket, appFactory: () => Application): void {
    if (this.#closed || !this.#makeRoom()) {
      this.metrics.refused += 1;
      socket.destroy();
      this.emit('connectionError', undefined, new TooManyConnectionsError(this.#maxConnections));
      return;
    }
    this.metrics.accepted += 1;
    const conn = new Connection({
      socket,
      outbound: false,
      localIdentity: this.#identity,
      maxQueuedPackets: this.#maxQueuedPackets,
    });
    let app: Application;
    try {
      app = appFactory();
    } catch (err) {
      conn.close(new ConnectionClosedError('application factory failed', { cause: err }));
      return;
    }
    this.#run(conn, app);
  }

  /**
   * Make room for one more inbound connection, evicting if needed: an attacker's idle sockets
   * then get pushed out by the honest clients arriving after them, instead of locking them out.
   * False when the service is full of connections it may not evict (outbound, or protected).
   */
  #makeRoom(): boolean {
    if (this.#count('unadmitted') >= this.#maxUnadmitted && !this.#evictPending('unadmitted')) return false;
    // At the connection limit, sockets that have paid nothing go before any session, and
    // sessions before handshakes that were admitted.
    if (this.#connections.size >= this.#maxConnections && !this.#evictPending('unadmitted') && !this.#evictIdle() && !this.#evictPending('free', 'paid')) {
      return false;
    }
    return true;
  }

  #count(state: 'unadmitted' | 'free' | 'paid'): number {
    let n = 0;
    for (const entry of this.#admission.values()) if (entry.state === state) n += 1;
    return n;
  }

  /**
   * Admission passed: from now on the connection costs handshake work. When the handshake pool
   * is full it takes the place of the oldest connection admitted without work, else of the
   * oldest that paid: a connection that paid is only ever pushed out by one that paid later.
   */
  #admit(conn: Connection, paid: boolean): void {
    const entry = this.#admission.get(conn.id);
    if (entry === undefined) return;
    if (this.#count('free') + this.#count('paid') >= this.#maxPending) this.#evictPending('free', 'paid');
    entry.state = paid ? 'paid' : 'free';
    if (paid) this.metrics.admissionPaid += 1;
  }

  /** Evict the oldest inbound connection in setup in the first of `states` that has one. */
  #evictPending(...states: ('unadmitted' | 'free' | 'paid')[]): boolean {
    for (const state of states) {
      for (const entry of this.#admission.values()) {
        if (entry.state !== state || entry.conn.isClosed) continue;
        this.metrics.evictedPending += 1;
        if (state === 'unadmitted') this.metrics.evictedUnpaid += 1;
        this.#evict(entry.conn, state === 'unadmitted' ? 'unpaid' : 'pending');
        return true;
      }
    }
    return false;
  }

  #evictIdle(): boolean {
    let victim: Connection | undefined;
    for (const conn of this.#connections.values()) {
      if (conn.outbound || !conn.isEstablished || !conn.evictable || conn.isClosed) continue;
      if (victim === undefined || conn.lastActivity < victim.lastActivity) victim = conn;
    }
    if (victim === undefined) return false;
    this.metrics.evictedIdle += 1;
    this.#evict(victim, 'idle');
    return true;
  }

  #evict(conn: Connection, reason: EvictionReason): void {
    // Forget it now, not when `closed` settles: the newcomer is admitted in this same turn.
    this.#pending.delete(conn.id);
    this.#admission.delete(conn.id);
    this.#connections.delete(conn.id);
    conn.close(new ConnectionEvictedError(reason));
  }

  /**
   * Close `conn` once its application has not marked it active for the idle timeout. One timer
   * per connection, re-armed for the remainder when it fires early, so marking activity (once
   * per request) costs no timer work.
   */
  #watchIdle(conn: Connection): void {
    const timeoutMs = this.#idleTimeoutMs;
    if (timeoutMs <= 0 || conn.outbound) return;
    let timer: NodeJS.Timeout;
    const check = (): void => {
      if (conn.isClosed) return;
      const idleFor = performance.now() - conn.lastActivity;
      if (idleFor >= timeoutMs) {
        this.metrics.idleTimedOut += 1;
        conn.close(new IdleTimeoutError(timeoutMs));
      } else {
        timer = setTimeout(check, timeoutMs - idleFor);
      }
    };
    timer = setTimeout(check, timeoutMs);
    void conn.closed.then(() => clearTimeout(timer));
  }

  #run(conn: Connection, app: Application): void {
    this.#connections.set(conn.id, conn);
    this.#pending.set(conn.id, conn);
    if (!conn.outbound) this.#admission.set(conn.id, { conn, state: 'unadmitted' });
    const settle = (): void => {
      this.#pending.delete(conn.id);
      this.#admission.delete(conn.id);
      clearTimeout(timer);
    };
    const timer = setTimeout(() => conn.close(new HandshakeTimeoutError(this.#handshakeTimeoutMs)), this.#handshakeTimeoutMs);
    conn.onEstablished(() => {
      settle();
      this.metrics.established += 1;
      this.#watchIdle(conn);
      this.emit('established', conn);
    });
    void conn.closed.then((error) => {
      settle();
      this.#connections.delete(conn.id);
      if (error && !(error instanceof ConnectionClosedError && conn.isEstablished)) this.#fail(conn, error);
    });
    // Inbound: admission first, so nothing of the application (auth's key exchange) runs for a
    // connection the service has not admitted.
    const running = conn.outbound ? app.run(conn) : admitInbound(conn, this.#gate).then(() => app.run(conn));
    running.then(
      () => {
        // A chain without a main app ends after setup; the connection stays open for its owner.
      },
      (err: unknown) => {
        const error = err instanceof TapirError ? err : new ConnectionClosedError(`application failed: ${String(err)}`, { cause: err });
        conn.close(error);
      },
    );
  }

  #fail(conn: Connection, error: TapirError): void {
    this.metrics.failed[error.code] = (this.metrics.failed[error.code] ?? 0) + 1;
    this.emit('connectionError', conn, error);
  }
}

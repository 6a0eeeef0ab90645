import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Identity, OnionName } from '@pursuance/crypto';
import type { ACN, ACNListener, OpenOptions } from './acn/acn.js';
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
   * the least recently active established inbound connection (see Connection.lastActivity),
   * else of the oldest pending one; it is refused only when there is neither.
   */
  readonly maxConnections?: number;
  /**
   * Connections still in setup (auth, proof of work) at most; bounds half-open floods. At the
   * limit a newcomer takes the place of the oldest pending inbound connection.
   */
  readonly maxPendingHandshakes?: number;
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
  /** Pending handshakes dropped (oldest first) to make room for a newcomer. */
  evictedPending: number;
  /** Established connections dropped (least recently active first) to make room for a newcomer. */
  evictedIdle: number;
  /** Established connections closed by the idle timeout. */
  idleTimedOut: number;
  failed: Record<string, number>;
}

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
  readonly #listeners: ACNListener[] = [];
  #closed = false;
  public readonly metrics: ServiceMetrics = {
    accepted: 0,
    dialled: 0,
    established: 0,
    refused: 0,
    evictedPending: 0,
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
    const socket = await this.#acn.open(onion, options.port ?? TAPIR_PORT, options);
    this.metrics.dialled += 1;
    const conn = new Connection({
      socket,
      outbound: true,
      localIdentity: options.identity ?? this.#identity,
      expectedRemote: onion,
      maxQueuedPackets: this.#maxQueuedPackets,
    });
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
    if (this.#pending.size >= this.#maxPending && !this.#evictPending()) return false;
    if (this.#connections.size >= this.#maxConnections && !this.#evictIdle() && !this.#evictPending()) return false;
    return true;
  }

  #evictPending(): boolean {
    for (const conn of this.#pending.values()) {
      if (conn.outbound) continue;
      this.metrics.evictedPending += 1;
      this.#evict(conn, 'pending');
      return true;
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
    const settle = (): void => {
      this.#pending.delete(conn.id);
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
    app.run(conn).then(
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

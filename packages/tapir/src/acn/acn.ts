import type { Socket } from 'node:net';
import type { Identity, OnionName } from '@pursuance/crypto';

/**
 * Anonymous Communication Network: the only way anything above tapir reaches the network.
 * It carries bytes between onion names and does NO authentication: identity binding happens
 * in the tapir auth handshake, so an ACN (and the loopback one in particular) is untrusted by
 * design and both implementations are cryptographically identical.
 */
export interface ACN {
  /** 'loopback' for development and tests, 'tor' for a real tor daemon. */
  readonly kind: 'loopback' | 'tor';

  /**
   * Publish an onion service for `identity` on virtual port `port`; every inbound stream is
   * handed to `onConnection`. Resolves once the service is reachable by other ACN users.
   * Rejects with an AcnError subclass on timeout, when `options.signal` aborts, or on close().
   */
  listen(identity: Identity, port: number, onConnection: (socket: Socket) => void, options?: ListenOptions): Promise<ACNListener>;

  /** Open a stream to `onion`:`port`. Rejects with an AcnError subclass when unreachable. */
  open(onion: OnionName, port: number, options?: OpenOptions): Promise<Socket>;

  /** Progress 0–100 (100 = ready) and a human-readable summary, as tor reports bootstrap. */
  bootstrapStatus(): Promise<BootstrapStatus>;

  /** Close every listener this ACN opened and release its resources; ends every listen() and
   * open() still in flight (AcnClosedError) instead of letting them run to their timeouts. */
  close(): Promise<void>;

  /** Health of the network underneath, for apps to show without knowing the ACN's kind. */
  status?(): AcnStatus;

  /** Called with the new status on every change; returns an unsubscribe function. */
  onStatus?(listener: (status: AcnStatus) => void): () => void;
}

export interface ACNListener {
  readonly onion: OnionName;
  readonly port: number;
  /** Stop accepting; unpublish the service. Existing streams are left to their owners. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Abandon publishing (AcnClosedError); the local listener and the onion are removed. */
  readonly signal?: AbortSignal;
  /** Give up publishing after this many milliseconds (default: the ACN's publish timeout). */
  readonly timeoutMs?: number;
}

export interface OpenOptions {
  readonly signal?: AbortSignal;
  /** Give up after this many milliseconds (default: 30 s on loopback, 120 s on tor). */
  readonly timeoutMs?: number;
}

export interface BootstrapStatus {
  readonly progress: number;
  readonly summary: string;
}

/**
 * 'connecting': never connected yet; 'up': connected (onions published); 'down': the connection
 * was lost and is being re-established; 'closed': close() was called.
 */
export type AcnState = 'connecting' | 'up' | 'down' | 'closed';

export interface AcnStatus {
  readonly state: AcnState;
  /** Last known bootstrap progress; null while unknown (e.g. while tor is unreachable). */
  readonly bootstrap: BootstrapStatus | null;
  /** The network daemon's version (tor's), when it told us. */
  readonly version: string | null;
  /** Whether tor reports an established circuit (GETINFO status/circuit-established). */
  readonly circuitsOk: boolean;
  /** How many times the connection went from up to down. */
  readonly outages: number;
  /** Epoch milliseconds of the last loss and of the last (re)connection. */
  readonly lastDownAt: number | null;
  readonly lastUpAt: number | null;
  /** Stable error code (TapirErrorCode) of the last failure; never a message or a secret. */
  readonly lastError: string | null;
}

/** The status of a TorACN (the same shape every ACN reports). */
export type TorStatus = AcnStatus;

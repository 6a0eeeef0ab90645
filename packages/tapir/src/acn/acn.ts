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
   */
  listen(identity: Identity, port: number, onConnection: (socket: Socket) => void): Promise<ACNListener>;

  /** Open a stream to `onion`:`port`. Rejects with an AcnError subclass when unreachable. */
  open(onion: OnionName, port: number, options?: OpenOptions): Promise<Socket>;

  /** Progress 0–100 (100 = ready) and a human-readable summary, as tor reports bootstrap. */
  bootstrapStatus(): Promise<BootstrapStatus>;

  /** Close every listener this ACN opened and release its resources. */
  close(): Promise<void>;
}

export interface ACNListener {
  readonly onion: OnionName;
  readonly port: number;
  /** Stop accepting; unpublish the service. Existing streams are left to their owners. */
  close(): Promise<void>;
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

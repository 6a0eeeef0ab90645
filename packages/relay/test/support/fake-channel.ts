import { randomBytes } from 'node:crypto';
import { ConnectionClosedError, type TapirError } from '@pursuance/tapir';
import { parseBoardRequest, type BoardRequest } from '../../src/board-protocol.js';
import type { BoardChannel, TokenSource } from '../../src/board-session.js';
import type { Token } from '../../src/tokens.js';

/**
 * An in-memory stand-in for a board connection, driven by the test: every request the session
 * writes is parsed and recorded, and the test delivers the relay's side packet by packet.
 */
export class FakeChannel implements BoardChannel {
  public readonly requests: BoardRequest[] = [];
  public readonly closed: Promise<TapirError | undefined>;
  readonly #inbound: Uint8Array[] = [];
  readonly #waiters: { resolve(p: Uint8Array): void; reject(e: TapirError): void }[] = [];
  #isClosed = false;
  #closeError: TapirError | undefined;
  #resolveClosed!: (error: TapirError | undefined) => void;

  public constructor() {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  public get isClosed(): boolean {
    return this.#isClosed;
  }

  public send(payload: Uint8Array): Promise<void> {
    if (this.#isClosed) return Promise.reject(this.#closeError ?? new ConnectionClosedError());
    this.requests.push(parseBoardRequest(payload));
    return Promise.resolve();
  }

  public expect(): Promise<Uint8Array> {
    const next = this.#inbound.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.#isClosed) return Promise.reject(this.#closeError ?? new ConnectionClosedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The relay sends one packet. */
  public deliver(payload: Uint8Array): void {
    if (this.#isClosed) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#inbound.push(payload);
    else waiter.resolve(payload);
  }

  public close(error?: TapirError): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#closeError = error;
    this.#inbound.length = 0;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error ?? new ConnectionClosedError('closed locally'));
    this.#resolveClosed(error);
  }
}

/** Tokens with random bytes: the fake relay never checks them. */
export const looseTokens: TokenSource = {
  takeToken: (): Promise<Token> => Promise.resolve({ epoch: 0, input: new Uint8Array(randomBytes(32)), output: new Uint8Array(randomBytes(64)) }),
};

/** Let every pending promise chain run (the fake channel resolves everything in microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

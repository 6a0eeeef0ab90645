import { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import { TapirError, type Connection } from '@pursuance/tapir';
import { encodePostRequest, encodeReplayRequest, parseBareMessage, parseBoardResponse } from './board-protocol.js';
import type { PostReply } from './board-server.js';
import { MalformedRequestError, MalformedResponseError, PostRejectedError, SessionClosedError } from './errors.js';
import { hasRelaySizes, type EncryptedGroupMessage } from './group-message.js';
import { relayCause, toTapirError } from './tapir-errors.js';
import { spendToken, type SpentToken, type Token } from './tokens.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

interface ReplayWaiter extends Waiter<number> {
  readonly onMessage: (message: EncryptedGroupMessage) => void;
  remaining: number;
  count: number;
}

export interface BoardSessionEvents {
  /** A live push: a message stored after this session's replay. May repeat one already seen. */
  message: [EncryptedGroupMessage];
  closed: [error: Error | undefined];
}

/** Where a session gets tokens from (the RelayClient, with its automatic top-up). */
export interface TokenSource {
  takeToken(): Promise<Token>;
}

/**
 * A client's session with one relay's board, on a fresh ephemeral identity. Posts may be
 * issued concurrently (they are pipelined and answered in order); `replay` makes the session
 * "synced", after which every newly stored message arrives as a `message` event.
 */
export class BoardSession extends EventEmitter<BoardSessionEvents> {
  /** The throwaway identity this session authenticated with (never reused). */
  public readonly localOnion: OnionName;
  public readonly closed: Promise<Error | undefined>;
  readonly #conn: Connection;
  readonly #tokens: TokenSource;
  readonly #boardOnion: OnionName;
  readonly #posts: Waiter<PostReply>[] = [];
  readonly #replays: ReplayWaiter[] = [];
  #active: ReplayWaiter | undefined;
  #closeError: Error | undefined;

  public constructor(conn: Connection, tokens: TokenSource, boardOnion: OnionName, localOnion: OnionName) {
    super();
    this.#conn = conn;
    this.#tokens = tokens;
    this.#boardOnion = boardOnion;
    this.localOnion = localOnion;
    this.closed = this.#read();
  }

  public get isClosed(): boolean {
    return this.#conn.isClosed;
  }

  /** Post one message, spending one token; resolves once the relay acknowledged it as durable. */
  public async post(message: EncryptedGroupMessage): Promise<void> {
    checkSizes(message);
    const token = await this.#tokens.takeToken();
    const reply = await this.postSpent(message, spendToken(token, message, this.#boardOnion));
    if (!reply.ok) throw new PostRejectedError(reply.code);
  }

  /** Low level: post with an already spent token and return the relay's verdict. */
  public postSpent(message: EncryptedGroupMessage, spent: SpentToken): Promise<PostReply> {
    checkSizes(message);
    return this.#request(this.#posts, encodePostRequest(message, spent), (resolve, reject) => ({ resolve, reject }));
  }

  /** Replay all stored messages (or from the one with signature `since`), then go live. */
  public async replay(options: { since?: Uint8Array } = {}): Promise<EncryptedGroupMessage[]> {
    const messages: EncryptedGroupMessage[] = [];
    await this.replayEach({ ...options, onMessage: (m) => messages.push(m) });
    return messages;
  }

  /** Streaming replay: `onMessage` per replayed message; resolves with the count. */
  public replayEach(options: { since?: Uint8Array; onMessage: (message: EncryptedGroupMessage) => void }): Promise<number> {
    return this.#request(this.#replays, encodeReplayRequest(options.since), (resolve, reject) => ({
      resolve,
      reject,
      onMessage: options.onMessage,
      remaining: 0,
      count: 0,
    }));
  }

  /**
   * Replay (all, or since a signature) and then follow live pushes, all into `onMessage`.
   * Resolves with the replayed count once caught up; call the returned function to stop
   * following. Live pushes may repeat a replayed message: de-duplicate by signature.
   */
  public async subscribe(
    onMessage: (message: EncryptedGroupMessage) => void,
    options: { since?: Uint8Array } = {},
  ): Promise<{ replayed: number; unsubscribe: () => void }> {
    // Pushes only start after the replay, so listening first loses nothing and reorders nothing.
    this.on('message', onMessage);
    try {
      const replayed = await this.replayEach({ ...options, onMessage });
      return { replayed, unsubscribe: () => this.off('message', onMessage) };
    } catch (err) {
      this.off('message', onMessage);
      throw err;
    }
  }

  public close(): void {
    this.#conn.close();
  }

  #request<T, W extends Waiter<T>>(queue: W[], payload: Uint8Array, make: (resolve: (v: T) => void, reject: (e: Error) => void) => W): Promise<T> {
    if (this.#conn.isClosed) return Promise.reject(new SessionClosedError(undefined, { cause: this.#closeError }));
    return new Promise<T>((resolve, reject) => {
      // Queue the waiter before writing: replies arrive in request order.
      queue.push(make(resolve, reject));
      this.#conn.send(payload).catch((err: unknown) => this.#conn.close(toTapirError(err)));
    });
  }

  async #read(): Promise<Error | undefined> {
    try {
      for (;;) this.#dispatch(await this.#conn.expect());
    } catch (err) {
      // A response we cannot parse: the relay is broken or hostile, drop the session.
      if (!(err instanceof TapirError)) this.#conn.close(toTapirError(err));
    }
    const closedWith = await this.#conn.closed;
    this.#closeError = relayCause(closedWith) ?? closedWith;
    const failure = new SessionClosedError(undefined, { cause: this.#closeError });
    for (const waiter of [...this.#posts.splice(0), ...this.#replays.splice(0)]) waiter.reject(failure);
    this.#active?.reject(failure);
    this.#active = undefined;
    this.emit('closed', this.#closeError);
    return this.#closeError;
  }

  #dispatch(payload: Uint8Array): void {
    const active = this.#active;
    if (active !== undefined) {
      active.onMessage(parseBareMessage(payload));
      if (--active.remaining === 0) this.#finishReplay(active);
      return;
    }
    const response = parseBoardResponse(payload);
    switch (response.kind) {
      case 'postResult': {
        const waiter = this.#posts.shift();
        if (waiter === undefined) throw new MalformedResponseError('post result without a pending post');
        waiter.resolve(response.ok ? { ok: true } : { ok: false, code: response.code });
        return;
      }
      case 'replayResult': {
        const waiter = this.#replays.shift();
        if (waiter === undefined) throw new MalformedResponseError('replay result without a pending replay');
        waiter.count = response.count;
        waiter.remaining = response.count;
        if (response.count === 0) this.#finishReplay(waiter);
        else this.#active = waiter;
        return;
      }
      case 'newMessage':
        this.emit('message', response.message);
        return;
    }
  }

  #finishReplay(waiter: ReplayWaiter): void {
    this.#active = undefined;
    waiter.resolve(waiter.count);
  }
}

function checkSizes(message: EncryptedGroupMessage): void {
  if (!hasRelaySizes(message)) throw new MalformedRequestError('a relay post is a 4096-byte ciphertext with a 64-byte signature');
}

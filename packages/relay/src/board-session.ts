import { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import { TapirError, type Connection } from '@pursuance/tapir';
import { eitherSignal, raceAbort, throwIfAborted } from './abort.js';
import {
  encodeBucketRequest,
  encodePing,
  encodePostRequest,
  encodeRenewRequest,
  encodeReplayRequest,
  parseBareMessage,
  parseBoardResponse,
  type RenewOutcome,
} from './board-protocol.js';
import type { PostReply } from './board-server.js';
import {
  MalformedRequestError,
  MalformedResponseError,
  PostRejectedError,
  RenewalRefusedError,
  SessionClosedError,
  SessionUnresponsiveError,
} from './errors.js';
import { hasRelaySizes, type EncryptedGroupMessage } from './group-message.js';
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS, MAX_RENEWAL_BITS, POST_WINDOW, SESSION_RENEW_INTERVAL_MS } from './protocol-profile.js';
import { solveRenewal } from './renewal.js';
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
  /** A fetch's frontier (from its BucketResult): where the next fetch may start. */
  bucket: number | undefined;
}

/** A request awaiting its answer. The board answers in request order, whatever the kind. */
type Pending =
  | { readonly kind: 'postResult'; readonly waiter: Waiter<PostReply> }
  | { readonly kind: 'pong'; readonly waiter: Waiter<void> }
  | { readonly kind: 'renewResult'; readonly waiter: Waiter<RenewOutcome> }
  | { readonly kind: 'replayResult'; readonly waiter: ReplayWaiter }
  | { readonly kind: 'bucketResult'; readonly waiter: ReplayWaiter };

export interface BoardSessionEvents {
  /** A live push: a message stored after this session's replay. May repeat one already seen. */
  message: [EncryptedGroupMessage];
  /** The board answered a ping (keepalive or `ping()`). */
  pong: [];
  /**
   * After a bucket fetch, with every pong: the bucket a next fetch may start from. Everything
   * this session received before the event is filed before it or at it; everything the board
   * stores later comes to this session after the event, or is filed at it or later.
   */
  bucket: [number];
  closed: [error: Error | undefined];
}

/** Where a session gets tokens from (the RelayClient, with its automatic top-up). */
export interface TokenSource {
  takeToken(options?: { signal?: AbortSignal }): Promise<Token>;
  /** Give back a token taken but never spent (its post was aborted before it was sent). */
  returnToken?(token: Token): void;
}

/** What a session needs of its connection: a tapir Connection (tests may pass a stand-in). */
export type BoardChannel = Pick<Connection, 'send' | 'expect' | 'close' | 'closed' | 'isClosed'>;

export interface KeepaliveOptions {
  /** Ping after this long with nothing outstanding and nothing heard. */
  readonly intervalMs: number;
  /** Close the session after this long without a byte while an answer is due. */
  readonly timeoutMs: number;
}

export interface BoardSessionOptions {
  /** Posts in flight at most (sent, not yet acknowledged). */
  readonly window?: number;
  /** Liveness check; `false` turns it off. */
  readonly keepalive?: KeepaliveOptions | false;
  /**
   * Renew the session (proof of work on the board's challenge) after this long without a post,
   * replay or renewal, so the board's idle timeout does not close a session that only follows
   * live pushes. `false` turns it off.
   */
  readonly renewIntervalMs?: number | false;
  /** Refuse to renew on a board that asks more work than this per renewal (bits). */
  readonly maxRenewalBits?: number;
}

const DEFAULT_KEEPALIVE: KeepaliveOptions = Object.freeze({ intervalMs: KEEPALIVE_INTERVAL_MS, timeoutMs: KEEPALIVE_TIMEOUT_MS });

/**
 * A client's session with one relay's board, on a fresh ephemeral identity. Posts are
 * pipelined: up to `window` are in flight, written in the order `post` was called, and the
 * board answers in request order, so each answer is matched by position to its post (the
 * protocol carries no request ids). `replay` makes the session "synced", after which every
 * newly stored message arrives as a `message` event. A keepalive closes the session with
 * SessionUnresponsiveError when the relay stops answering while the stream stays open.
 */
export class BoardSession extends EventEmitter<BoardSessionEvents> {
  /** The throwaway identity this session authenticated with (never reused). */
  public readonly localOnion: OnionName;
  public readonly closed: Promise<Error | undefined>;
  readonly #conn: BoardChannel;
  readonly #tokens: TokenSource;
  readonly #boardOnion: OnionName;
  readonly #window: number;
  /** Every request sent and not yet answered, in request order. */
  readonly #pending: Pending[] = [];
  #postsInFlight = 0;
  /** Fires when the session closes: ends waits for a window slot or a token. */
  readonly #ending = new AbortController();
  readonly #keepalive: Keepalive | undefined;
  readonly #renewIntervalMs: number | false;
  readonly #maxRenewalBits: number;
  #renewTimer: NodeJS.Timeout | undefined;
  /** When the last request the board counts as use (post, replay, paid renewal) went out. */
  #lastActive = performance.now();
  /** The board's current renewal challenge, learnt from its last RenewResult. */
  #challenge: { readonly challenge: Uint8Array; readonly bits: number } | undefined;
  #renewing: Promise<void> | undefined;
  #active: ReplayWaiter | undefined;
  #closeError: Error | undefined;
  /** The last post handed to the writer: the next one is written after it. */
  #writeTail: Promise<unknown> = Promise.resolve();
  #slotFree: (() => void) | undefined;

  public constructor(conn: BoardChannel, tokens: TokenSource, boardOnion: OnionName, localOnion: OnionName, options: BoardSessionOptions = {}) {
    super();
    this.#conn = conn;
    this.#tokens = tokens;
    this.#boardOnion = boardOnion;
    this.localOnion = localOnion;
    this.#window = options.window ?? POST_WINDOW;
    if (!Number.isInteger(this.#window) || this.#window < 1) throw new RangeError('window must be a positive integer');
    const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
    if (keepalive !== false) {
      this.#keepalive = new Keepalive(
        keepalive,
        () => this.#outstanding(),
        () => void this.ping().catch(() => undefined),
        () => this.#conn.close(toTapirError(new SessionUnresponsiveError(keepalive.timeoutMs))),
      );
    }
    this.#maxRenewalBits = options.maxRenewalBits ?? MAX_RENEWAL_BITS;
    this.#renewIntervalMs = options.renewIntervalMs ?? SESSION_RENEW_INTERVAL_MS;
    if (this.#renewIntervalMs !== false && !(this.#renewIntervalMs > 0)) throw new RangeError('renewIntervalMs must be positive');
    if (this.#renewIntervalMs !== false) this.#armRenew(this.#renewIntervalMs);
    this.closed = this.#read();
  }

  public get isClosed(): boolean {
    return this.#conn.isClosed;
  }

  /** Posts sent and not yet answered. */
  public get postsInFlight(): number {
    return this.#postsInFlight;
  }

  /**
   * Post one message, spending one token; resolves once the relay acknowledged it as durable,
   * rejects with PostRejectedError (the relay's code) if the relay refused exactly this post,
   * or SessionClosedError if the session ended first. Concurrent posts are written in call
   * order, so the board stores them in that order. `signal` cancels a post not yet written.
   */
  public async post(message: EncryptedGroupMessage, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkSizes(message);
    // Each post waits for the one before it to be written (slot, token), never for its answer.
    const written = this.#writeTail.then(() => this.#writePost(message, options.signal));
    this.#writeTail = written.catch(() => undefined);
    const { reply } = await written;
    const result = await reply;
    if (!result.ok) throw new PostRejectedError(result.code);
  }

  /** Low level: post with an already spent token and return the relay's verdict (no window). */
  public postSpent(message: EncryptedGroupMessage, spent: SpentToken): Promise<PostReply> {
    checkSizes(message);
    return this.#request<PostReply>(encodePostRequest(message, spent), true, (resolve, reject) => {
      this.#postsInFlight += 1;
      return { kind: 'postResult', waiter: { resolve, reject } };
    });
  }

  /**
   * Ask the board for a pong; resolves when it arrives (after the answers to earlier requests).
   * A ping proves liveness only: it does not renew the session.
   */
  public ping(): Promise<void> {
    return this.#request<void>(encodePing(), false, (resolve, reject) => ({ kind: 'pong', waiter: { resolve, reject } }));
  }

  /**
   * Renew the session against the board's idle timeout by proof of work on the board's current
   * challenge (fetched first if this session has none yet). Rejects with RenewalRefusedError if
   * the board refuses it or asks more than `maxRenewalBits`. One renewal at a time.
   */
  public renew(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /** Low level: send one Renew (a solution, or none to fetch the challenge) and return the board's answer. */
  public sendRenewal(solution?: Uint8Array): Promise<RenewOutcome> {
    return this.#request<RenewOutcome>(encodeRenewRequest(solution), solution !== undefined, (resolve, reject) => ({
      kind: 'renewResult',
      waiter: { resolve, reject },
    }));
  }

  async #renew(): Promise<void> {
    const current = this.#challenge ?? (await this.sendRenewal());
    if (current.bits > this.#maxRenewalBits) throw new RenewalRefusedError('RENEWAL_TOO_HARD');
    const solution = await solveRenewal(current.challenge, current.bits, this.#ending.signal);
    const outcome = await this.sendRenewal(solution);
    if (!outcome.renewed) throw new RenewalRefusedError(outcome.code ?? 'RENEWAL_INVALID');
  }

  /** Replay all stored messages (or from the one with signature `since`), then go live. */
  public async replay(options: { since?: Uint8Array } = {}): Promise<EncryptedGroupMessage[]> {
    const messages: EncryptedGroupMessage[] = [];
    await this.replayEach({ ...options, onMessage: (m) => messages.push(m) });
    return messages;
  }

  /** Streaming replay: `onMessage` per replayed message; resolves with the count. */
  public replayEach(options: { since?: Uint8Array; onMessage: (message: EncryptedGroupMessage) => void }): Promise<number> {
    return this.#request<number>(encodeReplayRequest(options.since), true, (resolve, reject) => ({
      kind: 'replayResult',
      waiter: { resolve, reject, onMessage: options.onMessage, remaining: 0, count: 0, bucket: undefined },
    }));
  }

  /**
   * Fetch every message filed under bucket `fromBucket` or a later one, then go live. Resolves
   * once the fetched messages went to `onMessage`, with their count and the bucket the next
   * fetch may start from (pongs move it on later: the `bucket` event).
   */
  public async fetchEach(options: { fromBucket: number; onMessage: (message: EncryptedGroupMessage) => void }): Promise<{ count: number; bucket: number }> {
    let waiter: ReplayWaiter | undefined;
    const count = await this.#request<number>(encodeBucketRequest(options.fromBucket), true, (resolve, reject) => {
      waiter = { resolve, reject, onMessage: options.onMessage, remaining: 0, count: 0, bucket: undefined };
      return { kind: 'bucketResult', waiter };
    });
    return { count, bucket: waiter!.bucket! };
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

  async #writePost(message: EncryptedGroupMessage, callerSignal: AbortSignal | undefined): Promise<{ reply: Promise<PostReply> }> {
    const { signal, dispose } = eitherSignal(this.#ending.signal, callerSignal);
    try {
      await this.#slot(signal);
      const token = await this.#tokens.takeToken({ signal });
      if (signal.aborted) {
        // Taken but never spent: it still buys a post, on this relay or after a reconnect.
        this.#tokens.returnToken?.(token);
        throwIfAborted(signal);
      }
      // Wrapped: an async function would otherwise wait for the answer, not just the write.
      return { reply: this.postSpent(message, spendToken(token, message, this.#boardOnion)) };
    } catch (err) {
      if (this.#conn.isClosed) throw this.#closedError();
      throw err;
    } finally {
      dispose();
    }
  }

  /** Wait until fewer than `window` posts are in flight. Only the head of the write queue waits. */
  async #slot(signal: AbortSignal): Promise<void> {
    while (this.#postsInFlight >= this.#window) {
      throwIfAborted(signal);
      await raceAbort(new Promise<void>((resolve) => (this.#slotFree = resolve)), signal);
    }
    throwIfAborted(signal);
  }

  /** One timer for the session's life, re-armed for the remainder when the session was used since. */
  #armRenew(ms: number): void {
    const interval = this.#renewIntervalMs;
    if (interval === false) return;
    this.#renewTimer = setTimeout(() => {
      if (this.#conn.isClosed) return;
      const quiet = performance.now() - this.#lastActive;
      if (quiet >= interval) {
        // A refused renewal leaves the session to the board's idle timeout; the owner sees it close.
        void this.renew().catch(() => undefined);
        this.#armRenew(interval);
      } else {
        this.#armRenew(interval - quiet);
      }
    }, ms);
    // A session must not keep the process alive on its own.
    this.#renewTimer.unref();
  }

  #outstanding(): number {
    return this.#pending.length + (this.#active === undefined ? 0 : 1);
  }

  #closedError(): SessionClosedError {
    return new SessionClosedError(undefined, { cause: this.#closeError });
  }

  /** `active`: the board counts this request as use of the session (it renews the idle timeout). */
  #request<T>(payload: Uint8Array, active: boolean, make: (resolve: (v: T) => void, reject: (e: Error) => void) => Pending): Promise<T> {
    if (this.#conn.isClosed) return Promise.reject(this.#closedError());
    return new Promise<T>((resolve, reject) => {
      // Queue the waiter before writing: replies arrive in request order.
      this.#pending.push(make(resolve, reject));
      this.#keepalive?.sent();
      if (active) this.#lastActive = performance.now();
      this.#conn.send(payload).catch((err: unknown) => this.#conn.close(toTapirError(err)));
    });
  }

  async #read(): Promise<Error | undefined> {
    try {
      for (;;) {
        const payload = await this.#conn.expect();
        this.#dispatch(payload);
        this.#keepalive?.heard();
      }
    } catch (err) {
      // A response we cannot parse or match: the relay is broken or hostile, drop the session.
      if (!(err instanceof TapirError)) this.#conn.close(toTapirError(err));
    }
    this.#keepalive?.stop();
    clearTimeout(this.#renewTimer);
    const closedWith = await this.#conn.closed;
    this.#closeError = relayCause(closedWith) ?? closedWith;
    this.#ending.abort();
    const failure = this.#closedError();
    this.#postsInFlight = 0;
    for (const { waiter } of this.#pending.splice(0)) waiter.reject(failure);
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
      case 'newMessage':
        this.emit('message', response.message);
        return;
      case 'postResult': {
        const { waiter } = this.#answered('postResult');
        this.#postsInFlight -= 1;
        const free = this.#slotFree;
        this.#slotFree = undefined;
        free?.();
        waiter.resolve(response.ok ? { ok: true } : { ok: false, code: response.code });
        return;
      }
      case 'replayResult':
      case 'bucketResult': {
        const { waiter } = this.#answered(response.kind);
        if (response.kind === 'bucketResult') waiter.bucket = response.bucket;
        waiter.count = response.count;
        waiter.remaining = response.count;
        if (response.count === 0) this.#finishReplay(waiter);
        else this.#active = waiter;
        return;
      }
      case 'pong':
        this.#answered('pong').waiter.resolve();
        this.emit('pong');
        if (response.bucket !== undefined) this.emit('bucket', response.bucket);
        return;
      case 'renewResult': {
        const { waiter } = this.#answered('renewResult');
        this.#challenge = { challenge: response.challenge, bits: response.bits };
        const { kind: _kind, ...outcome } = response;
        waiter.resolve(outcome);
        return;
      }
    }
  }

  /**
   * The oldest pending request, which an answer of `kind` must be for. Answers carry no request
   * id, so position is the only match: an answer of another kind than the oldest request's, or
   * one with no request at all, comes from a broken or lying relay.
   */
  #answered<K extends Pending['kind']>(kind: K): Extract<Pending, { kind: K }> {
    const head = this.#pending[0];
    if (head === undefined) throw new MalformedResponseError(`${kind} without a pending request`);
    if (head.kind !== kind) throw new MalformedResponseError(`${kind} where the answer to an earlier request was due (${head.kind})`);
    this.#pending.shift();
    return head as Extract<Pending, { kind: K }>;
  }

  #finishReplay(waiter: ReplayWaiter): void {
    this.#active = undefined;
    waiter.resolve(waiter.count);
  }
}

/**
 * Liveness of one session, on two timers and no clock: while nothing is outstanding, an idle
 * timer sends a ping after `intervalMs` of silence; while anything is outstanding (that ping
 * included), a deadline of `timeoutMs` is re-armed by every packet heard, and its expiry
 * declares the session dead. A frozen relay (or a circuit tor has not yet noticed is gone) can
 * keep the stream open; it cannot keep a session alive without answering.
 */
class Keepalive {
  readonly #options: KeepaliveOptions;
  readonly #outstanding: () => number;
  readonly #ping: () => void;
  readonly #dead: () => void;
  #idleTimer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #heard = 0;
  #stopped = false;

  public constructor(options: KeepaliveOptions, outstanding: () => number, ping: () => void, dead: () => void) {
    this.#options = options;
    this.#outstanding = outstanding;
    this.#ping = ping;
    this.#dead = dead;
    this.#armIdle();
  }

  /** A request went out. */
  public sent(): void {
    if (this.#stopped) return;
    this.#clearIdle();
    this.#deadline ??= this.#timer(this.#options.timeoutMs, () => this.#expire());
  }

  /** A packet arrived (and was dispatched). */
  public heard(): void {
    if (this.#stopped) return;
    this.#heard += 1;
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (this.#outstanding() > 0) this.#deadline = this.#timer(this.#options.timeoutMs, () => this.#expire());
    else this.#armIdle();
  }

  public stop(): void {
    this.#stopped = true;
    this.#clearIdle();
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  #armIdle(): void {
    this.#clearIdle();
    this.#idleTimer = this.#timer(this.#options.intervalMs, () => {
      this.#idleTimer = undefined;
      if (!this.#stopped && this.#outstanding() === 0) this.#ping();
    });
  }

  #clearIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #expire(): void {
    this.#deadline = undefined;
    // Timers run before pending socket reads in an event-loop turn: after a long synchronous
    // stretch (a big replay's processing) the answer may already be waiting. Look once more
    // after this turn's I/O before declaring the relay dead.
    const heard = this.#heard;
    setImmediate(() => {
      if (this.#stopped || this.#heard !== heard) return;
      if (this.#outstanding() > 0) this.#dead();
      else this.#armIdle();
    });
  }

  #timer(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(fn, ms);
    // A session must not keep the process alive on its own.
    timer.unref();
    return timer;
  }
}

function checkSizes(message: EncryptedGroupMessage): void {
  if (!hasRelaySizes(message)) throw new MalformedRequestError('a relay post is a 4096-byte ciphertext with a 64-byte signature');
}

import { Identity } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, ProofOfWorkApp, TapirService, type ACN, type Connection } from '@pursuance/tapir';
import { abortableSetup, eitherSignal, raceAbort, throwIfAborted } from './abort.js';
import { BoardSession, type KeepaliveOptions, type TokenSource } from './board-session.js';
import { OperationAbortedError, TokensUnavailableError } from './errors.js';
import type { KeyBundle } from './key-bundle.js';
import { DEFAULT_TOKEN_BATCH_SIZE, MAX_TOKEN_BATCH_SIZE, POST_WINDOW } from './protocol-profile.js';
import { relayCause } from './tapir-errors.js';
import { isSpendable } from './token-epochs.js';
import { TokenPurchaseApp } from './token-purchase.js';
import { TokenWallet } from './token-wallet.js';
import type { Token } from './tokens.js';

export interface RelayClientOptions {
  readonly acn: ACN;
  /** The relay's verified (and pinned) key bundle. */
  readonly bundle: KeyBundle;
  /** Tokens bought per proof of work (at least; a purchase for a known burst buys more). */
  readonly batchSize?: number;
  /** Start a background purchase when fewer tokens than this remain (default: the post window). */
  readonly lowWaterMark?: number;
  /** Refuse token services demanding more proof of work than this (bits). */
  readonly maxPowDifficulty?: number;
  /** Give up opening a connection after this long. */
  readonly connectTimeoutMs?: number;
  /** Give up a connection whose handshake (auth, proof of work, issuance) takes longer. */
  readonly handshakeTimeoutMs?: number;
  /** Posts in flight per board session (1 = wait for each acknowledgement). */
  readonly window?: number;
  /** Session liveness check; `false` turns it off. */
  readonly keepalive?: KeepaliveOptions | false;
  /** A session renews (proof of work) after this long without posting or syncing (board idle timeout); `false` turns it off. */
  readonly renewIntervalMs?: number | false;
  /** Refuse to renew sessions on a board asking more than this many bits per renewal. */
  readonly maxRenewalBits?: number;
  /** The clock that judges token epochs (tests inject one). */
  readonly now?: () => number;
}

/**
 * Client library for one relay: buys tokens (proof of work, blinded batch, DLEQ check,
 * unblinding), tops them up ahead of need, and opens board sessions. Every connection —
 * each token purchase and each board session — uses a fresh throwaway identity, so the relay
 * cannot link sessions to each other or to a member. Every network step takes an AbortSignal,
 * and `close()` aborts whatever is still under way.
 */
export class RelayClient implements TokenSource {
  public readonly wallet: TokenWallet;
  readonly #now: () => number;
  public readonly bundle: KeyBundle;
  readonly #service: TapirService;
  readonly #batchSize: number;
  readonly #lowWaterMark: number;
  readonly #maxPowDifficulty: number | undefined;
  readonly #connectTimeoutMs: number | undefined;
  readonly #window: number;
  readonly #keepalive: KeepaliveOptions | false | undefined;
  readonly #renewIntervalMs: number | false | undefined;
  readonly #maxRenewalBits: number | undefined;
  /** Fires on close: ends every open, handshake, purchase and token wait of this client. */
  readonly #closing = new AbortController();
  #purchase: Promise<void> | undefined;
  /** Tokens the owner announced it will take soon (see `reserve`). */
  #demand = 0;
  readonly #sessions = new Set<BoardSession>();

  public constructor(options: RelayClientOptions) {
    this.bundle = options.bundle;
    this.#now = options.now ?? Date.now;
    const schedule = options.bundle.tokenSchedule;
    this.wallet = new TokenWallet((token) => isSpendable(schedule, token.epoch, this.#now()));
    this.#batchSize = options.batchSize ?? DEFAULT_TOKEN_BATCH_SIZE;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1 || this.#batchSize > MAX_TOKEN_BATCH_SIZE) {
      throw new RangeError(`batchSize must be an integer in [1, ${MAX_TOKEN_BATCH_SIZE}]`);
    }
    this.#window = options.window ?? POST_WINDOW;
    if (!Number.isInteger(this.#window) || this.#window < 1) throw new RangeError('window must be a positive integer');
    // Spare tokens for one full window: the next batch is bought while the window drains.
    this.#lowWaterMark = options.lowWaterMark ?? Math.min(this.#batchSize, Math.max(Math.ceil(this.#batchSize / 4), this.#window));
    this.#maxPowDifficulty = options.maxPowDifficulty;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#keepalive = options.keepalive;
    this.#renewIntervalMs = options.renewIntervalMs;
    this.#maxRenewalBits = options.maxRenewalBits;
    // The service's own identity is never published or used to dial: each connection below
    // passes its own fresh identity.
    this.#service = new TapirService(
      options.acn,
      Identity.generate(),
      options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs },
    );
  }

  /** Buy one batch of tokens (one proof of work). Resolves with the number added to the wallet. */
  public async buyTokens(count: number = this.#batchSize, options: { signal?: AbortSignal } = {}): Promise<number> {
    const { signal, dispose } = eitherSignal(this.#closing.signal, options.signal);
    const purchase = new TokenPurchaseApp(this.bundle, count, this.#now);
    const pow = new ProofOfWorkApp(this.#maxPowDifficulty === undefined ? {} : { maxDifficulty: this.#maxPowDifficulty });
    try {
      throwIfAborted(signal);
      const conn = await this.#connect(this.bundle.tokenOnion, new ApplicationChain([pow, purchase]), signal);
      conn.close();
    } catch (err) {
      if (err instanceof OperationAbortedError) throw err;
      if (signal.aborted) throw new OperationAbortedError('token purchase aborted', { cause: err });
      throw relayCause(err) ?? new TokensUnavailableError(`token purchase failed: ${(err as Error).message}`, { cause: err });
    } finally {
      dispose();
    }
    this.wallet.add(purchase.tokens);
    return purchase.tokens.length;
  }

  /**
   * One unspent token; buys more when the wallet is empty, and in the background when it runs
   * below the low-water mark. `signal` ends this caller's wait, not a purchase others share.
   */
  public async takeToken(options: { signal?: AbortSignal } = {}): Promise<Token> {
    let token = this.wallet.take();
    // Many concurrent posts may drain one batch: keep buying (one purchase at a time) until
    // this caller gets a token, or a purchase fails.
    while (token === undefined) {
      throwIfAborted(options.signal);
      await raceAbort(this.#topUp(), options.signal);
      token = this.wallet.take();
    }
    this.#demand = Math.max(0, this.#demand - 1);
    this.#topUpIfLow();
    return token;
  }

  /** Put back a token that was taken but never spent. */
  public returnToken(token: Token): void {
    this.wallet.putBack(token);
  }

  /**
   * About `count` tokens will be taken soon (a queued burst): buy now, in the background, and
   * in one batch sized for the burst (up to the service's maximum) rather than several
   * purchases one after another when the wallet runs dry.
   */
  public reserve(count: number): void {
    this.#demand = Math.max(0, Math.floor(count));
    this.#topUpIfLow();
  }

  /** Below the announced demand plus the low-water mark: buy the next batch now, while posting. */
  #topUpIfLow(): void {
    this.wallet.prune();
    if (this.#closing.signal.aborted || this.wallet.size >= this.#demand + this.#lowWaterMark) return;
    // A failure here resurfaces on the next purchase that must succeed.
    this.#topUp().catch(() => undefined);
  }

  #topUp(): Promise<void> {
    const wanted = this.#demand + this.#lowWaterMark - this.wallet.size;
    const count = Math.min(MAX_TOKEN_BATCH_SIZE, Math.max(this.#batchSize, wanted));
    this.#purchase ??= this.buyTokens(count).then(
      () => {
        this.#purchase = undefined;
      },
      (err: unknown) => {
        this.#purchase = undefined;
        throw err;
      },
    );
    return this.#purchase;
  }

  /** Authenticate to the board with a fresh ephemeral identity. */
  public async openSession(options: { signal?: AbortSignal } = {}): Promise<BoardSession> {
    const { signal, dispose } = eitherSignal(this.#closing.signal, options.signal);
    const identity = Identity.generate();
    let conn: Connection;
    try {
      throwIfAborted(signal);
      conn = await this.#connect(this.bundle.boardOnion, new ApplicationChain([new AuthApp()]), signal, identity);
    } catch (err) {
      if (signal.aborted && !(err instanceof OperationAbortedError)) throw new OperationAbortedError('opening a relay session was aborted', { cause: err });
      throw err;
    } finally {
      dispose();
    }
    const session = new BoardSession(conn, this, this.bundle.boardOnion, identity.onion, {
      window: this.#window,
      ...(this.#keepalive === undefined ? {} : { keepalive: this.#keepalive }),
      ...(this.#renewIntervalMs === undefined ? {} : { renewIntervalMs: this.#renewIntervalMs }),
      ...(this.#maxRenewalBits === undefined ? {} : { maxRenewalBits: this.#maxRenewalBits }),
    });
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
    return session;
  }

  /**
   * Dial `onion` on a fresh identity and run `setup`, all of it under `signal`: the ACN open
   * gets the signal, the handshake is closed when it fires, and the wait itself ends at once
   * even if the ACN ignores it (a connection that still arrives is closed unused).
   */
  #connect(onion: KeyBundle['boardOnion'], setup: ApplicationChain, signal: AbortSignal, identity: Identity = Identity.generate()): Promise<Connection> {
    const dial = this.#connectTimeoutMs === undefined ? { identity, signal } : { identity, signal, timeoutMs: this.#connectTimeoutMs };
    return raceAbort(this.#service.connect(onion, abortableSetup(setup, signal), dial), signal, (late) => late.close());
  }

  /** Close every session and abort everything under way; resolves promptly whatever the network does. */
  public async close(): Promise<void> {
    this.#closing.abort();
    for (const session of this.#sessions) session.close();
    await this.#purchase?.catch(() => undefined);
    await this.#service.close();
  }
}

import { Identity } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, ProofOfWorkApp, TapirService, type ACN } from '@pursuance/tapir';
import { BoardSession, type TokenSource } from './board-session.js';
import { TokensUnavailableError } from './errors.js';
import type { KeyBundle } from './key-bundle.js';
import { DEFAULT_TOKEN_BATCH_SIZE, MAX_TOKEN_BATCH_SIZE } from './protocol-profile.js';
import { relayCause } from './tapir-errors.js';
import { TokenPurchaseApp } from './token-purchase.js';
import { TokenWallet } from './token-wallet.js';
import type { Token } from './tokens.js';

export interface RelayClientOptions {
  readonly acn: ACN;
  /** The relay's verified (and pinned) key bundle. */
  readonly bundle: KeyBundle;
  /** Tokens bought per proof of work. */
  readonly batchSize?: number;
  /** Start a background purchase when fewer tokens than this remain. */
  readonly lowWaterMark?: number;
  /** Refuse token services demanding more proof of work than this (bits). */
  readonly maxPowDifficulty?: number;
  /** Give up opening a connection after this long. */
  readonly connectTimeoutMs?: number;
}

/**
 * Client library for one relay: buys tokens (proof of work, blinded batch, DLEQ check,
 * unblinding), tops them up automatically, and opens board sessions. Every connection —
 * each token purchase and each board session — uses a fresh throwaway identity, so the relay
 * cannot link sessions to each other or to a member.
 */
export class RelayClient implements TokenSource {
  public readonly wallet = new TokenWallet();
  public readonly bundle: KeyBundle;
  readonly #service: TapirService;
  readonly #batchSize: number;
  readonly #lowWaterMark: number;
  readonly #maxPowDifficulty: number | undefined;
  readonly #connectTimeoutMs: number | undefined;
  #purchase: Promise<void> | undefined;
  readonly #sessions = new Set<BoardSession>();

  public constructor(options: RelayClientOptions) {
    this.bundle = options.bundle;
    this.#batchSize = options.batchSize ?? DEFAULT_TOKEN_BATCH_SIZE;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1 || this.#batchSize > MAX_TOKEN_BATCH_SIZE) {
      throw new RangeError(`batchSize must be an integer in [1, ${MAX_TOKEN_BATCH_SIZE}]`);
    }
    this.#lowWaterMark = options.lowWaterMark ?? Math.ceil(this.#batchSize / 4);
    this.#maxPowDifficulty = options.maxPowDifficulty;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    // The service's own identity is never published or used to dial: each connection below
    // passes its own fresh identity.
    this.#service = new TapirService(options.acn, Identity.generate());
  }

  /** Buy one batch of tokens (one proof of work). Resolves with the number added to the wallet. */
  public async buyTokens(count: number = this.#batchSize): Promise<number> {
    const purchase = new TokenPurchaseApp(this.bundle.tokenPublicKey, count);
    const pow = new ProofOfWorkApp(this.#maxPowDifficulty === undefined ? {} : { maxDifficulty: this.#maxPowDifficulty });
    try {
      const conn = await this.#service.connect(this.bundle.tokenOnion, new ApplicationChain([pow, purchase]), this.#dialOptions());
      conn.close();
    } catch (err) {
      throw relayCause(err) ?? new TokensUnavailableError(`token purchase failed: ${(err as Error).message}`, { cause: err });
    }
    this.wallet.add(purchase.tokens);
    return purchase.tokens.length;
  }

  /** One unspent token; buys more when the wallet is empty, and in the background when low. */
  public async takeToken(): Promise<Token> {
    let token = this.wallet.take();
    // Many concurrent posts may drain one batch: keep buying (one purchase at a time) until
    // this caller gets a token, or a purchase fails.
    while (token === undefined) {
      await this.#topUp();
      token = this.wallet.take();
    }
    if (this.wallet.size < this.#lowWaterMark) {
      // Background top-up; a failure here resurfaces on the next purchase that must succeed.
      this.#topUp().catch(() => undefined);
    }
    return token;
  }

  #topUp(): Promise<void> {
    this.#purchase ??= this.buyTokens().then(
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
  public async openSession(): Promise<BoardSession> {
    const options = this.#dialOptions();
    const conn = await this.#service.connect(this.bundle.boardOnion, new ApplicationChain([new AuthApp()]), options);
    const session = new BoardSession(conn, this, this.bundle.boardOnion, options.identity.onion);
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
    return session;
  }

  /** A fresh throwaway identity for every connection. */
  #dialOptions(): { identity: Identity; timeoutMs?: number } {
    const identity = Identity.generate();
    return this.#connectTimeoutMs === undefined ? { identity } : { identity, timeoutMs: this.#connectTimeoutMs };
  }

  public async close(): Promise<void> {
    for (const session of this.#sessions) session.close();
    await this.#purchase?.catch(() => undefined);
    await this.#service.close();
  }
}

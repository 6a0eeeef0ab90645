import type { Identity } from '@pursuance/crypto';
import { TapirService, type ACN, type TapirServiceOptions } from '@pursuance/tapir';
import { BoardServer, type BoardLimits } from './board-server.js';
import { exportKeyBundle, signKeyBundle, type SignedKeyBundle } from './key-bundle.js';
import { DEFAULT_IDLE_TIMEOUT_MS } from './protocol-profile.js';
import type { RelayStore } from './store.js';
import { TokenService } from './token-service.js';
import { oldestRedeemable, type TokenKeyring } from './token-epochs.js';

export interface RelayServerOptions {
  readonly acn: ACN;
  /** The board's identity: its onion is the relay's address and signs the key bundle. */
  readonly boardIdentity: Identity;
  /** The token service's own identity (a second onion). */
  readonly tokenIdentity: Identity;
  /** The token key schedule and its keys (the bundle commits to them). */
  readonly tokenKeys: TokenKeyring;
  /** The clock for token epochs (tests inject one). */
  readonly now?: () => number;
  readonly store: RelayStore;
  /** Proof-of-work bits demanded per token batch. */
  readonly powDifficulty: number;
  /** Connection limits and handshake timeout, applied to both services. */
  readonly service?: TapirServiceOptions;
  /**
   * Close a board session that sends no request for this long (default DEFAULT_IDLE_TIMEOUT_MS;
   * 0 = never). Token-service connections need none: they end after issuance.
   */
  readonly idleTimeoutMs?: number;
  readonly boardLimits?: Partial<BoardLimits>;
  /** Virtual onion port (default: tapir's). */
  readonly port?: number;
}

/**
 * A whole relay in one object: the board and the token service, each on its own onion and
 * identity, and the signed key bundle naming both. The daemon adds persistence, metrics and
 * logs around it; tests run it in-process.
 */
export class RelayServer {
  public readonly board: BoardServer;
  public readonly tokens: TokenService;
  public readonly boardService: TapirService;
  public readonly tokenService: TapirService;
  public readonly bundle: SignedKeyBundle;
  public readonly exportedBundle: string;
  readonly #now: () => number;

  private constructor(options: RelayServerOptions) {
    this.#now = options.now ?? Date.now;
    // The bundle states the store's bucket length: members fetch the buckets the store files under.
    this.bundle = signKeyBundle(options.boardIdentity, options.tokenIdentity.onion, {
      root: options.tokenKeys.root,
      schedule: options.tokenKeys.schedule,
      bucketSeconds: options.store.bucketMs / 1000,
    });
    this.exportedBundle = exportKeyBundle(this.bundle);
    this.board = new BoardServer({
      store: options.store,
      tokenKeys: options.tokenKeys,
      boardOnion: options.boardIdentity.onion,
      ...(options.now === undefined ? {} : { now: options.now }),
      limits: options.boardLimits,
    });
    this.tokens = new TokenService({
      keys: options.tokenKeys,
      powDifficulty: options.powDifficulty,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.boardService = new TapirService(options.acn, options.boardIdentity, {
      ...options.service,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    });
    this.tokenService = new TapirService(options.acn, options.tokenIdentity, options.service);
  }

  public static async start(options: RelayServerOptions): Promise<RelayServer> {
    const relay = new RelayServer(options);
    try {
      await relay.tokenService.listen(relay.tokens.chain, options.port);
      await relay.boardService.listen(relay.board.chain, options.port);
    } catch (err) {
      await relay.close();
      throw err;
    }
    return relay;
  }

  /**
   * Forget the spent tokens of every epoch the board no longer redeems (it refuses them before
   * the store is asked, so none can be spent again). Resolves with how many went; the daemon
   * runs it with its storage sweep.
   */
  public dropExpiredTokens(): Promise<number> {
    return this.board.store.dropSpentBefore(oldestRedeemable(this.tokens.keys.schedule, this.#now()));
  }

  /** Unpublish both services and drop their connections. The store stays open (its owner closes it). */
  public async close(): Promise<void> {
    await Promise.allSettled(
      [this.boardService, this.tokenService].map((service) => {
        // close() refuses new connections at once, then waits for its listeners, which wait
        // for their open sockets: so drop the open connections right after starting it.
        const closing = service.close();
        for (const conn of service.connections()) conn.close();
        return closing;
      }),
    );
  }
}

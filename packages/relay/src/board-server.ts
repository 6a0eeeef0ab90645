import { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, type Application } from '@pursuance/tapir';
import { BoardConnection } from './board-connection.js';
import { encodeNewMessage, type BoardRequest } from './board-protocol.js';
import {
  DEFAULT_RENEWAL_BITS,
  MAX_FAILED_SPENDS_PER_SESSION,
  MAX_PENDING_PUSHES,
  MAX_PIPELINED_POSTS,
  REPLAY_PAGE_SIZE,
  type PostFailureCode,
} from './protocol-profile.js';
import type { RelayStore, StoredMessage } from './store.js';
import type { TokenKeyring } from './token-epochs.js';
import { verifySpentToken } from './tokens.js';

export interface BoardLimits {
  readonly maxPipelinedPosts: number;
  readonly maxPendingPushes: number;
  readonly maxFailedSpends: number;
  readonly replayPageSize: number;
  /** Bits of proof of work per session renewal (a ping no longer renews; 0 = renewals are free). */
  readonly renewalBits: number;
}

export interface BoardServerOptions {
  readonly store: RelayStore;
  /** The token keys, to check spent tokens against their epoch's key. */
  readonly tokenKeys: TokenKeyring;
  /** The clock that decides which epochs still redeem (tests inject one). */
  readonly now?: () => number;
  /** This board's onion: tokens must be bound to it. */
  readonly boardOnion: OnionName;
  readonly limits?: Partial<BoardLimits>;
}

export type PostReply = { readonly ok: true } | { readonly ok: false; readonly code: PostFailureCode };

export interface BoardEvents {
  /** A post was acknowledged: newly stored, or an idempotent repeat of a stored signature. */
  posted: [outcome: 'stored' | 'duplicate'];
  postRejected: [code: PostFailureCode];
  /** A replay of `count` messages finished and the session now receives live pushes. */
  replayed: [count: number];
  /** A session asked to renew: `renewed`, refused with a code (`RENEWAL_INVALID`), or only fetched its `challenge`. */
  renewal: [outcome: 'renewed' | 'challenge' | 'RENEWAL_INVALID'];
  /** A session ended; `code` is the relay error that ended it, if one did. */
  sessionClosed: [code: string | undefined];
}

/**
 * The message board (Cwtch's TokenboardServer): clients authenticate with an ephemeral
 * identity, then post (one spent token each), replay all or since a signature, and get live
 * pushes. The board knows nothing but (signature, ciphertext) pairs and spent token inputs;
 * it keeps no record of who posted or read what.
 */
export class BoardServer extends EventEmitter<BoardEvents> {
  public readonly store: RelayStore;
  public readonly limits: BoardLimits;
  readonly #keys: TokenKeyring;
  readonly #now: () => number;
  readonly #boardOnion: OnionName;
  readonly #sessions = new Set<BoardConnection>();
  /** Per post being stored and not yet published: the bucket it will be filed under at the earliest. */
  readonly #unpublished = new Map<number, number>();
  #nextPost = 0;

  public constructor(options: BoardServerOptions) {
    super();
    this.store = options.store;
    this.#keys = options.tokenKeys;
    this.#now = options.now ?? Date.now;
    this.#boardOnion = options.boardOnion;
    this.limits = {
      maxPipelinedPosts: options.limits?.maxPipelinedPosts ?? MAX_PIPELINED_POSTS,
      maxPendingPushes: options.limits?.maxPendingPushes ?? MAX_PENDING_PUSHES,
      maxFailedSpends: options.limits?.maxFailedSpends ?? MAX_FAILED_SPENDS_PER_SESSION,
      replayPageSize: options.limits?.replayPageSize ?? REPLAY_PAGE_SIZE,
      renewalBits: options.limits?.renewalBits ?? DEFAULT_RENEWAL_BITS,
    };
  }

  /** The application chain for one inbound connection: 3DH auth, then the board loop. */
  public readonly chain = (): Application => new ApplicationChain([new AuthApp()], { name: 'board', run: (conn) => new BoardConnection(this, conn).run() });

  public get sessionCount(): number {
    return this.#sessions.size;
  }

  /** @internal */
  public register(session: BoardConnection): void {
    this.#sessions.add(session);
  }

  /** @internal */
  public unregister(session: BoardConnection, code: string | undefined): void {
    if (this.#sessions.delete(session)) this.emit('sessionClosed', code);
  }

  /**
   * Check the token's epoch still redeems and the token under that epoch's key, then spend it
   * and store the message in one durable step. Never rejects:
   * every failure becomes a PostReply code for the client.
   */
  public async processPost(request: Extract<BoardRequest, { kind: 'post' }>): Promise<PostReply> {
    const key = this.#keys.redeeming(request.token.epoch, this.#now());
    if (key === undefined) return this.#reject('TOKEN_EXPIRED');
    if (!verifySpentToken(key.secretKey, request.token, request.message, this.#boardOnion)) return this.#reject('TOKEN_INVALID');
    let outcome;
    const id = this.#nextPost++;
    this.#unpublished.set(id, this.store.currentBucket());
    try {
      outcome = await this.store.post({ ...request.message, tokenEpoch: request.token.epoch, tokenInput: request.token.input });
    } catch {
      return this.#reject('STORE_FAILED');
    } finally {
      this.#unpublished.delete(id);
    }
    // Nothing may be awaited between the store's resolution and publish(): store outcomes
    // resolve in seq order, so publishing synchronously here keeps pushes in storage order.
    if (outcome.kind === 'token-spent') return this.#reject('TOKEN_SPENT');
    if (outcome.kind === 'stored') this.publish(outcome.message);
    this.emit('posted', outcome.kind);
    return { ok: true };
  }

  #reject(code: PostFailureCode): PostReply {
    this.emit('postRejected', code);
    return { ok: false, code };
  }

  /**
   * The earliest bucket a message not yet published can be filed under: the store's current
   * bucket, or a post still being stored since an earlier one. Everything published before
   * this call is filed before or at it; everything published after, at it or later.
   */
  public fetchFrontier(): number {
    let frontier = this.store.currentBucket();
    for (const bucket of this.#unpublished.values()) frontier = Math.min(frontier, bucket);
    return frontier;
  }

  /** Push a newly stored message to every session (each decides: live, buffered, or not yet synced). */
  public publish(message: StoredMessage): void {
    if (this.#sessions.size === 0) return;
    const payload = encodeNewMessage(message);
    for (const session of this.#sessions) session.push(message, payload);
  }

  /** @internal */
  public newMessagePayload(message: StoredMessage): Uint8Array {
    return encodeNewMessage(message);
  }
}

import { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, type Application } from '@pursuance/tapir';
import { BoardConnection } from './board-connection.js';
import { encodeNewMessage, type BoardRequest } from './board-protocol.js';
import { MAX_FAILED_SPENDS_PER_SESSION, MAX_PENDING_PUSHES, MAX_PIPELINED_POSTS, REPLAY_PAGE_SIZE, type PostFailureCode } from './protocol-profile.js';
import type { RelayStore, StoredMessage } from './store.js';
import { verifySpentToken } from './tokens.js';

export interface BoardLimits {
  readonly maxPipelinedPosts: number;
  readonly maxPendingPushes: number;
  readonly maxFailedSpends: number;
  readonly replayPageSize: number;
}

export interface BoardServerOptions {
  readonly store: RelayStore;
  /** The VOPRF secret key, to check spent tokens. */
  readonly tokenSecretKey: Uint8Array;
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
  readonly #secretKey: Uint8Array;
  readonly #boardOnion: OnionName;
  readonly #sessions = new Set<BoardConnection>();

  public constructor(options: BoardServerOptions) {
    super();
    this.store = options.store;
    this.#secretKey = options.tokenSecretKey;
    this.#boardOnion = options.boardOnion;
    this.limits = {
      maxPipelinedPosts: options.limits?.maxPipelinedPosts ?? MAX_PIPELINED_POSTS,
      maxPendingPushes: options.limits?.maxPendingPushes ?? MAX_PENDING_PUSHES,
      maxFailedSpends: options.limits?.maxFailedSpends ?? MAX_FAILED_SPENDS_PER_SESSION,
      replayPageSize: options.limits?.replayPageSize ?? REPLAY_PAGE_SIZE,
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
   * Check the token, then spend it and store the message in one durable step. Never rejects:
   * every failure becomes a PostReply code for the client.
   */
  public async processPost(request: Extract<BoardRequest, { kind: 'post' }>): Promise<PostReply> {
    if (!verifySpentToken(this.#secretKey, request.token, request.message, this.#boardOnion)) return this.#reject('TOKEN_INVALID');
    let outcome;
    try {
      outcome = await this.store.post({ ...request.message, tokenInput: request.token.input });
    } catch {
      return this.#reject('STORE_FAILED');
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

import type { EncryptedGroupMessage } from './group-message.js';

/**
 * The relay's storage port. The board and the token checks use only this interface; the
 * daemon provides a TypeORM/SQLite implementation, tests an in-memory one, and both pass the
 * same contract suite (`runRelayStoreContractTests(setup, title?)` from `@pursuance/relay/testing`).
 *
 * A store holds exactly two things: messages (signature, ciphertext) in storage order, and
 * the inputs of spent tokens. Nothing about clients, sessions or addresses.
 */
export interface StoredMessage extends EncryptedGroupMessage {
  /** Storage order: strictly increasing, never reused (not even after pruning). Starts at 1. */
  readonly seq: number;
}

export interface PostRecord extends EncryptedGroupMessage {
  /** The spent token's input t. */
  readonly tokenInput: Uint8Array;
}

export type PostOutcome =
  /** Token spent and message stored. */
  | { readonly kind: 'stored'; readonly message: StoredMessage }
  /** Token spent; a message with this signature was already stored, so nothing new was stored. */
  | { readonly kind: 'duplicate' }
  /** The token was spent before: nothing was changed. */
  | { readonly kind: 'token-spent' };

export interface StoreStats {
  readonly messages: number;
  readonly spentTokens: number;
  /** Messages removed by the storage cap since this store was opened. */
  readonly pruned: number;
  /** The cap in messages, or undefined when unlimited. */
  readonly maxMessages: number | undefined;
}

export interface RelayStoreOptions {
  /**
   * Keep at most this many messages: when a post takes the count above it, the oldest
   * (count − cap) + cap/10 are deleted (Cwtch prunes ~10% at a time). Spent tokens are never
   * pruned, so pruning can never make a token spendable again.
   */
  readonly maxMessages?: number;
}

export interface RelayStore {
  /**
   * Atomically spend `tokenInput` and store the message. Resolves only once the outcome is
   * durable: after a crash, an acknowledged post is present and its token spent, and a token
   * is spent if and only if its post's transaction committed. Outcomes of concurrent calls
   * resolve in storage (seq) order.
   */
  post(record: PostRecord): Promise<PostOutcome>;
  isSpent(tokenInput: Uint8Array): Promise<boolean>;
  /** The seq of the stored message with this signature, if it is (still) stored. */
  seqOf(signature: Uint8Array): Promise<number | undefined>;
  /** The highest seq ever assigned (0 when nothing was ever stored). */
  lastSeq(): Promise<number>;
  /** Messages with fromSeq ≤ seq ≤ toSeq. */
  count(fromSeq: number, toSeq: number): Promise<number>;
  /** Up to `limit` messages with fromSeq ≤ seq ≤ toSeq, in seq order. */
  read(fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/** Cwtch's pruning rule: how many of the oldest messages to delete at `count` with cap `max`. */
export function messagesToPrune(count: number, max: number | undefined): number {
  if (max === undefined || count <= max) return 0;
  return Math.min(count, count - max + Math.floor(max / 10));
}

import type { EncryptedGroupMessage } from './group-message.js';

/**
 * The relay's storage port. The board and the token checks use only this interface; the
 * daemon provides a TypeORM/SQLite implementation, tests an in-memory one, and both pass the
 * same contract suite (`runRelayStoreContractTests(setup, title?)` from `@pursuance/relay/testing`).
 *
 * A store holds exactly two things: messages (signature, ciphertext) in storage order, and
 * the spent tokens (their key epoch and input). Nothing about clients, sessions or addresses.
 */
export interface StoredMessage extends EncryptedGroupMessage {
  /** Storage order: strictly increasing, never reused (not even after pruning). Starts at 1. */
  readonly seq: number;
}

export interface PostRecord extends EncryptedGroupMessage {
  /** The token key epoch the spent token was issued under (a non-negative integer below 2^31). */
  readonly tokenEpoch: number;
  /** The spent token's input t. A token is (epoch, t): the same t under another epoch's key is another token. */
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
  /** Bytes of the stored messages (signatures and ciphertexts; not the database's own overhead). */
  readonly bytes: number;
  readonly spentTokens: number;
  /** Messages removed by the storage cap since this store was opened. */
  readonly pruned: number;
  /** Messages removed by the retention window since this store was opened. */
  readonly expired: number;
  /** The cap in messages, or undefined when unlimited. */
  readonly maxMessages: number | undefined;
  /** The retention window in ms, or undefined when messages are kept until the cap. */
  readonly retentionMs: number | undefined;
}

export interface RelayStoreOptions {
  /**
   * Keep at most this many messages: when a post takes the count above it, the oldest
   * (count − cap) + cap/10 are deleted (Cwtch prunes ~10% at a time). Pruning messages never
   * touches spent tokens, so it can never make a token spendable again; spent tokens go only
   * with their whole epoch (dropSpentBefore), once that epoch's key redeems nothing.
   */
  readonly maxMessages?: number;
  /**
   * Prune messages stored more than this long ago (oldest first). Storage times are kept per
   * UTC day, not per message (see STORAGE_DAY_MS), so a message lives between the window and
   * the window plus one day.
   */
  readonly retentionMs?: number;
  /** At most this many messages are deleted in one transaction (default PRUNE_BATCH). */
  readonly pruneBatch?: number;
  /** The clock for retention and buckets (tests inject one). */
  readonly now?: () => number;
  /**
   * The fetch bucket length in ms (default DEFAULT_BUCKET_MS). Must equal the bucket length the
   * relay's key bundle states: clients fetch whole buckets by index.
   */
  readonly bucketMs?: number;
}

export interface RelayStore {
  /** The fetch bucket length in ms (the relay's key bundle states it, in seconds). */
  readonly bucketMs: number;
  /**
   * Atomically spend `tokenInput` and store the message. Resolves only once the outcome is
   * durable: after a crash, an acknowledged post is present and its token spent, and a token
   * is spent if and only if its post's transaction committed. Outcomes of concurrent calls
   * resolve in storage (seq) order.
   */
  post(record: PostRecord): Promise<PostOutcome>;
  isSpent(tokenEpoch: number, tokenInput: Uint8Array): Promise<boolean>;
  /**
   * Forget the spent tokens of every epoch below `epoch` and resolve with how many went. Only
   * for epochs the relay no longer redeems: the caller must refuse those tokens before asking.
   */
  dropSpentBefore(epoch: number): Promise<number>;
  /** The seq of the stored message with this signature, if it is (still) stored. */
  seqOf(signature: Uint8Array): Promise<number | undefined>;
  /** The highest seq ever assigned (0 when nothing was ever stored). */
  lastSeq(): Promise<number>;
  /**
   * The bucket a message stored now is filed under: the clock's bucket, never below the latest
   * bucket a message was filed under (a clock stepped back files under that one), so buckets
   * never decrease with seq.
   */
  currentBucket(): number;
  /**
   * The highest retained seq filed under a bucket below `bucket`, or 0 when none is retained:
   * every retained message with a higher seq was filed under `bucket` or a later one.
   */
  seqBeforeBucket(bucket: number): Promise<number>;
  /** Messages with fromSeq ≤ seq ≤ toSeq. */
  count(fromSeq: number, toSeq: number): Promise<number>;
  /** Up to `limit` messages with fromSeq ≤ seq ≤ toSeq, in seq order. */
  read(fromSeq: number, toSeq: number, limit: number): Promise<StoredMessage[]>;
  stats(): Promise<StoreStats>;
  /**
   * Delete what the retention window and the cap say must go, in transactions of at most
   * `pruneBatch` messages with posts let in between. Resolves with how many were deleted once
   * nothing more is due. Posting prunes too (a bounded amount per commit); this is for a
   * store that is idle or was opened over a smaller cap.
   */
  pruneDue(): Promise<number>;
  close(): Promise<void>;
}

/** Cwtch's pruning rule: how many of the oldest messages to delete at `count` with cap `max`. */
export function messagesToPrune(count: number, max: number | undefined): number {
  if (max === undefined || count <= max) return 0;
  return Math.min(count, count - max + Math.floor(max / 10));
}

/**
 * Messages deleted per transaction at most. The cap's 10% slack (above) is cut to this, and
 * retention and a lowered cap catch up in steps of this size, so one commit never carries a
 * long delete and posting never stalls behind pruning.
 */
export const PRUNE_BATCH = 1000;

/**
 * The granularity of storage times. The store remembers, per UTC day, the last seq stored that
 * day, never a time per message: a seized database says at most on which day a message came.
 */
export const STORAGE_DAY_MS = 86_400_000;

export function storageDay(nowMs: number): number {
  return Math.floor(nowMs / STORAGE_DAY_MS);
}

/**
 * Days before this one are wholly older than the window: a message stored on day d was stored
 * before (d + 1) days, which is at most now − window exactly when d < ⌊(now − window) / day⌋.
 */
/**
 * The default fetch bucket: an hour. Members fetch whole buckets, so a member back after an
 * hour downloads at most about two hours of the relay's traffic (all groups alike); a seized
 * database says in which hour a message came (the bucket marks), no finer.
 */
export const DEFAULT_BUCKET_MS = 3_600_000;

/** The bucket index of a time: whole bucket lengths since the Unix epoch. */
export function bucketOf(nowMs: number, bucketMs: number): number {
  return Math.floor(nowMs / bucketMs);
}

export function firstKeptDay(nowMs: number, retentionMs: number): number {
  return storageDay(nowMs - retentionMs);
}

/**
 * How many of the oldest messages a commit deletes for the cap, given the count before it and
 * after its inserts. A store at or under the cap never ends a commit above it (whatever the
 * batch); one above it (the cap was lowered) never grows and shrinks by up to `batch` per commit.
 */
export function capPruneCount(before: number, after: number, max: number | undefined, batch: number = PRUNE_BATCH): number {
  const target = messagesToPrune(after, max);
  if (target === 0 || max === undefined) return 0;
  const needed = after - Math.max(before, max);
  return Math.min(target, Math.max(batch, needed));
}

import { EventEmitter } from 'node:events';
import { toHex } from '@pursuance/crypto';
import {
  PostRejectedError,
  RelayClient,
  bucketOf,
  type BoardSession,
  type EncryptedGroupMessage,
  type KeyBundle,
  type RelayClientOptions,
} from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import { Sleeper, retryDelay } from './backoff.js';
import { RELAY_CLOCK_SKEW_MS, type RetryPolicy } from './protocol-profile.js';
import type { RelayCursor } from './records.js';

/**
 * One relay, kept in sync: a session on a fresh ephemeral identity (RelayClient makes a new
 * one per session), a fetch of every bucket from the one the relay last named as our frontier
 * (a relay from before bucketed fetch: a replay since the last message we processed), then
 * live pushes; when the session drops, a new session after a backoff. Tokens
 * are bought ahead of need by the RelayClient. Our own posts are queued here and, whenever a
 * session is synced, sent in queue order with a window of them in flight (acknowledgements are
 * matched to posts by position). A keepalive ends a session the relay stopped answering, and
 * `stop()` aborts whatever is under way, so it returns promptly whatever the network does.
 */
export interface RelaySyncEvents {
  /** A session finished its replay (`count` messages) and now receives live pushes. */
  synced: [count: number];
  /** A session ended or could not be opened. */
  down: [error: Error | undefined];
  /** The relay acknowledged one of our posts as durable. */
  posted: [signature: string];
  /** The relay refused a post repeatedly; it was dropped from the queue. */
  postFailed: [signature: string, error: Error];
}

export interface RelaySyncOptions {
  readonly acn: ACN;
  readonly bundle: KeyBundle;
  /** Where we are on this relay: the bucket to fetch from, or the last message processed (replay since). */
  readonly cursor: () => RelayCursor | undefined;
  /** Called synchronously for every message, replayed or live, in relay order. */
  readonly onMessage: (message: EncryptedGroupMessage, phase: 'replay' | 'live') => void;
  /** The relay named the bucket our next fetch may start at; every message before it was passed to onMessage. */
  readonly onBucket?: (bucket: number) => void;
  /** The clock a bucket the relay names is checked against (tests inject one). */
  readonly now?: () => number;
  readonly retry: RetryPolicy;
  readonly client?: Partial<
    Pick<RelayClientOptions, 'batchSize' | 'lowWaterMark' | 'maxPowDifficulty' | 'connectTimeoutMs' | 'handshakeTimeoutMs' | 'window' | 'keepalive'>
  >;
}

const MAX_POST_ATTEMPTS = 3;

interface QueuedPost {
  readonly message: EncryptedGroupMessage;
  readonly id: string;
  attempts: number;
  /** Handed to the current session (written, or waiting for a window slot): not to be sent again. */
  sending: boolean;
}

export class RelaySync extends EventEmitter<RelaySyncEvents> {
  readonly #options: RelaySyncOptions;
  readonly #client: RelayClient;
  readonly #sleeper = new Sleeper();
  /** Fires on stop: ends the session being opened, its handshake, and every post not yet written. */
  readonly #stopping = new AbortController();
  readonly #posts: QueuedPost[] = [];
  #session: BoardSession | undefined;
  #synced: BoardSession | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #immediate = false;
  #fromStart = false;
  /** Sessions opened so far (each on its own ephemeral identity). */
  public sessions = 0;

  public constructor(options: RelaySyncOptions) {
    super();
    this.#options = options;
    this.#client = new RelayClient({ acn: options.acn, bundle: options.bundle, ...options.client });
  }

  public get relay(): string {
    return this.#options.bundle.boardOnion;
  }

  public get isSynced(): boolean {
    return this.#synced !== undefined && !this.#synced.isClosed;
  }

  public start(): void {
    this.#running ??= this.#loop();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      let error: Error | undefined;
      try {
        const session = await this.#client.openSession({ signal: this.#stopping.signal });
        this.sessions += 1;
        this.#session = session;
        if (this.#stopped) {
          session.close();
          break;
        }
        // Tokens for what is queued are bought while the replay runs, not after it.
        if (this.#posts.length > 0) this.#client.reserve(this.#posts.length);
        // Attach before the replay: live pushes only follow it, and must not be missed.
        session.on('message', (m) => {
          if (this.#session === session) this.#options.onMessage(m, 'live');
        });
        const count = await this.#catchUp(session);
        if (this.#session !== session) {
          this.#immediate = false;
          continue; // superseded by a resync
        }
        this.#immediate = false;
        failures = 0;
        this.#synced = session;
        this.emit('synced', count);
        this.#pump();
        error = await session.closed;
      } catch (err) {
        error = err as Error;
      }
      this.#synced = undefined;
      this.#session = undefined;
      if (this.#stopped) break;
      this.emit('down', error);
      if (this.#immediate) {
        this.#immediate = false;
        continue;
      }
      failures += 1;
      await this.#sleeper.sleep(retryDelay(failures, this.#options.retry));
    }
  }

  /**
   * Fetch by bucket when the relay's bundle states a bucket length, else replay since the last
   * message processed. A fetch names only a bucket index: the relay cannot tell our session
   * from any other member's (of any group) that was last online in the same bucket.
   */
  async #catchUp(session: BoardSession): Promise<number> {
    const cursor = this.#fromStart ? undefined : this.#options.cursor();
    this.#fromStart = false;
    const onMessage = (m: EncryptedGroupMessage): void => {
      if (this.#session === session) this.#options.onMessage(m, 'replay');
    };
    const bucketSeconds = this.#options.bundle.bucketSeconds;
    if (bucketSeconds === undefined) return session.replayEach({ since: cursor?.since, onMessage });
    const onBucket = (bucket: number): void => {
      if (this.#session !== session) return;
      // A relay may withhold (members repair that), but a frontier beyond its own clock would
      // make every later fetch skip what it stores until then: such a bucket is not kept.
      const latest = bucketOf((this.#options.now ?? Date.now)() + bucketSeconds * 1000 + RELAY_CLOCK_SKEW_MS, bucketSeconds * 1000);
      if (bucket <= latest) this.#options.onBucket?.(bucket);
    };
    session.on('bucket', onBucket);
    const { count, bucket } = await session.fetchEach({ fromBucket: cursor?.bucket ?? 0, onMessage });
    onBucket(bucket);
    return count;
  }

  /** End the current session and open a new one at once (it replays from the cursor again). */
  public resync(options: { fromStart?: boolean } = {}): void {
    this.#immediate = true;
    if (options.fromStart === true) this.#fromStart = true;
    this.#sleeper.wakeAll();
    const session = this.#session;
    // Nothing more from the old session is processed (it could move the cursor again).
    this.#session = undefined;
    this.#synced = undefined;
    session?.close();
  }

  /** Queue our message for this relay (stored by the relay in queue order, after any queued before it). */
  public post(message: EncryptedGroupMessage): void {
    const id = toHex(message.signature);
    if (this.#posts.some((p) => p.id === id)) return;
    this.#posts.push({ message, id, attempts: 0, sending: false });
    // Only with a session: while the relay is unreachable its token service likely is too.
    if (this.isSynced) this.#client.reserve(this.#posts.length);
    this.#pump();
  }

  public get queuedPosts(): number {
    return this.#posts.length;
  }

  /**
   * Hand every queued post not yet handed over to the synced session, in queue order. The
   * session keeps a window of them in flight and writes them in this order, so the relay
   * stores them in it; each acknowledgement or refusal comes back for exactly its post.
   */
  #pump(): void {
    const session = this.#synced;
    if (this.#stopped || session === undefined || session.isClosed) return;
    for (const entry of this.#posts) {
      if (entry.sending) continue;
      entry.sending = true;
      session.post(entry.message, { signal: this.#stopping.signal }).then(
        () => this.#acknowledged(entry),
        (err: unknown) => this.#failed(entry, session, err as Error),
      );
    }
  }

  #acknowledged(entry: QueuedPost): void {
    this.#remove(entry);
    this.emit('posted', entry.id);
  }

  #failed(entry: QueuedPost, session: BoardSession, err: Error): void {
    entry.sending = false;
    if (this.#stopped) return;
    if (err instanceof PostRejectedError) {
      if (++entry.attempts >= MAX_POST_ATTEMPTS) {
        this.#remove(entry);
        this.emit('postFailed', entry.id, err);
      } else {
        // Sent again behind the posts already in flight: the relay refused only this one.
        this.#pump();
      }
      return;
    }
    // Session trouble (closed, no tokens): drop the session; the next synced one sends what
    // is left, in queue order. A post that failed after a newer session was synced goes now.
    if (!session.isClosed) session.close();
    if (this.#synced !== session) this.#pump();
  }

  #remove(entry: QueuedPost): void {
    const at = this.#posts.indexOf(entry);
    if (at >= 0) this.#posts.splice(at, 1);
  }

  /** Stop syncing: aborts a session being opened (network step or handshake) and every post under way. */
  public async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    this.#sleeper.wakeAll();
    this.#session?.close();
    this.#synced?.close();
    await this.#running?.catch(() => undefined);
    await this.#client.close();
  }
}

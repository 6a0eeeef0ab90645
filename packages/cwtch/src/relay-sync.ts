import { EventEmitter } from 'node:events';
import { toHex } from '@pursuance/crypto';
import { PostRejectedError, RelayClient, type BoardSession, type EncryptedGroupMessage, type KeyBundle, type RelayClientOptions } from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import { Sleeper, retryDelay } from './backoff.js';
import type { RetryPolicy } from './protocol-profile.js';

/**
 * One relay, kept in sync: a session on a fresh ephemeral identity (RelayClient makes a new
 * one per session, so the relay cannot link our sessions), a replay from the last message we
 * processed, then live pushes; when the session drops, a new session after a backoff. Tokens
 * are bought and topped up by the RelayClient. Our own posts are queued here and sent, in
 * order, whenever a session is synced.
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
  /** Signature of the last message processed from this relay (replay starts there). */
  readonly cursor: () => Uint8Array | undefined;
  /** Called synchronously for every message, replayed or live, in relay order. */
  readonly onMessage: (message: EncryptedGroupMessage, phase: 'replay' | 'live') => void;
  readonly retry: RetryPolicy;
  readonly client?: Partial<Pick<RelayClientOptions, 'batchSize' | 'lowWaterMark' | 'maxPowDifficulty' | 'connectTimeoutMs'>>;
}

const MAX_POST_ATTEMPTS = 3;

export class RelaySync extends EventEmitter<RelaySyncEvents> {
  readonly #options: RelaySyncOptions;
  readonly #client: RelayClient;
  readonly #sleeper = new Sleeper();
  readonly #posts: { message: EncryptedGroupMessage; id: string; attempts: number }[] = [];
  #session: BoardSession | undefined;
  #synced: BoardSession | undefined;
  #pumping = false;
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
        const session = await this.#client.openSession();
        this.sessions += 1;
        this.#session = session;
        if (this.#stopped) {
          session.close();
          break;
        }
        // Attach before the replay: live pushes only follow it, and must not be missed.
        session.on('message', (m) => {
          if (this.#session === session) this.#options.onMessage(m, 'live');
        });
        const since = this.#fromStart ? undefined : this.#options.cursor();
        this.#fromStart = false;
        const count = await session.replayEach({
          since,
          onMessage: (m) => {
            if (this.#session === session) this.#options.onMessage(m, 'replay');
          },
        });
        if (this.#session !== session) {
          this.#immediate = false;
          continue; // superseded by a resync
        }
        this.#immediate = false;
        failures = 0;
        this.#synced = session;
        this.emit('synced', count);
        void this.#pump();
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

  /** Queue our message for this relay (sent in order, after any queued before it). */
  public post(message: EncryptedGroupMessage): void {
    const id = toHex(message.signature);
    if (this.#posts.some((p) => p.id === id)) return;
    this.#posts.push({ message, id, attempts: 0 });
    void this.#pump();
  }

  public get queuedPosts(): number {
    return this.#posts.length;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#stopped && this.#posts.length > 0) {
        const session = this.#synced;
        if (session === undefined || session.isClosed) return;
        const next = this.#posts[0]!;
        try {
          await session.post(next.message);
          this.#posts.shift();
          this.emit('posted', next.id);
        } catch (err) {
          if (err instanceof PostRejectedError && ++next.attempts >= MAX_POST_ATTEMPTS) {
            this.#posts.shift();
            this.emit('postFailed', next.id, err);
            continue;
          }
          if (err instanceof PostRejectedError) continue;
          // Session trouble: drop it; the next synced session picks the queue up again.
          if (!session.isClosed) session.close();
          if (this.#synced !== undefined && this.#synced !== session) continue;
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  public async stop(): Promise<void> {
    this.#stopped = true;
    this.#sleeper.wakeAll();
    this.#session?.close();
    await this.#running?.catch(() => undefined);
    await this.#client.close();
  }
}

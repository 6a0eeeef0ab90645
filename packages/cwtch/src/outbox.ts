import { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import { retryDelay } from './backoff.js';
import { CwtchError, PeerStoppedError, PeerUnreachableError, RequestTimeoutError } from './errors.js';
import type { PeerLinks } from './peer-links.js';
import { newMessageId } from './peer-protocol.js';
import type { RetryPolicy } from './protocol-profile.js';
import { COLLECTIONS, OutboxEntrySchema, decodeRecord, toCanonical, type OutboxEntry } from './records.js';
import type { StoreOp } from './store.js';
import type { ProfileVault } from './vault.js';

/**
 * Direct messages waiting for their acknowledgement. Every message is written to the store
 * before it is first sent and removed only when the recipient acknowledged its id, so the
 * queue survives restarts. A contact that cannot be reached (or does not ack in time) is
 * retried with exponential backoff; when the contact connects to us, its queue is flushed at
 * once instead of waiting out the delay. Per contact, messages go out in the order queued.
 */
export interface OutboxEvents {
  delivered: [OutboxEntry];
  /** An attempt failed; `entry.nextAttemptAt` says when the next one is due. */
  attemptFailed: [OutboxEntry, string];
}

export interface OutboxOptions {
  readonly vault: ProfileVault;
  readonly links: PeerLinks;
  readonly retry: RetryPolicy;
  readonly ackTimeoutMs: number;
  readonly now: () => number;
  readonly random?: () => number;
}

interface AckWaiter {
  readonly onion: OnionName;
  resolve(): void;
  reject(error: Error): void;
}

export class Outbox extends EventEmitter<OutboxEvents> {
  readonly #options: OutboxOptions;
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #acks = new Map<string, AckWaiter>();
  readonly #running = new Set<OnionName>();
  readonly #rerun = new Set<OnionName>();
  readonly #timers = new Map<OnionName, NodeJS.Timeout>();
  #stopped = false;

  public constructor(options: OutboxOptions) {
    super();
    this.#options = options;
  }

  public async load(): Promise<void> {
    for await (const r of this.#options.vault.all(COLLECTIONS.outbox)) {
      const entry = decodeRecord(OutboxEntrySchema, r.value, 'outbox');
      this.#entries.set(entry.id, entry);
    }
  }

  /** Start delivering everything loaded (due entries now, the rest when their time comes). */
  public start(): void {
    for (const onion of new Set([...this.#entries.values()].map((e) => e.to))) void this.#run(onion);
  }

  public pending(onion?: OnionName): OutboxEntry[] {
    return [...this.#entries.values()].filter((e) => onion === undefined || e.to === onion).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Queue a message (persisted together with `extraOps`, atomically) and try to send it. */
  public async enqueue(to: OnionName, context: string, data: Uint8Array, extraOps: readonly StoreOp[] = [], id: string = newMessageId()): Promise<OutboxEntry> {
    if (this.#stopped) throw new PeerStoppedError();
    const now = this.#options.now();
    const entry: OutboxEntry = { id, to, context, data, attempts: 0, nextAttemptAt: now, createdAt: now };
    await this.#options.vault.write([...extraOps, this.#options.vault.put(COLLECTIONS.outbox, id, toCanonical(entry))]);
    this.#entries.set(id, entry);
    void this.#run(to);
    return entry;
  }

  /** The contact is reachable now (it connected to us): send its queue without waiting. */
  public kick(onion: OnionName): void {
    let any = false;
    for (const entry of this.#entries.values()) {
      if (entry.to !== onion) continue;
      entry.nextAttemptAt = Math.min(entry.nextAttemptAt, this.#options.now());
      any = true;
    }
    if (any) void this.#run(onion);
  }

  /** An acknowledgement arrived from `onion` for message `id`. */
  public acknowledge(onion: OnionName, id: string): void {
    const waiter = this.#acks.get(id);
    if (waiter?.onion === onion) {
      this.#acks.delete(id);
      waiter.resolve();
    }
  }

  async #run(onion: OnionName): Promise<void> {
    if (this.#running.has(onion)) {
      this.#rerun.add(onion);
      return;
    }
    this.#running.add(onion);
    clearTimeout(this.#timers.get(onion));
    this.#timers.delete(onion);
    try {
      do {
        this.#rerun.delete(onion);
        // A contact's queue goes as one unit, in order, once any of it is due: sending only the
        // due entries would let a later message overtake one that failed more often.
        const now = this.#options.now();
        const queue = this.pending(onion);
        if (queue.some((e) => e.nextAttemptAt <= now)) await this.#attempt(onion, queue);
      } while (this.#rerun.has(onion) && !this.#stopped);
    } finally {
      this.#running.delete(onion);
    }
    this.#schedule(onion);
  }

  #schedule(onion: OnionName): void {
    if (this.#stopped) return;
    const next = Math.min(...this.pending(onion).map((e) => e.nextAttemptAt));
    if (!Number.isFinite(next)) return;
    const timer = setTimeout(() => void this.#run(onion), Math.max(0, next - this.#options.now()));
    timer.unref();
    this.#timers.set(onion, timer);
  }

  async #attempt(onion: OnionName, due: OutboxEntry[]): Promise<void> {
    let link;
    try {
      link = await this.#options.links.connect(onion);
    } catch (err) {
      for (const entry of due) await this.#failed(entry, err);
      return;
    }
    for (const [i, entry] of due.entries()) {
      if (this.#stopped) return;
      try {
        const acked = this.#waitForAck(onion, entry.id);
        const sent = link.send({ id: entry.id, context: entry.context, data: entry.data });
        const linkClosed = new Promise<never>((_, reject) => {
          void link.connection.closed.then(() => reject(new PeerUnreachableError('link closed before the acknowledgement')));
        });
        for (const p of [sent, acked, linkClosed]) p.catch(() => undefined);
        await Promise.race([Promise.all([sent, acked]), linkClosed]);
      } catch (err) {
        this.#acks.delete(entry.id);
        // The link is gone or the peer went quiet: everything after this one fails too.
        for (const rest of due.slice(i)) await this.#failed(rest, err);
        return;
      }
      await this.#delivered(entry);
    }
  }

  #waitForAck(onion: OnionName, id: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(id);
        reject(new RequestTimeoutError('no acknowledgement in time'));
      }, this.#options.ackTimeoutMs);
      this.#acks.set(id, {
        onion,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  async #delivered(entry: OutboxEntry): Promise<void> {
    this.#entries.delete(entry.id);
    try {
      await this.#options.vault.write([this.#options.vault.delete(COLLECTIONS.outbox, entry.id)]);
    } catch {
      // Worst case the message is sent again after a restart; the receiver drops the duplicate id.
    }
    this.emit('delivered', entry);
  }

  async #failed(entry: OutboxEntry, err: unknown): Promise<void> {
    if (this.#stopped || !this.#entries.has(entry.id)) return;
    entry.attempts += 1;
    entry.nextAttemptAt = this.#options.now() + retryDelay(entry.attempts, this.#options.retry, this.#options.random);
    try {
      await this.#options.vault.write([this.#options.vault.put(COLLECTIONS.outbox, entry.id, toCanonical(entry))]);
    } catch {
      // The in-memory schedule still holds; the stored attempt count is only advisory.
    }
    this.emit('attemptFailed', entry, err instanceof CwtchError || (err instanceof Error && 'code' in err) ? String((err as { code: unknown }).code) : 'ERROR');
  }

  public stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const error = new PeerStoppedError();
    for (const waiter of this.#acks.values()) waiter.reject(error);
    this.#acks.clear();
  }
}

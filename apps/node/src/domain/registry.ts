import { sha256, toHex, type Identity } from '@pursuance/crypto';
import {
  EventRejectedError,
  PursuanceAuthor,
  PursuanceLog,
  buildMemberView,
  decodeEvent,
  type MemberViewResult,
  type NewPursuance,
  type Rejection,
  type SignedEvent,
} from '@pursuance/pursuance';
import type { EventOrigin } from '../store/entities.js';
import type { EventStore } from '../store/event-store.js';
import { UnknownPursuanceError } from './errors.js';

export interface PursuanceEntry {
  readonly id: string;
  readonly log: PursuanceLog;
  readonly author: PursuanceAuthor;
  /** Bumped on every change, so caches (views, HTTP ETags) know when to refresh. */
  version: number;
}

export interface IngestReport {
  readonly pursuanceId: string;
  readonly received: number;
  readonly stored: number;
  readonly accepted: number;
  readonly rejected: Rejection[];
  readonly invalid: Rejection[];
  readonly pending: number;
}

export interface ReplayProgress {
  readonly pursuanceId: string;
  readonly done: number;
  readonly total: number;
}

export type ChangeListener = (change: { pursuanceId: string; events: readonly SignedEvent[]; origin: EventOrigin }) => void;

/**
 * The node's pursuances in memory: each a PursuanceLog folded from the event store, plus this
 * node's PursuanceAuthor for acting in it. Every mutation runs through one queue, and resolves
 * only after its events are durable in the store — so whatever the node has acknowledged, it
 * still has after a crash, and replaying the store rebuilds exactly this state.
 */
export class PursuanceRegistry {
  readonly #entries = new Map<string, PursuanceEntry>();
  readonly #views = new Map<string, { version: number; view: MemberViewResult }>();
  readonly #listeners = new Set<ChangeListener>();
  #queue: Promise<unknown> = Promise.resolve();

  public constructor(
    private readonly store: EventStore,
    public readonly identity: Identity,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Run `task` after every earlier mutation (one writer, in order). */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  public onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(pursuanceId: string, events: readonly SignedEvent[], origin: EventOrigin): void {
    for (const l of this.#listeners) l({ pursuanceId, events, origin });
  }

  /** Replay every pursuance from the store (start-up and "rebuild projections"). */
  public load(progress?: (p: ReplayProgress) => void): Promise<void> {
    return this.#serial(async () => {
      this.#entries.clear();
      this.#views.clear();
      for (const id of await this.store.pursuanceIds()) {
        const total = await this.store.count(id);
        let log: PursuanceLog | undefined;
        let done = 0;
        for await (const page of this.store.stream(id)) {
          for (const row of page) {
            if (!log) log = new PursuanceLog(row.bytes);
            else log.add(row.bytes);
          }
          done += page.length;
          progress?.({ pursuanceId: id, done, total });
        }
        if (!log) continue;
        log.replay();
        this.#entries.set(id, { id, log, author: new PursuanceAuthor(this.identity, log, undefined, this.clock), version: 1 });
      }
    });
  }

  public list(): PursuanceEntry[] {
    return [...this.#entries.values()];
  }

  public get(id: string): PursuanceEntry {
    const entry = this.#entries.get(id);
    if (!entry) throw new UnknownPursuanceError(id);
    return entry;
  }

  public has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** This member's decrypted view, cached until the pursuance changes. */
  public view(id: string): MemberViewResult {
    const entry = this.get(id);
    const cached = this.#views.get(id);
    if (cached && cached.version === entry.version) return cached.view;
    const view = buildMemberView(entry.log, this.identity, entry.author.keyring);
    this.#views.set(id, { version: entry.version, view });
    return view;
  }

  public create(spec: NewPursuance): Promise<PursuanceEntry> {
    return this.#serial(async () => {
      const author = PursuanceAuthor.create(this.identity, spec, this.clock);
      await this.store.append([author.log.genesis], 'local', this.clock());
      const entry: PursuanceEntry = { id: author.log.id, log: author.log, author, version: 1 };
      this.#entries.set(entry.id, entry);
      this.#notify(entry.id, [author.log.genesis], 'local');
      return entry;
    });
  }

  /**
   * Perform an action as this node's member. The author checks it against the current rules
   * before anything is signed into the log (ActionNotAllowedError otherwise); the event is
   * durable before this resolves.
   */
  public act<T extends SignedEvent>(id: string, action: (author: PursuanceAuthor) => T): Promise<T> {
    return this.#serial(async () => {
      const entry = this.get(id);
      const event = action(entry.author);
      // Key events we authored (rotations) are already in our keyring; shares to us are not.
      await this.store.append([event], 'local', this.clock());
      entry.version += 1;
      this.#notify(id, [event], 'local');
      return event;
    });
  }

  /**
   * Take in events from the group or a peer. Events of a pursuance we do not hold are only
   * accepted together with its genesis (joining). Invalid inputs are kept with their reason.
   */
  public ingest(pursuanceId: string, inputs: readonly Uint8Array[], origin: EventOrigin): Promise<IngestReport> {
    return this.#serial(async () => {
      const invalid: Rejection[] = [];
      const decoded: SignedEvent[] = [];
      for (const bytes of inputs) {
        try {
          decoded.push(decodeEvent(bytes));
        } catch (err) {
          if (!(err instanceof EventRejectedError)) throw err;
          const rejection = { eventId: toHex(sha256(bytes)), code: err.code, reason: err.message };
          invalid.push(rejection);
          await this.store.recordInvalid(rejection, bytes, origin, pursuanceId, this.clock());
        }
      }
      let entry = this.#entries.get(pursuanceId);
      if (!entry) {
        const genesis = decoded.find((e) => e.pursuanceId === null && e.id === pursuanceId);
        if (!genesis) throw new UnknownPursuanceError(pursuanceId);
        const log = new PursuanceLog(genesis);
        entry = { id: pursuanceId, log, author: new PursuanceAuthor(this.identity, log, undefined, this.clock), version: 0 };
      }
      const fresh: SignedEvent[] = [];
      for (const e of decoded) {
        if (e.id === entry.log.id) {
          if (!this.#entries.has(pursuanceId)) fresh.push(e);
          continue;
        }
        const result = entry.log.add(e);
        if (result.status === 'invalid') {
          invalid.push(result.rejection!);
          await this.store.recordInvalid(result.rejection!, e.bytes, origin, pursuanceId, this.clock());
        } else if (result.status !== 'duplicate') {
          fresh.push(e);
        }
      }
      const stored = await this.store.append(fresh, origin, this.clock());
      if (!this.#entries.has(pursuanceId)) this.#entries.set(pursuanceId, entry);
      if (fresh.length > 0) {
        entry.author.refreshKeys();
        entry.version += 1;
        this.#notify(pursuanceId, fresh, origin);
      }
      const rejected = fresh.map((e) => entry.log.rejectionOf(e.id)).filter((r): r is Rejection => r !== undefined);
      return {
        pursuanceId,
        received: inputs.length,
        stored,
        accepted: fresh.filter((e) => entry.log.isAccepted(e.id)).length,
        rejected,
        invalid,
        pending: entry.log.pendingCount(),
      };
    });
  }

  /** Wait for every queued mutation (tests and shutdown). */
  public async idle(): Promise<void> {
    await this.#queue;
  }
}

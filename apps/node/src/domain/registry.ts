import { sha256, toHex, type Identity } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  EventRejectedError,
  PursuanceAuthor,
  PursuanceLog,
  MemberViewCache,
  decodeEvent,
  recoverKeysFromSecrets,
  type AuthorOptions,
  type MemberViewResult,
  type NewPursuance,
  RejectionCode,
  type Rejection,
  type SignedEvent,
} from '@pursuance/pursuance';
import type { EventOrigin } from '../store/entities.js';
import type { EventStore, StoredEvent } from '../store/event-store.js';
import { PursuanceQuarantinedError, UnknownPursuanceError } from './errors.js';
import { OwnRaceTracker, type OwnRejection, type OwnRejectionOutcome } from './races.js';

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

/** A pursuance set aside at load because rebuilding it threw (see load()). */
export interface QuarantinedPursuance {
  readonly pursuanceId: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

/** A stored event set aside at load because taking it into the log threw; its bytes stay stored. */
export interface QuarantinedEvent {
  readonly pursuanceId: string;
  readonly eventId: string;
  readonly code: typeof QUARANTINED;
  readonly reason: string;
  readonly at: number;
}

/** The code a quarantined stored event is kept under among the rejected inputs. */
export const QUARANTINED = 'QUARANTINED';

/** Events a pursuance just gained (stored and folded), and where they came from. */
export interface PursuanceChange {
  readonly pursuanceId: string;
  readonly events: readonly SignedEvent[];
  readonly origin: EventOrigin;
}

export type ChangeListener = (change: PursuanceChange) => void;

/**
 * The node's pursuances in memory: each a PursuanceLog folded from the event store, plus this
 * node's PursuanceAuthor for acting in it. Every mutation runs through one queue, and resolves
 * only after its events are durable in the store — so whatever the node has acknowledged, it
 * still has after a crash, and replaying the store rebuilds exactly this state.
 */
export class PursuanceRegistry {
  readonly #entries = new Map<string, PursuanceEntry>();
  readonly #views = new Map<string, { version: number; view: MemberViewResult; cache: MemberViewCache }>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #races = new Map<string, OwnRaceTracker>();
  readonly #quarantined = new Map<string, QuarantinedPursuance>();
  readonly #quarantinedEvents: QuarantinedEvent[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  /** Where quarantine warnings go (one line each, ids and reasons only, never key material). */
  public warn: (line: string) => void = (line) => void process.stderr.write(`node: warning: ${line}\n`);

  /**
   * Every role key an author of ours creates comes from a secret already sealed in the store's
   * key vault, so a key that no lockbox returns to us (a rotation that leaves us out) is
   * recovered at load: a key is at rest before anything is signed or sealed with it.
   */
  readonly #authorOptions: AuthorOptions;

  public constructor(
    private readonly store: EventStore,
    public readonly identity: Identity,
    private readonly clock: () => number = Date.now,
  ) {
    this.#authorOptions = { keySecret: () => this.store.takeKeySecret() };
  }

  /** The time this node signs with (its clock: tests pass their own). */
  public now(): number {
    return this.clock();
  }

  /** Run `task` after every earlier mutation (one writer, in order). */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Listen for changes. Inside the node there is one listener, which puts each change on the
   * CQRS event bus (PursuanceChangedEvent) for the sync service and the live stream; tools and
   * tests may listen here directly.
   */
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
      this.#forgetLoadState();
      const keySecrets = await this.store.usedKeySecrets();
      for (const id of await this.store.pursuanceIds()) {
        // One pursuance that cannot be rebuilt must not keep the node (and the others) down.
        try {
          const total = await this.store.count(id);
          let log: PursuanceLog | undefined;
          let done = 0;
          for await (const page of this.store.stream(id)) {
            for (const row of page) {
              if (!log) log = new PursuanceLog(row.bytes);
              else await this.#addStored(id, log, row);
            }
            done += page.length;
            progress?.({ pursuanceId: id, done, total });
          }
          if (!log) continue;
          log.replay();
          const author = new PursuanceAuthor(this.identity, log, undefined, this.clock, this.#authorOptions);
          recoverKeysFromSecrets(log, keySecrets, author.keyring);
          this.#entries.set(id, { id, log, author, version: 1 });
        } catch (err) {
          this.#quarantine(id, err);
          continue;
        }
        await this.#settleLoaded(id);
      }
    });
  }

  public list(): PursuanceEntry[] {
    return [...this.#entries.values()];
  }

  public get(id: string): PursuanceEntry {
    const entry = this.#entries.get(id);
    if (!entry) {
      this.#refuseQuarantined(id);
      throw new UnknownPursuanceError(id);
    }
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
    // A replaced author (a reload) brings another keyring: start a cache for it.
    const cache = cached?.cache.keyring === entry.author.keyring ? cached.cache : new MemberViewCache(entry.author.keyring);
    const view = cache.current(entry.log);
    this.#views.set(id, { version: entry.version, view, cache });
    return view;
  }

  public create(spec: NewPursuance): Promise<PursuanceEntry> {
    return this.#serial(async () => {
      await this.store.ensureKeySecrets();
      const author = PursuanceAuthor.create(this.identity, spec, this.clock, this.#authorOptions);
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
      await this.store.ensureKeySecrets();
      const event = action(entry.author);
      // Key events we authored (rotations) are already in our keyring; shares to us are not.
      // This append also marks the vault secrets the action drew as used.
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
      this.#refuseQuarantined(pursuanceId);
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
        entry = { id: pursuanceId, log, author: new PursuanceAuthor(this.identity, log, undefined, this.clock, this.#authorOptions), version: 0 };
      }
      const fresh: SignedEvent[] = [];
      for (const e of decoded) {
        if (e.id === entry.log.id) {
          // The genesis is stored first: load() rebuilds a pursuance from its first stored event.
          if (!this.#entries.has(pursuanceId) && !fresh.some((f) => f.id === e.id)) fresh.unshift(e);
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
      if (!this.#entries.has(pursuanceId)) {
        this.#entries.set(pursuanceId, entry);
        // Joining: own events in the history predate this process (a lost store): listed, not re-sent.
        const races = new OwnRaceTracker(this.identity.onion);
        races.baseline(entry.log, this.clock());
        this.#races.set(pursuanceId, races);
      }
      if (fresh.length > 0) {
        entry.author.refreshKeys();
        entry.version += 1;
        this.#notify(pursuanceId, fresh, origin);
      }
      // What was stored may be the ancestor or the member.add that refused pending inputs waited for.
      const retaken = stored > 0 ? await this.#offerRefused(entry) : [];
      await this.#answerLostRaces(entry);
      const taken = new Set<string>(retaken.map((e) => e.id));
      const judged = [...fresh, ...retaken];
      const rejected = judged.map((e) => entry.log.rejectionOf(e.id)).filter((r): r is Rejection => r !== undefined);
      return {
        pursuanceId,
        received: inputs.length,
        stored: stored + retaken.length,
        accepted: judged.filter((e) => entry.log.isAccepted(e.id)).length,
        rejected,
        invalid: invalid.filter((r) => !taken.has(r.eventId)),
        pending: entry.log.pendingCount(),
      };
    });
  }

  /** This member's own events refused after the fact (lost races), newest first. */
  public ownRejections(id: string): OwnRejection[] {
    this.get(id);
    return this.#races.get(id)?.list() ?? [];
  }

  /** Pursuances set aside at the last load, with the reason. */
  public quarantined(): QuarantinedPursuance[] {
    return [...this.#quarantined.values()];
  }

  /** Stored events set aside at the last load (all pursuances, or one). */
  public quarantinedEvents(pursuanceId?: string): QuarantinedEvent[] {
    return this.#quarantinedEvents.filter((q) => pursuanceId === undefined || q.pursuanceId === pursuanceId);
  }

  #forgetLoadState(): void {
    this.#quarantined.clear();
    this.#quarantinedEvents.length = 0;
    this.#races.clear();
  }

  #refuseQuarantined(id: string): void {
    const q = this.#quarantined.get(id);
    if (q) throw new PursuanceQuarantinedError(id, q.reason);
  }

  /** Why something threw, for a quarantine record: typed codes and messages, never stacks or values. */
  #describe(err: unknown): { code: string; reason: string } {
    if (err instanceof EventRejectedError) return { code: err.code, reason: err.message };
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : 'a non-error value was thrown';
    return { code: 'UNEXPECTED', reason: `unexpected failure (${detail.slice(0, 200)})` };
  }

  #quarantine(pursuanceId: string, err: unknown): void {
    this.#entries.delete(pursuanceId);
    this.#views.delete(pursuanceId);
    const { code, reason } = this.#describe(err);
    this.#quarantined.set(pursuanceId, { pursuanceId, code, reason, at: this.clock() });
    this.warn(`pursuance ${pursuanceId} quarantined: it could not be rebuilt from the store (${code}: ${reason}); the node runs without it`);
  }

  /** Take one stored event back into the log at load; one that makes the log throw is set aside, bytes kept. */
  async #addStored(pursuanceId: string, log: PursuanceLog, row: StoredEvent): Promise<void> {
    try {
      log.add(row.bytes);
    } catch (err) {
      const { code, reason } = this.#describe(err);
      const at = this.clock();
      this.#quarantinedEvents.push({ pursuanceId, eventId: row.id, code: QUARANTINED, reason: `${code}: ${reason}`, at });
      // Kept like a rejected input (it stays in the event store too), so it is visible and never lost.
      const record = { eventId: row.id, code: QUARANTINED as RejectionCode, reason: `${code}: ${reason}` };
      await this.store.recordInvalid(record, row.bytes, 'local', pursuanceId, at);
      this.warn(`event ${row.id} of pursuance ${pursuanceId} quarantined: taking it into the log failed (${code}); the pursuance is rebuilt without it`);
    }
  }

  /**
   * After a pursuance is rebuilt at load: losses already in the log are the baseline (listed,
   * not re-sent), and refused pending inputs are offered again. A failure here leaves the
   * pursuance usable and is only reported.
   */
  async #settleLoaded(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return;
    const races = new OwnRaceTracker(this.identity.onion);
    races.baseline(entry.log, this.clock());
    this.#races.set(id, races);
    try {
      await this.#offerRefused(entry);
    } catch (err) {
      const { code } = this.#describe(err);
      this.warn(`pursuance ${id}: offering refused pending inputs again failed (${code}); they stay kept`);
    }
  }

  /**
   * Offer the inputs refused as PENDING_REFUSED (missing ancestors from an unknown or
   * over-quota author) to the log again. Those it now takes are stored, then dropped from the
   * kept inputs — in that order, so a crash between leaves a duplicate, never a loss.
   */
  async #offerRefused(entry: PursuanceEntry): Promise<SignedEvent[]> {
    const waiting = (await this.store.rejectedInputs(entry.id)).filter((r) => r.code === RejectionCode.PENDING_REFUSED);
    const taken: { event: SignedEvent; origin: EventOrigin }[] = [];
    const settled: string[] = [];
    // Taking one in can make another acceptable (its author's member.add, room under the
    // per-author bound), so repeat until a pass takes nothing.
    for (let moved = waiting.length > 0; moved;) {
      moved = false;
      for (let i = 0; i < waiting.length;) {
        const row = waiting[i]!;
        const result = entry.log.add(new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength));
        if (result.status === 'invalid') {
          i += 1;
          continue;
        }
        waiting.splice(i, 1);
        moved = true;
        settled.push(row.hash);
        const event = result.status === 'duplicate' ? undefined : entry.log.event(result.id!);
        if (event) taken.push({ event, origin: row.origin as EventOrigin });
      }
    }
    if (settled.length === 0) return [];
    const origins = [...new Set(taken.map((t) => t.origin))];
    for (const origin of origins) {
      await this.store.append(
        taken.filter((t) => t.origin === origin).map((t) => t.event),
        origin,
        this.clock(),
      );
    }
    for (const hash of settled) await this.store.deleteRejectedInput(hash);
    if (taken.length > 0) {
      entry.author.refreshKeys();
      entry.version += 1;
      for (const origin of origins) {
        this.#notify(
          entry.id,
          taken.filter((t) => t.origin === origin).map((t) => t.event),
          origin,
        );
      }
    }
    return taken.map((t) => t.event);
  }

  /**
   * Our own events the fold refuses now and did not before (lost races): each is listed with
   * its reason, and re-signed on the current state once where the author says that is safe.
   * A re-send is durable before it is published (as act() does), and is never re-sent again.
   * Listeners hear of every new loss: through the re-send's change, or an empty change.
   */
  async #answerLostRaces(entry: PursuanceEntry): Promise<void> {
    let races = this.#races.get(entry.id);
    if (!races) {
      races = new OwnRaceTracker(this.identity.onion);
      this.#races.set(entry.id, races);
    }
    const losses = races.newLosses(entry.log);
    if (losses.length === 0) return;
    // A re-send is authored like any action: key secrets it may draw are at rest first.
    if (losses.some((l) => l.mayRetry)) await this.store.ensureKeySecrets();
    const resent: SignedEvent[] = [];
    for (const loss of losses) {
      let outcome: OwnRejectionOutcome;
      if (!loss.mayRetry) {
        outcome = {
          status: 'not-resent',
          reason: loss.retryOf ? 'it was itself a re-send of a refused event; act again if it still applies' : 'it was re-sent once already',
        };
      } else {
        races.noteRetry(loss.event.id, null);
        let again: SignedEvent | null = null;
        try {
          again = entry.author.retryLostRace(loss.event);
          outcome = again
            ? { status: 'resent', eventId: again.id, kind: again.header.kind }
            : { status: 'not-resent', reason: 're-signing it automatically is not safe or no longer needed; act again if it still applies' };
        } catch (err) {
          if (!(err instanceof ActionNotAllowedError))
            this.warn(`pursuance ${entry.id}: re-sending refused event ${loss.event.id} failed (${this.#describe(err).code})`);
          outcome = {
            status: 'not-resent',
            reason: err instanceof ActionNotAllowedError ? `no longer allowed: ${err.message}` : 'the re-send failed unexpectedly',
          };
        }
        if (again) {
          races.noteRetry(loss.event.id, again.id);
          // Durable before anything else sees it, as in act(); a failing store fails the ingest.
          await this.store.append([again], 'local', this.clock());
          resent.push(again);
        }
      }
      races.record(loss, this.clock(), outcome);
    }
    // The list is complete before anyone hears of it: re-sends go out as local changes (the
    // sync service posts them); a loss without a re-send is an empty change, for SSE clients.
    if (resent.length > 0) {
      entry.version += 1;
      this.#notify(entry.id, resent, 'local');
    } else {
      this.#notify(entry.id, [], 'local');
    }
  }

  /** Wait for every queued mutation (tests and shutdown). */
  public async idle(): Promise<void> {
    await this.#queue;
  }
}

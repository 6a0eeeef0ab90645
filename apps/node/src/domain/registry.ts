import { onionFromPublicKey, sha256, toHex, type Identity, type OnionName, type SignatureVerifier } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  EventRejectedError,
  FoldCheckpointError,
  type FoldCheckpoint,
  PursuanceAuthor,
  PursuanceLog,
  MemberViewCache,
  SnapshotError,
  checkAttestations,
  collectKeysSteps,
  decodeEvent,
  encodeFoldCheckpointSteps,
  readFoldCheckpointSteps,
  readSnapshot,
  recoverKeysFromSecrets,
  runInSlices,
  verifyFullHistoryInSlices,
  type AuthorOptions,
  type EncodingShelf,
  type PursuanceLogOptions,
  type EventId,
  type MemberViewResult,
  type NewPursuance,
  RejectionCode,
  type Rejection,
  type SignedEvent,
} from '@pursuance/pursuance';
import type { EventOrigin } from '../store/entities.js';
import type { EventStore, RejectedInput, StoredEvent } from '../store/event-store.js';
import { StoreCorruptError } from '../store/errors.js';
import { SHELF, type Shelf } from '../store/projection-store.js';
import { PursuanceLoadingError, PursuanceQuarantinedError, SnapshotRefusedError, UnknownPursuanceError } from './errors.js';
import type { SnapshotBundle, SnapshotRefusal, StartedFrom } from './snapshots.js';
import { ProjectionCache } from './projections.js';
import type { TaskModel } from './read-models.js';
import type { TaskCursor } from './task-order.js';
import { heldText } from './part-digest.js';
import { PART, PROJECTION_FORMAT, Projector } from './projector.js';
import { OwnRaceTracker, type OwnRejection, type OwnRejectionOutcome } from './races.js';

/** One of our removals refused after the fact, not re-signed yet (see PursuanceRegistry.lostRemovals). */
export interface LostRemoval {
  readonly eventId: EventId;
  readonly code: string;
  readonly member: OnionName;
  readonly reason: string | undefined;
}

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

/**
 * Events read and folded between two turns of the event loop while the logs load. Small, so a
 * read route waits tens of milliseconds for its turn, not a 2,000-event page (about 0.4 s here).
 */
const LOAD_PAGE = 250;
/** Events the first view of a loaded log reads between two turns of the event loop (each may be decrypted). */
const VIEW_SLICE = 500;
/** Tasks the replay's comparison of the read model works out between two turns of the event loop. */
const DIFF_SLICE = 100;
/** Replay progress is told at most once per this many events (and at the end). */
const PROGRESS_EVERY = 2000;
/**
 * Keep a fold once a load folded this many events: a fold of 2,000 events takes tens of
 * milliseconds, encoding a kept fold at a million events seconds (in slices), so a small
 * difference is cheaper to fold again than to keep.
 */
export const KEEP_FOLD_AFTER = 2000;
/** Pieces of a kept fold encoded between two turns. */
const KEEP_SLICE = 2000;

export interface ReplayProgress {
  readonly pursuanceId: string;
  /**
   * 'read': events read from the store and taken into the log. 'fold': events folded again
   * after the read, when some came out of order (concurrent authors), told as it goes since at
   * a million events it takes about a minute; `total` is then the events the log holds.
   */
  readonly stage: 'read' | 'fold';
  readonly done: number;
  readonly total: number;
}

/** Ends a load between two of its slices once its signal is aborted (see load()); never leaves the registry. */
class LoadAborted extends Error {}

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

/**
 * Events from the node's own sealed store are not verified again when it loads: each was
 * verified (or signed here) before it was stored, and a row only opens under the profile's
 * store key (authenticated encryption, bound to its place by keyed tags), so a changed row
 * fails to open instead. Verifying 100,000 signatures again took most of a start-up.
 */
const SEALED_AT_REST: SignatureVerifier = { name: 'sealed-at-rest', verify: () => true };

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
/** Default wait between turns to replace a due key (see PursuanceRegistry.rotationStaggerMs). */
export const ROTATION_STAGGER_MS = 10 * 60_000;

export class PursuanceRegistry {
  readonly #entries = new Map<string, PursuanceEntry>();
  readonly #views = new Map<string, { version: number; view: MemberViewResult; cache: MemberViewCache }>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #races = new Map<string, OwnRaceTracker>();
  readonly #quarantined = new Map<string, QuarantinedPursuance>();
  readonly #quarantinedEvents: QuarantinedEvent[] = [];
  /**
   * Pursuances in the store not rebuilt in memory since the last open() or load() began: their
   * read routes answer from the persisted read model, anything else waits (PursuanceLoadingError).
   */
  readonly #loading = new Set<string>();
  /** Pursuances this node started from a snapshot (sealed document 'snapshots'): the document and how verification went. */
  #started = new Map<string, StartedFrom & { readonly snapshot: string }>();
  /** The persisted read models (sealed rows, written with the events): what the read routes serve. */
  public readonly projections = new ProjectionCache();
  /** Each pursuance's task list being read since open() (see listRead). */
  readonly #lists = new Map<string, Promise<void>>();
  /** Set by stop(): the lists' reads end at their next page. */
  #stopping = false;
  readonly #projector: Projector;
  /** Read models a replay found different from what was stored, or a write found unreadable (each rewritten from the events). */
  public projectionRepairs = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * How much longer each next member in line waits before replacing a due key itself
   * (PursuanceAuthor.rotationTurns), in case those before it are offline.
   */
  public rotationStaggerMs = ROTATION_STAGGER_MS;
  /** A load that folded at least this many events (beyond a fold it resumed) keeps its fold for the next start (#keepFold). */
  public keepFoldAfter = KEEP_FOLD_AFTER;
  /**
   * Items a load takes between two turns while it reads and resumes a kept fold (ids) and
   * collects its keys (events): undefined for the core's defaults; tests set it small.
   */
  public loadSlice: number | undefined;
  /** When this node first saw each due role it is in line for (`pursuance|role|departure`), by its clock. */
  readonly #dueSeen = new Map<string, number>();
  /** One timer per pursuance, for the next turn that comes up. */
  readonly #turnTimers = new Map<string, NodeJS.Timeout>();
  /**
   * What load() waits for between pages of a log, besides a turn of the event loop: start.ts
   * has it wait while the API is sending responses (HttpBinding.untilQuiet).
   */
  public betweenPages: () => Promise<void> = () => Promise.resolve();
  /**
   * What work done in slices while the node runs (a late race's refold, the full history's
   * verification) waits for between slices besides a turn of the event loop: nothing, unless a
   * test watches the turns here. Not betweenPages: a request waiting for the writer (a command
   * queued behind this work, or the POST that brought the events) counts as a response being
   * sent, so every slice would wait out untilQuiet's limit: minutes at 100,000 events.
   */
  public betweenSlices: () => Promise<void> = () => Promise.resolve();
  /** Where quarantine warnings go (one line each, ids and reasons only, never key material). */
  public warn: (line: string) => void = (line) => void process.stderr.write(`node: warning: ${line}\n`);

  /**
   * Every role key an author of ours creates comes from a secret already sealed in the store's
   * key vault, so a key that no lockbox returns to us (a rotation that leaves us out) is
   * recovered at load: a key is at rest before anything is signed or sealed with it.
   */
  readonly #authorOptions: AuthorOptions;

  /**
   * `encodings` gives each log a place for its events' encodings out of memory (a SealedSpill's
   * shelves); without it they stay in memory (tests, tools).
   */
  public constructor(
    private readonly store: EventStore,
    public readonly identity: Identity,
    private readonly clock: () => number = Date.now,
    private readonly encodings?: () => EncodingShelf,
  ) {
    this.#authorOptions = { keySecret: () => this.store.takeKeySecret() };
    this.#projector = new Projector(identity.onion);
  }

  /** The time this node signs with (its clock: tests pass their own). */
  public now(): number {
    return this.clock();
  }

  #logOptions(options: PursuanceLogOptions): PursuanceLogOptions {
    return this.encodings ? { ...options, encodings: this.encodings() } : options;
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

  /**
   * Start-up, first half: read the persisted read models, so the read routes answer at once,
   * and note every stored pursuance as loading until load() has rebuilt it. A read model whose
   * checkpoint does not count the events the store holds, or that is stored under another
   * layout (PROJECTION_FORMAT), is not served (a store written before read models were
   * persisted, by something other than this registry, or by an older node).
   */
  public async open(): Promise<void> {
    this.#started = new Map(
      Object.entries(JSON.parse((await this.store.sealedDocument('snapshots')) ?? '{}') as Record<string, StartedFrom & { snapshot: string }>),
    );
    const ids = await this.store.pursuanceIds();
    try {
      this.projections.load(await this.store.storedProjections(ids));
    } catch (err) {
      // Derived data: a row that does not open costs a replay, never the start-up.
      if (!(err instanceof StoreCorruptError)) throw err;
      this.projections.load(new Map());
      this.warn(`the stored read models could not be read (${err.message}); they are rebuilt from the events`);
    }
    for (const id of ids) {
      this.#loading.add(id);
      let checkpoint;
      try {
        checkpoint = this.projections.checkpoint(id);
      } catch {
        checkpoint = undefined;
      }
      if (!checkpoint || checkpoint.format !== PROJECTION_FORMAT || checkpoint.events !== (await this.store.count(id))) this.projections.forget(id);
    }
    for (const id of this.projections.ids()) if (!this.#loading.has(id)) this.projections.forget(id);
    // The task lists are read from here on, while the API answers: their first pages are here.
    // Another failure leaves the list to the load, which reads it again. A node stopping while
    // the lists are read (Ctrl-C in the first second) ends the read at its next page.
    this.#stopping = false;
    const pause = async (): Promise<void> => {
      await this.#turn();
      if (this.#stopping) throw new LoadAborted();
    };
    for (const id of this.projections.ids())
      this.#lists.set(
        id,
        this.#readShelf(id, SHELF.list, pause).catch(() => undefined),
      );
  }

  /**
   * Take in one of the read model's shelves that start-up's first read left unread. Rows that
   * do not open cost the read model: the replay writes it again, as at start-up.
   */
  async #readShelf(id: string, shelf: Exclude<Shelf, 0>, pause?: () => Promise<void>): Promise<void> {
    if (this.projections.hasShelf(id, shelf)) return;
    try {
      // Each part as the cache holds it (part-digest.ts), page by page: a shelf of histories is never in memory whole.
      this.projections.take(id, shelf, await this.store.shelfProjections(id, shelf, pause, heldText));
    } catch (err) {
      // A store closed under a stopping node does not open its rows: nothing is damaged.
      if (!(err instanceof StoreCorruptError) || this.#stopping) throw err;
      this.projections.forget(id);
      this.warn(`pursuance ${id}: the stored read model could not be read (${err.message}); it is rebuilt from the events`);
    }
  }

  /**
   * Wait until the task list of `id` is read (start-up reads it in the background): the list
   * routes answer from it, and the first page from its own part meanwhile.
   */
  public async listRead(id: string): Promise<void> {
    await this.#lists.get(id);
  }

  /**
   * One task with its history, from the persisted read model (GET …/tasks/:taskId); the history
   * comes from the store while start-up has not taken it in yet. A stored history that does not
   * open answers as "still loading" (PursuanceLoadingError): the replay writes it again.
   */
  public task(id: string, taskId: string): Promise<TaskModel | undefined> {
    return this.projections.task(id, taskId, async (name) => {
      try {
        return await this.store.projectionPart(id, name);
      } catch (err) {
        if (err instanceof StoreCorruptError) throw new PursuanceLoadingError(id);
        throw err;
      }
    });
  }

  /**
   * The task list as GET …/tasks sends it, whole or one page (ProjectionCache.tasksJson,
   * tasksPageJson). While start-up is still reading the list, the board's first page comes
   * from its own part, and anything else waits for the list.
   */
  public async tasksText(id: string, page: { readonly limit: number; readonly after: TaskCursor | null } | undefined): Promise<string> {
    this.readable(id);
    const { projections } = this;
    if (page && page.after === null && !projections.hasShelf(id, SHELF.list)) {
      const first = projections.firstPageJson(id, page.limit);
      if (first !== undefined) return first;
    }
    await this.listRead(id);
    // The list did not open (the read model is rebuilt by the load), or was forgotten meanwhile.
    this.readable(id);
    if (!projections.hasShelf(id, SHELF.list)) throw new PursuanceLoadingError(id);
    return page ? projections.tasksPageJson(id, page.limit, page.after) : projections.tasksJson(id);
  }

  /**
   * Take in the read-model parts start-up left unread, before the log is served (the projector
   * compares every part with what is stored): the list (read since open(), or now) and the histories.
   */
  async #takeLater(id: string, pause: () => Promise<void>): Promise<void> {
    await this.listRead(id);
    // Small pages with `pause` between: at a million events a page of the histories' shelf read
    // without pauses (64 rows, each opened and its histories digested) held the event loop 0.6–0.7 s.
    await this.#readShelf(id, SHELF.list, pause);
    await this.#readShelf(id, SHELF.later, pause);
  }

  /** Whether the pursuance's log is rebuilt in memory (false while it loads: commands wait). */
  public isLoaded(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * Whether `id` is still loading: its log may be in (isLoaded) while its read model is compared
   * with it, and the log's state hash is then being worked out in slices — a read that asked
   * for it meanwhile would work it out at once (seconds at a million events, every read waiting).
   */
  public isLoading(id: string): boolean {
    return this.#loading.has(id);
  }

  /** Ids of the pursuances still loading. */
  public loadingIds(): string[] {
    return [...this.#loading].sort();
  }

  /**
   * Check that the read routes may answer for `id` from its persisted read model: it is known,
   * not quarantined, and its read model is stored (else PursuanceLoadingError while it loads).
   */
  public readable(id: string): void {
    this.#refuseQuarantined(id);
    if (this.projections.has(id) && (this.#entries.has(id) || this.#loading.has(id))) return;
    if (this.#loading.has(id)) throw new PursuanceLoadingError(id);
    throw new UnknownPursuanceError(id);
  }

  /**
   * Replay every pursuance from the store (start-up's second half, and "rebuild projections"),
   * then compare its persisted read model with the replay and rewrite what differs. An aborted
   * `signal` ends the load at the next page (a node stopped while it starts, at a million
   * events minutes before the load would end): what is loaded by then stays, nothing half-read
   * is kept or written.
   */
  public load(progress?: (p: ReplayProgress) => void, signal?: AbortSignal, { resume = false }: { readonly resume?: boolean } = {}): Promise<void> {
    return this.#serial(async () => {
      this.#entries.clear();
      this.#views.clear();
      this.#forgetLoadState();
      const keySecrets = await this.store.usedKeySecrets();
      const ids = await this.store.pursuanceIds();
      for (const id of ids) this.#loading.add(id);
      for (const id of ids) {
        // How many events the fold resumed from covered (0: none, every event folded here).
        let resumedAt = 0;
        // One pursuance that cannot be rebuilt must not keep the node (and the others) down.
        try {
          const total = await this.store.count(id);
          const fromSnapshot = this.#snapshotOption(id);
          // The fold an earlier load kept, of the rows up to `upTo`: those are taken back without
          // folding, and the fold resumed from it once they are all in.
          let saved = resume && !fromSnapshot.snapshot ? await this.#savedFold(id, () => this.#yieldToReads(signal)) : null;
          const resuming = saved?.checkpoint ? { resuming: saved.checkpoint } : {};
          let log: PursuanceLog | undefined;
          let done = 0;
          let told = 0;
          for await (const page of this.store.stream(id, LOAD_PAGE)) {
            if (signal?.aborted) return;
            for (const row of page) {
              if (log && saved && row.seq > saved.upTo) {
                resumedAt = await this.#resumeFold(log, saved, () => this.#yieldToReads(signal));
                saved = null;
              }
              if (!log) {
                log = new PursuanceLog(decodeEvent(row.bytes, SEALED_AT_REST), this.#logOptions({ ...fromSnapshot, ...resuming }));
                // Folded now (the genesis, or the snapshot's base: nothing to fold yet), so events
                // read in fold order are folded as they come and no refold is left for the end.
                if (!saved) log.replay();
              } else await this.#addStored(id, log, row);
            }
            done += page.length;
            if (done - told >= PROGRESS_EVERY || done === total) {
              progress?.({ pursuanceId: id, stage: 'read', done, total });
              told = done;
            }
            await this.#yieldToReads(signal);
          }
          if (!log) continue;
          if (saved) resumedAt = await this.#resumeFold(log, saved, () => this.#yieldToReads(signal));
          // Before the log is first read (its fold), the longest step of a big load.
          if (signal?.aborted) return;
          await this.#takeLater(id, () => this.#yieldToReads(signal));
          // Events in store order fold incrementally; any that came out of order (concurrent
          // authors) left the fold to be redone, a minute's work at a million events: done in
          // slices, so the read routes keep answering from the stored read models meanwhile.
          const held = log.size;
          let foldTold = 0;
          const refolded = await log.refoldInSlices(async (folded) => {
            if (folded - foldTold >= PROGRESS_EVERY) {
              progress?.({ pursuanceId: id, stage: 'fold', done: folded, total: held });
              foldTold = folded;
            }
            await this.#yieldToReads(signal);
          });
          if (refolded) progress?.({ pursuanceId: id, stage: 'fold', done: held, total: held });
          if (signal?.aborted) return;
          // The keys addressed to us, in slices: a walk of every event (a second at a million).
          const keyring = await runInSlices(collectKeysSteps(log, this.identity, undefined, this.loadSlice), () => this.#yieldToReads(signal));
          const author = new PursuanceAuthor(this.identity, log, keyring, this.clock, this.#authorOptions);
          recoverKeysFromSecrets(log, keySecrets, author.keyring);
          this.#entries.set(id, { id, log, author, version: 1 });
          await this.#verifyWhenComplete(id);
        } catch (err) {
          if (err instanceof LoadAborted) return;
          this.#loading.delete(id);
          this.#quarantine(id, err);
          continue;
        }
        try {
          await this.#projectLoaded(id, true, () => this.#yieldToReads(signal));
        } catch (err) {
          // Loaded, its read model not compared: the next start compares it.
          if (err instanceof LoadAborted) return;
          throw err;
        } finally {
          // Only now: until its read model is written, a read of a pursuance whose stored one
          // was not served answers "loading" (503), not "unknown" (404).
          this.#loading.delete(id);
        }
        await this.#settleLoaded(id);
        const entry = this.#entries.get(id);
        if (entry && entry.log.size - resumedAt >= this.keepFoldAfter) {
          try {
            await this.#keepFold(entry, () => this.#yieldToReads(signal));
          } catch (err) {
            if (err instanceof LoadAborted) return;
            throw err;
          }
        }
      }
    });
  }

  /**
   * The fold checkpoint kept for `id` and the rows it covers, or null when there is none or it
   * does not open; `checkpoint` is null when it opens but cannot be read (both warned of: the
   * events are then folded from the start, as without one).
   */
  async #savedFold(id: string, turn: () => Promise<void>): Promise<{ readonly upTo: number; readonly checkpoint: FoldCheckpoint | null } | null> {
    let saved;
    try {
      saved = await this.store.foldCheckpoint(id);
    } catch (err) {
      if (!(err instanceof StoreCorruptError)) throw err;
      this.warn(`pursuance ${id}: its fold checkpoint does not open (${err.message}); its events are folded from the start`);
      return null;
    }
    if (!saved) return null;
    try {
      // Read in slices: at a million events, decoding it at once held the API a second.
      return { upTo: saved.upTo, checkpoint: await runInSlices(readFoldCheckpointSteps(saved.bytes, id as never, this.loadSlice), turn) };
    } catch (err) {
      if (!(err instanceof FoldCheckpointError)) throw err;
      this.#checkpointRefused(id, err);
      return { upTo: saved.upTo, checkpoint: null };
    }
  }

  /**
   * Resume `log`'s fold from the checkpoint kept for it, which must be of exactly the events it
   * holds now (PursuanceLog.resumeFold checks). One that is not is warned of, and the log folded
   * from the start, as without one: the events are the truth.
   */
  async #resumeFold(log: PursuanceLog, saved: { readonly checkpoint: FoldCheckpoint | null }, turn: () => Promise<void>): Promise<number> {
    if (!saved.checkpoint) return 0;
    try {
      // In slices (its state decoded, its order looked up), within the writer's turn: no event is added meanwhile.
      await runInSlices(log.resumeFoldSteps(saved.checkpoint, this.loadSlice), turn);
      return saved.checkpoint.held;
    } catch (err) {
      if (!(err instanceof FoldCheckpointError)) throw err;
      this.#checkpointRefused(log.id, err);
      return 0;
    }
  }

  /**
   * Keep `entry`'s fold (fold/checkpoint.ts) as the fold of every event stored for it, for the
   * next start to resume: after a load, not at a clean stop, where encoding a million events'
   * fold would hold the stop for seconds (and a crash never reaches the stop). Encoded in slices
   * with `turn` between them. A failure costs only the next start's fold, and is warned of.
   */
  async #keepFold(entry: PursuanceEntry, turn: () => Promise<void>): Promise<void> {
    if (entry.log.base) return;
    try {
      const bytes = await runInSlices(encodeFoldCheckpointSteps(entry.log.foldCheckpoint(), KEEP_SLICE), turn);
      await this.store.writeFoldCheckpoint(entry.id, bytes);
    } catch (err) {
      if (err instanceof LoadAborted) throw err;
      this.warn(`pursuance ${entry.id}: its fold was not kept for the next start (${this.#describe(err).code}); that start folds its events again`);
    }
  }

  #checkpointRefused(id: string, err: FoldCheckpointError): void {
    this.warn(`pursuance ${id}: its fold checkpoint was not used (${err.code}: ${err.message}); its events are folded from the start`);
  }

  /**
   * Events that did not extend the fold's tail (an honest race that arrived late, an ancestor
   * that released waiting events) leave the log to be folded again from the start: seconds at
   * 100,000 events. Done here, in slices, before anything reads the log, so the read routes keep
   * answering from the stored read models (the events are not stored yet) instead of the node
   * stopping until the next read has refolded it at once. Within the writer's turn: nothing
   * else adds events meanwhile, so the fold finished is the one the log keeps. A new fold order
   * also makes the member view read (decrypt) everything again: done in slices as well, after
   * the keys the events brought (`takeKeys`) are taken, so what #append reads is ready.
   */
  async #catchUpInSlices(entry: PursuanceEntry, takeKeys: boolean): Promise<void> {
    const turn = (): Promise<void> => this.#turn();
    const refolded = await entry.log.refoldInSlices(turn);
    // Each a walk of the whole log (a second at a million events), in slices with turns between.
    if (refolded) await turn();
    if (takeKeys) await runInSlices(collectKeysSteps(entry.log, this.identity, entry.author.keyring), turn);
    if (!refolded) return;
    await turn();
    await this.#viewInSlices(entry, turn);
  }

  /**
   * Let the read routes answer between two pieces of a load: they serve the stored read models
   * meanwhile. An aborted `signal` ends the load here (LoadAborted), not minutes later.
   */
  async #yieldToReads(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new LoadAborted();
    await this.betweenPages();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** A turn between two slices of work done while the node runs (see betweenSlices). */
  async #turn(): Promise<void> {
    await this.betweenSlices();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * After a replay: write the read model from the log, only the parts that differ from the
   * stored ones. A stored read model that counted the same events yet differs is reported: the
   * events are the truth, and the rows are rewritten from them.
   */
  async #projectLoaded(id: string, repair: boolean, turn: () => Promise<void>): Promise<void> {
    const entry = this.#entries.get(id)!;
    const before = this.projections.checkpoint(id);
    const view = await this.#viewInSlices(entry, turn);
    const write = await this.#projector.diffAllInSlices(entry, view, this.projections.parts(id), turn, DIFF_SLICE);
    if (write.upserts.size === 0 && write.deletes.length === 0) return;
    // Nothing of it was read (none stored, stale or unreadable): its old rows go, all in one transaction.
    await this.store.writeProjection(write, !this.projections.has(id));
    this.projections.apply(write);
    if (!before || !repair) return;
    const after = this.projections.checkpoint(id)!;
    // A checkpoint without a state hash (events stored since the last clean stop) only gains one.
    const others = [...write.upserts.keys()].filter((name) => name !== PART.checkpoint).length + write.deletes.length;
    const { stateHash: hashBefore, ...restBefore } = before;
    const { stateHash: hashAfter, ...restAfter } = after;
    const checkpointDiffers = JSON.stringify(restBefore) !== JSON.stringify(restAfter) || (hashBefore !== null && hashBefore !== hashAfter);
    if (others > 0 || checkpointDiffers) {
      this.projectionRepairs += 1;
      this.warn(
        `pursuance ${id}: the stored read model disagreed with a replay of its ${after.events} events (${others} parts differ${checkpointDiffers ? ', and the checkpoint' : ''}); rewritten from the events`,
      );
    }
  }

  /**
   * A clean stop: store each loaded pursuance's state hash in its checkpoint, so the next
   * start-up shows it before the replay. Runs after every queued mutation.
   */
  public settle(): Promise<void> {
    return this.#serial(async () => {
      for (const entry of this.#entries.values()) {
        const write = this.#projector.finalCheckpoint(entry, this.projections.parts(entry.id));
        if (write.upserts.size === 0) continue;
        await this.store.writeProjection(write);
        this.projections.apply(write);
      }
    });
  }

  /**
   * Store `events` (already in the entry's log) with the read model's change in one
   * transaction, then publish nothing: callers notify. Bumps the entry's version first, so the
   * view and the summary reflect the events when the change is worked out.
   */
  async #append(entry: PursuanceEntry, events: readonly SignedEvent[], origin: EventOrigin, keysBefore?: string): Promise<number> {
    entry.version += 1;
    const write = await this.#projector.diffInSlices(
      entry,
      this.#viewOf(entry),
      this.projections.parts(entry.id),
      events,
      keysBefore,
      () => this.#turn(),
      DIFF_SLICE,
    );
    let stored: number;
    try {
      stored = await this.store.append(events, origin, this.clock(), write);
    } catch (err) {
      // Nothing was stored: the transaction rolled back.
      if (!(err instanceof StoreCorruptError)) throw err;
      return this.#appendPastDamagedReadModel(entry, events, origin, err);
    }
    this.projections.apply(write);
    return stored;
  }

  /**
   * A stored read-model row the write had to change did not open (a damaged disk, a file edited
   * by hand). The read model is derived data: it must not keep events out, nor fail every later
   * write that touches the same row until a restart. The events are stored on their own first
   * (the stored checkpoint then counts fewer events than the store, so a crash right after costs
   * a replay at the next start, never the events: see open()), then the whole read model is
   * written again from the log, replacing every row.
   */
  async #appendPastDamagedReadModel(entry: PursuanceEntry, events: readonly SignedEvent[], origin: EventOrigin, err: StoreCorruptError): Promise<number> {
    const stored = await this.store.append(events, origin, this.clock());
    this.warn(`pursuance ${entry.id}: a stored read-model row did not open (${err.message}); the read model is written again from the events`);
    // Every task compared and the state hashed: seconds at 100,000 events, so in slices as the load does.
    const full = await this.#projector.diffAllInSlices(entry, this.#viewOf(entry), undefined, () => this.#turn(), DIFF_SLICE);
    await this.store.writeProjection(full, true);
    this.projections.forget(entry.id);
    this.projections.apply(full);
    this.projectionRepairs += 1;
    return stored;
  }

  public list(): PursuanceEntry[] {
    return [...this.#entries.values()];
  }

  public get(id: string): PursuanceEntry {
    const entry = this.#entries.get(id);
    if (!entry) {
      this.#refuseQuarantined(id);
      if (this.#loading.has(id)) throw new PursuanceLoadingError(id);
      throw new UnknownPursuanceError(id);
    }
    return entry;
  }

  public has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** This member's decrypted view, cached until the pursuance changes. */
  public view(id: string): MemberViewResult {
    return this.#viewOf(this.get(id));
  }

  #viewOf(entry: PursuanceEntry): MemberViewResult {
    const cached = this.#views.get(entry.id);
    if (cached && cached.version === entry.version && cached.cache.keyring === entry.author.keyring) return cached.view;
    const cache = this.#viewCache(entry);
    const view = cache.current(entry.log);
    this.#views.set(entry.id, { version: entry.version, view, cache });
    return view;
  }

  /** #viewOf, read in slices with `pause` between them (a load's first view reads the whole log). */
  async #viewInSlices(entry: PursuanceEntry, pause: () => Promise<void>): Promise<MemberViewResult> {
    const cache = this.#viewCache(entry);
    const version = entry.version;
    const view = await cache.currentInSlices(entry.log, pause, VIEW_SLICE);
    if (entry.version === version) this.#views.set(entry.id, { version, view, cache });
    return view;
  }

  /** The entry's view cache; a replaced author (a reload) brings another keyring, and a cache of its own. */
  #viewCache(entry: PursuanceEntry): MemberViewCache {
    const cached = this.#views.get(entry.id);
    return cached?.cache.keyring === entry.author.keyring ? cached.cache : new MemberViewCache(entry.author.keyring, this.identity);
  }

  public create(spec: NewPursuance): Promise<PursuanceEntry> {
    return this.#serial(async () => {
      await this.store.ensureKeySecrets();
      const author = PursuanceAuthor.create(this.identity, spec, this.clock, this.#authorOptions);
      const entry: PursuanceEntry = { id: author.log.id, log: author.log, author, version: 0 };
      await this.#append(entry, [author.log.genesis], 'local');
      this.#entries.set(entry.id, entry);
      this.#notify(entry.id, [author.log.genesis], 'local');
      return entry;
    });
  }

  /**
   * Perform an action as this node's member. The author checks it against the current rules
   * before anything is signed into the log (ActionNotAllowedError otherwise); the event is
   * durable before this resolves. `beforeAppend` runs between signing and storing: what must be
   * durable before the event is (an outbox entry that the event's record promises).
   */
  public act<T extends SignedEvent>(id: string, action: (author: PursuanceAuthor) => T, beforeAppend?: (event: T) => Promise<void>): Promise<T> {
    return this.#serial(async () => {
      const entry = this.get(id);
      await this.store.ensureKeySecrets();
      const keysBefore = entry.author.keyring.keyIds().join();
      const event = action(entry.author);
      if (beforeAppend) await beforeAppend(event);
      // Key events we authored (rotations) are already in our keyring; shares to us are not.
      // This append also marks the vault secrets the action drew as used.
      await this.#append(entry, [event], 'local', keysBefore);
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
        const log = new PursuanceLog(genesis, this.#logOptions({}));
        entry = { id: pursuanceId, log, author: new PursuanceAuthor(this.identity, log, undefined, this.clock, this.#authorOptions), version: 0 };
      }
      const fresh: SignedEvent[] = [];
      const keysBefore = entry.author.keyring.keyIds().join();
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
      // Keys shared to us by these events are taken before the read model is worked out.
      await this.#catchUpInSlices(entry, fresh.length > 0);
      const stored = fresh.length > 0 ? await this.#append(entry, fresh, origin, keysBefore) : 0;
      if (!this.#entries.has(pursuanceId)) {
        this.#entries.set(pursuanceId, entry);
        // Joining: own events in the history predate this process (a lost store): listed, not re-sent.
        const races = new OwnRaceTracker(this.identity.onion);
        races.baseline(entry.log, this.clock());
        this.#races.set(pursuanceId, races);
      }
      if (fresh.length > 0) this.#notify(pursuanceId, fresh, origin);
      if (fresh.length > 0) await this.#verifyWhenComplete(pursuanceId);
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

  /** Snapshots a member sent that this node did not start from, newest last (kept in memory: a few per join). */
  readonly #snapshotRefusals = new Map<string, SnapshotRefusal[]>();

  public noteSnapshotRefused(id: string, refusal: SnapshotRefusal): void {
    const list = [...(this.#snapshotRefusals.get(id) ?? []), refusal].slice(-10);
    this.#snapshotRefusals.set(id, list);
    // No snapshot vouched for yet is the usual case of a young pursuance: nothing to warn about.
    if (refusal.code !== 'NO_SNAPSHOT') this.warn(`pursuance ${id}: not started from a snapshot (${refusal.code}); replaying the whole history instead`);
  }

  public snapshotRefusals(id: string): readonly SnapshotRefusal[] {
    return this.#snapshotRefusals.get(id) ?? [];
  }

  /** How this node started `id` from a snapshot, if it did (see startFromSnapshot). */
  public startedFrom(id: string): StartedFrom | null {
    const s = this.#started.get(id);
    if (!s) return null;
    const { snapshot: _bytes, ...rest } = s;
    return rest;
  }

  /**
   * A log started from a snapshot not yet verified against the full history starts from it
   * again; once verified (either way) the history itself is the log.
   */
  #snapshotOption(id: string): { snapshot?: ReturnType<typeof readSnapshot> } {
    const s = this.#started.get(id);
    if (!s || s.verified.outcome !== 'pending') return {};
    return { snapshot: readSnapshot(Buffer.from(s.snapshot, 'base64'), s.hash, id as never) };
  }

  /**
   * Join a pursuance from a snapshot a member sent (sync/snapshot-transfer.ts) instead of
   * replaying its whole history: the snapshot must hash to what enough eligible members signed
   * (with membership proofs), the events after it are folded on from it, and the pursuance is
   * usable at once. The relay's replay of the history that follows is kept, and once all of it
   * is here the full history is folded and compared (#verifyWhenComplete). Refused with
   * SnapshotRefusedError naming what failed; nothing is stored then.
   */
  public startFromSnapshot(bundle: SnapshotBundle): Promise<PursuanceEntry> {
    return this.#serial(async () => {
      const decode = (bytes: Uint8Array): SignedEvent | null => {
        try {
          return decodeEvent(bytes);
        } catch {
          return null;
        }
      };
      const genesis = decode(bundle.genesis);
      if (!genesis || genesis.pursuanceId !== null) throw new SnapshotRefusedError('SNAPSHOT_INVALID', 'the genesis in the bundle is not a signed genesis');
      const existing = this.#entries.get(genesis.id);
      if (existing) return existing;
      let started: { log: PursuanceLog; attesters: readonly string[]; from: string; events: number };
      try {
        const snapshot = readSnapshot(bundle.snapshot, bundle.hash, genesis.id);
        const signed = (list: readonly Uint8Array[]) => list.map(decode).filter((e): e is SignedEvent => e !== null);
        const attested = checkAttestations(genesis as SignedEvent<'genesis'>, snapshot, signed(bundle.attestations), signed(bundle.proofs));
        const log = new PursuanceLog(genesis, this.#logOptions({ snapshot }));
        log.addAll([...bundle.after, ...bundle.proofs]);
        // The attestations must also hold in the log as folded from the snapshot itself.
        const held = signed(bundle.attestations).filter((a) => log.isAccepted(a.id) && attested.attesters.includes(a.author));
        if (new Set(held.map((a) => a.author)).size < attested.required) {
          throw new SnapshotError('SNAPSHOT_UNDER_ATTESTED', 'the attestations are not accepted events after the snapshot');
        }
        const rules = log.state().rules.snapshots;
        started = { log, attesters: attested.attesters, from: rules?.from ?? 'founders', events: snapshot.base.events };
      } catch (err) {
        if (err instanceof SnapshotError) throw new SnapshotRefusedError(err.code, err.message);
        throw err;
      }
      const { log } = started;
      const record: StartedFrom & { snapshot: string } = {
        hash: bundle.hash,
        events: started.events,
        attesters: started.attesters,
        from: started.from,
        at: this.clock(),
        verified: { outcome: 'pending', reason: null, at: null },
        snapshot: Buffer.from(bundle.snapshot).toString('base64'),
      };
      // The snapshot is durable before any event: a store whose events start from it without it would not rebuild.
      await this.#saveStarted(genesis.id, record);
      const author = new PursuanceAuthor(this.identity, log, undefined, this.clock, this.#authorOptions);
      const entry: PursuanceEntry = { id: genesis.id, log, author, version: 0 };
      const events = [genesis, ...[...log.events()].filter((e) => e.id !== genesis.id)];
      author.refreshKeys();
      await this.#append(entry, events, 'peer');
      this.#entries.set(entry.id, entry);
      const races = new OwnRaceTracker(this.identity.onion);
      races.baseline(log, this.clock());
      this.#races.set(entry.id, races);
      this.#notify(entry.id, events, 'peer');
      return entry;
    });
  }

  async #saveStarted(id: string, record: StartedFrom & { snapshot: string }): Promise<void> {
    this.#started.set(id, record);
    // Pursuance ids are hashes (never prototype names), yet a Map keeps the document's keys data only.
    await this.store.updateSealedDocument('snapshots', (json) => {
      const all = new Map(Object.entries(JSON.parse(json ?? '{}') as Record<string, unknown>));
      all.set(id, record);
      return JSON.stringify(Object.fromEntries(all));
    });
  }

  /**
   * Once every event before the snapshot is here, fold the whole history from the genesis and
   * compare: agreement makes the full replay this pursuance's log (a member like any other);
   * disagreement is an alarm (warned, and shown with the reason in GET /snapshots), and the
   * history wins all the same. The two folds and the hashes (seconds at 100,000 events) run in
   * slices with the read routes served between them, from the snapshot-based log, which cannot
   * change meanwhile: this runs inside the one writer's turn, and writes wait for it.
   */
  async #verifyWhenComplete(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    const base = entry?.log.base;
    const record = this.#started.get(id);
    if (!entry || !base || !record || record.verified.outcome !== 'pending') return;
    if (entry.log.beforeSnapshotHeld() < base.events) return;
    const result = await verifyFullHistoryInSlices(entry.log, () => this.#turn());
    if (result.check.outcome === 'unknown' || !result.full) return;
    const outcome = result.check.outcome;
    const reason = result.check.outcome === 'disagrees' ? result.check.reason : (result.note ?? null);
    if (outcome === 'disagrees')
      this.warn(`pursuance ${id}: the full history DISAGREES with the snapshot it was started from (${reason}); the history is used from now on`);
    // The document is not needed once the history is the log: only the record of how it went is kept.
    await this.#saveStarted(id, { ...record, verified: { outcome, reason, at: this.clock() }, snapshot: '' });
    const author = new PursuanceAuthor(this.identity, result.full, undefined, this.clock, this.#authorOptions);
    recoverKeysFromSecrets(result.full, await this.store.usedKeySecrets(), author.keyring);
    author.refreshKeys();
    this.#entries.set(id, { id, log: result.full, author, version: entry.version + 1 });
    // The full replay reads more than the snapshot did (old tasks, the whole feed): rewritten, not a repair.
    await this.#projectLoaded(id, false, () => this.#turn());
    this.#notify(id, [], 'peer');
  }

  /** This member's own events refused after the fact (lost races), newest first. */
  public ownRejections(id: string): OwnRejection[] {
    this.get(id);
    return this.#races.get(id)?.list() ?? [];
  }

  /**
   * Our removals refused after the fact (a removal racing a departure its invite did not know
   * of) that nobody re-signed yet: the sync service re-sends them with a new group invite. Each
   * is handed out once.
   */
  public lostRemovals(id: string): LostRemoval[] {
    const entry = this.get(id);
    const races = this.#races.get(id);
    if (!races) return [];
    const out: LostRemoval[] = [];
    for (const loss of races.resendableElsewhere('member.remove')) {
      const event = entry.log.event(loss.eventId as EventId);
      if (!event) continue;
      const body = event.header.body as { member: Uint8Array; reason?: string };
      out.push({ eventId: event.id, code: loss.code, member: onionFromPublicKey(body.member), reason: body.reason });
    }
    return out;
  }

  /** The sync service re-sent (or gave up on) a lost removal: its entry in ownRejections says so. */
  public noteResent(id: string, original: EventId, retry: SignedEvent | null, reason = ''): void {
    this.#races.get(id)?.noteResentElsewhere(original, retry, reason);
    this.#notify(id, [], 'local');
  }

  /** Inputs kept for a pursuance with their reason (never parsed, waiting, or set aside at load), oldest first. */
  public keptInputs(pursuanceId: string): Promise<RejectedInput[]> {
    return this.store.rejectedInputs(pursuanceId);
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
      let input: Uint8Array | SignedEvent = row.bytes;
      try {
        input = decodeEvent(row.bytes, SEALED_AT_REST);
      } catch {
        // Undecodable: the log takes the bytes and records why, as for any input.
      }
      log.add(input);
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
    await this.#catchUpInSlices(entry, taken.length > 0);
    const origins = [...new Set(taken.map((t) => t.origin))];
    for (const origin of origins) {
      await this.#append(
        entry,
        taken.filter((t) => t.origin === origin).map((t) => t.event),
        origin,
      );
    }
    for (const hash of settled) await this.store.deleteRejectedInput(hash);
    if (taken.length > 0) {
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
   * Keys due for rotation that this node made (PursuanceAuthor.dueRotations) are rotated first,
   * once per departure. Then our own events the fold refuses now and did not before (lost
   * races): each is listed with its reason, and re-signed on the current state once where the
   * author says that is safe.
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
    const answered = races;
    const due = this.#rotationsDue(entry, (role, since) => answered.rotatedFor(role, since));
    if (losses.length === 0 && due.length === 0) return;
    // A re-send is authored like any action: key secrets it may draw are at rest first.
    if (due.length > 0 || losses.some((l) => l.mayRetry)) await this.store.ensureKeySecrets();
    const resent: SignedEvent[] = [];
    if (due.length > 0) {
      // First, so that contents re-sealed below use the new keys. Once per departure and role:
      // if this rotation is itself raced, the next departure asks again, nothing else does.
      for (const role of due) races.noteRotatedFor(role, entry.log.state().roles.get(role)!.rotationDueSince!);
      let rotation: SignedEvent | null = null;
      try {
        rotation = entry.author.rotateKeys(due);
      } catch (err) {
        if (!(err instanceof ActionNotAllowedError)) throw err;
        this.warn(`pursuance ${entry.id}: the keys due after a departure could not be rotated (${err.code})`);
      }
      if (rotation) {
        // Durable before anything else sees it, as in act(); a failing store fails the ingest.
        await this.#append(entry, [rotation], 'local');
        resent.push(rotation);
      }
    }
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
          await this.#append(entry, [again], 'local');
          resent.push(again);
        }
      }
      races.record(loss, this.clock(), outcome);
    }
    // The list is complete before anyone hears of it: re-sends go out as local changes (the
    // sync service posts them); a loss without a re-send is an empty change, for SSE clients.
    if (resent.length > 0) {
      this.#notify(entry.id, resent, 'local');
    } else {
      this.#notify(entry.id, [], 'local');
    }
  }

  /** Wait for every queued mutation (tests and shutdown). */
  public async idle(): Promise<void> {
    await this.#queue;
  }

  /** How many due roles this node is waiting on a turn for, across pursuances (a diagnostic: it must not grow without bound). */
  public dueWaiting(): number {
    return this.#dueSeen.size;
  }

  /** Stop waiting for turns to replace due keys (the node is closing). */
  public stop(): void {
    for (const timer of this.#turnTimers.values()) clearTimeout(timer);
    this.#turnTimers.clear();
  }

  /**
   * The due roles whose keys this node replaces now: those that fall to it (turn 0), and those
   * whose turn has come because the members before it in line did not act in time (each turn
   * waits rotationStaggerMs more since this node first saw the role due). A later turn is
   * re-checked by a timer, whether or not anything arrives meanwhile.
   */
  #rotationsDue(entry: PursuanceEntry, skip: (role: string, dueSince: EventId) => boolean): string[] {
    const now = this.clock();
    const out: string[] = [];
    let next = Infinity;
    const current = new Set<string>();
    for (const { role, dueSince, turn } of entry.author.rotationTurns(skip)) {
      const key = `${entry.id}|${role}|${dueSince}`;
      current.add(key);
      const seen = this.#dueSeen.get(key) ?? now;
      this.#dueSeen.set(key, seen);
      const at = seen + turn * this.rotationStaggerMs;
      if (at <= now) out.push(role);
      else next = Math.min(next, at);
    }
    // What is no longer due here (replaced, or already rotated by us for that departure) is
    // forgotten, so the map holds only roles waiting for a turn, not every departure since start.
    for (const key of this.#dueSeen.keys()) if (key.startsWith(`${entry.id}|`) && !current.has(key)) this.#dueSeen.delete(key);
    if (next !== Infinity && !this.#turnTimers.has(entry.id)) {
      const timer = setTimeout(() => {
        this.#turnTimers.delete(entry.id);
        void this.#serial(async () => {
          const current = this.#entries.get(entry.id);
          if (current && !this.#loading.has(entry.id)) await this.#answerLostRaces(current);
        }).catch((err: unknown) => this.warn(`pursuance ${entry.id}: a due key could not be replaced in turn (${this.#describe(err).code})`));
      }, next - now);
      timer.unref();
      this.#turnTimers.set(entry.id, timer);
    }
    return out;
  }
}

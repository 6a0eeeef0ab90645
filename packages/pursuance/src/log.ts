import { CanonicalMemo, canonicalEncode, sha256, toHex, type CanonicalValue, type OnionName, type SignatureVerifier } from '@pursuance/crypto';
import { opensTask, type EventBody } from './bodies.js';
import { decodeEvent, type EventId, type PursuanceId, type SignedEvent } from './envelope.js';
import { EncodingArena, EventKeeper, type EncodingShelf } from './held-event.js';
import { HeldSet } from './held-set.js';
import { SeqIndex } from './seq-index.js';
import { EventRejectedError, RejectionCode, type Rejection } from './errors.js';
import type { Applier } from './fold/applier.js';
import { fold, foldInSteps, FoldRun, RESUME_SLICE, type FoldSource } from './fold/run.js';
import { FoldCheckpointError, FoldCheckpointProblem, type FoldCheckpoint } from './fold/checkpoint.js';
import { stateFromGenesis } from './genesis.js';
import { PublicEntries, publicStateValue, stateHash, stateHashSteps, type Equivocation, type PublicState } from './state.js';
import { runAtOnce, runInSlices } from './steps.js';
import { foldedHistory, MAX_FRONTIER, refusalCodes, type FoldBase, type Snapshot } from './snapshot/base.js';
import { encodeState, stateForReading } from './snapshot/state-codec.js';
import { SnapshotError, SnapshotProblem } from './snapshot/errors.js';

/**
 * A pursuance's log: the events this member holds, and its answers about them. The public
 * state is their deterministic fold (fold/run.ts), which depends only on the SET of events.
 *
 * New events that descend from every current head (the normal case for a live member) are
 * applied incrementally; anything else marks the fold dirty and the next read refolds. Events
 * waiting for ancestors this log lacks (pending) are set aside: they do not stop later events
 * that do not depend on them from being applied incrementally, and they are no evidence of
 * anything (equivocation included) until their ancestors arrive, because which events wait
 * depends on arrival order. Only someone who is or was a
 * member in some folded state may have events pending, and at most MAX_PENDING_PER_AUTHOR each.
 */
export type AddStatus = 'accepted' | 'rejected' | 'pending' | 'duplicate' | 'invalid' | 'queued' | 'before-snapshot' | 'concurrent';

export interface AddResult {
  readonly status: AddStatus;
  readonly id?: EventId;
  readonly rejection?: Rejection;
}

export interface PendingEvent {
  readonly id: EventId;
  readonly missing: readonly EventId[];
}

/** Events a refold in slices (PursuanceLog.refoldInSlices) takes between two pauses: a few milliseconds' work. */
export const REFOLD_SLICE = 256;

interface HashPoint {
  readonly run: FoldRun;
  readonly processed: number;
  readonly equivocations: number;
}
const sameHashPoint = (a: HashPoint, b: HashPoint): boolean => a.run === b.run && a.processed === b.processed && a.equivocations === b.equivocations;

/** Pieces of the state's encoding (a task, a member, a refusal…) hashed between two pauses of stateHashInSlices. */
export const STATE_HASH_SLICE = 1000;

/** Events one author may have waiting for missing ancestors; more are refused until some arrive. */
export const MAX_PENDING_PER_AUTHOR = 1024;

export interface PursuanceLogOptions {
  readonly verifier?: SignatureVerifier;
  /**
   * Start from this snapshot instead of the genesis (snapshot/base.ts), ATTESTED by the caller
   * (snapshot/attest.ts): the log folds only events that descend from its whole frontier.
   * Events from before it are kept for reading and for verifying the full history later, never
   * folded; events beside it (not descending from the whole frontier) are kept aside, reported
   * by concurrentWithSnapshot(), and only a full replay can judge them.
   */
  readonly snapshot?: Snapshot;
  /**
   * The fold checkpoint this log will resume (resumeFold) once it holds the events it was taken
   * of: whoever it names as ever a member may park events that wait for ancestors meanwhile, as
   * they could when it was taken, without the log folding to find out who that is.
   */
  readonly resuming?: FoldCheckpoint;
  /** Where the log may keep its events' encodings while nobody reads them (held-event.ts); without one, in memory. */
  readonly encodings?: EncodingShelf;
}

export class PursuanceLog {
  public readonly id: PursuanceId;
  public readonly genesis: SignedEvent<'genesis'>;
  readonly #verifier: SignatureVerifier | undefined;
  readonly #events = new HeldSet();
  readonly #byAuthor = new Map<OnionName, SignedEvent[]>();
  /** Each author's highest sequence held (absent: work it out again), for lastSeq: asked at every event this member signs. */
  readonly #maxSeq = new Map<OnionName, number>();
  /** Author → sequence number → the event first held with it (seq-index.ts). */
  readonly #bySeq = new SeqIndex();
  readonly #equivocating = new Set<EventId>();
  readonly #equivocations: Equivocation[] = [];
  readonly #invalid: Rejection[] = [];
  /** Everyone who is or was a member in some state this log has folded (genesis, or an accepted member.add). */
  readonly #everNamed = new Set<OnionName>();
  /** Events waiting, directly or through another pending event, for an ancestor this log lacks. */
  readonly #pending = new Set<EventId>();
  /** For pending events: the missing or pending parent id → the events waiting on it. */
  readonly #waitingOn = new Map<EventId, Set<EventId>>();
  readonly #pendingByAuthor = new Map<OnionName, number>();
  /** Task id → the events about it (its task.create included), and every rules.change: for one task's view. */
  readonly #byTask = new Map<EventId, EventId[]>();
  readonly #rulesChanges: EventId[] = [];
  #run: FoldRun | undefined;
  #heads = new Set<EventId>();
  /** Set when the log starts from a snapshot; everything below is empty otherwise. */
  readonly #base: FoldBase | undefined;
  readonly #baseHash: string | undefined;
  readonly #frontier = new Set<EventId>();
  /** Events held from before the snapshot (the genesis among them): read, never folded. */
  readonly #historical = new Set<EventId>();
  /** The snapshot's history ids (accepted task events and rule changes) → their place in it. */
  readonly #historyAt = new Map<EventId, number>();
  /** Events beside the snapshot: they do not descend from its whole frontier. */
  readonly #concurrent = new Set<EventId>();
  /** Events that reuse a sequence number from before the snapshot while descending from it. */
  readonly #contested: EventId[] = [];
  /** Per event after the snapshot: which frontier events it descends from (a bit each). */
  readonly #cover = new Map<EventId, number>();
  readonly #refusedBefore = new Set<EventId>();
  #orderCache: { run: FoldRun; processed: number; held: number; order: EventId[] } | undefined;
  #hashed: { readonly at: HashPoint; readonly hash: string } | undefined;
  /** The state's entries as last encoded for its hash: after a change, only those that changed are encoded again. */
  readonly #hashMemo = new CanonicalMemo();
  readonly #publicEntries = new PublicEntries();
  #dirty = true;
  /** Counts changes to the event set: a fold done in slices keeps its result only if none came meanwhile. */
  #changes = 0;
  readonly #keeper: EventKeeper;
  readonly #knownId = (id: EventId): EventId | undefined => this.#events.get(id)?.id;
  /** The log as the fold reads it; kept private so the fold's one callback is not public API. */
  readonly #source: FoldSource;

  public constructor(genesis: SignedEvent | Uint8Array, options: PursuanceLogOptions = {}) {
    this.#verifier = options.verifier;
    const g = genesis instanceof Uint8Array ? decodeEvent(genesis, this.#verifier) : genesis;
    const initial = stateFromGenesis(g);
    if (!initial.ok) throw new EventRejectedError(initial.code, initial.reason);
    this.#keeper = new EventKeeper(new EncodingArena(options.encodings), g.id);
    this.genesis = g as SignedEvent<'genesis'>;
    this.id = g.id;
    for (const onion of initial.state.members.keys()) this.#everNamed.add(onion);
    for (const onion of options.resuming?.everNamed ?? []) this.#everNamed.add(onion);
    this.#store(g);
    this.#noteSequence(g);
    const base = options.snapshot?.base;
    this.#base = base;
    this.#baseHash = options.snapshot?.hash;
    if (base) this.#startFrom(options.snapshot);
    const foldable = (id: EventId): boolean => !this.#historical.has(id) && !this.#concurrent.has(id);
    this.#source = {
      genesis: this.genesis,
      event: base ? (id) => (foldable(id) ? this.#events.get(id) : undefined) : (id) => this.#events.get(id),
      slotOf: (id) => this.#events.slotOf(id),
      events: () => this.#events.values(),
      isPending: (id) => this.#pending.has(id),
      eventsBy: base ? (onion) => this.eventsBy(onion).filter((e) => foldable(e.id)) : (onion) => this.eventsBy(onion),
      isEquivocating: (id) => this.#equivocating.has(id),
      // Its member may now have events wait for ancestors (see add).
      noteMember: (onion) => void this.#everNamed.add(onion),
      ...(base ? { base } : {}),
      isBefore: base ? (id) => !this.#events.has(id) || !foldable(id) : () => false,
    };
  }

  #startFrom(snapshot: Snapshot): void {
    if (snapshot.pursuance !== this.id) throw new EventRejectedError(RejectionCode.WRONG_PURSUANCE, 'the snapshot is of another pursuance');
    const base = snapshot.base;
    this.#historical.add(this.genesis.id);
    for (const id of base.frontier) this.#frontier.add(id);
    base.history.forEach((id, i) => this.#historyAt.set(id, i));
    for (const [id] of base.rejected) this.#refusedBefore.add(id);
    // Whoever authored or held membership before the snapshot may have events wait for ancestors.
    for (const onion of stateForReading(base.state).members.keys()) this.#everNamed.add(onion);
    for (const onion of base.chain.keys()) this.#everNamed.add(onion);
    for (const q of base.equivocations) {
      this.#equivocations.push({ author: q.author, seq: q.seq, events: [...q.events] });
      for (const id of q.events) {
        this.#equivocating.add(id);
        this.#bySeq.set(q.author, q.seq, id);
      }
    }
  }

  /** The snapshot this log starts from, if any. */
  public get base(): FoldBase | undefined {
    return this.#base;
  }

  /** The hash of the snapshot document this log started from (what its attesters signed), if any. */
  public get baseHash(): string | undefined {
    return this.#baseHash;
  }

  #store(added: SignedEvent): void {
    this.#changes += 1;
    const e = this.#keeper.keep(added, this.#knownId);
    this.#events.add(e);
    const list = this.#byAuthor.get(e.author) ?? [];
    list.push(e);
    this.#byAuthor.set(e.author, list);
    const known = this.#maxSeq.get(e.author);
    if (known !== undefined) this.#maxSeq.set(e.author, Math.max(known, e.header.seq));
    const task = taskOf(e);
    if (task !== null) {
      const events = this.#byTask.get(task) ?? [];
      events.push(e.id);
      this.#byTask.set(task, events);
    } else if (e.header.kind === 'rules.change') {
      this.#rulesChanges.push(e.id);
    }
  }

  /**
   * Sequence bookkeeping, for events the fold will judge (never for pending ones): which events
   * wait is a matter of arrival order (and of the per-author bound), so a pending event counted
   * as equivocation evidence would make replicas holding the same events disagree.
   */
  #noteSequence(e: SignedEvent): void {
    const other = this.#bySeq.get(e.author, e.header.seq);
    if (other === undefined) {
      this.#bySeq.set(e.author, e.header.seq, e.id);
    } else if (other !== e.id) {
      this.#equivocating.add(other);
      this.#equivocating.add(e.id);
      const existing = this.#equivocations.find((q) => q.author === e.author && q.seq === e.header.seq);
      if (existing) {
        if (!existing.events.includes(e.id)) (existing.events as EventId[]).push(e.id);
      } else this.#equivocations.push({ author: e.author, seq: e.header.seq, events: [other, e.id] });
    }
  }

  /** Undo #store for an event nothing else names (the author's own event it will not publish). */
  #unstore(e: SignedEvent): void {
    this.#changes += 1;
    this.#events.delete(e.id);
    const list = this.#byAuthor.get(e.author);
    if (list) {
      const i = list.findIndex((x) => x.id === e.id);
      if (i >= 0) list.splice(i, 1);
    }
    this.#maxSeq.delete(e.author);
    if (this.#bySeq.get(e.author, e.header.seq) === e.id) this.#bySeq.delete(e.author, e.header.seq);
    const task = taskOf(e);
    const events = task === null ? this.#rulesChanges : this.#byTask.get(task);
    const at = events?.indexOf(e.id) ?? -1;
    if (at >= 0) events!.splice(at, 1);
    this.#dirty = true;
  }

  /** Parents this log lacks, or that are themselves pending. */
  #blockers(e: SignedEvent): EventId[] {
    return e.parentIds.filter((p) => (!this.#events.has(p) && !this.#frontier.has(p)) || this.#pending.has(p));
  }

  /**
   * From before the snapshot: a frontier event, a refusal the snapshot lists, or a sequence
   * number its sequence clock already covers (every accepted or well-sequenced event before the
   * frontier is at or under it, so an event that reuses one and descends from the frontier is an
   * equivocation only a full replay can judge: contested).
   */
  #isBeforeSnapshot(e: SignedEvent, base: FoldBase): boolean {
    if (this.#frontier.has(e.id) || this.#historyAt.has(e.id)) return true;
    if (e.header.seq <= (base.chain.get(e.author) ?? 0)) {
      if (this.#blockers(e).length === 0 && this.#coverOf(e) === this.#fullCover()) this.#contested.push(e.id);
      return true;
    }
    return this.#refusedBefore.has(e.id);
  }

  #fullCover(): number {
    return 2 ** this.#frontier.size - 1;
  }

  /** Which frontier events `e` descends from, given its parents are all here (or on the frontier). */
  #coverOf(e: SignedEvent): number {
    let c = 0;
    for (const p of e.parentIds) {
      const i = this.#base!.frontier.indexOf(p);
      c |= i >= 0 ? 2 ** i : (this.#cover.get(p) ?? 0);
    }
    return c;
  }

  /**
   * An event of a snapshot-based log whose parents are all here: it joins the fold only if it
   * descends from the whole frontier. Returns whether it does.
   */
  #admit(e: SignedEvent): boolean {
    const c = this.#coverOf(e);
    this.#cover.set(e.id, c);
    if (c === this.#fullCover()) return true;
    this.#concurrent.add(e.id);
    return false;
  }

  #invalidResult(rejection: Rejection): AddResult {
    this.#invalid.push(rejection);
    return { status: 'invalid', id: rejection.eventId as EventId, rejection };
  }

  /**
   * Add an event (bytes from the network or a SignedEvent). Idempotent. Invalid bytes and
   * events of another pursuance are reported and never stored; so are events that would wait
   * for missing ancestors when their author is nobody this log knows as a member, or already
   * has MAX_PENDING_PER_AUTHOR events waiting (PENDING_REFUSED: offer them again later).
   */
  public add(input: Uint8Array | SignedEvent): AddResult {
    let e: SignedEvent;
    try {
      e = input instanceof Uint8Array ? decodeEvent(input, this.#verifier) : input;
    } catch (err) {
      if (!(err instanceof EventRejectedError)) throw err;
      const id = toHex(sha256(input as Uint8Array)) as EventId;
      return this.#invalidResult({ eventId: id, code: err.code, reason: err.message });
    }
    if (this.#events.has(e.id)) return { status: 'duplicate', id: e.id };
    if (e.pursuanceId !== this.id) {
      return this.#invalidResult({
        eventId: e.id,
        code: e.pursuanceId === null ? RejectionCode.INVALID_GENESIS : RejectionCode.WRONG_PURSUANCE,
        reason: e.pursuanceId === null ? 'a second genesis' : 'the event belongs to another pursuance',
      });
    }
    if (e.parentIds.length === 0) {
      return this.#invalidResult({ eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason: 'only the genesis has no parents' });
    }
    if (this.#base && this.#isBeforeSnapshot(e, this.#base)) {
      // Never folded, so the fold stays as it is, unless an event after the snapshot that also
      // names it (besides the frontier) was waiting for it.
      this.#store(e);
      this.#historical.add(e.id);
      if (this.#release(e.id)) this.#dirty = true;
      return { status: 'before-snapshot', id: e.id };
    }
    const blockers = this.#blockers(e);
    if (blockers.length > 0) {
      // Anyone holding the group key can send events with made-up parents; only members (past
      // or present) may park events here, and only so many each, so such noise stays bounded.
      // Membership is known from folded states: bring the fold up to date before refusing.
      if (!this.#everNamed.has(e.author)) this.#current();
      if (!this.#everNamed.has(e.author)) {
        return pendingRefused(e, 'an event waiting for missing ancestors must come from someone who is or was a member');
      }
      if ((this.#pendingByAuthor.get(e.author) ?? 0) >= MAX_PENDING_PER_AUTHOR) {
        return pendingRefused(e, `${e.author} already has ${MAX_PENDING_PER_AUTHOR} events waiting for missing ancestors`);
      }
    }
    const wasEquivocating = this.#equivocating.size;
    this.#store(e);
    if (blockers.length > 0) {
      this.#markPending(e, blockers);
      return { status: 'pending', id: e.id };
    }
    if (this.#base && !this.#admit(e)) return { status: 'concurrent', id: e.id };
    this.#noteSequence(e);
    const released = this.#release(e.id);
    if (this.#equivocating.size !== wasEquivocating || released) this.#dirty = true;
    if (!this.#dirty && this.#isTail(e)) {
      this.#run!.process(e);
      this.#advanceHeads(e);
      if (this.#run!.restartWith) this.#dirty = true;
      const rejection = this.#run!.rejections.get(e.id);
      return rejection ? { status: 'rejected', id: e.id, rejection } : { status: 'accepted', id: e.id };
    }
    this.#dirty = true;
    return { status: 'queued', id: e.id };
  }

  #markPending(e: SignedEvent, blockers: readonly EventId[]): void {
    this.#pending.add(e.id);
    this.#pendingByAuthor.set(e.author, (this.#pendingByAuthor.get(e.author) ?? 0) + 1);
    for (const b of blockers) {
      const set = this.#waitingOn.get(b) ?? new Set<EventId>();
      set.add(e.id);
      this.#waitingOn.set(b, set);
    }
  }

  /** `id` is now present and not pending: free the events that waited only on it. Returns whether any were freed. */
  #release(id: EventId): boolean {
    let freed = false;
    const queue = [id];
    while (queue.length) {
      const ready = queue.pop()!;
      const waiters = this.#waitingOn.get(ready);
      if (!waiters) continue;
      this.#waitingOn.delete(ready);
      for (const w of waiters) {
        const e = this.#events.get(w)!;
        if (!this.#pending.has(w) || this.#blockers(e).length > 0) continue;
        this.#pending.delete(w);
        this.#pendingByAuthor.set(e.author, (this.#pendingByAuthor.get(e.author) ?? 1) - 1);
        freed = true;
        queue.push(w);
        if (this.#base && !this.#admit(e)) continue;
        this.#noteSequence(e);
      }
    }
    return freed;
  }

  /**
   * Add many events, then fold once. Events refused as PENDING_REFUSED (their author's member.add
   * came later in the batch) are offered again until nothing more is taken, so a batch gives the
   * same log in any order.
   */
  public addAll(inputs: Iterable<Uint8Array | SignedEvent>): AddResult[] {
    return runAtOnce(this.addSteps(inputs, Number.POSITIVE_INFINITY));
  }

  /** addAll's work as steps (steps.ts): yields the inputs added so far after every `every` (a second to add 100,000). */
  public *addSteps(inputs: Iterable<Uint8Array | SignedEvent>, every = REFOLD_SLICE): Generator<number, AddResult[]> {
    const list = [...inputs];
    const results: AddResult[] = [];
    let sincePause = 0;
    for (const input of list) {
      results.push(this.add(input));
      if (++sincePause >= every) {
        sincePause = 0;
        yield results.length;
      }
    }
    for (let progress = true; progress;) {
      progress = false;
      for (let i = 0; i < list.length; i++) {
        if (results[i]!.rejection?.code !== RejectionCode.PENDING_REFUSED) continue;
        const again = this.add(list[i]!);
        if (again.rejection?.code !== RejectionCode.PENDING_REFUSED) progress = true;
        results[i] = again;
      }
    }
    return results;
  }

  /**
   * Add an event this member authored, only if the fold accepts it: an event its own author
   * refuses must never stay in the log, where the next event would name it as a parent (a
   * phantom nobody else would accept). Returns the rejection instead of keeping it.
   */
  public addOwn(e: SignedEvent): Rejection | null {
    if (this.#events.has(e.id)) return null;
    const result = this.add(e);
    if (result.status === 'invalid') return result.rejection!;
    if (result.status === 'before-snapshot' || result.status === 'concurrent') {
      return { eventId: e.id, code: RejectionCode.SEQUENCE_GAP, reason: "the event does not build on this log's snapshot" };
    }
    if (result.status === 'pending') {
      this.#forgetPending(e);
      return { eventId: e.id, code: RejectionCode.SEQUENCE_GAP, reason: 'the event names parents this log does not hold' };
    }
    const rejection = this.#current().rejections.get(e.id);
    if (rejection || !this.#current().accepted.has(e.id)) {
      this.#unstore(e);
      return rejection ?? { eventId: e.id, code: RejectionCode.INVALID_STATE, reason: 'the event was not accepted' };
    }
    return null;
  }

  #forgetPending(e: SignedEvent): void {
    this.#pending.delete(e.id);
    this.#pendingByAuthor.set(e.author, (this.#pendingByAuthor.get(e.author) ?? 1) - 1);
    for (const set of this.#waitingOn.values()) set.delete(e.id);
    this.#unstore(e);
  }

  /** A tail event descends from every head and from nothing unprocessed: it is last in any refold. */
  #isTail(e: SignedEvent): boolean {
    const run = this.#run;
    // Held but not processed: `e` itself, and from a snapshot, what is before or beside it (the
    // genesis among them; without a snapshot the fold processes the genesis).
    const outside = 1 + (this.#base ? this.#historical.size + this.#concurrent.size : 0);
    if (!run || run.processed.size + this.#pending.size !== this.#events.size - outside) return false;
    const parents = new Set(e.parentIds);
    if (parents.size === 0) return false;
    for (const p of parents) if (!run.processed.has(p) && !this.#frontier.has(p)) return false;
    for (const h of this.#heads) if (!parents.has(h)) return false;
    return true;
  }

  #advanceHeads(e: SignedEvent): void {
    for (const p of e.parentIds) this.#heads.delete(p);
    this.#heads.add(e.id);
  }

  #current(): FoldRun {
    if (this.#dirty || !this.#run) {
      const { run, heads } = fold(this.#source);
      this.#run = run;
      this.#heads = heads;
      this.#dirty = false;
    }
    return this.#run;
  }

  /** Refold from scratch (replay), e.g. after loading a stored log. */
  public replay(): void {
    this.#dirty = true;
    this.#current();
  }

  /**
   * The fold as it stands, to resume from after a restart instead of folding again
   * (fold/checkpoint.ts): the holder stores it beside the events, somewhere only it writes.
   * Folds first if events came since the last fold. Not for a log that starts from a snapshot.
   */
  public foldCheckpoint(): FoldCheckpoint {
    if (this.#base) throw new FoldCheckpointError(FoldCheckpointProblem.UNSUPPORTED, 'a log that starts from a snapshot keeps no fold checkpoint');
    const run = this.#current();
    return {
      pursuance: this.id,
      held: this.#events.size,
      pending: this.#pending.size,
      heads: [...this.#heads],
      everNamed: [...this.#everNamed],
      stateHash: this.stateHash(),
      run: run.checkpointState(),
    };
  }

  /**
   * Take `checkpoint` as this log's fold, instead of folding the events it holds: for a log that
   * took its events back from storage, every one the checkpoint was taken of and no other, and
   * has not folded them (that is the work it saves: the log folds only when read, or after
   * replay()). Checked: the counts held and waiting, that every
   * event it folded is held here and not waiting (so it folded exactly the events this log would
   * fold: the fold is a function of that set), and what its heads, clocks and refusals name.
   * Throws FoldCheckpointError and leaves the log as it was (to be folded as usual) when any of
   * that fails. Events added afterwards fold on from it, as after any fold.
   */
  public resumeFold(checkpoint: FoldCheckpoint): void {
    runAtOnce(this.resumeFoldSteps(checkpoint, Infinity));
  }

  /**
   * resumeFold as steps (steps.ts), pausing while the state decodes and the order is looked up
   * (FoldRun.resumedSteps): at a million events a second's work. The log is changed only by the
   * last step, so one that is not run to its end leaves the log as it was; nothing may add events
   * to the log meanwhile (the node resumes within its writer's turn).
   */
  public *resumeFoldSteps(checkpoint: FoldCheckpoint, every = RESUME_SLICE): Generator<void, void> {
    const mismatch = (why: string): FoldCheckpointError => new FoldCheckpointError(FoldCheckpointProblem.MISMATCH, `the fold checkpoint ${why}`);
    if (this.#base) throw new FoldCheckpointError(FoldCheckpointProblem.UNSUPPORTED, 'a log that starts from a snapshot keeps no fold checkpoint');
    if (checkpoint.pursuance !== this.id) throw mismatch('is of another pursuance');
    if (checkpoint.held !== this.#events.size || checkpoint.pending !== this.#pending.size) {
      throw mismatch(`is of ${checkpoint.held} events (${checkpoint.pending} waiting), this log holds ${this.#events.size} (${this.#pending.size} waiting)`);
    }
    const order = checkpoint.run.order;
    if (order[0] !== this.genesis.id) throw mismatch("does not start at this log's genesis");
    if (order.length + checkpoint.pending !== checkpoint.held) throw mismatch('did not fold every event that does not wait');
    const changes = this.#changes;
    const run = yield* FoldRun.resumedSteps(this.#source, checkpoint.run, every);
    // A caller that broke the rule above would get a fold of events the log no longer holds alone.
    if (changes !== this.#changes) throw mismatch('was resumed while events were added');
    if (checkpoint.heads.length === 0 || checkpoint.heads.some((id) => !run.processed.has(id))) throw mismatch('names heads it did not fold');
    this.#run = run;
    this.#heads = new Set(checkpoint.heads);
    this.#dirty = false;
    for (const onion of checkpoint.everNamed) this.#everNamed.add(onion);
    this.#hashed = { at: this.#hashPoint(), hash: checkpoint.stateHash };
  }

  /**
   * Bring the fold up to date as the next read would, but in slices of `every` events with
   * `await pause(folded)` between them (`folded`: events processed so far), so the caller's
   * event loop keeps turning through a refold of a long log (a minute at a million events).
   * Nothing is read from the log meanwhile that would see a half-done fold: the fold in
   * progress is private until it is complete. If the event set changes during a pause, the
   * finished fold describes a set the log no longer holds and is dropped: the log stays dirty
   * and the next read folds what it holds then. Returns whether this call's fold is now the log's.
   */
  public refoldInSlices(pause: (folded: number) => Promise<void>, every = REFOLD_SLICE): Promise<boolean> {
    return runInSlices(this.refoldSteps(every), pause);
  }

  /** refoldInSlices' work as steps (steps.ts): yields the events processed so far after every `every`. */
  public *refoldSteps(every = REFOLD_SLICE): Generator<number, boolean> {
    if (!this.#dirty && this.#run) return false;
    const changes = this.#changes;
    const steps = foldInSteps(this.#source, every);
    for (;;) {
      const step = steps.next();
      if (step.done) {
        // A change came only during a pause, and was checked right after it. A read during a
        // pause may have folded synchronously meanwhile: same set, same result.
        if (!this.#dirty) return false;
        this.#run = step.value.run;
        this.#heads = step.value.heads;
        this.#dirty = false;
        return true;
      }
      yield step.value;
      if (changes !== this.#changes) return false;
    }
  }

  public state(): PublicState {
    return this.#current().applier.state;
  }

  /**
   * The processed events in fold order (accepted and rejected). A log that starts from a
   * snapshot puts first the events of the snapshot's history it holds, in the snapshot's order:
   * what a reader of tasks needs, all accepted.
   */
  public order(): readonly EventId[] {
    const run = this.#current();
    if (!this.#base) return run.order;
    const cached = this.#orderCache;
    if (cached && cached.run === run && cached.processed === run.order.length && cached.held === this.#events.size) return cached.order;
    const order = [...this.#base.history.filter((id) => this.#events.has(id)), ...run.order];
    this.#orderCache = { run, processed: run.order.length, held: this.#events.size, order };
    return order;
  }

  public isAccepted(id: EventId): boolean {
    return this.#current().accepted.has(id) || (this.#historyAt.has(id) && this.#events.has(id));
  }

  /** Whether `id` waits for ancestors this log lacks. */
  public isPending(id: EventId): boolean {
    return this.#pending.has(id);
  }

  /** Events held that do not descend from the whole snapshot frontier: only a full replay judges them. */
  public concurrentWithSnapshot(): EventId[] {
    return [...this.#concurrent].sort();
  }

  /**
   * Events that descend from the snapshot yet reuse a sequence number from before it: an
   * equivocation against history this log did not fold. A full replay may judge differently
   * from this log; the member should verify the full history before trusting its state.
   */
  public contested(): readonly EventId[] {
    return this.#contested;
  }

  /** How many events from before the snapshot this log holds (the genesis included; 0 without a snapshot). */
  public beforeSnapshotHeld(): number {
    return this.#base ? this.#historical.size - this.#contested.length : 0;
  }

  /** Ids in the snapshot's history this log does not hold yet: what to fetch for reading old tasks. */
  public historyMissing(): EventId[] {
    return this.#base ? this.#base.history.filter((id) => !this.#events.has(id)) : [];
  }

  /** Every rejection: events the fold refused, plus bytes that never parsed or verified. */
  public rejections(): Rejection[] {
    return [...this.#invalid, ...this.#current().rejections.values()];
  }

  /**
   * The fold's rejections only: what every replica holding these events refuses alike (inputs
   * that never parsed or belonged here depend on what was offered to this log, not on its events).
   */
  public foldRejections(): Rejection[] {
    return [...this.#current().rejections.values()];
  }

  public rejectionOf(id: EventId): Rejection | undefined {
    return this.#current().rejections.get(id) ?? this.#invalid.find((r) => r.eventId === id);
  }

  public equivocations(): readonly Equivocation[] {
    return this.#equivocations;
  }

  public isEquivocating(id: EventId): boolean {
    return this.#equivocating.has(id);
  }

  /** Events waiting for ancestors this log does not have (a gap to repair from peers). */
  public pending(): PendingEvent[] {
    const out: PendingEvent[] = [];
    for (const id of this.#pending) {
      const e = this.#events.get(id)!;
      out.push({ id, missing: e.parentIds.filter((p) => !this.#events.has(p) && !this.#frontier.has(p)) });
    }
    return out;
  }

  /**
   * The accepted events one task's view needs — its own events and every rules change (the
   * workflow) — in fold order: a task's status without folding every other task.
   */
  public acceptedEventsOfTask(task: EventId): SignedEvent[] {
    return this.acceptedInFoldOrder([...(this.#byTask.get(task) ?? []), ...this.#rulesChanges].map((id) => this.#events.get(id)!));
  }

  /**
   * The accepted events among `candidates` (events this log holds), in fold order as order()
   * has them: for a reader that picks a few events out of the whole log by walking events()
   * — an array — instead of looking each id of order() up (a second at a million events).
   */
  public acceptedInFoldOrder(candidates: Iterable<SignedEvent>): SignedEvent[] {
    const run = this.#current();
    // History from before a snapshot comes first, in the snapshot's order.
    const before = this.#historyAt.size;
    const at = (id: EventId): number => run.position.get(id) ?? this.#historyAt.get(id)! - before;
    const accepted: SignedEvent[] = [];
    for (const e of candidates) if (this.isAccepted(e.id)) accepted.push(e);
    return accepted.sort((a, b) => at(a.id) - at(b.id));
  }

  /** How many events wait for missing ancestors (the size of pending(), without building it). */
  public pendingCount(): number {
    return this.#pending.size;
  }

  /** Ids the pending events name but nobody here has: what to ask peers for. */
  public missing(): EventId[] {
    return [...new Set(this.pending().flatMap((p) => p.missing))].sort();
  }

  /**
   * Where a fold can go on from this log's current state: a base at its heads (snapshot/base.ts).
   * Unlike capture.ts, it folds nothing again and works on a log that itself starts from a
   * snapshot, so a member can move its starting point forward without the history in memory.
   * The heads are trivially a stable frontier of what this log holds, not of what others may
   * still send (capture.ts's rule 2): whoever starts from it must treat events beside it as
   * needing the full history. Throws SnapshotError (UNSTABLE) while anything waits for
   * ancestors or stands beside the snapshot this log starts from, and past MAX_FRONTIER heads.
   */
  public baseAtHeads(): FoldBase {
    if (this.#pending.size > 0) throw unstableBase('events are waiting for ancestors');
    if (this.#concurrent.size > 0 || this.#contested.length > 0) throw unstableBase('events stand beside the snapshot this log starts from');
    const run = this.#current();
    const frontier = this.heads();
    if (frontier.length > MAX_FRONTIER) throw unstableBase(`${frontier.length} heads: a base has at most ${MAX_FRONTIER}`);
    const { clock, chain, pastTime } = run.clocksAt(frontier);
    return {
      frontier,
      events: this.#base ? this.#base.events + this.#events.size - this.#historical.size : this.#events.size,
      clock,
      chain,
      pastTime,
      ...foldedHistory(run.order, run.accepted, (id) => this.#events.get(id)!, this.#base),
      logHash: run.logHash,
      rejected: refusalCodes(run.rejections.values()),
      equivocations: this.#equivocations.map((q) => ({ author: q.author, seq: q.seq, events: [...q.events] })),
      state: encodeState(run.applier.state),
      stateHash: this.stateHash(),
    };
  }

  /** Processed events no processed event names as a parent: the parents of the next event. */
  public heads(): EventId[] {
    this.#current();
    return [...this.#heads].sort();
  }

  public event(id: EventId): SignedEvent | undefined {
    return this.#events.get(id);
  }

  /** The slot this log holds `id` under (held-set.ts), for a fold over some of its events (snapshot/capture.ts). */
  public slotOf(id: EventId): number | undefined {
    return this.#events.slotOf(id);
  }

  public events(): IterableIterator<SignedEvent> {
    return this.#events.values();
  }

  public get size(): number {
    return this.#events.size;
  }

  public eventsBy(onion: OnionName): readonly SignedEvent[] {
    return this.#byAuthor.get(onion) ?? [];
  }

  public lastSeq(onion: OnionName): number {
    let held = this.#maxSeq.get(onion);
    if (held === undefined) {
      held = 0;
      for (const e of this.eventsBy(onion)) held = Math.max(held, e.header.seq);
      this.#maxSeq.set(onion, held);
    }
    return Math.max(this.#base?.chain.get(onion) ?? 0, held);
  }

  /**
   * Validate a candidate event as if appended now, without changing anything: the same
   * sequence, equivocation and rules checks a replica applies when the event arrives.
   */
  public dryRun(e: SignedEvent): Rejection | null {
    const run = this.#current();
    if (e.pursuanceId !== this.id) return { eventId: e.id, code: RejectionCode.WRONG_PURSUANCE, reason: 'another pursuance' };
    const missing = e.parentIds.filter((p) => !run.processed.has(p) && !this.#frontier.has(p));
    if (missing.length > 0) return { eventId: e.id, code: RejectionCode.SEQUENCE_GAP, reason: 'the event names parents that are not in the folded log' };
    const other = this.#bySeq.get(e.author, e.header.seq);
    if (other !== undefined && other !== e.id) {
      return { eventId: e.id, code: RejectionCode.EQUIVOCATION, reason: `${e.author} already signed an event with sequence number ${e.header.seq}` };
    }
    const { outcome } = run.judge(e);
    return outcome.ok ? null : { eventId: e.id, code: outcome.code, reason: outcome.reason, ...(outcome.rule ? { rule: outcome.rule } : {}) };
  }

  /** The hash chain over the accepted events in fold order (hex): cheap, and part of the state hash. */
  public acceptedLogHash(): string {
    return toHex(this.#current().logHash);
  }

  /** Hash of the public state: equal on every member that holds the same events. */
  public stateHash(): string {
    const at = this.#hashPoint();
    if (this.#hashed && sameHashPoint(this.#hashed.at, at)) return this.#hashed.hash;
    const hash = stateHash(this.#publicValue(), this.#hashMemo);
    this.#hashed = { at, hash };
    return hash;
  }

  /** stateHash(), hashed in slices with `await pause()` between them (see state.ts stateHashInSlices). */
  public stateHashInSlices(pause: () => Promise<void>, every = STATE_HASH_SLICE): Promise<string> {
    return runInSlices(this.stateHashSteps(every), pause);
  }

  /** stateHashInSlices' work as steps (steps.ts). */
  public *stateHashSteps(every = STATE_HASH_SLICE): Generator<void, string> {
    const at = this.#hashPoint();
    if (this.#hashed && sameHashPoint(this.#hashed.at, at)) return this.#hashed.hash;
    const hash = yield* stateHashSteps(this.#publicValue(), every, this.#hashMemo);
    // Kept only if the fold did not move on during a pause (the hash is of the state before it).
    if (sameHashPoint(at, this.#hashPoint())) this.#hashed = { at, hash };
    return hash;
  }

  /**
   * Where the fold stands, for the state hash kept between calls: the state changes only when
   * the fold processes an event (or is redone: another run) or an equivocation is found.
   * Encoding the whole state takes seconds at a million events; a clean stop after an idle
   * session needs the hash the start-up already worked out.
   */
  #hashPoint(): HashPoint {
    const run = this.#current();
    return { run, processed: run.order.length, equivocations: this.#equivocations.length };
  }

  #publicValue(): CanonicalValue {
    const run = this.#current();
    return publicStateValue(run.applier.state, run.logHash, [...run.rejections.values()], this.#equivocations, this.#publicEntries);
  }

  /** The canonical bytes the state hash covers (for debugging divergence between members). */
  public stateBytes(): Uint8Array {
    const run = this.#current();
    return canonicalEncode(publicStateValue(run.applier.state, run.logHash, [...run.rejections.values()], this.#equivocations));
  }

  /** How many events' causal clocks the fold keeps (for tests and benchmarks of its memory). */
  public retainedClocks(): number {
    return this.#current().retainedClocks();
  }

  /** Ability checks for a member against the current state (for authoring and UIs). */
  public applier(): Applier {
    return this.#current().applier;
  }
}

/** The task an event is about (a task.create or a submission is about itself), or null. */
function taskOf(e: SignedEvent): EventId | null {
  if (opensTask(e.header.kind)) return e.id;
  if (!e.header.kind.startsWith('task.')) return null;
  return toHex((e.header.body as EventBody<'task.edit'>).task) as EventId;
}

/**
 * A pending event refused at the door: not stored and not recorded as invalid (the sender may
 * offer it again once its ancestors are here), so it leaves no trace in the log.
 */
function pendingRefused(e: SignedEvent, reason: string): AddResult {
  return { status: 'invalid', id: e.id, rejection: { eventId: e.id, code: RejectionCode.PENDING_REFUSED, reason } };
}

const unstableBase = (why: string): SnapshotError => new SnapshotError(SnapshotProblem.UNSTABLE, `no base at the heads: ${why}`);

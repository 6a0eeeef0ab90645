import { canonicalEncode, onionFromPublicKey, sha256, toHex, type OnionName, type SignatureVerifier } from '@pursuance/crypto';
import { Applier, type Causality, type Outcome } from './applier.js';
import type { EventBody, EventKind } from './bodies.js';
import { decodeEvent, type EventId, type PursuanceId, type SignedEvent } from './envelope.js';
import { EventRejectedError, RejectionCode, type Rejection } from './errors.js';
import { stateFromGenesis } from './genesis.js';
import { MinHeap } from './heap.js';
import { publicStateValue, stateHash, type Equivocation, type PublicState } from './state.js';

/**
 * A pursuance's log and its deterministic fold.
 *
 * Events form a DAG (each names the heads its author knew). The state is a fold over one
 * linearisation that depends only on the SET of events, never on arrival order:
 *
 *  1. Greedy topological order. Among events whose parents are all processed, take the
 *     smallest (class, −authority, id): removals and key rotations before other governance,
 *     governance before tasks; then the author's authority rank (founders highest) at the
 *     moment the event became ready; then the event id. So when two conflicting actions are
 *     concurrent, the higher authority's is applied first.
 *  2. A removal defeats concurrent actions of the removed member. When a removal of M is
 *     accepted, every event of M that the remover had not seen (M's sequence number above
 *     what the removal's causal past knows of M) must come after it. If such an event was
 *     already processed, that constraint becomes a virtual edge and the fold restarts. Virtual
 *     edges only accumulate, so this terminates; they are re-derived from the event set alone,
 *     so it stays deterministic.
 *  3. Rejected events stay in the DAG (their descendants are judged on their own) but change
 *     nothing. Two events with one author and sequence number (equivocation) are both
 *     rejected. An author's event must have its previous event in its causal past.
 *
 * Causality comes from per-event vector clocks. Only ACCEPTED events advance the causal clock
 * (what an event "has seen" for staleness and removal precedence), so a rejected event can never
 * widen what a later event claims to know. A separate sequence clock advances on every
 * well-sequenced, non-equivocating event — accepted or refused by the rules — because an
 * author's chain must survive a lost race: if only accepted events counted, one concurrent
 * refusal would make every later event of that author a SEQUENCE_GAP. An event that skips
 * sequence numbers or equivocates advances neither clock. Clocks are Float64Array: exact for
 * every integer up to 2^53, so the schema's 2^40 bound on sequence numbers never wraps.
 *
 * New events that descend from every current head (the normal case for a live member) are
 * applied incrementally; anything else marks the fold dirty and the next read refolds. Events
 * waiting for ancestors this log lacks (pending) are set aside: they do not stop later events
 * that do not depend on them from being applied incrementally, and they are no evidence of
 * anything (equivocation included) until their ancestors arrive, because which events wait
 * depends on arrival order. Only someone who is or was a
 * member in some folded state may have events pending, and at most MAX_PENDING_PER_AUTHOR each.
 */
export type AddStatus = 'accepted' | 'rejected' | 'pending' | 'duplicate' | 'invalid' | 'queued';

export interface AddResult {
  readonly status: AddStatus;
  readonly id?: EventId;
  readonly rejection?: Rejection;
}

export interface PendingEvent {
  readonly id: EventId;
  readonly missing: readonly EventId[];
}

/** Events one author may have waiting for missing ancestors; more are refused until some arrive. */
export const MAX_PENDING_PER_AUTHOR = 1024;

const CLASS = new Map<EventKind, number>([
  ['genesis', 0],
  ['member.remove', 0],
  ['role.remove', 0],
  ['member.leave', 0],
  ['keys.rotate', 0],
]);
const classOf = (kind: EventKind): number => CLASS.get(kind) ?? (kind.startsWith('task.') ? 2 : 1);

interface ReadyItem {
  readonly cls: number;
  readonly rank: number;
  readonly id: EventId;
}
const readyLess = (a: ReadyItem, b: ReadyItem): boolean =>
  a.cls !== b.cls ? a.cls < b.cls : a.rank !== b.rank ? a.rank > b.rank : a.id < b.id;

/** Per-author counters indexed by author; Float64Array holds every sequence number exactly. */
type Clock = Float64Array;

function mergeInto(target: Clock, source: Clock): void {
  for (let i = 0; i < source.length; i++) if (source[i]! > target[i]!) target[i] = source[i]!;
}

/** One complete fold over the event set. */
class FoldRun implements Causality {
  public readonly applier: Applier;
  public readonly order: EventId[] = [];
  public readonly accepted = new Set<EventId>();
  public readonly rejections = new Map<EventId, Rejection>();
  public readonly processed = new Set<EventId>();
  /** Each processed event's index in `order`. */
  public readonly position = new Map<EventId, number>();
  public readonly children = new Map<EventId, EventId[]>();
  public logHash: Uint8Array = new Uint8Array(32);
  /** Set when a removal forces a constraint on an already processed event. */
  public restartWith: Map<EventId, Set<EventId>> | null = null;
  /** Causal clock: per author, the highest sequence number of an ACCEPTED event seen. */
  readonly #vc = new Map<EventId, Clock>();
  /** Sequence clock: per author, the highest well-sequenced (non-equivocating) event seen. */
  readonly #chain = new Map<EventId, Clock>();
  /** The latest author-claimed time among accepted events in the causal past, the event included if accepted. */
  readonly #pastTime = new Map<EventId, number>();
  readonly #authorIndex = new Map<OnionName, number>();

  public constructor(
    private readonly log: PursuanceLog,
    state: PublicState,
    private readonly virtualParents: Map<EventId, Set<EventId>>,
  ) {
    this.applier = new Applier(state, this);
  }

  #index(onion: OnionName): number {
    let i = this.#authorIndex.get(onion);
    if (i === undefined) {
      i = this.#authorIndex.size;
      this.#authorIndex.set(onion, i);
    }
    return i;
  }

  /** Merge of the parents' clocks of one kind: what the author of `e` knew. */
  #merged(clocks: Map<EventId, Clock>, e: SignedEvent): Clock {
    const vc = new Float64Array(this.#authorIndex.size + 1);
    for (const p of e.parentIds) {
      const pv = clocks.get(p);
      if (pv) mergeInto(vc, pv);
    }
    return vc;
  }

  public isAncestor(event: SignedEvent, ancestor: EventId): boolean {
    const a = this.log.event(ancestor);
    if (!a || ancestor === event.id || !this.accepted.has(ancestor)) return false;
    const idx = this.#authorIndex.get(a.author);
    if (idx === undefined) return false;
    const known = this.#merged(this.#vc, event);
    return (known[idx] ?? 0) >= a.header.seq;
  }

  public causalTime(event: SignedEvent): number {
    let t = 0;
    for (const p of event.parentIds) t = Math.max(t, this.#pastTime.get(p) ?? 0);
    return t;
  }

  public *acceptedAncestors(event: SignedEvent): Generator<SignedEvent> {
    const stack = [...event.parentIds];
    const seen = new Set<EventId>();
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const e = this.log.event(id);
      if (!e) continue;
      if (this.accepted.has(id)) yield e;
      for (const p of e.parentIds) stack.push(p);
    }
  }

  public parentsOf(id: EventId): EventId[] {
    const e = this.log.event(id)!;
    const virtual = this.virtualParents.get(id);
    return virtual ? [...e.parentIds, ...virtual] : [...e.parentIds];
  }

  /**
   * Judge one event against the current state without changing anything: sequence, then the
   * rules. Whatever goes wrong while judging becomes a rejection of this event, never an
   * exception out of the fold.
   */
  public judge(e: SignedEvent): { outcome: Outcome; chain: Clock } {
    const authorIdx = this.#index(e.author);
    const chain = this.#merged(this.#chain, e);
    const seqKnown = chain[authorIdx] ?? 0;
    if (this.log.isEquivocating(e.id)) {
      return { outcome: { ok: false, code: RejectionCode.EQUIVOCATION, reason: `${e.author} signed two events with sequence number ${e.header.seq}` }, chain };
    }
    if (e.header.seq !== seqKnown + 1) {
      return { outcome: { ok: false, code: RejectionCode.SEQUENCE_GAP, reason: `sequence ${e.header.seq} does not follow the author's known sequence ${seqKnown}` }, chain };
    }
    // Well sequenced: the author's chain goes on through this event whatever the rules say.
    chain[authorIdx] = e.header.seq;
    if (e.pursuanceId === null) return { outcome: { ok: false, code: RejectionCode.INVALID_GENESIS, reason: 'a pursuance has exactly one genesis' }, chain };
    try {
      return { outcome: this.applier.validate(e), chain };
    } catch (err) {
      return { outcome: judgementFailed(err), chain };
    }
  }

  /** Process one event whose parents are all processed. */
  public process(e: SignedEvent): void {
    const authorIdx = this.#index(e.author);
    const judged = this.judge(e);
    let outcome = judged.outcome;
    if (outcome.ok) {
      try {
        outcome.commit();
      } catch (err) {
        // A commit that throws is a bug in the rules code; every replica hits it identically, so
        // rejecting the event keeps replicas in step instead of crashing all of them.
        outcome = judgementFailed(err);
      }
    }
    this.#chain.set(e.id, judged.chain);
    const vc = this.#merged(this.#vc, e);
    let pastTime = this.causalTime(e);
    if (outcome.ok) {
      vc[authorIdx] = e.header.seq;
      pastTime = Math.max(pastTime, e.header.time);
    }
    this.#vc.set(e.id, vc);
    this.#pastTime.set(e.id, pastTime);
    this.#finish(e, outcome);
    if (outcome.ok) this.#enforceRemovalPrecedence(e, vc);
  }

  /** Record the genesis, which the log has already turned into the initial state. */
  public processGenesis(e: SignedEvent): void {
    const vc = new Float64Array(1);
    vc[this.#index(e.author)] = 1;
    this.#vc.set(e.id, vc);
    this.#chain.set(e.id, vc);
    this.#pastTime.set(e.id, e.header.time);
    this.#finish(e, { ok: true, commit: () => undefined });
  }

  #finish(e: SignedEvent, outcome: Outcome): void {
    if (outcome.ok) {
      this.applier.noteAccepted(e);
      this.accepted.add(e.id);
      if (e.header.kind === 'member.add') this.log.noteMember(onionFromPublicKey((e.header.body as EventBody<'member.add'>).member));
      this.logHash = sha256(this.logHash, Buffer.from(e.id, 'hex'));
    } else {
      this.rejections.set(e.id, { eventId: e.id, code: outcome.code, reason: outcome.reason, ...(outcome.rule ? { rule: outcome.rule } : {}) });
    }
    this.position.set(e.id, this.order.length);
    this.order.push(e.id);
    this.processed.add(e.id);
  }

  #enforceRemovalPrecedence(e: SignedEvent, vc: Clock): void {
    const kind = e.header.kind;
    if (kind !== 'member.remove' && kind !== 'role.remove') return;
    const removed = onionFromPublicKey((e.header.body as EventBody<'member.remove'>).member);
    if (removed === e.author) return;
    const idx = this.#authorIndex.get(removed);
    // What the remover had seen of the removed member: accepted events only (see the header).
    const cutoff = idx === undefined ? 0 : (vc[idx] ?? 0);
    const late: EventId[] = [];
    for (const x of this.log.eventsBy(removed)) {
      if (x.header.seq > cutoff && this.processed.has(x.id) && x.id !== e.id && !this.#reaches(e.id, x.id)) late.push(x.id);
    }
    if (late.length === 0) return;
    const next = new Map([...this.virtualParents].map(([k, v]) => [k, new Set(v)]));
    for (const x of late) {
      const set = next.get(x) ?? new Set<EventId>();
      set.add(e.id);
      next.set(x, set);
    }
    this.restartWith = next;
  }

  /** Is `target` reachable from `from` by walking parents (real and virtual)? */
  #reaches(from: EventId, target: EventId): boolean {
    const stack = [from];
    const seen = new Set<EventId>();
    while (stack.length) {
      const id = stack.pop()!;
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const p of this.parentsOf(id)) if (this.log.event(p)) stack.push(p);
    }
    return false;
  }
}

function judgementFailed(err: unknown): Outcome {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : 'a non-error value was thrown';
  return { ok: false, code: RejectionCode.JUDGEMENT_FAILED, reason: `judging this event failed (${detail.slice(0, 200)})` };
}

export interface PursuanceLogOptions {
  readonly verifier?: SignatureVerifier;
}

export class PursuanceLog {
  public readonly id: PursuanceId;
  public readonly genesis: SignedEvent<'genesis'>;
  readonly #verifier: SignatureVerifier | undefined;
  readonly #events = new Map<EventId, SignedEvent>();
  readonly #byAuthor = new Map<OnionName, SignedEvent[]>();
  readonly #bySeq = new Map<string, EventId>();
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
  #dirty = true;

  public constructor(genesis: SignedEvent | Uint8Array, options: PursuanceLogOptions = {}) {
    this.#verifier = options.verifier;
    const g = genesis instanceof Uint8Array ? decodeEvent(genesis, this.#verifier) : genesis;
    const initial = stateFromGenesis(g);
    if (!initial.ok) throw new EventRejectedError(initial.code, initial.reason);
    this.genesis = g as SignedEvent<'genesis'>;
    this.id = g.id;
    for (const onion of initial.state.members.keys()) this.#everNamed.add(onion);
    this.#store(g);
    this.#noteSequence(g);
  }

  #store(e: SignedEvent): void {
    this.#events.set(e.id, e);
    const list = this.#byAuthor.get(e.author) ?? [];
    list.push(e);
    this.#byAuthor.set(e.author, list);
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
    const key = `${e.author}:${e.header.seq}`;
    const other = this.#bySeq.get(key);
    if (other === undefined) {
      this.#bySeq.set(key, e.id);
    } else if (other !== e.id) {
      this.#equivocating.add(other);
      this.#equivocating.add(e.id);
      const existing = this.#equivocations.find((q) => q.author === e.author && q.seq === e.header.seq);
      if (existing) (existing.events as EventId[]).push(e.id);
      else this.#equivocations.push({ author: e.author, seq: e.header.seq, events: [other, e.id] });
    }
  }

  /** Called by the fold for each accepted member.add: its member may have events wait for ancestors. */
  public noteMember(onion: OnionName): void {
    this.#everNamed.add(onion);
  }

  /** Undo #store for an event nothing else names (the author's own event it will not publish). */
  #unstore(e: SignedEvent): void {
    this.#events.delete(e.id);
    const list = this.#byAuthor.get(e.author);
    if (list) {
      const i = list.findIndex((x) => x.id === e.id);
      if (i >= 0) list.splice(i, 1);
    }
    const key = `${e.author}:${e.header.seq}`;
    if (this.#bySeq.get(key) === e.id) this.#bySeq.delete(key);
    const task = taskOf(e);
    const events = task === null ? this.#rulesChanges : this.#byTask.get(task);
    const at = events?.indexOf(e.id) ?? -1;
    if (at >= 0) events!.splice(at, 1);
    this.#dirty = true;
  }

  /** Parents this log lacks, or that are themselves pending. */
  #blockers(e: SignedEvent): EventId[] {
    return e.parentIds.filter((p) => !this.#events.has(p) || this.#pending.has(p));
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
    const blockers = this.#blockers(e);
    if (blockers.length > 0) {
      // Anyone holding the group key can send events with made-up parents; only members (past
      // or present) may park events here, and only so many each, so such noise stays bounded.
      // Membership is known from folded states: bring the fold up to date before refusing.
      if (!this.#everNamed.has(e.author)) this.#current();
      if (!this.#everNamed.has(e.author)) {
        return { status: 'invalid', id: e.id, rejection: { eventId: e.id, code: RejectionCode.PENDING_REFUSED, reason: 'an event waiting for missing ancestors must come from someone who is or was a member' } };
      }
      if ((this.#pendingByAuthor.get(e.author) ?? 0) >= MAX_PENDING_PER_AUTHOR) {
        return { status: 'invalid', id: e.id, rejection: { eventId: e.id, code: RejectionCode.PENDING_REFUSED, reason: `${e.author} already has ${MAX_PENDING_PER_AUTHOR} events waiting for missing ancestors` } };
      }
    }
    const wasEquivocating = this.#equivocating.size;
    this.#store(e);
    if (blockers.length > 0) {
      this.#markPending(e, blockers);
      return { status: 'pending', id: e.id };
    }
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
        this.#noteSequence(e);
        freed = true;
        queue.push(w);
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
    const list = [...inputs];
    const results = list.map((input) => this.add(input));
    for (let progress = true; progress; ) {
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
    if (!run || run.processed.size + this.#pending.size !== this.#events.size - 1) return false;
    const parents = new Set(e.parentIds);
    if (parents.size === 0) return false;
    for (const p of parents) if (!run.processed.has(p)) return false;
    for (const h of this.#heads) if (!parents.has(h)) return false;
    return true;
  }

  #advanceHeads(e: SignedEvent): void {
    for (const p of e.parentIds) this.#heads.delete(p);
    this.#heads.add(e.id);
  }

  #fold(): FoldRun {
    let virtual = new Map<EventId, Set<EventId>>();
    for (;;) {
      const run = this.#foldOnce(virtual);
      if (!run.restartWith) return run;
      virtual = run.restartWith;
    }
  }

  #foldOnce(virtual: Map<EventId, Set<EventId>>): FoldRun {
    const initial = stateFromGenesis(this.genesis);
    if (!initial.ok) throw new EventRejectedError(initial.code, initial.reason);
    const run = new FoldRun(this, initial.state, virtual);
    const waiting = new Map<EventId, number>();
    for (const e of this.#events.values()) {
      if (e.id === this.genesis.id || this.#pending.has(e.id)) continue;
      const parents = run.parentsOf(e.id);
      waiting.set(e.id, parents.length);
      for (const p of parents) {
        const list = run.children.get(p) ?? [];
        list.push(e.id);
        run.children.set(p, list);
      }
    }
    const heap = new MinHeap<ReadyItem>(readyLess);
    const release = (id: EventId): void => {
      for (const child of run.children.get(id) ?? []) {
        const left = waiting.get(child)! - 1;
        waiting.set(child, left);
        if (left === 0) {
          const c = this.#events.get(child)!;
          heap.push({ cls: classOf(c.header.kind), rank: run.applier.rankOf(c.author), id: child });
        }
      }
    };
    run.processGenesis(this.genesis);
    release(this.genesis.id);
    for (let item = heap.pop(); item; item = heap.pop()) {
      run.process(this.#events.get(item.id)!);
      if (run.restartWith) return run;
      release(item.id);
    }
    // Heads follow REAL parent edges only: a virtual edge (removal precedence) is an ordering
    // constraint of the fold, not something any author named, so an author whose event got a
    // virtual child must still build on it or its next event would skip its own sequence.
    const heads = new Set(run.processed);
    for (const id of run.processed) for (const p of this.#events.get(id)!.parentIds) heads.delete(p);
    this.#heads = heads;
    return run;
  }

  #current(): FoldRun {
    if (this.#dirty || !this.#run) {
      this.#run = this.#fold();
      this.#dirty = false;
    }
    return this.#run;
  }

  /** Refold from scratch (replay), e.g. after loading a stored log. */
  public replay(): void {
    this.#dirty = true;
    this.#current();
  }

  public state(): PublicState {
    return this.#current().applier.state;
  }

  /** The processed events in fold order (accepted and rejected). */
  public order(): readonly EventId[] {
    return this.#current().order;
  }

  public isAccepted(id: EventId): boolean {
    return this.#current().accepted.has(id);
  }

  /** Every rejection: events the fold refused, plus bytes that never parsed or verified. */
  public rejections(): Rejection[] {
    return [...this.#invalid, ...this.#current().rejections.values()];
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
      out.push({ id, missing: e.parentIds.filter((p) => !this.#events.has(p)) });
    }
    return out;
  }

  /**
   * The accepted events one task's view needs — its own events and every rules change (the
   * workflow) — in fold order: a task's status without folding every other task.
   */
  public acceptedEventsOfTask(task: EventId): SignedEvent[] {
    const run = this.#current();
    const ids = [...(this.#byTask.get(task) ?? []), ...this.#rulesChanges].filter((id) => run.accepted.has(id));
    ids.sort((a, b) => run.position.get(a)! - run.position.get(b)!);
    return ids.map((id) => this.#events.get(id)!);
  }

  /** How many events wait for missing ancestors (the size of pending(), without building it). */
  public pendingCount(): number {
    return this.#pending.size;
  }

  /** Ids the pending events name but nobody here has: what to ask peers for. */
  public missing(): EventId[] {
    return [...new Set(this.pending().flatMap((p) => p.missing))].sort();
  }

  /** Processed events no processed event names as a parent: the parents of the next event. */
  public heads(): EventId[] {
    this.#current();
    return [...this.#heads].sort();
  }

  public event(id: EventId): SignedEvent | undefined {
    return this.#events.get(id);
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
    let max = 0;
    for (const e of this.eventsBy(onion)) max = Math.max(max, e.header.seq);
    return max;
  }

  /**
   * Validate a candidate event as if appended now, without changing anything: the same
   * sequence, equivocation and rules checks a replica applies when the event arrives.
   */
  public dryRun(e: SignedEvent): Rejection | null {
    const run = this.#current();
    if (e.pursuanceId !== this.id) return { eventId: e.id, code: RejectionCode.WRONG_PURSUANCE, reason: 'another pursuance' };
    const missing = e.parentIds.filter((p) => !run.processed.has(p));
    if (missing.length > 0) return { eventId: e.id, code: RejectionCode.SEQUENCE_GAP, reason: 'the event names parents that are not in the folded log' };
    const other = this.#bySeq.get(`${e.author}:${e.header.seq}`);
    if (other !== undefined && other !== e.id) {
      return { eventId: e.id, code: RejectionCode.EQUIVOCATION, reason: `${e.author} already signed an event with sequence number ${e.header.seq}` };
    }
    const { outcome } = run.judge(e);
    return outcome.ok ? null : { eventId: e.id, code: outcome.code, reason: outcome.reason, ...(outcome.rule ? { rule: outcome.rule } : {}) };
  }

  /** Hash of the public state: equal on every member that holds the same events. */
  public stateHash(): string {
    const run = this.#current();
    return stateHash(publicStateValue(run.applier.state, run.logHash, [...run.rejections.values()], this.#equivocations));
  }

  /** The canonical bytes the state hash covers (for debugging divergence between members). */
  public stateBytes(): Uint8Array {
    const run = this.#current();
    return canonicalEncode(publicStateValue(run.applier.state, run.logHash, [...run.rejections.values()], this.#equivocations));
  }

  /** Ability checks for a member against the current state (for authoring and UIs). */
  public applier(): Applier {
    return this.#current().applier;
  }
}

/** The task an event is about (a task.create is about itself), or null. */
function taskOf(e: SignedEvent): EventId | null {
  if (e.header.kind === 'task.create') return e.id;
  if (!e.header.kind.startsWith('task.')) return null;
  return toHex((e.header.body as EventBody<'task.edit'>).task) as EventId;
}

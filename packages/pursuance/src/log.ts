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
 * Causality comes from per-event vector clocks of author sequence numbers, which also decide
 * staleness ("did the author know this key had been rotated?").
 *
 * New events that descend from every current head (the normal case for a live member) are
 * applied incrementally; anything else marks the fold dirty and the next read refolds.
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

const CLASS: Partial<Record<EventKind, number>> = {
  genesis: 0,
  'member.remove': 0,
  'role.remove': 0,
  'member.leave': 0,
  'keys.rotate': 0,
};
const classOf = (kind: EventKind): number => CLASS[kind] ?? (kind.startsWith('task.') ? 2 : 1);

interface ReadyItem {
  readonly cls: number;
  readonly rank: number;
  readonly id: EventId;
}
const readyLess = (a: ReadyItem, b: ReadyItem): boolean =>
  a.cls !== b.cls ? a.cls < b.cls : a.rank !== b.rank ? a.rank > b.rank : a.id < b.id;

/** One complete fold over the event set. */
class FoldRun implements Causality {
  public readonly applier: Applier;
  public readonly order: EventId[] = [];
  public readonly accepted = new Set<EventId>();
  public readonly rejections = new Map<EventId, Rejection>();
  public readonly processed = new Set<EventId>();
  public readonly children = new Map<EventId, EventId[]>();
  public logHash: Uint8Array = new Uint8Array(32);
  /** Set when a removal forces a constraint on an already processed event. */
  public restartWith: Map<EventId, Set<EventId>> | null = null;
  readonly #vc = new Map<EventId, Int32Array>();
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

  /** Merge of the parents' clocks: what the author of `e` knew. */
  #knownBefore(e: SignedEvent): Int32Array {
    let size = 0;
    for (const p of e.parentIds) size = Math.max(size, this.#vc.get(p)?.length ?? 0);
    const vc = new Int32Array(Math.max(size, this.#authorIndex.size + 1));
    for (const p of e.parentIds) {
      const pv = this.#vc.get(p);
      if (!pv) continue;
      for (let i = 0; i < pv.length; i++) if (pv[i]! > vc[i]!) vc[i] = pv[i]!;
    }
    return vc;
  }

  public isAncestor(event: SignedEvent, ancestor: EventId): boolean {
    const a = this.log.event(ancestor);
    if (!a || ancestor === event.id) return false;
    const known = this.#knownBefore(event);
    const idx = this.#authorIndex.get(a.author);
    return idx !== undefined && (known[idx] ?? 0) >= a.header.seq;
  }

  public parentsOf(id: EventId): EventId[] {
    const e = this.log.event(id)!;
    const virtual = this.virtualParents.get(id);
    return virtual ? [...e.parentIds, ...virtual] : [...e.parentIds];
  }

  /** Process one event whose parents are all processed. */
  public process(e: SignedEvent): void {
    const known = this.#knownBefore(e);
    const authorIdx = this.#index(e.author);
    const seqKnown = known[authorIdx] ?? 0;
    let outcome: Outcome;
    if (this.log.isEquivocating(e.id)) {
      outcome = { ok: false, code: RejectionCode.EQUIVOCATION, reason: `${e.author} signed two events with sequence number ${e.header.seq}` };
    } else if (e.header.seq !== seqKnown + 1) {
      outcome = {
        ok: false,
        code: RejectionCode.SEQUENCE_GAP,
        reason: `sequence ${e.header.seq} does not follow the author's known sequence ${seqKnown}`,
      };
    } else if (e.pursuanceId === null) {
      outcome = { ok: false, code: RejectionCode.INVALID_GENESIS, reason: 'a pursuance has exactly one genesis' };
    } else {
      outcome = this.applier.validate(e);
    }
    const vc = known.length > authorIdx ? known : Int32Array.from({ length: authorIdx + 1 }, (_, i) => known[i] ?? 0);
    vc[authorIdx] = Math.max(vc[authorIdx] ?? 0, e.header.seq);
    this.#vc.set(e.id, vc);
    this.#finish(e, outcome);
    if (outcome.ok) this.#enforceRemovalPrecedence(e, known);
  }

  /** Record the genesis, which the log has already turned into the initial state. */
  public processGenesis(e: SignedEvent): void {
    const vc = new Int32Array(1);
    vc[this.#index(e.author)] = 1;
    this.#vc.set(e.id, vc);
    this.#finish(e, { ok: true, commit: () => undefined });
  }

  #finish(e: SignedEvent, outcome: Outcome): void {
    if (outcome.ok) {
      outcome.commit();
      this.applier.noteAccepted(e);
      this.accepted.add(e.id);
      this.logHash = sha256(this.logHash, Buffer.from(e.id, 'hex'));
    } else {
      this.rejections.set(e.id, { eventId: e.id, code: outcome.code, reason: outcome.reason, ...(outcome.rule ? { rule: outcome.rule } : {}) });
    }
    this.order.push(e.id);
    this.processed.add(e.id);
  }

  #enforceRemovalPrecedence(e: SignedEvent, known: Int32Array): void {
    const kind = e.header.kind;
    if (kind !== 'member.remove' && kind !== 'role.remove') return;
    const removed = onionFromPublicKey((e.header.body as EventBody<'member.remove'>).member);
    if (removed === e.author) return;
    const idx = this.#authorIndex.get(removed);
    const cutoff = idx === undefined ? 0 : (known[idx] ?? 0);
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
    this.#store(g);
  }

  #store(e: SignedEvent): void {
    this.#events.set(e.id, e);
    const list = this.#byAuthor.get(e.author) ?? [];
    list.push(e);
    this.#byAuthor.set(e.author, list);
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

  /**
   * Add an event (bytes from the network or a SignedEvent). Idempotent. Invalid bytes and
   * events of another pursuance are reported and never stored.
   */
  public add(input: Uint8Array | SignedEvent): AddResult {
    let e: SignedEvent;
    try {
      e = input instanceof Uint8Array ? decodeEvent(input, this.#verifier) : input;
    } catch (err) {
      if (!(err instanceof EventRejectedError)) throw err;
      const id = toHex(sha256(input as Uint8Array)) as EventId;
      const rejection = { eventId: id, code: err.code, reason: err.message };
      this.#invalid.push(rejection);
      return { status: 'invalid', id, rejection };
    }
    if (this.#events.has(e.id)) return { status: 'duplicate', id: e.id };
    if (e.pursuanceId !== this.id) {
      const rejection = {
        eventId: e.id,
        code: e.pursuanceId === null ? RejectionCode.INVALID_GENESIS : RejectionCode.WRONG_PURSUANCE,
        reason: e.pursuanceId === null ? 'a second genesis' : 'the event belongs to another pursuance',
      };
      this.#invalid.push(rejection);
      return { status: 'invalid', id: e.id, rejection };
    }
    if (e.parentIds.length === 0) {
      const rejection = { eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason: 'only the genesis has no parents' };
      this.#invalid.push(rejection);
      return { status: 'invalid', id: e.id, rejection };
    }
    const wasEquivocating = this.#equivocating.size;
    this.#store(e);
    if (this.#equivocating.size !== wasEquivocating) this.#dirty = true;
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

  /** Add many events, then fold once. */
  public addAll(inputs: Iterable<Uint8Array | SignedEvent>): AddResult[] {
    const results: AddResult[] = [];
    for (const input of inputs) results.push(this.add(input));
    return results;
  }

  /** A tail event descends from every head and from nothing unprocessed: it is last in any refold. */
  #isTail(e: SignedEvent): boolean {
    const run = this.#run;
    if (!run || run.processed.size !== this.#events.size - 1) return false;
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
      if (e.id === this.genesis.id) continue;
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
    this.#heads = new Set([...run.processed].filter((id) => !(run.children.get(id) ?? []).some((c) => run.processed.has(c))));
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
    const run = this.#current();
    const out: PendingEvent[] = [];
    for (const e of this.#events.values()) {
      if (run.processed.has(e.id)) continue;
      out.push({ id: e.id, missing: e.parentIds.filter((p) => !this.#events.has(p)) });
    }
    return out;
  }

  /** How many events wait for missing ancestors (the size of pending(), without building it). */
  public pendingCount(): number {
    return this.#events.size - this.#current().processed.size;
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

  /** Validate a candidate event as if appended now, without changing anything. */
  public dryRun(e: SignedEvent): Rejection | null {
    const run = this.#current();
    if (e.pursuanceId !== this.id) return { eventId: e.id, code: RejectionCode.WRONG_PURSUANCE, reason: 'another pursuance' };
    const outcome = run.applier.validate(e);
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

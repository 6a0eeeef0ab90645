import { onionFromPublicKey, sha256, type OnionName } from '@pursuance/crypto';
import type { EventKind } from '../bodies.js';
import { isKind, type EventId, type EventSet, type SignedEvent } from '../envelope.js';
import { EventRejectedError, RejectionCode, type Rejection } from '../errors.js';
import { stateFromGenesis } from '../genesis.js';
import { MinHeap } from '../heap.js';
import { Positions, slotTable } from './positions.js';
import { runAtOnce } from '../steps.js';
import type { PublicState } from '../state.js';
import { Applier } from './applier.js';
import type { AcceptedAncestor, Causality, Outcome } from './context.js';
import type { FoldBase } from '../snapshot/base.js';
import { cloneState, decodeStateSteps, encodeState, stateForReading } from '../snapshot/state-codec.js';
import { SnapshotError } from '../snapshot/errors.js';
import { FoldCheckpointError, FoldCheckpointProblem, type FoldRunState } from './checkpoint.js';

/**
 * The deterministic fold: the public state as a function of the SET of events, never of their
 * arrival order. It folds one linearisation:
 *
 *  1. Greedy topological order. Among events whose parents are all processed, take the
 *     smallest (class, −authority, id): removals and key rotations before other governance,
 *     governance before tasks; then the author's authority rank (founders highest) at the
 *     moment the event became ready; then the event id. So when two conflicting actions are
 *     concurrent, the higher authority's is applied first.
 *  2. A removal defeats concurrent actions of the removed member. When a removal of M is
 *     accepted, every event of M that the remover had not seen (M's sequence number above
 *     what the removal's causal past knows of M) must come after it. If such an event was
 *     already processed, that constraint becomes a virtual edge and the fold restarts. Such a
 *     late event of M may itself be a removal whose own virtual edges put the remover's causal
 *     past after it (M expels Y; the removal of M builds on an event of Y): those edges are
 *     void from then on, since M's removal comes after M's removal of someone else is defeated.
 *     An event of M the remover had not seen that cannot come after the removal (the removal is
 *     void, or already ordered after it through another removal's virtual edge: the founder
 *     demotes the remover having seen M's event) is refused outright instead: defeated, exactly
 *     as if it had come after. Virtual edges, void removals and defeated events only accumulate,
 *     so this terminates; all are re-derived from the event set alone, so it stays deterministic.
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
 * The log (log.ts) owns the events and decides when to refold; this module only reads them.
 */

/** What the fold reads from the log, and the one thing it tells the log back. */
export interface FoldSource {
  readonly genesis: SignedEvent<'genesis'>;
  event(id: EventId): SignedEvent | undefined;
  /** The slot the log holds `id` under (held-set.ts): a fold keeps its per-event tables as arrays by slot. */
  slotOf(id: EventId): number | undefined;
  /** Every stored event (pending ones included). */
  events(): Iterable<SignedEvent>;
  /** Waiting for ancestors the log lacks: left out of the fold until they arrive. */
  isPending(id: EventId): boolean;
  eventsBy(onion: OnionName): readonly SignedEvent[];
  isEquivocating(id: EventId): boolean;
  /** An accepted member.add named `onion`: from now on its events may wait for missing ancestors. */
  noteMember(onion: OnionName): void;
  /**
   * The snapshot this log starts from (snapshot/base.ts), if it does not start from the genesis:
   * the fold then begins at its state and frontier and folds only what descends from it.
   */
  readonly base?: FoldBase;
  /** Before the snapshot: an id the fold does not hold as its own (held for history only, or unknown). */
  isBefore(id: EventId): boolean;
}

/** Events of a kept fold's order resumedSteps looks up between two pauses (a few milliseconds' work). */
export const RESUME_SLICE = 16_384;

/**
 * Among events ready at once, who goes first: what takes rights or keys away (0) before what
 * uses them — governance and membership (1), then task changes (2) — so a removal racing an
 * action of the removed member is judged first on every replica. Typed over every kind: a new
 * kind must be placed here to compile.
 */
const ORDER_CLASS = {
  genesis: 0,
  'member.remove': 0,
  'role.remove': 0,
  'member.leave': 0,
  'keys.rotate': 0,
  // Takes from another pursuance what its link granted: before what might use it.
  'link.close': 0,
  'member.add': 1,
  // Takes nothing from anyone: a rename racing its author's removal loses by removal precedence.
  'member.rename': 1,
  'role.assign': 1,
  'rules.change': 1,
  'keys.share': 1,
  'relay.move': 1,
  // Where the pursuance lives, like relay.move: governance that takes no rights or keys away.
  'relay.add': 1,
  'relay.drop': 1,
  'founder.nominate': 1,
  'founder.endorse': 1,
  'founder.claim': 1,
  // Governance that grants nothing: after removals, so a profile sealed to a key a removal retired loses.
  'profile.publish': 1,
  // Governance about another pursuance: a newer key of theirs before what a credential signs.
  'link.open': 1,
  'link.keys': 1,
  'task.create': 2,
  'task.edit': 2,
  'task.assign': 2,
  'task.status': 2,
  'task.close': 2,
  'task.reopen': 2,
  'task.comment': 2,
  'task.move': 2,
  'submission.create': 2,
  // Changes nothing: a claim about the past, checked by whoever relies on it (snapshot/attest.ts).
  'snapshot.attest': 2,
  // Uses what a link grants: after link.close and link.keys, so a revocation or newer key wins.
  'link.send': 2,
  'link.task': 2,
} as const satisfies { readonly [K in EventKind]: 0 | 1 | 2 };
const CLASS = new Map<EventKind, number>(Object.entries(ORDER_CLASS) as [EventKind, number][]);
const classOf = (kind: EventKind): number => CLASS.get(kind)!;

interface ReadyItem {
  readonly cls: number;
  readonly rank: number;
  readonly id: EventId;
}
const readyLess = (a: ReadyItem, b: ReadyItem): boolean => (a.cls !== b.cls ? a.cls < b.cls : a.rank !== b.rank ? a.rank > b.rank : a.id < b.id);

/** Per-author counters indexed by author; Float64Array holds every sequence number exactly. */
type Clock = Float64Array;

function mergeInto(target: Clock, source: Clock): void {
  for (let i = 0; i < source.length; i++) if (source[i]! > target[i]!) target[i] = source[i]!;
}

/** One complete fold over the event set. */
export class FoldRun implements Causality {
  public readonly applier: Applier;
  public readonly order: EventId[] = [];
  public readonly rejections = new Map<EventId, Rejection>();
  /** Each processed event's index in `order` (by its slot in the log: positions.ts). */
  public readonly position = new Positions((id) => this.source.slotOf(id));
  /**
   * The processed events, and of them the accepted ones (every processed event is either that
   * or refused): read from `position` and `rejections`, not kept as sets of their own, which
   * were two more entries per event of a log held for good.
   */
  public readonly processed: Pick<Positions, 'has' | 'get' | 'size'> = this.position;
  public readonly accepted: EventSet = { has: (id) => this.position.has(id) && !this.rejections.has(id) };
  public readonly children = new Map<EventId, EventId[]>();
  public logHash: Uint8Array = new Uint8Array(32);
  /** Set when a removal forces a constraint on an already processed event. */
  public restartWith: Precedence | null = null;
  /** Causal clock: per author, the highest sequence number of an ACCEPTED event seen. */
  readonly #vc = new Map<EventId, Clock>();
  /** Sequence clock: per author, the highest well-sequenced (non-equivocating) event seen. */
  readonly #chain = new Map<EventId, Clock>();
  /** The latest author-claimed time among accepted events in the causal past, the event included if accepted. */
  readonly #pastTime = new Map<EventId, number>();
  readonly #authorIndex = new Map<OnionName, number>();
  /**
   * Per event, how many events of this fold name it as a real parent and are not processed yet.
   * Once none is left its clocks are dropped: every later event that names it also names (or
   * descends from) a head, whose clocks dominate its own (clocks only grow along real parent
   * edges), so merging it would change nothing. What stays are the heads' clocks: memory grows
   * with the width of the DAG, not with its length times the number of authors.
   */
  readonly #childrenLeft = new Map<EventId, number>();

  readonly #virtualParents: Map<EventId, Set<EventId>>;
  readonly #voided: ReadonlySet<EventId>;
  readonly #defeated: ReadonlyMap<EventId, EventId>;

  public constructor(
    private readonly source: FoldSource,
    state: PublicState,
    precedence: Precedence,
  ) {
    this.applier = new Applier(state, this);
    this.#virtualParents = precedence.virtual;
    this.#voided = precedence.voided;
    this.#defeated = precedence.defeated;
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
    // Every event this fold takes descends from the whole snapshot frontier, so from everything
    // before it; ids the state names (key introductions, departures) were accepted there.
    if (this.source.base && this.source.isBefore(ancestor)) return ancestor !== event.id;
    const a = this.source.event(ancestor);
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

  public *acceptedAncestors(event: SignedEvent): Generator<AcceptedAncestor> {
    const stack = [...event.parentIds];
    const seen = new Set<EventId>();
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const e = this.source.event(id);
      if (!e) continue;
      if (this.accepted.has(id)) yield { author: e.author, time: e.header.time };
      for (const p of e.parentIds) stack.push(p);
    }
    // Before the snapshot: each author's latest accepted time stands for all their events there.
    for (const [author, time] of this.source.base?.acceptedTimes ?? []) yield { author, time };
  }

  public parentsOf(id: EventId): EventId[] {
    const e = this.source.event(id)!;
    const virtual = this.#virtualParents.get(id);
    return virtual ? [...e.parentIds, ...[...virtual].filter((p) => !this.#voided.has(p))] : [...e.parentIds];
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
    if (this.source.isEquivocating(e.id)) {
      return { outcome: { ok: false, code: RejectionCode.EQUIVOCATION, reason: `${e.author} signed two events with sequence number ${e.header.seq}` }, chain };
    }
    if (e.header.seq !== seqKnown + 1) {
      return {
        outcome: { ok: false, code: RejectionCode.SEQUENCE_GAP, reason: `sequence ${e.header.seq} does not follow the author's known sequence ${seqKnown}` },
        chain,
      };
    }
    // Well sequenced: the author's chain goes on through this event whatever the rules say.
    chain[authorIdx] = e.header.seq;
    if (e.pursuanceId === null) return { outcome: { ok: false, code: RejectionCode.INVALID_GENESIS, reason: 'a pursuance has exactly one genesis' }, chain };
    const defeatedBy = this.#defeated.get(e.id);
    if (defeatedBy !== undefined) return { outcome: defeat(this.source.event(defeatedBy)!), chain };
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
    this.#releaseParents(e);
  }

  /** How many events' clocks this fold still holds (the heads, and parents of unprocessed events). */
  public retainedClocks(): number {
    return this.#vc.size;
  }

  /** Count a real parent edge of an event this fold will process (see #childrenLeft). */
  public countChild(parent: EventId): void {
    this.#childrenLeft.set(parent, (this.#childrenLeft.get(parent) ?? 0) + 1);
  }

  /**
   * `e` is processed: parents with no unprocessed child left lose their clocks. A parent not
   * counted (an event taken after the fold, always on top of every head) is released at once.
   */
  #releaseParents(e: SignedEvent): void {
    for (const p of e.parentIds) {
      const left = (this.#childrenLeft.get(p) ?? 1) - 1;
      if (left > 0) {
        this.#childrenLeft.set(p, left);
        continue;
      }
      this.#childrenLeft.delete(p);
      this.#vc.delete(p);
      this.#chain.delete(p);
      this.#pastTime.delete(p);
    }
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

  /**
   * Start from a snapshot instead of the genesis: every frontier event gets the frontier's
   * merged clocks (an event this fold takes names the whole frontier, directly or through
   * another such event, so it would merge them all anyway), and the log hash and the refusals
   * before the snapshot carry on.
   */
  public processBase(base: FoldBase): void {
    const clockOf = (counters: ReadonlyMap<OnionName, number>): Clock => {
      for (const onion of counters.keys()) this.#index(onion);
      const c = new Float64Array(this.#authorIndex.size);
      for (const [onion, seq] of counters) c[this.#authorIndex.get(onion)!] = seq;
      return c;
    };
    const vc = clockOf(base.clock);
    const chain = clockOf(base.chain);
    for (const id of base.frontier) {
      this.#vc.set(id, vc);
      this.#chain.set(id, chain);
      this.#pastTime.set(id, base.pastTime);
    }
    this.logHash = base.logHash;
    for (const [id, code] of base.rejected) this.rejections.set(id, { eventId: id, code, reason: BEFORE_SNAPSHOT_REASON });
  }

  /** What this finished run is, to go on from later without folding again (fold/checkpoint.ts). */
  public checkpointState(): FoldRunState {
    // A finished run has processed every event it counted as a child (see #childrenLeft): none is left to keep.
    if (this.restartWith || this.#childrenLeft.size > 0)
      throw new FoldCheckpointError(FoldCheckpointProblem.UNSUPPORTED, 'only a finished fold run has a checkpoint');
    return {
      order: [...this.order],
      rejections: [...this.rejections.values()],
      logHash: this.logHash,
      authors: [...this.#authorIndex.keys()],
      clocks: [...this.#vc].map(([id, vc]) => ({ id, vc: [...vc], chain: [...this.#chain.get(id)!], pastTime: this.#pastTime.get(id)! })),
      virtual: [...this.#virtualParents].map(([id, after]) => [id, [...after]] as const),
      voided: [...this.#voided],
      defeated: [...this.#defeated],
      state: encodeState(this.applier.state),
    };
  }

  /**
   * A run as `saved` left it, over `source`, which must hold the events it processed, none of
   * them waiting (the log checks the rest: PursuanceLog.resumeFold). Throws FoldCheckpointError
   * when an event it names is not held there or waits, or is named twice, or its state does not
   * decode. As steps (steps.ts): it pauses while the state decodes (decodeStateSteps) and after
   * every `every` events of the order it looks up, so a node resuming a million events' fold
   * keeps answering. It builds a new run only: nothing else is changed.
   */
  public static *resumedSteps(source: FoldSource, saved: FoldRunState, every = RESUME_SLICE): Generator<void, FoldRun> {
    let state: PublicState;
    try {
      state = yield* decodeStateSteps(saved.state);
    } catch (err) {
      if (err instanceof SnapshotError)
        throw new FoldCheckpointError(FoldCheckpointProblem.INVALID, `the fold checkpoint's state does not decode: ${err.message}`);
      throw err;
    }
    const precedence: Precedence = {
      virtual: new Map(saved.virtual.map(([id, after]) => [id, new Set(after)])),
      voided: new Set(saved.voided),
      defeated: new Map(saved.defeated),
    };
    const run = new FoldRun(source, state, precedence);
    const mismatch = (why: string): FoldCheckpointError => new FoldCheckpointError(FoldCheckpointProblem.MISMATCH, `the fold checkpoint ${why}`);
    for (const [i, id] of saved.order.entries()) {
      if (i % every === every - 1) yield;
      // The log's own id string, not the checkpoint's copy: a resumed start at a million events held ~100 MB more with copies.
      const held = source.event(id)?.id;
      if (held === undefined) throw mismatch(`folded ${id}, which the log does not hold`);
      if (source.isPending(held)) throw mismatch(`folded ${id}, which waits for ancestors here`);
      if (run.position.has(held)) throw mismatch(`folds ${id} twice`);
      run.position.set(held, i);
      run.order.push(held);
    }
    const processed = (id: EventId, what: string): EventId => {
      if (!run.position.has(id)) throw mismatch(`names ${id} (${what}), which it did not fold`);
      return id;
    };
    for (const r of saved.rejections) run.rejections.set(processed(r.eventId as EventId, 'a refusal'), r);
    run.logHash = saved.logHash;
    for (const onion of saved.authors) run.#index(onion);
    for (const c of saved.clocks) {
      processed(c.id, 'a clock');
      run.#vc.set(c.id, Float64Array.from(c.vc));
      run.#chain.set(c.id, Float64Array.from(c.chain));
      run.#pastTime.set(c.id, c.pastTime);
    }
    return run;
  }

  /** The merged causal and sequence clocks and latest causal time of `ids` (for a snapshot at them). */
  public clocksAt(ids: readonly EventId[]): { clock: Map<OnionName, number>; chain: Map<OnionName, number>; pastTime: number } {
    const vc = new Float64Array(this.#authorIndex.size);
    const chain = new Float64Array(this.#authorIndex.size);
    let pastTime = 0;
    for (const id of ids) {
      const v = this.#vc.get(id);
      const c = this.#chain.get(id);
      if (!v || !c) throw new Error(`no clocks kept for ${id}: only the heads of a fold keep theirs`);
      mergeInto(vc, v);
      mergeInto(chain, c);
      pastTime = Math.max(pastTime, this.#pastTime.get(id) ?? 0);
    }
    const named = (clock: Clock): Map<OnionName, number> => {
      const out = new Map<OnionName, number>();
      for (const [onion, i] of this.#authorIndex) if ((clock[i] ?? 0) > 0) out.set(onion, clock[i]!);
      return out;
    };
    return { clock: named(vc), chain: named(chain), pastTime };
  }

  #finish(e: SignedEvent, outcome: Outcome): void {
    if (outcome.ok) {
      this.applier.noteAccepted(e);
      if (isKind(e, 'member.add')) this.source.noteMember(onionFromPublicKey(e.header.body.member));
      this.logHash = sha256(this.logHash, Buffer.from(e.id, 'hex'));
    } else {
      this.rejections.set(e.id, { eventId: e.id, code: outcome.code, reason: outcome.reason, ...(outcome.rule ? { rule: outcome.rule } : {}) });
    }
    this.position.set(e.id, this.order.length);
    this.order.push(e.id);
  }

  #enforceRemovalPrecedence(e: SignedEvent, vc: Clock): void {
    if (!isKind(e, 'member.remove') && !isKind(e, 'role.remove')) return;
    const removed = onionFromPublicKey(e.header.body.member);
    if (removed === e.author) return;
    // A void removal (ordered after its author's own removal) orders nothing again: its edges
    // would be ignored and the fold would restart for ever. What it defeats is refused instead.
    const orders = !this.#voided.has(e.id);
    const idx = this.#authorIndex.get(removed);
    // What the remover had seen of the removed member: accepted events only (see the header).
    const cutoff = idx === undefined ? 0 : (vc[idx] ?? 0);
    // A virtual edge a late removal by the removed member put in place does not count as having
    // seen it: that removal is about to be judged after this one, as the member's other late events.
    const byRemoved = (p: EventId): boolean => this.source.event(p)?.author === removed;
    const late: EventId[] = [];
    const defeated: EventId[] = [];
    for (const x of this.source.eventsBy(removed)) {
      if (x.header.seq <= cutoff || !this.processed.has(x.id) || x.id === e.id || this.#defeated.has(x.id)) continue;
      if (orders && !this.#reaches(e.id, x.id, byRemoved)) late.push(x.id);
      // In its real past the remover saw it (it was refused then, so the clock did not count it);
      // reached only through virtual edges, it must come first and cannot count: defeated.
      else if (!this.#reaches(e.id, x.id, () => true)) defeated.push(x.id);
    }
    if (late.length === 0 && defeated.length === 0) return;
    const next = new Map([...this.#virtualParents].map(([k, v]) => [k, new Set(v)]));
    for (const x of late) {
      const set = next.get(x) ?? new Set<EventId>();
      set.add(e.id);
      next.set(x, set);
    }
    const beaten = new Map(this.#defeated);
    for (const x of defeated) beaten.set(x, e.id);
    this.restartWith = { virtual: next, voided: new Set([...this.#voided, ...late]), defeated: beaten };
  }

  /** Is `target` reachable from `from` by walking parents (real, and virtual unless `skipVirtual` says so)? */
  #reaches(from: EventId, target: EventId, skipVirtual: (parent: EventId) => boolean): boolean {
    const stack = [from];
    const seen = new Set<EventId>();
    while (stack.length) {
      const id = stack.pop()!;
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      const real = new Set(this.source.event(id)?.parentIds ?? []);
      for (const p of this.parentsOf(id)) if (this.source.event(p) && (real.has(p) || !skipVirtual(p))) stack.push(p);
    }
    return false;
  }
}

/** What a refusal from before the snapshot says: the snapshot keeps only its id and code. */
export const BEFORE_SNAPSHOT_REASON = 'refused before the snapshot this log starts from';

/** The refusal of an event its author's removal defeated without coming first (see the header, 2). */
function defeat(removal: SignedEvent): Outcome {
  const reason = `signed concurrently with the removal ${removal.id} of its author, which had not seen it`;
  return isKind(removal, 'member.remove') ? { ok: false, code: RejectionCode.NOT_A_MEMBER, reason } : { ok: false, code: RejectionCode.DENIED, reason };
}

function judgementFailed(err: unknown): Outcome {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : 'a non-error value was thrown';
  return { ok: false, code: RejectionCode.JUDGEMENT_FAILED, reason: `judging this event failed (${detail.slice(0, 200)})` };
}

/** A finished fold and the heads of what it processed (the parents of the next event). */
export interface Folded {
  readonly run: FoldRun;
  readonly heads: Set<EventId>;
}

/** Fold every event of `source` that is not pending, restarting while removals add virtual edges. */
export function fold(source: FoldSource): Folded {
  return runAtOnce(foldInSteps(source, Number.POSITIVE_INFINITY));
}

/**
 * The same fold, pausing after every `every` events it reads or processes (each pause yields
 * how many events this pass has processed so far; a restart for removal precedence starts a
 * new pass at 0), so a caller can give the event loop a turn: at a million events a fold takes
 * about a minute, and a node loading its logs keeps answering meanwhile
 * (PursuanceLog.refoldInSlices). The result is fold()'s: pausing changes when the work is
 * done, never what it finds.
 */
export function* foldInSteps(source: FoldSource, every: number): Generator<number, Folded> {
  let precedence: Precedence = { virtual: new Map(), voided: new Set(), defeated: new Map() };
  for (;;) {
    const folded = yield* foldOnce(source, precedence, every);
    if (!folded.run.restartWith) return folded;
    precedence = folded.run.restartWith;
  }
}

/**
 * Removal precedence as a fold run applies it: virtual edges (child → the removals it must come
 * after), the removals whose edges are void, and the events refused as defeated, each with the
 * removal that defeats it (see the header, 2).
 */
export interface Precedence {
  readonly virtual: Map<EventId, Set<EventId>>;
  readonly voided: ReadonlySet<EventId>;
  readonly defeated: ReadonlyMap<EventId, EventId>;
}

function initialState(source: FoldSource): PublicState {
  // Decoded afresh for every fold: the fold mutates its state, and a refold starts over.
  if (source.base) return cloneState(stateForReading(source.base.state));
  const initial = stateFromGenesis(source.genesis);
  if (!initial.ok) throw new EventRejectedError(initial.code, initial.reason);
  return initial.state;
}

function* foldOnce(source: FoldSource, precedence: Precedence, every: number): Generator<number, Folded> {
  const genesis = source.genesis;
  const base = source.base;
  const run = new FoldRun(source, initialState(source), precedence);
  const frontier = new Set(base?.frontier ?? []);
  // Parents before the snapshot that are not on its frontier are never processed: not waited for.
  const awaited = (p: EventId): boolean => !base || frontier.has(p) || !source.isBefore(p);
  // How many parents each event still waits for, by its slot: an array, not a map of a million ids.
  const waiting = slotTable();
  let sincePause = 0;
  for (const e of source.events()) {
    if (++sincePause >= every) {
      sincePause = 0;
      yield run.order.length;
    }
    if (e.id === genesis.id || source.isPending(e.id) || source.isBefore(e.id)) continue;
    const parents = run.parentsOf(e.id).filter(awaited);
    waiting.set(source.slotOf(e.id)!, parents.length);
    for (const p of new Set(e.parentIds)) run.countChild(p);
    for (const p of parents) {
      const list = run.children.get(p) ?? [];
      list.push(e.id);
      run.children.set(p, list);
    }
  }
  const heap = new MinHeap<ReadyItem>(readyLess);
  const release = (id: EventId): void => {
    for (const child of run.children.get(id) ?? []) {
      const slot = source.slotOf(child)!;
      const left = waiting.get(slot) - 1;
      waiting.set(slot, left);
      if (left === 0) {
        const c = source.event(child)!;
        heap.push({ cls: classOf(c.header.kind), rank: run.applier.rankOf(c.author), id: child });
      }
    }
  };
  if (base) {
    run.processBase(base);
    for (const id of frontier) release(id);
  } else {
    run.processGenesis(genesis);
    release(genesis.id);
  }
  for (let item = heap.pop(); item; item = heap.pop()) {
    if (++sincePause >= every) {
      sincePause = 0;
      yield run.order.length;
    }
    run.process(source.event(item.id)!);
    // Unfinished: fold() runs again with the new virtual edges, so no heads are worked out.
    if (run.restartWith) return { run, heads: new Set() };
    release(item.id);
  }
  // Only the fold itself walks the children lists.
  run.children.clear();
  // Heads follow REAL parent edges only: a virtual edge (removal precedence) is an ordering
  // constraint of the fold, not something any author named, so an author whose event got a
  // virtual child must still build on it or its next event would skip its own sequence. A walk
  // of every processed event: paused in slices too (tens of milliseconds at 100,000 events).
  const heads = new Set(frontier);
  for (const id of run.order) {
    if (++sincePause >= every) {
      sincePause = 0;
      yield run.order.length;
    }
    heads.add(id);
  }
  for (const id of run.order) {
    if (++sincePause >= every) {
      sincePause = 0;
      yield run.order.length;
    }
    for (const p of source.event(id)!.parentIds) heads.delete(p);
  }
  return { run, heads };
}

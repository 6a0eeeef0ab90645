import type { OnionName } from '@pursuance/crypto';
import type { EventId, SignedEvent } from '../envelope.js';
import { foldInSteps, type FoldSource } from '../fold/run.js';
import type { PursuanceLog } from '../log.js';
import { publicStateValue, stateHashSteps } from '../state.js';
import { runAtOnce } from '../steps.js';
import { foldedHistory, makeSnapshotSteps, MAX_FRONTIER, refusalCodes, type FoldBase, type Snapshot } from './base.js';
import { SnapshotError, SnapshotProblem } from './errors.js';
import { encodeState } from './state-codec.js';

/**
 * Taking a snapshot of a log a member holds from its genesis, at a frontier that is STABLE:
 *
 *  1. Dominance: every event the log holds beyond the frontier descends from every frontier
 *     event. Then any replay orders everything before the frontier first, so the state there
 *     is a prefix of every replica's fold, and a joiner can fold on from it.
 *  2. Nobody can still write beside it: every member of the current state has an accepted
 *     event beyond the frontier. An author's next event must have their previous one in its
 *     past (or it is a SEQUENCE_GAP), so each member's future events descend from the frontier
 *     too; only an equivocation (a second event for a sequence number already used) could
 *     land before it, and a joiner detects that (log.ts: contested).
 *
 * A log with events waiting for ancestors is never stable: what they wait for could be anywhere.
 */

/** The frontier events and all their ancestors, or why that set is no snapshot point. */
function before(log: PursuanceLog, frontier: readonly EventId[]): Set<EventId> {
  return runAtOnce(beforeSteps(log, frontier, Number.POSITIVE_INFINITY));
}

/** before() as steps (steps.ts), yielding after every `every` events walked: the whole history at a snapshot of an old pursuance. */
function* beforeSteps(log: PursuanceLog, frontier: readonly EventId[], every: number): Generator<void, Set<EventId>> {
  if (frontier.length === 0 || frontier.length > MAX_FRONTIER) throw unstable(`a frontier has 1 to ${MAX_FRONTIER} events`);
  const seen = new Set<EventId>();
  const stack = [...frontier];
  const tops = new Set(frontier);
  let sincePause = 0;
  while (stack.length) {
    if (++sincePause >= every) {
      sincePause = 0;
      yield;
    }
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    const e = log.event(id);
    if (!e || log.isPending(id)) throw unstable(`frontier ancestor ${id} is not folded here`);
    seen.add(id);
    for (const p of e.parentIds) {
      if (tops.has(p)) throw unstable('one frontier event is an ancestor of another');
      stack.push(p);
    }
  }
  return seen;
}

/**
 * The events `log` holds that a joiner starting from the snapshot at `frontier` needs: everything
 * not before it (pending events included, in case their ancestors come later).
 */
export function eventsAfter(log: PursuanceLog, frontier: readonly EventId[]): SignedEvent[] {
  const prior = before(log, frontier);
  return [...log.events()].filter((e) => !prior.has(e.id));
}

const unstable = (why: string): SnapshotError => new SnapshotError(SnapshotProblem.UNSTABLE, `not a stable frontier: ${why}`);

/** Why `frontier` is not stable in `log` (null when it is). */
export function instability(log: PursuanceLog, frontier: readonly EventId[]): string | null {
  if (log.base) return 'a log that starts from a snapshot cannot take one';
  if (log.pendingCount() > 0) return 'events are waiting for ancestors';
  let prior: Set<EventId>;
  try {
    prior = before(log, frontier);
  } catch (err) {
    return (err as Error).message;
  }
  const bit = new Map(frontier.map((id, i) => [id, 2 ** i]));
  const full = 2 ** frontier.length - 1;
  const cover = new Map<EventId, number>();
  const active = new Set<OnionName>();
  for (const id of log.order()) {
    if (prior.has(id)) continue;
    const e = log.event(id)!;
    let c = 0;
    for (const p of e.parentIds) c |= bit.get(p) ?? cover.get(p) ?? 0;
    if (c !== full) return `event ${id} does not descend from the whole frontier`;
    cover.set(id, c);
    if (log.isAccepted(id)) active.add(e.author);
  }
  for (const member of log.state().members.keys()) {
    if (!active.has(member)) return `member ${member} has no accepted event after it yet`;
  }
  return null;
}

/**
 * The newest stable frontier of `log`, among the heads of prefixes of its fold order (each such
 * prefix is closed under ancestors), or null. Members who hold the same events get the same
 * answer, which is what lets their attestations add up. Every member must have written after the
 * frontier, so only prefixes ending before each member's last accepted event (attestations
 * aside) are candidates;
 * those are tried newest first, one by one for the first 64, then ever further back (doubling
 * the step), so a history busy with concurrency costs O(n log n) at worst.
 */
export function latestStableFrontier(log: PursuanceLog, narrowest = 8): EventId[] | null {
  if (log.base || log.pendingCount() > 0) return null;
  const order = log.order();
  const lastWrote = new Map<OnionName, number>();
  // Attestations do not move the choice: vouching for a snapshot must not make the next one newer.
  order.forEach((id, i) => {
    const e = log.event(id)!;
    if (log.isAccepted(id) && e.header.kind !== 'snapshot.attest') lastWrote.set(e.author, i);
  });
  let limit = order.length;
  for (const member of log.state().members.keys()) limit = Math.min(limit, lastWrote.get(member) ?? -1);
  const heads = new Set<EventId>();
  const candidates: EventId[][] = [];
  for (let i = 0; i < limit; i++) {
    for (const p of log.event(order[i]!)!.parentIds) heads.delete(p);
    heads.add(order[i]!);
    if (heads.size <= narrowest) candidates.push([...heads].sort());
  }
  for (let i = candidates.length - 1, tries = 0, step = 1; i >= 0; i -= step, tries++) {
    if (instability(log, candidates[i]!) === null) return candidates[i]!;
    if (tries >= 64) step *= 2;
  }
  return null;
}

/** Fold only the events before a stable `frontier` and describe where a joiner can go on from. */
export function captureSnapshot(log: PursuanceLog, frontier: readonly EventId[]): Snapshot {
  const why = instability(log, frontier);
  if (why !== null) throw unstable(why.replace(/^not a stable frontier: /, ''));
  return snapshotAt(log, frontier);
}

/**
 * The snapshot at `frontier` whether or not it is stable: what a member holding the history
 * compares someone's attestation with (snapshot/verify.ts). Throws UNSTABLE only when the
 * frontier's ancestry is not all here.
 */
export function snapshotAt(log: PursuanceLog, frontier: readonly EventId[]): Snapshot {
  return runAtOnce(snapshotSteps(log, frontier, Number.POSITIVE_INFINITY));
}

/** snapshotAt as steps (steps.ts): its fold and the hash of its state pause after every `every` events or pieces. */
export function* snapshotSteps(log: PursuanceLog, frontier: readonly EventId[], every: number): Generator<unknown, Snapshot> {
  const prior = yield* beforeSteps(log, frontier, every);
  const inPrior = (e: SignedEvent): boolean => prior.has(e.id);
  const source: FoldSource = {
    genesis: log.genesis,
    event: (id) => (prior.has(id) ? log.event(id) : undefined),
    slotOf: (id) => log.slotOf(id),
    events: () => [...prior].map((id) => log.event(id)!),
    isPending: () => false,
    eventsBy: (onion) => log.eventsBy(onion).filter(inPrior),
    isEquivocating: (id) => log.isEquivocating(id),
    noteMember: () => undefined,
    isBefore: () => false,
  };
  const { run } = yield* foldInSteps(source, every);
  // A pause between each of the steps after the fold: each walks the fold's order or state once
  // (tens of milliseconds at 100,000 events; together, in one stretch, half a second).
  yield;
  const sortedFrontier = [...frontier].sort();
  const { clock, chain, pastTime } = run.clocksAt(sortedFrontier);
  yield;
  const { acceptedTimes, history } = foldedHistory(run.order, run.accepted, (id) => log.event(id)!);
  yield;
  const equivocations = log.equivocations().filter((q) => q.events.some((id) => prior.has(id)));
  const rejections = [...run.rejections.values()];
  const state = encodeState(run.applier.state);
  yield;
  const base: FoldBase = {
    frontier: sortedFrontier,
    events: prior.size,
    clock,
    chain,
    pastTime,
    acceptedTimes,
    logHash: run.logHash,
    rejected: refusalCodes(rejections),
    equivocations,
    history,
    state,
    stateHash: yield* stateHashSteps(publicStateValue(run.applier.state, run.logHash, rejections, equivocations), every),
  };
  yield;
  return yield* makeSnapshotSteps(log.id, base, every);
}

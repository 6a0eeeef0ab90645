import { toHex } from '@pursuance/crypto';
import type { EventId, SignedEvent } from '../envelope.js';
import { PursuanceLog, REFOLD_SLICE } from '../log.js';
import { runAtOnce, runInSlices } from '../steps.js';
import { snapshotAt, snapshotSteps } from './capture.js';
import { SnapshotError } from './errors.js';

/**
 * Checking a snapshot against the history itself: what makes attestation a claim anyone can
 * test rather than something to believe.
 */
export type HistoryCheck =
  | { readonly outcome: 'agrees' }
  | { readonly outcome: 'disagrees'; readonly reason: string }
  /** Not enough history here to tell (its ancestry is not all held yet). */
  | { readonly outcome: 'unknown'; readonly reason: string };

/**
 * A member holding the history judges an attestation: the snapshot at its frontier must hash
 * to what it signed. A false attestation is evidence against its author (a member publishing a
 * state that never happened).
 */
export function checkAttestation(log: PursuanceLog, attestation: SignedEvent<'snapshot.attest'>): HistoryCheck {
  const body = attestation.header.body;
  const frontier = body.frontier.map((id) => toHex(id) as EventId);
  let mine;
  try {
    mine = snapshotAt(log, frontier);
  } catch (err) {
    if (err instanceof SnapshotError) return { outcome: 'unknown', reason: err.message };
    throw err;
  }
  if (mine.base.stateHash !== toHex(body.stateHash)) {
    return {
      outcome: 'disagrees',
      reason: `the state at that frontier hashes to ${mine.base.stateHash}, not ${toHex(body.stateHash)} as ${attestation.author} signed`,
    };
  }
  if (mine.hash !== toHex(body.snapshot) || mine.base.events !== body.events) {
    return {
      outcome: 'disagrees',
      reason: `the snapshot at that frontier is ${mine.hash} over ${mine.base.events} events, not what ${attestation.author} signed`,
    };
  }
  return { outcome: 'agrees' };
}

export interface FullHistoryResult {
  readonly check: HistoryCheck;
  /** The log folded from the genesis, when all history was here: the one to keep using. */
  readonly full?: PursuanceLog;
  /** Why the full replay's state differs from the snapshot-based one although the snapshot was true. */
  readonly note?: string;
}

/**
 * Verify a log that started from a snapshot against the whole history it now holds: fold
 * every event from the genesis, recompute the snapshot at its frontier (it must be the attested
 * one, byte for byte) and compare the states now. Anything but agreement is an alarm: the
 * attesters vouched for something the history does not give, or events beside the snapshot
 * changed what it would have been.
 */
export function verifyFullHistory(based: PursuanceLog): FullHistoryResult {
  return runAtOnce(verifySteps(based, Number.POSITIVE_INFINITY));
}

/**
 * verifyFullHistory with `await pause()` after every `every` events folded or pieces hashed:
 * the two folds and three state hashes take seconds at 100,000 events, and a node runs them
 * beside its read routes. `based` must not change meanwhile (the node's one writer waits).
 */
export function verifyFullHistoryInSlices(based: PursuanceLog, pause: () => Promise<void>, every = REFOLD_SLICE): Promise<FullHistoryResult> {
  return runInSlices(verifySteps(based, every), pause);
}

function* verifySteps(based: PursuanceLog, every: number): Generator<unknown, FullHistoryResult> {
  const base = based.base;
  if (!base) return { check: { outcome: 'agrees' } };
  const full = new PursuanceLog(based.genesis);
  yield* full.addSteps(
    [...based.events()].filter((e) => e.id !== based.genesis.id),
    every,
  );
  if (full.pendingCount() > 0) {
    return { check: { outcome: 'unknown', reason: `${full.missing().length} events of the history are not here yet` } };
  }
  yield* full.refoldSteps(every);
  let at;
  try {
    at = yield* snapshotSteps(full, base.frontier, every);
  } catch (err) {
    if (err instanceof SnapshotError) return { check: { outcome: 'unknown', reason: err.message } };
    throw err;
  }
  if (at.base.stateHash !== base.stateHash) {
    const reused = based.contested().length;
    // An equivocation rejects BOTH events, the one before the frontier too: history changed under the snapshot.
    const why = reused > 0 ? ` (${reused} events reuse sequence numbers from before it: equivocation rewrote that history)` : '';
    return {
      check: { outcome: 'disagrees', reason: `the history gives state ${at.base.stateHash} at the frontier, the snapshot said ${base.stateHash}${why}` },
      full,
    };
  }
  if (at.base.events !== base.events) {
    return { check: { outcome: 'disagrees', reason: `the history has ${at.base.events} events before the frontier, the snapshot said ${base.events}` }, full };
  }
  // Byte for byte: the same state and size with other fold details (clocks, sequence chains,
  // times, refusals, the history's order) would steer the joiner's fold after the frontier.
  if (at.hash !== based.baseHash) {
    return {
      check: {
        outcome: 'disagrees',
        reason: `the history gives the snapshot ${at.hash} at the frontier, not ${based.baseHash ?? 'none'} as started from: the same state, other fold details`,
      },
      full,
    };
  }
  const now = yield* full.stateHashSteps(every);
  const was = yield* based.stateHashSteps(every);
  if (now !== was) {
    // The snapshot was true; events beside it (written on a copy from before it, or reusing a
    // sequence number from before it) are judged only by the full replay, which now takes over.
    const beside = based.concurrentWithSnapshot().length + based.contested().length;
    if (beside > 0) return { check: { outcome: 'agrees' }, full, note: `${beside} events beside the snapshot were judged by the full replay` };
    return { check: { outcome: 'disagrees', reason: `folded from the genesis the state is ${now}; from the snapshot it was ${was}` }, full };
  }
  return { check: { outcome: 'agrees' }, full };
}

import { z } from 'zod';
import { canonicalEncode, canonicalPieces, sha256, sha256Stream, strictDecode, toHex, fromHex, type CanonicalValue, type OnionName } from '@pursuance/crypto';
import { bytes } from '@pursuance/codec';
import { isTaskKind } from '../bodies.js';
import type { EventId, EventSet, PursuanceId, SignedEvent } from '../envelope.js';
import { RejectionCode, type Rejection } from '../errors.js';
import { publicStateValue, stateHash, type Equivocation } from '../state.js';
import { SnapshotError, SnapshotInvalidError, SnapshotProblem } from './errors.js';
import { stateForReading } from './state-codec.js';

/**
 * Where a fold can start instead of the genesis: the public state after every event up to a
 * frontier (the frontier events and all their ancestors, "before the snapshot"), with what the
 * fold needs to go on exactly as a full replay would:
 *
 * - the causal and sequence clocks merged over the frontier, and the latest causal time;
 * - each author's latest accepted time (the succession rules ask who was active when);
 * - the accepted-log hash, refusals and equivocations, which the state hash covers;
 * - `history`: the accepted task events and rule changes in fold order, so a member can read
 *   tasks created before the snapshot once it fetches those events (their ids are pinned here).
 *
 * A full replay orders every event before the frontier ahead of every event after it only if
 * everything after descends from the whole frontier; snapshot/capture.ts checks that ("stable").
 */
export interface FoldBase {
  readonly frontier: readonly EventId[];
  /** How many events are before the snapshot (the genesis and the frontier included). */
  readonly events: number;
  readonly clock: ReadonlyMap<OnionName, number>;
  readonly chain: ReadonlyMap<OnionName, number>;
  readonly pastTime: number;
  readonly acceptedTimes: ReadonlyMap<OnionName, number>;
  readonly logHash: Uint8Array;
  readonly rejected: readonly (readonly [EventId, RejectionCode])[];
  readonly equivocations: readonly Equivocation[];
  readonly history: readonly EventId[];
  /** The whole state (state-codec.ts). */
  readonly state: CanonicalValue;
  /** The state hash a full replay gives at the frontier (state.ts). */
  readonly stateHash: string;
}

export interface Snapshot {
  readonly pursuance: PursuanceId;
  readonly base: FoldBase;
  /** The canonical bytes and their hash: what attestations sign. */
  readonly bytes: Uint8Array;
  readonly hash: string;
}

/** At most this many frontier events: a stable frontier is narrow (a quiet moment of the DAG). */
export const MAX_FRONTIER = 32;

const counters = (map: ReadonlyMap<OnionName, number>): CanonicalValue => [...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v]);
/** Ids as one byte string, 32 bytes each: half the size of the hex, and one CBOR item however many. */
export const packIds = (ids: readonly EventId[]): Uint8Array => {
  const out = new Uint8Array(ids.length * 32);
  ids.forEach((id, i) => out.set(fromHex(id), i * 32));
  return out;
};
/** packIds' inverse, for a length its caller checked is a multiple of 32. */
export function unpackIds(packed: Uint8Array): EventId[] {
  const ids: EventId[] = [];
  for (let i = 0; i < packed.length; i += 32) ids.push(toHex(packed.subarray(i, i + 32)) as EventId);
  return ids;
}

/**
 * What a base records of a fold's events (in fold order, `accepted` among them), on top of the
 * base the fold started from if any: each author's latest accepted time, and the accepted task
 * events and rule changes a reader needs (`history`).
 */
export function foldedHistory(
  order: readonly EventId[],
  accepted: EventSet,
  event: (id: EventId) => SignedEvent,
  from?: FoldBase,
): Pick<FoldBase, 'acceptedTimes' | 'history'> {
  const acceptedTimes = new Map(from?.acceptedTimes ?? []);
  const history = [...(from?.history ?? [])];
  for (const id of order) {
    if (!accepted.has(id)) continue;
    const e = event(id);
    acceptedTimes.set(e.author, Math.max(acceptedTimes.get(e.author) ?? 0, e.header.time));
    if (isTaskKind(e.header.kind) || e.header.kind === 'rules.change') history.push(id);
  }
  return { acceptedTimes, history };
}

/** A fold's refusals as a base keeps them: id and code, by id. */
export function refusalCodes(rejections: Iterable<Rejection>): FoldBase['rejected'] {
  return [...rejections].map((r) => [r.eventId as EventId, r.code] as const).sort(([a], [b]) => (a < b ? -1 : 1));
}

export function snapshotValue(pursuance: PursuanceId, base: FoldBase): CanonicalValue {
  return {
    v: 1,
    pursuance,
    frontier: [...base.frontier],
    events: base.events,
    clock: counters(base.clock),
    chain: counters(base.chain),
    pastTime: base.pastTime,
    acceptedTimes: counters(base.acceptedTimes),
    logHash: base.logHash,
    rejected: base.rejected.map(([id, code]) => [id, code]),
    equivocations: base.equivocations.map((e) => ({ author: e.author, seq: e.seq, events: [...e.events] })),
    history: packIds(base.history),
    state: base.state,
    stateHash: base.stateHash,
  };
}

export function makeSnapshot(pursuance: PursuanceId, base: FoldBase): Snapshot {
  const bytes = canonicalEncode(snapshotValue(pursuance, base));
  return { pursuance, base, bytes, hash: toHex(sha256(bytes)) };
}

/**
 * makeSnapshot as steps (steps.ts), yielding after every `every` pieces: the same bytes,
 * encoded and hashed piece by piece (the document's fields, its state's fields, then the
 * state's lists entry by entry). At 100,000 events the document is megabytes, and encoding it
 * at once was the longest stretch of a joiner's full-history check.
 */
export function* makeSnapshotSteps(pursuance: PursuanceId, base: FoldBase, every: number): Generator<void, Snapshot> {
  const hash = sha256Stream();
  const bytes = yield* encodeInSteps(snapshotValue(pursuance, base), 3, every, (piece) => hash.update(piece));
  return { pursuance, base, bytes, hash: toHex(hash.digest()) };
}

/**
 * canonicalEncode(value) as steps (steps.ts): the same bytes, piece by piece (canonicalPieces,
 * `split` levels deep), yielding after every `every` pieces, each piece shown to `onPiece`.
 */
export function* encodeInSteps(value: CanonicalValue, split: number, every: number, onPiece?: (piece: Uint8Array) => void): Generator<void, Uint8Array> {
  const pieces: Uint8Array[] = [];
  let length = 0;
  let sincePause = 0;
  for (const piece of canonicalPieces(value, split)) {
    pieces.push(piece);
    length += piece.length;
    onPiece?.(piece);
    if (++sincePause >= every) {
      sincePause = 0;
      yield;
    }
  }
  // Not concatBytes(...pieces): a big state is more pieces than a call takes arguments.
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    bytes.set(piece, at);
    at += piece.length;
  }
  return bytes;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const onion = z.string().regex(/^[a-z2-7]{56}$/);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const counterList = z.array(z.tuple([onion, count])).max(1_000_000);
const CODES = Object.values(RejectionCode) as [RejectionCode, ...RejectionCode[]];

const DocumentSchema = z.strictObject({
  v: z.literal(1),
  pursuance: hex64,
  frontier: z.array(hex64).min(1).max(MAX_FRONTIER),
  events: count,
  clock: counterList,
  chain: counterList,
  pastTime: count,
  acceptedTimes: counterList,
  logHash: bytes(32),
  rejected: z.array(z.tuple([hex64, z.enum(CODES)])).max(10_000_000),
  equivocations: z.array(z.strictObject({ author: onion, seq: count, events: z.array(hex64).min(2).max(1000) })).max(1_000_000),
  history: z.instanceof(Uint8Array).refine((b) => b.length % 32 === 0, { message: 'history is a list of 32-byte ids' }),
  state: z.unknown(),
  stateHash: hex64,
});

function strictlySorted(values: readonly string[]): boolean {
  for (let i = 1; i < values.length; i++) if (!(values[i - 1]! < values[i]!)) return false;
  return true;
}

function counterMap(list: readonly (readonly [string, number])[], what: string): Map<OnionName, number> {
  if (!strictlySorted(list.map(([k]) => k))) throw new SnapshotInvalidError(`the snapshot's ${what} is not sorted by member`);
  return new Map(list.map(([k, v]) => [k as OnionName, v]));
}

/**
 * Read a snapshot from bytes a peer sent, given the hash its attestations sign. The hash is
 * checked first (nothing of an unattested document is parsed), then the parts, then that the
 * state it carries hashes to the state hash it claims: a document cannot pair one state with
 * another state's hash. Errors are typed (SnapshotError); nothing here throws anything else.
 */
export function readSnapshot(data: Uint8Array, expectedHash: string, pursuance: PursuanceId): Snapshot {
  const hash = toHex(sha256(data));
  if (hash !== expectedHash) throw new SnapshotError(SnapshotProblem.HASH_MISMATCH, 'the snapshot does not hash to what its attestations sign');
  let raw: CanonicalValue;
  try {
    raw = strictDecode(data);
  } catch (err) {
    throw new SnapshotInvalidError(`the snapshot is not canonical CBOR: ${(err as Error).message}`);
  }
  const parsed = DocumentSchema.safeParse(raw);
  if (!parsed.success) throw new SnapshotInvalidError(`the snapshot does not match its schema: ${parsed.error.issues[0]?.message ?? ''}`);
  const v = parsed.data;
  if (v.pursuance !== pursuance) throw new SnapshotInvalidError('the snapshot is of another pursuance');
  if (!strictlySorted(v.frontier)) throw new SnapshotInvalidError('the snapshot frontier is not a sorted list of distinct events');
  const history = unpackIds(v.history);
  if (new Set(history).size !== history.length) throw new SnapshotInvalidError('the snapshot history names an event twice');
  const base: FoldBase = {
    frontier: v.frontier as EventId[],
    events: v.events,
    clock: counterMap(v.clock, 'clock'),
    chain: counterMap(v.chain, 'sequence clock'),
    pastTime: v.pastTime,
    acceptedTimes: counterMap(v.acceptedTimes, 'activity times'),
    logHash: v.logHash,
    rejected: v.rejected as [EventId, RejectionCode][],
    equivocations: v.equivocations.map((e) => ({ author: e.author as OnionName, seq: e.seq, events: e.events as EventId[] })),
    history,
    state: v.state as CanonicalValue,
    stateHash: v.stateHash,
  };
  if (baseStateHash(base) !== base.stateHash) throw new SnapshotInvalidError('the state in the snapshot does not hash to the state hash it claims');
  return { pursuance, base, bytes: data, hash };
}

/** The state hash of a base's state, as state.ts computes it for a log that folded to it. */
export function baseStateHash(base: FoldBase): string {
  const state = stateForReading(base.state);
  const rejections = base.rejected.map(([eventId, code]) => ({ eventId, code, reason: '' }));
  return stateHash(publicStateValue(state, base.logHash, rejections, base.equivocations));
}

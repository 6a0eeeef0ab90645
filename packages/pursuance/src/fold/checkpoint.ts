import { z } from 'zod';
import { canonicalEncode, fromHex, isCanonicalMap, strictDecode, toHex, type CanonicalValue, type OnionName } from '@pursuance/crypto';
import { bytes } from '@pursuance/codec';
import type { EventId, PursuanceId } from '../envelope.js';
import { RejectionCode, type Rejection } from '../errors.js';
import { encodeInSteps, packIds, unpackIds } from '../snapshot/base.js';
import { runAtOnce } from '../steps.js';

/**
 * A fold checkpoint: a finished fold of the events a log holds, as the log's owner keeps it
 * between runs, so a restart takes the same events back and goes on from the fold instead of
 * judging every event again (at a million events, most of a minute). Unlike a snapshot
 * (snapshot/base.ts), which a joiner starts from WITHOUT the events before it, a checkpoint is
 * resumed by a log that holds exactly the events it was taken of: the log stays a full replica
 * (its order, refusals and history all there), and only the fold's work is skipped.
 *
 * Whoever stores one must keep it where only they can write (the node seals it with its events):
 * resuming trusts its contents, after checking that they describe the events the log holds (see
 * PursuanceLog.resumeFold). Any change to what the fold decides for some set of events must
 * raise FOLD_VERSION, so checkpoints of the old fold are refused and the events folded again.
 */
export const FOLD_VERSION = 2;

/**
 * A kept fold's state is stored in pieces, each its own canonical encoding: the state without
 * its tasks, then the tasks this many at a time. Read back piece by piece (readFoldCheckpointSteps),
 * a big board's state is not one pause of a second. (Version 1 stored it in one piece.)
 */
export const TASKS_PER_PIECE = 4096;
/** Ids of a kept fold's order readFoldCheckpointSteps unpacks between two pauses. */
export const READ_SLICE = 32_768;

/** What one finished fold run (fold/run.ts) is, beyond the events it read. */
export interface FoldRunState {
  readonly order: readonly EventId[];
  /** In the order the fold refused them (the state hash lists them so). */
  readonly rejections: readonly Rejection[];
  readonly logHash: Uint8Array;
  /** The clocks' authors, in the order of their index in a clock. */
  readonly authors: readonly OnionName[];
  /** The clocks the finished run still keeps: its heads'. */
  readonly clocks: readonly RetainedClock[];
  /** Removal precedence (fold/run.ts, Precedence). */
  readonly virtual: readonly (readonly [EventId, readonly EventId[]])[];
  readonly voided: readonly EventId[];
  readonly defeated: readonly (readonly [EventId, EventId])[];
  /** The public state, encoded (snapshot/state-codec.ts): a copy, not the live state. */
  readonly state: CanonicalValue;
}

export interface RetainedClock {
  readonly id: EventId;
  readonly vc: readonly number[];
  readonly chain: readonly number[];
  readonly pastTime: number;
}

export interface FoldCheckpoint {
  readonly pursuance: PursuanceId;
  /** How many events the log held, and how many of them waited for ancestors. */
  readonly held: number;
  readonly pending: number;
  readonly heads: readonly EventId[];
  /** Everyone who was a member in some folded state (who may park events that wait for ancestors). */
  readonly everNamed: readonly OnionName[];
  readonly stateHash: string;
  readonly run: FoldRunState;
}

export const FoldCheckpointProblem = {
  /** The bytes are not a checkpoint of this fold version and pursuance. */
  INVALID: 'FOLD_CHECKPOINT_INVALID',
  /** The checkpoint is not of the events the log holds. */
  MISMATCH: 'FOLD_CHECKPOINT_MISMATCH',
  /** This log cannot take or resume one (it starts from a snapshot). */
  UNSUPPORTED: 'FOLD_CHECKPOINT_UNSUPPORTED',
} as const;
export type FoldCheckpointProblem = (typeof FoldCheckpointProblem)[keyof typeof FoldCheckpointProblem];

export class FoldCheckpointError extends Error {
  public constructor(
    public readonly code: FoldCheckpointProblem,
    message: string,
  ) {
    super(message);
    this.name = 'FoldCheckpointError';
  }
}

const invalid = (why: string): FoldCheckpointError => new FoldCheckpointError(FoldCheckpointProblem.INVALID, `the fold checkpoint ${why}`);

export function encodeFoldCheckpoint(cp: FoldCheckpoint): Uint8Array {
  return runAtOnce(encodeFoldCheckpointSteps(cp, Infinity));
}

/**
 * encodeFoldCheckpoint as steps (steps.ts), yielding after each piece of the state it encodes
 * (`tasksPerPiece` tasks) and after every `every` pieces of the document: the same bytes. At a
 * million events the encoding is tens of megabytes, a second or two at once.
 */
export function* encodeFoldCheckpointSteps(cp: FoldCheckpoint, every: number, tasksPerPiece = TASKS_PER_PIECE): Generator<void, Uint8Array> {
  const { tasks, ...rest } = cp.run.state as { readonly tasks?: readonly CanonicalValue[] };
  // The run's state is encodeState's rendering, which always lists its tasks.
  if (!Array.isArray(tasks)) throw new TypeError('a fold checkpoint state without a task list');
  const state = [canonicalEncode(rest)];
  for (let at = 0; at < tasks.length; at += tasksPerPiece) {
    state.push(canonicalEncode(tasks.slice(at, at + tasksPerPiece)));
    yield;
  }
  return yield* encodeInSteps(checkpointValue(cp, state), 3, every);
}

function checkpointValue(cp: FoldCheckpoint, state: readonly Uint8Array[]): CanonicalValue {
  const r = cp.run;
  return {
    v: FOLD_VERSION,
    pursuance: cp.pursuance,
    held: cp.held,
    pending: cp.pending,
    heads: packIds(cp.heads),
    everNamed: [...cp.everNamed],
    stateHash: cp.stateHash,
    order: packIds(r.order),
    rejections: r.rejections.map((x) => [fromHex(x.eventId), x.code, x.reason, x.rule ?? null]),
    logHash: r.logHash,
    authors: [...r.authors],
    clocks: r.clocks.map((c) => [fromHex(c.id), [...c.vc], [...c.chain], c.pastTime]),
    virtual: r.virtual.map(([id, after]) => [fromHex(id), packIds(after)]),
    voided: packIds(r.voided),
    defeated: r.defeated.map(([id, by]) => [fromHex(id), fromHex(by)]),
    state: [...state],
  };
}

const id32 = bytes(32);
const idList = z.instanceof(Uint8Array).refine((b) => b.length % 32 === 0, { message: 'an id list is a whole number of 32-byte ids' });
const onion = z.string().regex(/^[a-z2-7]{56}$/);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const CODES = Object.values(RejectionCode) as [RejectionCode, ...RejectionCode[]];
const TEXT_MAX = 10_000;

const CheckpointSchema = z.strictObject({
  v: z.literal(FOLD_VERSION),
  pursuance: z.string().regex(/^[0-9a-f]{64}$/),
  held: count,
  pending: count,
  heads: idList,
  everNamed: z.array(onion).max(1_000_000),
  stateHash: z.string().regex(/^[0-9a-f]{64}$/),
  order: idList,
  rejections: z.array(z.tuple([id32, z.enum(CODES), z.string().max(TEXT_MAX), z.string().max(TEXT_MAX).nullable()])).max(100_000_000),
  logHash: id32,
  authors: z.array(onion).max(1_000_000),
  clocks: z.array(z.tuple([id32, z.array(count).max(1_000_000), z.array(count).max(1_000_000), count])).max(10_000_000),
  virtual: z.array(z.tuple([id32, idList])).max(10_000_000),
  voided: idList,
  defeated: z.array(z.tuple([id32, id32])).max(10_000_000),
  // The state without its tasks, then the tasks in pieces (TASKS_PER_PIECE); each decoded when read.
  state: z.array(z.instanceof(Uint8Array)).min(1).max(10_000_000),
});

/**
 * Read a checkpoint from the bytes its owner stored. Checks its shape (a FoldCheckpointError
 * otherwise, nothing else thrown); whether it fits the events a log holds, and its state, are
 * PursuanceLog.resumeFold's to check (the state is decoded once, there).
 */
export function readFoldCheckpoint(data: Uint8Array, pursuance: PursuanceId): FoldCheckpoint {
  return runAtOnce(readFoldCheckpointSteps(data, pursuance, Infinity));
}

/** readFoldCheckpoint as steps (steps.ts): a pause after every `every` ids of the order, and after each piece of the state. */
export function* readFoldCheckpointSteps(data: Uint8Array, pursuance: PursuanceId, every = READ_SLICE): Generator<void, FoldCheckpoint> {
  const raw = decoded(data, 'is not canonical CBOR');
  // Another version's document is named as such; anything else is the schema's to refuse.
  const version = isCanonicalMap(raw) ? raw.v : undefined;
  if (typeof version === 'number' && version !== FOLD_VERSION) throw invalid(`is of fold version ${version}, this node's fold is version ${FOLD_VERSION}`);
  const parsed = CheckpointSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`does not match its schema: ${parsed.error.issues[0]?.message ?? ''}`);
  const v = parsed.data;
  if (v.pursuance !== pursuance) throw invalid('is of another pursuance');
  yield;
  const order: EventId[] = [];
  for (let at = 0; at < v.order.length; at += 32) {
    order.push(toHex(v.order.subarray(at, at + 32)) as EventId);
    if (order.length % every === 0) yield;
  }
  const [first, ...pieces] = v.state;
  const rest = decoded(first!, 'state is not canonical CBOR');
  if (!isCanonicalMap(rest) || Object.hasOwn(rest, 'tasks')) throw invalid('state does not start with the state without its tasks');
  const tasks: CanonicalValue[] = [];
  for (const piece of pieces) {
    const some = decoded(piece, 'tasks are not canonical CBOR');
    if (!Array.isArray(some)) throw invalid('tasks are not in lists');
    for (const task of some as CanonicalValue[]) tasks.push(task);
    yield;
  }
  const hex = (b: Uint8Array): EventId => toHex(b) as EventId;
  return {
    pursuance,
    held: v.held,
    pending: v.pending,
    heads: unpackIds(v.heads),
    everNamed: v.everNamed as OnionName[],
    stateHash: v.stateHash,
    run: {
      order,
      rejections: v.rejections.map(([id, code, reason, rule]) => ({ eventId: hex(id), code, reason, ...(rule === null ? {} : { rule }) })),
      logHash: v.logHash,
      authors: v.authors as OnionName[],
      clocks: v.clocks.map(([id, vc, chain, pastTime]) => ({ id: hex(id), vc, chain, pastTime })),
      virtual: v.virtual.map(([id, after]) => [hex(id), unpackIds(after)] as const),
      voided: unpackIds(v.voided),
      defeated: v.defeated.map(([id, by]) => [hex(id), hex(by)] as const),
      state: { ...rest, tasks },
    },
  };
}

function decoded(data: Uint8Array, what: string): CanonicalValue {
  try {
    return strictDecode(data);
  } catch (err) {
    throw invalid(`${what}: ${(err as Error).message}`);
  }
}

import { toHex } from '@pursuance/crypto';
import {
  SnapshotError,
  attestationPolicy,
  checkAttestation,
  instability,
  latestStableFrontier,
  snapshotAt,
  type EventId,
  type HistoryCheck,
  type PursuanceAuthor,
  type PursuanceLog,
  type SignedEvent,
} from '@pursuance/pursuance';
import { NoStableFrontierError } from './errors.js';
import { namesOf } from './read-models.js';
import type { PursuanceEntry } from './registry.js';

/** What a joiner receives from a member (sync/snapshot-transfer.ts): raw bytes, all still to be checked. */
export interface SnapshotBundle {
  readonly genesis: Uint8Array;
  readonly snapshot: Uint8Array;
  readonly hash: string;
  readonly attestations: readonly Uint8Array[];
  readonly proofs: readonly Uint8Array[];
  readonly after: readonly Uint8Array[];
}

/**
 * This node started the pursuance from a snapshot: which, vouched for by whom, and what the
 * full history said of it once it was here (`pending` until then).
 */
export interface StartedFrom {
  readonly hash: string;
  readonly events: number;
  readonly attesters: readonly string[];
  readonly from: string;
  readonly at: number;
  readonly verified: { readonly outcome: 'pending' | 'agrees' | 'disagrees'; readonly reason: string | null; readonly at: number | null };
}

/** A snapshot this node was offered and did not start from (or none came): why. */
export interface SnapshotRefusal {
  readonly from: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

/** One snapshot some members vouched for, as GET /api/pursuances/:id/snapshots lists it. */
export interface SnapshotModel {
  /** The snapshot document's hash: what the attestations sign. */
  readonly hash: string;
  readonly frontier: readonly string[];
  /** Events before the snapshot (the genesis and the frontier included). */
  readonly events: number;
  readonly stateHash: string;
  readonly attesters: readonly { readonly onion: string; readonly name: string | null; readonly at: number; readonly eventId: string }[];
  /** Distinct attesters the rules count (eligible now: founders, or members, per the rules). */
  readonly counted: number;
  readonly enough: boolean;
  /**
   * This node's own history against the claim: `agrees`, `disagrees` (the attesters vouched for
   * a state that never happened — evidence against them) or `unknown` (history not all here).
   */
  readonly check: { readonly outcome: HistoryCheck['outcome']; readonly reason: string | null };
}

export interface SnapshotsModel {
  /** Set when this node started the pursuance from a snapshot (a joiner), else null. */
  readonly startedFrom: StartedFrom | null;
  /** Snapshots offered to this node when it joined that it did not start from, with the reason. */
  readonly refused: readonly SnapshotRefusal[];
  /** How many distinct attesters a joiner needs, and from whom (the rules' `snapshots`). */
  readonly required: number;
  readonly from: 'founders' | 'members';
  /** Newest first. */
  readonly snapshots: readonly SnapshotModel[];
}

/**
 * Checks already made against this node's history, per log and snapshot hash. Each costs a fold
 * of the history up to the frontier, so it is made once per process; `unknown` is not kept (the
 * missing history may arrive).
 */
const checked = new WeakMap<PursuanceLog, Map<string, HistoryCheck>>();

function checkOnce(log: PursuanceLog, hash: string, attestation: SignedEvent<'snapshot.attest'>): HistoryCheck {
  let byHash = checked.get(log);
  if (!byHash) checked.set(log, (byHash = new Map<string, HistoryCheck>()));
  const known = byHash.get(hash);
  if (known) return known;
  const check = checkAttestation(log, attestation);
  if (check.outcome !== 'unknown') byHash.set(hash, check);
  return check;
}

function attestations(log: PursuanceLog): SignedEvent<'snapshot.attest'>[] {
  const out: SignedEvent<'snapshot.attest'>[] = [];
  for (const id of log.order()) {
    const e = log.event(id);
    if (e?.header.kind === 'snapshot.attest' && log.isAccepted(id)) out.push(e as SignedEvent<'snapshot.attest'>);
  }
  return out;
}

export function snapshotsOf(entry: PursuanceEntry, startedFrom: StartedFrom | null = null, refused: readonly SnapshotRefusal[] = []): SnapshotsModel {
  const log = entry.log;
  const state = log.state();
  const { required, eligible } = attestationPolicy(state);
  const names = namesOf(entry);
  const byHash = new Map<string, SignedEvent<'snapshot.attest'>[]>();
  for (const a of attestations(log)) {
    const hash = toHex(a.header.body.snapshot);
    byHash.set(hash, [...(byHash.get(hash) ?? []), a]);
  }
  const snapshots = [...byHash].map(([hash, list]): SnapshotModel => {
    const first = list[0]!;
    const body = first.header.body;
    // Only attestations of the very same document count together (frontier and size included).
    const same = list.filter((a) => a.header.body.events === body.events && toHex(a.header.body.stateHash) === toHex(body.stateHash));
    const counted = new Set(same.map((a) => a.author).filter((onion) => eligible.has(onion))).size;
    const check = checkOnce(log, hash, first);
    return {
      hash,
      frontier: body.frontier.map((id) => toHex(id)),
      events: body.events,
      stateHash: toHex(body.stateHash),
      attesters: same.map((a) => ({ onion: a.author, name: names.get(a.author) ?? null, at: a.header.time, eventId: a.id })),
      counted,
      enough: counted >= required,
      check: { outcome: check.outcome, reason: check.outcome === 'agrees' ? null : check.reason },
    };
  });
  snapshots.sort((a, b) => b.events - a.events);
  return { startedFrom, refused, required, from: state.rules.snapshots?.from ?? 'founders', snapshots };
}

/**
 * What this member vouches for. Attestations only add up when they sign the very same document,
 * so a snapshot others vouched for that this history agrees with is co-signed first; otherwise
 * the newest stable point of this history. Never twice for one frontier (the earlier
 * attestation is returned).
 */
export function snapshotToAttest(entry: PursuanceEntry): { readonly existing: SignedEvent | null; readonly frontier: readonly EventId[] } {
  const log = entry.log;
  const me = entry.author.identity.onion;
  const all = attestations(log);
  const frontierOf = (a: SignedEvent<'snapshot.attest'>): EventId[] => a.header.body.frontier.map((id) => toHex(id) as EventId);
  const signedByMe = (frontier: readonly EventId[]) => all.find((a) => a.author === me && frontierOf(a).join() === frontier.join()) ?? null;
  for (const other of [...all].reverse()) {
    if (other.author === me || signedByMe(frontierOf(other))) continue;
    if (checkOnce(log, toHex(other.header.body.snapshot), other).outcome === 'agrees') return { existing: null, frontier: frontierOf(other) };
  }
  const frontier = latestStableFrontier(log);
  if (frontier === null) {
    // Said of the genesis: whoever has not written since holds every snapshot back.
    const why = instability(log, [log.genesis.id]) ?? 'no point of the history is stable (members write beside each other)';
    throw new NoStableFrontierError(why.replace(/^not a stable frontier: /, ''));
  }
  return { existing: signedByMe(frontier), frontier };
}

/** Sign an attestation of the snapshot at `frontier` (the registry's act runs this). */
export function attestAt(author: PursuanceAuthor, frontier: readonly EventId[]): SignedEvent {
  let snapshot;
  try {
    // Co-signing someone's snapshot: the frontier need not be the newest stable one, only true here.
    snapshot = snapshotAt(author.log, frontier);
  } catch (err) {
    if (err instanceof SnapshotError) throw new NoStableFrontierError(err.message.replace(/^not a stable frontier: /, ''));
    throw err;
  }
  return author.attestSnapshot(snapshot);
}

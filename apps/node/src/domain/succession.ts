import { fromHex, type OnionName } from '@pursuance/crypto';
import { signEvent, type Rejection, type SignedEvent } from '@pursuance/pursuance';
import { namesOf } from './read-models.js';
import type { PursuanceEntry } from './registry.js';

const DAY_MS = 86_400_000;

/** Why this member may not take a step now: the very code and reason the fold would give. */
export interface Refusal {
  readonly code: string;
  readonly reason: string;
}

/** An open founder nomination, as GET /api/pursuances/:id/succession lists it. */
export interface NominationModel {
  /** The nomination event's id: what endorse and claim name. */
  readonly id: string;
  readonly candidate: string;
  readonly candidateName: string | null;
  readonly nominatedBy: string;
  readonly nominatedByName: string | null;
  readonly nominatedAt: number;
  readonly endorsers: readonly { readonly onion: string; readonly name: string | null }[];
  /** Endorsements by current founders (the nominator's included), and the quorum the rules ask. */
  readonly endorsements: number;
  readonly needed: number;
  /**
   * The earliest time the nominee could claim on inactivity: the quiet period counted from the
   * nomination or the latest founder event, whichever is later (null: these rules have no
   * inactivity clause). Witnesses are still needed then (see `claim`).
   */
  readonly claimableFrom: number | null;
  /** Whether this node's member may endorse / claim now, with the fold's reason when not. */
  readonly endorse: { readonly allowed: boolean; readonly refusal: Refusal | null };
  readonly claim: { readonly allowed: boolean; readonly refusal: Refusal | null };
}

export interface SuccessionModel {
  readonly quorum: number;
  readonly inactivityDays: number | null;
  readonly amFounder: boolean;
  /** Members this node's member could nominate (none unless a founder): neither founders nor already nominated. */
  readonly nominees: readonly { readonly onion: string; readonly name: string | null }[];
  readonly nominations: readonly NominationModel[];
}

/**
 * Would the fold accept this member's `kind` event with `body` on top of the log as it is now?
 * The candidate is built as the author would build it (next sequence number, current heads,
 * this node's clock) and judged by the log's own dry run, so the answer is the fold's — never a
 * second copy of its rules. It is signed only because the core's dry run takes a signed event;
 * it is never stored or sent, and the author's next real event takes the same sequence number.
 */
export function wouldAccept<K extends 'founder.nominate' | 'founder.endorse' | 'founder.claim'>(
  entry: PursuanceEntry,
  kind: K,
  body: SignedEvent<K>['header']['body'],
  now: number,
): Refusal | null {
  const { log, author } = entry;
  const me = author.identity.onion;
  const candidate = signEvent(author.identity, {
    pursuance: fromHex(log.id),
    seq: log.lastSeq(me) + 1,
    parents: log.heads().map((id) => fromHex(id)),
    time: now,
    kind,
    audience: [],
    body,
  });
  const rejection: Rejection | null = log.dryRun(candidate);
  return rejection === null ? null : { code: rejection.code, reason: rejection.reason };
}

const step = (refusal: Refusal | null) => ({ allowed: refusal === null, refusal });

export function successionOf(entry: PursuanceEntry, me: OnionName, now: number): SuccessionModel {
  const state = entry.log.state();
  const names = namesOf(entry);
  const nameOf = (onion: string) => names.get(onion) ?? null;
  const amFounder = state.founders.has(me);
  const { quorum, inactivityDays } = state.rules.succession;
  const open = [...state.nominations.values()].filter((n) => n.open).sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
  const pending = new Set(open.map((n) => n.candidate));
  const nominations = open.map((n): NominationModel => {
    const nominatedBy = entry.log.event(n.id)!.author;
    const endorsers = [...n.endorsers].sort();
    const nomination = fromHex(n.id);
    return {
      id: n.id,
      candidate: n.candidate,
      candidateName: nameOf(n.candidate),
      nominatedBy,
      nominatedByName: nameOf(nominatedBy),
      nominatedAt: n.time,
      endorsers: endorsers.map((onion) => ({ onion, name: nameOf(onion) })),
      endorsements: endorsers.filter((f) => state.founders.has(f)).length,
      needed: quorum,
      claimableFrom: inactivityDays === null ? null : Math.max(n.time, state.lastFounderActivity) + inactivityDays * DAY_MS,
      endorse: step(wouldAccept(entry, 'founder.endorse', { nomination }, now)),
      claim: step(wouldAccept(entry, 'founder.claim', { nomination }, now)),
    };
  });
  const nominees = amFounder
    ? [...state.members.keys()]
        .filter((o) => !state.founders.has(o) && !pending.has(o))
        .sort()
        .map((onion) => ({ onion, name: nameOf(onion) }))
    : [];
  return { quorum, inactivityDays, amFounder, nominees, nominations };
}

import { fromHex, type OnionName } from '@pursuance/crypto';
import type { Rejection, SignedEvent } from '@pursuance/pursuance';
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

/** Would the fold accept this member's `kind` event with `body` now? The author's dry run decides (nothing is signed). */
export function wouldAccept<K extends 'founder.nominate' | 'founder.endorse' | 'founder.claim'>(
  entry: PursuanceEntry,
  kind: K,
  body: SignedEvent<K>['header']['body'],
): Refusal | null {
  const rejection: Rejection | null = entry.author.wouldAccept(kind, body);
  return rejection === null ? null : { code: rejection.code, reason: rejection.reason };
}

const step = (refusal: Refusal | null) => ({ allowed: refusal === null, refusal });

export function successionOf(entry: PursuanceEntry, me: OnionName): SuccessionModel {
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
      endorse: step(wouldAccept(entry, 'founder.endorse', { nomination })),
      claim: step(wouldAccept(entry, 'founder.claim', { nomination })),
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

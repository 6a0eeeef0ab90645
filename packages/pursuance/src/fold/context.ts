import type { OnionName } from '@pursuance/crypto';
import type { EventKind } from '../bodies.js';
import type { EventId, SignedEvent } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import type { Check, PursuanceAbility } from '../rules/compile.js';
import type { RoleId } from '../rules/schema.js';
import type { PublicState } from '../state.js';

/**
 * The public rules of every event kind. Judging never mutates: it returns a rejection, or
 * a commit function that applies the event. That split lets an author dry-run an event
 * against the current state before publishing it, with exactly the checks every peer runs.
 */
export type Outcome = { ok: false; code: RejectionCode; reason: string; rule?: string } | { ok: true; commit: () => void };

/** What the fold knows about causality, for staleness checks. */
export interface Causality {
  /** Is the ACCEPTED event `ancestor` in the causal past of `event` (an ancestor, not the event itself)? */
  isAncestor(event: SignedEvent, ancestor: EventId): boolean;
  /** The latest time claimed by any accepted event in the causal past of `event` (0 if none). */
  causalTime(event: SignedEvent): number;
  /**
   * Who signed accepted events in the causal past of `event`, and when they dated them (real
   * parent edges; any order). Before a snapshot, one entry per author carries their latest time.
   */
  acceptedAncestors(event: SignedEvent): Iterable<AcceptedAncestor>;
}

export interface AcceptedAncestor {
  readonly author: OnionName;
  readonly time: number;
}

/**
 * What a kind's handler sees: the state as folded so far, causality, and the author-facing
 * lookups the Applier caches. Handlers are plain functions of this, so each section of the rules
 * (fold/membership, governance, keys, tasks) lives in its own module without a class around it.
 */
export interface FoldContext {
  readonly state: PublicState;
  readonly causality: Causality;
  /** The member's compiled abilities under the current rules (cached until `invalidate`). */
  ability(onion: OnionName): PursuanceAbility;
  /** The member's roles, sorted: what a denial names as "held". */
  rolesOf(onion: OnionName): string[];
  /**
   * Is `role` declared by the CURRENT rules? The state keeps roles the rules dropped (their keys
   * are readable history), but nobody may be given one, rotate it or address new tasks to it.
   */
  declared(role: RoleId): boolean;
  /** Authority rank used to order concurrent events: founders first, then the best role held. */
  rankOf(onion: OnionName): number;
  /** Forget cached abilities: call from any commit that changes roles, founders or rules. */
  invalidate(): void;
}

/** Judges one event of kind K (its body typed by that kind's schema). */
export type Handler<K extends EventKind> = (ctx: FoldContext, e: SignedEvent<K>) => Outcome;

export const reject = (code: RejectionCode, reason: string, rule?: string): Outcome => ({ ok: false, code, reason, ...(rule ? { rule } : {}) });
export const accept = (commit: () => void): Outcome => ({ ok: true, commit });
export const denied = (check: Check & { ok: false }): Outcome => reject(RejectionCode.DENIED, check.reason, check.rule);

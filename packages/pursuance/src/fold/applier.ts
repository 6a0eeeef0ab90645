import type { OnionName } from '@pursuance/crypto';
import { isTaskKind } from '../bodies.js';
import type { SignedEvent } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { compileAbility, type PursuanceAbility } from '../rules/compile.js';
import { declaredRole, type RoleId } from '../rules/schema.js';
import type { PublicState } from '../state.js';
import { reject, type Causality, type FoldContext, type Outcome } from './context.js';
import { dispatch } from './dispatch.js';
import { rolesKnownBy } from './membership.js';

export const FOUNDER_RANK = 1000;

/**
 * The rules applied to one public state: what the fold (fold/run.ts) asks of each event, and
 * what authors and UIs ask about members (abilities, ranks, which keys someone may know). The
 * rules of each kind live in fold/membership, governance, keys and tasks; this class holds the
 * state they act on and caches members' compiled abilities between rule changes.
 */
export class Applier {
  readonly #abilities = new Map<OnionName, PursuanceAbility>();
  readonly #ctx: FoldContext;

  public constructor(
    public readonly state: PublicState,
    causality: Causality,
  ) {
    this.#ctx = {
      state,
      causality,
      ability: (onion) => this.ability(onion),
      rolesOf: (onion) => [...(state.members.get(onion)?.roles ?? [])].sort(),
      declared: (role) => declaredRole(state.rules, role) !== undefined && state.roles.has(role),
      rankOf: (onion) => this.rankOf(onion),
      invalidate: () => this.#abilities.clear(),
    };
  }

  /** Authority rank used to order concurrent events: founders first, then the best role held. */
  public rankOf(onion: OnionName): number {
    if (this.state.founders.has(onion)) return FOUNDER_RANK;
    const m = this.state.members.get(onion);
    if (!m) return -1;
    let rank = 0;
    for (const r of m.roles) rank = Math.max(rank, declaredRole(this.state.rules, r)?.rank ?? 0);
    return rank;
  }

  public ability(onion: OnionName): PursuanceAbility {
    let a = this.#abilities.get(onion);
    if (!a) {
      const m = this.state.members.get(onion);
      a = compileAbility(this.state.rules, m?.roles ?? [], this.state.founders.has(onion));
      this.#abilities.set(onion, a);
    }
    return a;
  }

  /** Validate one non-genesis event from a known author. */
  public validate(e: SignedEvent): Outcome {
    const author = e.author;
    if (!this.state.members.has(author)) return reject(RejectionCode.NOT_A_MEMBER, `${author} is not a member at this point`);
    const h = e.header;
    if (!isTaskKind(h.kind) && h.audience.length > 0) {
      return reject(RejectionCode.INVALID_SCHEMA, `${h.kind} events are public to members: audience must be empty`);
    }
    return dispatch(this.#ctx, e);
  }

  /** Founders' activity feeds the inactivity clause of succession; called for accepted events. */
  public noteAccepted(e: SignedEvent): void {
    if (this.state.founders.has(e.author)) this.state.lastFounderActivity = Math.max(this.state.lastFounderActivity, e.header.time);
  }

  /**
   * Roles whose CURRENT key `onion` may know (see fold/membership.ts): what a removal must
   * rotate, not only the roles held.
   */
  public rolesKnownBy(onion: OnionName): RoleId[] {
    return rolesKnownBy(this.state, onion);
  }
}

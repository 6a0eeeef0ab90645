import type { Capabilities } from './capabilities.js';
import type { Rules } from './rules-engine.js';
import type { RoleModel } from './types.js';

/**
 * Whether a role can take a tip now. A tip is sealed to the public halves its current key
 * published, so there must be some, and they must be the holders' own: a planted key would hand
 * the tip to whoever rotated it. After a holder left, the node refuses new content sealed to the
 * key they still hold (STALE_EPOCH), tips included, until the role is rotated.
 */
export function takesTips(role: RoleModel | undefined): boolean {
  return role !== undefined && role.publicKey && !role.plantedKey && !role.rotationDue;
}

/** The roles this member may send a tip to, split by whether each can take one now; highest rank first. */
export interface TipAudiences {
  /** Offered by the tip form. */
  readonly ready: readonly string[];
  /** The rules allow it, but the role's keys must be rotated first. */
  readonly waiting: readonly string[];
}

/**
 * `held`: the roles this member holds. A tip goes to an audience one cannot read; to a role one
 * holds, a task says the same and stays readable to its writer (founders, who may submit anywhere
 * and hold every role by default, would otherwise see the tip form in every pursuance).
 */
export function tipAudiences(rules: Rules | null, caps: Capabilities, roles: readonly RoleModel[], held: readonly string[]): TipAudiences {
  // Object.entries reads own properties only: `constructor` is a role here only when declared.
  const allowed = Object.entries(rules?.roles ?? {})
    .sort((a, b) => b[1].rank - a[1].rank)
    .map(([id]) => id)
    .filter((id) => !held.includes(id) && caps.task('submit', [id]).ok);
  const ready = allowed.filter((id) => takesTips(roles.find((r) => r.id === id)));
  return { ready, waiting: allowed.filter((id) => !ready.includes(id)) };
}

import type { MemberModel } from './types.js';

/**
 * Members among `picked` who hold none of the audience roles: the task is sealed to those roles'
 * keys, so they cannot read it even when assigned. Assigning them is allowed (they may gain a role
 * later), hence a warning, not a block.
 */
export function outsideAudience(members: readonly MemberModel[], audience: readonly string[], picked: readonly string[]): string[] {
  const byOnion = new Map(members.map((m) => [m.onion, m]));
  return picked.filter((onion) => {
    const roles = byOnion.get(onion)?.roles ?? [];
    return !roles.some((r) => audience.includes(r));
  });
}

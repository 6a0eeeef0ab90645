import { onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import type { EventId } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { PERMISSION_OF } from '../permissions.js';
import { checkPlain, checkRole } from '../rules/compile.js';
import type { RoleId } from '../rules/schema.js';
import type { MemberState, PublicState } from '../state.js';
import { accept, denied, reject, type Handler } from './context.js';
import { mayKnow } from './departures.js';
import { checkLockboxes, validateRotations, validateShares } from './keys.js';

/**
 * Membership: who is in, with which roles. A departure (removal, leaving, losing a role) marks
 * every key the one who left may know, so content sealed to those keys afterwards is refused
 * (fold/tasks.ts) until a rotation replaces them.
 */

export const memberAdd: Handler<'member.add'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const { action, subject } = PERMISSION_OF['member.add'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const onion = onionFromPublicKey(b.member);
  if (state.members.has(onion)) return reject(RejectionCode.INVALID_STATE, `${onion} is already a member`);
  const roles = [...new Set(b.roles)];
  for (const role of roles) {
    if (!ctx.declared(role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
    // Each role given on joining needs what assigning it later would.
    const c = checkRole(ctx.ability(e.author), ctx.rolesOf(e.author), PERMISSION_OF['role.assign'].action, role);
    if (!c.ok) return denied(c);
  }
  const pending = new Map<RoleId, Set<OnionName>>(roles.map((r) => [r, new Set([onion])]));
  const shares = validateShares(ctx, e, b.keys, pending);
  if (!shares.ok) return shares;
  return accept(() => {
    const member: MemberState = { onion, key: b.member, name: b.name, roles: new Set(), roleSince: new Map(), addedBy: e.id };
    state.members.set(onion, member);
    for (const role of roles) grantRole(state, member, role);
    shares.commit();
    ctx.invalidate();
  });
};

export const memberRemove: Handler<'member.remove'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const { action, subject } = PERMISSION_OF['member.remove'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const onion = onionFromPublicKey(b.member);
  const target = state.members.get(onion);
  if (!target) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} is not a member`);
  if (state.founders.has(onion)) return reject(RejectionCode.INVALID_STATE, 'founders cannot be expelled; they step down by leaving');
  const excluded = new Set([onion]);
  const rotations = validateRotations(ctx, e, b.rotations, excluded);
  if (!rotations.ok) return rotations;
  // The re-keyed Cwtch group's invite goes to the members who stay, never to the one removed.
  // Unlike a rotation's key (marked, and rotated again), a group handed to someone who left
  // cannot be taken back, so a removal racing another departure stays refused (rules/README.md).
  const badInvite = checkLockboxes(b.invites ?? [], (o) => state.members.has(o) && o !== onion, 'the re-keyed group invite');
  if (badInvite) return badInvite;
  return accept(() => {
    dropMember(state, target, e.id, new Set(b.rotations.map((r) => r.role)));
    rotations.commit();
    ctx.invalidate();
  });
};

export const memberLeave: Handler<'member.leave'> = (ctx, e) => {
  const { state } = ctx;
  const me = state.members.get(e.author)!;
  if (state.founders.has(e.author) && state.founders.size === 1) {
    return reject(RejectionCode.INVALID_STATE, 'the last founder cannot leave; designate a successor first');
  }
  return accept(() => {
    state.founders.delete(e.author);
    dropMember(state, me, e.id, new Set());
    ctx.invalidate();
  });
};

/**
 * A member sets their own display name. The body names no member, so it can only ever apply to
 * its author; Applier.validate has already refused authors who are not (or no longer) members.
 * Setting the name one already has changes nothing and is accepted: it is harmless, and a node
 * that re-sends its name (a lost store, a restart) must not see its own event refused.
 */
export const memberRename: Handler<'member.rename'> = (ctx, e) => {
  const me = ctx.state.members.get(e.author);
  if (!me) return reject(RejectionCode.NOT_A_MEMBER, `${e.author} is not a member at this point`);
  const name = e.header.body.name;
  return accept(() => {
    me.name = name;
  });
};

export const roleAssign: Handler<'role.assign'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const onion = onionFromPublicKey(b.member);
  const target = state.members.get(onion);
  if (!ctx.declared(b.role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${b.role}" does not exist`);
  const check = checkRole(ctx.ability(e.author), ctx.rolesOf(e.author), PERMISSION_OF['role.assign'].action, b.role);
  if (!check.ok) return denied(check);
  if (!target) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} is not a member`);
  if (target.roles.has(b.role)) return reject(RejectionCode.INVALID_STATE, `${onion} already holds "${b.role}"`);
  const shares = validateShares(ctx, e, b.keys, new Map([[b.role, new Set([onion])]]));
  if (!shares.ok) return shares;
  return accept(() => {
    grantRole(state, target, b.role);
    shares.commit();
    ctx.invalidate();
  });
};

export const roleRemove: Handler<'role.remove'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const onion = onionFromPublicKey(b.member);
  const target = state.members.get(onion);
  const check = checkRole(ctx.ability(e.author), ctx.rolesOf(e.author), PERMISSION_OF['role.remove'].action, b.role);
  if (!check.ok) return denied(check);
  if (!target || !target.roles.has(b.role)) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} does not hold "${b.role}"`);
  if (b.rotation && b.rotation.role !== b.role) return reject(RejectionCode.LOCKBOX_INVALID, 'the rotation must be for the role being removed');
  const rotations = validateRotations(ctx, e, b.rotation ? [b.rotation] : [], new Set([onion]));
  if (!rotations.ok) return rotations;
  return accept(() => {
    const r = state.roles.get(b.role)!;
    markLeft(state, b.role, onion, e.id);
    target.roles.delete(b.role);
    target.roleSince.delete(b.role);
    r.holders.delete(onion);
    if (!b.rotation && r.epochs.length > 0) r.rotationDueSince = e.id;
    rotations.commit();
    ctx.invalidate();
  });
};

/**
 * Roles whose CURRENT key `onion` may know: held, received by lockbox, or made by them (a
 * member may rotate a role it does not hold, and then knows the new key). A departure must
 * replace each of these keys, not only those of the roles held.
 */
export function rolesKnownBy(state: PublicState, onion: OnionName): RoleId[] {
  const out: RoleId[] = [];
  for (const [role, r] of state.roles) {
    const current = r.epochs.at(-1);
    if (r.holders.has(onion) || (current !== undefined && mayKnow(r, current, onion))) out.push(role);
  }
  return out.sort();
}

function dropMember(state: PublicState, member: MemberState, by: EventId, rotated: Set<RoleId>): void {
  for (const role of state.roles.keys()) markLeft(state, role, member.onion, by);
  for (const role of rolesKnownBy(state, member.onion)) {
    const r = state.roles.get(role)!;
    r.holders.delete(member.onion);
    if (!rotated.has(role) && r.epochs.length > 0) r.rotationDueSince = by;
  }
  state.members.delete(member.onion);
}

/** Record `by` on every key of `role` that `onion` may know (see KeyEpoch.leftBy). */
function markLeft(state: PublicState, role: RoleId, onion: OnionName, by: EventId): void {
  const r = state.roles.get(role)!;
  for (const epoch of r.epochs) if (mayKnow(r, epoch, onion)) epoch.leftBy.push(by);
}

function grantRole(state: PublicState, member: MemberState, role: RoleId): void {
  const r = state.roles.get(role)!;
  member.roles.add(role);
  member.roleSince.set(role, Math.max(0, r.epochs.length - 1));
  r.holders.add(member.onion);
}

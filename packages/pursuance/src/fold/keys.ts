import { onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import type { InviteLockbox, Lockbox, Rotation, Share } from '../bodies.js';
import type { EventId, SignedEvent } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { epochPub, rolePubProblem } from '../keys.js';
import { PERMISSION_OF } from '../permissions.js';
import { checkRole } from '../rules/compile.js';
import { declaredRole, type RoleId } from '../rules/schema.js';
import { accept, denied, reject, type FoldContext, type Handler, type Outcome } from './context.js';
import { unseenDepartures } from './departures.js';

/**
 * Keys: rotations introduce a role's new key, shares hand an existing key to holders who lack
 * it. Membership events carry rotations and shares too, so the checks live here as functions
 * the membership handlers call.
 */

/** Rotating a role's keys, whichever event carries the rotation. */
const ROTATE = PERMISSION_OF['keys.rotate'].action;

export const keysRotate: Handler<'keys.rotate'> = (ctx, e) => validateRotations(ctx, e, e.header.body.rotations, new Set());

export const keysShare: Handler<'keys.share'> = (ctx, e) => validateShares(ctx, e, e.header.body.shares, new Map());

/** One lockbox per recipient, each to someone `allowed`; null when they all are. */
export function checkLockboxes(lockboxes: readonly (Lockbox | InviteLockbox)[], allowed: (onion: OnionName) => boolean, what: string): Outcome | null {
  const seen = new Set<string>();
  for (const lb of lockboxes) {
    const onion = onionFromPublicKey(lb.to);
    if (seen.has(onion)) return reject(RejectionCode.LOCKBOX_INVALID, `two lockboxes for ${onion} in ${what}`);
    seen.add(onion);
    if (!allowed(onion)) return reject(RejectionCode.LOCKBOX_INVALID, `${onion} may not receive ${what}`);
  }
  return null;
}

/**
 * Rotations: authorised, one per role, lockboxes only to holders (minus `excluded`), or to
 * someone who left in a departure the author had not seen (fold/departures.ts). Such a
 * rotation stands, but its key is marked as known to whoever left (KeyEpoch.leftBy: content
 * sealed to it by an author who saw the departure is refused) and the role is due for another
 * rotation. Refusing it instead would let a concurrent departure undo the removal carrying it.
 */
export function validateRotations(ctx: FoldContext, e: SignedEvent, rotations: readonly Rotation[], excluded: Set<OnionName>): Outcome {
  const { state } = ctx;
  const roles = new Set<string>();
  const leaks = new Map<RoleId, Set<EventId>>();
  for (const rot of rotations) {
    if (roles.has(rot.role)) return reject(RejectionCode.LOCKBOX_INVALID, `two rotations of "${rot.role}" in one event`);
    roles.add(rot.role);
    const r = ctx.declared(rot.role) ? state.roles.get(rot.role) : undefined;
    if (!r) return reject(RejectionCode.UNKNOWN_TARGET, `role "${rot.role}" does not exist`);
    const check = checkRole(ctx.ability(e.author), ctx.rolesOf(e.author), ROTATE, rot.role);
    if (!check.ok) return denied(check);
    if (r.epochsById.has(toHex(rot.keyId))) return reject(RejectionCode.LOCKBOX_INVALID, `key id reused for "${rot.role}"`);
    const pubProblem = rot.pub ? rolePubProblem(rot.pub, state.id, rot.role, rot.keyId) : null;
    if (pubProblem) return reject(RejectionCode.LOCKBOX_INVALID, `new key of "${rot.role}": ${pubProblem}`);
    const leaked = new Set<EventId>();
    const allowed = (o: OnionName): boolean => {
      if (excluded.has(o)) return false;
      if (r.holders.has(o)) return true;
      const unseen = unseenDepartures(ctx, e, r, o);
      for (const d of unseen) leaked.add(d);
      return unseen.length > 0;
    };
    const bad = checkLockboxes(rot.lockboxes, allowed, `the new key of "${rot.role}"`);
    if (bad) return bad;
    if (leaked.size > 0) leaks.set(rot.role, leaked);
  }
  return accept(() => {
    for (const rot of rotations) {
      const r = state.roles.get(rot.role)!;
      const keyIdHex = toHex(rot.keyId);
      const recipients = new Set(rot.lockboxes.map((l) => onionFromPublicKey(l.to)));
      const leftBy = [...(leaks.get(rot.role) ?? [])];
      const epoch = { epoch: r.epochs.length, keyId: rot.keyId, keyIdHex, introducedBy: e.id, creator: e.author, recipients, leftBy, ...epochPub(rot) };
      r.epochs.push(epoch);
      r.epochsById.set(keyIdHex, epoch);
      r.rotationDueSince = leftBy[0] ?? null;
    }
  });
}

/**
 * Shares: an existing key, to current holders of its role (plus `pending` new holders), and
 * an older epoch only to someone who held the role then or where the role reads history.
 */
export function validateShares(ctx: FoldContext, e: SignedEvent, shares: readonly Share[], pending: Map<RoleId, Set<OnionName>>): Outcome {
  const { state } = ctx;
  for (const share of shares) {
    const r = state.roles.get(share.role);
    if (!r) return reject(RejectionCode.UNKNOWN_TARGET, `role "${share.role}" does not exist`);
    const epoch = r.epochsById.get(toHex(share.keyId));
    if (!epoch) return reject(RejectionCode.UNKNOWN_KEY, `no rotation introduced this key for "${share.role}"`);
    const sharer = state.members.get(e.author)!;
    const mayRotate = checkRole(ctx.ability(e.author), ctx.rolesOf(e.author), ROTATE, share.role).ok;
    if (!sharer.roles.has(share.role) && !mayRotate) {
      return reject(RejectionCode.DENIED, `only holders of "${share.role}" or those who may rotate its keys share its keys`);
    }
    const readsHistory = declaredRole(state.rules, share.role)?.history === 'all';
    const current = r.epochs.length - 1;
    const allowed = (onion: OnionName): boolean => {
      const isPending = pending.get(share.role)?.has(onion) ?? false;
      if (!r.holders.has(onion) && !isPending) return false;
      if (epoch.epoch === current || readsHistory) return true;
      const since = isPending ? current : (state.members.get(onion)?.roleSince.get(share.role) ?? current);
      // They held the role during this epoch if it was current when they got the role, or later.
      return epoch.epoch >= since;
    };
    const bad = checkLockboxes(share.lockboxes, allowed, `key epoch ${epoch.epoch} of "${share.role}"`);
    if (bad) return bad;
  }
  return accept(() => {
    for (const share of shares) {
      const epoch = state.roles.get(share.role)!.epochsById.get(toHex(share.keyId))!;
      for (const lb of share.lockboxes) epoch.recipients.add(onionFromPublicKey(lb.to));
    }
  });
}

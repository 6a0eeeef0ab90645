import { equalBytes, toHex } from '@pursuance/crypto';
import { DAY_MS } from '../bodies.js';
import { RejectionCode } from '../errors.js';
import { PERMISSION_OF } from '../permissions.js';
import { PROFILE_MAX_DAYS, profileProblem } from '../profile.js';
import { checkPlain } from '../rules/compile.js';
import { accept, denied, reject, type Handler } from './context.js';
import { staleEpoch } from './tasks.js';

/**
 * The pursuance's public profile (profile.ts): where strangers ask to join. Publishing one is a
 * standing invitation, so it takes the right to invite. The fold checks what a stranger cannot:
 * that the profile is for this pursuance, signed by the role key of an epoch the role really
 * has (the one its author knew as current, as for any content sealed to a role), that the author
 * holds that role (whoever reads the inbox is its holders), and that it expires within
 * PROFILE_MAX_DAYS of the event's time. A later profile replaces it; null withdraws it.
 */
export const profilePublish: Handler<'profile.publish'> = (ctx, e) => {
  const { state } = ctx;
  const { action, subject } = PERMISSION_OF['profile.publish'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const p = e.header.body.profile;
  if (p === null) {
    if (!state.profile) return reject(RejectionCode.INVALID_STATE, 'there is no profile to withdraw');
    return accept(() => {
      state.profile = undefined;
    });
  }
  if (p.pursuance !== state.id) return reject(RejectionCode.WRONG_PURSUANCE, 'the profile names another pursuance');
  if (!ctx.declared(p.role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${p.role}" does not exist`);
  const r = state.roles.get(p.role)!;
  if (!r.holders.has(e.author)) return reject(RejectionCode.DENIED, `only a holder of "${p.role}" may publish a profile whose requests it reads`);
  const epoch = r.epochsById.get(toHex(p.keyId));
  if (!epoch?.pub) return reject(RejectionCode.UNKNOWN_KEY, `no rotation published this public key for "${p.role}"`);
  if (!equalBytes(epoch.pub.sig, p.pub.sig) || !equalBytes(epoch.pub.box, p.pub.box)) {
    return reject(RejectionCode.UNKNOWN_KEY, `the profile's keys are not the ones "${p.role}" published for this epoch`);
  }
  const stale = staleEpoch(ctx, e, r, epoch);
  if (stale) return stale;
  const problem = profileProblem(p);
  if (problem !== null) return reject(RejectionCode.BAD_SIGNATURE, `the profile is invalid: ${problem}`);
  const time = e.header.time;
  if (p.validUntil <= time || p.validUntil > (Math.floor(time / DAY_MS) + PROFILE_MAX_DAYS) * DAY_MS) {
    return reject(RejectionCode.INVALID_SCHEMA, `a profile expires after it is published and within ${PROFILE_MAX_DAYS} days of it`);
  }
  return accept(() => {
    state.profile = { profile: p, by: e.id };
  });
};

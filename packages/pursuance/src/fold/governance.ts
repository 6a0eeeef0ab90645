import { onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import { MAX_RELAY_MIRRORS } from '../bodies.js';
import type { EventId } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { PERMISSION_OF } from '../permissions.js';
import { allows, checkPlain, checkRole, compileAbility, permissionUniverse } from '../rules/compile.js';
import { declaredRole } from '../rules/schema.js';
import { newRoleState } from '../state.js';
import { accept, denied, reject, type FoldContext, type Handler } from './context.js';
import { checkLockboxes } from './keys.js';

/**
 * Governance: the rules themselves, the relay, and founder succession. These decide who holds
 * power, so a rules change is checked for escalation and succession needs witnesses.
 */

const DAY_MS = 86_400_000;
/**
 * Succession by inactivity (see rules/README.md): a claim may be dated at most this far past
 * the latest time in its causal past, and needs this many witnesses — members at nomination
 * time, neither founders nor the nominee — whose accepted events in the claim's causal past are
 * dated after the quiet period. Time an author claims alone never proves anyone's absence.
 */
export const CLAIM_MAX_SKEW_MS = 3_600_000;
export const SUCCESSION_WITNESSES = 2;

export const rulesChange: Handler<'rules.change'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const mine = ctx.ability(e.author);
  const { action, subject } = PERMISSION_OF['rules.change'];
  const check = checkPlain(mine, ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  if (!state.founders.has(e.author)) {
    // Dropping a role takes it from every holder: only someone who may remove it may drop it.
    for (const roleId of Object.keys(state.rules.roles).sort()) {
      if (declaredRole(b.rules, roleId) || checkRole(mine, ctx.rolesOf(e.author), PERMISSION_OF['role.remove'].action, roleId).ok) continue;
      return reject(RejectionCode.ESCALATION, `the new rules would drop role "${roleId}" from its holders, which you may not remove yourself`);
    }
    // No escalation: new rules may not grant any role a permission the author lacks now.
    for (const roleId of Object.keys(b.rules.roles)) {
      const granted = compileAbility(b.rules, [roleId], false);
      for (const p of permissionUniverse(b.rules)) {
        if (allows(granted, p) && !allows(mine, p)) {
          return reject(
            RejectionCode.ESCALATION,
            `the new rules would let role "${roleId}" ${p[0]} ${p[1]}${p[2] === '*' ? '' : ` "${p[2]}"`}, which you may not do yourself`,
          );
        }
      }
    }
    // Ranks (who wins conflicts), history access and succession shape who holds power and
    // who reads what; only founders change them.
    const old = state.rules;
    if (JSON.stringify(old.succession) !== JSON.stringify(b.rules.succession)) {
      return reject(RejectionCode.ESCALATION, 'only founders change the succession rules');
    }
    for (const [roleId, role] of Object.entries(b.rules.roles)) {
      const before = declaredRole(old, roleId);
      if (before ? before.rank !== role.rank || before.history !== role.history : role.rank >= ctx.rankOf(e.author)) {
        return reject(
          RejectionCode.ESCALATION,
          `only founders change the rank or history access of role "${roleId}" (or create roles ranked at or above their own)`,
        );
      }
    }
  }
  return accept(() => {
    state.rules = b.rules;
    state.rulesRevision += 1;
    for (const roleId of Object.keys(b.rules.roles)) if (!state.roles.has(roleId)) state.roles.set(roleId, newRoleState(roleId));
    for (const [roleId, r] of [...state.roles]) {
      if (declaredRole(b.rules, roleId)) continue;
      // A role the rules no longer declare: holders lose it; its keys stay readable history.
      for (const onion of r.holders) state.members.get(onion)?.roles.delete(roleId);
      r.holders.clear();
    }
    ctx.invalidate();
  });
};

export const relayMove: Handler<'relay.move'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const { action, subject } = PERMISSION_OF['relay.move'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const bad = checkLockboxes(b.invites, (o) => state.members.has(o), 'the new group invite');
  if (bad) return bad;
  return accept(() => {
    // A listed mirror that becomes the relay leaves the list; the old relay does not become one.
    state.relay = { bundle: b.bundle, movedBy: e.id, mirrors: state.relay.mirrors.filter((m) => m !== b.bundle) };
  });
};

/**
 * Mirror relays (state.ts RelayState): listing or dropping one changes where the pursuance lives,
 * so it needs what a move needs. Bundles are opaque strings, compared whole and never parsed.
 */
export const relayAdd: Handler<'relay.add'> = (ctx, e) => {
  const { state } = ctx;
  const { bundle } = e.header.body;
  const { action, subject } = PERMISSION_OF['relay.add'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  const { mirrors } = state.relay;
  if (bundle === state.relay.bundle) return reject(RejectionCode.INVALID_STATE, 'that bundle is the relay itself, not a mirror');
  if (mirrors.includes(bundle)) return reject(RejectionCode.INVALID_STATE, 'that relay is already a mirror');
  if (mirrors.length >= MAX_RELAY_MIRRORS) {
    return reject(RejectionCode.INVALID_STATE, `a pursuance lists at most ${MAX_RELAY_MIRRORS} mirror relays: drop one first`);
  }
  return accept(() => {
    state.relay = { ...state.relay, mirrors: [...state.relay.mirrors, bundle] };
  });
};

export const relayDrop: Handler<'relay.drop'> = (ctx, e) => {
  const { state } = ctx;
  const { bundle } = e.header.body;
  const { action, subject } = PERMISSION_OF['relay.drop'];
  const check = checkPlain(ctx.ability(e.author), ctx.rolesOf(e.author), action, subject);
  if (!check.ok) return denied(check);
  if (bundle === state.relay.bundle) return reject(RejectionCode.INVALID_STATE, 'that bundle is the relay itself, which cannot be dropped: move instead');
  if (!state.relay.mirrors.includes(bundle)) return reject(RejectionCode.UNKNOWN_TARGET, 'that relay is not a listed mirror');
  return accept(() => {
    state.relay = { ...state.relay, mirrors: state.relay.mirrors.filter((m) => m !== bundle) };
  });
};

function promote(ctx: FoldContext, candidate: OnionName, nominationId: EventId): void {
  ctx.state.founders.add(candidate);
  ctx.state.nominations.get(nominationId)!.open = false;
  ctx.invalidate();
}

export const nominate: Handler<'founder.nominate'> = (ctx, e) => {
  const { state } = ctx;
  if (!state.founders.has(e.author)) return reject(RejectionCode.DENIED, 'only founders nominate founders');
  const candidate = onionFromPublicKey(e.header.body.candidate);
  if (!state.members.has(candidate)) return reject(RejectionCode.UNKNOWN_TARGET, `${candidate} is not a member`);
  if (state.founders.has(candidate)) return reject(RejectionCode.INVALID_STATE, `${candidate} is already a founder`);
  return accept(() => {
    const electorate = new Set(state.members.keys());
    state.nominations.set(e.id, { id: e.id, candidate, time: e.header.time, electorate, endorsers: new Set([e.author]), open: true });
    if (state.rules.succession.quorum <= 1) promote(ctx, candidate, e.id);
  });
};

export const endorse: Handler<'founder.endorse'> = (ctx, e) => {
  const { state } = ctx;
  if (!state.founders.has(e.author)) return reject(RejectionCode.DENIED, 'only founders endorse a nomination');
  const n = state.nominations.get(toHex(e.header.body.nomination) as EventId);
  if (!n || !n.open) return reject(RejectionCode.UNKNOWN_TARGET, 'no open nomination with that id');
  if (n.endorsers.has(e.author)) return reject(RejectionCode.INVALID_STATE, 'already endorsed');
  return accept(() => {
    n.endorsers.add(e.author);
    const valid = [...n.endorsers].filter((f) => state.founders.has(f)).length;
    if (valid >= state.rules.succession.quorum && state.members.has(n.candidate)) promote(ctx, n.candidate, n.id);
  });
};

export const claim: Handler<'founder.claim'> = (ctx, e) => {
  const { state, causality } = ctx;
  const n = state.nominations.get(toHex(e.header.body.nomination) as EventId);
  if (!n || !n.open) return reject(RejectionCode.UNKNOWN_TARGET, 'no open nomination with that id');
  if (n.candidate !== e.author) return reject(RejectionCode.DENIED, 'only the nominee claims a nomination');
  const days = state.rules.succession.inactivityDays;
  if (days === null) return reject(RejectionCode.DENIED, 'these rules have no inactivity clause');
  const past = causality.causalTime(e);
  if (e.header.time > past + CLAIM_MAX_SKEW_MS) {
    return reject(RejectionCode.INVALID_STATE, 'the claim is dated ahead of everything it has seen: time its author claims alone proves nothing');
  }
  // Inactivity is shown by others: members who were there at the nomination, are neither
  // founders nor the nominee, and signed accepted events, seen by the claim, dated after the
  // quiet period. Founders' own events in between count as activity (lastFounderActivity).
  const since = Math.max(n.time, state.lastFounderActivity) + days * DAY_MS;
  const witnesses = new Set<OnionName>();
  for (const a of causality.acceptedAncestors(e)) {
    if (a.time < since || a.author === e.author || state.founders.has(a.author) || !n.electorate.has(a.author)) continue;
    witnesses.add(a.author);
    if (witnesses.size >= SUCCESSION_WITNESSES) break;
  }
  if (witnesses.size < SUCCESSION_WITNESSES) {
    return reject(
      RejectionCode.INVALID_STATE,
      `founders were active within the last ${days} days, as far as the claim shows: it needs events from ${SUCCESSION_WITNESSES} other members dated after the quiet period`,
    );
  }
  return accept(() => promote(ctx, n.candidate, n.id));
};

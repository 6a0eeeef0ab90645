import { equalBytes, onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import type { InviteLockbox, Lockbox, Rotation, Sealed, Share } from './bodies.js';
import type { EventId, SignedEvent } from './envelope.js';
import { RejectionCode } from './errors.js';
import { allows, checkPlain, checkRole, checkTask, compileAbility, permissionUniverse, type Check, type PursuanceAbility } from './rules/compile.js';
import { declaredRole, type RoleId, type Rules, type TaskAction } from './rules/schema.js';
import { newRoleState, type KeyEpoch, type MemberState, type PublicState, type RoleState } from './state.js';

/**
 * The public rules of every event kind. `validate` never mutates: it returns a rejection, or
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
  /** Every accepted event in the causal past of `event` (real parent edges; any order). */
  acceptedAncestors(event: SignedEvent): Iterable<SignedEvent>;
}

const FOUNDER_RANK = 1000;
const DAY_MS = 86_400_000;
/**
 * Succession by inactivity (see rules/README.md): a claim may be dated at most this far past
 * the latest time in its causal past, and needs this many witnesses — members at nomination
 * time, neither founders nor the nominee — whose accepted events in the claim's causal past are
 * dated after the quiet period. Time an author claims alone never proves anyone's absence.
 */
export const CLAIM_MAX_SKEW_MS = 3_600_000;
export const SUCCESSION_WITNESSES = 2;

/** The capability each sealed task event needs (reopening needs `close`), shared with the author. */
export const TASK_ACTION_OF = new Map<string, TaskAction>([
  ['task.create', 'create'],
  ['task.edit', 'edit'],
  ['task.assign', 'assign'],
  ['task.status', 'transition'],
  ['task.close', 'close'],
  ['task.reopen', 'close'],
  ['task.comment', 'comment'],
  ['task.move', 'edit'],
]);

const reject = (code: RejectionCode, reason: string, rule?: string): Outcome => ({ ok: false, code, reason, ...(rule ? { rule } : {}) });
const accept = (commit: () => void): Outcome => ({ ok: true, commit });
const denied = (check: Check & { ok: false }): Outcome => reject(RejectionCode.DENIED, check.reason, check.rule);

export class Applier {
  readonly #abilities = new Map<OnionName, PursuanceAbility>();

  public constructor(
    public readonly state: PublicState,
    private readonly causality: Causality,
  ) {}

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

  #rolesOf(onion: OnionName): string[] {
    return [...(this.state.members.get(onion)?.roles ?? [])].sort();
  }

  /**
   * Is `role` declared by the CURRENT rules? The state keeps roles the rules dropped (their keys
   * are readable history), but nobody may be given one, rotate it or address new tasks to it.
   */
  #declared(role: RoleId): boolean {
    return declaredRole(this.state.rules, role) !== undefined && this.state.roles.has(role);
  }

  #invalidate(): void {
    this.#abilities.clear();
  }

  /** Validate one non-genesis event from a known author. */
  public validate(e: SignedEvent): Outcome {
    const author = e.author;
    if (!this.state.members.has(author)) return reject(RejectionCode.NOT_A_MEMBER, `${author} is not a member at this point`);
    const h = e.header;
    const body = h.body as never;
    if (h.kind !== 'task.create' && !h.kind.startsWith('task.') && h.audience.length > 0) {
      return reject(RejectionCode.INVALID_SCHEMA, `${h.kind} events are public to members: audience must be empty`);
    }
    switch (h.kind) {
      case 'genesis':
        return reject(RejectionCode.INVALID_GENESIS, 'a pursuance has exactly one genesis');
      case 'member.add':
        return this.#memberAdd(e, body);
      case 'member.remove':
        return this.#memberRemove(e, body);
      case 'member.leave':
        return this.#memberLeave(e);
      case 'role.assign':
        return this.#roleAssign(e, body);
      case 'role.remove':
        return this.#roleRemove(e, body);
      case 'rules.change':
        return this.#rulesChange(e, body);
      case 'keys.rotate':
        return this.#keysRotate(e, body);
      case 'keys.share':
        return this.#keysShare(e, body);
      case 'relay.move':
        return this.#relayMove(e, body);
      case 'founder.nominate':
        return this.#nominate(e, body);
      case 'founder.endorse':
        return this.#endorse(e, body);
      case 'founder.claim':
        return this.#claim(e, body);
      case 'task.create':
        return this.#taskCreate(e, body);
      case 'task.move':
        return this.#taskMove(e, body);
      default:
        return this.#taskContent(e, body);
    }
  }

  /** Founders' activity feeds the inactivity clause of succession; called for accepted events. */
  public noteAccepted(e: SignedEvent): void {
    if (this.state.founders.has(e.author)) this.state.lastFounderActivity = Math.max(this.state.lastFounderActivity, e.header.time);
  }

  // --- membership ---------------------------------------------------------------------

  #memberAdd(e: SignedEvent, b: { member: Uint8Array; name?: string; roles: RoleId[]; keys: Share[] }): Outcome {
    const check = checkPlain(this.ability(e.author), this.#rolesOf(e.author), 'invite', 'Member');
    if (!check.ok) return denied(check);
    const onion = onionFromPublicKey(b.member);
    if (this.state.members.has(onion)) return reject(RejectionCode.INVALID_STATE, `${onion} is already a member`);
    const roles = [...new Set(b.roles)];
    for (const role of roles) {
      if (!this.#declared(role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
      const c = checkRole(this.ability(e.author), this.#rolesOf(e.author), 'assign', role);
      if (!c.ok) return denied(c);
    }
    const pending = new Map<RoleId, Set<OnionName>>(roles.map((r) => [r, new Set([onion])]));
    const shares = this.#validateShares(e, b.keys, pending);
    if (!shares.ok) return shares;
    return accept(() => {
      const member: MemberState = { onion, key: b.member, name: b.name, roles: new Set(), roleSince: new Map(), addedBy: e.id };
      this.state.members.set(onion, member);
      for (const role of roles) this.#grantRole(member, role);
      shares.commit();
      this.#invalidate();
    });
  }

  #memberRemove(e: SignedEvent, b: { member: Uint8Array; rotations: Rotation[]; invites?: InviteLockbox[] | undefined }): Outcome {
    const check = checkPlain(this.ability(e.author), this.#rolesOf(e.author), 'expel', 'Member');
    if (!check.ok) return denied(check);
    const onion = onionFromPublicKey(b.member);
    const target = this.state.members.get(onion);
    if (!target) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} is not a member`);
    if (this.state.founders.has(onion)) return reject(RejectionCode.INVALID_STATE, 'founders cannot be expelled; they step down by leaving');
    const excluded = new Set([onion]);
    const rotations = this.#validateRotations(e, b.rotations, excluded);
    if (!rotations.ok) return rotations;
    // The re-keyed Cwtch group's invite goes to the members who stay, never to the one removed.
    const badInvite = this.#checkLockboxes(b.invites ?? [], (o) => this.state.members.has(o) && o !== onion, 'the re-keyed group invite');
    if (badInvite) return badInvite;
    return accept(() => {
      this.#dropMember(target, e.id, new Set(b.rotations.map((r) => r.role)));
      rotations.commit();
      this.#invalidate();
    });
  }

  #memberLeave(e: SignedEvent): Outcome {
    const me = this.state.members.get(e.author)!;
    if (this.state.founders.has(e.author) && this.state.founders.size === 1) {
      return reject(RejectionCode.INVALID_STATE, 'the last founder cannot leave; designate a successor first');
    }
    return accept(() => {
      this.state.founders.delete(e.author);
      this.#dropMember(me, e.id, new Set());
      this.#invalidate();
    });
  }

  /**
   * Roles whose CURRENT key `onion` may know: held, received by lockbox, or made by them (a
   * member may rotate a role it does not hold, and then knows the new key). A departure must
   * replace each of these keys, not only those of the roles held.
   */
  public rolesKnownBy(onion: OnionName): RoleId[] {
    const out: RoleId[] = [];
    for (const [role, r] of this.state.roles) {
      const current = r.epochs.at(-1);
      if (r.holders.has(onion) || (current !== undefined && mayKnow(r, current, onion))) out.push(role);
    }
    return out.sort();
  }

  #dropMember(member: MemberState, by: EventId, rotated: Set<RoleId>): void {
    for (const role of this.state.roles.keys()) this.#markLeft(role, member.onion, by);
    for (const role of this.rolesKnownBy(member.onion)) {
      const r = this.state.roles.get(role)!;
      r.holders.delete(member.onion);
      if (!rotated.has(role) && r.epochs.length > 0) r.rotationDueSince = by;
    }
    this.state.members.delete(member.onion);
  }

  /** Record `by` on every key of `role` that `onion` may know (see KeyEpoch.leftBy). */
  #markLeft(role: RoleId, onion: OnionName, by: EventId): void {
    const r = this.state.roles.get(role)!;
    for (const epoch of r.epochs) if (mayKnow(r, epoch, onion)) epoch.leftBy.push(by);
  }

  #grantRole(member: MemberState, role: RoleId): void {
    const r = this.state.roles.get(role)!;
    member.roles.add(role);
    member.roleSince.set(role, Math.max(0, r.epochs.length - 1));
    r.holders.add(member.onion);
  }

  #roleAssign(e: SignedEvent, b: { member: Uint8Array; role: RoleId; keys: Share[] }): Outcome {
    const onion = onionFromPublicKey(b.member);
    const target = this.state.members.get(onion);
    if (!this.#declared(b.role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${b.role}" does not exist`);
    const check = checkRole(this.ability(e.author), this.#rolesOf(e.author), 'assign', b.role);
    if (!check.ok) return denied(check);
    if (!target) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} is not a member`);
    if (target.roles.has(b.role)) return reject(RejectionCode.INVALID_STATE, `${onion} already holds "${b.role}"`);
    const shares = this.#validateShares(e, b.keys, new Map([[b.role, new Set([onion])]]));
    if (!shares.ok) return shares;
    return accept(() => {
      this.#grantRole(target, b.role);
      shares.commit();
      this.#invalidate();
    });
  }

  #roleRemove(e: SignedEvent, b: { member: Uint8Array; role: RoleId; rotation: Rotation | null }): Outcome {
    const onion = onionFromPublicKey(b.member);
    const target = this.state.members.get(onion);
    const check = checkRole(this.ability(e.author), this.#rolesOf(e.author), 'remove', b.role);
    if (!check.ok) return denied(check);
    if (!target || !target.roles.has(b.role)) return reject(RejectionCode.UNKNOWN_TARGET, `${onion} does not hold "${b.role}"`);
    if (b.rotation && b.rotation.role !== b.role) return reject(RejectionCode.LOCKBOX_INVALID, 'the rotation must be for the role being removed');
    const rotations = this.#validateRotations(e, b.rotation ? [b.rotation] : [], new Set([onion]));
    if (!rotations.ok) return rotations;
    return accept(() => {
      const r = this.state.roles.get(b.role)!;
      this.#markLeft(b.role, onion, e.id);
      target.roles.delete(b.role);
      target.roleSince.delete(b.role);
      r.holders.delete(onion);
      if (!b.rotation && r.epochs.length > 0) r.rotationDueSince = e.id;
      rotations.commit();
      this.#invalidate();
    });
  }

  // --- rules ----------------------------------------------------------------------------

  #rulesChange(e: SignedEvent, b: { rules: Rules }): Outcome {
    const mine = this.ability(e.author);
    const check = checkPlain(mine, this.#rolesOf(e.author), 'change', 'Rules');
    if (!check.ok) return denied(check);
    if (!this.state.founders.has(e.author)) {
      // Dropping a role takes it from every holder: only someone who may remove it may drop it.
      for (const roleId of Object.keys(this.state.rules.roles).sort()) {
        if (declaredRole(b.rules, roleId) || checkRole(mine, this.#rolesOf(e.author), 'remove', roleId).ok) continue;
        return reject(RejectionCode.ESCALATION, `the new rules would drop role "${roleId}" from its holders, which you may not remove yourself`);
      }
      // No escalation: new rules may not grant any role a permission the author lacks now.
      for (const roleId of Object.keys(b.rules.roles)) {
        const granted = compileAbility(b.rules, [roleId], false);
        for (const p of permissionUniverse(b.rules)) {
          if (allows(granted, p) && !allows(mine, p)) {
            return reject(RejectionCode.ESCALATION, `the new rules would let role "${roleId}" ${p[0]} ${p[1]}${p[2] === '*' ? '' : ` "${p[2]}"`}, which you may not do yourself`);
          }
        }
      }
      // Ranks (who wins conflicts), history access and succession shape who holds power and
      // who reads what; only founders change them.
      const old = this.state.rules;
      if (JSON.stringify(old.succession) !== JSON.stringify(b.rules.succession)) {
        return reject(RejectionCode.ESCALATION, 'only founders change the succession rules');
      }
      for (const [roleId, role] of Object.entries(b.rules.roles)) {
        const before = declaredRole(old, roleId);
        if (before ? before.rank !== role.rank || before.history !== role.history : role.rank >= this.rankOf(e.author)) {
          return reject(RejectionCode.ESCALATION, `only founders change the rank or history access of role "${roleId}" (or create roles ranked at or above their own)`);
        }
      }
    }
    return accept(() => {
      this.state.rules = b.rules;
      this.state.rulesRevision += 1;
      for (const roleId of Object.keys(b.rules.roles)) if (!this.state.roles.has(roleId)) this.state.roles.set(roleId, newRoleState(roleId));
      for (const [roleId, r] of [...this.state.roles]) {
        if (declaredRole(b.rules, roleId)) continue;
        // A role the rules no longer declare: holders lose it; its keys stay readable history.
        for (const onion of r.holders) this.state.members.get(onion)?.roles.delete(roleId);
        r.holders.clear();
      }
      this.#invalidate();
    });
  }

  // --- keys -----------------------------------------------------------------------------

  #keysRotate(e: SignedEvent, b: { rotations: Rotation[] }): Outcome {
    return this.#validateRotations(e, b.rotations, new Set());
  }

  #keysShare(e: SignedEvent, b: { shares: Share[] }): Outcome {
    return this.#validateShares(e, b.shares, new Map());
  }

  #checkLockboxes(lockboxes: readonly (Lockbox | InviteLockbox)[], allowed: (onion: OnionName) => boolean, what: string): Outcome | null {
    const seen = new Set<string>();
    for (const lb of lockboxes) {
      const onion = onionFromPublicKey(lb.to);
      if (seen.has(onion)) return reject(RejectionCode.LOCKBOX_INVALID, `two lockboxes for ${onion} in ${what}`);
      seen.add(onion);
      if (!allowed(onion)) return reject(RejectionCode.LOCKBOX_INVALID, `${onion} may not receive ${what}`);
    }
    return null;
  }

  /** Rotations: authorised, one per role, lockboxes only to holders (minus `excluded`). */
  #validateRotations(e: SignedEvent, rotations: readonly Rotation[], excluded: Set<OnionName>): Outcome {
    const roles = new Set<string>();
    for (const rot of rotations) {
      if (roles.has(rot.role)) return reject(RejectionCode.LOCKBOX_INVALID, `two rotations of "${rot.role}" in one event`);
      roles.add(rot.role);
      const r = this.#declared(rot.role) ? this.state.roles.get(rot.role) : undefined;
      if (!r) return reject(RejectionCode.UNKNOWN_TARGET, `role "${rot.role}" does not exist`);
      const check = checkRole(this.ability(e.author), this.#rolesOf(e.author), 'rotate', rot.role);
      if (!check.ok) return denied(check);
      if (r.epochsById.has(toHex(rot.keyId))) return reject(RejectionCode.LOCKBOX_INVALID, `key id reused for "${rot.role}"`);
      const bad = this.#checkLockboxes(rot.lockboxes, (o) => r.holders.has(o) && !excluded.has(o), `the new key of "${rot.role}"`);
      if (bad) return bad;
    }
    return accept(() => {
      for (const rot of rotations) {
        const r = this.state.roles.get(rot.role)!;
        const keyIdHex = toHex(rot.keyId);
        const recipients = new Set(rot.lockboxes.map((l) => onionFromPublicKey(l.to)));
        const epoch = { epoch: r.epochs.length, keyId: rot.keyId, keyIdHex, introducedBy: e.id, creator: e.author, recipients, leftBy: [] };
        r.epochs.push(epoch);
        r.epochsById.set(keyIdHex, epoch);
        r.rotationDueSince = null;
      }
    });
  }

  /**
   * Shares: an existing key, to current holders of its role (plus `pending` new holders), and
   * an older epoch only to someone who held the role then or where the role reads history.
   */
  #validateShares(e: SignedEvent, shares: readonly Share[], pending: Map<RoleId, Set<OnionName>>): Outcome {
    for (const share of shares) {
      const r = this.state.roles.get(share.role);
      if (!r) return reject(RejectionCode.UNKNOWN_TARGET, `role "${share.role}" does not exist`);
      const epoch = r.epochsById.get(toHex(share.keyId));
      if (!epoch) return reject(RejectionCode.UNKNOWN_KEY, `no rotation introduced this key for "${share.role}"`);
      const sharer = this.state.members.get(e.author)!;
      const mayRotate = checkRole(this.ability(e.author), this.#rolesOf(e.author), 'rotate', share.role).ok;
      if (!sharer.roles.has(share.role) && !mayRotate) {
        return reject(RejectionCode.DENIED, `only holders of "${share.role}" or those who may rotate its keys share its keys`);
      }
      const readsHistory = declaredRole(this.state.rules, share.role)?.history === 'all';
      const current = r.epochs.length - 1;
      const allowed = (onion: OnionName): boolean => {
        const isPending = pending.get(share.role)?.has(onion) ?? false;
        if (!r.holders.has(onion) && !isPending) return false;
        if (epoch.epoch === current || readsHistory) return true;
        const since = isPending ? current : (this.state.members.get(onion)?.roleSince.get(share.role) ?? current);
        // They held the role during this epoch if it was current when they got the role, or later.
        return epoch.epoch >= since;
      };
      const bad = this.#checkLockboxes(share.lockboxes, allowed, `key epoch ${epoch.epoch} of "${share.role}"`);
      if (bad) return bad;
    }
    return accept(() => {
      for (const share of shares) {
        const epoch = this.state.roles.get(share.role)!.epochsById.get(toHex(share.keyId))!;
        for (const lb of share.lockboxes) epoch.recipients.add(onionFromPublicKey(lb.to));
      }
    });
  }

  // --- relay and succession ---------------------------------------------------------------

  #relayMove(e: SignedEvent, b: { bundle: string; invites: Lockbox[] }): Outcome {
    const check = checkPlain(this.ability(e.author), this.#rolesOf(e.author), 'move', 'Relay');
    if (!check.ok) return denied(check);
    const bad = this.#checkLockboxes(b.invites, (o) => this.state.members.has(o), 'the new group invite');
    if (bad) return bad;
    return accept(() => {
      this.state.relay = { bundle: b.bundle, movedBy: e.id };
    });
  }

  #promote(candidate: OnionName, nominationId: EventId): void {
    this.state.founders.add(candidate);
    this.state.nominations.get(nominationId)!.open = false;
    this.#invalidate();
  }

  #nominate(e: SignedEvent, b: { candidate: Uint8Array }): Outcome {
    if (!this.state.founders.has(e.author)) return reject(RejectionCode.DENIED, 'only founders nominate founders');
    const candidate = onionFromPublicKey(b.candidate);
    if (!this.state.members.has(candidate)) return reject(RejectionCode.UNKNOWN_TARGET, `${candidate} is not a member`);
    if (this.state.founders.has(candidate)) return reject(RejectionCode.INVALID_STATE, `${candidate} is already a founder`);
    return accept(() => {
      const electorate = new Set(this.state.members.keys());
      this.state.nominations.set(e.id, { id: e.id, candidate, time: e.header.time, electorate, endorsers: new Set([e.author]), open: true });
      if (this.state.rules.succession.quorum <= 1) this.#promote(candidate, e.id);
    });
  }

  #endorse(e: SignedEvent, b: { nomination: Uint8Array }): Outcome {
    if (!this.state.founders.has(e.author)) return reject(RejectionCode.DENIED, 'only founders endorse a nomination');
    const n = this.state.nominations.get(toHex(b.nomination) as EventId);
    if (!n || !n.open) return reject(RejectionCode.UNKNOWN_TARGET, 'no open nomination with that id');
    if (n.endorsers.has(e.author)) return reject(RejectionCode.INVALID_STATE, 'already endorsed');
    return accept(() => {
      n.endorsers.add(e.author);
      const valid = [...n.endorsers].filter((f) => this.state.founders.has(f)).length;
      if (valid >= this.state.rules.succession.quorum && this.state.members.has(n.candidate)) this.#promote(n.candidate, n.id);
    });
  }

  #claim(e: SignedEvent, b: { nomination: Uint8Array }): Outcome {
    const n = this.state.nominations.get(toHex(b.nomination) as EventId);
    if (!n || !n.open) return reject(RejectionCode.UNKNOWN_TARGET, 'no open nomination with that id');
    if (n.candidate !== e.author) return reject(RejectionCode.DENIED, 'only the nominee claims a nomination');
    const days = this.state.rules.succession.inactivityDays;
    if (days === null) return reject(RejectionCode.DENIED, 'these rules have no inactivity clause');
    const past = this.causality.causalTime(e);
    if (e.header.time > past + CLAIM_MAX_SKEW_MS) {
      return reject(RejectionCode.INVALID_STATE, 'the claim is dated ahead of everything it has seen: time its author claims alone proves nothing');
    }
    // Inactivity is shown by others: members who were there at the nomination, are neither
    // founders nor the nominee, and signed accepted events, seen by the claim, dated after the
    // quiet period. Founders' own events in between count as activity (lastFounderActivity).
    const since = Math.max(n.time, this.state.lastFounderActivity) + days * DAY_MS;
    const witnesses = new Set<OnionName>();
    for (const a of this.causality.acceptedAncestors(e)) {
      if (a.header.time < since || a.author === e.author || this.state.founders.has(a.author) || !n.electorate.has(a.author)) continue;
      witnesses.add(a.author);
      if (witnesses.size >= SUCCESSION_WITNESSES) break;
    }
    if (witnesses.size < SUCCESSION_WITNESSES) {
      return reject(
        RejectionCode.INVALID_STATE,
        `founders were active within the last ${days} days, as far as the claim shows: it needs events from ${SUCCESSION_WITNESSES} other members dated after the quiet period`,
      );
    }
    return accept(() => this.#promote(n.candidate, n.id));
  }

  // --- tasks ----------------------------------------------------------------------------

  #checkSealed(e: SignedEvent, sealed: Sealed, audience: readonly RoleId[]): Outcome | null {
    const roles = sealed.keys.map((k) => k.role).sort();
    if (roles.length !== audience.length || roles.some((r, i) => r !== audience[i])) {
      return reject(RejectionCode.LOCKBOX_INVALID, 'content must be sealed to exactly the task audience, once per role');
    }
    for (const wrapped of sealed.keys) {
      const r = this.state.roles.get(wrapped.role)!;
      const epoch = r.epochsById.get(toHex(wrapped.keyId));
      if (!epoch) return reject(RejectionCode.UNKNOWN_KEY, `no rotation introduced this key for "${wrapped.role}"`);
      const next = r.epochs[epoch.epoch + 1];
      if (next && this.causality.isAncestor(e, next.introducedBy)) {
        return reject(RejectionCode.STALE_EPOCH, `content sealed to a key of "${wrapped.role}" its author knew had been rotated`);
      }
      if (!next && r.rotationDueSince !== null && this.causality.isAncestor(e, r.rotationDueSince)) {
        return reject(RejectionCode.STALE_EPOCH, `the key of "${wrapped.role}" must be rotated after a holder left before new content uses it`);
      }
      // Superseded by a rotation this author had not seen, but known to someone it saw leave.
      if (epoch.leftBy.some((d) => this.causality.isAncestor(e, d))) {
        return reject(RejectionCode.STALE_EPOCH, `content sealed to a key of "${wrapped.role}" that a member its author saw leave knew`);
      }
    }
    return null;
  }

  #taskCreate(e: SignedEvent, b: { parent: Uint8Array | null; sealed: Sealed }): Outcome {
    const audience = e.header.audience;
    if (audience.length === 0) return reject(RejectionCode.INVALID_SCHEMA, 'a task needs an audience of at least one role');
    for (const role of audience) if (!this.#declared(role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
    const check = checkTask(this.ability(e.author), this.#rolesOf(e.author), 'create', audience);
    if (!check.ok) return denied(check);
    const parentId = b.parent ? (toHex(b.parent) as EventId) : null;
    if (parentId && !this.state.tasks.has(parentId)) return reject(RejectionCode.UNKNOWN_TARGET, 'the parent task does not exist');
    const bad = this.#checkSealed(e, b.sealed, audience);
    if (bad) return bad;
    return accept(() => {
      this.state.tasks.set(e.id, { id: e.id, audience: [...audience], parent: parentId, createdBy: e.author, closed: false, children: new Set() });
      if (parentId) this.state.tasks.get(parentId)!.children.add(e.id);
    });
  }

  #taskTarget(e: SignedEvent, task: Uint8Array, action: TaskAction): { ok: false; outcome: Outcome } | { ok: true; id: EventId } {
    const id = toHex(task) as EventId;
    const t = this.state.tasks.get(id);
    if (!t) return { ok: false, outcome: reject(RejectionCode.UNKNOWN_TARGET, 'no such task') };
    const aud = e.header.audience;
    if (aud.length !== t.audience.length || aud.some((r, i) => r !== t.audience[i])) {
      return { ok: false, outcome: reject(RejectionCode.INVALID_SCHEMA, 'the event audience must equal the task audience') };
    }
    const check = checkTask(this.ability(e.author), this.#rolesOf(e.author), action, t.audience);
    if (!check.ok) return { ok: false, outcome: denied(check) };
    return { ok: true, id };
  }

  #taskMove(e: SignedEvent, b: { task: Uint8Array; parent: Uint8Array | null }): Outcome {
    const target = this.#taskTarget(e, b.task, 'edit');
    if (!target.ok) return target.outcome;
    const task = this.state.tasks.get(target.id)!;
    const parentId = b.parent ? (toHex(b.parent) as EventId) : null;
    if (parentId) {
      if (!this.state.tasks.has(parentId)) return reject(RejectionCode.UNKNOWN_TARGET, 'the new parent task does not exist');
      for (let p: EventId | null = parentId; p; p = this.state.tasks.get(p)!.parent) {
        if (p === task.id) return reject(RejectionCode.INVALID_STATE, 'a task cannot become a subtask of itself or of its own subtasks');
      }
    }
    return accept(() => {
      if (task.parent) this.state.tasks.get(task.parent)?.children.delete(task.id);
      task.parent = parentId;
      if (parentId) this.state.tasks.get(parentId)!.children.add(task.id);
    });
  }

  #taskContent(e: SignedEvent, b: { task: Uint8Array; sealed: Sealed }): Outcome {
    const kind = e.header.kind;
    const action = TASK_ACTION_OF.get(kind);
    if (action === undefined) return reject(RejectionCode.INVALID_SCHEMA, `${kind} is not a task content event`);
    const target = this.#taskTarget(e, b.task, action);
    if (!target.ok) return target.outcome;
    const task = this.state.tasks.get(target.id)!;
    if (kind === 'task.close' && task.closed) return reject(RejectionCode.INVALID_STATE, 'the task is already closed');
    if (kind === 'task.reopen' && !task.closed) return reject(RejectionCode.INVALID_STATE, 'the task is not closed');
    if ((kind === 'task.status' || kind === 'task.edit' || kind === 'task.assign') && task.closed) {
      return reject(RejectionCode.INVALID_STATE, 'reopen the task before changing it');
    }
    const bad = this.#checkSealed(e, b.sealed, task.audience);
    if (bad) return bad;
    return accept(() => {
      if (kind === 'task.close') task.closed = true;
      if (kind === 'task.reopen') task.closed = false;
    });
  }
}

export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b);
}

export { FOUNDER_RANK };

/**
 * Whether `onion` may know this key of `r`: a lockbox reached them, they made it, or it is the
 * current key of a role they hold.
 */
function mayKnow(r: RoleState, epoch: KeyEpoch, onion: OnionName): boolean {
  return epoch.recipients.has(onion) || epoch.creator === onion || (epoch === r.epochs.at(-1) && r.holders.has(onion));
}

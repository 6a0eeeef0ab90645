import type { OnionName } from '@pursuance/crypto';

/**
 * Who counts as a group's member, as pure decisions over what the peer knows of the group. A
 * group either fixes its members in the invite (a closed group), or leaves them open: then the
 * owner, everyone who posted, and the members the application names (a pursuance knows its
 * members) count. A retired group — one its members re-keyed away from, usually to expel
 * someone — counts only the application's members: whoever was expelled still holds its key.
 *
 * No I/O here, so every rule is testable on its own; the callers (groups.ts, the receive
 * pipeline in group-manager.ts, gap repair) gather the facts and act on the answers.
 */
export interface MembershipFacts {
  /** The invite's fixed member list, or null for an open group. */
  readonly members: readonly OnionName[] | null;
  readonly owner: OnionName;
  readonly retired: boolean;
  /**
   * Everyone who posted in the group's log. A function, because it walks the whole log and
   * most decisions are settled before they need it.
   */
  senders(): ReadonlySet<OnionName>;
  /**
   * The members the application names for this open group (empty when it names none). A
   * function, because resolving them may fold a whole pursuance log: asked only when needed.
   */
  appMembers(): readonly OnionName[];
}

/** The members a group's own rules name: the fixed list, or else the application's. */
export function knownMembers(group: MembershipFacts): readonly OnionName[] {
  return group.members ?? group.appMembers();
}

/**
 * May `sender` still post into a retired group? Only a member the group or the application
 * still counts: a retired group's key is no proof of membership any more.
 */
export function mayPostToRetired(group: MembershipFacts, sender: OnionName): boolean {
  return knownMembers(group).includes(sender);
}

/** Whom to ask for a group's missing messages (repair leaves ourselves out). */
export function repairCandidates(group: MembershipFacts): OnionName[] {
  if (group.members !== null) return [...group.members];
  if (group.retired) return [...group.appMembers()];
  return [...new Set([group.owner, ...group.senders(), ...group.appMembers()])];
}

/** Is `onion` one of repairCandidates(group)? (Answered without listing them all.) */
export function isRepairCandidate(group: MembershipFacts, onion: OnionName): boolean {
  if (group.members !== null) return group.members.includes(onion);
  if (group.retired) return group.appMembers().includes(onion);
  return onion === group.owner || group.senders().has(onion) || group.appMembers().includes(onion);
}

/**
 * May `onion` be served this group's messages in gap repair? A closed group serves its members
 * only. An open group also serves our accepted contacts — a member who never posted and whom
 * the application does not name is still someone we chose to talk to — unless it is retired:
 * then only the members the application still counts.
 */
export function mayServe(group: MembershipFacts, onion: OnionName, acceptedContact: boolean): boolean {
  if (group.members !== null) return group.members.includes(onion);
  return isRepairCandidate(group, onion) || (!group.retired && acceptedContact);
}

/**
 * The members a new group starts with: null keeps it open; a list is closed and always holds
 * its creator (who could not post into its own group otherwise).
 */
export function foundingMembers(creator: OnionName, requested: readonly OnionName[] | null | undefined): OnionName[] | null {
  return requested === undefined || requested === null ? null : [...new Set([creator, ...requested])];
}

/** Only a group's owner may move it to another relay (and so choose its new key). */
export function mayMove(group: { readonly owner: OnionName }, actor: OnionName): boolean {
  return actor === group.owner;
}

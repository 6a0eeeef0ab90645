import { onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import { RejectionCode, type InviteLockbox, type PursuanceLog, type SignedEvent } from '@pursuance/pursuance';
import { acceptedInOrder } from '../domain/fold-scan.js';

/**
 * Cwtch groups that carry a pursuance are named after it, so invitees can map them too. A
 * group made by re-keying (a removal or a relay move) is named `pursuance:<id>:<group it
 * replaces>`: its creator knows, even after a crash, where the re-keying event must be announced.
 */
export const GROUP_NAME_PREFIX = 'pursuance:';

/** Event kinds that may hand the remaining members a new Cwtch group (sealed invites in the body). */
export const REKEY_KINDS: ReadonlySet<string> = new Set(['relay.move', 'member.remove']);

/** Refusals of an addition that only mean it lost a race with a key rotation (its author re-signs it). */
export const KEY_RACE_CODES: ReadonlySet<string> = new Set([RejectionCode.LOCKBOX_INVALID, RejectionCode.STALE_EPOCH, RejectionCode.UNKNOWN_KEY]);

/** Parse a group name: the pursuance it carries and the group it replaced, if any. */
export function parseGroupName(name: string): { pursuanceId: string; replaces: string | null } | null {
  if (!name.startsWith(GROUP_NAME_PREFIX)) return null;
  const [pursuanceId, replaces, ...rest] = name.slice(GROUP_NAME_PREFIX.length).split(':');
  if (!pursuanceId || rest.length > 0) return null;
  return { pursuanceId, replaces: replaces || null };
}

/** The sealed group invites a re-keying event carries (none: it hands over no group). */
export function invitesOf(e: SignedEvent): readonly InviteLockbox[] {
  return REKEY_KINDS.has(e.header.kind) ? ((e.header.body as { invites?: InviteLockbox[] }).invites ?? []) : [];
}

/**
 * The re-keying event whose group is the pursuance's group: the accepted one with invites
 * that comes last in fold order. Fold order is the same on every member that holds the same
 * events, whatever order they arrived in, so every member follows the same group; and the
 * fold accepts invites only to current members (never the one removed), so that group was
 * handed to no one the fold had removed by then.
 */
export function lastRekey(log: PursuanceLog): SignedEvent | null {
  // Back from the newest: past the departures since (few), to the last re-keying.
  const seen = acceptedInOrder(log, rekeyingOrLeaving);
  for (let i = seen.length - 1; i >= 0; i--) if (invitesOf(seen[i]!).length > 0) return seen[i]!;
  return null;
}

/** Re-keyings and departures: the one scan of the fold order both lastRekey and departuresSinceRekey read. */
const rekeyingOrLeaving = (e: SignedEvent): boolean => invitesOf(e).length > 0 || e.header.kind === 'member.leave';

/** Who a re-keying event hands the new group to. */
export function handedTo(e: SignedEvent): Set<OnionName> {
  return new Set(invitesOf(e).map((lb) => onionFromPublicKey(lb.to)));
}

/**
 * Accepted departures (member.leave) that come after the group's last re-keying in fold order,
 * oldest first, by someone who is no longer a member. Each of them still holds the group's key
 * and would read everything posted there (the public events of everyone, though not sealed
 * task content): the group must be re-keyed without them, and these name the departures still
 * waiting for that. The same on every member holding the same events.
 */
export function departuresSinceRekey(log: PursuanceLog): SignedEvent[] {
  // One walk back from the newest departure to the last re-keying (as lastRekey finds it).
  const seen = acceptedInOrder(log, rekeyingOrLeaving);
  const members = log.state().members;
  const out: SignedEvent[] = [];
  for (let i = seen.length - 1; i >= 0; i--) {
    const e = seen[i]!;
    if (invitesOf(e).length > 0) break;
    if (!members.has(e.author)) out.push(e);
  }
  return out.reverse();
}

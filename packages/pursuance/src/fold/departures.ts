import type { OnionName } from '@pursuance/crypto';
import type { EventId, SignedEvent } from '../envelope.js';
import type { KeyEpoch, RoleState } from '../state.js';
import type { FoldContext } from './context.js';

/**
 * Departures the author of a rotation had not seen. A rotation names the role's holders in its
 * author's view. When one of them left concurrently and the fold orders that departure first,
 * the rotation names a non-holder: a race, not a choice. Refusing it would let any concurrent
 * role change undo a removal carrying a rotation, and a hostile member could undo one on
 * purpose by changing someone's roles at the right moment.
 */

/**
 * Whether `onion` may know this key of `r`: a lockbox reached them, they made it, or it is the
 * current key of a role they hold.
 */
export function mayKnow(r: RoleState, epoch: KeyEpoch, onion: OnionName): boolean {
  return epoch.recipients.has(onion) || epoch.creator === onion || (epoch === r.epochs.at(-1) && r.holders.has(onion));
}

/**
 * Departures recorded on keys of `r` that `onion` may know (KeyEpoch.leftBy) and that are not in
 * the causal past of `e`. Empty when `onion` never knew a key of `r`, or when every such
 * departure was seen by e's author: then naming `onion` was a choice, and stays refused.
 *
 * It may name departures of others who knew the same keys; every one of them is unseen by e's
 * author, so treating them all as leaks of what `e` hands out only errs on the safe side.
 */
export function unseenDepartures(ctx: FoldContext, e: SignedEvent, r: RoleState, onion: OnionName): EventId[] {
  const out = new Set<EventId>();
  for (const epoch of r.epochs) {
    if (!mayKnow(r, epoch, onion)) continue;
    for (const d of epoch.leftBy) if (!ctx.causality.isAncestor(e, d)) out.add(d);
  }
  return [...out];
}

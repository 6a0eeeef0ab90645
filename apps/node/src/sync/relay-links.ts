import { sha256, toHex } from '@pursuance/crypto';

/**
 * What each relay group of a pursuance delivered, and when this node first saw each event come
 * through it (this node's clock, kept in memory only). Senders' claimed times are not used: a
 * member could date its messages so that no relay ever counts as lacking them. Events a group
 * held before this node started count as arriving at the start, so a restart raises no alarm
 * before the others had time to deliver.
 */
export class RelayArrivals {
  readonly #at = new Map<string, Map<string, number>>();
  readonly #started: number;

  public constructor(started: number) {
    this.#started = started;
  }

  /** Events that just came through `groupId`. */
  public note(groupId: string, eventIds: readonly string[], now: number): void {
    let group = this.#at.get(groupId);
    if (group === undefined) {
      group = new Map();
      this.#at.set(groupId, group);
    }
    for (const id of eventIds) if (!group.has(id)) group.set(id, now);
  }

  /** When `eventId` first came through `groupId` (undefined: it did not, as far as `held` says). */
  public arrival(groupId: string, eventId: string, held: ReadonlySet<string>): number | undefined {
    const at = this.#at.get(groupId)?.get(eventId);
    if (at !== undefined) return at;
    return held.has(eventId) ? this.#started : undefined;
  }
}

/**
 * The events another relay group delivered at or before `cutoff` that group `index` does not
 * hold: what that relay lacks (lost, or withheld from us). `held[i]` is what group i holds.
 */
export function lackingOn(index: number, groupIds: readonly string[], held: readonly ReadonlySet<string>[], arrivals: RelayArrivals, cutoff: number): string[] {
  const lacking = new Set<string>();
  held.forEach((others, j) => {
    if (j === index) return;
    for (const id of others) {
      if (held[index]!.has(id) || lacking.has(id)) continue;
      const at = arrivals.arrival(groupIds[j]!, id, others);
      if (at !== undefined && at <= cutoff) lacking.add(id);
    }
  });
  return [...lacking];
}

/**
 * Members in rendezvous order for a piece of work named by `key`: ascending SHA-256(key ‖ onion).
 * Every member computes the same order, and over many keys each member comes first about as
 * often as any other, so work is done once, by one member, and spread over all of them.
 */
export function rendezvousOrder(key: string, members: Iterable<string>): string[] {
  const encoder = new TextEncoder();
  // Hex of equal-length digests orders as the bytes do.
  const ranked = [...new Set(members)].map((onion) => ({ onion, rank: toHex(sha256(encoder.encode(`${key}:${onion}`))) }));
  // Distinct onions never tie: their digests differ.
  return ranked.sort((a, b) => (a.rank < b.rank ? -1 : 1)).map((r) => r.onion);
}

/**
 * The member who posts an event again to a relay that lacks it: the first in rendezvous order
 * for the event, so a lacking event is posted again once, not by everyone.
 */
export function repairerOf(eventId: string, members: Iterable<string>): string | undefined {
  return rendezvousOrder(eventId, members)[0];
}

/**
 * A moved group is a chain of groups (each on its own relay, with its own key) linked by
 * movedFrom / movedTo. These walk the chain over a lookup of the groups we hold; a link to a
 * group we do not hold ends the walk there. The links come from signed move messages, but a
 * chain is still bounded: a malicious owner could sign a cycle, and we must not loop on it.
 */
export const MAX_MOVE_CHAIN = 64;

export interface MoveLinks {
  readonly movedFrom: string | null;
  readonly movedTo: string | null;
}

/** The links of a group we hold, or undefined for one we do not. */
export type MoveLookup = (groupId: string) => MoveLinks | undefined;

/** Where the group `start` (one we hold) lives now: the last group we hold along movedTo. */
export function currentHome(start: string, lookup: MoveLookup): string {
  let id = start;
  for (let i = 0; i < MAX_MOVE_CHAIN; i++) {
    const next = lookup(id)?.movedTo ?? null;
    if (next === null || lookup(next) === undefined) return id;
    id = next;
  }
  return id;
}

/** Every group of the chain `start` (one we hold) belongs to, oldest first. */
export function moveChain(start: string, lookup: MoveLookup): string[] {
  let root = start;
  for (let i = 0; i < MAX_MOVE_CHAIN; i++) {
    const previous = lookup(root)?.movedFrom ?? null;
    if (previous === null || lookup(previous) === undefined) break;
    root = previous;
  }
  const out: string[] = [];
  let id: string | null = root;
  for (let i = 0; id !== null && i < MAX_MOVE_CHAIN; i++) {
    const links = lookup(id);
    if (links === undefined) break;
    out.push(id);
    id = links.movedTo;
  }
  return out;
}

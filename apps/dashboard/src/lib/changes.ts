import type { FeedItem, PursuanceChanges, TaskListItem } from './types.js';

/** How many feed items the dashboard keeps (GET …/feed's default, and what a change set carries at most). */
export const FEED_LIMIT = 200;

/** The node's order of the task list: oldest first, ties by id. */
export function compareTasks(a: Pick<TaskListItem, 'createdAt' | 'id'>, b: Pick<TaskListItem, 'createdAt' | 'id'>): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The task list after a change set, in the node's order. Tasks not named keep their very
 * objects (so a board re-renders only the cards that changed); a changed task replaces its
 * old self (always, even with the same JSON: the set names a task whose history alone changed,
 * and its new object tells the task page to read that history again), a new one is put in its
 * place, and a removed one is dropped. Applying a set twice
 * gives the same list, so a set that overlaps what a full fetch already had is harmless.
 */
export function applyTaskChanges(tasks: readonly TaskListItem[], change: PursuanceChanges['tasks']): readonly TaskListItem[] {
  if (change.upserted.length === 0 && change.removed.length === 0) return tasks;
  const gone = new Set(change.removed);
  const changed = new Map(change.upserted.map((t) => [t.id, t]));
  const out: TaskListItem[] = [];
  for (const t of tasks) {
    if (gone.has(t.id)) continue;
    const next = changed.get(t.id);
    // A task's creation time never changes, so one replaced in place stays in order.
    if (next && compareTasks(next, t) === 0) {
      out.push(next);
      changed.delete(t.id);
    } else if (!next) {
      out.push(t);
    }
  }
  for (const t of [...changed.values()].sort(compareTasks)) {
    if (gone.has(t.id)) continue;
    out.splice(insertionPoint(out, t), 0, t);
  }
  return out;
}

/** Where `t` goes in `sorted` (binary search on the node's order). */
function insertionPoint(sorted: readonly TaskListItem[], t: TaskListItem): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareTasks(sorted[mid]!, t) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The feed (newest first) after a change set: its new items on top, or the whole feed when `full`. */
export function applyFeedChanges(feed: readonly FeedItem[], change: PursuanceChanges['feed'], limit = FEED_LIMIT): readonly FeedItem[] {
  if (change.full) return change.items.slice(0, limit);
  if (change.items.length === 0) return feed;
  const fresh = new Set(change.items.map((f) => f.id));
  return [...change.items, ...feed.filter((f) => !fresh.has(f.id))].slice(0, limit);
}

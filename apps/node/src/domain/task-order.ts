/**
 * The task list's order (oldest first, ties by id), shared by the cache that serves it
 * (projections.ts) and the part that keeps its newest page (first-page.ts).
 */

/**
 * A stored task's `createdAt` without parsing it: the first `"createdAt":` in the part is the
 * task's own (taskModel writes it before any user text or comment, and a quote inside a JSON
 * string is always escaped, so user text cannot forge the key).
 */
const CREATED_AT = /"createdAt":(\d+)/;

export function createdAtOf(json: string): number {
  const found = CREATED_AT.exec(json);
  return found ? Number(found[1]) : (JSON.parse(json) as { createdAt: number }).createdAt;
}

/** Where a task stands in the list's order: by `createdAt`, ties by id. */
export interface TaskCursor {
  readonly createdAt: number;
  readonly id: string;
}

/** A stored task list item: its place in the order and its JSON text as served. */
export interface TaskRow extends TaskCursor {
  readonly json: string;
}

export function compareRows(a: TaskCursor, b: TaskCursor): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A cursor as the API carries it: `createdAt.id` (parsed back by the route's schema). */
export function taskCursorText(c: TaskCursor): string {
  return `${c.createdAt}.${c.id}`;
}

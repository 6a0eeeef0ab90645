import { compareRows, createdAtOf, taskCursorText, type TaskRow } from './task-order.js';

/**
 * Tasks the first-page part keeps: the dashboard's FIRST_TASK_PAGE
 * (apps/dashboard/src/lib/pursuance-store.ts), the first thing a board asks for. A smaller page
 * is served from it too; a larger one waits for the whole list.
 */
export const FIRST_PAGE_TASKS = 500;

/**
 * The task list's newest tasks, newest first, and how many tasks the list holds: the part
 * PART.firstPage, stored on the shelf start-up reads first, so a board's first page is served
 * before the list (tens of megabytes at a million events) has been opened.
 */
export interface FirstPage {
  readonly total: number;
  /** Newest first: the end of the list's order. */
  readonly rows: readonly TaskRow[];
}

/** A change to the list: task id → its item's new JSON text, or null when it left the list. */
export type ListChanges = ReadonlyMap<string, string | null>;

const newestFirst = (a: TaskRow, b: TaskRow): number => compareRows(b, a);

export function firstPageJson(page: FirstPage): string {
  return `{"total":${page.total},"tasks":[${page.rows.map((r) => r.json).join(',')}]}`;
}

/**
 * The stored part read back; null when it is not one (a row from a damaged or older read
 * model): the caller works the page out from the whole list instead. Each task's JSON text
 * is its item's as JSON.stringify wrote it, so it is the list's text byte for byte.
 */
export function parseFirstPage(json: string | undefined): FirstPage | null {
  if (json === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { total, tasks } = value as { total?: unknown; tasks?: unknown };
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0 || !Array.isArray(tasks) || tasks.length > total) return null;
  const rows: TaskRow[] = [];
  for (const task of tasks as unknown[]) {
    if (typeof task !== 'object' || task === null) return null;
    const { id, createdAt } = task as { id?: unknown; createdAt?: unknown };
    if (typeof id !== 'string' || typeof createdAt !== 'number') return null;
    rows.push({ id, createdAt, json: JSON.stringify(task) });
  }
  return { total, rows };
}

/** The page worked out from the whole list. */
export function firstPageOf(list: readonly TaskRow[], size = FIRST_PAGE_TASKS): FirstPage {
  return { total: list.length, rows: [...list].sort(newestFirst).slice(0, size) };
}

/**
 * The page after `changes`, from the page before alone; null when it cannot be told without
 * the whole list (a task on the page left the list, or moved back in its order, while tasks
 * outside the page exist: which one moves in is not on the page). `wasListed`: whether the
 * list held the task before the change.
 *
 * Invariant kept: every task outside the page sorts before every task on it. A changed task
 * is put among the page's tasks and the oldest beyond `size` leave, which holds the invariant
 * as long as no task on the page moved back.
 */
export function updatedFirstPage(before: FirstPage, changes: ListChanges, wasListed: (id: string) => boolean, size = FIRST_PAGE_TASKS): FirstPage | null {
  const complete = before.rows.length === before.total;
  const rows = new Map<string, TaskRow>(before.rows.map((r) => [r.id, r]));
  let total = before.total;
  for (const [id, json] of changes) {
    const listed = wasListed(id);
    const old = rows.get(id);
    if (json === null) {
      if (!listed) continue;
      total -= 1;
      if (old === undefined) continue;
      if (!complete) return null;
      rows.delete(id);
      continue;
    }
    if (!listed) total += 1;
    const row: TaskRow = { id, createdAt: createdAtOf(json), json };
    if (old !== undefined && !complete && compareRows(row, old) < 0) return null;
    rows.set(id, row);
  }
  const page = [...rows.values()].sort(newestFirst).slice(0, size);
  // A page that does not hold what the list's size says it must was stored wrong: work it out again.
  if (total < 0 || page.length !== Math.min(size, total)) return null;
  return { total, rows: page };
}

/**
 * GET …/tasks?limit=… (no cursor) from the page, as the whole list would answer it
 * (ProjectionCache.tasksPageJson); undefined when the page holds fewer than `limit` of the
 * list's tasks.
 */
export function firstPageAnswer(page: FirstPage, limit: number): string | undefined {
  const n = Math.min(limit, page.total);
  if (limit < 1 || n > page.rows.length) return undefined;
  const served = page.rows.slice(0, n);
  const last = served.at(-1);
  const next = n < page.total && last !== undefined ? JSON.stringify(taskCursorText(last)) : 'null';
  return `{"tasks":[${served.map((r) => r.json).join(',')}],"next":${next}}`;
}

import type { ProjectionWrite, StoredProjections } from '../store/projection-store.js';
import { PART, historyPart, isTaskPart, taskIdOf, taskPart, type ProjectionCheckpoint } from './projector.js';
import type { HistoryModel, TaskListItem, TaskModel } from './read-models.js';

/**
 * A stored task's `createdAt` without parsing it: the first `"createdAt":` in the part is the
 * task's own (taskModel writes it before any user text or comment, and a quote inside a JSON
 * string is always escaped, so user text cannot forge the key).
 */
const CREATED_AT = /"createdAt":(\d+)/;
function createdAtOf(json: string): number {
  const found = CREATED_AT.exec(json);
  return found ? Number(found[1]) : (JSON.parse(json) as TaskListItem).createdAt;
}

/** Where a task stands in the list's order: by `createdAt`, ties by id. */
export interface TaskCursor {
  readonly createdAt: number;
  readonly id: string;
}

interface TaskRow extends TaskCursor {
  readonly json: string;
}

function compareRows(a: TaskCursor, b: TaskCursor): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A cursor as the API carries it: `createdAt.id` (parsed back by the route's schema). */
export function taskCursorText(c: TaskCursor): string {
  return `${c.createdAt}.${c.id}`;
}

/**
 * The persisted read models as the node holds them in memory: the JSON text of every stored
 * part (what is compared before a write) and, once asked for, its parsed value. Changed only
 * after the transaction that stored a change has committed.
 */
export class ProjectionCache {
  readonly #parts = new Map<string, Map<string, string>>();
  readonly #parsed = new Map<string, Map<string, unknown>>();
  readonly #taskJson = new Map<string, string>();
  readonly #taskRowsOf = new Map<string, readonly TaskRow[]>();
  /** Pursuances read at start-up whose parts named LATER_PREFIX… are not here yet (see takeLater). */
  readonly #withoutLater = new Set<string>();

  /** Take in what start-up read: every part but those named LATER_PREFIX… (takeLater adds them). */
  public load(stored: StoredProjections): void {
    this.#parts.clear();
    this.#parsed.clear();
    this.#taskJson.clear();
    this.#taskRowsOf.clear();
    this.#withoutLater.clear();
    for (const [id, parts] of stored) {
      this.#parts.set(id, parts);
      this.#withoutLater.add(id);
    }
  }

  /** Whether the pursuance's parts named LATER_PREFIX… are here (or, for a read model written here, were never left out). */
  public hasLater(pursuanceId: string): boolean {
    return !this.#withoutLater.has(pursuanceId);
  }

  /** Add the parts start-up left unread; nothing when they are here already or the read model was dropped. */
  public takeLater(pursuanceId: string, later: ReadonlyMap<string, string>): void {
    if (!this.#withoutLater.delete(pursuanceId)) return;
    const parts = this.#parts.get(pursuanceId);
    if (!parts) return;
    for (const [name, json] of later) if (!parts.has(name)) parts.set(name, json);
  }

  public has(pursuanceId: string): boolean {
    return this.#parts.has(pursuanceId);
  }

  public ids(): string[] {
    return [...this.#parts.keys()].sort();
  }

  /** The stored parts (JSON text), for the projector to compare with. */
  public parts(pursuanceId: string): ReadonlyMap<string, string> | undefined {
    return this.#parts.get(pursuanceId);
  }

  public forget(pursuanceId: string): void {
    this.#withoutLater.delete(pursuanceId);
    this.#parts.delete(pursuanceId);
    this.#parsed.delete(pursuanceId);
    this.#taskJson.delete(pursuanceId);
    this.#taskRowsOf.delete(pursuanceId);
  }

  /** Take a committed write in. */
  public apply(w: ProjectionWrite): void {
    if (w.upserts.size === 0 && w.deletes.length === 0) return;
    let parts = this.#parts.get(w.pursuanceId);
    if (!parts) this.#parts.set(w.pursuanceId, (parts = new Map<string, string>()));
    const parsed = this.#parsed.get(w.pursuanceId);
    let tasksChanged = false;
    for (const [name, json] of w.upserts) {
      parts.set(name, json);
      parsed?.delete(name);
      tasksChanged ||= isTaskPart(name);
    }
    for (const name of w.deletes) {
      parts.delete(name);
      parsed?.delete(name);
      tasksChanged ||= isTaskPart(name);
    }
    if (tasksChanged) {
      this.#taskJson.delete(w.pursuanceId);
      this.#taskRowsOf.delete(w.pursuanceId);
    }
  }

  /** One part, parsed (and kept parsed until it changes); undefined when not stored. */
  public get<T>(pursuanceId: string, name: string): T | undefined {
    const json = this.#parts.get(pursuanceId)?.get(name);
    if (json === undefined) return undefined;
    let parsed = this.#parsed.get(pursuanceId);
    if (!parsed) this.#parsed.set(pursuanceId, (parsed = new Map<string, unknown>()));
    if (!parsed.has(name)) parsed.set(name, JSON.parse(json));
    return parsed.get(name) as T;
  }

  public checkpoint(pursuanceId: string): ProjectionCheckpoint | undefined {
    return this.get<ProjectionCheckpoint>(pursuanceId, PART.checkpoint);
  }

  /** The stored task parts in list order (oldest first, ties by id), kept until a task changes. */
  #taskRows(pursuanceId: string): readonly TaskRow[] {
    const known = this.#taskRowsOf.get(pursuanceId);
    if (known !== undefined) return known;
    const rows: TaskRow[] = [];
    for (const [name, json] of this.#parts.get(pursuanceId) ?? []) {
      if (!isTaskPart(name)) continue;
      rows.push({ json, createdAt: createdAtOf(json), id: taskIdOf(name) });
    }
    rows.sort(compareRows);
    this.#taskRowsOf.set(pursuanceId, rows);
    return rows;
  }

  /**
   * The task list as GET …/tasks sends it: the stored parts joined as they are, never parsed
   * and serialised again (on a 12,000-task board that is 25 MB of JSON). Kept until a task changes.
   */
  public tasksJson(pursuanceId: string): string {
    const known = this.#taskJson.get(pursuanceId);
    if (known !== undefined) return known;
    const text = `[${this.#taskRows(pursuanceId)
      .map((r) => r.json)
      .join(',')}]`;
    this.#taskJson.set(pursuanceId, text);
    return text;
  }

  /**
   * One page of the task list, newest first (the end of the list a board shows at the top of
   * its columns): at most `limit` tasks older than the cursor (the newest without one), as JSON
   * text `{"tasks":[…],"next":cursor|null}`. The cursor names a position in the list's order,
   * not a task, so a page asked for after that task changed or went still starts where the
   * last one ended. Finding the page is a binary search, so a 100,000-task board's first page
   * costs what a small board's does once the sorted list is held.
   */
  public tasksPageJson(pursuanceId: string, limit: number, before: TaskCursor | null): string {
    const rows = this.#taskRows(pursuanceId);
    let end = rows.length;
    if (before !== null) {
      let lo = 0;
      while (lo < end) {
        const mid = (lo + end) >>> 1;
        if (compareRows(rows[mid]!, before) < 0) lo = mid + 1;
        else end = mid;
      }
    }
    const start = Math.max(0, end - limit);
    const page: string[] = [];
    for (let i = end - 1; i >= start; i--) page.push(rows[i]!.json);
    const next = start > 0 ? JSON.stringify(taskCursorText(rows[start]!)) : 'null';
    return `{"tasks":[${page.join(',')}],"next":${next}}`;
  }

  /** Every task, parsed, in the order GET …/tasks lists them (tools and tests: the route sends tasksJson). */
  public tasks(pursuanceId: string): TaskListItem[] {
    return JSON.parse(this.tasksJson(pursuanceId)) as TaskListItem[];
  }

  /**
   * One task with its history (GET …/tasks/:taskId); undefined when not stored. `readLater`
   * reads the history part from the store while start-up has not taken it in.
   */
  public async task(pursuanceId: string, taskId: string, readLater: (name: string) => Promise<string | undefined>): Promise<TaskModel | undefined> {
    const name = historyPart(taskId);
    const stored = this.hasLater(pursuanceId) ? undefined : await readLater(name);
    // Read after the store answered, so the item is as current as the history (or newer, never older).
    const item = this.get<TaskListItem>(pursuanceId, taskPart(taskId));
    if (item === undefined) return undefined;
    const history = this.hasLater(pursuanceId)
      ? this.get<HistoryModel[]>(pursuanceId, name)
      : stored === undefined
        ? undefined
        : (JSON.parse(stored) as HistoryModel[]);
    return { ...item, history: history ?? [] };
  }
}

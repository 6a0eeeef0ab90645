import { SHELF, type ProjectionWrite, type Shelf, type StoredProjections } from '../store/projection-store.js';
import { firstPageAnswer, parseFirstPage } from './first-page.js';
import { PART, historyPart, isTaskPart, taskIdOf, taskPart, type ProjectionCheckpoint } from './projector.js';
import type { HistoryModel, TaskListItem, TaskModel } from './read-models.js';
import { heldText } from './part-digest.js';
import { compareRows, createdAtOf, taskCursorText, type TaskCursor, type TaskRow } from './task-order.js';

/**
 * The persisted read models as the node holds them in memory: the JSON text of every stored
 * part but the histories, whose digest it keeps (part-digest.ts; what is compared before a
 * write) and, once asked for, a part's parsed value. Changed only after the transaction that
 * stored a change has committed.
 */
export class ProjectionCache {
  readonly #parts = new Map<string, Map<string, string>>();
  readonly #parsed = new Map<string, Map<string, unknown>>();
  readonly #taskJson = new Map<string, string>();
  readonly #taskRowsOf = new Map<string, readonly TaskRow[]>();
  /** Pursuances read at start-up whose parts on a shelf read afterwards are not here yet (see take). */
  readonly #without = { [SHELF.later]: new Set<string>(), [SHELF.list]: new Set<string>() };

  /** Take in what start-up read: every part but those on the later and list shelves (take adds them). */
  public load(stored: StoredProjections): void {
    this.#parts.clear();
    this.#parsed.clear();
    this.#taskJson.clear();
    this.#taskRowsOf.clear();
    for (const without of Object.values(this.#without)) without.clear();
    for (const [id, parts] of stored) {
      this.#parts.set(id, parts);
      for (const without of Object.values(this.#without)) without.add(id);
    }
  }

  /** Whether the pursuance's parts on `shelf` are here (or, for a read model written here, were never left out). */
  public hasShelf(pursuanceId: string, shelf: Exclude<Shelf, 0>): boolean {
    return !this.#without[shelf].has(pursuanceId);
  }

  /**
   * Add the parts of a shelf start-up left unread, each already as held (heldText: the store's
   * read applies it page by page); nothing when they are here already or the read model was dropped.
   */
  public take(pursuanceId: string, shelf: Exclude<Shelf, 0>, held: ReadonlyMap<string, string>): void {
    if (!this.#without[shelf].delete(pursuanceId)) return;
    const parts = this.#parts.get(pursuanceId);
    if (!parts) return;
    for (const [name, text] of held) if (!parts.has(name)) parts.set(name, text);
    if (shelf === SHELF.list) {
      this.#taskJson.delete(pursuanceId);
      this.#taskRowsOf.delete(pursuanceId);
    }
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
    for (const without of Object.values(this.#without)) without.delete(pursuanceId);
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
      parts.set(name, heldText(name, json));
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

  /**
   * tasksPageJson(…, limit, null) from the stored first page, while the list's own parts are
   * not read yet (the first seconds of a big node's start-up); undefined when that page cannot
   * answer it (a larger limit, or no page stored).
   */
  public firstPageJson(pursuanceId: string, limit: number): string | undefined {
    const page = parseFirstPage(this.#parts.get(pursuanceId)?.get(PART.firstPage));
    return page === null ? undefined : firstPageAnswer(page, limit);
  }

  /** Every task, parsed, in the order GET …/tasks lists them (tools and tests: the route sends tasksJson). */
  public tasks(pursuanceId: string): TaskListItem[] {
    return JSON.parse(this.tasksJson(pursuanceId)) as TaskListItem[];
  }

  /**
   * One task with its history (GET …/tasks/:taskId); undefined when not stored. `readPart`
   * reads a part from the store: the history always (memory keeps its digest only, see
   * part-digest.ts), the item while start-up has not taken its shelf in.
   */
  public async task(pursuanceId: string, taskId: string, readPart: (name: string) => Promise<string | undefined>): Promise<TaskModel | undefined> {
    const history = await readPart(historyPart(taskId));
    // Read after the history, so the item is as current as the history (or newer, never older).
    let item: TaskListItem | undefined;
    if (this.hasShelf(pursuanceId, SHELF.list)) item = this.get<TaskListItem>(pursuanceId, taskPart(taskId));
    else {
      const stored = await readPart(taskPart(taskId));
      // Taken in while the store answered: what is here now is as current, or newer.
      if (this.hasShelf(pursuanceId, SHELF.list)) item = this.get<TaskListItem>(pursuanceId, taskPart(taskId));
      else item = stored === undefined ? undefined : (JSON.parse(stored) as TaskListItem);
    }
    if (item === undefined) return undefined;
    return { ...item, history: history === undefined ? [] : (JSON.parse(history) as HistoryModel[]) };
  }
}

import type { ProjectionWrite, StoredProjections } from '../store/projection-store.js';
import { PART, isTaskPart, taskIdOf, type ProjectionCheckpoint } from './projector.js';
import type { TaskModel } from './read-models.js';

/**
 * A stored task's `createdAt` without parsing it: the first `"createdAt":` in the part is the
 * task's own (taskModel writes it before any user text or comment, and a quote inside a JSON
 * string is always escaped, so user text cannot forge the key).
 */
const CREATED_AT = /"createdAt":(\d+)/;
function createdAtOf(json: string): number {
  const found = CREATED_AT.exec(json);
  return found ? Number(found[1]) : (JSON.parse(json) as TaskModel).createdAt;
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

  public load(stored: StoredProjections): void {
    this.#parts.clear();
    this.#parsed.clear();
    this.#taskJson.clear();
    for (const [id, parts] of stored) this.#parts.set(id, parts);
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
    this.#parts.delete(pursuanceId);
    this.#parsed.delete(pursuanceId);
    this.#taskJson.delete(pursuanceId);
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
    if (tasksChanged) this.#taskJson.delete(w.pursuanceId);
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

  /**
   * The task list as GET …/tasks sends it: the stored parts joined as they are, never parsed
   * and serialised again (on a 12,000-task board that is 25 MB of JSON). Kept until a task changes.
   */
  public tasksJson(pursuanceId: string): string {
    const known = this.#taskJson.get(pursuanceId);
    if (known !== undefined) return known;
    const rows: { json: string; createdAt: number; id: string }[] = [];
    for (const [name, json] of this.#parts.get(pursuanceId) ?? []) {
      if (!isTaskPart(name)) continue;
      rows.push({ json, createdAt: createdAtOf(json), id: taskIdOf(name) });
    }
    rows.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const text = `[${rows.map((r) => r.json).join(',')}]`;
    this.#taskJson.set(pursuanceId, text);
    return text;
  }

  /** Every task, parsed, in the order GET …/tasks lists them (tools and tests: the route sends tasksJson). */
  public tasks(pursuanceId: string): TaskModel[] {
    return JSON.parse(this.tasksJson(pursuanceId)) as TaskModel[];
  }
}

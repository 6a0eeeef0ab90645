import type { ProjectionWrite, StoredProjections } from '../store/projection-store.js';
import { PART, isTaskPart, type ProjectionCheckpoint } from './projector.js';
import type { TaskModel } from './read-models.js';

/**
 * The persisted read models as the node holds them in memory: the JSON text of every stored
 * part (what is compared before a write) and, once asked for, its parsed value. Changed only
 * after the transaction that stored a change has committed.
 */
export class ProjectionCache {
  readonly #parts = new Map<string, Map<string, string>>();
  readonly #parsed = new Map<string, Map<string, unknown>>();
  readonly #taskLists = new Map<string, readonly TaskModel[]>();

  public load(stored: StoredProjections): void {
    this.#parts.clear();
    this.#parsed.clear();
    this.#taskLists.clear();
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
    this.#taskLists.delete(pursuanceId);
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
    if (tasksChanged) this.#taskLists.delete(w.pursuanceId);
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

  /** Every task, in the order GET …/tasks lists them (kept until a task changes). */
  public tasks(pursuanceId: string): readonly TaskModel[] {
    const known = this.#taskLists.get(pursuanceId);
    if (known) return known;
    const list: TaskModel[] = [];
    for (const name of this.#parts.get(pursuanceId)?.keys() ?? []) if (isTaskPart(name)) list.push(this.get<TaskModel>(pursuanceId, name)!);
    list.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    this.#taskLists.set(pursuanceId, list);
    return list;
  }
}

import type { OnionName } from '@pursuance/crypto';
import { TASK_CONTENT_KINDS, opensTask, runAtOnce, runInSlices, type EventId, type MemberViewResult, type SignedEvent } from '@pursuance/pursuance';
import { toHex } from '@pursuance/crypto';
import { LATER_PREFIX, LIST_PREFIX, type ProjectionWrite } from '../store/projection-store.js';
import { firstPageJson, firstPageOf, parseFirstPage, updatedFirstPage, type FirstPage } from './first-page.js';
import { heldText } from './part-digest.js';
import { createdAtOf, type TaskRow } from './task-order.js';
import { feedOf, membersOf, rolesOf, splitTask, summaryOf, taskModel, type TaskListItem } from './read-models.js';
import type { PursuanceEntry } from './registry.js';

/**
 * The names of the parts of a pursuance's persisted read model. Each part holds the JSON the
 * API serves for it (the summary without what only the sync service knows: see queries.ts).
 */
export const PART = {
  checkpoint: 'checkpoint',
  summary: 'summary',
  members: 'members',
  roles: 'roles',
  rules: 'rules',
  feed: 'feed',
  rejections: 'rejections',
  /** The list's newest tasks (first-page.ts): the board's first page, served before the list is read. */
  firstPage: 'first-page',
} as const;
/** On the list's shelf (LIST_PREFIX): start-up serves the first page before it opens these. */
const TASK_PREFIX = `${LIST_PREFIX}task:`;
/** A task as the list shows it (TaskListItem). */
export const taskPart = (id: string): string => `${TASK_PREFIX}${id}`;
export const isTaskPart = (name: string): boolean => name.startsWith(TASK_PREFIX);
/** The task id a task part is named for. */
export const taskIdOf = (name: string): string => name.slice(TASK_PREFIX.length);
const HISTORY_PREFIX = `${LATER_PREFIX}history:`;
/** A task's history, apart from its list item: only GET …/tasks/:taskId sends it, and start-up does not read it. */
export const historyPart = (id: string): string => `${HISTORY_PREFIX}${id}`;
export const isHistoryPart = (name: string): boolean => name.startsWith(HISTORY_PREFIX);
/** The task id a task or history part is named for, or null for any other part. */
function taskOfPart(name: string): string | null {
  if (isTaskPart(name)) return taskIdOf(name);
  return isHistoryPart(name) ? name.slice(HISTORY_PREFIX.length) : null;
}

/**
 * The layout of the stored parts. A read model stored under another layout is not served at
 * start-up and is written again by the replay, as if none were stored (1: each task with its
 * history in one part; 2: the history in a part of its own; 3: parts stored in keyed buckets,
 * store/projection-store.ts; 4: the list's items on a shelf of their own, and its first page).
 */
export const PROJECTION_FORMAT = 4;

/** How many feed items the persisted feed keeps (the dashboard's feed length). */
export const PERSISTED_FEED = 200;

/**
 * What the read model was folded from: how many events, the heads and the state hash. At
 * start-up a read model whose event count is not the store's is stale and not served; after a
 * replay the fold's own checkpoint is compared with it (a difference is reported loudly).
 */
export interface ProjectionCheckpoint {
  /** PROJECTION_FORMAT when written; absent from read models stored before it was kept. */
  readonly format?: number;
  readonly events: number;
  readonly heads: readonly string[];
  readonly pending: number;
  /** The fold's hash chain over accepted events (cheap to keep current). */
  readonly logHash: string;
  /**
   * The state hash, worked out only when the whole read model is compared (a replay) and at a
   * clean stop: it encodes the whole public state, too dear for every command on a big board.
   * Null when events were stored since.
   */
  readonly stateHash: string | null;
}

/** Events about one task: its content kinds (the core's list) and moves in the tree. */
const TASK_KINDS: ReadonlySet<string> = new Set<string>([...TASK_CONTENT_KINDS, 'task.move']);

/** The task an event is about (as the log indexes it), or null for an event about something else. */
export function taskOf(e: SignedEvent): EventId | null {
  if (opensTask(e.header.kind)) return e.id;
  if (!TASK_KINDS.has(e.header.kind)) return null;
  const task = (e.header.body as { task?: unknown }).task;
  return task instanceof Uint8Array ? (toHex(task) as EventId) : null;
}

/** The parent a stored task part names (to recompare the old parent after a move). */
export function storedParent(json: string | undefined): string | null {
  if (json === undefined) return null;
  const parent = (JSON.parse(json) as Partial<TaskListItem>).parent;
  return typeof parent === 'string' ? parent : null;
}

/**
 * Works out what a pursuance's read model should hold after a change, as the parts that differ
 * from what is stored. Only the tasks the new events are about are recomputed when those events
 * are task events on top of the fold order under the same keys; anything else (a reorder, a key,
 * membership or rules change, a rename: names show in every task) recomputes every task.
 */
export class Projector {
  /** Each pursuance's first page as last written, so a write does not parse the stored one again. */
  readonly #pages = new Map<string, { readonly json: string; readonly page: FirstPage }>();

  public constructor(private readonly me: OnionName) {}

  /**
   * `fresh`: the events just taken in (they must be in the log), or 'all' to compare every part.
   * `keysBefore`: this member's key ids before they were taken in.
   */
  public diff(
    entry: PursuanceEntry,
    view: MemberViewResult,
    stored: ReadonlyMap<string, string> | undefined,
    fresh: readonly SignedEvent[] | 'all',
    keysBefore?: string,
  ): ProjectionWrite {
    return runAtOnce(this.#diff(entry, view, stored, fresh, keysBefore, fresh === 'all' ? entry.log.stateHash() : null, Number.POSITIVE_INFINITY));
  }

  /**
   * diff(), with `await pause()` after every `every` tasks compared. Events that are not new
   * tasks' events on top of the fold (a rename, a role change, a late race) have every task
   * compared: hundreds of milliseconds on a board of 10,000 tasks. The log and view must not
   * change until it resolves (the registry runs it inside its one writer queue).
   */
  public diffInSlices(
    entry: PursuanceEntry,
    view: MemberViewResult,
    stored: ReadonlyMap<string, string> | undefined,
    fresh: readonly SignedEvent[],
    keysBefore: string | undefined,
    pause: () => Promise<void>,
    every: number,
  ): Promise<ProjectionWrite> {
    return runInSlices(this.#diff(entry, view, stored, fresh, keysBefore, null, every), pause);
  }

  /**
   * diff(…, 'all') with `await pause()` after every `every` tasks: comparing every task of a
   * big board (a replay's last step) takes seconds at a million events, and the caller's event
   * loop keeps turning meanwhile. The log and view must not change until it resolves (the
   * registry runs it inside its one writer queue).
   */
  public async diffAllInSlices(
    entry: PursuanceEntry,
    view: MemberViewResult,
    stored: ReadonlyMap<string, string> | undefined,
    pause: () => Promise<void>,
    every: number,
  ): Promise<ProjectionWrite> {
    // The state hash too: encoding the whole public state takes seconds at a million events.
    const hash = await entry.log.stateHashInSlices(pause);
    return runInSlices(this.#diff(entry, view, stored, 'all', undefined, hash, every), pause);
  }

  /** Only the checkpoint, with the state hash worked out (a clean stop). */
  public finalCheckpoint(entry: PursuanceEntry, stored: ReadonlyMap<string, string> | undefined): ProjectionWrite {
    const upserts = new Map<string, string>();
    const json = JSON.stringify(this.#checkpoint(entry, entry.log.stateHash()));
    if (stored?.get(PART.checkpoint) !== json) upserts.set(PART.checkpoint, json);
    return { pursuanceId: entry.id, upserts, deletes: [] };
  }

  #checkpoint(entry: PursuanceEntry, stateHash: string | null): ProjectionCheckpoint {
    const log = entry.log;
    return {
      format: PROJECTION_FORMAT,
      events: log.size,
      heads: log.heads(),
      pending: log.pendingCount(),
      logHash: log.acceptedLogHash(),
      stateHash,
    };
  }

  /**
   * The list's first page after `changes` (first-page.ts): from the stored page when it can be
   * told from it, else from every task (the stored items overlaid with the changes), pausing
   * as the comparison does. `whole`: a replay's comparison, which works it out from every task
   * anyway, so a wrong stored page is rewritten.
   */
  *#firstPage(
    pursuanceId: string,
    parts: ReadonlyMap<string, string>,
    changes: ReadonlyMap<string, string | null>,
    whole: boolean,
    every: number,
  ): Generator<void, FirstPage> {
    const stored = parts.get(PART.firstPage);
    if (!whole) {
      const memo = this.#pages.get(pursuanceId);
      const before = memo !== undefined && memo.json === stored ? memo.page : parseFirstPage(stored);
      // No item changed (a key, a rule, the feed): the page as it is, not its 500 items copied and sorted again.
      if (before && changes.size === 0) return before;
      const after = before && updatedFirstPage(before, changes, (id) => parts.has(taskPart(id)));
      if (after) return after;
    }
    const list: TaskRow[] = [];
    let sincePause = 0;
    const take = (id: string, json: string): void => void list.push({ id, createdAt: createdAtOf(json), json });
    for (const [name, json] of parts) {
      if (++sincePause >= every) {
        sincePause = 0;
        yield;
      }
      if (!isTaskPart(name)) continue;
      const id = taskIdOf(name);
      if (!changes.has(id)) take(id, json);
    }
    for (const [id, json] of changes) if (json !== null) take(id, json);
    return firstPageOf(list);
  }

  *#diff(
    entry: PursuanceEntry,
    view: MemberViewResult,
    stored: ReadonlyMap<string, string> | undefined,
    fresh: readonly SignedEvent[] | 'all',
    keysBefore: string | undefined,
    /** The state hash the checkpoint records: null unless the whole read model is compared. */
    stateHash: string | null,
    every: number,
  ): Generator<void, ProjectionWrite> {
    const parts = stored ?? new Map<string, string>();
    const upserts = new Map<string, string>();
    const deletes: string[] = [];
    /** The parts this read model has, when every part is compared: any other stored part goes. */
    const kept = new Set<string>();
    const putText = (name: string, json: string): void => {
      kept.add(name);
      // What the cache holds of the stored part: its text, or a history's digest.
      if (parts.get(name) !== heldText(name, json)) upserts.set(name, json);
    };
    const put = (name: string, value: unknown): void => putText(name, JSON.stringify(value));
    const log = entry.log;
    const state = log.state();
    const order = log.order();
    let candidates: Iterable<string>;
    const onTop =
      fresh !== 'all' &&
      stored !== undefined &&
      keysBefore === view.keyring.keyIds().join() &&
      fresh.every((e) => taskOf(e) !== null && order.lastIndexOf(e.id) >= order.length - fresh.length);
    if (onTop) {
      const set = new Set<string>();
      for (const e of fresh) {
        const task = taskOf(e)!;
        set.add(task);
        const before = storedParent(parts.get(taskPart(task)));
        const after = state.tasks.get(task)?.parent;
        if (before) set.add(before);
        if (after) set.add(after);
      }
      candidates = set;
    } else {
      const set = new Set<string>(state.tasks.keys());
      for (const name of parts.keys()) {
        const task = taskOfPart(name);
        if (task !== null) set.add(task);
      }
      candidates = set;
    }
    let sincePause = 0;
    const listChanges = new Map<string, string | null>();
    for (const id of candidates) {
      if (++sincePause >= every) {
        sincePause = 0;
        yield;
      }
      const model = taskModel(entry, view, id as EventId);
      if (model) {
        const { item, history } = splitTask(model);
        const json = JSON.stringify(item);
        if (parts.get(taskPart(id)) !== json) listChanges.set(id, json);
        putText(taskPart(id), json);
        put(historyPart(id), history);
      } else {
        for (const name of [taskPart(id), historyPart(id)]) if (parts.has(name)) deletes.push(name);
        if (parts.has(taskPart(id))) listChanges.set(id, null);
      }
    }
    const page = yield* this.#firstPage(entry.id, parts, listChanges, fresh === 'all', every);
    const memo = this.#pages.get(entry.id);
    // The page's text (hundreds of kilobytes on a big board) is joined only when the page changed.
    const pageJson = memo?.page === page ? memo.json : firstPageJson(page);
    putText(PART.firstPage, pageJson);
    this.#pages.set(entry.id, { json: pageJson, page });
    put(PART.summary, summaryOf(entry, this.me, null, false));
    put(PART.members, membersOf(entry));
    put(PART.roles, rolesOf(entry, view));
    put(PART.rules, state.rules);
    put(PART.feed, feedOf(entry, PERSISTED_FEED));
    put(PART.rejections, [...log.foldRejections(), ...view.contentRejections]);
    put(PART.checkpoint, this.#checkpoint(entry, stateHash));
    // A part no event gives (left by an older node, planted in the file) is not served again.
    if (fresh === 'all') for (const name of parts.keys()) if (!kept.has(name) && !deletes.includes(name)) deletes.push(name);
    return { pursuanceId: entry.id, upserts, deletes };
  }
}

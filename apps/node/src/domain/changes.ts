import type { EventId } from '@pursuance/pursuance';
import { PART, PERSISTED_FEED, historyPart, isTaskPart, storedParent, taskIdOf, taskOf, taskPart } from './projector.js';
import type { FeedItem, MemberModel, RoleModel, TaskListItem } from './read-models.js';
import type { PursuanceEntry, PursuanceRegistry } from './registry.js';

/**
 * What changed in one pursuance's read model since a version the client holds: the tasks
 * (each changed one whole, as GET …/tasks lists it, and the ids of those gone; a task whose
 * history alone changed is listed too, so a client showing it fetches it again), and the
 * members, roles and feed. `reset`: the node cannot say what changed since that version (it
 * never handed it out, has forgotten it, or restarted): the client fetches the lists again.
 */
export interface PursuanceChanges {
  readonly version: number;
  readonly reset: boolean;
  readonly tasks: { readonly upserted: readonly TaskListItem[]; readonly removed: readonly string[] };
  /** The whole member list when it changed, else null (lists of members and roles are short). */
  readonly members: readonly MemberModel[] | null;
  readonly roles: readonly RoleModel[] | null;
  /** Newest first: the feed's new items, or (`full`) the whole feed as GET …/feed?limit=200 gives it. */
  readonly feed: { readonly items: readonly FeedItem[]; readonly full: boolean };
}

/** A stored task's fingerprint (see TaskMark), or undefined when the task is not stored. */
function fingerprintOf(parts: ReadonlyMap<string, string> | undefined, id: string): TaskPrint | undefined {
  const item = parts?.get(taskPart(id));
  return item === undefined ? undefined : { item, history: parts?.get(historyPart(id)) };
}

/**
 * The stored texts themselves, kept side by side rather than joined: a join would copy every
 * task's history at each comparison, and equal parts are mostly the very same string.
 */
interface TaskPrint {
  readonly item: string;
  readonly history: string | undefined;
}

/** The feed length the dashboard shows, and that a change set carries at most. */
export const FEED_LIMIT = PERSISTED_FEED;
/** Versions remembered per pursuance; a client further behind gets a reset. */
export const VERSION_HISTORY = 1024;

/**
 * A task's fingerprint is its list item's and its history's JSON as the read model stores them
 * (what the API serves): comparing it is exact.
 */
interface TaskMark {
  fingerprint: TaskPrint;
  changedAt: number;
  parent: string | null;
}

/** One pursuance's versions: what each task, list and the feed looked like when last compared. */
interface Tracker {
  readonly entry: PursuanceEntry;
  version: number;
  /** Versions handed out, oldest first, each with how much of the fold order it had read. */
  readonly history: { readonly version: number; readonly read: number }[];
  /** The fold order as last read, and each event's acceptance then (to tell an append from a reorder). */
  readIds: EventId[];
  readAccepted: boolean[];
  keyIds: string;
  seenEntryVersion: number;
  seenSize: number;
  readonly tasks: Map<string, TaskMark>;
  readonly removed: Map<string, number>;
  members: { fingerprint: string; changedAt: number };
  roles: { fingerprint: string; changedAt: number };
  /** The last version at which the feed changed other than by new events on top (a reorder, a rename). */
  feedFullAt: number;
  /** Started while a change may have been in flight (see changesSince): compare every task at the next change. */
  recheck: boolean;
}

/**
 * Versions of each pursuance's read model, so the dashboard can ask for what changed rather
 * than refetch a 5,000-task list on every event. A version is bumped whenever a compared part
 * (a task as this member reads it, the members, the roles, the feed) differs from what was
 * last handed out; the live stream's `changed` event carries the new one.
 *
 * Which tasks to compare is narrowed to what the new events are about when they only append
 * task events to the fold order under the same keys; anything else (a reorder, a key or
 * membership change, a rules change, a rename) compares every task. Comparison is by a
 * fingerprint of the very JSON GET …/tasks serves, so a change set always equals a refetch.
 *
 * Comparisons run as the registry publishes each change (for pursuances someone has asked
 * about): then the log and this member's view agree, which they need not while a change is
 * being stored (its events are in the log before the view is refreshed).
 *
 * Versions are not stored: they are numbered from the clock at start (microseconds), so a
 * version handed out before a restart or a rebuild is never taken for a later one — it is not
 * in the new history, and its holder gets a reset.
 */
export class ChangeFeed {
  readonly #trackers = new Map<string, Tracker>();
  #next: number;

  public constructor(
    private readonly registry: PursuanceRegistry,
    clock: () => number = Date.now,
  ) {
    this.#next = Math.floor(clock()) * 1000;
    registry.onChange((change) => {
      if (!this.#trackers.has(change.pursuanceId)) return;
      // A listener that threw would fail the registry's change: a fault here is reported, and the
      // pursuance's clients start over (its tracker is dropped, so they get a reset).
      try {
        this.versionOf(change.pursuanceId);
      } catch (err) {
        this.#trackers.delete(change.pursuanceId);
        registry.warn(
          `pursuance ${change.pursuanceId}: comparing read-model versions failed (${err instanceof Error ? err.name : 'non-error'}); clients refetch`,
        );
      }
    });
  }

  /**
   * The pursuance's current version (comparing what changed since the last call first). For
   * the live stream, called as the registry publishes a change: the log and this member's
   * view then agree (no other change runs until the registry's listeners return).
   */
  public versionOf(pursuanceId: string): number {
    return this.#sync(this.registry.get(pursuanceId)).version;
  }

  /** What changed since `since` (undefined: nothing held yet, so a reset with the current version). */
  public changesSince(pursuanceId: string, since: number | undefined): PursuanceChanges {
    const entry = this.registry.get(pursuanceId);
    // As of the last published change: one being stored now is compared when it is published.
    const known = this.#trackers.get(pursuanceId);
    // Mid-change when the log holds events the stored read model does not count yet.
    const t = known?.entry === entry ? known : this.#start(entry, this.registry.projections.checkpoint(pursuanceId)?.events === entry.log.size);
    const at = since === undefined ? -1 : t.history.findIndex((h) => h.version === since);
    if (since === undefined || at < 0) {
      return { version: t.version, reset: true, tasks: { upserted: [], removed: [] }, members: null, roles: null, feed: { items: [], full: false } };
    }
    // Served from the persisted read model: what is committed, as of the last published change
    // (a change being stored is in the log already, and must not show before it is durable).
    const rows = this.registry.projections;
    const upserted: TaskListItem[] = [];
    for (const [id, mark] of t.tasks) {
      if (mark.changedAt <= since) continue;
      const model = rows.get<TaskListItem>(pursuanceId, taskPart(id));
      if (model) upserted.push(model);
    }
    upserted.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const removed = [...t.removed].filter(([, v]) => v > since).map(([id]) => id);
    const readThen = t.history[at]!.read;
    const fresh = t.readIds.length - readThen;
    const stored = rows.get<FeedItem[]>(pursuanceId, PART.feed) ?? [];
    // New events on top are the newest items of the stored feed (it is the fold order, newest first).
    const feed = t.feedFullAt > since || fresh > FEED_LIMIT ? { items: stored, full: true } : { items: stored.slice(0, fresh), full: false };
    return {
      version: t.version,
      reset: false,
      tasks: { upserted, removed: removed.sort() },
      members: t.members.changedAt > since ? (rows.get<MemberModel[]>(pursuanceId, PART.members) ?? []) : null,
      roles: t.roles.changedAt > since ? (rows.get<RoleModel[]>(pursuanceId, PART.roles) ?? []) : null,
      feed,
    };
  }

  /** Compare what changed since the last call; called as the registry publishes a change. */
  #sync(entry: PursuanceEntry): Tracker {
    const known = this.#trackers.get(entry.id);
    // A rebuild replaces the entry: start over, under versions its clients never held.
    if (known?.entry !== entry) return this.#start(entry, true);
    if (known.seenEntryVersion === entry.version && known.seenSize === entry.log.size) return known;
    const t = known;
    const view = this.registry.view(entry.id);
    const order = entry.log.order();
    const keyIds = view.keyring.keyIds().join();
    const appended = keyIds === t.keyIds && this.#stillRead(t, entry, order);
    const fresh = appended ? order.slice(t.readIds.length) : order;
    // Task events on top of the fold order as read change only their tasks (and the feed's top).
    const onTop = appended && fresh.every((id) => taskOf(entry.log.event(id)!) !== null);
    const narrow = onTop && !t.recheck;
    const candidates = new Set<string>();
    if (narrow) {
      for (const id of fresh) {
        const task = taskOf(entry.log.event(id)!)!;
        candidates.add(task);
        const before = t.tasks.get(task)?.parent;
        const after = entry.log.state().tasks.get(task)?.parent;
        if (before) candidates.add(before);
        if (after) candidates.add(after);
      }
    } else {
      for (const id of entry.log.state().tasks.keys()) candidates.add(id);
      for (const id of t.tasks.keys()) candidates.add(id);
    }
    const version = this.#next + 1;
    let changed = fresh.length > 0;
    const parts = this.registry.projections.parts(entry.id);
    for (const id of candidates) changed = this.#compareTask(t, parts, id, version) || changed;
    const members = parts?.get(PART.members) ?? '';
    if (members !== t.members.fingerprint) {
      t.members = { fingerprint: members, changedAt: version };
      changed = true;
    }
    const roles = parts?.get(PART.roles) ?? '';
    if (roles !== t.roles.fingerprint) {
      t.roles = { fingerprint: roles, changedAt: version };
      changed = true;
    }
    // Started mid-change: the fold order read then may hold events not yet stored, so the feed goes whole.
    if (!onTop || t.recheck) t.feedFullAt = version;
    t.recheck = false;
    if (!appended) {
      t.readIds = [];
      t.readAccepted = [];
    }
    for (const id of fresh) {
      t.readIds.push(id);
      t.readAccepted.push(entry.log.isAccepted(id));
    }
    t.keyIds = keyIds;
    t.seenEntryVersion = entry.version;
    t.seenSize = entry.log.size;
    if (changed) {
      this.#next = version;
      t.version = version;
      t.history.push({ version, read: t.readIds.length });
      if (t.history.length > VERSION_HISTORY) t.history.splice(0, t.history.length - VERSION_HISTORY);
      // Marks of versions no client can ask about any more are dropped.
      const oldest = t.history[0]!.version;
      for (const [id, v] of t.removed) if (v < oldest) t.removed.delete(id);
    }
    return t;
  }

  /** Compare one task's stored part with its last fingerprint; true when it changed (or went). */
  #compareTask(t: Tracker, parts: ReadonlyMap<string, string> | undefined, id: string, version: number): boolean {
    const print = fingerprintOf(parts, id);
    const mark = t.tasks.get(id);
    if (print === undefined) {
      if (!mark) return false;
      t.tasks.delete(id);
      t.removed.set(id, version);
      return true;
    }
    if (mark?.fingerprint.item === print.item && mark.fingerprint.history === print.history) return false;
    t.tasks.set(id, { fingerprint: print, changedAt: version, parent: storedParent(print.item) });
    t.removed.delete(id);
    return true;
  }

  #stillRead(t: Tracker, entry: PursuanceEntry, order: readonly EventId[]): boolean {
    if (order.length < t.readIds.length) return false;
    for (let i = 0; i < t.readIds.length; i++) {
      const id = t.readIds[i]!;
      if (order[i] !== id || entry.log.isAccepted(id) !== t.readAccepted[i]) return false;
    }
    return true;
  }

  /** `settled`: no change is being stored (else every task is compared again at the next change). */
  #start(entry: PursuanceEntry, settled: boolean): Tracker {
    const view = this.registry.view(entry.id);
    const version = ++this.#next;
    const order = entry.log.order();
    const tasks = new Map<string, TaskMark>();
    // Fingerprints of what is stored (committed), never of a change still being stored.
    const parts = this.registry.projections.parts(entry.id);
    for (const [name, item] of parts ?? []) {
      if (!isTaskPart(name)) continue;
      const id = taskIdOf(name);
      tasks.set(id, { fingerprint: fingerprintOf(parts, id)!, changedAt: version, parent: storedParent(item) });
    }
    const t: Tracker = {
      entry,
      version,
      history: [{ version, read: order.length }],
      readIds: [...order],
      readAccepted: order.map((id) => entry.log.isAccepted(id)),
      keyIds: view.keyring.keyIds().join(),
      seenEntryVersion: entry.version,
      seenSize: entry.log.size,
      tasks,
      removed: new Map(),
      members: { fingerprint: parts?.get(PART.members) ?? '', changedAt: version },
      roles: { fingerprint: parts?.get(PART.roles) ?? '', changedAt: version },
      feedFullAt: version,
      recheck: !settled,
    };
    this.#trackers.set(entry.id, t);
    return t;
  }
}

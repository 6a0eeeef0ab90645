import { onionFromPublicKey, toHex, type CanonicalValue, type Identity, type OnionName } from '@pursuance/crypto';
import { CONTENT_SCHEMAS, SubmissionContentSchema, type EventBody, type EventKind, type Rotation, type Share, type TaskContentKind } from './bodies.js';
import type { EventHeader, EventId, PursuanceId, SignedEvent } from './envelope.js';
import { openLinkTask, type LinkTaskContent } from './link.js';
import type { TaskOrigin } from './state.js';
import { ContentUnreadableError, RejectionCode, type Rejection } from './errors.js';
import { heldFields } from './held-event.js';
import { Keyring, contentBindingProblem, newRoleKey, openContentIfHeld, openLockbox } from './keys.js';
import type { PursuanceLog } from './log.js';
import type { RoleId, Rules } from './rules/schema.js';
import { runAtOnce, runInSlices } from './steps.js';
import { openSubmission } from './submission.js';

/**
 * What one member can read: the keys addressed to them (each checked against the key id a
 * valid rotation published) and the task content sealed to roles they hold keys for, folded
 * in the log's public order so every reader of a task sees the same task.
 *
 * Content rules (the workflow) are checked here, by readers only: a status change the
 * workflow does not allow is reported in `contentRejections` and changes nothing, identically
 * for everyone who can read it.
 */
export interface CommentView {
  readonly id: EventId;
  readonly author: OnionName;
  readonly time: number;
  readonly body: string;
}

/** Who was assigned or unassigned by one change. */
export interface AssigneeChange {
  readonly members: OnionName[];
  readonly roles: RoleId[];
}

/**
 * What one task event changed, old → new, as this reader sees it. Only parts that changed are
 * present; a `from` is missing when this reader could not read the earlier value (a since-join
 * reader, or content sealed under a key it lacks). Set only when the event's content is readable
 * to this reader (a move is public, so always): a reader without the key learns nothing from it.
 */
export interface HistoryChange {
  /** task.status / task.close / task.reopen: the status it left and the one it took. */
  status?: { from?: string; to: string };
  /** task.close / task.reopen: the note given with it. */
  note?: string;
  title?: { from?: string; to: string };
  /** The description's length before and after (the text itself is on the task). */
  body?: { fromLength?: number; toLength: number };
  labels?: { added: string[]; removed: string[] };
  due?: { from?: number | null; to: number | null };
  assigned?: AssigneeChange;
  unassigned?: AssigneeChange;
  /** task.move: the parent task before and after (null: top level). */
  parent?: { from: EventId | null; to: EventId | null };
  /** Why the workflow refused this change (it changed nothing, or fell back as described). */
  refused?: string;
}

export interface HistoryEntry {
  readonly id: EventId;
  readonly kind: string;
  readonly author: OnionName;
  readonly time: number;
  change?: HistoryChange;
}

export interface TaskView {
  readonly id: EventId;
  readonly audience: readonly RoleId[];
  parent: EventId | null;
  readonly createdBy: OnionName;
  readonly createdAt: number;
  closed: boolean;
  /** False when this member holds no key for the task's audience: only structure is known. */
  readable: boolean;
  /** A write-only submission (a tip) rather than a task: sent by someone who need not read its audience. */
  readonly submission?: true;
  /** A submission sealed to a key already rotated away when it was folded (state.ts TaskState.staleKey). */
  staleKey?: true;
  /** A task a linked pursuance sent (link.task): which one, and which of its roles vouched for it. */
  readonly origin?: TaskOrigin;
  /**
   * Whether this reader saw the task from its creation. A reader who joined later (a
   * since-join role) cannot know the earlier status, so it takes later status changes as given
   * instead of judging them against the workflow — otherwise readers would disagree.
   */
  judged: boolean;
  title?: string;
  body?: string;
  status?: string;
  assignees?: { members: OnionName[]; roles: RoleId[] };
  labels?: string[];
  due?: number | null;
  readonly comments: CommentView[];
  readonly history: HistoryEntry[];
}

export interface MemberViewResult {
  readonly keyring: Keyring;
  readonly tasks: Map<EventId, TaskView>;
  readonly contentRejections: Rejection[];
}

/**
 * Open every lockbox addressed to `me` in accepted key-bearing events, in fold order. The few
 * key-bearing events are picked by kind from the events held: looking up every id of the fold
 * order instead held the event loop for 0.9 s at a million events, at every start and at every
 * key that arrived.
 */
export function collectKeys(log: PursuanceLog, me: Identity, keyring: Keyring = new Keyring()): Keyring {
  return runAtOnce(collectKeysSteps(log, me, keyring, Infinity));
}

/** Events collectKeysSteps looks at between two pauses (most only by their kind). */
export const KEYS_SLICE = 20_000;

/**
 * collectKeys as steps (steps.ts), pausing after every `every` events it looks at and every
 * `every / 100` key-bearing events it opens: a walk of a million events, a second at once.
 */
export function* collectKeysSteps(log: PursuanceLog, me: Identity, keyring: Keyring = new Keyring(), every = KEYS_SLICE): Generator<void, Keyring> {
  const candidates: SignedEvent[] = [];
  let looked = 0;
  for (const e of log.events()) {
    // The held kind, not e.header.kind: a held event makes a header object for that.
    if (KEY_BEARING.has(heldFields(e)?.kind ?? e.header.kind)) candidates.push(e);
    if (++looked % every === 0) yield;
  }
  let opened = 0;
  for (const e of log.acceptedInFoldOrder(candidates)) {
    if (++opened % Math.ceil(every / 100) === 0) yield;
    for (const { role, keyId, lockboxes } of KEY_BEARING.get(e.header.kind)!(e.header)) {
      if (keyring.has(keyId)) continue;
      for (const lb of lockboxes) {
        const k = openLockbox(me, role, keyId, lb);
        if (k) keyring.add(k);
      }
    }
  }
  return keyring;
}

/**
 * Recover role keys from secrets this member created and kept (see newRoleKey): a key whose
 * rotation left its own creator out (someone rotating a role they do not hold) reaches them by
 * no lockbox, so only the kept secret brings it back after a restart. Returns how many were added.
 */
export function recoverKeysFromSecrets(log: PursuanceLog, secrets: Iterable<Uint8Array>, keyring: Keyring): number {
  const wanted = new Map<string, string>();
  for (const [role, r] of log.state().roles) for (const epoch of r.epochs) if (!keyring.has(epoch.keyIdHex)) wanted.set(epoch.keyIdHex, role);
  if (wanted.size === 0) return 0;
  const roles = [...new Set(wanted.values())];
  let added = 0;
  for (const secret of secrets) {
    for (const role of roles) {
      const k = newRoleKey(role, secret);
      const hex = toHex(k.keyId);
      if (wanted.get(hex) === role && !keyring.has(hex)) {
        keyring.add(k);
        added += 1;
      }
    }
  }
  return added;
}

/**
 * The kinds that carry keys, and where in the body: one table, so the pick by kind and the
 * reading of lockboxes cannot drift apart. The body is decoded only for these kinds (a held
 * event decodes it again when read: held-event.ts).
 */
const KEY_BEARING = new Map<EventKind, (h: EventHeader) => readonly (Rotation | Share)[]>([
  ['genesis', (h) => (h.body as EventBody<'genesis'>).keys],
  ['member.add', (h) => (h.body as EventBody<'member.add'>).keys],
  ['role.assign', (h) => (h.body as EventBody<'role.assign'>).keys],
  ['member.remove', (h) => (h.body as EventBody<'member.remove'>).rotations],
  [
    'role.remove',
    (h) => {
      const rot = (h.body as EventBody<'role.remove'>).rotation;
      return rot ? [rot] : [];
    },
  ],
  ['keys.rotate', (h) => (h.body as EventBody<'keys.rotate'>).rotations],
  ['keys.share', (h) => (h.body as EventBody<'keys.share'>).shares],
]);

export function buildMemberView(log: PursuanceLog, me: Identity, keyring: Keyring = collectKeys(log, me)): MemberViewResult {
  const ctx = newViewContext(log, keyring, me);
  for (const id of log.order()) readEvent(ctx, id);
  return { keyring, tasks: ctx.tasks, contentRejections: ctx.contentRejections };
}

/**
 * A member view kept up to date as its log grows, for a reader that asks after every change.
 * Rebuilding reads (decrypts) every sealed event, so a command on a 10,000-task pursuance cost
 * ~250 ms and filling one grew quadratically. Most changes only add events at the end of the fold
 * order (our own commands, live group messages): those are read alone. When anything already
 * read moved or changed acceptance (a concurrent event sorted before it, a race re-resolved), or
 * the keyring changed (content sealed to a role we just got a key for may open now), it rebuilds
 * from the start: the result is always what buildMemberView would give (a property test compares).
 * The result is updated in place: read it before the next `current()`.
 */
export class MemberViewCache {
  #ctx: ViewContext | undefined;
  /**
   * The order array read from: its first `#readCount` ids are what was read. A fold's order
   * is only ever appended to (a refold makes a new array), so it keeps those ids as they were
   * read. A fold run judges each event as it appends it (acceptance never changes after), so
   * while log.order() hands back this very array, what was read is still its start: no need to
   * compare it event by event, which on a 12,000-task board was a tenth of every command's time.
   */
  #readFrom: readonly EventId[] | undefined;
  #readCount = 0;
  /** Each read event's acceptance when read (1 or 0), by position: a byte an event, where an object an event held 40 MB at a million. */
  #readAccepted = new Uint8Array(1024);
  #keyIds = '';
  /** How many times `current()` rebuilt from the start (for tests and benchmarks). */
  public rebuilds = 0;

  /** `me`: the reader's identity, which opens their own submissions (without it, only role keys read). */
  public constructor(
    public readonly keyring: Keyring,
    private readonly me?: Identity,
  ) {}

  public current(log: PursuanceLog): MemberViewResult {
    return runAtOnce(this.#steps(log, Number.POSITIVE_INFINITY));
  }

  /**
   * current(), with `await pause()` after every `every` events read: building the view of a
   * long log from nothing (a node's start-up) decrypts every readable task event, seconds at a
   * million events, and the caller's event loop keeps turning meanwhile. What was read before
   * a pause stays read; after each pause it looks again, and starts over if the log was
   * refolded or a key came meanwhile (as current() would).
   */
  public currentInSlices(log: PursuanceLog, pause: () => Promise<void>, every: number): Promise<MemberViewResult> {
    return runInSlices(this.#steps(log, every), pause);
  }

  *#steps(log: PursuanceLog, every: number): Generator<void, MemberViewResult> {
    let order = log.order();
    this.#startOverUnlessRead(log, order);
    let ctx = this.#ctx!;
    let sincePause = 0;
    while (this.#readCount < order.length) {
      const id = order[this.#readCount]!;
      this.#noteRead(log.isAccepted(id));
      readEvent(ctx, id);
      if (++sincePause >= every && this.#readCount < order.length) {
        sincePause = 0;
        yield;
        // Another call may have read on, a key come or the log refolded during the pause: look
        // again (cheaply: an unchanged fold hands back the same order array).
        const now = log.order();
        if (now !== order || this.#ctx !== ctx || this.keyring.keyIds().join() !== this.#keyIds) {
          order = now;
          this.#startOverUnlessRead(log, order);
          ctx = this.#ctx!;
        }
      }
    }
    return { keyring: this.keyring, tasks: ctx.tasks, contentRejections: ctx.contentRejections };
  }

  #startOverUnlessRead(log: PursuanceLog, order: readonly EventId[]): void {
    const keyIds = this.keyring.keyIds().join();
    if (this.#ctx === undefined || this.#ctx.log !== log || keyIds !== this.#keyIds || (order !== this.#readFrom && !this.#stillRead(log, order))) {
      this.rebuilds += 1;
      this.#ctx = newViewContext(log, this.keyring, this.me);
      this.#readCount = 0;
      this.#keyIds = keyIds;
    }
    // Whether rebuilt or still read: what is read from here on is read from this array.
    this.#readFrom = order;
  }

  #noteRead(accepted: boolean): void {
    if (this.#readCount === this.#readAccepted.length) {
      const grown = new Uint8Array(this.#readAccepted.length * 2);
      grown.set(this.#readAccepted);
      this.#readAccepted = grown;
    }
    this.#readAccepted[this.#readCount++] = accepted ? 1 : 0;
  }

  /** Whether what was read is still the start of the fold order, each event as accepted as it was. */
  #stillRead(log: PursuanceLog, order: readonly EventId[]): boolean {
    const read = this.#readFrom;
    if (read === undefined || order.length < this.#readCount) return false;
    for (let i = 0; i < this.#readCount; i++) {
      const id = read[i]!;
      if (order[i] !== id || (log.isAccepted(id) ? 1 : 0) !== this.#readAccepted[i]) return false;
    }
    return true;
  }
}

function newViewContext(log: PursuanceLog, keyring: Keyring, me?: Identity): ViewContext {
  return { log, keyring, ...(me ? { me } : {}), tasks: new Map(), contentRejections: [], rules: log.genesis.header.body.rules };
}

function readEvent(ctx: ViewContext, id: EventId): void {
  const { log } = ctx;
  if (!log.isAccepted(id)) return;
  const e = log.event(id)!;
  try {
    viewEvent(ctx, e);
  } catch (err) {
    // One event that trips the reader must not blank everyone's board: it is reported and skipped.
    const detail = err instanceof Error ? err.message : 'a non-error value was thrown';
    ctx.contentRejections.push({ eventId: e.id, code: RejectionCode.JUDGEMENT_FAILED, reason: `reading this event failed (${detail.slice(0, 200)})` });
  }
}

/**
 * One task as `keyring` reads it, folded from that task's events alone (and the rules changes):
 * what an author needs to check a status change without rebuilding the whole view.
 */
export function buildTaskView(log: PursuanceLog, task: EventId, keyring: Keyring, me?: Identity): TaskView | undefined {
  const ctx = newViewContext(log, keyring, me);
  for (const e of log.acceptedEventsOfTask(task)) {
    try {
      viewEvent(ctx, e);
    } catch {
      // As in buildMemberView: an event that trips the reader is skipped.
    }
  }
  return ctx.tasks.get(task);
}

interface ViewContext {
  readonly log: PursuanceLog;
  readonly keyring: Keyring;
  readonly me?: Identity;
  readonly tasks: Map<EventId, TaskView>;
  readonly contentRejections: Rejection[];
  rules: Rules;
}

function viewEvent(ctx: ViewContext, e: SignedEvent): void {
  const { log, keyring, tasks, contentRejections } = ctx;
  const kind = e.header.kind;
  if (kind === 'rules.change') ctx.rules = (e.header.body as EventBody<'rules.change'>).rules;
  if (kind === 'task.move') {
    const b = e.header.body as EventBody<'task.move'>;
    const t = tasks.get(toHex(b.task) as EventId);
    if (!t) return;
    const to = b.parent ? (toHex(b.parent) as EventId) : null;
    // The move and both parents are public (the tree is), so every reader's history shows it.
    t.history.push({ id: e.id, kind, author: e.author, time: e.header.time, change: { parent: { from: t.parent, to } } });
    t.parent = to;
    return;
  }
  if (kind === 'submission.create') {
    readSubmission(ctx, e as SignedEvent<'submission.create'>);
    return;
  }
  if (kind === 'link.task') {
    readLinkTask(ctx, e as SignedEvent<'link.task'>);
    return;
  }
  if (!kind.startsWith('task.')) return;
  const b = e.header.body as EventBody<'task.edit'>;
  const taskId = kind === 'task.create' ? e.id : (toHex(b.task) as EventId);
  let task = tasks.get(taskId);
  if (kind === 'task.create') {
    const parent = (e.header.body as EventBody<'task.create'>).parent;
    task = {
      id: e.id,
      audience: [...e.header.audience],
      parent: parent ? (toHex(parent) as EventId) : null,
      createdBy: e.author,
      createdAt: e.header.time,
      closed: false,
      readable: false,
      judged: false,
      comments: [],
      history: [],
    };
    tasks.set(e.id, task);
  }
  if (!task) return;
  const at = task.history.push(bareEntry(e)) - 1;
  if (kind === 'task.close') task.closed = true;
  if (kind === 'task.reopen') task.closed = false;
  let content: CanonicalValue | null;
  try {
    content = openContentIfHeld(b.sealed, keyring);
  } catch (err) {
    if (err instanceof ContentUnreadableError) return;
    throw err;
  }
  if (content === null) return;
  // Sealed content names the event it was sealed for — its kind, task, pursuance, author and
  // sequence number (the event id itself hashes the sealed bytes, so it cannot be inside
  // them) — so nobody can re-post someone else's sealed content as their own event.
  const expectedTask = kind === 'task.create' ? null : taskId;
  const binding = contentBindingProblem(content, { kind, task: expectedTask, pursuance: log.id, author: e.header.author, seq: e.header.seq });
  if (binding) {
    contentRejections.push({ eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason: binding });
    return;
  }
  const wrapper = content as { content?: unknown };
  const parsed = CONTENT_SCHEMAS[kind as TaskContentKind].safeParse(wrapper.content);
  if (!parsed.success) {
    contentRejections.push({
      eventId: e.id,
      code: RejectionCode.INVALID_SCHEMA,
      reason: `sealed ${kind} content: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    });
    return;
  }
  const before = snapshot(task);
  const problem = applyContent(task, kind as TaskContentKind, parsed.data, e, ctx.rules);
  if (problem) contentRejections.push({ eventId: e.id, code: RejectionCode.INVALID_STATE, reason: problem });
  // Creation and comments are their own record (the task, the comment): no old → new to tell.
  if (kind !== 'task.create' && kind !== 'task.comment') {
    task.history[at] = { id: e.id, kind, author: e.author, time: e.header.time, change: changeOf(before, task, parsed.data as ChangeData, problem) };
  }
}

/**
 * The history entry of an event that records no change (a creation, a comment, content this
 * reader cannot open): the held event itself, which keeps id, kind, author and time as fields
 * (held-event.ts) — 8 bytes of the history's array where an object of its own was 72, and a
 * million task events held 70 MB of them. So an entry may have more fields than HistoryEntry
 * names (the event's sequence number, audience): readers take its fields by name, never all
 * of them (read-models.ts in the node).
 */
function bareEntry(e: SignedEvent): HistoryEntry {
  return heldFields(e) ?? { id: e.id, kind: e.header.kind, author: e.author, time: e.header.time };
}

/**
 * A submission opens a task of its audience. Holders of the audience's key read it, and so does
 * its submitter (through the copy sealed to them); everyone else sees only that it exists.
 */
function readSubmission(ctx: ViewContext, e: SignedEvent<'submission.create'>): void {
  const role = e.header.audience[0]!;
  const task = openedTask(ctx, e, role, { submission: true });
  if (ctx.log.state().tasks.get(e.id)?.staleKey) task.staleKey = true;
  let opened: CanonicalValue | null;
  try {
    opened = openSubmission(e.header.body, ctx.log.id, role, e.header.author, ctx);
  } catch (err) {
    if (!(err instanceof ContentUnreadableError)) throw err;
    ctx.contentRejections.push({ eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason: err.message });
    return;
  }
  if (opened === null) return;
  const binding = contentBindingProblem(opened, { kind: e.header.kind, task: null, pursuance: ctx.log.id, author: e.header.author, seq: e.header.seq });
  const parsed = binding === null ? SubmissionContentSchema.safeParse((opened as { content?: unknown }).content) : null;
  if (parsed === null || !parsed.success) {
    const reason = binding ?? `sealed submission content: ${parsed?.error?.issues[0]?.message ?? 'invalid'}`;
    ctx.contentRejections.push({ eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason });
    return;
  }
  showOpened(ctx, task, parsed.data);
}

/** The task an event that opens one with a single audience (a submission, a task sent over a link) starts, unread so far. */
function openedTask(ctx: ViewContext, e: SignedEvent, role: RoleId, extra: Pick<TaskView, 'submission' | 'origin'>): TaskView {
  const task: TaskView = {
    id: e.id,
    audience: [role],
    parent: null,
    createdBy: e.author,
    createdAt: e.header.time,
    closed: false,
    readable: false,
    judged: false,
    ...extra,
    comments: [],
    history: [bareEntry(e)],
  };
  ctx.tasks.set(e.id, task);
  return task;
}

/** Such a task once this reader opened it: its content, in the workflow's first state. */
function showOpened(ctx: ViewContext, task: TaskView, content: LinkTaskContent): void {
  Object.assign(task, {
    readable: true,
    judged: true,
    title: content.title,
    body: content.body,
    status: ctx.rules.workflow.initial,
    assignees: { members: [], roles: [] },
    labels: [],
    due: null,
  });
}

/**
 * A task a linked pursuance sent opens a task of the role it was sent to; that role's holders
 * read it with the key it was sealed to. Its origin (their pursuance and role) is public.
 */
function readLinkTask(ctx: ViewContext, e: SignedEvent<'link.task'>): void {
  const role = e.header.audience[0]!;
  const origin = ctx.log.state().tasks.get(e.id)?.origin ?? { peer: e.header.body.credential.from as PursuanceId, role: e.header.body.credential.role };
  const task = openedTask(ctx, e, role, { origin });
  const k = ctx.keyring.get(e.header.body.keyId);
  if (!k || k.role !== role) return;
  try {
    showOpened(ctx, task, openLinkTask(e.header.body, ctx.log.id, k));
  } catch (err) {
    if (!(err instanceof ContentUnreadableError)) throw err;
    ctx.contentRejections.push({ eventId: e.id, code: RejectionCode.INVALID_SCHEMA, reason: err.message });
  }
}

/** The parts of sealed content `changeOf` reads beyond the task itself. */
type ChangeData = { readonly note?: unknown; readonly remove?: unknown };

type Snapshot = Pick<TaskView, 'title' | 'body' | 'status' | 'assignees' | 'labels' | 'due'>;

function snapshot(t: TaskView): Snapshot {
  return {
    title: t.title,
    body: t.body,
    status: t.status,
    assignees: t.assignees && { members: [...t.assignees.members], roles: [...t.assignees.roles] },
    labels: t.labels && [...t.labels],
    due: t.due,
  };
}

/** The difference one readable event made to the task: each field that changed, old → new. */
function changeOf(before: Snapshot, after: TaskView, data: ChangeData, problem: string | null): HistoryChange {
  const change: HistoryChange = {};
  const known = <T>(v: T | undefined): { from?: T } => (v === undefined ? {} : { from: v });
  if (after.status !== undefined && after.status !== before.status) change.status = { ...known(before.status), to: after.status };
  if (typeof data.note === 'string' && data.note !== '') change.note = data.note;
  if (after.title !== undefined && after.title !== before.title) change.title = { ...known(before.title), to: after.title };
  if (after.body !== undefined && after.body !== before.body) {
    change.body = { ...(before.body === undefined ? {} : { fromLength: before.body.length }), toLength: after.body.length };
  }
  if (after.labels !== undefined) {
    const was = new Set(before.labels ?? []);
    const now = new Set(after.labels);
    const added = after.labels.filter((l) => !was.has(l));
    const removed = (before.labels ?? []).filter((l) => !now.has(l));
    if (added.length || removed.length) change.labels = { added, removed };
  }
  if (after.due !== undefined && after.due !== before.due) change.due = { ...known(before.due), to: after.due };
  if (after.assignees) {
    const was = before.assignees ?? { members: [], roles: [] };
    const now = after.assignees;
    const diff = <T>(a: readonly T[], b: readonly T[]) => a.filter((x) => !b.includes(x));
    const assigned = { members: diff(now.members, was.members), roles: diff(now.roles, was.roles) };
    // Not knowing who was assigned before (a since-join reader), the event's own removals are the answer.
    const removed = data.remove as { members: Uint8Array[]; roles: RoleId[] } | undefined;
    const unassigned =
      before.assignees === undefined && removed
        ? { members: removed.members.map((k) => onionFromPublicKey(k)), roles: [...removed.roles] }
        : { members: diff(was.members, now.members), roles: diff(was.roles, now.roles) };
    if (assigned.members.length || assigned.roles.length) change.assigned = assigned;
    if (unassigned.members.length || unassigned.roles.length) change.unassigned = unassigned;
  }
  if (problem) change.refused = problem;
  return change;
}

function applyContent(task: TaskView, kind: TaskContentKind, data: unknown, e: SignedEvent, rules: Rules): string | null {
  const wf = rules.workflow;
  const closedStates = new Set(wf.closed);
  switch (kind) {
    case 'task.create': {
      const c = data as (typeof CONTENT_SCHEMAS)['task.create']['_output'];
      task.readable = true;
      task.judged = true;
      task.title = c.title;
      task.body = c.body;
      task.status = wf.initial;
      task.assignees = { members: c.assignees.members.map((k) => onionFromPublicKey(k)), roles: [...c.assignees.roles] };
      task.labels = [...new Set(c.labels)];
      task.due = c.due;
      return null;
    }
    case 'task.edit': {
      const c = data as (typeof CONTENT_SCHEMAS)['task.edit']['_output'];
      if (c.title !== undefined) task.title = c.title;
      if (c.body !== undefined) task.body = c.body;
      if (c.labels !== undefined) task.labels = [...new Set(c.labels)];
      if (c.due !== undefined) task.due = c.due;
      return null;
    }
    case 'task.assign': {
      const c = data as (typeof CONTENT_SCHEMAS)['task.assign']['_output'];
      const members = new Set(task.assignees?.members ?? []);
      const roles = new Set(task.assignees?.roles ?? []);
      for (const k of c.add.members) members.add(onionFromPublicKey(k));
      for (const r of c.add.roles) roles.add(r);
      for (const k of c.remove.members) members.delete(onionFromPublicKey(k));
      for (const r of c.remove.roles) roles.delete(r);
      task.assignees = { members: [...members].sort(), roles: [...roles].sort() };
      return null;
    }
    case 'task.status': {
      const { to } = data as { to: string };
      const from = task.status ?? wf.initial;
      if (closedStates.has(to)) return `"${to}" is a closed state: close the task instead`;
      if (!task.judged) {
        task.status = wf.states.includes(to) ? to : task.status;
        return null;
      }
      if (!wf.transitions.some((t) => t.from === from && t.to === to)) return `the workflow has no transition from "${from}" to "${to}"`;
      task.status = to;
      return null;
    }
    case 'task.close': {
      const { to } = data as { to: string };
      // The public layer already closed the task; a bad target state falls back to the first closed state.
      task.status = closedStates.has(to) ? to : wf.closed[0];
      return closedStates.has(to) ? null : `"${to}" is not a closed state`;
    }
    case 'task.reopen': {
      const { to } = data as { to: string };
      const open = wf.states.includes(to) && !closedStates.has(to);
      task.status = open ? to : wf.initial;
      return open ? null : `"${to}" is not an open state`;
    }
    case 'task.comment': {
      const { body } = data as { body: string };
      task.comments.push({ id: e.id, author: e.author, time: e.header.time, body });
      return null;
    }
  }
}

import { toHex } from '@pursuance/crypto';
import type { Sealed, TaskContentKind } from '../bodies.js';
import type { EventId, SignedEvent } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { PERMISSION_OF } from '../permissions.js';
import { checkTask } from '../rules/compile.js';
import type { RoleId, TaskAction } from '../rules/schema.js';
import type { KeyEpoch, RoleState } from '../state.js';
import { accept, denied, reject, type FoldContext, type Handler, type Outcome } from './context.js';

/**
 * Tasks: the public structure (existence, audience, parent, closed) every member folds. The
 * content is sealed to the audience; what the fold checks is that it is sealed to the audience's
 * current keys, and not to a key someone its author saw leave could read.
 */

/** Task events about an existing task whose content is sealed (everything but create and move). */
export type ContentEventKind = Exclude<TaskContentKind, 'task.create'>;

function checkSealed(ctx: FoldContext, e: SignedEvent, sealed: Sealed, audience: readonly RoleId[]): Outcome | null {
  const { state } = ctx;
  const roles = sealed.keys.map((k) => k.role).sort();
  if (roles.length !== audience.length || roles.some((r, i) => r !== audience[i])) {
    return reject(RejectionCode.LOCKBOX_INVALID, 'content must be sealed to exactly the task audience, once per role');
  }
  for (const wrapped of sealed.keys) {
    const r = state.roles.get(wrapped.role)!;
    const epoch = r.epochsById.get(toHex(wrapped.keyId));
    if (!epoch) return reject(RejectionCode.UNKNOWN_KEY, `no rotation introduced this key for "${wrapped.role}"`);
    const stale = staleEpoch(ctx, e, r, epoch);
    if (stale) return stale;
  }
  return null;
}

/**
 * Why new content must not be sealed to `epoch` by this event's author (null when it may): the
 * author knew it had been rotated, knew it was due for rotation, or saw leave someone who knew it.
 * Written before the author could know (a concurrent rotation or departure), it stands.
 */
export function staleEpoch(ctx: FoldContext, e: SignedEvent, r: RoleState, epoch: KeyEpoch): Outcome | null {
  const { causality } = ctx;
  const next = r.epochs[epoch.epoch + 1];
  if (next && causality.isAncestor(e, next.introducedBy)) {
    return reject(RejectionCode.STALE_EPOCH, `content sealed to a key of "${r.id}" its author knew had been rotated`);
  }
  if (!next && r.rotationDueSince !== null && causality.isAncestor(e, r.rotationDueSince)) {
    return reject(RejectionCode.STALE_EPOCH, `the key of "${r.id}" must be rotated after a holder left before new content uses it`);
  }
  // Superseded by a rotation this author had not seen, but known to someone it saw leave.
  if (epoch.leftBy.some((d) => causality.isAncestor(e, d))) {
    return reject(RejectionCode.STALE_EPOCH, `content sealed to a key of "${r.id}" that a member its author saw leave knew`);
  }
  return null;
}

export const taskCreate: Handler<'task.create'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const audience = e.header.audience;
  if (audience.length === 0) return reject(RejectionCode.INVALID_SCHEMA, 'a task needs an audience of at least one role');
  for (const role of audience) if (!ctx.declared(role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
  const check = checkTask(ctx.ability(e.author), ctx.rolesOf(e.author), PERMISSION_OF['task.create'].action, audience);
  if (!check.ok) return denied(check);
  const parentId = b.parent ? (toHex(b.parent) as EventId) : null;
  if (parentId && !state.tasks.has(parentId)) return reject(RejectionCode.UNKNOWN_TARGET, 'the parent task does not exist');
  const bad = checkSealed(ctx, e, b.sealed, audience);
  if (bad) return bad;
  return accept(() => {
    state.tasks.set(e.id, { id: e.id, audience: [...audience], parent: parentId, createdBy: e.author, closed: false, children: new Set() });
    if (parentId) state.tasks.get(parentId)!.children.add(e.id);
  });
};

/** The task an event acts on, if it exists, the event's audience is the task's, and the author may `action` it. */
function taskTarget(ctx: FoldContext, e: SignedEvent, task: Uint8Array, action: TaskAction): { ok: false; outcome: Outcome } | { ok: true; id: EventId } {
  const id = toHex(task) as EventId;
  const t = ctx.state.tasks.get(id);
  if (!t) return { ok: false, outcome: reject(RejectionCode.UNKNOWN_TARGET, 'no such task') };
  const aud = e.header.audience;
  if (aud.length !== t.audience.length || aud.some((r, i) => r !== t.audience[i])) {
    return { ok: false, outcome: reject(RejectionCode.INVALID_SCHEMA, 'the event audience must equal the task audience') };
  }
  const check = checkTask(ctx.ability(e.author), ctx.rolesOf(e.author), action, t.audience);
  if (!check.ok) return { ok: false, outcome: denied(check) };
  return { ok: true, id };
}

export const taskMove: Handler<'task.move'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const target = taskTarget(ctx, e, b.task, PERMISSION_OF['task.move'].action);
  if (!target.ok) return target.outcome;
  const task = state.tasks.get(target.id)!;
  const parentId = b.parent ? (toHex(b.parent) as EventId) : null;
  if (parentId) {
    if (!state.tasks.has(parentId)) return reject(RejectionCode.UNKNOWN_TARGET, 'the new parent task does not exist');
    for (let p: EventId | null = parentId; p; p = state.tasks.get(p)!.parent) {
      if (p === task.id) return reject(RejectionCode.INVALID_STATE, 'a task cannot become a subtask of itself or of its own subtasks');
    }
  }
  return accept(() => {
    if (task.parent) state.tasks.get(task.parent)?.children.delete(task.id);
    task.parent = parentId;
    if (parentId) state.tasks.get(parentId)!.children.add(task.id);
  });
};

/** Editing, assigning, status, closing, reopening and commenting: one handler, the kind picks the capability and the state check. */
export const taskContent: Handler<ContentEventKind> = (ctx, e) => {
  const b = e.header.body;
  const kind = e.header.kind;
  const target = taskTarget(ctx, e, b.task, PERMISSION_OF[kind].action);
  if (!target.ok) return target.outcome;
  const task = ctx.state.tasks.get(target.id)!;
  if (kind === 'task.close' && task.closed) return reject(RejectionCode.INVALID_STATE, 'the task is already closed');
  if (kind === 'task.reopen' && !task.closed) return reject(RejectionCode.INVALID_STATE, 'the task is not closed');
  if ((kind === 'task.status' || kind === 'task.edit' || kind === 'task.assign') && task.closed) {
    return reject(RejectionCode.INVALID_STATE, 'reopen the task before changing it');
  }
  const bad = checkSealed(ctx, e, b.sealed, task.audience);
  if (bad) return bad;
  return accept(() => {
    if (kind === 'task.close') task.closed = true;
    if (kind === 'task.reopen') task.closed = false;
  });
};

import { RulesSchema, TASK_ACTIONS, type Capability, type Role, type Rules, type TaskAction } from './rules-engine.js';

/**
 * The form-based rule editor's model, pure: a rules document becomes a form state (roles as an
 * ordered list, so renaming keeps a role's place and no member-chosen id is ever used as an
 * object key while editing), each edit is an operation on that state, and the state becomes a
 * document again. Every operation either returns a state whose document the core's RulesSchema
 * accepts, or refuses with a typed problem naming the control concerned: the form never hands
 * an invalid document to the dry run.
 */

export interface RoleEntry {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly rank: number;
  readonly history: Role['history'];
  readonly can: readonly Capability[];
  readonly cannot: readonly Capability[];
}

export interface RulesForm {
  readonly format: Rules['format'];
  readonly title: string;
  readonly description: string;
  readonly roles: readonly RoleEntry[];
  readonly workflow: Rules['workflow'];
  readonly succession: Rules['succession'];
}

export type ProblemCode =
  | 'ID_EMPTY'
  | 'ID_TOO_LONG'
  | 'ID_RESERVED'
  | 'ID_FORMAT'
  | 'ID_TAKEN'
  | 'TOO_MANY_ROLES'
  | 'LAST_ROLE'
  | 'UNKNOWN_ROLE'
  | 'COVERED_BY_ANY'
  | 'TITLE_EMPTY'
  | 'TITLE_TOO_LONG'
  | 'DESCRIPTION_TOO_LONG'
  | 'RANK_RANGE'
  | 'UNKNOWN_STATE'
  | 'STATE_INITIAL'
  | 'TOO_FEW_STATES'
  | 'TOO_MANY_STATES'
  | 'LAST_CLOSED'
  | 'INITIAL_CLOSED'
  | 'LAST_MOVE'
  | 'SAME_STATE'
  | 'QUORUM_RANGE'
  | 'DAYS_RANGE'
  | 'INVALID';

/** A refused edit: `field` is the control it concerns (see `Field`), `params` fill the message. */
export interface FormProblem {
  readonly code: ProblemCode;
  readonly field: string;
  readonly params: Readonly<Record<string, string | number>>;
}

export type Edit = { readonly ok: true; readonly form: RulesForm; readonly rules: Rules } | { readonly ok: false; readonly problem: FormProblem };

/** Control names, shared by the model (where a problem belongs) and the component (where it is shown). */
export const Field = {
  docTitle: 'doc:title',
  docDescription: 'doc:description',
  newRole: 'role:new',
  roleId: (i: number) => `role:${i}:id`,
  roleTitle: (i: number) => `role:${i}:title`,
  roleDescription: (i: number) => `role:${i}:description`,
  roleRank: (i: number) => `role:${i}:rank`,
  roleHistory: (i: number) => `role:${i}:history`,
  roleRemove: (i: number) => `role:${i}:remove`,
  roleGrid: (i: number, list: CapList) => `role:${i}:${list}`,
  newState: 'state:new',
  state: (s: string) => `state:${s}`,
  moves: 'moves',
  quorum: 'succession:quorum',
  inactivity: 'succession:inactivity',
} as const;

export const LIMITS = { idLength: 32, roles: 64, states: 32, moves: 256, roleTitle: 80, roleDescription: 1000, docTitle: 120, docDescription: 4000 } as const;

/** The same pattern as the core's RoleIdSchema and state ids. */
const ID = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Ids the core accepts but the form will not create: `constructor` (and anything else an object
 * inherits) is found by a plain `roles[id]` lookup on every object, so a role by that name is a
 * trap for every reader that forgets `Object.hasOwn`; `__proto__` the core refuses anyway.
 * Documents that already hold such a role are shown and kept as they are.
 */
export function isReservedId(id: string): boolean {
  return id === '__proto__' || id === 'prototype' || id in Object.prototype;
}

export type CapList = 'can' | 'cannot';

/** A kind of capability the grid shows: scoped kinds name roles (an audience, or roles), plain ones do not. */
export type ScopedKind =
  | { readonly subject: 'task'; readonly action: TaskAction }
  | { readonly subject: 'role'; readonly action: 'assign' | 'remove' }
  | { readonly subject: 'keys'; readonly action: 'rotate' };
export type PlainKind =
  | { readonly subject: 'member'; readonly action: 'invite' | 'expel' }
  | { readonly subject: 'rules'; readonly action: 'change' }
  | { readonly subject: 'relay'; readonly action: 'move' };
export type Kind = ScopedKind | PlainKind;

export const SCOPED_KINDS: readonly ScopedKind[] = [
  ...TASK_ACTIONS.map((action) => ({ subject: 'task' as const, action })),
  { subject: 'role', action: 'assign' },
  { subject: 'role', action: 'remove' },
  { subject: 'keys', action: 'rotate' },
];
export const PLAIN_KINDS: readonly PlainKind[] = [
  { subject: 'member', action: 'invite' },
  { subject: 'member', action: 'expel' },
  { subject: 'rules', action: 'change' },
  { subject: 'relay', action: 'move' },
];

/** Where a capability keeps its roles: `audience` for tasks, `roles` for roles and keys. */
type Scope = '*' | readonly string[];
function scopeOf(cap: Capability): Scope | null {
  if (cap.subject === 'task') return cap.audience;
  if (cap.subject === 'role' || cap.subject === 'keys') return cap.roles;
  return null;
}
function withScope(cap: Capability, scope: Scope): Capability {
  const list = scope === '*' ? '*' : [...scope];
  if (cap.subject === 'task') return { ...cap, audience: list };
  if (cap.subject === 'role' || cap.subject === 'keys') return { ...cap, roles: list };
  return cap;
}
const isKind = (cap: Capability, kind: Kind): boolean => cap.subject === kind.subject && cap.action === kind.action;
/** The capability `kind` over `scope` (any role, or these), as a rules document writes it. */
export function newCap(kind: Kind, scope: Scope): Capability {
  const list = scope === '*' ? ('*' as const) : [...scope];
  switch (kind.subject) {
    case 'task':
      return { subject: 'task', action: kind.action, audience: list };
    case 'role':
      return { subject: 'role', action: kind.action, roles: list };
    case 'keys':
      return { subject: 'keys', action: kind.action, roles: list };
    case 'member':
      return { subject: 'member', action: kind.action };
    case 'rules':
      return { subject: 'rules', action: kind.action };
    case 'relay':
      return { subject: 'relay', action: kind.action };
  }
}

// JSON, not structuredClone: the values may be Vue proxies, and a rules document is JSON anyway.
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export function fromRules(rules: Rules): RulesForm {
  return {
    format: rules.format,
    title: rules.title,
    description: rules.description,
    // Object.entries reads own properties only, so a `constructor` role comes through as data.
    roles: Object.entries(rules.roles).map(([id, r]) => ({
      id,
      title: r.title,
      description: r.description,
      rank: r.rank,
      history: r.history,
      can: clone(r.can),
      cannot: clone(r.cannot),
    })),
    workflow: clone(rules.workflow),
    succession: clone(rules.succession),
  };
}

export function toRules(form: RulesForm): Rules {
  return {
    format: form.format,
    title: form.title,
    description: form.description,
    // fromEntries defines own properties; an assignment `roles[id] = …` with "__proto__" would set the prototype instead.
    roles: Object.fromEntries(
      form.roles.map((r) => [
        r.id,
        { title: r.title, description: r.description, rank: r.rank, history: r.history, can: clone([...r.can]), cannot: clone([...r.cannot]) },
      ]),
    ),
    workflow: clone(form.workflow),
    succession: clone(form.succession),
  };
}

const refuse = (code: ProblemCode, field: string, params: Record<string, string | number> = {}): Edit => ({ ok: false, problem: { code, field, params } });

/** The last word: the core's schema must accept the document the edit produced. */
function finish(form: RulesForm, field: string): Edit {
  const rules = toRules(form);
  const parsed = RulesSchema.safeParse(rules);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse('INVALID', field, { message: `${issue?.path.join('.') || 'rules'}: ${issue?.message ?? 'invalid'}` });
  }
  return { ok: true, form, rules };
}

/** Why an id cannot name a new role or status (`taken` lists those already in use), or null. */
export function checkId(id: string, taken: readonly string[], field: string): FormProblem | null {
  const p = (code: ProblemCode, params: Record<string, string | number> = {}): FormProblem => ({ code, field, params });
  if (id.length === 0) return p('ID_EMPTY');
  if (id.length > LIMITS.idLength) return p('ID_TOO_LONG', { length: id.length });
  if (isReservedId(id)) return p('ID_RESERVED', { id });
  if (!ID.test(id)) return p('ID_FORMAT');
  if (taken.includes(id)) return p('ID_TAKEN', { id });
  return null;
}

const roleIndex = (form: RulesForm, id: string): number => form.roles.findIndex((r) => r.id === id);
function withRole(form: RulesForm, i: number, change: (r: RoleEntry) => RoleEntry): RulesForm {
  return { ...form, roles: form.roles.map((r, j) => (j === i ? change(r) : r)) };
}

/** Every capability of every role, with `map` applied to its role list (null drops the capability). */
function mapScopes(form: RulesForm, map: (ids: readonly string[]) => readonly string[] | null): RulesForm {
  const fix = (caps: readonly Capability[]) =>
    caps.flatMap((c) => {
      const s = scopeOf(c);
      if (s === null || s === '*') return [c];
      const next = map(s);
      return next === null || next.length === 0 ? [] : [withScope(c, next)];
    });
  return { ...form, roles: form.roles.map((r) => ({ ...r, can: fix(r.can), cannot: fix(r.cannot) })) };
}

export function addRole(form: RulesForm, id: string): Edit {
  const bad = checkId(
    id,
    form.roles.map((r) => r.id),
    Field.newRole,
  );
  if (bad) return { ok: false, problem: bad };
  if (form.roles.length >= LIMITS.roles) return refuse('TOO_MANY_ROLES', Field.newRole);
  // A new role starts with nothing and without the past: granting is a separate, visible step.
  const role: RoleEntry = { id, title: id, description: '', rank: 100, history: 'since-join', can: [], cannot: [] };
  return finish({ ...form, roles: [...form.roles, role] }, Field.newRole);
}

/** A new id for a role, in its place; every capability that names it follows. */
export function renameRole(form: RulesForm, from: string, to: string): Edit {
  const i = roleIndex(form, from);
  if (i < 0) return refuse('UNKNOWN_ROLE', Field.newRole, { id: from });
  if (from === to) return finish(form, Field.roleId(i));
  const bad = checkId(
    to,
    form.roles.filter((r) => r.id !== from).map((r) => r.id),
    Field.roleId(i),
  );
  if (bad) return { ok: false, problem: bad };
  const renamed = mapScopes(
    withRole(form, i, (r) => ({ ...r, id: to })),
    (ids) => [...new Set(ids.map((x) => (x === from ? to : x)))],
  );
  return finish(renamed, Field.roleId(i));
}

/** Drop a role, and its name from every capability (one naming only it goes with it). */
export function removeRole(form: RulesForm, id: string): Edit {
  const i = roleIndex(form, id);
  if (i < 0) return refuse('UNKNOWN_ROLE', Field.newRole, { id });
  if (form.roles.length <= 1) return refuse('LAST_ROLE', Field.roleRemove(i));
  const without = { ...form, roles: form.roles.filter((_, j) => j !== i) };
  return finish(
    mapScopes(without, (ids) => ids.filter((x) => x !== id)),
    Field.roleRemove(i),
  );
}

export type RoleField = 'title' | 'description' | 'rank' | 'history';

export function setRoleField(form: RulesForm, id: string, field: RoleField, value: string | number): Edit {
  const i = roleIndex(form, id);
  if (i < 0) return refuse('UNKNOWN_ROLE', Field.newRole, { id });
  switch (field) {
    case 'title': {
      const v = String(value);
      if (v.trim().length === 0) return refuse('TITLE_EMPTY', Field.roleTitle(i));
      if (v.length > LIMITS.roleTitle) return refuse('TITLE_TOO_LONG', Field.roleTitle(i), { max: LIMITS.roleTitle });
      return finish(
        withRole(form, i, (r) => ({ ...r, title: v })),
        Field.roleTitle(i),
      );
    }
    case 'description': {
      const v = String(value);
      if (v.length > LIMITS.roleDescription) return refuse('DESCRIPTION_TOO_LONG', Field.roleDescription(i), { max: LIMITS.roleDescription });
      return finish(
        withRole(form, i, (r) => ({ ...r, description: v })),
        Field.roleDescription(i),
      );
    }
    case 'rank': {
      const v = typeof value === 'number' ? value : String(value).trim() === '' ? NaN : Number(value);
      if (!Number.isInteger(v) || v < 0 || v > 999) return refuse('RANK_RANGE', Field.roleRank(i));
      return finish(
        withRole(form, i, (r) => ({ ...r, rank: v })),
        Field.roleRank(i),
      );
    }
    case 'history': {
      if (value !== 'all' && value !== 'since-join') return refuse('INVALID', Field.roleHistory(i), { message: 'history: all or since-join' });
      return finish(
        withRole(form, i, (r) => ({ ...r, history: value })),
        Field.roleHistory(i),
      );
    }
  }
}

/**
 * Whether a role's list grants (or denies) a kind for a target: '*' asks whether the kind covers
 * any role, a role id whether that role is covered (by '*' or by name); plain kinds take no target.
 */
export function hasCapability(form: RulesForm, id: string, list: CapList, kind: Kind, target: string = '*'): boolean {
  const role = form.roles.find((r) => r.id === id);
  if (!role) return false;
  return role[list].some((c) => {
    if (!isKind(c, kind)) return false;
    const s = scopeOf(c);
    if (s === null || s === '*') return true;
    return target !== '*' && s.includes(target);
  });
}

/**
 * Tick or untick one cell of a role's grid. Existing capabilities are changed in place (keeping
 * their reasons); '*' on folds the kind into one capability for any role, '*' off drops the kind;
 * a role under '*' cannot be unticked alone (that would silently stop covering roles added later).
 */
export function setCapability(form: RulesForm, id: string, list: CapList, kind: Kind, target: string, on: boolean): Edit {
  const i = roleIndex(form, id);
  if (i < 0) return refuse('UNKNOWN_ROLE', Field.newRole, { id });
  const field = Field.roleGrid(i, list);
  const scoped = SCOPED_KINDS.some((k) => k.subject === kind.subject && k.action === kind.action);
  if (scoped && target !== '*' && roleIndex(form, target) < 0) return refuse('UNKNOWN_ROLE', field, { id: target });
  const caps = form.roles[i]![list];
  const same = caps.filter((c) => isKind(c, kind));
  let next: Capability[];
  if (!scoped || target === '*') {
    if (!on) next = caps.filter((c) => !isKind(c, kind));
    else if (same.length === 0) next = [...caps, newCap(kind, '*')];
    else {
      const first = caps.indexOf(same[0]!);
      next = caps.flatMap((c, j) => (j === first ? [withScope(c, '*')] : isKind(c, kind) ? [] : [c]));
    }
  } else if (on) {
    if (same.some((c) => scopeOf(c) === '*' || scopeOf(c)!.includes(target))) return finish(form, field);
    const first = caps.findIndex((c) => isKind(c, kind));
    next = first < 0 ? [...caps, newCap(kind, [target])] : caps.map((c, j) => (j === first ? withScope(c, [...(scopeOf(c) as readonly string[]), target]) : c));
  } else {
    if (same.some((c) => scopeOf(c) === '*')) return refuse('COVERED_BY_ANY', field, { id: target });
    next = caps.flatMap((c) => {
      if (!isKind(c, kind)) return [c];
      const left = (scopeOf(c) as readonly string[]).filter((x) => x !== target);
      return left.length ? [withScope(c, left)] : [];
    });
  }
  return finish(
    withRole(form, i, (r) => ({ ...r, [list]: next })),
    field,
  );
}

export function setDocText(form: RulesForm, field: 'title' | 'description', value: string): Edit {
  if (field === 'title') {
    if (value.trim().length === 0) return refuse('TITLE_EMPTY', Field.docTitle);
    if (value.length > LIMITS.docTitle) return refuse('TITLE_TOO_LONG', Field.docTitle, { max: LIMITS.docTitle });
    return finish({ ...form, title: value }, Field.docTitle);
  }
  if (value.length > LIMITS.docDescription) return refuse('DESCRIPTION_TOO_LONG', Field.docDescription, { max: LIMITS.docDescription });
  return finish({ ...form, description: value }, Field.docDescription);
}

type Workflow = Rules['workflow'];
const withWorkflow = (form: RulesForm, change: (w: Workflow) => Workflow): RulesForm => ({ ...form, workflow: change(form.workflow) });

export function addState(form: RulesForm, id: string): Edit {
  const bad = checkId(id, form.workflow.states, Field.newState);
  if (bad) return { ok: false, problem: bad };
  if (form.workflow.states.length >= LIMITS.states) return refuse('TOO_MANY_STATES', Field.newState);
  return finish(
    withWorkflow(form, (w) => ({ ...w, states: [...w.states, id] })),
    Field.newState,
  );
}

/** Drop a status and the moves to and from it (tasks in it are the node's business; the dry run names it). */
export function removeState(form: RulesForm, id: string): Edit {
  const w = form.workflow;
  const field = Field.state(id);
  if (!w.states.includes(id)) return refuse('UNKNOWN_STATE', field, { id });
  if (w.initial === id) return refuse('STATE_INITIAL', field);
  if (w.states.length <= 2) return refuse('TOO_FEW_STATES', field);
  const closed = w.closed.filter((s) => s !== id);
  if (closed.length === 0) return refuse('LAST_CLOSED', field);
  const transitions = w.transitions.filter((tr) => tr.from !== id && tr.to !== id);
  if (transitions.length === 0) return refuse('LAST_MOVE', field);
  return finish(
    withWorkflow(form, () => ({ ...w, states: w.states.filter((s) => s !== id), closed, transitions })),
    field,
  );
}

export function setInitial(form: RulesForm, id: string): Edit {
  const field = Field.state(id);
  if (!form.workflow.states.includes(id)) return refuse('UNKNOWN_STATE', field, { id });
  if (form.workflow.closed.includes(id)) return refuse('INITIAL_CLOSED', field);
  return finish(
    withWorkflow(form, (w) => ({ ...w, initial: id })),
    field,
  );
}

export function setClosed(form: RulesForm, id: string, on: boolean): Edit {
  const w = form.workflow;
  const field = Field.state(id);
  if (!w.states.includes(id)) return refuse('UNKNOWN_STATE', field, { id });
  if (on === w.closed.includes(id)) return finish(form, field);
  if (on && w.initial === id) return refuse('INITIAL_CLOSED', field);
  if (!on && w.closed.length <= 1) return refuse('LAST_CLOSED', field);
  return finish(
    withWorkflow(form, () => ({ ...w, closed: on ? [...w.closed, id] : w.closed.filter((s) => s !== id) })),
    field,
  );
}

export function hasMove(form: RulesForm, from: string, to: string): boolean {
  return form.workflow.transitions.some((tr) => tr.from === from && tr.to === to);
}

export function setMove(form: RulesForm, from: string, to: string, on: boolean): Edit {
  const w = form.workflow;
  for (const s of [from, to]) if (!w.states.includes(s)) return refuse('UNKNOWN_STATE', Field.moves, { id: s });
  if (from === to) return refuse('SAME_STATE', Field.moves);
  if (on === hasMove(form, from, to)) return finish(form, Field.moves);
  if (on && w.transitions.length >= LIMITS.moves) return refuse('INVALID', Field.moves, { message: `workflow.transitions: at most ${LIMITS.moves}` });
  const transitions = on ? [...w.transitions, { from, to }] : w.transitions.filter((tr) => !(tr.from === from && tr.to === to));
  if (transitions.length === 0) return refuse('LAST_MOVE', Field.moves);
  return finish(
    withWorkflow(form, () => ({ ...w, transitions })),
    Field.moves,
  );
}

const wholeNumber = (v: string | number): number => (typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v));

export function setQuorum(form: RulesForm, value: string | number): Edit {
  const n = wholeNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) return refuse('QUORUM_RANGE', Field.quorum);
  return finish({ ...form, succession: { ...form.succession, quorum: n } }, Field.quorum);
}

/** Days without founder activity before a nominee may claim; null: never. */
export function setInactivity(form: RulesForm, value: string | number | null): Edit {
  if (value === null) return finish({ ...form, succession: { ...form.succession, inactivityDays: null } }, Field.inactivity);
  const n = wholeNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) return refuse('DAYS_RANGE', Field.inactivity);
  return finish({ ...form, succession: { ...form.succession, inactivityDays: n } }, Field.inactivity);
}

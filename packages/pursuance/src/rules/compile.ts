import { createMongoAbility, subject, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { TASK_ACTIONS, declaredRole, type Capability, type RoleId, type Rules, type TaskAction } from './schema.js';

/**
 * Rules + the roles a member holds → a CASL ability. Every permission check in the fold goes
 * through `check()`, which also says which rule decided a denial, so a rejection can name it.
 *
 * Subjects: 'Task' (condition on one audience role at a time: a task action is allowed only if
 * it is allowed for every role in the task's audience), 'Role' and 'Keys' (condition on the
 * role acted upon), 'Member', 'Rules', 'Relay'. Founders can do everything.
 */
export type Action = TaskAction | 'assign' | 'remove' | 'rotate' | 'invite' | 'expel' | 'change' | 'move' | 'manage';
export type SubjectName = 'Task' | 'Role' | 'Keys' | 'Member' | 'Rules' | 'Relay' | 'all';
export type PursuanceAbility = MongoAbility<[Action, SubjectName | ReturnType<typeof subject>]>;

const SUBJECT_NAMES: Record<Capability['subject'], SubjectName> = {
  task: 'Task',
  role: 'Role',
  keys: 'Keys',
  member: 'Member',
  rules: 'Rules',
  relay: 'Relay',
};

function describe(cap: Capability): string {
  const on = cap.subject === 'task' ? ` (audience ${fmtList(cap.audience)})` : 'roles' in cap ? ` (roles ${fmtList(cap.roles)})` : '';
  return `${cap.action} ${cap.subject}${on}`;
}

function fmtList(list: '*' | readonly string[]): string {
  return list === '*' ? 'any' : list.join(', ');
}

function toRawRule(cap: Capability, inverted: boolean, roleId: RoleId): RawRuleOf<PursuanceAbility> {
  const subjectName = SUBJECT_NAMES[cap.subject];
  const named = cap.subject === 'task' ? cap.audience : 'roles' in cap ? cap.roles : '*';
  const conditionKey = cap.subject === 'task' ? 'audienceRole' : 'role';
  const rule: RawRuleOf<PursuanceAbility> = {
    action: cap.action,
    subject: subjectName,
    inverted,
    reason: cap.reason ?? `${inverted ? 'role' : 'granted by role'} "${roleId}": ${inverted ? 'cannot ' : ''}${describe(cap)}`,
  };
  if (named !== '*') rule.conditions = { [conditionKey]: { $in: [...named] } };
  return rule;
}

export function compileAbility(rules: Rules, roles: Iterable<RoleId>, isFounder: boolean): PursuanceAbility {
  if (isFounder) return createMongoAbility<PursuanceAbility>([{ action: 'manage', subject: 'all', reason: 'founder' }]);
  const grants: RawRuleOf<PursuanceAbility>[] = [];
  const denials: RawRuleOf<PursuanceAbility>[] = [];
  for (const roleId of [...roles].sort()) {
    const role = declaredRole(rules, roleId);
    if (!role) continue;
    for (const cap of role.can) grants.push(toRawRule(cap, false, roleId));
    for (const cap of role.cannot) denials.push(toRawRule(cap, true, roleId));
  }
  // Later rules take precedence in CASL: denials after grants, so an explicit denial always wins.
  return createMongoAbility<PursuanceAbility>([...grants, ...denials]);
}

export type Check = { ok: true } | { ok: false; reason: string; rule?: string };

function decide(ability: PursuanceAbility, action: Action, target: SubjectName | ReturnType<typeof subject>, what: string, roles: readonly string[]): Check {
  if (ability.can(action, target)) return { ok: true };
  const rule = ability.relevantRuleFor(action, target);
  if (rule?.inverted) return { ok: false, reason: `denied by rule: ${rule.reason ?? what}`, rule: rule.reason };
  const held = roles.length ? `roles ${roles.join(', ')}` : 'no roles';
  return { ok: false, reason: `no rule grants ${what} to ${held}` };
}

/** May a holder of `roles` perform a task action on a task whose audience is `audience`? */
export function checkTask(ability: PursuanceAbility, roles: readonly string[], action: TaskAction, audience: readonly RoleId[]): Check {
  for (const audienceRole of audience) {
    const result = decide(ability, action, subject('Task', { audienceRole }), `${action} on tasks for audience "${audienceRole}"`, roles);
    if (!result.ok) return result;
  }
  return { ok: true };
}

export function checkRole(ability: PursuanceAbility, roles: readonly string[], action: 'assign' | 'remove' | 'rotate', role: RoleId): Check {
  const subjectName = action === 'rotate' ? 'Keys' : 'Role';
  const what = action === 'rotate' ? `rotating the keys of role "${role}"` : `${action === 'assign' ? 'assigning' : 'removing'} role "${role}"`;
  return decide(ability, action, subject(subjectName, { role }), what, roles);
}

export function checkPlain(
  ability: PursuanceAbility,
  roles: readonly string[],
  action: 'invite' | 'expel' | 'change' | 'move',
  subjectName: 'Member' | 'Rules' | 'Relay',
): Check {
  const what = { invite: 'inviting members', expel: 'expelling members', change: 'changing the rules', move: 'moving the relay' }[action];
  return decide(ability, action, subjectName, what, roles);
}

/**
 * Every concrete permission the rules can express, for escalation checks and dry runs:
 * a list of [action, subject, target-role] triples, '*' where no role applies.
 */
export function permissionUniverse(rules: Rules): [Action, SubjectName, string][] {
  const roleIds = Object.keys(rules.roles).sort();
  const out: [Action, SubjectName, string][] = [];
  for (const a of TASK_ACTIONS) for (const r of roleIds) out.push([a, 'Task', r]);
  for (const a of ['assign', 'remove'] as const) for (const r of roleIds) out.push([a, 'Role', r]);
  for (const r of roleIds) out.push(['rotate', 'Keys', r]);
  out.push(['invite', 'Member', '*'], ['expel', 'Member', '*'], ['change', 'Rules', '*'], ['move', 'Relay', '*']);
  return out;
}

export function allows(ability: PursuanceAbility, [action, subjectName, role]: [Action, SubjectName, string]): boolean {
  if (subjectName === 'Task') return ability.can(action, subject('Task', { audienceRole: role }));
  if (subjectName === 'Role' || subjectName === 'Keys') return ability.can(action, subject(subjectName, { role }));
  return ability.can(action, subjectName);
}

import { checkPlain, checkRole, checkTask, compileAbility, type Check, type Rules, type TaskAction } from './rules-engine.js';
import type { RoleModel, TaskListItem } from './types.js';
import type { Translate } from './words.js';

/**
 * What this member may do, from the rules in force and the roles they hold: the same
 * compiled CASL ability and checks the node runs before signing (packages/pursuance
 * rules/compile.ts). The dashboard offers only what passes; the node decides, and a refusal
 * it sends back is shown with its reason.
 */
export interface Capabilities {
  task(action: TaskAction, audience: readonly string[]): Check;
  role(action: 'assign' | 'remove' | 'rotate', role: string): Check;
  plain(action: 'invite' | 'expel' | 'change' | 'move'): Check;
  /** Leaving is always allowed by the rules (the node still refuses the last founder). */
  readonly member: boolean;
}

const NOT_A_MEMBER: Check = { ok: false, reason: 'you are not a member of this pursuance' };
const NO_RULES: Check = { ok: false, reason: 'the rules are still loading' };

/**
 * The engine's reason for refusing a task action, in the catalog's words (`task.denied.*`): the
 * engine says it in English only. A `cannot` rule is named by its reason; otherwise no rule
 * grants the action for the first audience role that lacks it.
 */
function taskDenial(
  t: Translate,
  check: Check,
  action: TaskAction,
  audience: readonly string[],
  deny: (role: string) => Check,
  roles: readonly string[],
): Check {
  if (check.ok) return check;
  const what = { action: t(`task.actions.${action}`), roles: roles.join(', ') };
  if (check.rule !== undefined) return { ok: false, reason: t('task.denied.byRule', { rule: check.rule }), rule: check.rule };
  const role = audience.find((r) => !deny(r).ok) ?? audience[0] ?? '';
  if (check.reason.startsWith('denied by rule:')) return { ok: false, reason: t('task.denied.byUnnamedRule', { ...what, audience: role }) };
  return { ok: false, reason: t(roles.length ? 'task.denied.notGranted' : 'task.denied.notGrantedNoRoles', { ...what, audience: role }) };
}

/**
 * With `t`, the refusals of task actions (the ones the task page lists) are in the chosen
 * language; without it they are the engine's English, as the node says them.
 */
export function capabilitiesFor(rules: Rules | null, myRoles: readonly string[], amFounder: boolean, isMember: boolean, t?: Translate): Capabilities {
  if (!isMember || !rules) {
    const english = isMember ? NO_RULES : NOT_A_MEMBER;
    const no: Check = t ? { ok: false, reason: t(isMember ? 'task.denied.rulesLoading' : 'task.denied.notMember') } : english;
    return { task: () => no, role: () => no, plain: () => no, member: isMember };
  }
  const roles = [...myRoles].sort();
  const ability = compileAbility(rules, roles, amFounder);
  return {
    member: true,
    task(action, audience) {
      for (const r of audience)
        if (!Object.hasOwn(rules.roles, r)) return { ok: false, reason: t ? t('task.denied.noSuchRole', { role: r }) : `role "${r}" does not exist` };
      const check = checkTask(ability, roles, action, audience);
      return t ? taskDenial(t, check, action, audience, (r) => checkTask(ability, roles, action, [r]), roles) : check;
    },
    role(action, role) {
      return checkRole(ability, roles, action, role);
    },
    plain(action) {
      const subject = action === 'change' ? 'Rules' : action === 'move' ? 'Relay' : 'Member';
      return checkPlain(ability, roles, action, subject);
    },
  };
}

/**
 * Writing sealed task content also needs the current key of every audience role (the node
 * seals with it): without it the node refuses with UNKNOWN_KEY, so the action is not offered.
 */
export function keyCheck(audience: readonly string[], roles: readonly RoleModel[], t?: Translate): Check {
  for (const r of [...audience].sort()) {
    const role = roles.find((x) => x.id === r);
    if (!role || role.epoch < 0) return { ok: false, reason: t ? t('task.denied.noKey', { role: r }) : `role "${r}" has no key yet: rotate its keys first` };
    if (!role.iHoldKey) return { ok: false, reason: t ? t('task.denied.keyNotHeld', { role: r }) : `you do not hold the current key of role "${r}"` };
    if (role.rotationDue)
      return {
        ok: false,
        reason: t ? t('task.denied.rotationDue', { role: r }) : `the key of "${r}" must be rotated after a holder left before new content uses it`,
      };
  }
  return { ok: true };
}

export function both(a: Check, b: Check): Check {
  return a.ok ? b : a;
}

/** A place a task can be moved to on the board, and the change that gets it there. */
export interface MoveTarget {
  readonly to: string;
  readonly op: 'status' | 'close' | 'reopen';
}

/**
 * Where a task may go from its current status: open → open along a workflow transition
 * (`transition`), open → closed state (`close`), closed → open state (reopening needs `close`).
 */
export function moveTargets(task: TaskListItem, rules: Rules, caps: Capabilities, roles: readonly RoleModel[]): MoveTarget[] {
  if (!task.readable || task.status === null) return [];
  if (!keyCheck(task.audience, roles).ok) return [];
  const wf = rules.workflow;
  const closed = new Set(wf.closed);
  const out: MoveTarget[] = [];
  if (task.closed) {
    if (!caps.task('close', task.audience).ok) return [];
    for (const s of wf.states) if (!closed.has(s)) out.push({ to: s, op: 'reopen' });
    return out;
  }
  if (caps.task('transition', task.audience).ok) {
    for (const t of wf.transitions) if (t.from === task.status && !closed.has(t.to) && !out.some((o) => o.to === t.to)) out.push({ to: t.to, op: 'status' });
  }
  if (caps.task('close', task.audience).ok) {
    for (const s of wf.closed) out.push({ to: s, op: 'close' });
  }
  return out;
}

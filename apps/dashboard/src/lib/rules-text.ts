import type { Action, Capability, Rules, SubjectName } from './rules-engine.js';

/** Rules in plain words, for people about to join or change them. */
export function roleTitle(rules: Rules | null, id: string): string {
  return rules?.roles[id]?.title ?? id;
}

/**
 * A workflow status as people read it: the rules' own title for it where they give one (a
 * `titles` map beside the workflow's states; the schema does not carry one yet, so it is read
 * defensively), else the id with its dashes as spaces ("in-progress" → "in progress").
 */
export function statusTitle(rules: Rules | null, id: string): string {
  const titles = (rules?.workflow as { titles?: unknown } | undefined)?.titles;
  const own = titles && typeof titles === 'object' ? (titles as Record<string, unknown>)[id] : undefined;
  return typeof own === 'string' && own.trim() ? own : id.replace(/-+/g, ' ');
}

export function listRoles(rules: Rules | null, list: '*' | readonly string[]): string {
  if (list === '*') return 'any role';
  return list.map((r) => roleTitle(rules, r)).join(', ');
}

const TASK_PHRASES: Record<string, string> = {
  create: 'create tasks visible to',
  edit: 'edit (and re-parent) tasks of',
  assign: 'assign people to tasks of',
  comment: 'comment on tasks of',
  transition: 'move through the workflow tasks of',
  close: 'close and reopen tasks of',
};

export function describeCapability(rules: Rules | null, cap: Capability): string {
  switch (cap.subject) {
    case 'task':
      return `${TASK_PHRASES[cap.action]} ${listRoles(rules, cap.audience)}`;
    case 'role':
      return `${cap.action === 'assign' ? 'give people the role' : 'take away the role'} ${listRoles(rules, cap.roles)}`;
    case 'keys':
      return `rotate the keys of ${listRoles(rules, cap.roles)}`;
    case 'member':
      return cap.action === 'invite' ? 'invite new members' : 'expel members';
    case 'rules':
      return 'change the rules';
    case 'relay':
      return 'move the group to another relay';
  }
}

/** One concrete permission of `permissionUniverse` ([action, subject, role]) in words. */
export function describePermission(rules: Rules | null, [action, subject, role]: readonly [Action, SubjectName, string]): string {
  const r = role === '*' ? '' : roleTitle(rules, role);
  switch (subject) {
    case 'Task':
      return `${TASK_PHRASES[action] ?? action} ${r}`;
    case 'Role':
      return `${action === 'assign' ? 'give people the role' : 'take away the role'} ${r}`;
    case 'Keys':
      return `rotate the keys of ${r}`;
    case 'Member':
      return action === 'invite' ? 'invite new members' : 'expel members';
    case 'Rules':
      return 'change the rules';
    case 'Relay':
      return 'move the group to another relay';
    default:
      return `${action} ${subject} ${r}`.trim();
  }
}

export function historyPolicy(history: string): string {
  return history === 'all' ? 'new holders read the role’s whole history' : 'new holders read only what is sealed after they join';
}

export function workflowSummary(rules: Rules): { open: string[]; closed: string[]; moves: string[] } {
  const closed = new Set(rules.workflow.closed);
  const title = (s: string) => statusTitle(rules, s);
  return {
    open: rules.workflow.states.filter((s) => !closed.has(s)).map(title),
    closed: rules.workflow.states.filter((s) => closed.has(s)).map(title),
    moves: rules.workflow.transitions.map((t) => `${title(t.from)} → ${title(t.to)}`),
  };
}

export function successionSummary(rules: Rules): string {
  const { quorum, inactivityDays } = rules.succession;
  const endorse = quorum <= 1 ? 'One founder can make a member a founder' : `${quorum} founders must agree to make a member a founder`;
  return inactivityDays === null ? `${endorse}.` : `${endorse}, or a nominee may claim after ${inactivityDays} days without any founder activity.`;
}

import { createI18n } from 'vue-i18n';
import { rules as catalog } from '../i18n/rules.js';
import { TASK_ACTIONS, type Action, type Capability, type Rules, type SubjectName } from './rules-engine.js';

/**
 * Rules in plain words, for people about to join or change them. The sentences come from the
 * rules area of the catalogs through `t` (a component's `useI18n().t`); callers that have none
 * (code outside components, older callers) get English, which is also the fallback language.
 */
export type Translate = (key: string, named?: Record<string, unknown>, plural?: number) => string;

const english = createI18n({ legacy: false, locale: 'en', messages: { en: { rules: catalog.en } }, missingWarn: false, fallbackWarn: false });
export const englishT: Translate = (key, named = {}, plural) => (plural === undefined ? english.global.t(key, named) : english.global.t(key, named, plural));

/** A declared role, looked up as an own property: `constructor` is a valid role id and an Object method. */
function declared(rules: Rules | null, id: string): Rules['roles'][string] | undefined {
  return rules && Object.hasOwn(rules.roles, id) ? rules.roles[id] : undefined;
}

export function roleTitle(rules: Rules | null, id: string): string {
  return declared(rules, id)?.title ?? id;
}

/**
 * A workflow status as people read it: the rules' own title for it where they give one (a
 * `titles` map beside the workflow's states; the schema does not carry one yet, so it is read
 * defensively), else the id with its dashes as spaces ("in-progress" → "in progress").
 */
export function statusTitle(rules: Rules | null, id: string): string {
  const titles = (rules?.workflow as { titles?: unknown } | undefined)?.titles;
  const own = titles && typeof titles === 'object' && Object.hasOwn(titles, id) ? (titles as Record<string, unknown>)[id] : undefined;
  return typeof own === 'string' && own.trim() ? own : id.replace(/-+/g, ' ');
}

export function listRoles(rules: Rules | null, list: '*' | readonly string[], t: Translate = englishT): string {
  if (list === '*') return t('rules.text.anyRole');
  return list.map((r) => roleTitle(rules, r)).join(', ');
}

/** The core's own list, so an action it gains is worded here (the catalogs must have it: test/i18n-views.test.ts). */
const TASK_ACTION_NAMES: ReadonlySet<string> = new Set(TASK_ACTIONS);

export function describeCapability(rules: Rules | null, cap: Capability, t: Translate = englishT): string {
  switch (cap.subject) {
    case 'task':
      return t(`rules.text.task.${cap.action}`, { roles: listRoles(rules, cap.audience, t) });
    case 'role':
      return t(cap.action === 'assign' ? 'rules.text.roleAssign' : 'rules.text.roleRemove', { roles: listRoles(rules, cap.roles, t) });
    case 'keys':
      return t('rules.text.keysRotate', { roles: listRoles(rules, cap.roles, t) });
    case 'member':
      return t(cap.action === 'invite' ? 'rules.text.memberInvite' : 'rules.text.memberExpel');
    case 'rules':
      return t('rules.text.rulesChange');
    case 'relay':
      return t('rules.text.relayMove');
  }
}

/** One concrete permission of `permissionUniverse` ([action, subject, role]) in words. */
export function describePermission(rules: Rules | null, [action, subject, role]: readonly [Action, SubjectName, string], t: Translate = englishT): string {
  const r = role === '*' ? '' : roleTitle(rules, role);
  switch (subject) {
    case 'Task':
      return TASK_ACTION_NAMES.has(action) ? t(`rules.text.task.${action}`, { roles: r }) : `${action} ${r}`;
    case 'Role':
      return t(action === 'assign' ? 'rules.text.roleAssign' : 'rules.text.roleRemove', { roles: r });
    case 'Keys':
      return t('rules.text.keysRotate', { roles: r });
    case 'Member':
      return t(action === 'invite' ? 'rules.text.memberInvite' : 'rules.text.memberExpel');
    case 'Rules':
      return t('rules.text.rulesChange');
    case 'Relay':
      return t('rules.text.relayMove');
    default:
      return `${action} ${subject} ${r}`.trim();
  }
}

export function historyPolicy(history: string, t: Translate = englishT): string {
  return t(history === 'all' ? 'rules.text.historyAll' : 'rules.text.historySinceJoin');
}

export function workflowSummary(rules: Rules): { open: string[]; closed: string[]; moves: string[] } {
  const closed = new Set(rules.workflow.closed);
  const title = (s: string) => statusTitle(rules, s);
  return {
    open: rules.workflow.states.filter((s) => !closed.has(s)).map(title),
    closed: rules.workflow.states.filter((s) => closed.has(s)).map(title),
    moves: rules.workflow.transitions.map((tr) => `${title(tr.from)} → ${title(tr.to)}`),
  };
}

export function successionSummary(rules: Rules, t: Translate = englishT): string {
  const { quorum, inactivityDays } = rules.succession;
  const endorse = quorum <= 1 ? t('rules.text.endorseOne') : t('rules.text.endorseMany', { n: quorum });
  return inactivityDays === null ? t('rules.text.successionNoClaim', { endorse }) : t('rules.text.successionClaim', { endorse, days: inactivityDays });
}

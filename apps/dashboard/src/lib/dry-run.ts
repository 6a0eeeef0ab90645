import { allows, compileAbility, permissionUniverse, RulesSchema, type Action, type Rules, type SubjectName } from './rules-engine.js';
import { describePermission, englishT, type Translate } from './rules-text.js';
import type { MemberModel } from './types.js';

/**
 * A rule change's dry run: who gains or loses what, before anything is signed. Capabilities
 * are compared per role (that role alone) and per member (all their roles together, since a
 * `cannot` in one role binds every holder), with the core's own compiler, over every concrete
 * permission either version of the rules can express.
 */
type Permission = [Action, SubjectName, string];

export interface RoleDiff {
  readonly role: string;
  readonly title: string;
  readonly change: 'added' | 'removed' | 'changed' | 'unchanged';
  readonly gains: string[];
  readonly losses: string[];
}

export interface MemberDiff {
  readonly onion: string;
  readonly name: string | null;
  /** Roles the member holds that the new rules no longer declare: they lose them. */
  readonly rolesLost: string[];
  readonly gains: string[];
  readonly losses: string[];
}

export interface DryRun {
  readonly roles: RoleDiff[];
  readonly members: MemberDiff[];
  readonly workflow: string[];
  readonly other: string[];
  /** For a non-founder author: permissions the new rules would grant that the author lacks (the node rejects these as ESCALATION). */
  readonly escalations: string[];
}

export type ParsedRules = { ok: true; rules: Rules } | { ok: false; error: string };

/**
 * Parse and validate proposed rules with the core's schema (the node validates the same way).
 * The schema's own messages stay in English, like the node's; only the frame is translated.
 */
export function parseRules(text: string, t: Translate = englishT): ParsedRules {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: t('rules.dry.notJson', { error: err instanceof Error ? err.message : String(err) }) };
  }
  if (json && typeof json === 'object' && '$schema' in json) delete (json as Record<string, unknown>).$schema;
  const parsed = RulesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue?.path.join('.') || 'rules'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, rules: parsed.data };
}

const key = (p: Permission): string => p.join('|');
/** An own role of the rules: `constructor` is a valid role id, and also what every object inherits. */
const has = (rules: Rules, role: string): boolean => Object.hasOwn(rules.roles, role);

function universe(a: Rules, b: Rules): Permission[] {
  const out = new Map<string, Permission>();
  for (const p of [...permissionUniverse(a), ...permissionUniverse(b)]) out.set(key(p), p);
  return [...out.values()];
}

function granted(rules: Rules, roles: readonly string[], perms: Permission[]): Set<string> {
  const held = roles.filter((r) => has(rules, r));
  const ability = compileAbility(rules, held, false);
  return new Set(perms.filter((p) => allows(ability, p)).map(key));
}

function diff(before: Set<string>, after: Set<string>, perms: Map<string, Permission>, rules: Rules, t: Translate): { gains: string[]; losses: string[] } {
  const words = (k: string) => describePermission(rules, perms.get(k)!, t);
  return {
    gains: [...after].filter((k) => !before.has(k)).map(words),
    losses: [...before].filter((k) => !after.has(k)).map(words),
  };
}

export function dryRunRules(
  current: Rules,
  proposed: Rules,
  members: readonly MemberModel[],
  author?: { roles: readonly string[]; founder: boolean },
  t: Translate = englishT,
): DryRun {
  const perms = universe(current, proposed);
  const byKey = new Map(perms.map((p) => [key(p), p]));
  const wordsRules: Rules = { ...current, roles: { ...current.roles, ...proposed.roles } };

  const roleIds = [...new Set([...Object.keys(current.roles), ...Object.keys(proposed.roles)])].sort();
  const roles: RoleDiff[] = roleIds.map((role) => {
    const inCurrent = has(current, role);
    const inProposed = has(proposed, role);
    const before = inCurrent ? granted(current, [role], perms) : new Set<string>();
    const after = inProposed ? granted(proposed, [role], perms) : new Set<string>();
    const d = diff(before, after, byKey, wordsRules, t);
    const defChanged = inCurrent && inProposed && JSON.stringify(current.roles[role]) !== JSON.stringify(proposed.roles[role]);
    const change = !inCurrent ? 'added' : !inProposed ? 'removed' : d.gains.length || d.losses.length || defChanged ? 'changed' : 'unchanged';
    return { role, title: (inProposed ? proposed.roles[role]?.title : current.roles[role]?.title) ?? role, change, ...d };
  });

  const memberDiffs: MemberDiff[] = members
    .filter((m) => !m.founder)
    .map((m) => {
      const d = diff(granted(current, m.roles, perms), granted(proposed, m.roles, perms), byKey, wordsRules, t);
      return { onion: m.onion, name: m.name, rolesLost: m.roles.filter((r) => !has(proposed, r)), ...d };
    })
    .filter((m) => m.gains.length || m.losses.length || m.rolesLost.length);

  const workflow: string[] = [];
  const cw = current.workflow;
  const pw = proposed.workflow;
  for (const s of pw.states) if (!cw.states.includes(s)) workflow.push(t('rules.dry.newStatus', { status: s }));
  for (const s of cw.states) if (!pw.states.includes(s)) workflow.push(t('rules.dry.statusRemoved', { status: s }));
  const moves = (w: Rules['workflow']) => new Set(w.transitions.map((t) => `${t.from} → ${t.to}`));
  const [cm, pm] = [moves(cw), moves(pw)];
  for (const m of pm) if (!cm.has(m)) workflow.push(t('rules.dry.newMove', { move: m }));
  for (const m of cm) if (!pm.has(m)) workflow.push(t('rules.dry.moveRemoved', { move: m }));
  if (cw.initial !== pw.initial) workflow.push(t('rules.dry.initial', { to: pw.initial, from: cw.initial }));
  if (JSON.stringify([...cw.closed].sort()) !== JSON.stringify([...pw.closed].sort())) workflow.push(t('rules.dry.closed', { list: pw.closed.join(', ') }));

  const other: string[] = [];
  if (current.title !== proposed.title) other.push(t('rules.dry.title', { title: proposed.title }));
  if (current.description !== proposed.description) other.push(t('rules.dry.description'));
  if (JSON.stringify(current.succession) !== JSON.stringify(proposed.succession)) {
    const days = (d: number | null) => d ?? t('rules.dry.never');
    other.push(
      t('rules.dry.succession', {
        quorum: proposed.succession.quorum,
        days: days(proposed.succession.inactivityDays),
        wasQuorum: current.succession.quorum,
        wasDays: days(current.succession.inactivityDays),
      }),
    );
  }

  const escalations: string[] = [];
  if (author && !author.founder) {
    const mine = granted(current, author.roles, perms);
    for (const role of Object.keys(proposed.roles).sort()) {
      for (const k of granted(proposed, [role], perms)) {
        if (!mine.has(k)) escalations.push(t('rules.dry.escalation', { role, what: describePermission(wordsRules, byKey.get(k)!, t) }));
      }
    }
  }
  return { roles, members: memberDiffs, workflow, other, escalations };
}

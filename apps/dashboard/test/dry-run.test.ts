import { describe, expect, it } from 'vitest';
import { dryRunRules, parseRules } from '../src/lib/dry-run.js';
import type { Rules } from '../src/lib/rules-engine.js';
import { cellRules, FOUNDER, MEMBER, members } from './support/fakes.js';

const cell = cellRules();
const clone = (r: Rules): Rules => JSON.parse(JSON.stringify(r)) as Rules;

describe('rule-change dry run', () => {
  it('shows what a role and its holders gain', () => {
    const next = clone(cell);
    next.roles.member!.cannot = [];
    next.roles.member!.can.push({ subject: 'task', action: 'close', audience: ['member'] });
    const dry = dryRunRules(cell, next, members());
    expect(dry.roles.find((r) => r.role === 'member')).toMatchObject({ change: 'changed', gains: ['close and reopen tasks of Member'], losses: [] });
    expect(dry.roles.find((r) => r.role === 'organizer')?.change).toBe('unchanged');
    // The founder is unaffected (founders may do everything); the member gains.
    expect(dry.members).toEqual([{ onion: MEMBER, name: 'mo', rolesLost: [], gains: ['close and reopen tasks of Member'], losses: [] }]);
    expect(dry.members.some((m) => m.onion === FOUNDER)).toBe(false);
  });

  it('shows a dropped role, what its holders lose, and workflow changes', () => {
    const next = clone(cell);
    delete next.roles.member;
    next.roles.organizer!.can = next.roles.organizer!.can.filter((c) => !(c.subject === 'role' && c.action === 'remove'));
    next.workflow.states.push('blocked');
    next.workflow.transitions.push({ from: 'in-progress', to: 'blocked' });
    const dry = dryRunRules(cell, next, members());
    expect(dry.roles.find((r) => r.role === 'member')).toMatchObject({ change: 'removed', gains: [] });
    expect(dry.roles.find((r) => r.role === 'member')?.losses).toContain('comment on tasks of Member');
    expect(dry.roles.find((r) => r.role === 'organizer')?.losses).toEqual(['take away the role Member']);
    expect(dry.members[0]).toMatchObject({ onion: MEMBER, rolesLost: ['member'] });
    expect(dry.members[0]!.losses).toContain('create tasks visible to Member');
    expect(dry.workflow).toEqual(['new status "blocked"', 'new move in-progress → blocked']);
  });

  it('warns a non-founder author of an escalation the node would refuse', () => {
    const next = clone(cell);
    next.roles.member!.can.push({ subject: 'member', action: 'invite' });
    const dry = dryRunRules(cell, next, members(), { roles: ['member'], founder: false });
    expect(dry.escalations).toContain('role "member" would invite new members');
    expect(dryRunRules(cell, next, members(), { roles: [], founder: true }).escalations).toEqual([]);
  });

  it('validates proposed rules with the core schema', () => {
    expect(parseRules('{')).toMatchObject({ ok: false });
    expect((parseRules('{') as { error: string }).error).toMatch(/^not valid JSON/);
    const bad = clone(cell);
    bad.workflow.initial = 'nowhere';
    expect(parseRules(JSON.stringify(bad))).toEqual({ ok: false, error: 'workflow: workflow names an undeclared state "nowhere"' });
    const ok = parseRules(JSON.stringify({ $schema: '../rules.schema.json', ...cell }));
    expect(ok.ok && ok.rules.title).toBe('Small activist cell');
  });
});

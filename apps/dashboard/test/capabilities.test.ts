import { describe, expect, it } from 'vitest';
import { capabilitiesFor, keyCheck, moveTargets } from '../src/lib/capabilities.js';
import { cellRules, deskRules, roles, task } from './support/fakes.js';

const cell = cellRules();

describe('capabilities: the core rule compiler, applied to what the dashboard offers', () => {
  it('lets a founder do everything, whatever the rules deny', () => {
    const caps = capabilitiesFor(cell, ['member', 'organizer'], true, true);
    expect(caps.task('close', ['member']).ok).toBe(true);
    expect(caps.role('assign', 'organizer').ok).toBe(true);
    expect(caps.plain('change').ok).toBe(true);
  });

  it('gives a member what their role grants, and names the rule that denies the rest', () => {
    const caps = capabilitiesFor(cell, ['member'], false, true);
    for (const a of ['create', 'comment', 'transition', 'assign'] as const) expect(caps.task(a, ['member']).ok).toBe(true);
    expect(caps.task('close', ['member'])).toEqual({ ok: false, reason: 'denied by rule: only organizers close tasks', rule: 'only organizers close tasks' });
    expect(caps.task('edit', ['member'])).toEqual({ ok: false, reason: 'no rule grants edit on tasks for audience "member" to roles member' });
    expect(caps.task('create', ['organizer']).ok).toBe(false);
    expect(caps.plain('invite').ok).toBe(false);
    expect(caps.task('create', ['nobody'])).toEqual({ ok: false, reason: 'role "nobody" does not exist' });
  });

  it('names the `cannot` rule and its reason where one decides', () => {
    const desk = deskRules();
    const reporter = capabilitiesFor(desk, ['desk', 'reporter'], false, true);
    expect(reporter.task('edit', ['desk']).ok).toBe(true);
    expect(reporter.task('close', ['desk'])).toEqual({
      ok: false,
      reason: 'denied by rule: only editors publish or spike a story',
      rule: 'only editors publish or spike a story',
    });
    const editor = capabilitiesFor(desk, ['desk', 'editor'], false, true);
    expect(editor.role('assign', 'editor')).toMatchObject({ ok: false, rule: 'editors are appointed by the founders' });
    expect(editor.role('assign', 'reporter').ok).toBe(true);
  });

  it('offers nothing to someone who is not a member', () => {
    const caps = capabilitiesFor(cell, [], false, false);
    expect(caps.task('comment', ['member'])).toEqual({ ok: false, reason: 'you are not a member of this pursuance' });
    expect(caps.member).toBe(false);
  });

  it('requires the current key of every audience role for sealed content', () => {
    expect(keyCheck(['member'], roles(true)).ok).toBe(true);
    expect(keyCheck(['member'], roles(false))).toEqual({ ok: false, reason: 'you do not hold the current key of role "member"' });
    const due = roles(true).map((r) => (r.id === 'member' ? { ...r, rotationDue: true } : r));
    expect(keyCheck(['member'], due).ok).toBe(false);
  });

  it('computes where a card may move: workflow transitions, closing, reopening', () => {
    const founder = capabilitiesFor(cell, ['member', 'organizer'], true, true);
    const member = capabilitiesFor(cell, ['member'], false, true);
    const open = task({ status: 'in-progress' });
    expect(moveTargets(open, cell, founder, roles())).toEqual([
      { to: 'review', op: 'status' },
      { to: 'open', op: 'status' },
      { to: 'done', op: 'close' },
      { to: 'dropped', op: 'close' },
    ]);
    // A member may move along the workflow but not close.
    expect(moveTargets(open, cell, member, roles()).map((t) => t.to)).toEqual(['review', 'open']);
    const closed = task({ status: 'done', closed: true });
    expect(moveTargets(closed, cell, founder, roles()).map((t) => `${t.op}:${t.to}`)).toEqual(['reopen:open', 'reopen:in-progress', 'reopen:review']);
    expect(moveTargets(closed, cell, member, roles())).toEqual([]);
    // Nothing moves without the key, or when the task is unreadable.
    expect(moveTargets(open, cell, founder, roles(false))).toEqual([]);
    expect(moveTargets(task({ readable: false, status: null, title: null }), cell, founder, roles())).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { MemberViewCache, PursuanceAuthor, buildMemberView, type TaskView } from '../src/index.js';
import { buildTaskView } from '../src/view.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';

/** Task history says what each readable change did, old → new — and nothing to those who cannot read it. */
describe('task history detail', () => {
  function cell() {
    const now = clock();
    const [founderId, memberId, outsiderId] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const founder = PursuanceAuthor.create(founderId, { name: 'cell', rules: template('activist-cell') }, now);
    founder.addMember(memberId.publicKey, { roles: ['member'] });
    founder.addMember(outsiderId.publicKey, { roles: [] });
    return { now, founder, founderId, memberId, outsiderId };
  }
  const changes = (t: TaskView | undefined) => t!.history.map((h) => [h.kind, h.change]);

  it('records status moves, closing and reopening with their states and notes', () => {
    const { founder, founderId } = cell();
    const t = founder.createTask({ audience: ['member'], title: 'Banner' });
    founder.setStatus(t.id, 'in-progress');
    founder.closeTask(t.id, 'dropped', 'no paint left');
    founder.reopenTask(t.id, 'open', 'paint donated');
    const view = buildMemberView(founder.log, founderId, founder.keyring);
    expect(changes(view.tasks.get(t.id))).toEqual([
      ['task.create', undefined],
      ['task.status', { status: { from: 'open', to: 'in-progress' } }],
      ['task.close', { status: { from: 'in-progress', to: 'dropped' }, note: 'no paint left' }],
      ['task.reopen', { status: { from: 'dropped', to: 'open' }, note: 'paint donated' }],
    ]);
  });

  it('records edits field by field: title, body length, labels added and removed, due date', () => {
    const { founder, founderId } = cell();
    const t = founder.createTask({ audience: ['member'], title: 'A', body: 'four', labels: ['art', 'errand'] });
    founder.editTask(t.id, { title: 'B', body: 'seven!!', labels: ['errand', 'outreach'], due: 1_900_000_000_000 });
    founder.editTask(t.id, { title: 'B', due: null });
    founder.comment(t.id, 'looks good');
    const history = buildMemberView(founder.log, founderId, founder.keyring).tasks.get(t.id)!.history;
    expect(history[1]!.change).toEqual({
      title: { from: 'A', to: 'B' },
      body: { fromLength: 4, toLength: 7 },
      labels: { added: ['outreach'], removed: ['art'] },
      due: { from: null, to: 1_900_000_000_000 },
    });
    // The same title again is no change; only the due date moved.
    expect(history[2]!.change).toEqual({ due: { from: 1_900_000_000_000, to: null } });
    // A comment is its own record: no old → new.
    expect(history[3]).toMatchObject({ kind: 'task.comment' });
    expect(history[3]!.change).toBeUndefined();
  });

  it('records who was assigned and unassigned, members and roles', () => {
    const { founder, founderId, memberId } = cell();
    const t = founder.createTask({ audience: ['member'], title: 'Flyers', assignees: { roles: ['organizer'] } });
    founder.assignTask(t.id, { add: { members: [memberId.onion] }, remove: { roles: ['organizer'] } });
    const entry = buildMemberView(founder.log, founderId, founder.keyring).tasks.get(t.id)!.history[1]!;
    expect(entry.change).toEqual({ assigned: { members: [memberId.onion], roles: [] }, unassigned: { members: [], roles: ['organizer'] } });
  });

  it('records moves in the tree (old parent → new parent) for every reader: the tree is public', () => {
    const { founder, founderId, outsiderId, now } = cell();
    const a = founder.createTask({ audience: ['member'], title: 'A' });
    const b = founder.createTask({ audience: ['member'], title: 'B' });
    const child = founder.createTask({ audience: ['member'], title: 'child', parent: a.id });
    const moved = founder.moveTask(child.id, b.id);
    founder.moveTask(child.id, null);
    const outsider = joinAs(outsiderId, founder.log, now);
    for (const view of [buildMemberView(founder.log, founderId, founder.keyring), buildMemberView(outsider.log, outsiderId, outsider.keyring)]) {
      const moves = view.tasks.get(child.id)!.history.filter((h) => h.kind === 'task.move');
      expect(moves.map((h) => h.change)).toEqual([{ parent: { from: a.id, to: b.id } }, { parent: { from: b.id, to: null } }]);
      expect(moves[0]!.id).toBe(moved.id);
    }
  });

  it('tells a reader without the key nothing new: the same entries, with no change', () => {
    const { founder, founderId, outsiderId, now } = cell();
    const t = founder.createTask({ audience: ['member'], title: 'Secret', labels: ['x'] });
    founder.setStatus(t.id, 'in-progress');
    founder.editTask(t.id, { title: 'Still secret', labels: [] });
    founder.assignTask(t.id, { add: { roles: ['member'] } });
    founder.closeTask(t.id, 'done', 'finished');
    founder.reopenTask(t.id);
    const outsider = joinAs(outsiderId, founder.log, now);
    const theirs = buildMemberView(outsider.log, outsiderId, outsider.keyring).tasks.get(t.id)!;
    const ours = buildMemberView(founder.log, founderId, founder.keyring).tasks.get(t.id)!;
    expect(theirs.readable).toBe(false);
    expect(theirs.history.map((h) => h.id)).toEqual(ours.history.map((h) => h.id));
    expect(theirs.history.every((h) => !('change' in h))).toBe(true);
    expect(ours.history.slice(1).every((h) => h.change !== undefined)).toBe(true);
    expect(JSON.stringify(theirs)).not.toMatch(/in-progress|finished|Still secret|"done"/);
  });

  it('says which change the workflow refused, and why, when two members move a task at once', () => {
    const { founder, founderId, memberId, now } = cell();
    const t = founder.createTask({ audience: ['member'], title: 'Race' });
    const member = joinAs(memberId, founder.log, now);
    // Both move it out of "open" concurrently; in the shared order the second finds it "in-progress".
    founder.setStatus(t.id, 'in-progress');
    member.setStatus(t.id, 'in-progress');
    syncInto(founder, member.log);
    const view = buildMemberView(founder.log, founderId, founder.keyring);
    const moves = view.tasks.get(t.id)!.history.filter((h) => h.kind === 'task.status');
    expect(moves.map((h) => h.change)).toEqual([
      { status: { from: 'open', to: 'in-progress' } },
      { refused: 'the workflow has no transition from "in-progress" to "in-progress"' },
    ]);
    expect(view.contentRejections.map((r) => r.eventId)).toEqual([moves[1]!.id]);
  });

  it('gives a since-join reader the new values with no "from" it could not have read', () => {
    const now = clock();
    const rules = template('activist-cell');
    rules.roles.member!.history = 'since-join';
    const founderId = Identity.generate();
    const founder = PursuanceAuthor.create(founderId, { name: 'k', rules }, now);
    const t = founder.createTask({ audience: ['member'], title: 'Old title', assignees: { roles: ['organizer'] } });
    founder.rotateKeys(['member']);
    const newcomerId = Identity.generate();
    founder.addMember(newcomerId.publicKey, { roles: ['member'] });
    founder.editTask(t.id, { title: 'New title' });
    founder.assignTask(t.id, { remove: { roles: ['organizer'] } });
    const newcomer = joinAs(newcomerId, founder.log, now);
    const history = buildMemberView(newcomer.log, newcomerId, newcomer.keyring).tasks.get(t.id)!.history;
    expect(history.map((h) => h.change)).toEqual([undefined, { title: { to: 'New title' } }, { unassigned: { members: [], roles: ['organizer'] } }]);
  });

  it('is the same in the incremental view, the full rebuild and the one-task view', () => {
    const { founder, founderId } = cell();
    const cache = new MemberViewCache(founder.keyring);
    const t = founder.createTask({ audience: ['member'], title: 'One' });
    const parent = founder.createTask({ audience: ['member'], title: 'Parent' });
    cache.current(founder.log);
    founder.setStatus(t.id, 'in-progress');
    cache.current(founder.log);
    founder.editTask(t.id, { title: 'Two', labels: ['a'] });
    founder.moveTask(t.id, parent.id);
    founder.closeTask(t.id, 'done', 'ok');
    const full = buildMemberView(founder.log, founderId, founder.keyring);
    expect(cache.current(founder.log)).toEqual(full);
    expect(buildTaskView(founder.log, t.id, founder.keyring)).toEqual(full.tasks.get(t.id));
  });
});

import { describe, expect, it } from 'vitest';
import { allLabels, buildTree, emptyFilters, filterTasks, groupByStatus, subtreeIds } from '../src/lib/filters.js';
import { FOUNDER, MEMBER, task } from './support/fakes.js';

const now = Date.UTC(2026, 10, 22);
const day = 86_400_000;
const ctx = { me: MEMBER, myRoles: ['member'], now };

describe('local filters and search', () => {
  const a = task({ title: 'Banner', labels: ['art'], assignees: { members: [MEMBER], roles: [] }, due: now - day });
  const b = task({
    title: 'Book the hall',
    body: 'call the caretaker',
    labels: ['logistics'],
    audience: ['organizer'],
    assignees: { members: [], roles: ['member'] },
    due: now + 3 * day,
  });
  const c = task({
    title: 'Leaflets',
    labels: ['art', 'print'],
    closed: true,
    status: 'done',
    comments: [{ id: 'x', author: FOUNDER, authorName: 'ada', time: 1, body: 'printer is broken' }],
  });
  const sealed = task({ readable: false, title: null, status: null, labels: [] });
  const all = [a, b, c, sealed];
  const titles = (f: Partial<ReturnType<typeof emptyFilters>>) => filterTasks(all, { ...emptyFilters(), ...f }, ctx).map((t) => t.title);

  it('never shows unreadable tasks and can hide closed ones', () => {
    expect(titles({})).toEqual(['Banner', 'Book the hall', 'Leaflets']);
    expect(titles({ showClosed: false })).toEqual(['Banner', 'Book the hall']);
  });

  it('filters by label, audience, assignee and due date', () => {
    expect(titles({ label: 'art' })).toEqual(['Banner', 'Leaflets']);
    expect(titles({ audience: 'organizer' })).toEqual(['Book the hall']);
    expect(titles({ assignee: 'me' })).toEqual(['Banner', 'Book the hall']);
    expect(titles({ assignee: `member:${MEMBER}` })).toEqual(['Banner']);
    expect(titles({ assignee: 'role:member' })).toEqual(['Book the hall']);
    expect(titles({ assignee: 'unassigned' })).toEqual(['Leaflets']);
    expect(titles({ due: 'overdue' })).toEqual(['Banner']);
    expect(titles({ due: 'week' })).toEqual(['Book the hall']);
    expect(titles({ due: 'none' })).toEqual(['Leaflets']);
  });

  it('searches titles, bodies, labels and comments, all words', () => {
    expect(titles({ search: 'caretaker' })).toEqual(['Book the hall']);
    expect(titles({ search: 'PRINTER broken' })).toEqual(['Leaflets']);
    expect(titles({ search: 'art banner' })).toEqual(['Banner']);
    expect(titles({ search: 'nothing-like-this' })).toEqual([]);
  });

  it('searches without regard to accents or case, in the words of the task and of the search alike (as the task picker does)', () => {
    const fr = task({
      title: 'Réunion publique',
      body: 'Salle de l’ÉCOLE',
      labels: ['café'],
      comments: [{ id: 'y', author: FOUNDER, authorName: 'ada', time: 1, body: 'Niño llega' }],
    });
    const ts = (search: string) => filterTasks([...all, fr], { ...emptyFilters(), search }, ctx).map((t) => t.title);
    for (const search of ['reunion', 'RÉUNION', 'réunion publique', 'ecole', 'école salle', 'cafe', 'CAFÉ', 'nino', 'niño llega'])
      expect(ts(search), search).toEqual(['Réunion publique']);
    // Still every word: a folded word matching one task and another word another finds neither; a blank search finds everything.
    expect(ts('réunion banner')).toEqual([]);
    expect(ts('   ')).toEqual(['Banner', 'Book the hall', 'Leaflets', 'Réunion publique']);
    // Prototype names are words like any other.
    expect(ts('constructor')).toEqual([]);
    expect(ts('__proto__ toString')).toEqual([]);
  });

  it('groups by workflow status and lists labels', () => {
    const g = groupByStatus([a, b, c], ['open', 'in-progress', 'done']);
    expect([...g].map(([s, ts]) => [s, ts.length])).toEqual([
      ['open', 2],
      ['in-progress', 0],
      ['done', 1],
    ]);
    expect(allLabels(all)).toEqual(['art', 'logistics', 'print']);
  });

  it('builds the subtask tree, lifting tasks whose parent is unreadable to the top', () => {
    const root = task({ title: 'Root' });
    const child = task({ title: 'Child', parent: root.id });
    const grandchild = task({ title: 'Grandchild', parent: child.id });
    const hidden = task({ readable: false, title: null });
    const orphan = task({ title: 'Under a sealed task', parent: hidden.id });
    const tree = buildTree([root, child, grandchild, hidden, orphan]);
    expect(tree.map((n) => n.task.title)).toEqual(['Root', 'Under a sealed task']);
    expect(tree[0]!.children[0]!.task.title).toBe('Child');
    expect(tree[0]!.children[0]!.children[0]!.task.title).toBe('Grandchild');
    expect([...subtreeIds([root, child, grandchild], child.id)].sort()).toEqual([child.id, grandchild.id].sort());
  });
});

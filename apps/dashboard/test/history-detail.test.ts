// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import { createDashboardI18n } from '../src/i18n/index.js';
import { APP, createAppContext } from '../src/lib/context.js';
import { describeHistory, type HistoryWords } from '../src/lib/format.js';
import type { HistoryEntry } from '../src/lib/types.js';
import TaskDetail from '../src/views/TaskDetail.vue';
import {
  FOUNDER,
  FakeEventSource,
  MEMBER,
  MemoryStorage,
  OTHER,
  PID,
  cellRules,
  fakeFetch,
  members,
  pursuanceRoutes,
  roles,
  summary,
  task,
} from './support/fakes.js';

const english = createDashboardI18n('en').global;
const words: HistoryWords = {
  t: english.t,
  locale: english.locale,
  status: (id) => ({ open: 'Open', 'in-progress': 'In progress', done: 'Done' })[id] ?? id,
  person: (onion) => ({ [MEMBER]: 'mo', [FOUNDER]: 'ada' })[onion] ?? 'someone',
  role: (id) => ({ organizer: 'Organizer', member: 'Member' })[id] ?? id,
  task: (id) => (id === 'p'.repeat(64) ? 'Saturday' : 'a sealed task'),
  date: (ms) => new Date(ms).toISOString().slice(0, 10),
};
const say = (kind: string, change?: HistoryEntry['change']) => describeHistory({ kind, ...(change ? { change } : {}) }, words);

describe('history wording', () => {
  it('says what a status change, a close and a reopen did', () => {
    expect(say('task.status', { status: { from: 'open', to: 'in-progress' } })).toBe('moved it from Open to In progress');
    expect(say('task.status', { status: { to: 'in-progress' } })).toBe('moved it to In progress');
    expect(say('task.close', { status: { from: 'in-progress', to: 'done' }, note: 'hung it' })).toBe('closed it as Done — “hung it”');
    expect(say('task.reopen', { status: { from: 'done', to: 'open' } })).toBe('reopened it in Open');
  });

  it('says what an edit changed, field by field', () => {
    expect(
      say('task.edit', {
        title: { from: 'A', to: 'B' },
        body: { fromLength: 4, toLength: 11 },
        labels: { added: ['outreach', 'print'], removed: ['art'] },
        due: { from: null, to: Date.UTC(2026, 11, 5) },
      }),
    ).toBe(
      'renamed it from “A” to “B”; changed the description (4 → 11 characters); added the labels outreach and print; removed the label art; set the due date to 2026-12-05',
    );
    expect(say('task.edit', { body: { fromLength: 0, toLength: 1 } })).toBe('wrote a description (1 character)');
    expect(say('task.edit', { body: { fromLength: 9, toLength: 0 }, due: { from: Date.UTC(2026, 0, 2), to: null } })).toBe(
      'removed the description; removed the due date (was 2026-01-02)',
    );
    expect(say('task.edit', {})).toBe('edited (nothing changed)');
  });

  it('names who was assigned and unassigned, people and roles', () => {
    expect(say('task.assign', { assigned: { members: [MEMBER], roles: [] }, unassigned: { members: [], roles: ['organizer'] } })).toBe(
      'assigned mo; unassigned role Organizer',
    );
    expect(say('task.assign', { assigned: { members: [MEMBER, FOUNDER], roles: ['member'] } })).toBe('assigned mo, ada and role Member');
  });

  it('says where a task moved in the tree, a sealed parent as such', () => {
    expect(say('task.move', { parent: { from: null, to: 'p'.repeat(64) } })).toBe('moved it from the top level to under “Saturday”');
    expect(say('task.move', { parent: { from: 'q'.repeat(64), to: null } })).toBe('moved it from under “a sealed task” to the top level');
  });

  it('says a refused change was refused, and falls back to the kind where nothing is known', () => {
    expect(say('task.status', { refused: 'the workflow has no transition from "done" to "open"' })).toBe(
      'changed the status: refused by the workflow (the workflow has no transition from "done" to "open")',
    );
    expect(say('task.status')).toBe('changed the status');
    expect(say('task.comment')).toBe('commented');
    expect(say('task.create')).toBe('created the task');
  });
});

describe('the task detail’s history', () => {
  const mounted: VueWrapper[] = [];
  afterEach(() => {
    for (const w of mounted.splice(0)) w.unmount();
  });

  it('shows each change old → new, with names and status titles', async () => {
    const parent = task({ id: 'p'.repeat(64), title: 'Saturday' });
    const t = task({
      id: 'a'.repeat(64),
      title: 'B',
      status: 'in-progress',
      history: [
        { id: '1'.repeat(64), kind: 'task.create', author: FOUNDER, authorName: 'ada', time: 1 },
        { id: '2'.repeat(64), kind: 'task.status', author: MEMBER, authorName: 'mo', time: 2, change: { status: { from: 'open', to: 'in-progress' } } },
        { id: '3'.repeat(64), kind: 'task.edit', author: MEMBER, authorName: 'mo', time: 3, change: { title: { from: 'A', to: 'B' } } },
        {
          id: '4'.repeat(64),
          kind: 'task.assign',
          author: MEMBER,
          authorName: 'mo',
          time: 4,
          change: { assigned: { members: [MEMBER, OTHER], roles: [] }, unassigned: { members: [], roles: ['organizer'] } },
        },
        { id: '5'.repeat(64), kind: 'task.move', author: MEMBER, authorName: 'mo', time: 5, change: { parent: { from: null, to: parent.id } } },
        { id: '6'.repeat(64), kind: 'task.close', author: MEMBER, authorName: 'mo', time: 6 },
      ],
    });
    const state = { summary: summary(), tasks: [parent, t], members: members(), roles: roles(), rules: cellRules() };
    const f = fakeFetch(pursuanceRoutes(state));
    const ctx = createAppContext({
      fetch: f.fetch,
      eventSource: (url) => new FakeEventSource(url),
      storage: new MemoryStorage(),
      window,
      history: createMemoryHistory(),
    });
    await ctx.connect('T'.repeat(43));
    const store = ctx.store(PID);
    await store.want('tasks', 'summary', 'members', 'roles', 'rules');
    const w = mount(TaskDetail, {
      props: { store, taskId: t.id },
      global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.router, ctx.i18n] },
      attachTo: document.body,
    });
    mounted.push(w);
    await flushPromises();
    const lines = w.findAll('[data-testid="history"] li').map((li) => li.text().replace(/\s*·.*$/, ''));
    expect(lines).toHaveLength(6);
    expect(lines[1]).toBe('mo moved it from open to in progress');
    expect(lines[2]).toBe('mo renamed it from “A” to “B”');
    // Someone the member list does not name by their short address.
    expect(lines[3]).toBe('mo assigned mo and cccccccc…cccc; unassigned role Organizer');
    expect(lines[4]).toBe('mo moved it from the top level to under “Saturday”');
    // No change sent (the node could not read it): only the kind.
    expect(lines[5]).toBe('mo closed');
    // The same history follows a switch of language (status and role titles are the rules' own).
    ctx.setLocale('es');
    await flushPromises();
    const spanish = w.findAll('[data-testid="history"] li').map((li) => li.text().replace(/\s*·.*$/, ''));
    // The reader made this one: Spanish says it to them.
    expect(spanish[0]).toBe('tú creaste la tarea');
    expect(spanish[1]).toBe('mo la movió de open a in progress');
    expect(spanish[2]).toBe('mo le cambió el título de “A” a “B”');
    expect(spanish[3]).toBe('mo asignó a mo y a cccccccc…cccc; quitó la asignación al rol Organizer');
    expect(spanish[4]).toBe('mo la movió del nivel superior a “Saturday”');
    expect(spanish[5]).toBe('mo cerró la tarea');
  });
});

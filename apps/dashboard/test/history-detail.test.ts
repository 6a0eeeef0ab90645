// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createMemoryHistory } from 'vue-router';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDashboardI18n } from '../src/i18n/index.js';
import { LOADING_MESSAGE, PURSUANCE_LOADING } from '../src/lib/api.js';
import { APP, createAppContext } from '../src/lib/context.js';
import { describeHistory, type HistoryWords } from '../src/lib/format.js';
import type { HistoryEntry, PursuanceChanges, TaskListItem } from '../src/lib/types.js';
import TaskDetail from '../src/views/TaskDetail.vue';
import { mountWith, setupApp, unmountAll } from './support/app.js';
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
  whole,
  type Call,
} from './support/fakes.js';

const P = `/api/pursuances/${PID}`;

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
    const t = task({ id: 'a'.repeat(64), title: 'B', status: 'in-progress' });
    // The list carries no history: GET …/tasks/:taskId answers it.
    const histories: Record<string, readonly HistoryEntry[]> = {
      [t.id]: [
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
    };
    const state = { summary: summary(), tasks: [parent, t], histories, members: members(), roles: roles(), rules: cellRules() };
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

describe('the task detail reads the history apart from the list', () => {
  // The language chosen is kept in the page's storage: each test starts in English.
  beforeEach(() => localStorage.clear());
  afterEach(unmountAll);

  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  const entry = (id: string, kind: string, time: number): HistoryEntry => ({ id: id.repeat(64), kind, author: MEMBER, authorName: 'mo', time });
  const historyLines = (w: VueWrapper) => w.findAll('[data-testid="history"] li').map((li) => li.text().replace(/\s*·.*$/, ''));
  const taskReads = (calls: readonly Call[]) => calls.filter((c) => c.method === 'GET' && c.path.startsWith(`${P}/tasks/`)).map((c) => c.path.slice(-64));

  /** GET …/tasks/:taskId held open: each read waits until the test answers it. */
  function heldReads() {
    const reads: { taskId: string; answer: (out: unknown) => void }[] = [];
    const route = {
      [`GET ${P}/tasks/:taskId`]: (call: Call) => new Promise((resolve) => reads.push({ taskId: call.path.slice(-64), answer: resolve })),
    };
    return { reads, route };
  }

  /** A change feed the test fills: each set after the first names the tasks pushed to `upserted`. */
  function changeFeed() {
    let version = 1;
    const upserted: TaskListItem[] = [];
    const route = {
      [`GET ${P}/changes`]: (): PursuanceChanges => ({
        version: ++version,
        reset: false,
        tasks: { upserted: upserted.splice(0), removed: [] },
        members: null,
        roles: null,
        feed: { items: [], full: false },
      }),
    };
    return { upserted, route };
  }

  it('shows the entries the single-task read answers; the list the store holds has none', async () => {
    const { ctx, store, state, f } = await setupApp('founder');
    state.histories[A] = [entry('1', 'task.create', 1), entry('2', 'task.comment', 2)];
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    expect(store.taskById.value.get(A)).not.toHaveProperty('history');
    expect(historyLines(w)).toEqual(['mo created the task', 'mo commented']);
    expect(taskReads(f.calls)).toEqual([A]);
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(false);
  });

  it('reads it again when the change feed replaces the task, even with the same JSON; not on a refresh that leaves it', async () => {
    const feed = changeFeed();
    const { ctx, store, state, f } = await setupApp('founder', feed.route);
    expect(store.version).not.toBeNull();
    state.histories[A] = [entry('1', 'task.create', 1)];
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    expect(historyLines(w)).toEqual(['mo created the task']);
    const listed = store.taskById.value.get(A);

    // Nothing about this task changed (another one did): its object stays, the history is not read again.
    feed.upserted.push({ ...state.tasks[1]!, title: 'Flyers, folded' });
    await store.refresh();
    await flushPromises();
    expect(store.taskById.value.get(A)).toBe(listed);
    expect(taskReads(f.calls)).toEqual([A]);

    // An edit this member could not read: only the history changed, and the feed names the task with the JSON held.
    state.histories[A] = [entry('1', 'task.create', 1), entry('2', 'task.edit', 2)];
    feed.upserted.push({ ...state.tasks[0]! });
    await store.refresh();
    await flushPromises();
    expect(store.taskById.value.get(A)).not.toBe(listed);
    expect(store.taskById.value.get(A)).toEqual(listed);
    expect(taskReads(f.calls)).toEqual([A, A]);
    expect(historyLines(w)).toEqual(['mo created the task', 'mo edited']);
  });

  it('drops an answer for the task it showed before, and an older answer for this task after a newer one', async () => {
    const held = heldReads();
    const { ctx, store, state } = await setupApp('founder', held.route);
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    await w.setProps({ taskId: B });
    await flushPromises();
    expect(held.reads.map((r) => r.taskId)).toEqual([A, B]);

    // Banner's answer arrives while Flyers is shown: ignored (Flyers is still loading).
    held.reads[0]!.answer(whole(state.tasks[0]!, [entry('1', 'task.create', 1)]));
    await flushPromises();
    expect(historyLines(w)).toEqual([]);
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(true);
    held.reads[1]!.answer(whole(state.tasks[1]!, [entry('2', 'task.comment', 2)]));
    await flushPromises();
    expect(historyLines(w)).toEqual(['mo commented']);

    // Flyers is replaced twice (a whole refetch): two reads; the newer answers first, the older late.
    await store.refresh();
    await flushPromises();
    await store.refresh();
    await flushPromises();
    expect(held.reads.map((r) => r.taskId)).toEqual([A, B, B, B]);
    held.reads[3]!.answer(whole(state.tasks[1]!, [entry('2', 'task.comment', 2), entry('3', 'task.status', 3)]));
    await flushPromises();
    expect(historyLines(w)).toEqual(['mo commented', 'mo changed the status']);
    held.reads[2]!.answer(whole(state.tasks[1]!, [entry('2', 'task.comment', 2)]));
    await flushPromises();
    expect(historyLines(w)).toEqual(['mo commented', 'mo changed the status']);

    // Back to Banner: Flyers' history goes at once, and Banner's earlier (stale) read stays ignored.
    await w.setProps({ taskId: A });
    await flushPromises();
    expect(historyLines(w)).toEqual([]);
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(true);
  });

  it('says "loading history…" in a status region until the first answer', async () => {
    const held = heldReads();
    const { ctx, store, state } = await setupApp('founder', held.route);
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    const region = w.find('[data-testid="history-status"]');
    expect(region.attributes('role')).toBe('status');
    expect(region.find('[data-testid="history-pending"]').text()).toBe('Loading history…');
    held.reads[0]!.answer(whole(state.tasks[0]!, [entry('1', 'task.create', 1)]));
    await flushPromises();
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(false);
    expect(historyLines(w)).toEqual(['mo created the task']);
    // The region stays, empty: a screen reader hears that the words went.
    expect(w.find('[data-testid="history-status"]').text()).toBe('');
    // A later read (the task replaced) keeps the history shown meanwhile.
    await store.refresh();
    await flushPromises();
    expect(held.reads).toHaveLength(2);
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(false);
    expect(historyLines(w)).toEqual(['mo created the task']);
  });

  it('shows a failed read as the page shows refusals, and reads again on the store’s next refresh', async () => {
    let fail = true;
    // Versioned: a refresh replaces no task object here, so only the failure makes it read again.
    const { ctx, store, state, f } = await setupApp('founder', {
      ...changeFeed().route,
      [`GET ${P}/tasks/:taskId`]: () =>
        fail ? { status: 500, body: { code: 'INTERNAL', message: 'The history could not be read.' } } : whole(state.tasks[0]!, [entry('1', 'task.create', 1)]),
    });
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    const history = w.find('section[aria-labelledby="history-title"]');
    const notice = history.find('[data-testid="error"]');
    expect(notice.attributes('role')).toBe('alert');
    expect(notice.find('.notice-title').text()).toBe('Could not load the history');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe('The history could not be read.');
    expect(notice.find('[data-testid="error-code"]').text()).toBe('INTERNAL');
    expect(history.find('[data-testid="history-pending"]').exists()).toBe(false);

    // Dismissed, the notice is not put back by the retry on each refresh that fails again.
    await notice.find('button').trigger('click');
    expect(history.find('[data-testid="error"]').exists()).toBe(false);
    const listed = store.taskById.value.get(A);
    await store.refresh();
    await flushPromises();
    expect(store.taskById.value.get(A)).toBe(listed);
    expect(taskReads(f.calls)).toEqual([A, A]);
    expect(history.find('[data-testid="error"]').exists()).toBe(false);

    fail = false;
    await store.refresh();
    await flushPromises();
    expect(store.taskById.value.get(A)).toBe(listed);
    expect(taskReads(f.calls)).toEqual([A, A, A]);
    expect(history.find('[data-testid="error"]').exists()).toBe(false);
    expect(historyLines(w)).toEqual(['mo created the task']);
    // Once read, a refresh that leaves the task alone does not read it again.
    await store.refresh();
    await flushPromises();
    expect(taskReads(f.calls)).toEqual([A, A, A]);
  });

  it('in Spanish: the loading line and the failure are worded from the catalogs', async () => {
    const held = heldReads();
    const { ctx, store } = await setupApp('founder', held.route);
    ctx.setLocale('es');
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    expect(w.find('[data-testid="history-pending"]').text()).toBe('Cargando el historial…');
    held.reads[0]!.answer({ status: 500, body: { code: 'INTERNAL', message: 'The history could not be read.' } });
    await flushPromises();
    expect(w.find('section[aria-labelledby="history-title"] [data-testid="error"] .notice-title').text()).toBe('No se pudo cargar el historial');
  });

  it('while the node loads the pursuance (503 PURSUANCE_LOADING): says so as the store does, no alarm, and reads again on the next refresh', async () => {
    let loading = true;
    const { ctx, store, state, f } = await setupApp('founder', {
      ...changeFeed().route,
      [`GET ${P}/tasks/:taskId`]: () =>
        loading
          ? { status: 503, body: { code: PURSUANCE_LOADING, message: 'Still loading (the node’s own words).' } }
          : whole(state.tasks[0]!, [entry('1', 'task.create', 1)]),
    });
    const w = mountWith(TaskDetail, ctx, { store, taskId: A });
    await flushPromises();
    // Answered at once (not waited out inside the client): one read so far.
    expect(taskReads(f.calls)).toEqual([A]);
    expect(w.find('[data-testid="history-status"] [data-testid="history-waiting"]').text()).toBe(LOADING_MESSAGE);
    expect(w.find('[data-testid="history-pending"]').exists()).toBe(false);
    expect(w.find('[data-testid="error"]').exists()).toBe(false);
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('[data-testid="history-waiting"]').text()).toBe(english.t('errors.code.PURSUANCE_LOADING', {}, { locale: 'es' }));
    expect(w.find('[data-testid="history-waiting"]').text()).not.toBe(LOADING_MESSAGE);

    loading = false;
    const listed = store.taskById.value.get(A);
    await store.refresh();
    expect(store.taskById.value.get(A)).toBe(listed);
    await flushPromises();
    expect(taskReads(f.calls)).toEqual([A, A]);
    expect(w.find('[data-testid="history-waiting"]').exists()).toBe(false);
    expect(historyLines(w)).toEqual(['mo creó la tarea']);
  });
});

// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { reactive } from 'vue';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyFilters } from '../src/lib/filters.js';
import { FIRST_TASK_PAGE, TASK_PAGE } from '../src/lib/pursuance-store.js';
import BoardView from '../src/views/BoardView.vue';
import { PID, cellRules, members, pursuanceRoutes, roles, summary, task, taskList, type Call } from './support/fakes.js';
import { connectApp, mountWith, unmountAll } from './support/app.js';

afterEach(() => unmountAll());

const P = `/api/pursuances/${PID}`;
const TOTAL = FIRST_TASK_PAGE + TASK_PAGE + 234;

/** A pursuance of TOTAL tasks, oldest first. */
const boardState = () => ({
  summary: summary(),
  tasks: Array.from({ length: TOTAL }, (_, i) => task({ title: `T${i}` })),
  members: members(),
  roles: roles(),
  rules: cellRules(),
});

/**
 * A big board over a node whose task pages after the first are held until the test lets each
 * go: what the store and the board show while the list arrives, and once it is whole.
 */
async function bigBoard() {
  const state = boardState();
  const held: { call: Call; answer: () => void }[] = [];
  const { ctx, f } = await connectApp({
    ...pursuanceRoutes(state),
    [`GET ${P}/tasks`]: (call) =>
      call.query.after === undefined
        ? taskList(state.tasks, call)
        : new Promise((resolve) => held.push({ call, answer: () => resolve(taskList(state.tasks, call)) })),
  });
  const store = ctx.store(PID);
  return { ctx, store, state, held, f };
}

const taskReads = (calls: readonly Call[]) => calls.filter((c) => c.method === 'GET' && c.path === `${P}/tasks`).map((c) => c.query);

describe('the task list in pages', () => {
  it('shows the first page on the board while the rest arrive, then the whole list in order, each task once', async () => {
    const { ctx, store, state, held, f } = await bigBoard();
    const loaded = store.want('tasks', 'summary', 'members', 'roles', 'rules');
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();

    // The first page (the newest tasks, held in the list's order) is on the board; the second
    // is asked for and not yet answered.
    expect(held).toHaveLength(1);
    expect(store.tasksArriving.value).toBe(true);
    expect(store.has('tasks')).toBe(false);
    expect(store.tasks.value.map((t) => t.id)).toEqual(state.tasks.slice(-FIRST_TASK_PAGE).map((t) => t.id));
    expect(w.find('[data-testid="board"]').exists()).toBe(true);
    expect(w.find('[data-testid="column"][data-status="open"] .count').text()).toBe(String(FIRST_TASK_PAGE));
    expect(w.find('[data-testid="tasks-arriving"]').text()).toContain(`${FIRST_TASK_PAGE} so far`);

    held.shift()!.answer();
    await flushPromises();
    expect(store.tasks.value.map((t) => t.id)).toEqual(state.tasks.slice(-(FIRST_TASK_PAGE + TASK_PAGE)).map((t) => t.id));
    expect(held).toHaveLength(1);
    held.shift()!.answer();
    await loaded;
    await flushPromises();

    expect(store.tasksArriving.value).toBe(false);
    expect(store.has('tasks')).toBe(true);
    expect(store.tasks.value.map((t) => t.id)).toEqual(state.tasks.map((t) => t.id));
    expect(w.find('[data-testid="tasks-arriving"]').exists()).toBe(false);
    expect(w.find('[data-testid="column"][data-status="open"] .count').text()).toBe(String(TOTAL));
    // A small first page, then the largest the node gives, each after the previous page's cursor
    // (the board's own ask for the tasks, made while they arrived, is a second load after these).
    expect(taskReads(f.calls).slice(0, 3)).toEqual([
      { limit: String(FIRST_TASK_PAGE) },
      { limit: String(TASK_PAGE), after: `at-${TOTAL - FIRST_TASK_PAGE}` },
      { limit: String(TASK_PAGE), after: `at-${TOTAL - FIRST_TASK_PAGE - TASK_PAGE}` },
    ]);
  });

  it('a later whole fetch keeps the board as it was until the new list is complete', async () => {
    const { store, state, held } = await bigBoard();
    const first = store.want('tasks', 'summary', 'members', 'roles', 'rules');
    await flushPromises();
    while (held.length > 0) {
      held.shift()!.answer();
      await flushPromises();
    }
    await first;
    const before = store.tasks.value;

    // This node has no change sets, so a refresh fetches the list whole again.
    state.tasks = [...state.tasks, task({ title: 'Newest' })];
    const again = store.refresh();
    await flushPromises();
    expect(held).toHaveLength(1);
    expect(store.tasksArriving.value).toBe(false);
    expect(store.tasks.value).toBe(before);

    while (held.length > 0) {
      held.shift()!.answer();
      await flushPromises();
    }
    await again;
    expect(store.tasks.value.map((t) => t.title)).toEqual(state.tasks.map((t) => t.title));
  });

  it('takes the whole list from a node that answers the first page with it (one without pages)', async () => {
    const state = boardState();
    // Such a node ignores the query string: the first read is the list, and no second is made.
    const { ctx, f: older } = await connectApp({ ...pursuanceRoutes(state), [`GET ${P}/tasks`]: () => state.tasks });
    const store = ctx.store(PID);
    await store.want('tasks', 'summary');
    expect(store.tasks.value.map((t) => t.id)).toEqual(state.tasks.map((t) => t.id));
    expect(store.tasksArriving.value).toBe(false);
    expect(taskReads(older.calls)).toEqual([{ limit: String(FIRST_TASK_PAGE) }]);
  });
});

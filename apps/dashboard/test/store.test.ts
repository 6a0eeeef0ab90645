import { flushPromises } from '@vue/test-utils';
import { ref } from 'vue';
import { describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '../src/lib/api.js';
import { PursuanceStore } from '../src/lib/pursuance-store.js';
import { FOUNDER, MEMBER, PID, fakeFetch, members, pursuanceRoutes, roles, summary, task, cellRules } from './support/fakes.js';

function setup(me = FOUNDER, extra: Parameters<typeof fakeFetch>[0] = {}) {
  const state = { summary: summary(), tasks: [task({ title: 'One' })], members: members(), roles: roles(), rules: cellRules(), down: false };
  const routes = pursuanceRoutes(state);
  const getSummary = routes[`GET /api/pursuances/${PID}`]!;
  routes[`GET /api/pursuances/${PID}`] = (c) => (state.down ? { status: 500, body: { code: 'INTERNAL', message: 'internal error' } } : getSummary(c));
  const f = fakeFetch({ ...routes, ...extra });
  const store = new PursuanceStore(PID, new ApiClient(() => 'T'.repeat(43), f.fetch), ref(me));
  const count = (path: string) => f.calls.filter((c) => c.method === 'GET' && c.path === `/api/pursuances/${PID}${path}`).length;
  return { state, f, store, count };
}

describe('PursuanceStore', () => {
  it('loads the parts views ask for, and computes membership and capabilities', async () => {
    const { store, count } = setup();
    await store.want('tasks');
    expect(store.summary.value?.name).toBe('Cell 9');
    expect(store.tasks.value.map((t) => t.title)).toEqual(['One']);
    expect(store.isMember.value).toBe(true);
    expect(store.caps.value.task('close', ['member']).ok).toBe(true);
    expect(count('/feed')).toBe(0);
    await store.want('tasks');
    expect(count('/tasks')).toBe(1);
  });

  it('gives a member only what their roles allow', async () => {
    const { store, state } = setup(MEMBER);
    state.summary = summary({ amFounder: false, myRoles: ['member'] });
    await store.refresh();
    expect(store.caps.value.task('comment', ['member']).ok).toBe(true);
    expect(store.caps.value.task('close', ['member']).ok).toBe(false);
  });

  it('coalesces refreshes that arrive while one is running, and refetches rules only on a new revision', async () => {
    const { store, state, count } = setup();
    await store.want('tasks');
    state.tasks = [...state.tasks, task({ title: 'Two' })];
    await Promise.all([store.refresh(), store.refresh(), store.refresh(), store.refresh()]);
    // One running refresh plus one follow-up, not four.
    expect(count('/tasks')).toBe(3);
    expect(store.tasks.value.map((t) => t.title)).toEqual(['One', 'Two']);
    expect(count('/rules')).toBe(1);
    state.summary = summary({ rulesRevision: 1 });
    await store.refresh();
    expect(count('/rules')).toBe(2);
  });

  it("throws a refused action as ApiError with the node's reason and rule, and refetches nothing", async () => {
    const { store, f } = setup(FOUNDER, {
      [`POST /api/pursuances/${PID}/tasks/t1/changes`]: () => ({ status: 403, body: { code: 'DENIED', message: 'denied by rule: no', rule: 'no' } }),
    });
    await store.want('tasks');
    const before = f.calls.length;
    const err = await store.changeTask('t1', { op: 'close' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: 'DENIED', message: 'denied by rule: no', rule: 'no' });
    expect(f.calls.length).toBe(before + 1);
  });

  it('refreshes after an accepted action', async () => {
    const { store, state, count } = setup(FOUNDER, {
      [`POST /api/pursuances/${PID}/tasks/t1/changes`]: () => {
        state.tasks = [{ ...state.tasks[0]!, comments: [{ id: 'c', author: FOUNDER, authorName: 'ada', time: 2, body: 'hi' }] }];
        return { id: 'c', kind: 'task.comment' };
      },
    });
    await store.want('tasks');
    await store.changeTask('t1', { op: 'comment', body: 'hi' });
    expect(count('/tasks')).toBe(2);
    expect(store.tasks.value[0]!.comments.map((c) => c.body)).toEqual(['hi']);
  });

  it('settles an action after one fresh load even while changes keep arriving', async () => {
    // A busy pursuance: every load is overtaken by another `changed` event (each task fetch
    // asks for a refresh, as the SSE handler would). The action's promise must still settle.
    let storm = false;
    let stormy: PursuanceStore | null = null;
    const { store, state, count } = setup(FOUNDER, {
      [`GET /api/pursuances/${PID}/tasks`]: () => {
        if (storm) void stormy?.refresh();
        return state.tasks;
      },
      [`POST /api/pursuances/${PID}/tasks/t1/changes`]: () => {
        state.tasks = [{ ...state.tasks[0]!, title: 'Renamed' }];
        return { id: 'e', kind: 'task.edit' };
      },
    });
    stormy = store;
    await store.want('tasks');
    storm = true;
    await store.changeTask('t1', { op: 'edit', title: 'Renamed' });
    expect(store.tasks.value[0]!.title).toBe('Renamed');
    const during = count('/tasks');
    storm = false;
    await store.refresh();
    // The storm stops with the changes: at most the load in flight and one follow-up.
    expect(count('/tasks') - during).toBeLessThanOrEqual(2);
  });

  it('fetches the parts alongside the summary, and a failed summary fails the load', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let fail = false;
    const { store, state, count } = setup(FOUNDER, {
      [`GET /api/pursuances/${PID}`]: async () => {
        await held;
        return fail ? { status: 503, body: { code: 'UNAVAILABLE', message: 'busy' } } : state.summary;
      },
    });
    const loading = store.want('tasks');
    await flushPromises();
    // The summary is still held by the node, and the tasks are already on their way.
    expect(count('/tasks')).toBe(1);
    release();
    await loading;
    expect(store.summary.value?.name).toBe('Cell 9');
    fail = true;
    await store.refresh();
    expect(store.error.value).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(store.summary.value?.name).toBe('Cell 9');
  });

  it('loads the group sync status, and treats a node without the sync API as having none', async () => {
    const { store } = setup();
    await store.want('sync');
    expect(store.sync.value).toMatchObject({ relaySynced: true, groupMessages: 12, gaps: ['m1'] });
    const old = setup(FOUNDER, { [`GET /api/pursuances/${PID}/sync`]: () => ({ status: 404, body: { code: 'NOT_FOUND', message: 'no route' } }) });
    await old.store.want('sync', 'tasks');
    expect(old.store.sync.value).toBeNull();
    expect(old.store.error.value).toBeNull();
    expect(old.store.tasks.value).toHaveLength(1);
  });

  it('reports a load failure and keeps what it had', async () => {
    const { store, state } = setup();
    await store.want('tasks');
    state.down = true;
    await store.refresh();
    expect(store.error.value).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(store.tasks.value.map((t) => t.title)).toEqual(['One']);
    state.down = false;
    await store.refresh();
    expect(store.error.value).toBeNull();
  });
});

import { mount } from '@vue/test-utils';
import type { Component } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { APP, createAppContext, type AppContext } from '../../src/lib/context.js';
import type { HistoryEntry } from '../../src/lib/types.js';
import { FakeEventSource, MemoryStorage, PID, cellRules, fakeFetch, members, pursuanceRoutes, roles, summary, task, type Call } from './fakes.js';

export const TOKEN = 'T'.repeat(43);

/** The app context over a scripted node (`routes`), signed in with TOKEN. */
export async function connectApp(routes: Record<string, (c: Call) => unknown>) {
  const f = fakeFetch(routes);
  const storage = new MemoryStorage();
  const ctx = createAppContext({ fetch: f.fetch, eventSource: (url) => new FakeEventSource(url), storage, window, history: createMemoryHistory() });
  await ctx.connect(TOKEN);
  return { ctx, f, storage };
}

/** The app context over a scripted node: `me` is the founder or the member of the fixture pursuance. */
export async function setupApp(me: 'founder' | 'member', extra: Record<string, (c: Call) => unknown> = {}) {
  const state = {
    summary: me === 'founder' ? summary() : summary({ amFounder: false, myRoles: ['member'] }),
    tasks: [task({ id: 'a'.repeat(64), title: 'Banner', status: 'in-progress', labels: ['art'] }), task({ id: 'b'.repeat(64), title: 'Flyers' })],
    /** What GET …/tasks/:taskId adds to a task: its history (none where unnamed). */
    histories: {} as Record<string, readonly HistoryEntry[]>,
    members: members(),
    roles: roles(),
    rules: cellRules(),
  };
  const { ctx, f, storage } = await connectApp({ ...pursuanceRoutes(state), ...extra });
  const store = ctx.store(PID);
  await store.want('tasks', 'summary', 'members', 'roles', 'rules');
  return { ctx, store, state, f, storage };
}

const mounted: { unmount(): void }[] = [];
export function mountWith(component: Component, ctx: AppContext, props: Record<string, unknown> = {}) {
  const w = mount(component as Component<Record<string, unknown>>, {
    props,
    global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.router, ctx.i18n] },
    attachTo: document.body,
  });
  mounted.push(w);
  return w;
}
/** Call from afterEach: unmounts what mountWith mounted. */
export function unmountAll(): void {
  for (const w of mounted.splice(0)) w.unmount();
}

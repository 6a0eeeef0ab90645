// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import fc from 'fast-check';
import { ref, type Component } from 'vue';
import { createMemoryHistory, createRouter, type RouterHistory } from 'vue-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../src/App.vue';
import TokenGate from '../src/components/TokenGate.vue';
import { APP, createAppContext, type AppContext } from '../src/lib/context.js';
import { createAppRouter, isChunkLoadError, returnPath, routes } from '../src/lib/router.js';
import { TOKEN_KEY } from '../src/lib/session.js';
import BoardView from '../src/views/BoardView.vue';
import CreatePursuance from '../src/views/CreatePursuance.vue';
import HealthView from '../src/views/HealthView.vue';
import JoinPursuance from '../src/views/JoinPursuance.vue';
import KeysView from '../src/views/KeysView.vue';
import LinksView from '../src/views/LinksView.vue';
import MembersView from '../src/views/MembersView.vue';
import MyTasks from '../src/views/MyTasks.vue';
import NewTask from '../src/views/NewTask.vue';
import NotFound from '../src/views/NotFound.vue';
import PursuanceList from '../src/views/PursuanceList.vue';
import PursuanceView from '../src/views/PursuanceView.vue';
import RulesView from '../src/views/RulesView.vue';
import SignIn from '../src/views/SignIn.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import TreeView from '../src/views/TreeView.vue';
import {
  cellRules,
  FakeEventSource,
  FOUNDER,
  fakeFetch,
  members,
  MemoryStorage,
  PID,
  pursuanceRoutes,
  roles,
  summary,
  task,
  type Call,
} from './support/fakes.js';

const TOKEN = 'T'.repeat(43);
const TID = 'a'.repeat(64);
/** Lazy routes load their view during the navigation: generous, for a loaded machine. */
const SETTLE = { timeout: 20_000, interval: 20 };

type Handler = (c: Call) => unknown;

/** The founder's node with one pursuance holding one task; `extra` overrides its answers. */
function node(extra: Record<string, Handler> = {}) {
  const state = { summary: summary(), tasks: [task({ id: TID, title: 'Banner' })], members: members(), roles: roles(), rules: cellRules() };
  return fakeFetch({ ...pursuanceRoutes(state), 'GET /api/templates': () => [], ...extra });
}

interface Booted {
  ctx: AppContext;
  w: VueWrapper;
  storage: MemoryStorage;
  calls: Call[];
}

const running: { w: VueWrapper; history: RouterHistory }[] = [];
afterEach(() => {
  for (const r of running.splice(0)) {
    r.w.unmount();
    r.history.destroy();
  }
});

/**
 * The whole app as a browser tab would open it at `path`: a token kept from before in
 * `saved`, the node scripted by `fetch`. `path` null: the tab's own address and history (the
 * browser's, as the built dashboard uses), created by the app as main.ts does.
 */
async function open(path: string | null, opts: { saved?: string; fetch?: ReturnType<typeof fakeFetch> } = {}): Promise<Booted> {
  const storage = new MemoryStorage();
  if (opts.saved) storage.setItem(TOKEN_KEY, opts.saved);
  const f = opts.fetch ?? node();
  let history: RouterHistory | undefined;
  if (path !== null) {
    history = createMemoryHistory();
    history.replace(path);
  }
  const ctx = createAppContext({ fetch: f.fetch, eventSource: (url) => new FakeEventSource(url), storage, window, ...(history ? { history } : {}) });
  const w = mount(App as Component, { global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.router, ctx.i18n] }, attachTo: document.body });
  running.push({ w, history: ctx.router.options.history });
  await ctx.router.isReady();
  await flushPromises();
  return { ctx, w, storage, calls: f.calls };
}

async function signInThroughGate(w: VueWrapper, token = TOKEN): Promise<void> {
  await w.find('#token').setValue(token);
  await w.find('form').trigger('submit');
  await flushPromises();
}

describe('the route table', () => {
  const table: [string, Component][] = [
    ['/', PursuanceList],
    ['/new', CreatePursuance],
    ['/join', JoinPursuance],
    [`/p/${PID}/board`, BoardView],
    [`/p/${PID}/tree`, TreeView],
    [`/p/${PID}/mine`, MyTasks],
    [`/p/${PID}/new-task`, NewTask],
    [`/p/${PID}/tasks/${TID}`, TaskDetail],
    [`/p/${PID}/members`, MembersView],
    [`/p/${PID}/rules`, RulesView],
    [`/p/${PID}/keys`, KeysView],
    [`/p/${PID}/links`, LinksView],
    [`/p/${PID}/health`, HealthView],
  ];

  it('shows each address’s view, the pursuance sections inside the pursuance’s page', async () => {
    const { ctx, w } = await open('/', { saved: TOKEN });
    for (const [path, view] of table) {
      await ctx.router.push(path);
      await flushPromises();
      expect(ctx.router.currentRoute.value.fullPath, path).toBe(path);
      expect(w.findComponent(view).exists(), path).toBe(true);
      const others = table.filter(([, v]) => v !== view).map(([, v]) => v);
      expect(
        others.filter((v) => w.findComponent(v).exists()),
        path,
      ).toEqual([]);
      const pursuance = w.findComponent(PursuanceView);
      expect(pursuance.exists(), path).toBe(path.startsWith('/p/'));
      if (!path.startsWith('/p/')) continue;
      expect(pursuance.props('id')).toBe(PID);
      expect((w.findComponent(view).props() as { store?: unknown }).store).toBe(ctx.store(PID));
      // The tab of the section shown is marked as the current page.
      const current = w.findAll('nav[aria-label="Pursuance sections"] a[aria-current="page"]').map((a) => a.attributes('href'));
      expect(current, path).toEqual(path.includes('/tasks/') ? [] : [path]);
    }
    await ctx.router.push(`/p/${PID}/tasks/${TID}`);
    expect(w.findComponent(TaskDetail).props('taskId')).toBe(TID);
  });

  it('gives board, tree and "my tasks" one set of filters, a new one for another pursuance', async () => {
    const { ctx, w } = await open(`/p/${PID}/board`, { saved: TOKEN });
    const filters = w.findComponent(BoardView).props('filters') as { search: string };
    w.findComponent(BoardView).vm.$emit('update:filters', { ...filters, search: 'banner' });
    await ctx.router.push(`/p/${PID}/tree`);
    expect(w.findComponent(TreeView).props('filters')).toMatchObject({ search: 'banner' });
    await ctx.router.push(`/p/${PID}/mine`);
    expect(w.findComponent(MyTasks).props('filters')).toMatchObject({ search: 'banner' });
    await ctx.router.push(`/p/${'2'.repeat(64)}/board`);
    expect(w.findComponent(BoardView).props('filters')).toMatchObject({ search: '' });
  });

  it('opens a pursuance on its board', async () => {
    const { ctx, w } = await open(`/p/${PID}`, { saved: TOKEN });
    expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/board`);
    expect(w.findComponent(BoardView).exists()).toBe(true);
  });

  it('shows "not found" for an address that is no page, and nothing else', async () => {
    for (const path of ['/nope', `/p/${PID}/nope`, `/p/${PID}/tasks`, `/p/${PID}/board/extra`, '/new/x']) {
      const { ctx, w } = await open(path, { saved: TOKEN });
      expect(ctx.router.currentRoute.value.fullPath, path).toBe(path);
      expect(w.findComponent(NotFound).exists(), path).toBe(true);
      expect(w.find('[data-testid="not-found"] h1').text(), path).toBe('Not found');
      expect(w.findComponent(PursuanceView).exists(), path).toBe(false);
      expect(w.find('[data-testid="not-found"] a').attributes('href')).toBe('/');
    }
  });

  it('prints and reads back every pursuance address, whatever the ids hold (property)', () => {
    const router = createRouter({ history: createMemoryHistory(), routes: [...routes] });
    const id = fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' });
    const section = fc.constantFrom('board', 'tree', 'mine', 'new-task', 'submit', 'members', 'rules', 'keys', 'links', 'health');
    fc.assert(
      fc.property(id, id, section, (pursuance, taskId, name) => {
        const tab = router.resolve({ name, params: { id: pursuance } });
        expect(router.resolve(tab.href)).toMatchObject({ name, params: { id: pursuance } });
        const detail = router.resolve({ name: 'task', params: { id: pursuance, taskId } });
        expect(router.resolve(detail.href)).toMatchObject({ name: 'task', params: { id: pursuance, taskId } });
        // The way back after signing in keeps every page's address as it is.
        expect(returnPath(detail.href)).toBe(detail.href);
      }),
    );
  });
});

describe('the token gate as a navigation guard', () => {
  it('sends a visitor without a token to the gate, and to the page they asked for once signed in', async () => {
    const { ctx, w, storage, calls } = await open(`/p/${PID}/members?tab=x`);
    expect(ctx.router.currentRoute.value.name).toBe('sign-in');
    expect(ctx.router.currentRoute.value.query).toEqual({ to: `/p/${PID}/members?tab=x` });
    expect(w.findComponent(TokenGate).exists()).toBe(true);
    expect(w.findComponent(MembersView).exists()).toBe(false);
    expect(w.find('[data-testid="live-status"]').exists()).toBe(false);
    // Nothing was asked of the node without a token.
    expect(calls).toEqual([]);

    await signInThroughGate(w);
    await vi.waitFor(() => expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/members?tab=x`), SETTLE);
    await flushPromises();
    expect(w.findComponent(MembersView).exists()).toBe(true);
    expect(w.findComponent(TokenGate).exists()).toBe(false);
    expect(storage.getItem(TOKEN_KEY)).toBe(TOKEN);
  });

  it('keeps a visitor whose token the node refuses at the gate', async () => {
    const { ctx, w } = await open(`/p/${PID}/keys`, {
      fetch: node({ 'GET /api/node': () => ({ status: 401, body: { code: 'BAD_TOKEN', message: 'no' } }) }),
    });
    await signInThroughGate(w);
    expect(w.find('[data-testid="token-error"]').text()).toBe('The node refused this token.');
    expect(ctx.router.currentRoute.value.name).toBe('sign-in');
    expect(w.findComponent(KeysView).exists()).toBe(false);
  });

  it('lets a token kept from before through after checking it, saying "Connecting…" meanwhile', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const fetch = node({
      'GET /api/node': async () => {
        await answered;
        return { onion: FOUNDER };
      },
    });
    const storage = new MemoryStorage();
    storage.setItem(TOKEN_KEY, TOKEN);
    const history = createMemoryHistory();
    history.replace(`/p/${PID}/rules`);
    const ctx = createAppContext({ fetch: fetch.fetch, eventSource: (url) => new FakeEventSource(url), storage, window, history });
    const w = mount(App as Component, { global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.router, ctx.i18n] }, attachTo: document.body });
    running.push({ w, history });
    await flushPromises();
    expect(w.find('main').text()).toBe('Connecting to your node…');
    expect(w.findComponent(TokenGate).exists()).toBe(false);
    answer();
    await ctx.router.isReady();
    await flushPromises();
    expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/rules`);
    expect(w.findComponent(RulesView).exists()).toBe(true);
    expect(fetch.calls.filter((c) => c.path === '/api/node')).toHaveLength(1);
  });

  it('sends a visitor whose saved token the node refuses to the gate, saying why', async () => {
    const { ctx, w, storage } = await open(`/p/${PID}/health`, {
      saved: 'S'.repeat(43),
      fetch: node({ 'GET /api/node': () => ({ status: 401, body: { code: 'BAD_TOKEN', message: 'no' } }) }),
    });
    expect(ctx.router.currentRoute.value.name).toBe('sign-in');
    expect(ctx.router.currentRoute.value.query.to).toBe(`/p/${PID}/health`);
    expect(w.text()).toContain('The node refused the saved token');
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    await signInThroughGate(w);
    // The node refuses every token here: still at the gate.
    expect(ctx.router.currentRoute.value.name).toBe('sign-in');
  });

  it('sends a member to the gate when the node refuses the token mid-session, and back afterwards', async () => {
    let revoked = false;
    const fetch = node();
    const refuse = { status: 401, body: { code: 'BAD_TOKEN', message: 'no' } };
    const { ctx, w } = await open(`/p/${PID}/board`, {
      saved: TOKEN,
      fetch: {
        calls: fetch.calls,
        fetch: (input, init) => (revoked ? Promise.resolve(new Response(JSON.stringify(refuse.body), { status: refuse.status })) : fetch.fetch(input, init)),
      },
    });
    expect(w.findComponent(BoardView).exists()).toBe(true);
    revoked = true;
    await ctx.store(PID).refresh();
    await vi.waitFor(() => expect(ctx.router.currentRoute.value.name).toBe('sign-in'), SETTLE);
    expect(ctx.router.currentRoute.value.query.to).toBe(`/p/${PID}/board`);
    await flushPromises();
    expect(w.findComponent(TokenGate).exists()).toBe(true);
    revoked = false;
    await signInThroughGate(w);
    await vi.waitFor(() => expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/board`), SETTLE);
  });

  it('"Forget token" leaves for the gate', async () => {
    const { ctx, w } = await open('/join', { saved: TOKEN });
    await w.find('button.link-button').trigger('click');
    await vi.waitFor(() => expect(ctx.router.currentRoute.value.name).toBe('sign-in'), SETTLE);
    await flushPromises();
    expect(w.findComponent(TokenGate).exists()).toBe(true);
    expect(w.findComponent(JoinPursuance).exists()).toBe(false);
  });

  it('sends a signed-in member who opens the gate on to where it points, or home', async () => {
    const a = await open(`/sign-in?to=${encodeURIComponent(`/p/${PID}/keys`)}`, { saved: TOKEN });
    expect(a.ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/keys`);
    const b = await open('/sign-in?to=//evil.example/x', { saved: TOKEN });
    expect(b.ctx.router.currentRoute.value.fullPath).toBe('/');
    expect(b.w.findComponent(SignIn).exists()).toBe(false);
  });

  it('signs in from the sign-in link on the page asked for, leaving no token in the address', async () => {
    window.history.replaceState(null, '', `/p/${PID}/members#token=${TOKEN}`);
    try {
      const { ctx, w } = await open(null);
      expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/members`);
      expect(w.findComponent(MembersView).exists()).toBe(true);
      expect(window.location.href).not.toContain(TOKEN);
      expect(window.location.pathname).toBe(`/p/${PID}/members`);
    } finally {
      window.history.replaceState(null, '', '/');
    }
  });
});

describe('the way back after signing in', () => {
  it('goes only to a page of this dashboard', () => {
    expect(returnPath(`/p/${PID}/tasks/${TID}?x=1#c`)).toBe(`/p/${PID}/tasks/${TID}?x=1#c`);
    for (const bad of [
      undefined,
      null,
      '',
      'p/x',
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example',
      '/p/x\\y',
      '/sign-in',
      '/sign-in?to=/p',
      ['//evil.example'],
    ])
      expect(returnPath(bad), String(bad)).toBe('/');
    expect(returnPath(['/join', '/new'])).toBe('/join');
  });

  it('never leads off this origin, whatever `to` holds (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('/', '\\', ':', '.', 'a', 'p', '?', '#', '%', ' ', 'h') }), (to) => {
        const path = returnPath(to);
        expect(path === '/' || path === to).toBe(true);
        expect(new URL(path, 'http://127.0.0.1:7878/x/').origin).toBe('http://127.0.0.1:7878');
      }),
    );
  });
});

describe('a view the node no longer has', () => {
  const gone = () => Promise.reject(new TypeError('Failed to fetch dynamically imported module: http://127.0.0.1:7878/assets/BoardView-0ld.js'));

  it('reloads the page at that address once, not in a loop', async () => {
    const assign = vi.fn();
    vi.stubGlobal('location', { ...window.location, assign });
    window.sessionStorage.clear();
    const gate = { token: ref<string | null>(TOKEN), resume: () => Promise.resolve(true) };
    const router = createAppRouter(gate, createMemoryHistory());
    router.addRoute({ path: '/old-view', component: gone });
    await router.push('/old-view').catch(() => undefined);
    expect(assign).toHaveBeenCalledTimes(1);
    expect(assign).toHaveBeenCalledWith('/old-view');
    // Still missing after the reload: the error stands, no second reload.
    await router.push('/old-view').catch(() => undefined);
    expect(assign).toHaveBeenCalledTimes(1);
    vi.unstubAllGlobals();
  });

  it('tells a missing view from other failures', () => {
    expect(isChunkLoadError(new TypeError('Failed to fetch dynamically imported module: /assets/a.js'))).toBe(true);
    expect(isChunkLoadError(new TypeError('error loading dynamically imported module'))).toBe(true);
    expect(isChunkLoadError(new TypeError('Importing a module script failed.'))).toBe(true);
    expect(isChunkLoadError(new Error('NETWORK Failed to fetch'))).toBe(false);
    expect(isChunkLoadError('dynamically imported module')).toBe(false);
  });
});

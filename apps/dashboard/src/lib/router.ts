import { watch, type Ref } from 'vue';
import { createRouter, type LocationQueryValue, type RouteRecordRaw, type Router, type RouterHistory } from 'vue-router';

declare module 'vue-router' {
  interface RouteMeta {
    /** Shown without a token (the sign-in page itself). */
    public?: boolean;
    /** Board, tree and "my tasks" share the pursuance's filters (kept by PursuanceView). */
    filtered?: boolean;
  }
}

/** The sign-in page's route name; `?to=` carries the address the visitor asked for. */
export const GATE = 'sign-in';

/**
 * The dashboard's addresses. They are History-API paths (no `#`): the node serves index.html
 * for every GET outside /api (apps/node/src/http/static.ts), so each survives a reload and can
 * be bookmarked. Views are loaded on first use.
 */
export const routes: readonly RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('../views/PursuanceList.vue') },
  { path: '/new', name: 'new', component: () => import('../views/CreatePursuance.vue') },
  { path: '/join', name: 'join', component: () => import('../views/JoinPursuance.vue') },
  { path: '/sign-in', name: GATE, component: () => import('../views/SignIn.vue'), meta: { public: true } },
  {
    path: '/p/:id',
    component: () => import('../views/PursuanceView.vue'),
    props: true,
    children: [
      { path: '', redirect: { name: 'board' } },
      { path: 'board', name: 'board', component: () => import('../views/BoardView.vue'), meta: { filtered: true } },
      { path: 'tree', name: 'tree', component: () => import('../views/TreeView.vue'), meta: { filtered: true } },
      { path: 'mine', name: 'mine', component: () => import('../views/MyTasks.vue'), meta: { filtered: true } },
      { path: 'new-task', name: 'new-task', component: () => import('../views/NewTask.vue') },
      { path: 'submit', name: 'submit', component: () => import('../views/SubmitTip.vue') },
      { path: 'tasks/:taskId', name: 'task', component: () => import('../views/TaskDetail.vue'), props: (r) => ({ taskId: r.params.taskId }) },
      { path: 'members', name: 'members', component: () => import('../views/MembersView.vue') },
      { path: 'rules', name: 'rules', component: () => import('../views/RulesView.vue') },
      { path: 'keys', name: 'keys', component: () => import('../views/KeysView.vue') },
      { path: 'links', name: 'links', component: () => import('../views/LinksView.vue') },
      { path: 'health', name: 'health', component: () => import('../views/HealthView.vue') },
    ],
  },
  { path: '/:path(.*)*', name: 'not-found', component: () => import('../views/NotFound.vue') },
];

/**
 * Where to go after signing in: the `?to=` address when it is a path of this dashboard, else
 * home. A scheme-relative (`//host`) or backslashed address is refused: the sign-in page must
 * never become a way to send someone elsewhere.
 */
export function returnPath(to: LocationQueryValue | LocationQueryValue[] | undefined): string {
  const path = Array.isArray(to) ? to[0] : to;
  if (typeof path !== 'string' || !/^\/(?![/\\])/.test(path) || path.includes('\\')) return '/';
  if (path === '/sign-in' || path.startsWith('/sign-in?') || path.startsWith('/sign-in#')) return '/';
  return path;
}

/** What the router needs to know about the session. */
export interface Gatekeeper {
  /** The token in use; null once it is dropped (refused by the node, or forgotten). */
  readonly token: Ref<string | null>;
  /** True once connected, checking a saved token with the node first if need be. */
  resume(): Promise<boolean>;
}

/**
 * The router with the token gate as a navigation guard: a visitor without a working token is
 * sent to the sign-in page, which brings them back to the address they asked for. A token
 * dropped while a page is open sends them there too.
 */
export function createAppRouter(gate: Gatekeeper, history: RouterHistory): Router {
  const router = createRouter({ history, routes: [...routes] });
  router.beforeEach(async (to) => {
    const connected = await gate.resume();
    if (to.name === GATE) return connected ? returnPath(to.query.to) : true;
    if (connected || to.meta.public) return true;
    return { name: GATE, query: { to: to.fullPath } };
  });
  // A view that fails to load is usually one the node no longer has (the dashboard was rebuilt
  // or the node upgraded while this tab stayed open): load the page afresh at that address, once.
  router.onError((err: unknown, to) => {
    if (!isChunkLoadError(err)) return;
    const key = `reloaded:${to.fullPath}`;
    if (window.sessionStorage.getItem(key) !== null) return;
    window.sessionStorage.setItem(key, '1');
    window.location.assign(to.fullPath);
  });
  watch(gate.token, (token) => {
    const here = router.currentRoute.value;
    // Before the first navigation (matched is empty) the guard decides.
    if (token !== null || here.matched.length === 0 || here.meta.public) return;
    void router.replace({ name: GATE, query: { to: here.fullPath } });
  });
  return router;
}

/** What browsers throw for a dynamic import whose file is missing (Chromium, Firefox and WebKit word it differently). */
export function isChunkLoadError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /dynamically imported module|error loading dynamically imported|Importing a module script failed/i.test(message);
}

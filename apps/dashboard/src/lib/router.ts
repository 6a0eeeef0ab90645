import { computed, shallowRef, type ComputedRef, type ShallowRef } from 'vue';

/**
 * A small History-API router: the node serves index.html for every non-API path, so these
 * URLs survive a reload and can be bookmarked.
 */
export type Route =
  | { name: 'home' }
  | { name: 'new' }
  | { name: 'join' }
  | { name: 'board' | 'tree' | 'mine' | 'members' | 'rules' | 'keys' | 'health' | 'new-task'; pursuanceId: string }
  | { name: 'task'; pursuanceId: string; taskId: string }
  | { name: 'not-found'; path: string };

export type PursuanceTab = 'board' | 'tree' | 'mine' | 'members' | 'rules' | 'keys' | 'health' | 'new-task';
const TABS = new Set<string>(['board', 'tree', 'mine', 'members', 'rules', 'keys', 'health', 'new-task']);

export function parseRoute(path: string): Route {
  const parts = path.split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'home' };
  if (parts.length === 1 && parts[0] === 'new') return { name: 'new' };
  if (parts.length === 1 && parts[0] === 'join') return { name: 'join' };
  if (parts[0] === 'p' && parts[1]) {
    const pursuanceId = parts[1];
    if (parts.length === 2) return { name: 'board', pursuanceId };
    if (parts.length === 3 && TABS.has(parts[2]!)) return { name: parts[2] as PursuanceTab, pursuanceId };
    if (parts.length === 4 && parts[2] === 'tasks') return { name: 'task', pursuanceId, taskId: parts[3]! };
  }
  return { name: 'not-found', path };
}

export function pathOf(route: Route): string {
  switch (route.name) {
    case 'home':
      return '/';
    case 'new':
    case 'join':
      return `/${route.name}`;
    case 'task':
      return `/p/${encodeURIComponent(route.pursuanceId)}/tasks/${encodeURIComponent(route.taskId)}`;
    case 'not-found':
      return route.path;
    default:
      return `/p/${encodeURIComponent(route.pursuanceId)}/${route.name}`;
  }
}

export interface Router {
  readonly path: ShallowRef<string>;
  readonly route: ComputedRef<Route>;
  push(path: string): void;
}

export function createRouter(win: Window = window): Router {
  const path = shallowRef(win.location.pathname);
  win.addEventListener('popstate', () => {
    path.value = win.location.pathname;
  });
  return {
    path,
    route: computed(() => parseRoute(path.value)),
    push(to: string) {
      if (to === path.value) return;
      win.history.pushState(null, '', to);
      path.value = to;
    },
  };
}

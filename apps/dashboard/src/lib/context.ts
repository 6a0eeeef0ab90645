import { inject, ref, shallowRef, type InjectionKey, type Ref, type ShallowRef } from 'vue';
import { createAnnouncer, type Announcer } from './announcer.js';
import { ApiClient, ApiError, type Fetch } from './api.js';
import { createLive, type EventSourceFactory, type Live } from './live.js';
import { PursuanceStore } from './pursuance-store.js';
import { createRouter, type Router } from './router.js';
import { createSession, type Session } from './session.js';
import type { PursuanceSummary, RulesTemplate } from './types.js';

/** Everything views share: the session, the API, the live stream, the router, the stores. */
export interface AppContext {
  readonly session: Session;
  readonly api: ApiClient;
  readonly live: Live;
  readonly router: Router;
  readonly announcer: Announcer;
  /** This node's onion (who "me" is), once connected. */
  readonly me: Ref<string | null>;
  readonly pursuances: ShallowRef<readonly PursuanceSummary[]>;
  readonly pursuancesError: ShallowRef<ApiError | null>;
  readonly templates: ShallowRef<readonly RulesTemplate[]>;
  refreshPursuances(): Promise<void>;
  loadTemplates(): Promise<void>;
  store(id: string): PursuanceStore;
  /** Check the token with the node, keep it, open the live stream. */
  connect(token: string): Promise<void>;
  disconnect(): void;
}

export const APP: InjectionKey<AppContext> = Symbol('pursuance-app');

export function useApp(): AppContext {
  const app = inject(APP);
  if (!app) throw new Error('useApp() outside the dashboard app');
  return app;
}

export interface AppDeps {
  fetch?: Fetch;
  eventSource?: EventSourceFactory;
  storage?: Storage;
  window?: Window;
}

export function createAppContext(deps: AppDeps = {}): AppContext {
  const session = createSession(deps.storage);
  const api = new ApiClient(
    () => session.token.value,
    deps.fetch,
    () => {
      session.clear('The node refused the token. Enter the token it printed when it started.');
      live.disconnect();
    },
  );
  const live = createLive(deps.eventSource);
  const router = createRouter(deps.window);
  const announcer = createAnnouncer();
  const me = ref<string | null>(null);
  const pursuances = shallowRef<readonly PursuanceSummary[]>([]);
  const pursuancesError = shallowRef<ApiError | null>(null);
  const templates = shallowRef<readonly RulesTemplate[]>([]);
  const stores = new Map<string, PursuanceStore>();

  const refreshPursuances = async (): Promise<void> => {
    try {
      pursuances.value = await api.pursuances();
      pursuancesError.value = null;
    } catch (err) {
      pursuancesError.value = ApiError.from(err);
    }
  };

  live.onChanged((e) => {
    const store = stores.get(e.pursuanceId);
    const say = (): void => {
      const name = store?.summary.value?.name ?? pursuances.value.find((p) => p.id === e.pursuanceId)?.name ?? 'A pursuance';
      const n = e.events.length;
      announcer.say(`${name}: ${n} new event${n === 1 ? '' : 's'}${e.origin === 'local' ? '' : ` (${e.origin})`}.`);
    };
    // The list of pursuances is refetched only where it is shown (or for one not seen yet).
    const listShown = router.route.value.name === 'home' || router.route.value.name === 'join';
    const known = pursuances.value.some((p) => p.id === e.pursuanceId);
    const jobs: Promise<void>[] = [];
    if (store) jobs.push(store.refresh());
    if (listShown || !known) jobs.push(refreshPursuances());
    void Promise.all(jobs).then(say);
  });
  // Sync health (relay link, gaps) changes without new events: only the sync status is refetched.
  live.onSync((e) => void stores.get(e.pursuanceId)?.refreshSync());

  const ctx: AppContext = {
    session,
    api,
    live,
    router,
    announcer,
    me,
    pursuances,
    pursuancesError,
    templates,
    refreshPursuances,
    async loadTemplates() {
      if (templates.value.length === 0) templates.value = await api.templates();
    },
    store(id: string) {
      let s = stores.get(id);
      if (!s) {
        s = new PursuanceStore(id, api, me);
        stores.set(id, s);
      }
      return s;
    },
    async connect(token: string) {
      const probe = new ApiClient(() => token, deps.fetch);
      const node = await probe.node();
      session.set(token);
      me.value = node.onion;
      live.connect(token);
      await refreshPursuances();
    },
    disconnect() {
      live.disconnect();
      session.clear();
      me.value = null;
      stores.clear();
      pursuances.value = [];
    },
  };
  return ctx;
}

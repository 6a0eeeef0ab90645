import { computed, inject, ref, shallowRef, watch, type ComputedRef, type InjectionKey, type Ref, type ShallowRef } from 'vue';
import { createWebHistory, type Router, type RouterHistory } from 'vue-router';
import { createDashboardI18n, initialLocale, setLocale, type DashboardI18n, type Locale } from '../i18n/index.js';
import { createAnnouncer, type Announcer } from './announcer.js';
import { ApiClient, ApiError, DEFAULT_LOADING_RETRY, explainError, type Fetch, type LoadingRetry } from './api.js';
import { countIn } from './format.js';
import { createLive, fetchProbe, type EventSourceFactory, type Live } from './live.js';
import { PursuanceStore } from './pursuance-store.js';
import { createAppRouter } from './router.js';
import { createSession, type Session } from './session.js';
import type { PursuanceSummary, RulesTemplate } from './types.js';

/** Everything views share: the session, the API, the live stream, the router, the stores. */
export interface AppContext {
  readonly session: Session;
  readonly api: ApiClient;
  readonly live: Live;
  readonly router: Router;
  readonly announcer: Announcer;
  /** The words in the chosen language (vue-i18n; installed as a plugin by main.ts). */
  readonly i18n: DashboardI18n;
  /** Switch the language (kept for the next visit). */
  setLocale(locale: Locale): void;
  /** This node's onion (who "me" is), once connected. */
  readonly me: Ref<string | null>;
  /** A token is in use and the node accepted it. */
  readonly connected: ComputedRef<boolean>;
  /** A token kept from before is being checked with the node (the page says "Connecting…"). */
  readonly resuming: Ref<boolean>;
  readonly pursuances: ShallowRef<readonly PursuanceSummary[]>;
  readonly pursuancesError: ShallowRef<ApiError | null>;
  readonly templates: ShallowRef<readonly RulesTemplate[]>;
  refreshPursuances(): Promise<void>;
  loadTemplates(): Promise<void>;
  store(id: string): PursuanceStore;
  /** Check the token with the node, keep it, open the live stream. */
  connect(token: string): Promise<void>;
  /**
   * True once connected: a token kept from before (or brought by a sign-in link) is checked
   * with the node first, once however many navigations ask; one it refuses is dropped, with
   * the reason for the sign-in page.
   */
  resume(): Promise<boolean>;
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
  /** The address bar the sign-in link is read from (the page's window by default). */
  window?: Window;
  /**
   * The router's history: by default the browser's, made after the session has taken a sign-in
   * link's token out of the address (one made earlier would put it back); tests pass a memory one.
   */
  history?: RouterHistory;
  /** Where the chosen language is kept (localStorage by default: it outlives the session). */
  localeStorage?: Storage;
  /** The browser's preferred languages (navigator.languages by default). */
  languages?: readonly string[];
  /** How to wait out a pursuance the node is still loading (tests pass a clock that does not really wait). */
  loadingRetry?: LoadingRetry;
}

export function createAppContext(deps: AppDeps = {}): AppContext {
  // The language first: the session's notices are worded in it.
  const localeStorage = deps.localeStorage ?? (typeof localStorage === 'undefined' ? undefined : localStorage);
  const i18n = createDashboardI18n(initialLocale(localeStorage, deps.languages ?? (typeof navigator === 'undefined' ? [] : navigator.languages)));
  if (typeof document !== 'undefined') document.documentElement.lang = i18n.global.locale.value;
  const t: (key: string, named?: Record<string, unknown>) => string = (key, named = {}) => i18n.global.t(key, named);
  const te = (key: string): boolean => i18n.global.te(key);
  // Before the router reads the address: a sign-in link's token is taken out of it first.
  const session = createSession(deps.storage, deps.window, { linkCutShort: t('app.session.linkCutShort') });
  // The sign-in page's notice is worded again when the language changes while it is shown.
  let noticeWords: (() => string) | null = session.notice.value === null ? null : () => t('app.session.linkCutShort');
  const dropToken = (words: () => string): void => {
    session.clear(words());
    noticeWords = words;
  };
  watch(i18n.global.locale, () => {
    if (noticeWords && session.notice.value !== null) session.notice.value = noticeWords();
  });
  const loadingRetry = deps.loadingRetry ?? DEFAULT_LOADING_RETRY;
  const api = new ApiClient(
    () => session.token.value,
    deps.fetch,
    () => {
      dropToken(() => t('app.session.refused'));
      live.disconnect();
    },
    loadingRetry,
  );
  const live = createLive(deps.eventSource, undefined, { probe: fetchProbe(deps.fetch), retry: loadingRetry });
  const router = createAppRouter({ token: session.token, resume: () => ctx.resume() }, deps.history ?? createWebHistory());
  const announcer = createAnnouncer();
  // "N new events" is news about the page it arrived on: another page (or section) starts without it.
  router.afterEach((to, from, failure) => {
    if (!failure && to.path !== from.path) announcer.clear();
  });
  const me = ref<string | null>(null);
  const connected = computed(() => me.value !== null && session.token.value !== null);
  const resuming = ref(false);
  let resumed: Promise<boolean> | null = null;
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
      const name = store?.summary.value?.name ?? pursuances.value.find((p) => p.id === e.pursuanceId)?.name ?? t('app.aPursuance');
      const events = countIn(i18n.global, 'common.count.newEvents', e.events.length);
      announcer.say(
        e.origin === 'local'
          ? t('app.newEvents', { name, events })
          : t('app.newEventsFrom', { name, events, origin: te(`app.origin.${e.origin}`) ? t(`app.origin.${e.origin}`) : e.origin }),
      );
    };
    // The list of pursuances is refetched only where it is shown (or for one not seen yet).
    const shown = router.currentRoute.value.name;
    const listShown = shown === 'home' || shown === 'join';
    const known = pursuances.value.some((p) => p.id === e.pursuanceId);
    const jobs: Promise<void>[] = [];
    if (store) jobs.push(store.refresh());
    if (listShown || !known) jobs.push(refreshPursuances());
    void Promise.all(jobs).then(say);
  });
  // Sync health (relay link, gaps) changes without new events: only the sync status is refetched.
  live.onSync((e) => void stores.get(e.pursuanceId)?.refreshSync());
  // `changed` events missed while the stream was down are covered by the next change set:
  // each store asks for it once the stream is back.
  watch(live.status, (now, before) => {
    if (now === 'open' && before === 'reconnecting') for (const s of stores.values()) void s.refresh();
  });

  const ctx: AppContext = {
    session,
    api,
    live,
    router,
    announcer,
    i18n,
    setLocale(locale: Locale) {
      setLocale(i18n, locale, localeStorage, typeof document === 'undefined' ? undefined : document);
    },
    me,
    connected,
    resuming,
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
        s = new PursuanceStore(id, api, me, i18n.global.t);
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
    resume() {
      if (connected.value) return Promise.resolve(true);
      const token = session.token.value;
      if (token === null) return Promise.resolve(false);
      resumed ??= (async () => {
        resuming.value = true;
        try {
          await ctx.connect(token);
          return true;
        } catch (err) {
          const e = ApiError.from(err);
          dropToken(() => (e.status === 401 ? t('app.session.savedRefused') : explainError(e, i18n.global).text));
          return false;
        } finally {
          resuming.value = false;
          resumed = null;
        }
      })();
      return resumed;
    },
    disconnect() {
      live.disconnect();
      session.clear();
      me.value = null;
      for (const s of stores.values()) s.dispose();
      stores.clear();
      pursuances.value = [];
    },
  };
  return ctx;
}

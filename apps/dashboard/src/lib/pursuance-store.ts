import { computed, ref, shallowRef, type ComputedRef, type Ref, type ShallowRef } from 'vue';
import { ApiError, isLoadingError, loadingError, retryDelay, type ApiClient } from './api.js';
import { capabilitiesFor, type Capabilities } from './capabilities.js';
import { applyFeedChanges, applyTaskChanges } from './changes.js';
import { shortOnion } from './format.js';
import type { Rules } from './rules-engine.js';
import { tipAudiences, type TipAudiences } from './tips.js';
import type {
  EventRef,
  FeedItem,
  IngestReport,
  MemberModel,
  NewSubmissionInput,
  NewTaskInput,
  OwnRejection,
  PursuanceSummary,
  Rejection,
  RoleModel,
  SyncStatus,
  TaskChange,
  TaskListItem,
  TaskModel,
} from './types.js';
import type { Translate } from './words.js';

/** The parts of a pursuance a view can ask for; the store refetches the parts in use. */
export type Part = 'summary' | 'tasks' | 'members' | 'roles' | 'rules' | 'feed' | 'rejections' | 'ownRejections' | 'sync';

/** A call that answers at once while the pursuance is loading, for a caller that can do without it. */
const NO_WAIT = { waitWhileLoading: false } as const;

/**
 * The task list is fetched in pages, newest first: a small first one, so a big board shows the
 * tops of its columns while the rest arrive, then pages as large as the node gives (its TASK_PAGE_MAX).
 */
export const FIRST_TASK_PAGE = 500;
export const TASK_PAGE = 5000;

/** Parts the node's change sets cover (GET …/changes): patched in place rather than refetched. */
const VERSIONED: ReadonlySet<Part> = new Set(['tasks', 'members', 'roles', 'feed']);

/**
 * One pursuance as this node sees it, kept fresh: every `changed` event for it (and every
 * action taken here) refreshes the parts views have asked for. Fetches are coalesced: while
 * one is running, further requests collapse into a single follow-up.
 *
 * Tasks, members, roles and the feed are fetched whole once, at the node's read-model version
 * of that moment; after that a refresh asks only for what changed since the version held
 * (GET …/changes) and patches the lists, so a change to one task on a 5,000-task board moves
 * one task's JSON, not 3 MB. When the node cannot say what changed (`reset`: it restarted or
 * the store fell too far behind), or has no such route (an older node), the lists are fetched
 * whole again. The summary, rules, rejections and sync status are small and refetched as before.
 *
 * While the node is still loading the pursuance's history at start-up (summary `loaded: false`)
 * it serves the reads but not the changes feed: the lists are fetched whole, without a version,
 * and the summary alone is asked again (at the node's pace) until it says loaded; then the
 * store refreshes and is versioned again. Commands sent meanwhile wait in the API client.
 *
 * Lists are shallow refs holding the API's JSON as is (5,000 tasks with their comments would be
 * slow to make deeply reactive): a patch makes a new array that keeps every unchanged task's
 * object, so only the changed cards re-render. Tasks are held as the list carries them, without
 * their history (the task page reads that whole, and again whenever its task's object is
 * replaced: the change feed replaces it when only its history changed, too).
 */
export class PursuanceStore {
  public readonly summary: ShallowRef<PursuanceSummary | null> = shallowRef(null);
  public readonly tasks: ShallowRef<readonly TaskListItem[]> = shallowRef([]);
  public readonly members: ShallowRef<readonly MemberModel[]> = shallowRef([]);
  public readonly roles: ShallowRef<readonly RoleModel[]> = shallowRef([]);
  public readonly rules: ShallowRef<Rules | null> = shallowRef(null);
  public readonly feed: ShallowRef<readonly FeedItem[]> = shallowRef([]);
  public readonly rejections: ShallowRef<readonly Rejection[]> = shallowRef([]);
  /** Your own events refused after a race; null where the node cannot say (an older node). */
  public readonly ownRejections: ShallowRef<readonly OwnRejection[] | null> = shallowRef(null);
  /** Group sync status; null where the node has no sync API (or it failed: Health says so). */
  public readonly sync: ShallowRef<SyncStatus | null> = shallowRef(null);
  /** True until the first load of the parts asked for has finished. */
  public readonly loading = ref(true);
  /**
   * True while the first load's task list is arriving page by page: `tasks` holds the pages
   * so far (the newest tasks, in the list's order) and the board shows them; false once the
   * list is whole.
   */
  public readonly tasksArriving = ref(false);
  public readonly error: ShallowRef<ApiError | null> = shallowRef(null);
  /** How many refreshes have completed (tests and the benchmark wait on it). */
  public readonly generation = ref(0);

  public readonly isMember: ComputedRef<boolean>;
  public readonly caps: ComputedRef<Capabilities>;
  /** Where this member may send a tip now, and where only once the role's keys are rotated. */
  public readonly tips: ComputedRef<TipAudiences>;
  public readonly taskById: ComputedRef<Map<string, TaskListItem>>;
  public readonly names: ComputedRef<Map<string, string | null>>;

  readonly #wanted = new Set<Part>(['summary', 'members', 'roles', 'rules']);
  readonly #loaded = new Set<Part>();
  /** Refresh requests made, and the newest one a finished load has answered. */
  #requested = 0;
  #covered = 0;
  #pumping = false;
  #waiters: { ticket: number; resolve: () => void }[] = [];
  #rulesRevision = -1;
  /** The read-model version the versioned parts were last brought to (null: fetch them whole). */
  #version: number | null = null;
  /** False once the node has answered that it has no changes route: whole fetches only. */
  #versioned = true;
  /** The summary is being asked again until the pursuance is loaded. */
  #awaitingLoad = false;
  #disposed = false;

  public constructor(
    public readonly id: string,
    private readonly api: ApiClient,
    private readonly me: Ref<string | null>,
    /** How people are named (`members.names.*`) in the chosen language; English without it. */
    private readonly t?: Translate,
  ) {
    this.isMember = computed(() => this.me.value !== null && this.members.value.some((m) => m.onion === this.me.value));
    this.caps = computed(() =>
      capabilitiesFor(this.rules.value, this.summary.value?.myRoles ?? [], this.summary.value?.amFounder ?? false, this.isMember.value),
    );
    this.tips = computed(() => tipAudiences(this.rules.value, this.caps.value, this.roles.value, this.summary.value?.myRoles ?? []));
    this.taskById = computed(() => new Map(this.tasks.value.map((t) => [t.id, t])));
    this.names = computed(() => new Map(this.members.value.map((m) => [m.onion, m.name])));
  }

  /**
   * How to name a member: "you", their name, or their short address (marked when a founder), in
   * the words of `t` (a component's own, so the name follows a switch of language), else the
   * store's, else English.
   */
  public who(onion: string, t: Translate | undefined = this.t): string {
    if (onion === this.me.value) return t ? t('members.names.you') : 'you';
    const name = this.names.value.get(onion);
    if (name) return name;
    if (!this.summary.value?.founders.includes(onion)) return shortOnion(onion);
    return t ? t('members.names.founder', { short: shortOnion(onion) }) : `founder ${shortOnion(onion)}`;
  }

  /** The read-model version the lists are at (null until the first whole load; tests and the benchmark read it). */
  public get version(): number | null {
    return this.#version;
  }

  /** Ask for parts (a view calls this when it mounts); resolves once they are loaded. */
  public want(...parts: Part[]): Promise<void> {
    const missing = parts.filter((p) => !this.#loaded.has(p));
    for (const p of parts) this.#wanted.add(p);
    return missing.length ? this.refresh() : Promise.resolve();
  }

  public has(part: Part): boolean {
    return this.#loaded.has(part);
  }

  /**
   * Refetch every wanted part. Resolves once a load that started after this call has finished:
   * calls made while a load runs share one follow-up load, and a caller never waits on later
   * ones (a busy pursuance sends `changed` events faster than a load takes, which must not keep
   * an action's promise, and the form waiting on it, pending).
   */
  public refresh(): Promise<void> {
    const ticket = ++this.#requested;
    const done = new Promise<void>((resolve) => this.#waiters.push({ ticket, resolve }));
    if (!this.#pumping) void this.#pump();
    return done;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#covered < this.#requested) {
        const covers = this.#requested;
        await this.#load();
        this.#covered = covers;
        const ready = this.#waiters.filter((w) => w.ticket <= covers);
        this.#waiters = this.#waiters.filter((w) => w.ticket > covers);
        for (const w of ready) w.resolve();
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #load(): Promise<void> {
    const wanted = [...this.#wanted];
    const versioned = wanted.filter((p) => VERSIONED.has(p));
    try {
      // Patch when every versioned part in use is held at a version; else (or on a reset) fetch whole.
      if (this.#version !== null && versioned.every((p) => this.#loaded.has(p)) && (await this.#patch(wanted))) return;
      // The version comes first: each list fetched after it is at least that new, so the
      // next change set (since that version) may repeat a change but never miss one.
      this.#version = null;
      const version = versioned.length > 0 ? await this.#currentVersion() : null;
      // The parts are fetched alongside the summary (one round trip, not two); only the rules
      // wait for it, to be refetched when their revision changed. Every fetch is settled before
      // the first failure is reported, so none is left rejecting unobserved.
      let failure: unknown = null;
      const jobs: Promise<void>[] = [];
      const track = (job: Promise<void>): Promise<void> => {
        const settled = job.catch((err: unknown) => {
          failure ??= err;
        });
        jobs.push(settled);
        return settled;
      };
      const got: { summary?: PursuanceSummary } = {};
      const summaryLoaded = track(this.api.pursuance(this.id).then((v) => void (got.summary = v)));
      const get = <T>(part: Part, fetcher: () => Promise<T>, set: (v: T) => void) => {
        if (!wanted.includes(part)) return;
        void track(
          fetcher().then((v) => {
            set(v);
            this.#loaded.add(part);
          }),
        );
      };
      get(
        'tasks',
        () => this.#tasksInPages(),
        (v) => (this.tasks.value = v),
      );
      get(
        'members',
        () => this.api.members(this.id),
        (v) => (this.members.value = v),
      );
      get(
        'roles',
        () => this.api.roles(this.id),
        (v) => (this.roles.value = v),
      );
      get(
        'feed',
        () => this.api.feed(this.id),
        (v) => (this.feed.value = v),
      );
      get(
        'rejections',
        () => this.api.rejections(this.id),
        (v) => (this.rejections.value = v),
      );
      get(
        'ownRejections',
        () => this.api.ownRejections(this.id, NO_WAIT).catch((err: unknown) => (isLoadingError(err) ? this.ownRejections.value : null)),
        (v) => (this.ownRejections.value = v),
      );
      get(
        'sync',
        () => this.api.syncStatus(this.id, NO_WAIT).catch((err: unknown) => (isLoadingError(err) ? this.sync.value : null)),
        (v) => (this.sync.value = v),
      );
      await summaryLoaded;
      const revision = got.summary?.rulesRevision;
      if (revision !== undefined && (revision !== this.#rulesRevision || !this.rules.value)) {
        get(
          'rules',
          () => this.api.rules(this.id),
          (v) => {
            this.rules.value = v;
            this.#rulesRevision = revision;
          },
        );
      }
      await Promise.all(jobs);
      if (failure !== null || !got.summary) throw failure;
      this.summary.value = got.summary;
      this.#loaded.add('summary');
      this.#version = version;
      this.error.value = null;
      this.#awaitLoad();
    } catch (err) {
      this.error.value = ApiError.from(err);
    } finally {
      this.loading.value = false;
      this.generation.value += 1;
    }
  }

  /**
   * The whole task list, fetched in pages, newest first (the tops of the board's columns come
   * first), held in the list's own order (oldest first). On the first load each page is shown
   * as it arrives (`tasksArriving`); a later whole fetch (after a reset) keeps the board as it
   * was until the new list is complete, rather than shrink it to one page and grow it back.
   */
  async #tasksInPages(): Promise<readonly TaskListItem[]> {
    const showPages = !this.#loaded.has('tasks');
    const first = await this.api.tasksPage(this.id, FIRST_TASK_PAGE);
    // A node without pages (older) ignores the limit and answers the whole list.
    if (Array.isArray(first)) return first;
    const newestFirst: TaskListItem[] = [...first.tasks];
    let next = first.next;
    try {
      while (next !== null && !this.#disposed) {
        if (showPages) {
          this.tasks.value = [...newestFirst].reverse();
          this.tasksArriving.value = true;
        }
        const page = await this.api.tasksPage(this.id, TASK_PAGE, next);
        if (Array.isArray(page)) return page;
        for (const t of page.tasks) newestFirst.push(t);
        next = page.next;
      }
    } finally {
      this.tasksArriving.value = false;
    }
    return newestFirst.reverse();
  }

  /** The node's current read-model version (null when it has no changes route). */
  async #currentVersion(): Promise<number | null> {
    if (!this.#versioned) return null;
    try {
      return (await this.api.changes(this.id, undefined, NO_WAIT)).version;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') {
        this.#versioned = false;
        return null;
      }
      // Still loading: the reads are served already, so the lists are fetched whole without a
      // version (rather than the board waiting for the history); once loaded they get one.
      if (isLoadingError(err)) return null;
      throw err;
    }
  }

  /**
   * Bring the versioned parts up to date from one change set, and refetch the small parts
   * alongside. False when the node answered `reset` or is loading the pursuance again (it
   * restarted): nothing is changed then, fetch whole.
   */
  async #patch(wanted: readonly Part[]): Promise<boolean> {
    const since = this.#version!;
    const has = (p: Part) => wanted.includes(p);
    const optional = <T>(p: Part, fetch: () => Promise<T>): Promise<T | undefined> => (has(p) ? fetch() : Promise.resolve(undefined));
    // Nothing is applied unless every request succeeded: a failure leaves the lists as they were.
    const [changes, summary, rejections, ownRejections, sync] = await Promise.all([
      this.api.changes(this.id, since, NO_WAIT).catch((err: unknown) => {
        if (isLoadingError(err)) return null;
        throw err;
      }),
      this.api.pursuance(this.id),
      optional('rejections', () => this.api.rejections(this.id)),
      optional('ownRejections', () => this.api.ownRejections(this.id, NO_WAIT).catch(() => null)),
      optional('sync', () => this.api.syncStatus(this.id, NO_WAIT).catch(() => null)),
    ]);
    if (changes === null || changes.reset) return false;
    if (has('rules') && (summary.rulesRevision !== this.#rulesRevision || !this.rules.value)) {
      this.rules.value = await this.api.rules(this.id);
      this.#rulesRevision = summary.rulesRevision;
    }
    if (has('tasks')) this.tasks.value = applyTaskChanges(this.tasks.value, changes.tasks);
    if (has('members') && changes.members !== null) this.members.value = changes.members;
    if (has('roles') && changes.roles !== null) this.roles.value = changes.roles;
    if (has('feed')) this.feed.value = applyFeedChanges(this.feed.value, changes.feed);
    if (rejections !== undefined) this.rejections.value = rejections;
    if (ownRejections !== undefined) this.ownRejections.value = ownRejections;
    if (sync !== undefined) this.sync.value = sync;
    this.summary.value = summary;
    this.#version = changes.version;
    this.error.value = null;
    this.#awaitLoad();
    return true;
  }

  /**
   * While the summary says the pursuance is loading, ask for the summary again (each wait the
   * client's for a loading pursuance: about a second, capped) until it says loaded, then refresh
   * everything. Past the client's retry limit the person is told (PURSUANCE_LOADING, as a command
   * would be) but the asking goes on at the longest wait: reads work meanwhile, and the status
   * must still go once the node is done.
   */
  #awaitLoad(): void {
    if (this.#awaitingLoad || this.#disposed || this.summary.value?.loaded !== false) return;
    this.#awaitingLoad = true;
    const retry = this.api.loadingRetry;
    const started = retry.now();
    void (async () => {
      let loaded = false;
      let told = false;
      try {
        while (!this.#disposed && !loaded) {
          const overdue = retry.now() - started >= retry.giveUpAfterMs;
          // Once: a notice dismissed is not put back every few seconds.
          if (overdue && !told) {
            told = true;
            this.error.value = loadingError();
          }
          await retry.sleep(overdue ? retry.maxWaitMs : retryDelay(null, retry));
          if (this.#disposed) return;
          // A failed ask is asked again next round: the loading status stays meanwhile.
          loaded = await this.api.pursuance(this.id).then(
            (s) => s.loaded !== false,
            () => false,
          );
        }
      } finally {
        this.#awaitingLoad = false;
      }
      // The refresh brings the summary (status gone), a version, and whatever changed meanwhile.
      if (loaded && !this.#disposed) void this.refresh();
    })();
  }

  /**
   * One task whole, with its history (the list holds none), as the node has it now. Answers at
   * once while the pursuance is loading (503 PURSUANCE_LOADING): the caller asks again on the
   * store's next refresh rather than waiting inside the client.
   */
  public readTask(taskId: string): Promise<TaskModel> {
    return this.api.task(this.id, taskId, NO_WAIT);
  }

  /** Stop asking the node about this pursuance (the store is dropped: signed out). */
  public dispose(): void {
    this.#disposed = true;
  }

  /** Refetch the sync status alone (the node says its relay link or gaps changed). */
  public async refreshSync(): Promise<void> {
    if (!this.#wanted.has('sync')) return;
    this.sync.value = await this.api.syncStatus(this.id).catch(() => null);
    this.#loaded.add('sync');
  }

  /** Run an action, then refresh; a refusal is thrown as ApiError (with the node's reason). */
  async #act<T>(call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      throw ApiError.from(err);
    }
    await this.refresh();
    return result;
  }

  public createTask = (input: NewTaskInput): Promise<TaskModel> => this.#act(() => this.api.createTask(this.id, input));
  public submit = (audience: string, tip: NewSubmissionInput): Promise<TaskModel> => this.#act(() => this.api.submit(this.id, audience, tip));
  public changeTask = (taskId: string, change: TaskChange): Promise<EventRef> => this.#act(() => this.api.changeTask(this.id, taskId, change));
  public addMember = (onion: string, name: string | undefined, roles: string[]): Promise<EventRef> =>
    this.#act(() => this.api.addMember(this.id, { onion, ...(name ? { name } : {}), roles }));
  public removeMember = (onion: string, reason?: string): Promise<EventRef> => this.#act(() => this.api.removeMember(this.id, onion, reason));
  public assignRole = (onion: string, role: string): Promise<EventRef> => this.#act(() => this.api.assignRole(this.id, onion, role));
  public removeRole = (onion: string, role: string): Promise<EventRef> => this.#act(() => this.api.removeRole(this.id, onion, role));
  public rotateKeys = (roles: string[]): Promise<EventRef> => this.#act(() => this.api.rotateKeys(this.id, roles));
  public shareKeys = (): Promise<EventRef> => this.#act(() => this.api.shareKeys(this.id));
  public changeRules = (rules: Rules): Promise<EventRef> => this.#act(() => this.api.changeRules(this.id, rules));
  public attachRelay = (bundle: string): Promise<{ groupId: string }> => this.#act(() => this.api.attachRelay(this.id, bundle));
  public moveRelayTo = (bundle: string): Promise<{ groupId: string; eventId: string }> => this.#act(() => this.api.moveRelayTo(this.id, bundle));
  public addMirror = (bundle: string): Promise<{ groupId: string; eventId: string }> => this.#act(() => this.api.addMirror(this.id, bundle));
  public dropMirror = (bundle: string): Promise<{ eventId: string }> => this.#act(() => this.api.dropMirror(this.id, bundle));
  public leave = (): Promise<EventRef> => this.#act(() => this.api.leave(this.id));
  public importEvents = (events: string[]): Promise<IngestReport> => this.#act(() => this.api.importEvents(this.id, events));
  public exportEvents = (): Promise<{ events: string[] }> => this.api.exportEvents(this.id);
}

// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { ref } from 'vue';
import { RouterView, createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, LOADING_MESSAGE, PURSUANCE_LOADING, retryDelay, type LoadingRetry } from '../src/lib/api.js';
import { createAppContext } from '../src/lib/context.js';
import { createLive, fetchProbe, type StreamRefusal } from '../src/lib/live.js';
import { PursuanceStore } from '../src/lib/pursuance-store.js';
import type { PursuanceChanges } from '../src/lib/types.js';
import { mountWith, TOKEN, unmountAll } from './support/app.js';
import { FakeEventSource, FOUNDER, MemoryStorage, PID, cellRules, fakeFetch, members, pursuanceRoutes, roles, summary, task } from './support/fakes.js';

/**
 * While the node loads a pursuance's history at start-up it serves the reads, but answers the
 * changes feed, the live stream and commands with 503 PURSUANCE_LOADING and `Retry-After`. The
 * dashboard waits that out (within limits) instead of failing, and says the pursuance is loading.
 * The clock below moves only when the code under test sleeps, so nothing here really waits.
 */

const P = `/api/pursuances/${PID}`;
const LOADING_BODY = { code: PURSUANCE_LOADING, message: LOADING_MESSAGE };

/** A clock that jumps by each sleep, resolving at once (`gated`: each sleep waits for `release`). */
function testClock(gated = false) {
  let now = 1_000_000;
  const waits: number[] = [];
  const held: (() => void)[] = [];
  const retry: LoadingRetry = {
    now: () => now,
    sleep: (ms) => {
      waits.push(ms);
      if (!gated) {
        now += ms;
        return Promise.resolve();
      }
      return new Promise((resolve) =>
        held.push(() => {
          now += ms;
          resolve();
        }),
      );
    },
    maxWaitMs: 3_000,
    giveUpAfterMs: 120_000,
  };
  return {
    retry,
    waits,
    /** Sleeps waiting to be released. */
    held: () => held.length,
    release: () => {
      for (const go of held.splice(0)) go();
    },
  };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly retryAfter?: string;
}

/** A fetch that gives the scripted answers in order (the last one again once they run out), recording each call. */
function scripted(answers: readonly Answer[]) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetch = (input: string, init: RequestInit = {}): Promise<Response> => {
    const a = answers[Math.min(calls.length, answers.length - 1)]!;
    calls.push({ method: init.method ?? 'GET', path: input, body: init.body ? JSON.parse(init.body as string) : undefined });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (a.retryAfter !== undefined) headers['retry-after'] = a.retryAfter;
    return Promise.resolve(new Response(JSON.stringify(a.body), { status: a.status, headers }));
  };
  return { fetch, calls };
}

const loading = (retryAfter = '1'): Answer => ({ status: 503, body: LOADING_BODY, retryAfter });
const changeSet = (version: number): PursuanceChanges => ({
  version,
  reset: true,
  tasks: { upserted: [], removed: [] },
  members: null,
  roles: null,
  feed: { items: [], full: false },
});

afterEach(() => unmountAll());

describe('the API client while a pursuance loads', () => {
  it('asks the changes feed again after Retry-After (capped) and returns the answer that follows', async () => {
    const clock = testClock();
    const node = scripted([loading('1'), loading('3600'), { status: 200, body: changeSet(42) }]);
    const api = new ApiClient(() => TOKEN, node.fetch, undefined, clock.retry);
    await expect(api.changes(PID, 41)).resolves.toEqual(changeSet(42));
    expect(node.calls.map((c) => c.path)).toEqual(Array(3).fill(`${P}/changes?since=41`));
    // One second as asked; "an hour" is capped at the policy's longest wait.
    expect(clock.waits).toEqual([1_000, 3_000]);
  });

  it('sends a refused command again, the same command, and returns what the node answered', async () => {
    const clock = testClock();
    const created = task({ title: 'Banner' });
    const node = scripted([loading(), loading(), { status: 201, body: created }]);
    const api = new ApiClient(() => TOKEN, node.fetch, undefined, clock.retry);
    await expect(api.createTask(PID, { audience: ['member'], title: 'Banner' })).resolves.toEqual(created);
    expect(node.calls).toHaveLength(3);
    for (const c of node.calls) expect(c).toEqual({ method: 'POST', path: `${P}/tasks`, body: { audience: ['member'], title: 'Banner' } });
  });

  it('gives up past the limit with the node’s refusal as a typed error', async () => {
    const clock = testClock();
    const node = scripted([loading()]);
    const api = new ApiClient(() => TOKEN, node.fetch, undefined, clock.retry);
    const err = await api.changeTask(PID, 'a'.repeat(64), { op: 'status', to: 'done' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: PURSUANCE_LOADING, message: LOADING_MESSAGE });
    // About two minutes of one-second waits, and not one more ask after the limit.
    expect(clock.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(clock.retry.giveUpAfterMs);
    expect(node.calls.length).toBe(clock.waits.length + 1);
    expect(node.calls.length).toBeGreaterThan(100);
  });

  it('waits out a node that is still starting the same way', async () => {
    const clock = testClock();
    const starting: Answer = { status: 503, body: { code: 'NODE_STARTING', message: 'This node is still starting.' }, retryAfter: '1' };
    const node = scripted([starting, { status: 200, body: { version: 1 } }]);
    const api = new ApiClient(() => TOKEN, node.fetch, undefined, clock.retry);
    await expect(api.request('GET', '/api/network')).resolves.toEqual({ version: 1 });
    expect(clock.waits).toEqual([1_000]);
  });

  it('answers at once when asked not to wait, and never retries another 503', async () => {
    const clock = testClock();
    const once = scripted([loading()]);
    const api = new ApiClient(() => TOKEN, once.fetch, undefined, clock.retry);
    await expect(api.changes(PID, undefined, { waitWhileLoading: false })).rejects.toMatchObject({ code: PURSUANCE_LOADING });
    expect(once.calls).toHaveLength(1);

    const busy = scripted([{ status: 503, body: { code: 'PEER_STOPPED', message: 'This node is shutting down.' }, retryAfter: '1' }]);
    const api2 = new ApiClient(() => TOKEN, busy.fetch, undefined, clock.retry);
    await expect(api2.tasks(PID)).rejects.toMatchObject({ status: 503, code: 'PEER_STOPPED' });
    expect(busy.calls).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it('reads Retry-After as seconds or a date, within bounds', () => {
    const policy = { maxWaitMs: 3_000, now: () => Date.parse('2030-01-01T00:00:00Z') };
    expect(retryDelay('2', policy)).toBe(2_000);
    expect(retryDelay(null, policy)).toBe(1_000);
    expect(retryDelay('soon', policy)).toBe(1_000);
    expect(retryDelay('0', policy)).toBe(250);
    expect(retryDelay('Tue, 01 Jan 2030 00:00:02 GMT', policy)).toBe(2_000);
    expect(retryDelay('Tue, 01 Jan 2030 01:00:00 GMT', policy)).toBe(3_000);
  });
});

describe('the pursuance store while its pursuance loads', () => {
  it('shows the lists at once, without a version, and is versioned once the summary says loaded', async () => {
    const clock = testClock(true);
    const state = { loaded: false, tasks: [task({ title: 'Banner' })] };
    const f = fakeFetch({
      [`GET ${P}`]: () => summary({ loaded: state.loaded }),
      [`GET ${P}/tasks`]: () => state.tasks,
      [`GET ${P}/members`]: () => members(),
      [`GET ${P}/roles`]: () => roles(),
      [`GET ${P}/rules`]: () => cellRules(),
      [`GET ${P}/changes`]: () => (state.loaded ? changeSet(9) : { status: 503, body: LOADING_BODY }),
    });
    const store = new PursuanceStore(PID, new ApiClient(() => TOKEN, f.fetch, undefined, clock.retry), ref(FOUNDER));
    await store.want('tasks');
    expect(store.tasks.value.map((t) => t.title)).toEqual(['Banner']);
    expect(store.summary.value?.loaded).toBe(false);
    expect(store.version).toBeNull();
    expect(store.error.value).toBeNull();
    // The store waits to ask the summary again; one more "still loading" changes nothing.
    await flushPromises();
    expect(clock.held()).toBe(1);
    clock.release();
    await flushPromises();
    expect(clock.held()).toBe(1);
    expect(store.version).toBeNull();

    state.loaded = true;
    clock.release();
    await flushPromises();
    expect(store.summary.value?.loaded).toBe(true);
    expect(store.version).toBe(9);
    expect(clock.held()).toBe(0);
  });
});

describe('a pursuance that takes long to load', () => {
  it('is reported once past the retry limit, still asked after, and the report goes once loaded', async () => {
    const clock = testClock(true);
    const state = { loaded: false };
    const f = fakeFetch({
      [`GET ${P}`]: () => summary({ loaded: state.loaded }),
      [`GET ${P}/members`]: () => members(),
      [`GET ${P}/roles`]: () => roles(),
      [`GET ${P}/rules`]: () => cellRules(),
      [`GET ${P}/changes`]: () => (state.loaded ? changeSet(4) : { status: 503, body: LOADING_BODY }),
    });
    const store = new PursuanceStore(PID, new ApiClient(() => TOKEN, f.fetch, undefined, clock.retry), ref(FOUNDER));
    await store.want('summary');
    for (let round = 0; round < 200 && store.error.value === null; round++) {
      await flushPromises();
      clock.release();
    }
    await flushPromises();
    expect(store.error.value).toMatchObject({ status: 503, code: PURSUANCE_LOADING });
    const waited = clock.waits.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(clock.retry.giveUpAfterMs);
    expect(waited).toBeLessThanOrEqual(clock.retry.giveUpAfterMs + 2 * clock.retry.maxWaitMs);
    // Dismissed, it is not put back; the asking goes on, at the longest wait.
    store.error.value = null;
    clock.release();
    await flushPromises();
    expect(store.error.value).toBeNull();
    expect(clock.waits.at(-1)).toBe(clock.retry.maxWaitMs);
    expect(clock.held()).toBe(1);

    state.loaded = true;
    clock.release();
    await flushPromises();
    expect(store.summary.value?.loaded).toBe(true);
    expect(store.version).toBe(4);
    expect(clock.held()).toBe(0);
  });
});

describe('the pursuance view', () => {
  it('says the history is loading while the summary says so, and stops saying it once loaded', async () => {
    const clock = testClock(true);
    const state = {
      summary: summary({ loaded: false }),
      tasks: [task({ id: 'a'.repeat(64), title: 'Banner' }), task({ id: 'b'.repeat(64), title: 'Flyers' })],
      members: members(),
      roles: roles(),
      rules: cellRules(),
    };
    const f = fakeFetch({
      ...pursuanceRoutes(state),
      [`GET ${P}/changes`]: () => (state.summary.loaded === false ? { status: 503, body: LOADING_BODY } : changeSet(3)),
    });
    const ctx = createAppContext({
      fetch: f.fetch,
      eventSource: (url) => new FakeEventSource(url),
      storage: new MemoryStorage(),
      window,
      history: createMemoryHistory(),
      loadingRetry: clock.retry,
    });
    await ctx.connect(TOKEN);
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();

    const region = w.find('[data-testid="history-loading-status"]');
    expect(region.attributes('role')).toBe('status');
    expect(region.text()).toBe("Loading this pursuance's history… you can read; changes will wait until it is loaded.");
    // Reading works meanwhile: the board shows the persisted tasks.
    expect(w.findAll('[data-testid="task-card"]').map((c) => c.find('h3').text())).toEqual(['Flyers', 'Banner']);
    expect(w.find('[data-testid="error"]').exists()).toBe(false);

    state.summary = summary({ loaded: true });
    clock.release();
    await flushPromises();
    expect(w.find('[data-testid="history-loading"]').exists()).toBe(false);
    // The live region stays in the page (empty), ready for the next time.
    expect(w.find('[data-testid="history-loading-status"]').text()).toBe('');
    expect(ctx.store(PID).version).toBe(3);
    ctx.disconnect();
  });

  it('hides the status on the next `changed` event once the node says loaded', async () => {
    const clock = testClock(true);
    const state = { summary: summary({ loaded: false }), tasks: [task({ title: 'Banner' })], members: members(), roles: roles(), rules: cellRules() };
    const f = fakeFetch(pursuanceRoutes(state));
    const ctx = createAppContext({
      fetch: f.fetch,
      eventSource: (url) => new FakeEventSource(url),
      storage: new MemoryStorage(),
      window,
      history: createMemoryHistory(),
      loadingRetry: clock.retry,
    });
    await ctx.connect(TOKEN);
    const es = FakeEventSource.last!;
    es.open();
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    expect(w.find('[data-testid="history-loading"]').exists()).toBe(true);

    // An older node has no `loaded` field at all: that counts as loaded.
    const { loaded: _gone, ...older } = state.summary;
    state.summary = older;
    es.emit('changed', { pursuanceId: PID, events: ['e1'], origin: 'local', version: null });
    await flushPromises();
    expect(w.find('[data-testid="history-loading"]').exists()).toBe(false);
    ctx.disconnect();
  });
});

describe('the live stream while a pursuance loads', () => {
  function liveWith(refusals: StreamRefusal[], clock = testClock()) {
    const sources: FakeEventSource[] = [];
    const probed: string[] = [];
    const live = createLive(
      (url) => {
        const s = new FakeEventSource(url);
        sources.push(s);
        return s;
      },
      () => 0,
      {
        probe: (url) => {
          probed.push(url);
          return Promise.resolve(refusals[Math.min(probed.length - 1, refusals.length - 1)]!);
        },
        retry: clock.retry,
      },
    );
    const refuse = () => {
      const s = sources.at(-1)!;
      s.readyState = 2;
      s.onerror?.(new Event('error'));
    };
    return { live, sources, probed, refuse, clock };
  }

  it('reads why the node refused the stream from a fetch of its URL', async () => {
    const url = '/api/stream?token=tok';
    const asked: string[] = [];
    const answering = (answer: Answer) =>
      fetchProbe((input) => {
        asked.push(input);
        return scripted([answer]).fetch(input);
      });
    await expect(answering(loading('2'))(url)).resolves.toEqual({ loading: true, retryAfter: '2' });
    const starting = { status: 503, body: { code: 'NODE_STARTING', message: 'starting' }, retryAfter: '1' };
    await expect(answering(starting)(url)).resolves.toEqual({ loading: true, retryAfter: '1' });
    await expect(answering({ status: 401, body: { code: 'BAD_TOKEN', message: 'no' } })(url)).resolves.toEqual({ loading: false });
    await expect(answering({ status: 503, body: { code: 'PEER_STOPPED', message: 'stopping' } })(url)).resolves.toEqual({ loading: false });
    await expect(fetchProbe(() => Promise.reject(new TypeError('Failed to fetch')))(url)).resolves.toEqual({ loading: false });
    expect(asked).toEqual(Array(4).fill(url));
  });

  it('opens the stream again after Retry-After when the node refused it while loading', async () => {
    const t = liveWith([{ loading: true, retryAfter: '2' }]);
    t.live.connect('tok');
    t.refuse();
    await flushPromises();
    expect(t.probed).toEqual(['/api/stream?token=tok']);
    expect(t.clock.waits).toEqual([2_000]);
    expect(t.sources).toHaveLength(2);
    expect(t.live.status.value).toBe('reconnecting');
    t.sources[1]!.open();
    expect(t.live.status.value).toBe('open');
  });

  it('stays closed after another refusal, and gives up on a pursuance that never loads', async () => {
    const other = liveWith([{ loading: false }]);
    other.live.connect('tok');
    other.refuse();
    await flushPromises();
    expect(other.sources).toHaveLength(1);
    expect(other.live.status.value).toBe('closed');

    const never = liveWith([{ loading: true, retryAfter: '1' }]);
    never.live.connect('tok');
    for (let i = 0; i < 200 && never.live.status.value !== 'closed'; i++) {
      never.refuse();
      await flushPromises();
    }
    expect(never.live.status.value).toBe('closed');
    const attempts = never.sources.length;
    expect(attempts).toBeGreaterThan(100);
    expect(never.clock.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(never.clock.retry.giveUpAfterMs);
  });

  it('does not reopen a stream disconnected while it waited', async () => {
    const clock = testClock(true);
    const t = liveWith([{ loading: true, retryAfter: '1' }], clock);
    t.live.connect('tok');
    t.refuse();
    await flushPromises();
    expect(clock.held()).toBe(1);
    t.live.disconnect();
    clock.release();
    await flushPromises();
    expect(t.sources).toHaveLength(1);
    expect(t.live.status.value).toBe('closed');
  });
});

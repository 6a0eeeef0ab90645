// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { shallowRef, type Component } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import InvitePanel from '../src/components/InvitePanel.vue';
import { ApiError } from '../src/lib/api.js';
import { APP, createAppContext, type AppContext } from '../src/lib/context.js';
import { createJoin, inviteKind } from '../src/lib/join.js';
import type { ChangedEvent, PursuanceSummary } from '../src/lib/types.js';
import JoinPursuance from '../src/views/JoinPursuance.vue';
import { FakeEventSource, MemoryStorage, PID, cellRules, fakeFetch, members, pursuanceRoutes, roles, summary, task, type Call } from './support/fakes.js';

const TOKEN = 'T'.repeat(43);
const GROUP_INVITE = `tofubundle:${'QUJD'.repeat(20)}||torv3${'eyJHcm91cElEIjoiYWJjIn0='}`;

describe('inviteKind', () => {
  it('tells a group invite from the older invite string and from anything else', () => {
    expect(inviteKind(`  ${GROUP_INVITE}\n`)).toBe('group');
    expect(inviteKind(`pursuance-invite:1:${PID}:${'a'.repeat(56)}`)).toBe('legacy');
    expect(inviteKind('hello')).toBe('unknown');
    expect(inviteKind('tofubundle:abc')).toBe('unknown');
  });
});

describe('createJoin', () => {
  function deps(accept: () => Promise<{ pursuanceId: string }>) {
    const listeners = new Set<(e: ChangedEvent) => void>();
    const pursuances = shallowRef<readonly PursuanceSummary[]>([]);
    let onNode: PursuanceSummary[] = [];
    const d = {
      api: { acceptInvite: vi.fn(accept) },
      live: { onChanged: (l: (e: ChangedEvent) => void) => (listeners.add(l), () => listeners.delete(l)) },
      pursuances,
      refreshPursuances: vi.fn(() => {
        pursuances.value = onNode;
        return Promise.resolve();
      }),
    };
    return { d, listeners, arrive: (p: PursuanceSummary[]) => (onNode = p), emit: (e: ChangedEvent) => listeners.forEach((l) => l(e)) };
  }

  it('accepts, waits for the relay on `changed` events, and finishes once the pursuance is listed', async () => {
    const { d, listeners, arrive, emit } = deps(() => Promise.resolve({ pursuanceId: PID }));
    const join = createJoin(d, { pollMs: 60_000 });
    const done = join.accept(` ${GROUP_INVITE} `);
    await flushPromises();
    expect(d.api.acceptInvite).toHaveBeenCalledWith(GROUP_INVITE);
    expect(join.state.value).toEqual({ phase: 'waiting', pursuanceId: PID });
    emit({ pursuanceId: 'other', events: ['e'], origin: 'sync' });
    await flushPromises();
    expect(join.state.value.phase).toBe('waiting');
    arrive([summary()]);
    emit({ pursuanceId: PID, events: ['e'], origin: 'sync' });
    await done;
    expect(join.state.value).toMatchObject({ phase: 'joined', pursuanceId: PID, pursuance: { name: 'Cell 9' } });
    expect(listeners.size).toBe(0);
  });

  it('falls back to polling while no `changed` event comes', async () => {
    vi.useFakeTimers();
    try {
      const { d, arrive } = deps(() => Promise.resolve({ pursuanceId: PID }));
      const join = createJoin(d, { pollMs: 1_000 });
      const done = join.accept(GROUP_INVITE);
      await vi.advanceTimersByTimeAsync(0);
      expect(join.state.value.phase).toBe('waiting');
      arrive([summary()]);
      await vi.advanceTimersByTimeAsync(1_000);
      await done;
      expect(join.state.value.phase).toBe('joined');
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows the node’s refusal, and stops waiting when cancelled', async () => {
    const refused = deps(() => Promise.reject(new ApiError(400, 'BAD_INVITE', 'invalid group invite: needs exactly one separator')));
    const join = createJoin(refused.d);
    await join.accept(GROUP_INVITE);
    expect(join.state.value).toMatchObject({ phase: 'failed', error: { code: 'BAD_INVITE' } });

    const waiting = deps(() => Promise.resolve({ pursuanceId: PID }));
    const join2 = createJoin(waiting.d, { pollMs: 60_000 });
    const done = join2.accept(GROUP_INVITE);
    await flushPromises();
    join2.cancel();
    await done;
    expect(waiting.listeners.size).toBe(0);
    expect(join2.state.value.phase).toBe('waiting');
  });
});

const mounted: { unmount(): void }[] = [];
function mountWith(component: Component, ctx: AppContext, props: Record<string, unknown> = {}) {
  const w = mount(component as Component<Record<string, unknown>>, {
    props,
    global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.router, ctx.i18n] },
    attachTo: document.body,
  });
  mounted.push(w);
  return w;
}
afterEach(() => {
  for (const w of mounted.splice(0)) w.unmount();
});

async function app(routes: Record<string, (c: Call) => unknown>) {
  const f = fakeFetch(routes);
  const ctx = createAppContext({
    fetch: f.fetch,
    eventSource: (url) => new FakeEventSource(url),
    storage: new MemoryStorage(),
    window,
    history: createMemoryHistory(),
  });
  await ctx.connect(TOKEN);
  return { ctx, f };
}

describe('join view', () => {
  it('joins by group invite, says it is waiting for the relay, and opens the pursuance when it arrives', async () => {
    let listed: PursuanceSummary[] = [];
    const { ctx, f } = await app({
      'GET /api/node': () => ({ onion: 'b'.repeat(56) }),
      'GET /api/pursuances': () => listed,
      'POST /api/invites/accept': () => ({ pursuanceId: PID, status: 'joined' }),
    });
    await ctx.router.push('/join');
    const w = mountWith(JoinPursuance, ctx);
    const join = w.find('[data-testid="join-by-invite"]');
    expect(join.find('button[type="submit"]').attributes('disabled')).toBeDefined();
    await w.find('#group-invite').setValue('pursuance-invite:1:nope');
    expect(join.text()).toContain('This is not a group invite');
    await w.find('#group-invite').setValue(GROUP_INVITE);
    await join.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === '/api/invites/accept')?.body).toEqual({ invite: GROUP_INVITE });
    expect(w.find('[data-testid="join-waiting"]').text()).toContain('Waiting for the relay');
    expect(join.find('button[type="submit"]').text()).toBe('Waiting for the relay…');

    listed = [summary({ amFounder: false, myRoles: ['member'] })];
    FakeEventSource.last!.emit('changed', { pursuanceId: PID, events: ['e1'], origin: 'sync' });
    await flushPromises();
    // The navigation loads the pursuance views first (lazy routes).
    await vi.waitFor(() => expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/board`), { timeout: 20_000, interval: 20 });
    expect(w.find('[data-testid="join-done"]').text()).toContain('Open “Cell 9”');
  });

  it('shows the node’s refusal of an invite', async () => {
    const { ctx } = await app({
      'GET /api/node': () => ({ onion: 'b'.repeat(56) }),
      'GET /api/pursuances': () => [],
      'POST /api/invites/accept': () => ({ status: 400, body: { code: 'BAD_INVITE', message: 'relay bundle refused (BAD_SIGNATURE)' } }),
    });
    const w = mountWith(JoinPursuance, ctx);
    await w.find('#group-invite').setValue(GROUP_INVITE);
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(w.text()).toContain('relay bundle refused (BAD_SIGNATURE)');
    expect(w.find('[data-testid="join-waiting"]').exists()).toBe(false);
  });
});

describe('invite panel', () => {
  const state = () => ({ summary: summary(), tasks: [task()], members: members(), roles: roles(), rules: cellRules() });

  it('shows the group invite (copy and QR) when the pursuance is on a relay', async () => {
    const { ctx, f } = await app({ ...pursuanceRoutes(state()), [`GET /api/pursuances/${PID}/invite`]: () => ({ invite: GROUP_INVITE }) });
    const store = ctx.store(PID);
    const w = mountWith(InvitePanel, ctx, { store });
    await flushPromises();
    expect(f.calls.some((c) => c.path === `/api/pursuances/${PID}/invite`)).toBe(true);
    const group = w.find('[data-testid="group-invite"]');
    expect((group.find('textarea').element as HTMLTextAreaElement).value).toBe(GROUP_INVITE);
    expect(group.find('button').text()).toBe('Copy');
    expect(group.find('svg[aria-label="QR code of the group invite"]').exists()).toBe(true);
    expect(w.find('[data-testid="no-relay"]').exists()).toBe(false);
  });

  it('points to Health when the pursuance is on no relay yet, and keeps the manual invite', async () => {
    const routes = pursuanceRoutes(state());
    routes[`GET /api/pursuances/${PID}/sync`] = () => ({
      pursuanceId: PID,
      groupId: null,
      relay: null,
      relaySynced: false,
      groupMessages: 0,
      gaps: [],
      withheld: [],
      lastMessageAt: null,
    });
    const { ctx, f } = await app(routes);
    const w = mountWith(InvitePanel, ctx, { store: ctx.store(PID) });
    await flushPromises();
    expect(w.find('[data-testid="no-relay"]').text()).toContain('Attach it to a relay under Health');
    expect(w.find('[data-testid="no-relay"] a').attributes('href')).toBe(`/p/${PID}/health`);
    expect(f.calls.some((c) => c.path.endsWith('/invite'))).toBe(false);
    expect(w.find('details').attributes('open')).toBeDefined();
    expect(w.text()).toContain('Invite string');
  });
});

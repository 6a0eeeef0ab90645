// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { shallowRef, type Component } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import InvitePanel from '../src/components/InvitePanel.vue';
import { ApiError } from '../src/lib/api.js';
import { APP, createAppContext, type AppContext } from '../src/lib/context.js';
import { createJoin, inviteKind, linkFromHash } from '../src/lib/join.js';
import type { InvitesEvent } from '../src/lib/live.js';
import type { ChangedEvent, JoinInvite, JoinOutcome, JoinRequest, PursuanceSummary } from '../src/lib/types.js';
import JoinPursuance from '../src/views/JoinPursuance.vue';
import { FakeEventSource, MemoryStorage, PID, cellRules, fakeFetch, members, pursuanceRoutes, roles, summary, task, type Call } from './support/fakes.js';

const TOKEN = 'T'.repeat(43);
const GROUP_INVITE = `tofubundle:${'QUJD'.repeat(20)}||torv3${'eyJHcm91cElEIjoiYWJjIn0='}`;
const LINK = `pursuance-join:1:${'eyJwIjoiYWJjIn0'.repeat(8)}`;
const INVITER = 'c'.repeat(56);

describe('inviteKind', () => {
  it('tells a join link (alone, in an address or among words; only one) from a group invite, the older invite string and anything else', () => {
    expect(inviteKind(LINK)).toBe('link');
    expect(inviteKind(`Join us: http://127.0.0.1:7878/join#invite=${LINK}\n`)).toBe('link');
    expect(inviteKind(`${LINK} ${LINK}`)).toBe('unknown');
    expect(inviteKind('pursuance-join:1:')).toBe('unknown');
    expect(linkFromHash(`#invite=${LINK}`)).toBe(LINK);
    expect(linkFromHash(`#invite=${LINK}&token=x`)).toBeNull();
    expect(linkFromHash('#token=abc')).toBeNull();
    expect(inviteKind(`  ${GROUP_INVITE}\n`)).toBe('group');
    expect(inviteKind(`pursuance-invite:1:${PID}:${'a'.repeat(56)}`)).toBe('legacy');
    expect(inviteKind('hello')).toBe('unknown');
    expect(inviteKind('tofubundle:abc')).toBe('unknown');
  });
});

describe('createJoin', () => {
  function deps(accept: () => Promise<JoinOutcome>, requests: () => JoinRequest[] = () => []) {
    const listeners = new Set<(e: ChangedEvent) => void>();
    const inviteListeners = new Set<(e: InvitesEvent) => void>();
    const pursuances = shallowRef<readonly PursuanceSummary[]>([]);
    let onNode: PursuanceSummary[] = [];
    const d = {
      api: { acceptInvite: vi.fn(accept), joinRequests: vi.fn(() => Promise.resolve(requests())) },
      live: {
        onChanged: (l: (e: ChangedEvent) => void) => (listeners.add(l), () => listeners.delete(l)),
        onInvites: (l: (e: InvitesEvent) => void) => (inviteListeners.add(l), () => inviteListeners.delete(l)),
      },
      pursuances,
      refreshPursuances: vi.fn(() => {
        pursuances.value = onNode;
        return Promise.resolve();
      }),
    };
    return {
      d,
      listeners,
      inviteListeners,
      arrive: (p: PursuanceSummary[]) => (onNode = p),
      emit: (e: ChangedEvent) => listeners.forEach((l) => l(e)),
      answer: () => inviteListeners.forEach((l) => l({ pursuanceId: null })),
    };
  }

  const request = (status: JoinRequest['status'], code: JoinRequest['code'] = null): JoinRequest => ({
    pursuanceId: PID,
    pursuanceName: 'Cell 9',
    inviter: INVITER,
    inviterName: 'Ada',
    groupId: 'g',
    expiresAt: 2e12,
    sentAt: 1e12,
    status,
    code,
    updatedAt: 1e12,
  });

  it('asks by link, follows the inviter’s answers on `invites` notices, and finishes once the pursuance is listed', async () => {
    let answers: JoinRequest[] = [];
    const { d, listeners, inviteListeners, arrive, emit, answer } = deps(
      () => Promise.resolve({ pursuanceId: PID, status: 'requested' }),
      () => answers,
    );
    const join = createJoin(d, { pollMs: 60_000 });
    const done = join.accept(LINK);
    await flushPromises();
    expect(join.state.value).toEqual({ phase: 'asked', pursuanceId: PID, request: null });
    answers = [request('pending')];
    answer();
    await flushPromises();
    expect(join.state.value).toMatchObject({ phase: 'asked', request: { status: 'pending', inviterName: 'Ada' } });
    answers = [request('approved')];
    answer();
    await flushPromises();
    expect(join.state.value).toMatchObject({ phase: 'asked', request: { status: 'approved' } });
    arrive([summary()]);
    emit({ pursuanceId: PID, events: ['e'], origin: 'sync' });
    await done;
    expect(join.state.value).toMatchObject({ phase: 'joined', pursuanceId: PID });
    expect(listeners.size + inviteListeners.size).toBe(0);
  });

  it('stops at the inviter’s refusal, with its code', async () => {
    const { d, answer, inviteListeners } = deps(
      () => Promise.resolve({ pursuanceId: PID, status: 'requested' }),
      () => [request('refused', 'INVITE_USED')],
    );
    const join = createJoin(d, { pollMs: 60_000 });
    const done = join.accept(LINK);
    answer();
    await done;
    expect(join.state.value).toMatchObject({ phase: 'refused', request: { code: 'INVITE_USED' } });
    expect(inviteListeners.size).toBe(0);
  });

  it('accepts, waits for the relay on `changed` events, and finishes once the pursuance is listed', async () => {
    const { d, listeners, arrive, emit } = deps(() => Promise.resolve({ pursuanceId: PID, status: 'joined' }));
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
      const { d, arrive } = deps(() => Promise.resolve({ pursuanceId: PID, status: 'joined' }));
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

    const waiting = deps(() => Promise.resolve({ pursuanceId: PID, status: 'joined' }));
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
    expect(join.text()).toContain('This is neither an invite link');
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

describe('invite links', () => {
  const state = () => ({ summary: summary(), tasks: [task()], members: members(), roles: roles(), rules: cellRules() });
  const invite = (over: Partial<JoinInvite> = {}): JoinInvite => ({
    id: 'a'.repeat(32),
    pursuanceId: PID,
    createdAt: 1e12,
    expiresAt: 2e12,
    roles: ['member'],
    preApproved: false,
    state: 'open',
    requester: null,
    decidedAt: null,
    note: null,
    ...over,
  });

  it('makes a one-time link with the roles, pre-approval and expiry chosen, and shows it once with its QR code', async () => {
    let listed: JoinInvite[] = [];
    const { ctx, f } = await app({
      ...pursuanceRoutes(state()),
      [`GET /api/pursuances/${PID}/invite`]: () => ({ invite: GROUP_INVITE }),
      [`GET /api/pursuances/${PID}/join-invites`]: () => listed,
      [`POST /api/pursuances/${PID}/join-invites`]: () => {
        listed = [invite({ roles: ['member', 'organizer'], preApproved: true })];
        return { invite: listed[0], link: LINK, url: `http://127.0.0.1:7878/join#invite=${LINK}` };
      },
    });
    const w = mountWith(InvitePanel, ctx, { store: ctx.store(PID) });
    await flushPromises();
    const form = w.find('[data-testid="invite-link-form"]');
    // The least-ranked role is chosen by default.
    const boxes = form.findAll('fieldset input[type="checkbox"]');
    expect(boxes.map((b) => [(b.element as HTMLInputElement).value, (b.element as HTMLInputElement).checked])).toEqual([
      ['member', true],
      ['organizer', false],
    ]);
    await boxes[1]!.setValue(true);
    await w.find('[data-testid="invite-preapprove"]').setValue(true);
    expect(form.text()).toContain('Whoever uses this link first joins at once');
    await w.find('#invite-hours').setValue('24');
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `/api/pursuances/${PID}/join-invites`)?.body).toEqual({
      roles: ['member', 'organizer'],
      preApproved: true,
      expiresInHours: 24,
    });
    const shown = w.find('[data-testid="invite-link"]');
    expect(shown.findAll('textarea, input').map((e) => (e.element as HTMLInputElement).value)).toEqual([LINK, `http://127.0.0.1:7878/join#invite=${LINK}`]);
    expect(shown.find('svg[aria-label="QR code of the invite link"]').exists()).toBe(true);
    expect(shown.text()).toContain('cannot show it again');
    expect(w.find('[data-testid="invite-list"]').text()).toContain('pre-approved');
  });

  it('lets a person approve a waiting request with other roles, after saying what it grants — or refuse it', async () => {
    let listed = [invite({ state: 'requested', requester: { onion: 'd'.repeat(56), name: 'Noor', at: 1e12 } })];
    const { ctx, f } = await app({
      ...pursuanceRoutes(state()),
      [`GET /api/pursuances/${PID}/invite`]: () => ({ invite: GROUP_INVITE }),
      [`GET /api/pursuances/${PID}/join-invites`]: () => listed,
      [`POST /api/pursuances/${PID}/join-invites/${'a'.repeat(32)}/approve`]: () => {
        listed = [invite({ state: 'approved', roles: ['member', 'organizer'] })];
        return listed[0];
      },
    });
    const w = mountWith(InvitePanel, ctx, { store: ctx.store(PID) });
    await flushPromises();
    const row = w.find(`[data-testid="invite-request-${'a'.repeat(32)}"]`);
    expect(row.text()).toContain('Noor');
    await row.findAll('fieldset input[type="checkbox"]')[1]!.setValue(true);
    await row
      .findAll('button')
      .find((b) => b.text() === 'Approve…')!
      .trigger('click');
    const dialog = w.find('[data-testid="confirm-approve"]');
    expect(dialog.text()).toContain('Noor joins as Member, Organizer');
    expect(dialog.text()).toContain('keep what they have read');
    expect(f.calls.some((c) => c.path.endsWith('/approve'))).toBe(false);
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path.endsWith('/approve'))?.body).toEqual({ roles: ['member', 'organizer'] });
    expect(w.find('[data-testid="invite-requests"]').exists()).toBe(false);

    // A live notice for this pursuance refetches the list.
    listed = [invite({ id: 'b'.repeat(32), state: 'requested', requester: { onion: 'e'.repeat(56), name: null, at: 1e12 } })];
    FakeEventSource.last!.emit('invites', { pursuanceId: PID });
    await flushPromises();
    expect(w.find('[data-testid="invite-requests"]').text()).toContain('eeeeeeee');
  });

  it('fills Join in from an opened link, takes it out of the address, and follows the request to a refusal', async () => {
    let requests: JoinRequest[] = [];
    const { ctx, f } = await app({
      'GET /api/node': () => ({ onion: 'b'.repeat(56) }),
      'GET /api/pursuances': () => [],
      'POST /api/invites/accept': () => ({ pursuanceId: PID, status: 'requested' }),
      'GET /api/join-requests': () => requests,
    });
    await ctx.router.push(`/join#invite=${LINK}`);
    const w = mountWith(JoinPursuance, ctx);
    await flushPromises();
    expect((w.find('#group-invite').element as HTMLTextAreaElement).value).toBe(LINK);
    expect(ctx.router.currentRoute.value.hash).toBe('');
    // Nothing is sent until the person asks.
    expect(f.calls.some((c) => c.path === '/api/invites/accept')).toBe(false);
    const submit = w.find('[data-testid="join-by-invite"] button[type="submit"]');
    expect(submit.text()).toBe('Ask to join');
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === '/api/invites/accept')?.body).toEqual({ invite: LINK });
    expect(w.find('[data-testid="join-asked"]').text()).toContain('Asked');
    requests = [
      {
        pursuanceId: PID,
        pursuanceName: 'Cell 9',
        inviter: 'c'.repeat(56),
        inviterName: 'Ada',
        groupId: 'g',
        expiresAt: 2e12,
        sentAt: 1e12,
        status: 'refused',
        code: 'INVITE_REVOKED',
        updatedAt: 1e12,
      },
    ];
    FakeEventSource.last!.emit('invites', { pursuanceId: null });
    await flushPromises();
    expect(w.find('[data-testid="join-refused"]').text()).toContain('This invite link was withdrawn');
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('[data-testid="join-refused"]').text()).toContain('Este enlace de invitación fue retirado');
  });
});

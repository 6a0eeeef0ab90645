// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { reactive } from 'vue';
import { createMemoryHistory, RouterView } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import TokenGate from '../src/components/TokenGate.vue';
import { createAppContext } from '../src/lib/context.js';
import { emptyFilters } from '../src/lib/filters.js';
import type { Rules } from '../src/lib/rules-engine.js';
import { TOKEN_KEY } from '../src/lib/session.js';
import BoardView from '../src/views/BoardView.vue';
import HealthView from '../src/views/HealthView.vue';
import MembersView from '../src/views/MembersView.vue';
import NewTask from '../src/views/NewTask.vue';
import PursuanceView from '../src/views/PursuanceView.vue';
import RulesView from '../src/views/RulesView.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import { FakeEventSource, FOUNDER, MEMBER, MemoryStorage, PID, fakeFetch, summary, task } from './support/fakes.js';
import { TOKEN, mountWith, setupApp, unmountAll } from './support/app.js';

const setup = setupApp;
afterEach(unmountAll);

describe('token gate', () => {
  it('checks the shape, then the node, and keeps the token in session storage', async () => {
    const f = fakeFetch({
      'GET /api/node': (c) =>
        c.headers.authorization === `Bearer ${TOKEN}` ? { onion: FOUNDER } : { status: 401, body: { code: 'BAD_TOKEN', message: 'no' } },
      'GET /api/pursuances': () => [],
    });
    const storage = new MemoryStorage();
    const ctx = createAppContext({ fetch: f.fetch, eventSource: (url) => new FakeEventSource(url), storage, window, history: createMemoryHistory() });
    const w = mountWith(TokenGate, ctx);
    await w.find('#token').setValue('too-short');
    await w.find('form').trigger('submit');
    expect(w.find('[data-testid="token-error"]').text()).toContain('43 characters');
    expect(f.calls).toHaveLength(0);
    await w.find('#token').setValue('W'.repeat(43));
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('[data-testid="token-error"]').text()).toBe('The node refused this token.');
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    await w.find('#token').setValue(TOKEN);
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(storage.getItem(TOKEN_KEY)).toBe(TOKEN);
    expect(ctx.me.value).toBe(FOUNDER);
    expect(FakeEventSource.last?.url).toBe(`/api/stream?token=${TOKEN}`);
  });
});

describe('board', () => {
  it('shows a column per workflow status and offers only the moves the member may make', async () => {
    const { ctx, store, f } = await setup('member', {
      [`POST /api/pursuances/${PID}/tasks/${'a'.repeat(64)}/changes`]: () => ({ id: 'e', kind: 'task.status' }),
    });
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    expect(w.findAll('[data-testid="column"]').map((c) => c.attributes('data-status'))).toEqual(['open', 'in-progress', 'review', 'done', 'dropped']);
    const banner = w.find(`[data-task="${'a'.repeat(64)}"]`);
    expect(banner.attributes('draggable')).toBe('true');
    await banner.find('[data-testid="move-button"]').trigger('click');
    await flushPromises();
    // A member moves along the workflow but may not close (no done/dropped).
    const items = banner.findAll('[role="menuitem"]');
    expect(items.map((i) => i.attributes('data-target'))).toEqual(['review', 'open']);
    expect(document.activeElement).toBe(items[0]!.element);
    await items[0]!.trigger('keydown', { key: 'ArrowDown' });
    expect(document.activeElement).toBe(items[1]!.element);
    await items[0]!.trigger('click');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ op: 'status', to: 'review' });
  });

  it('counts tasks it cannot read without showing them, and filters locally', async () => {
    const { ctx, store, state } = await setup('member');
    state.tasks = [...state.tasks, task({ title: null, readable: false, status: null, audience: ['organizer'] })];
    await store.refresh();
    const filters = reactive(emptyFilters());
    const w = mountWith(BoardView, ctx, { store, filters });
    await flushPromises();
    expect(w.find('[data-testid="sealed-count"]').text()).toContain('1 task is sealed');
    expect(w.findAll('[data-testid="task-card"]')).toHaveLength(2);
    filters.search = 'banner';
    await flushPromises();
    expect(w.findAll('[data-testid="task-card"]').map((c) => c.find('h3').text())).toEqual(['Banner']);
    expect(w.find('[data-testid="filter-count"]').text()).toBe('1 of 2 tasks');
  });
});

describe('task detail', () => {
  it('hides what the member may not do, says why, and shows a refusal with its rule', async () => {
    const tid = 'b'.repeat(64);
    const { ctx, store } = await setup('member', {
      [`POST /api/pursuances/${PID}/tasks/${tid}/changes`]: () => ({
        status: 403,
        body: { code: 'DENIED', message: 'denied by rule: quiet hours', rule: 'quiet hours' },
      }),
    });
    const w = mountWith(TaskDetail, ctx, { store, taskId: tid });
    await flushPromises();
    expect(w.find('[data-testid="task-title"]').text()).toBe('Flyers');
    const buttons = w.findAll('button').map((b) => b.text());
    expect(buttons).toContain('Move to in progress');
    expect(buttons.some((b) => b.startsWith('Close as'))).toBe(false);
    expect(buttons).not.toContain('Edit');
    const denied = w.find('[data-testid="denied"]').text();
    expect(denied).toContain('close: denied by rule: only organizers close tasks');
    expect(denied).toContain('edit: no rule grants edit');
    // The comment form says who will read the comment before it is sent.
    const note = w.find('form[aria-label="Add a comment"] [data-testid="audience-note"]').text();
    expect(note).toContain('Visible to: Member');
    expect(note).toContain('2 people: you, ada');
    await w.find('#c-body').setValue('on it');
    await w.find('form[aria-label="Add a comment"]').trigger('submit');
    await flushPromises();
    expect(w.find('[data-testid="error-reason"]').text()).toBe('denied by rule: quiet hours');
    expect(w.find('[data-testid="error-rule"]').text()).toBe('quiet hours');
  });
});

describe('members', () => {
  it('locks the add form while a member is being added, then clears it for the next one', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const added: unknown[] = [];
    const { ctx, store, state } = await setup('founder', {
      [`POST /api/pursuances/${PID}/members`]: async (c) => {
        added.push(c.body);
        await held;
        const b = c.body as { onion: string; name?: string; roles: string[] };
        state.members = [...state.members, { onion: b.onion, name: b.name ?? null, roles: b.roles, founder: false }];
        return { id: 'e1', kind: 'member.add' };
      },
    });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    const onion = 'a'.repeat(56);
    const form = w.find('form[aria-labelledby="add-title"]');
    const locked = () => (form.find('fieldset.bare').element as HTMLFieldSetElement).disabled;
    await w.find('#m-onion').setValue(onion);
    await w.find('#m-name').setValue('ana');
    await form
      .findAll('input[type="checkbox"]')
      .find((c) => (c.element as HTMLInputElement).value === 'member')!
      .setValue(true);
    expect(locked()).toBe(false);
    await form.trigger('submit');
    // While the node works on it, nothing in the form can be changed (or lost by the reset).
    expect(locked()).toBe(true);
    expect(form.attributes('aria-busy')).toBe('true');
    release();
    await flushPromises();
    expect(w.find(`tr[data-member="${onion}"]`).text()).toContain('Member');
    expect(locked()).toBe(false);
    expect((w.find('#m-onion').element as HTMLInputElement).value).toBe('');
    expect((w.find('#m-name').element as HTMLInputElement).value).toBe('');
    expect(form.findAll('input[type="checkbox"]').some((c) => (c.element as HTMLInputElement).checked)).toBe(false);
    expect(added).toEqual([{ onion, name: 'ana', roles: ['member'] }]);
  });
});

describe('pursuance sections', () => {
  it('offers "New task" to a member who may create one, and not after their removal', async () => {
    const { ctx, store, state } = await setup('member');
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    expect(w.findComponent(PursuanceView).props()).toEqual({ id: PID });
    expect(w.findComponent(BoardView).props('store')).toBe(store);
    const links = () => w.findAll('nav[aria-label="Pursuance sections"] a').map((a) => a.text());
    expect(links()).toContain('New task');
    expect(w.find('[data-testid="not-member"]').exists()).toBe(false);
    state.members = state.members.filter((m) => m.onion !== MEMBER);
    state.summary = summary({ amFounder: false, myRoles: [] });
    await store.refresh();
    await flushPromises();
    expect(w.find('[data-testid="not-member"]').exists()).toBe(true);
    expect(links()).not.toContain('New task');
    expect(links()).toContain('Board');
  });
});

describe('new task', () => {
  it('offers only audiences the member may create for, and shows who will see it', async () => {
    const { ctx, store, f } = await setup('member', { [`POST /api/pursuances/${PID}/tasks`]: (c) => task({ title: (c.body as { title: string }).title }) });
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    const audience = w.findAll('input[name="audience"]');
    expect(audience.map((a) => (a.element as HTMLInputElement).value)).toEqual(['member']);
    expect(w.find('[data-testid="audience-note"]').text()).toContain('Choose who can see this');
    await audience[0]!.setValue(true);
    expect(w.find('[data-testid="visible-to"]').text()).toBe('Member');
    await w.find('#t-title').setValue('Paint the banner');
    await w.find('#t-labels').setValue('art, weekend, art');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ audience: ['member'], title: 'Paint the banner', labels: ['art', 'weekend'] });
  });
});

describe('rules', () => {
  it('shows a dry run of a rule change before it is signed', async () => {
    const { ctx, store } = await setup('founder');
    const w = mountWith(RulesView, ctx, { store });
    await flushPromises();
    expect(w.text()).toContain('may not close and reopen tasks of any role: only organizers close tasks');
    await w
      .findAll('button')
      .find((b) => b.text() === 'Propose a change…')!
      .trigger('click');
    const draft = JSON.parse((w.find('#rules-draft').element as HTMLTextAreaElement).value) as Rules;
    draft.roles.member!.cannot = [];
    draft.roles.member!.can.push({ subject: 'task', action: 'close', audience: ['member'] });
    await w.find('#rules-draft').setValue(JSON.stringify(draft));
    const dry = w.find('[data-testid="dry-run"]').text();
    expect(dry).toContain('gains: close and reopen tasks of Member');
    expect(w.find('[data-testid="dry-member"]').text()).toContain('mo');
    await w.find('#rules-draft').setValue('{ not json');
    expect(w.find('[data-testid="rules-invalid"]').text()).toMatch(/^not valid JSON/);
  });
});

describe('health', () => {
  it("shows the node's Tor status and follows it live: lost, then back with the outage counted", async () => {
    const status = {
      state: 'up',
      bootstrap: { progress: 100, summary: 'Done' },
      version: '0.4.9.11',
      circuitsOk: true,
      outages: 0,
      lastDownAt: null,
      lastUpAt: 1_000,
      lastError: null,
    };
    const { ctx, store } = await setup('founder', { 'GET /api/network': () => ({ kind: 'tor', status }) });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    const line = () => w.find('[data-testid="network-status"]').text();
    expect(line()).toBe('Tor 0.4.9.11: connected');
    expect(w.find('section[aria-labelledby="h-network"]').text()).toContain('circuits established');
    FakeEventSource.last!.emit('network', { ...status, state: 'down', circuitsOk: false, outages: 1, lastDownAt: 2_000, lastError: 'ACN_CONTROL' });
    await flushPromises();
    expect(line()).toBe('Tor 0.4.9.11: connection lost (ACN_CONTROL), reconnecting');
    FakeEventSource.last!.emit('network', { ...status, outages: 1, lastDownAt: 2_000, lastUpAt: 3_000 });
    await flushPromises();
    expect(line()).toBe('Tor 0.4.9.11: connected');
    expect(w.find('section[aria-labelledby="h-network"]').text()).toMatch(/1 outage since start, last lost .+, back since /);
  });

  it('says when the node runs on the loopback network, and when it reports no network at all', async () => {
    const loop = await setup('founder', { 'GET /api/network': () => ({ kind: 'loopback', status: null }) });
    const w = mountWith(HealthView, loop.ctx, { store: loop.store });
    await flushPromises();
    expect(w.find('[data-testid="network-status"]').text()).toMatch(/^loopback network/);
    const none = await setup('founder');
    const w2 = mountWith(HealthView, none.ctx, { store: none.store });
    await flushPromises();
    expect(w2.find('section[aria-labelledby="h-network"]').text()).toContain('not available from this node');
  });

  it('shows group sync status with gaps, and moves the group to another relay', async () => {
    const { ctx, store, f } = await setup('founder', { [`POST /api/pursuances/${PID}/relay/move`]: () => ({ groupId: 'h'.repeat(64), eventId: 'e' }) });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    expect(w.find('[data-testid="sync-status"]').text()).toContain('in sync with the relay');
    expect(w.find('[data-testid="gaps"]').text()).toBe(
      '2 detected and 1 message repaired from other members since this node started; 1 still missing, being repaired from other members',
    );
    expect(w.find('[data-testid="relay-connection"]').text()).toMatch(/^connected, in sync since /);
    expect(w.find('[data-testid="catch-up"]').text()).toMatch(/^from .+, in whole buckets of 60 minutes: the relay learns only that/);
    await w.find('#relay-bundle').setValue('new-relay-bundle');
    await w.find('form[aria-labelledby="h-relay"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')).toMatchObject({ path: `/api/pursuances/${PID}/relay/move`, body: { bundle: 'new-relay-bundle' } });
  });

  it('lists the group relay and its mirrors with what each lacks, adds a mirror and drops one', async () => {
    const { ctx, store, f } = await setup('founder', {
      [`POST /api/pursuances/${PID}/relay/mirrors`]: () => ({ groupId: 'i'.repeat(64), eventId: 'e' }),
      [`POST /api/pursuances/${PID}/relay/mirrors/drop`]: () => ({ eventId: 'd' }),
    });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    const lines = w.findAll('[data-testid="relay-links"] li').map((li) => li.text());
    expect(lines[0]).toMatch(/^Group aaaaaaaaaaaaaaaa…: connected; holds everything the others delivered$/);
    expect(lines[1]).toMatch(/^Mirror bbbbbbbbbbbbbbbb…: connected; lacks 3 events the others delivered\s*Drop this mirror$/);
    await w.find('#mirror-bundle').setValue('  new-mirror-bundle ');
    await w.find('form[aria-labelledby="h-mirror-add"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path.endsWith('/relay/mirrors'))).toMatchObject({ body: { bundle: 'new-mirror-bundle' } });
    expect((w.find('#mirror-bundle').element as HTMLInputElement).value).toBe('');
    await w.findAll('[data-testid="relay-links"] li button')[0]!.trigger('click');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path.endsWith('/relay/mirrors/drop'))).toMatchObject({ body: { bundle: 'bundle-b' } });
  });

  it('says when the relay connection was lost, and why', async () => {
    const status = {
      pursuanceId: PID,
      groupId: 'g'.repeat(64),
      relay: 'r',
      relaySynced: false,
      groupMessages: 3,
      gaps: [],
      withheld: [],
      lastMessageAt: 5,
      gapsDetected: 0,
      gapsRepaired: 0,
      catchUp: null,
      relays: [],
    };
    const sync: { lastSyncAt: number | null; lastDown: { at: number; code: string } | null } = {
      lastSyncAt: 1_000,
      lastDown: { at: 2_000, code: 'ECONNREFUSED' },
    };
    const { ctx, store } = await setup('founder', { [`GET /api/pursuances/${PID}/sync`]: () => ({ ...status, ...sync }) });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    expect(w.find('[data-testid="relay-connection"]').text()).toMatch(/^connection lost .+ \(ECONNREFUSED\): reconnecting$/);
    expect(w.find('[data-testid="catch-up"]').text()).toMatch(/^from the last message this node processed: this relay predates bucketed fetch/);
    expect(w.find('[data-testid="gaps"]').text()).toBe('none');
    sync.lastDown = null;
    sync.lastSyncAt = null;
    await store.refresh();
    await flushPromises();
    expect(w.find('[data-testid="relay-connection"]').text()).toBe('connecting: the relay is replaying the group');
  });

  it('offers to attach a pursuance that is in no group yet', async () => {
    const { ctx, store, f } = await setup('founder', {
      [`GET /api/pursuances/${PID}/sync`]: () => ({
        pursuanceId: PID,
        groupId: null,
        relay: null,
        relaySynced: false,
        groupMessages: 0,
        gaps: [],
        withheld: [],
        lastMessageAt: null,
        lastSyncAt: null,
        lastDown: null,
        gapsDetected: 0,
        gapsRepaired: 0,
        catchUp: null,
        relays: [],
      }),
      [`POST /api/pursuances/${PID}/relay/attach`]: () => ({ groupId: 'g'.repeat(64) }),
    });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    expect(w.find('[data-testid="sync-status"]').text()).toContain('not attached to a relay group yet');
    expect(w.find('#h-relay').text()).toBe('Attach to a relay');
    await w.find('#relay-bundle').setValue('relay-bundle');
    await w.find('form[aria-labelledby="h-relay"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')).toMatchObject({ path: `/api/pursuances/${PID}/relay/attach`, body: { bundle: 'relay-bundle' } });
  });
});

describe('live updates', () => {
  it('refetches a pursuance when the node says it changed, and announces it', async () => {
    const { ctx, store, state, f } = await setup('founder');
    const before = f.calls.filter((c) => c.path.endsWith('/tasks')).length;
    state.tasks = [...state.tasks, task({ title: 'From elsewhere' })];
    FakeEventSource.last!.emit('changed', { pursuanceId: PID, events: ['x'], origin: 'import' });
    await flushPromises();
    expect(f.calls.filter((c) => c.path.endsWith('/tasks')).length).toBe(before + 1);
    expect(store.tasks.value.map((t) => t.title)).toContain('From elsewhere');
    expect(ctx.announcer.polite.value).toContain('Cell 9: 1 new event (import).');
    expect(ctx.live.lastRemote[PID]).toBeTypeOf('number');
    void MEMBER;
  });

  it('refetches only the sync status when the node says its sync health changed', async () => {
    let synced = true;
    const { store, f } = await setup('founder', {
      [`GET /api/pursuances/${PID}/sync`]: () => ({
        pursuanceId: PID,
        groupId: 'g'.repeat(64),
        relay: 'r',
        relaySynced: synced,
        groupMessages: 1,
        gaps: [],
        withheld: [],
        lastMessageAt: 1,
        lastSyncAt: 1,
        lastDown: synced ? null : { at: 2, code: null },
        gapsDetected: 0,
        gapsRepaired: 0,
        catchUp: null,
        relays: [],
      }),
    });
    await store.want('sync');
    expect(store.sync.value?.relaySynced).toBe(true);
    const calls = f.calls.length;
    synced = false;
    FakeEventSource.last!.emit('sync', { pursuanceId: PID });
    await flushPromises();
    expect(store.sync.value).toMatchObject({ relaySynced: false, lastDown: { at: 2 } });
    expect(f.calls.slice(calls).map((c) => c.path)).toEqual([`/api/pursuances/${PID}/sync`]);
  });
});

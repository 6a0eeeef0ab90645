// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { reactive, type Component } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import { createActions, errorId } from '../src/lib/actions.js';
import { ApiError, NETWORK_MESSAGE } from '../src/lib/api.js';
import { APP, createAppContext, type AppContext } from '../src/lib/context.js';
import { emptyFilters } from '../src/lib/filters.js';
import { count, lengthNote } from '../src/lib/format.js';
import { LIMITS } from '../src/lib/limits.js';
import type { Rules } from '../src/lib/rules-engine.js';
import { statusTitle, workflowSummary } from '../src/lib/rules-text.js';
import BoardView from '../src/views/BoardView.vue';
import CreatePursuance from '../src/views/CreatePursuance.vue';
import HealthView from '../src/views/HealthView.vue';
import KeysView from '../src/views/KeysView.vue';
import MembersView from '../src/views/MembersView.vue';
import NewTask from '../src/views/NewTask.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import {
  FakeEventSource,
  MEMBER,
  MemoryStorage,
  PID,
  cellRules,
  fakeFetch,
  members,
  pursuanceRoutes,
  roles,
  summary,
  task,
  type Call,
} from './support/fakes.js';

const TOKEN = 'T'.repeat(43);
const P = `/api/pursuances/${PID}`;

async function setup(me: 'founder' | 'member', extra: Record<string, (c: Call) => unknown> = {}, fetchDown = false) {
  const state = {
    summary: me === 'founder' ? summary() : summary({ amFounder: false, myRoles: ['member'] }),
    tasks: [task({ id: 'a'.repeat(64), title: 'Banner', status: 'in-progress' }), task({ id: 'b'.repeat(64), title: 'Flyers' })],
    members: members(),
    roles: roles(),
    rules: cellRules(),
  };
  const f = fakeFetch({ ...pursuanceRoutes(state), ...extra });
  const down = { now: false };
  const fetch = (input: string, init?: RequestInit) => (down.now ? Promise.reject(new TypeError('Failed to fetch')) : f.fetch(input, init));
  const ctx = createAppContext({ fetch, eventSource: (url) => new FakeEventSource(url), storage: new MemoryStorage(), window, history: createMemoryHistory() });
  await ctx.connect(TOKEN);
  const store = ctx.store(PID);
  await store.want('tasks', 'summary', 'members', 'roles', 'rules');
  down.now = fetchDown;
  return { ctx, store, state, f, down };
}

const mounted: VueWrapper[] = [];
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

const button = (w: VueWrapper, text: string) => w.findAll('button').find((b) => b.text() === text)!;

describe('errors beside their control', () => {
  it('keeps a failure to the control that caused it, and marks the input the node named', () => {
    const a = createActions();
    a.fail('add-member', 'add the member', new ApiError(400, 'INVALID_REQUEST', 'Body "onion" must be an onion address.', undefined, { field: 'onion' }));
    expect(a.errorAt('add-member')?.code).toBe('INVALID_REQUEST');
    expect(a.errorAt('rotate:member')).toBeNull();
    expect(a.actionAt('add-member')).toBe('add the member');
    expect(a.fieldAttrs('add-member', 'onion')).toEqual({ 'aria-invalid': 'true', 'aria-describedby': errorId('add-member') });
    expect(a.fieldAttrs('add-member', 'name')).toEqual({});
    expect(a.fieldAttrs('other', 'onion')).toEqual({});
    expect(errorId('remove:ab c')).toBe('error-remove-ab-c');
  });

  it('shows a refused role removal in that member’s row, and a refused add beside the add form with the input marked', async () => {
    const { ctx, store } = await setup('founder', {
      [`DELETE ${P}/members/${MEMBER}/roles/member`]: () => ({ status: 409, body: { code: 'INVALID_STATE', message: 'They do not hold this role any more.' } }),
      [`POST ${P}/members`]: () => ({ status: 400, body: { code: 'INVALID_REQUEST', message: 'Body "onion" is not a node address.', field: 'onion' } }),
      [`GET ${P}/invite`]: () => ({ invite: 'tofubundle:x' }),
    });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await w.find(`tr[data-member="${MEMBER}"] button.chip-x`).trigger('click');
    await flushPromises();
    await w.find('[data-testid="confirm-take-role"] button[data-confirm]').trigger('click');
    await flushPromises();
    const notices = w.findAll('[data-testid="error"]');
    expect(notices).toHaveLength(1);
    // In the row of the member concerned, not at the top of the page.
    expect(w.find(`tr[data-member="${MEMBER}"] [data-testid="error"]`).exists()).toBe(true);
    expect(notices[0]!.find('[data-testid="error-reason"]').text()).toBe('They do not hold this role any more.');
    expect(notices[0]!.find('[data-testid="error-code"]').text()).toBe('INVALID_STATE');
    expect(notices[0]!.text()).toContain('Could not take the role Member from mo');

    await w.find('#m-onion').setValue('a'.repeat(56));
    await w.find('form[aria-labelledby="add-title"]').trigger('submit');
    await flushPromises();
    // The earlier notice is gone; the new one sits inside the add form, and describes the address input.
    expect(w.findAll('[data-testid="error"]')).toHaveLength(1);
    const notice = w.find('form[aria-labelledby="add-title"] [data-testid="error"]');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe('Body "onion" is not a node address.');
    const input = w.find('#m-onion');
    expect(input.attributes('aria-invalid')).toBe('true');
    expect(input.attributes('aria-describedby')).toBe(notice.attributes('id'));
    expect(w.find('#m-name').attributes('aria-invalid')).toBeUndefined();
  });

  it('shows a refused key rotation in the row of that role, with the rule', async () => {
    const { ctx, store } = await setup('founder', {
      [`POST ${P}/keys/rotate`]: () => ({
        status: 422,
        body: { code: 'DENIED', message: 'The rules of this pursuance do not let you do this.', rule: 'no rotation at night', detail: 'no rule grants rotate' },
      }),
    });
    const w = mountWith(KeysView, ctx, { store });
    await flushPromises();
    await w.find('tr[data-role="organizer"] button').trigger('click');
    await flushPromises();
    await w.find('[data-testid="confirm-rotate"] button[data-confirm]').trigger('click');
    await flushPromises();
    const notice = w.find('tr[data-role="organizer"] [data-testid="error"]');
    expect(notice.exists()).toBe(true);
    expect(w.find('tr[data-role="member"] [data-testid="error"]').exists()).toBe(false);
    expect(notice.find('[data-testid="error-rule"]').text()).toBe('no rotation at night');
    // The engine's own wording is one hover away, not in the sentence.
    expect(notice.find('[data-testid="error-code"]').attributes('title')).toBe('no rule grants rotate');
    expect(w.find('tr[data-role="organizer"] button').attributes('aria-describedby')).toBe(notice.attributes('id'));
  });

  it('shows a wrong relay bundle beside the Attach button and marks the bundle input', async () => {
    const { ctx, store } = await setup('founder', {
      [`GET ${P}/sync`]: () => ({
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
      [`POST ${P}/relay/attach`]: () => ({
        status: 400,
        body: { code: 'INVALID_BUNDLE', message: "This is not a valid relay bundle. Paste the relay's whole bundle.", field: 'bundle' },
      }),
    });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    await w.find('#relay-bundle').setValue('garbage');
    await w.find('form[aria-labelledby="h-relay"]').trigger('submit');
    await flushPromises();
    expect(w.findAll('[data-testid="error"]')).toHaveLength(1);
    const notice = w.find('form[aria-labelledby="h-relay"] [data-testid="error"]');
    expect(notice.find('[data-testid="error-reason"]').text()).toMatch(/^This is not a valid relay bundle/);
    expect(notice.text()).toContain('Could not attach to the relay');
    expect(w.find('#relay-bundle').attributes('aria-invalid')).toBe('true');
    expect(w.find('#relay-bundle').attributes('aria-describedby')).toBe(notice.attributes('id'));
  });

  it('says "Cannot reach your node" when the node is down, beside the comment form', async () => {
    const { ctx, store } = await setup('member', {}, true);
    const w = mountWith(TaskDetail, ctx, { store, taskId: 'b'.repeat(64) });
    await flushPromises();
    await w.find('#c-body').setValue('on it');
    await w.find('form[aria-label="Add a comment"]').trigger('submit');
    await flushPromises();
    const notice = w.find('form[aria-label="Add a comment"] [data-testid="error"]');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe(NETWORK_MESSAGE);
    expect(notice.find('[data-testid="error-code"]').text()).toBe('NETWORK');
    expect(notice.text()).not.toContain('Failed to fetch');
    // What was typed is kept for another try.
    expect((w.find('#c-body').element as HTMLTextAreaElement).value).toBe('on it');
  });

  it('shows a refused status move on the card that was moved', async () => {
    const tid = 'a'.repeat(64);
    const { ctx, store } = await setup('member', {
      [`POST ${P}/tasks/${tid}/changes`]: () => ({ status: 409, body: { code: 'INVALID_STATE', message: 'This task was closed meanwhile.' } }),
    });
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const card = () => w.find(`[data-task="${tid}"]`);
    await card().find('[data-testid="move-button"]').trigger('click');
    await card().findAll('[role="menuitem"]')[0]!.trigger('click');
    await flushPromises();
    expect(card().find('[data-testid="error-reason"]').text()).toBe('This task was closed meanwhile.');
    expect(w.findAll('[data-testid="error"]')).toHaveLength(1);
  });
});

describe('plurals', () => {
  it('words counts by the plural rules', () => {
    expect(count(0, 'comment', 'comments')).toBe('0 comments');
    expect(count(1, 'comment', 'comments')).toBe('1 comment');
    expect(count(2, 'comment', 'comments')).toBe('2 comments');
    expect(count(20_000, 'character', 'characters')).toBe('20,000 characters');
  });

  it('says "1 comment" and "2 comments" on the cards', async () => {
    const c = (id: string) => ({ id, author: MEMBER, authorName: 'mo', time: 1, body: 'x' });
    const { ctx, store, state } = await setup('member');
    state.tasks = [task({ title: 'One', comments: [c('c1')] }), task({ title: 'Two', comments: [c('c2'), c('c3')], children: ['x'] })];
    await store.refresh();
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const chips = (title: string) =>
      w
        .findAll('[data-testid="task-card"]')
        .find((x) => x.find('h3').text() === title)!
        .findAll('.chip')
        .map((x) => x.text());
    expect(chips('One')).toContain('1 comment');
    expect(chips('Two')).toContain('2 comments');
    expect(chips('Two')).toContain('1 subtask');
  });
});

describe('status titles', () => {
  it("uses the rules' title for a status where they give one, else the id in words", () => {
    const rules = cellRules();
    expect(statusTitle(rules, 'in-progress')).toBe('in progress');
    expect(statusTitle(rules, 'done')).toBe('done');
    const titled = { ...rules, workflow: { ...rules.workflow, titles: { 'in-progress': 'Being worked on' } } } as Rules;
    expect(statusTitle(titled, 'in-progress')).toBe('Being worked on');
    expect(statusTitle(titled, 'review')).toBe('review');
    expect(statusTitle(null, 'in-progress')).toBe('in progress');
    // The rules explained in words use the same titles.
    const wf = workflowSummary(titled);
    expect(wf.open).toEqual(['open', 'Being worked on', 'review']);
    expect(wf.moves).toContain('open → Being worked on');
  });

  it('shows the titles on the board and the task, and keeps the ids for the node', async () => {
    const { ctx, store, state, f } = await setup('member', { [`POST ${P}/tasks/${'b'.repeat(64)}/changes`]: () => ({ id: 'e', kind: 'task.status' }) });
    state.rules = { ...state.rules, workflow: { ...state.rules.workflow, titles: { 'in-progress': 'Being worked on' } } } as Rules;
    state.summary = { ...state.summary, rulesRevision: 1 };
    await store.refresh();
    const board = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const col = board.find('[data-testid="column"][data-status="in-progress"]');
    expect(col.find('h3').text()).toMatch(/^Being worked on/);
    expect(board.find('[data-testid="column"][data-status="open"] h3').text()).toMatch(/^open/);
    const detail = mountWith(TaskDetail, ctx, { store, taskId: 'a'.repeat(64) });
    await flushPromises();
    expect(detail.find('[data-testid="task-status"]').text()).toBe('Being worked on');
    const flyers = mountWith(TaskDetail, ctx, { store, taskId: 'b'.repeat(64) });
    await flushPromises();
    await button(flyers, 'Move to Being worked on').trigger('click');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ op: 'status', to: 'in-progress' });
  });
});

describe('length limits', () => {
  it('shows the limit, counts near it, and says how far over', () => {
    expect(lengthNote(10, 300)).toMatchObject({ show: false, over: false });
    expect(lengthNote(270, 300)).toEqual({ show: true, over: false, text: '30 characters left of 300' });
    expect(lengthNote(299, 300).text).toBe('1 character left of 300');
    expect(lengthNote(20_005, 20_000)).toEqual({ show: true, over: true, text: '5 characters over the limit of 20,000' });
  });

  it('never cuts a long title silently: it is kept whole, counted, and the task is not sent', async () => {
    const { ctx, store, f } = await setup('member', { [`POST ${P}/tasks`]: (c) => task({ title: (c.body as { title: string }).title }) });
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    await w.find('input[name="audience"]').setValue(true);
    const counter = () => w.findAll('[data-testid="char-count"]')[0]!;
    expect(counter().text()).toBe('up to 300 characters');
    expect(w.find('#t-title').attributes('maxlength')).toBeUndefined();
    await w.find('#t-title').setValue('x'.repeat(LIMITS.taskTitle + 1));
    expect((w.find('#t-title').element as HTMLInputElement).value).toHaveLength(301);
    expect(counter().text()).toBe('1 character over the limit of 300');
    expect(counter().classes()).toContain('over');
    expect(button(w, 'Create task').attributes('disabled')).toBeDefined();
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(f.calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    await w.find('#t-title').setValue('x'.repeat(LIMITS.taskTitle));
    expect(counter().text()).toBe('0 characters left of 300');
    expect(button(w, 'Create task').attributes('disabled')).toBeUndefined();
  });

  it('limits a pursuance name to 120 characters the same way', async () => {
    const { ctx } = await setup('founder', { 'GET /api/templates': () => [{ id: 'cell', rules: cellRules() }] });
    const w = mountWith(CreatePursuance, ctx);
    await flushPromises();
    await w.find('#p-name').setValue('n'.repeat(121));
    expect(w.findAll('[data-testid="char-count"]')[0]!.text()).toBe('1 character over the limit of 120');
    expect(button(w, 'Create pursuance').attributes('disabled')).toBeDefined();
  });
});

describe('the status line', () => {
  it('drops "N new events" when another page is shown', async () => {
    const { ctx } = await setup('founder');
    await ctx.router.push(`/p/${PID}/board`);
    FakeEventSource.last!.emit('changed', { pursuanceId: PID, events: ['x', 'y'], origin: 'relay' });
    await flushPromises();
    expect(ctx.announcer.polite.value).toContain('Cell 9: 2 new events (relay).');
    await ctx.router.push(`/p/${PID}/board`);
    expect(ctx.announcer.polite.value).toContain('2 new events');
    await ctx.router.push(`/p/${PID}/members`);
    expect(ctx.announcer.polite.value).toBe('');
  });
});

describe('sealed tasks on the board', () => {
  it('are locked cards naming who they are sealed to, without their content', async () => {
    const { ctx, store, state } = await setup('member');
    const sealedId = 'c'.repeat(64);
    state.tasks = [...state.tasks, task({ id: sealedId, title: null, body: null, readable: false, status: null, audience: ['organizer'] })];
    await store.refresh();
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const cards = w.findAll('[data-testid="sealed-card"]');
    expect(cards).toHaveLength(1);
    expect(cards[0]!.attributes('data-task')).toBe(sealedId);
    expect(cards[0]!.find('h4').text()).toBe('🔒 Sealed to Organizer');
    expect(cards[0]!.find('a').attributes('href')).toBe(`/p/${PID}/tasks/${sealedId}`);
    expect(w.find('[data-testid="sealed-count"]').text()).toContain('1 task is sealed');
    // Readable cards are unchanged; a sealed one is never counted among them.
    expect(w.findAll('[data-testid="task-card"]')).toHaveLength(2);
  });
});

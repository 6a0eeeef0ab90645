// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import PersonName from '../src/components/PersonName.vue';
import ProfileName from '../src/components/ProfileName.vue';
import CreatePursuance from '../src/views/CreatePursuance.vue';
import HealthView from '../src/views/HealthView.vue';
import MembersView from '../src/views/MembersView.vue';
import PursuanceList from '../src/views/PursuanceList.vue';
import PursuanceView from '../src/views/PursuanceView.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import type { RelayModel } from '../src/lib/types.js';
import { FOUNDER, MEMBER, OTHER, PID, cellRules, summary, task, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);
const P = `/api/pursuances/${PID}`;
const writes = (calls: Call[]) => calls.filter((c) => c.method !== 'GET');

describe('PersonName', () => {
  it('shows the name, the full address on hover and on click', async () => {
    const { ctx } = await setupApp('founder');
    const w = mountWith(PersonName, ctx, { onion: MEMBER, name: 'mo' });
    const b = w.find('button');
    expect(b.text()).toBe('mo');
    expect(b.attributes('title')).toBe(MEMBER);
    expect(w.find('[data-testid="person-onion"]').exists()).toBe(false);
    await b.trigger('click');
    expect(b.attributes('aria-expanded')).toBe('true');
    expect(w.find('[data-testid="person-onion"]').text()).toBe(MEMBER);
  });

  it('falls back to the short address when there is no name', async () => {
    const { ctx } = await setupApp('founder');
    const w = mountWith(PersonName, ctx, { onion: OTHER, name: null });
    expect(w.text()).toBe(`${OTHER.slice(0, 8)}…${OTHER.slice(-4)}`);
  });
});

describe('names in the views', () => {
  it('members list: each member by name, the address one click away', async () => {
    const { ctx, store } = await setupApp('founder');
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    const row = w.find(`tr[data-member="${MEMBER}"] th`);
    expect(row.find('.person-name').text()).toBe('mo');
    // No onion fragment in the row until asked for.
    expect(row.text()).not.toContain(MEMBER.slice(0, 8));
    await row.find('button.person-name').trigger('click');
    expect(row.find('[data-testid="person-onion"]').text()).toBe(MEMBER);
  });

  it('task detail: author, assignees, comments and history carry names; the event’s own name first', async () => {
    const tid = 'e'.repeat(64);
    const { ctx, store, state } = await setupApp('founder');
    state.tasks.push(
      task({
        id: tid,
        title: 'Posters',
        createdBy: MEMBER,
        createdByName: 'mo',
        assignees: { members: [MEMBER, OTHER], roles: ['member'] },
        comments: [{ id: 'c1', author: OTHER, authorName: 'cy', time: 1, body: 'hello' }],
      }),
    );
    // The history comes with the task read whole, not with the list.
    state.histories[tid] = [{ id: 'h1', kind: 'task.create', author: MEMBER, authorName: 'mo', time: 1 }];
    await store.refresh();
    const w = mountWith(TaskDetail, ctx, { store, taskId: tid });
    await flushPromises();
    expect(w.find('.facts dd').text()).toMatch(/^mo, /);
    const assignees = w.find('[data-testid="assignees"]');
    expect(assignees.text().replace(/\s+/g, ' ')).toBe(`mo, ${OTHER.slice(0, 8)}…${OTHER.slice(-4)}, role Member`);
    expect(w.find('[data-testid="comments"] .person-name').text()).toBe('cy');
    expect(w.find('[data-testid="history"] .person-name').text()).toBe('mo');
  });

  it('feed: each event by its author’s name', async () => {
    const { ctx, store } = await setupApp('founder', {
      [`GET ${P}/feed`]: () => [{ id: 'f1', kind: 'task.create', author: MEMBER, authorName: 'mo', time: 1, accepted: true, rejection: null }],
      [`GET ${P}/own-rejections`]: () => [],
      'GET /api/network': () => ({ kind: 'loopback', status: null }),
      'GET /api/profile': () => ({ onion: FOUNDER, name: 'ada' }),
    });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    expect(w.find('.feed .person-name').text()).toBe('mo');
  });
});

describe('your name', () => {
  it('loads the name, saves a new one and lists the pursuances that refused it', async () => {
    const { ctx, f } = await setupApp('founder', {
      'GET /api/profile': () => ({ onion: FOUNDER, name: null }),
      'PUT /api/profile': (c) => ({
        onion: FOUNDER,
        name: (c.body as { name: string }).name,
        pursuances: [
          { pursuanceId: PID, status: 'refused', code: 'NOT_A_MEMBER', message: 'You are no longer a member there.' },
          { pursuanceId: '2'.repeat(64), status: 'renamed', eventId: 'e'.repeat(64) },
        ],
      }),
    });
    const w = mountWith(ProfileName, ctx);
    await flushPromises();
    const save = w.find('button[type="submit"]');
    expect(save.attributes('disabled')).toBeDefined();
    await w.find('#profile-name-input').setValue('  Ada  ');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(writes(f.calls).map((c) => c.body)).toEqual([{ name: 'Ada' }]);
    const refused = w.find('[data-testid="profile-refused"]').text();
    expect(refused).toContain('Cell 9: You are no longer a member there.');
    expect(refused).not.toContain('2222');
  });

  it('keeps a name typed before the node answered with the current one', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const { ctx } = await setupApp('founder', {
      'GET /api/profile': async () => {
        await answered;
        return { onion: FOUNDER, name: 'ada' };
      },
    });
    const w = mountWith(ProfileName, ctx);
    await w.find('#profile-name-input').setValue('Fatima');
    answer();
    await flushPromises();
    expect((w.find('#profile-name-input').element as HTMLInputElement).value).toBe('Fatima');
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeUndefined();
  });

  it('shows a refusal beside the field and marks it', async () => {
    const { ctx } = await setupApp('founder', {
      'GET /api/profile': () => ({ onion: FOUNDER, name: 'ada' }),
      'PUT /api/profile': () => ({ status: 400, body: { code: 'INVALID_NAME', message: 'A name cannot contain line breaks.', field: 'name' } }),
    });
    const w = mountWith(ProfileName, ctx);
    await flushPromises();
    expect((w.find('#profile-name-input').element as HTMLInputElement).value).toBe('ada');
    await w.find('#profile-name-input').setValue('x y');
    await w.find('form').trigger('submit');
    await flushPromises();
    const notice = w.find('[data-testid="error"]');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe('A name cannot contain line breaks.');
    expect(w.find('#profile-name-input').attributes('aria-invalid')).toBe('true');
    expect(w.find('#profile-name-input').attributes('aria-describedby')).toBe(notice.attributes('id'));
  });
});

const relay = (over: Partial<RelayModel> = {}): RelayModel => ({
  boardOnion: 'r'.repeat(56),
  bundle: 'tofubundle:known',
  pursuances: [{ id: PID, name: 'Cell 9' }],
  synced: true,
  lastSyncAt: 5,
  lastDown: null,
  ...over,
});
const created = (attachError: { code: string; message: string } | null) => ({
  ...summary({ id: '9'.repeat(64), name: 'New cell', attached: !attachError }),
  attachError,
});

describe('relays when creating a pursuance', () => {
  async function create(relays: RelayModel[], answer: (c: Call) => unknown) {
    const s = await setupApp('founder', {
      'GET /api/templates': () => [{ id: 'activist-cell', rules: cellRules() }],
      'GET /api/relays': () => relays,
      'POST /api/pursuances': answer,
    });
    const push = vi.spyOn(s.ctx.router, 'push');
    const w = mountWith(CreatePursuance, s.ctx);
    await flushPromises();
    await w.find('#p-name').setValue('New cell');
    return { ...s, w, push };
  }
  const posted = (calls: Call[]) => writes(calls).map((c) => c.body as Record<string, unknown>);

  it('offers the relays the node knows, the first chosen, and sends its bundle', async () => {
    const { w, f, push } = await create([relay(), relay({ boardOnion: 's'.repeat(56), bundle: 'tofubundle:other', pursuances: [] })], () => created(null));
    const radios = w.findAll('input[name="relay"]');
    expect(radios.map((r) => (r.element as HTMLInputElement).value)).toEqual(['tofubundle:known', 'tofubundle:other', 'paste', 'none']);
    expect((radios[0]!.element as HTMLInputElement).checked).toBe(true);
    expect(w.find('[data-testid="relay-choice"]').text()).toContain('used by Cell 9');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(posted(f.calls)[0]).toMatchObject({ name: 'New cell', template: 'activist-cell', relay: 'tofubundle:known' });
    expect(push).toHaveBeenCalledWith(`/p/${'9'.repeat(64)}/board`);
  });

  it('sends a pasted bundle, and none at all for "no relay"', async () => {
    const { w, f } = await create([], () => created(null));
    expect((w.find('input[value="none"]').element as HTMLInputElement).checked).toBe(true);
    await w.find('input[value="paste"]').setValue(true);
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeDefined();
    await w.find('#p-relay').setValue('  tofubundle:pasted \n');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(posted(f.calls)[0]!.relay).toBe('tofubundle:pasted');

    const again = await create([relay()], () => created(null));
    await again.w.find('input[value="none"]').setValue(true);
    await again.w.find('form').trigger('submit');
    await flushPromises();
    expect('relay' in posted(again.f.calls)[0]!).toBe(false);
  });

  it('says "created, but not on the relay" with the reason, and stays with links on', async () => {
    const { w, push } = await create([relay()], () => ({ status: 201, body: created({ code: 'RELAY_UNREACHABLE', message: 'The relay did not answer.' }) }));
    await w.find('form').trigger('submit');
    await flushPromises();
    const off = w.find('[data-testid="created-off-relay"]');
    expect(off.text()).toContain('Created, but not on the relay: The relay did not answer.');
    expect(off.findAll('a').map((a) => a.attributes('href'))).toEqual([`/p/${'9'.repeat(64)}/health`, `/p/${'9'.repeat(64)}/board`]);
    expect(push).not.toHaveBeenCalled();
  });

  it('marks a bad pasted bundle when the node names the field', async () => {
    const { w } = await create([], () => ({ status: 400, body: { code: 'INVALID_BUNDLE', message: 'This is not a relay bundle.', field: 'relay' } }));
    await w.find('input[value="paste"]').setValue(true);
    await w.find('#p-relay').setValue('garbage');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('[data-testid="error-reason"]').text()).toBe('This is not a relay bundle.');
    expect(w.find('#p-relay').attributes('aria-invalid')).toBe('true');
  });
});

describe('not on a relay', () => {
  it('is said on the list and on the pursuance page, with a link to Health, and not once attached', async () => {
    const { ctx, state } = await setupApp('founder', { 'GET /api/profile': () => ({ onion: FOUNDER, name: 'ada' }) });
    await ctx.router.push('/');
    const list = mountWith(PursuanceList, ctx);
    await flushPromises();
    const badge = list.find('[data-testid="not-on-relay"]');
    expect(badge.text()).toBe('Not on a relay — nothing syncs');
    expect(badge.attributes('href')).toBe(`/p/${PID}/health`);

    await ctx.router.push(`/p/${PID}/board`);
    const page = mountWith(PursuanceView, ctx, { id: PID });
    await flushPromises();
    expect(page.find('[data-testid="not-on-relay"]').exists()).toBe(true);

    state.summary = { ...state.summary, attached: true };
    await ctx.refreshPursuances();
    await ctx.store(PID).refresh();
    await flushPromises();
    expect(list.find('[data-testid="not-on-relay"]').exists()).toBe(false);
    expect(page.find('[data-testid="not-on-relay"]').exists()).toBe(false);
  });
});

// @vitest-environment happy-dom
import { flushPromises, type DOMWrapper, type VueWrapper } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { outsideAudience } from '../src/lib/audience.js';
import type { Rules } from '../src/lib/rules-engine.js';
import KeysView from '../src/views/KeysView.vue';
import MembersView from '../src/views/MembersView.vue';
import NewTask from '../src/views/NewTask.vue';
import RulesView from '../src/views/RulesView.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import { FOUNDER, MEMBER, OTHER, PID, members, task, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);

const P = `/api/pursuances/${PID}`;
const ok = () => ({ id: 'e'.repeat(64), kind: 'x' });
const button = (w: VueWrapper | DOMWrapper<Element>, name: string) => {
  const b = w.findAll('button').find((x) => x.text() === name || x.attributes('aria-label') === name);
  if (!b) throw new Error(`no button "${name}"`);
  return b;
};
const writes = (calls: Call[]) => calls.filter((c) => c.method !== 'GET');
const dialog = (w: VueWrapper) => w.find('[role="dialog"]');

describe('confirmation before security actions', () => {
  it('taking a role away: says what they keep, Escape cancels with nothing sent and focus restored, confirm sends', async () => {
    const { ctx, store, f } = await setupApp('founder', { [`DELETE ${P}/members/${MEMBER}/roles/member`]: ok });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    const take = button(w, 'Take role Member from mo');
    (take.element as HTMLElement).focus();
    await take.trigger('click');
    await flushPromises();
    const d = dialog(w);
    expect(d.exists()).toBe(true);
    expect(d.attributes('aria-modal')).toBe('true');
    expect(document.getElementById(d.attributes('aria-labelledby')!)!.textContent).toBe('Take the role Member from mo?');
    expect(document.getElementById(d.attributes('aria-describedby')!)!.textContent).toContain(
      'mo keeps everything they have already read as Member; the key of Member is rotated so they read nothing new sealed to it.',
    );
    // Focus moved into the dialog (onto Cancel, the safe choice).
    expect(d.element.contains(document.activeElement)).toBe(true);
    expect(document.activeElement!.textContent).toBe('Cancel');
    await d.trigger('keydown', { key: 'Escape' });
    await flushPromises();
    expect(dialog(w).exists()).toBe(false);
    expect(document.activeElement).toBe(take.element);
    expect(writes(f.calls)).toEqual([]);

    await button(w, 'Take role Member from mo').trigger('click');
    await flushPromises();
    await button(dialog(w), 'Take the role away').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => `${c.method} ${c.path}`)).toEqual([`DELETE ${P}/members/${MEMBER}/roles/member`]);
    expect(dialog(w).exists()).toBe(false);
  });

  it('keeps the dialog open with the refusal inside it when the node refuses', async () => {
    const { ctx, store } = await setupApp('founder', {
      [`DELETE ${P}/members/${MEMBER}/roles/member`]: () => ({ status: 409, body: { code: 'LAST_HOLDER', message: 'mo is the last holder' } }),
    });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await button(w, 'Take role Member from mo').trigger('click');
    await flushPromises();
    await button(dialog(w), 'Take the role away').trigger('click');
    await flushPromises();
    expect(dialog(w).find('[data-testid="error-reason"]').text()).toBe('mo is the last holder');
    // Shown once, in the dialog: not a second time in the row behind it.
    expect(w.find('[data-testid="members"]').findAll('[data-testid="error"]')).toHaveLength(1);
  });

  it('giving a role whose history is "all" is confirmed with what it opens; a since-join role is given at once', async () => {
    const { ctx, store, f, state } = await setupApp('founder', { [`POST ${P}/members/${MEMBER}/roles`]: ok });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await w.find(`#assign-${MEMBER}`).setValue('organizer');
    await w.find(`tr[data-member="${MEMBER}"] form.inline`).trigger('submit');
    await flushPromises();
    expect(dialog(w).text()).toContain('mo can read the whole history sealed to Organizer');
    expect(writes(f.calls)).toEqual([]);
    await button(dialog(w), 'Give the role Organizer').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => c.body)).toEqual([{ role: 'organizer' }]);

    // The same role reading only what comes after joining: nothing to warn about.
    const rules = JSON.parse(JSON.stringify(state.rules)) as { roles: Record<string, { history: string }> };
    rules.roles.organizer!.history = 'since-join';
    state.rules = rules as unknown as Rules;
    state.summary = { ...state.summary, rulesRevision: 1 };
    await store.refresh();
    await w.find(`#assign-${MEMBER}`).setValue('organizer');
    await w.find(`tr[data-member="${MEMBER}"] form.inline`).trigger('submit');
    await flushPromises();
    expect(dialog(w).exists()).toBe(false);
    expect(writes(f.calls)).toHaveLength(2);
  });

  it('removing a member: states the consequence, the confirm button names the person, the reason is sent', async () => {
    const { ctx, store, f } = await setupApp('founder', { [`DELETE ${P}/members/${MEMBER}`]: ok });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await button(w, 'Remove…').trigger('click');
    await flushPromises();
    const d = dialog(w);
    expect(d.find('[data-testid="remove-consequence"]').text()).toBe(
      'They keep everything they have already read; the keys of their roles are rotated so they read nothing new.',
    );
    // Focus lands on the reason field, the first thing to fill in.
    expect(document.activeElement).toBe(d.find(`#reason-${MEMBER}`).element);
    expect(d.find('[data-testid="confirm-remove"]').text()).toBe('Remove mo');
    await d.find(`#reason-${MEMBER}`).setValue('moved away');
    await d.find('[data-testid="confirm-remove"]').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => [c.method, c.path, c.body])).toEqual([['DELETE', `${P}/members/${MEMBER}`, { reason: 'moved away' }]]);
  });

  it('rotating a key is confirmed, and Tab stays inside the dialog', async () => {
    const { ctx, store, f } = await setupApp('founder', { [`POST ${P}/keys/rotate`]: ok });
    const w = mountWith(KeysView, ctx, { store });
    await flushPromises();
    await button(w, 'Rotate the key of Member').trigger('click');
    await flushPromises();
    const d = dialog(w);
    expect(d.text()).toContain('Anything sealed to Member from now on uses it');
    const confirm = button(d, 'Rotate the key');
    const cancel = button(d, 'Cancel');
    // From the last control, Tab wraps to the first rather than leaving the dialog.
    (cancel.element as HTMLElement).focus();
    await d.trigger('keydown', { key: 'Tab' });
    expect(document.activeElement).toBe(confirm.element);
    expect(writes(f.calls)).toEqual([]);
    await confirm.trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => c.body)).toEqual([{ roles: ['member'] }]);
  });

  it('publishing a rule change is confirmed with the gist of the dry run', async () => {
    const { ctx, store, f } = await setupApp('founder', { [`PUT ${P}/rules`]: ok });
    const w = mountWith(RulesView, ctx, { store });
    await flushPromises();
    await button(w, 'Propose a change…').trigger('click');
    const draft = JSON.parse((w.find('#rules-draft').element as HTMLTextAreaElement).value) as Rules;
    draft.roles.member!.cannot = [];
    draft.roles.member!.can.push({ subject: 'task', action: 'close', audience: ['member'] });
    await w.find('#rules-draft').setValue(JSON.stringify(draft));
    await button(w, 'Sign and publish').trigger('click');
    await flushPromises();
    expect(dialog(w).text()).toContain('1 member gains permissions and 0 members lose some');
    expect(writes(f.calls)).toEqual([]);
    await button(dialog(w), 'Cancel').trigger('click');
    expect(dialog(w).exists()).toBe(false);
    await button(w, 'Sign and publish').trigger('click');
    await button(dialog(w), 'Publish the new rules').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => `${c.method} ${c.path}`)).toEqual([`PUT ${P}/rules`]);
  });
});

describe('assigning outside the audience', () => {
  it('lists exactly the picked members who hold none of the audience roles', () => {
    const ms = [...members(), { onion: OTHER, name: null, roles: [], founder: false }];
    expect(outsideAudience(ms, ['organizer'], [FOUNDER, MEMBER, OTHER])).toEqual([MEMBER, OTHER]);
    expect(outsideAudience(ms, ['member', 'organizer'], [FOUNDER, MEMBER])).toEqual([]);
    expect(outsideAudience(ms, ['member'], [])).toEqual([]);
  });

  it('warns in the task detail but still sends the assignment', async () => {
    const tid = 'd'.repeat(64);
    const { ctx, store, f, state } = await setupApp('founder', { [`POST ${P}/tasks/${tid}/changes`]: ok });
    state.tasks.push(task({ id: tid, title: 'Budget', audience: ['organizer'] }));
    await store.refresh();
    const w = mountWith(TaskDetail, ctx, { store, taskId: tid });
    await flushPromises();
    await button(w, 'Change assignees').trigger('click');
    const form = w.find('form[aria-label="Assignees"]');
    expect(form.find('[data-testid="assign-warning"]').exists()).toBe(false);
    await form.find(`input[value="${MEMBER}"]`).setValue(true);
    expect(form.find('[data-testid="assign-warning"]').text()).toBe('mo cannot read this task: they hold none of its roles.');
    await form.trigger('submit');
    await flushPromises();
    expect(writes(f.calls).map((c) => c.body)).toEqual([{ op: 'assign', add: { members: [MEMBER], roles: [] }, remove: { members: [], roles: [] } }]);
  });

  it('warns in the new task form once an audience is chosen', async () => {
    const { ctx, store } = await setupApp('founder');
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    await w.find(`input[name="assign-member"][value="${MEMBER}"]`).setValue(true);
    expect(w.find('[data-testid="assign-warning"]').exists()).toBe(false);
    const organizer = w
      .findAll('input[type="checkbox"]')
      .find((i) => (i.element as HTMLInputElement).value === 'organizer' && i.attributes('name') !== 'assign-role');
    await organizer!.setValue(true);
    expect(w.find('[data-testid="assign-warning"]').text()).toBe('mo cannot read this task: they hold none of its roles.');
  });
});

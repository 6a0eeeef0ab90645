// @vitest-environment happy-dom
/**
 * Tips (write-only submissions): the form offers exactly the roles this member may submit to and
 * whose current key can take a tip (public halves published, the holders' own, no rotation
 * due), sends them to …/submissions and opens the tip's page; the tab appears only then; tips
 * carry a badge; a planted key raises an alarm wherever keys are shown.
 */
import { flushPromises } from '@vue/test-utils';
import { RouterView } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import TaskCard from '../src/components/TaskCard.vue';
import { RulesSchema, type Capability, type Rules } from '../src/lib/rules-engine.js';
import { describeCapability } from '../src/lib/rules-text.js';
import type { RoleModel } from '../src/lib/types.js';
import HealthView from '../src/views/HealthView.vue';
import KeysView from '../src/views/KeysView.vue';
import PursuanceView from '../src/views/PursuanceView.vue';
import SubmitTip from '../src/views/SubmitTip.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import { createDashboardI18n } from '../src/i18n/index.js';
import { FOUNDER, MEMBER, PID, roleModel, summary, task, tipRules, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);

const P = `/api/pursuances/${PID}`;
const TIP = 'd'.repeat(64);

/** The newsroom's keys: two inboxes ready, one planted, one never published public halves, the desk ready. */
function tipRoles(over: Record<string, Partial<RoleModel>> = {}): RoleModel[] {
  const base: Record<string, Partial<RoleModel>> = {
    hotline: { rank: 350, holders: [FOUNDER], iHoldKey: false },
    tips: { rank: 300, holders: [FOUNDER], iHoldKey: false },
    legal: { rank: 250, holders: [FOUNDER], plantedKey: true },
    archive: { rank: 220, holders: [FOUNDER], publicKey: false },
    desk: { rank: 200, holders: [FOUNDER, MEMBER] },
  };
  const titles: Record<string, string> = { hotline: 'Hotline', tips: 'Tips', legal: 'Legal', archive: 'Archive', desk: 'Desk' };
  return Object.entries(base).map(([id, b]) => roleModel(id, titles[id] ?? id, { ...b, ...over[id] }));
}

/** The fixture's member, holding `myRoles` under the newsroom rules (a source and a reporter by default). */
async function newsroom(opts: { myRoles?: string[]; roles?: RoleModel[]; rules?: Rules; extra?: Record<string, (c: Call) => unknown> } = {}) {
  const app = await setupApp('member', opts.extra);
  app.state.rules = opts.rules ?? tipRules();
  app.state.roles = opts.roles ?? tipRoles();
  app.state.summary = summary({ amFounder: false, myRoles: opts.myRoles ?? ['source', 'reporter'], rulesRevision: 1 });
  app.state.members = [
    { onion: FOUNDER, name: 'ada', roles: ['editor', 'tips', 'hotline', 'legal', 'archive', 'desk'], founder: true },
    { onion: MEMBER, name: 'mo', roles: opts.myRoles ?? ['source', 'reporter'], founder: false },
  ];
  await app.store.refresh();
  return app;
}

const offered = (w: ReturnType<typeof mountWith>) => w.findAll('input[name="audience"]').map((i) => (i.element as HTMLInputElement).value);

describe('the tip form', () => {
  it('offers no role this member already holds: a holder writes a task there, which stays readable to them', async () => {
    const { ctx, store } = await newsroom({ myRoles: ['source', 'reporter', 'tips'] });
    const w = mountWith(SubmitTip, ctx, { store });
    await flushPromises();
    expect(offered(w)).toEqual(['hotline']);
  });

  it('offers exactly the roles that can take a tip now, sends the tip there and opens its page', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { ctx, store, f, state } = await newsroom({
      extra: {
        [`POST ${P}/submissions`]: async (c) => {
          await held;
          const sent = task({ id: TIP, audience: ['tips'], title: (c.body as { title: string }).title, submission: true, createdBy: MEMBER });
          state.tasks = [...state.tasks, sent];
          return { status: 201, body: sent };
        },
      },
    });
    const w = mountWith(SubmitTip, ctx, { store });
    await flushPromises();
    expect(w.find('#submit-title').text()).toBe('Send a tip');
    // Not legal (planted), not archive (no public halves), not desk (tasks may be created there, tips not sent).
    expect(offered(w)).toEqual(['hotline', 'tips']);
    expect(w.findAll('input[name="audience"]').some((i) => (i.element as HTMLInputElement).checked)).toBe(false);
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeDefined();
    await w.find('input[value="tips"]').setValue(true);
    expect(w.find('[data-testid="tip-readers"]').text()).toBe('Only holders of Tips and you can read this. You will not see other people’s tips.');
    await w.find('#tip-title').setValue('  Barrels behind the mill  ');
    await w.find('#tip-body').setValue('Every Friday night.');
    expect(w.findAll('[data-testid="char-count"]')).toHaveLength(2);
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('button[type="submit"]').text()).toBe('Sealing and signing…');
    expect(w.find('button[type="submit"]').attributes('disabled')).toBeDefined();
    release();
    await flushPromises();
    const posts = f.calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => [c.path, c.body])).toEqual([
      [`${P}/submissions`, { audience: 'tips', title: 'Barrels behind the mill', body: 'Every Friday night.' }],
    ]);
    // As after creating a task: the tasks are fetched again, so the tip's page opens on it.
    expect(f.calls.slice(f.calls.indexOf(posts[0]!)).some((c) => c.method === 'GET' && c.path === `${P}/tasks`)).toBe(true);
    expect(store.taskById.value.get(TIP)?.submission).toBe(true);
    expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/tasks/${TIP}`);
    expect(ctx.announcer.assertive.value).toContain('Sent the tip “Barrels behind the mill” to Tips.');
  });

  it('chooses the only place a tip can go, and leaves an empty body out', async () => {
    const { ctx, store, f } = await newsroom({
      roles: tipRoles({ hotline: { publicKey: false } }),
      extra: { [`POST ${P}/submissions`]: () => ({ status: 201, body: task({ id: TIP, audience: ['tips'], submission: true }) }) },
    });
    const w = mountWith(SubmitTip, ctx, { store });
    await flushPromises();
    expect(offered(w)).toEqual(['tips']);
    expect((w.find('input[value="tips"]').element as HTMLInputElement).checked).toBe(true);
    await w.find('#tip-title').setValue('Call me');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ audience: 'tips', title: 'Call me' });
  });

  it("shows the node's refusal beside the form and stays on it", async () => {
    const { ctx, store } = await newsroom({
      extra: {
        [`POST ${P}/submissions`]: () => ({
          status: 409,
          body: { code: 'UNKNOWN_KEY', message: '"tips" has no public key yet: its keys must be rotated before anyone submits to it', field: 'audience' },
        }),
      },
    });
    const w = mountWith(SubmitTip, ctx, { store });
    await flushPromises();
    await w.find('input[value="tips"]').setValue(true);
    await w.find('#tip-title').setValue('Call me');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(w.find('[data-testid="error"]').text()).toContain('Could not send the tip to Tips');
    expect(w.find('[data-testid="error-code"]').text()).toBe('UNKNOWN_KEY');
    expect(ctx.router.currentRoute.value.fullPath).not.toContain('/tasks/');
    expect((w.find('#tip-title').element as HTMLInputElement).value).toBe('Call me');
  });

  it('says why nothing is offered: not allowed, or the keys must be rotated first', async () => {
    const reporter = await newsroom({ myRoles: ['reporter'] });
    const w = mountWith(SubmitTip, reporter.ctx, { store: reporter.store });
    await flushPromises();
    expect(w.find('form').exists()).toBe(false);
    expect(w.find('[data-testid="tips-not-allowed"]').text()).toBe('Your roles do not let you send tips here.');

    // No public halves, planted, or a holder left (the node refuses new content sealed to that key).
    const source = await newsroom({
      myRoles: ['source'],
      roles: tipRoles({ hotline: { publicKey: false }, tips: { rotationDue: true } }),
    });
    const v = mountWith(SubmitTip, source.ctx, { store: source.store });
    await flushPromises();
    expect(v.find('form').exists()).toBe(false);
    expect(v.find('[data-testid="tips-not-allowed"]').exists()).toBe(false);
    expect(v.find('[data-testid="tips-waiting"]').text()).toContain('You may send tips to Hotline, Tips, Legal, Archive, but first their keys must be rotated');
  });

  it('takes roles named like Object properties as data: only declared roles are offered', async () => {
    const rules = (extra: Record<string, unknown>) =>
      RulesSchema.parse({
        ...tipRules(),
        roles: {
          tips: { title: 'Tips', rank: 300, history: 'all' },
          source: { title: 'Source', rank: 50, history: 'all', can: [{ subject: 'task', action: 'submit', audience: '*' }] },
          ...extra,
        },
      });
    // The node lists prototype-named roles too; only the rules say which are roles.
    const listed = [
      roleModel('tips', 'Tips', { rank: 300 }),
      roleModel('constructor', 'Builders', { rank: 100 }),
      roleModel('__proto__', 'Proto', { rank: 900 }),
      roleModel('toString', 'Strings', { rank: 900 }),
    ];
    const { ctx, store, f } = await newsroom({
      myRoles: ['source'],
      roles: listed,
      rules: rules({ constructor: { title: 'Builders', rank: 100, history: 'all' } }),
      extra: { [`POST ${P}/submissions`]: () => ({ status: 201, body: task({ id: TIP, audience: ['constructor'], submission: true }) }) },
    });
    const w = mountWith(SubmitTip, ctx, { store });
    await flushPromises();
    expect(offered(w)).toEqual(['tips', 'constructor']);
    await w.find('input[value="constructor"]').setValue(true);
    expect(w.find('[data-testid="tip-readers"]').text()).toContain('Only holders of Builders and you');
    await w.find('#tip-title').setValue('Scaffolding');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ audience: 'constructor', title: 'Scaffolding' });

    const undeclared = await newsroom({ myRoles: ['source'], roles: listed, rules: rules({}) });
    const v = mountWith(SubmitTip, undeclared.ctx, { store: undeclared.store });
    await flushPromises();
    expect(offered(v)).toEqual(['tips']);
  });
});

describe('the way to the tip form', () => {
  const links = (w: ReturnType<typeof mountWith>) =>
    w.findAll('nav[aria-label="Pursuance sections"] a').map((a) => [a.text(), a.attributes('href')] as [string, string | undefined]);

  it('is a tab, and a pointer for someone who may only send tips, while a role can take one', async () => {
    const { ctx, state, store } = await newsroom({ myRoles: ['source'] });
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    expect(links(w)).toContainEqual(['Send a tip', `/p/${PID}/submit`]);
    expect(links(w).map(([text]) => text)).not.toContain('New task');
    expect(w.find('[data-testid="tip-invite"]').text()).toContain('You can send tips to this pursuance');
    expect(w.find('[data-testid="tip-invite"] a').attributes('href')).toBe(`/p/${PID}/submit`);

    await ctx.router.push(`/p/${PID}/submit`);
    await flushPromises();
    expect(w.findComponent(PursuanceView).exists()).toBe(true);
    expect(w.findComponent(SubmitTip).props('store')).toBe(store);
    expect(w.find('[data-testid="tip-invite"]').exists()).toBe(false);

    // Every role the source may submit to has lost its way to take a tip: the tab goes.
    state.roles = tipRoles({ hotline: { plantedKey: true }, tips: { publicKey: false } });
    await store.refresh();
    await flushPromises();
    expect(links(w).map(([text]) => text)).not.toContain('Send a tip');
    expect(w.find('[data-testid="tips-waiting"]').exists()).toBe(true);
  });

  it('is not shown to a member who may send no tips', async () => {
    const { ctx } = await setupApp('member');
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    expect(links(w).map(([text]) => text)).toContain('New task');
    expect(links(w).map(([text]) => text)).not.toContain('Send a tip');
    expect(w.find('[data-testid="tip-invite"]').exists()).toBe(false);
  });

  it('is a tab beside "New task" for a member who may do both, without the pointer', async () => {
    const { ctx } = await newsroom();
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    const texts = links(w).map(([text]) => text);
    expect(texts.indexOf('Send a tip')).toBe(texts.indexOf('New task') + 1);
    expect(w.find('[data-testid="tip-invite"]').exists()).toBe(false);
  });
});

describe('tips among tasks', () => {
  it('marks a tip with a badge on its card and on its page', async () => {
    const { ctx, store, state } = await newsroom();
    const tip = task({ id: TIP, audience: ['tips'], title: 'Barrels', submission: true, createdBy: MEMBER });
    const plain = task({ audience: ['desk'], title: 'Story' });
    const card = (t: typeof tip) => mountWith(TaskCard, ctx, { task: t, store, now: 0 });
    expect(card(tip).find('[data-testid="tip-badge"]').text()).toBe('tip');
    expect(card(plain).find('[data-testid="tip-badge"]').exists()).toBe(false);

    state.tasks = [tip, plain];
    await store.want('tasks');
    await store.refresh();
    const page = mountWith(TaskDetail, ctx, { store, taskId: TIP });
    await flushPromises();
    expect(page.find('.task-head [data-testid="tip-badge"]').text()).toBe('tip');
    const other = mountWith(TaskDetail, ctx, { store, taskId: plain.id });
    await flushPromises();
    expect(other.find('[data-testid="task-title"]').text()).toBe('Story');
    expect(other.find('[data-testid="tip-badge"]').exists()).toBe(false);
  });
});

describe('a tip sealed to a key already replaced', () => {
  it('warns whoever reads it, and lets its sender send the same words again to the current key', async () => {
    const again = 'e'.repeat(64);
    const { ctx, store, state, f } = await newsroom({
      extra: {
        [`POST ${P}/submissions`]: (c) => {
          const sent = task({ id: again, audience: ['tips'], title: (c.body as { title: string }).title, submission: true, createdBy: MEMBER });
          state.tasks = [...state.tasks, sent];
          return { status: 201, body: sent };
        },
      },
    });
    const mine = task({ id: TIP, audience: ['tips'], title: 'Barrels', body: 'Pier 4', submission: true, staleKey: true, createdBy: MEMBER });
    const theirs = task({ audience: ['tips'], title: 'Other', submission: true, staleKey: true, createdBy: FOUNDER });
    const fresh = task({ audience: ['tips'], title: 'Fresh', submission: true, createdBy: MEMBER });
    state.tasks = [mine, theirs, fresh];
    await store.want('tasks');
    await store.refresh();

    const other = mountWith(TaskDetail, ctx, { store, taskId: theirs.id });
    await flushPromises();
    expect(other.find('[data-testid="stale-key"]').text()).toContain('anyone who held the old key can read it');
    expect(other.find('[data-testid="stale-key"] button').exists()).toBe(false);
    const ok = mountWith(TaskDetail, ctx, { store, taskId: fresh.id });
    await flushPromises();
    expect(ok.find('[data-testid="stale-key"]').exists()).toBe(false);

    const page = mountWith(TaskDetail, ctx, { store, taskId: TIP });
    await flushPromises();
    await page.find('[data-testid="stale-key"] button').trigger('click');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ audience: 'tips', title: 'Barrels', body: 'Pier 4' });
    expect(ctx.router.currentRoute.value.fullPath).toBe(`/p/${PID}/tasks/${again}`);
  });
});

describe('a planted role key', () => {
  const alarm = 'The public key published for Legal is not its holders’ key: tips sent to it could be read by whoever rotated it. Rotate this role’s keys.';

  it('raises an alarm on the health page for each planted role, pointing to the keys', async () => {
    const { ctx, store } = await newsroom({ roles: tipRoles({ archive: { plantedKey: true, title: 'Archive' } }) });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    const alarms = w.findAll('[data-testid="planted-key"]');
    expect(alarms.map((a) => a.attributes('data-role'))).toEqual(['legal', 'archive']);
    expect(alarms[0]!.text()).toContain(alarm);
    expect(alarms[0]!.find('a').attributes('href')).toBe(`/p/${PID}/keys`);
    expect(w.find('[role="alert"] [data-testid="planted-key"]').exists()).toBe(true);

    const calm = await newsroom({ roles: tipRoles({ legal: { plantedKey: false } }) });
    const v = mountWith(HealthView, calm.ctx, { store: calm.store });
    await flushPromises();
    expect(v.find('[data-testid="planted-key"]').exists()).toBe(false);
  });

  it('raises it on the keys page too, which says per role whether it takes tips', async () => {
    const { ctx, store } = await newsroom({ roles: tipRoles({ desk: { rotationDue: true } }) });
    const w = mountWith(KeysView, ctx, { store });
    await flushPromises();
    expect(w.findAll('[data-testid="planted-key"]').map((a) => a.text())).toEqual([`Planted key. ${alarm}`]);
    const tips = (id: string) => w.find(`tr[data-role="${id}"] [data-testid="takes-tips"]`).text();
    expect(tips('tips')).toBe('accepts tips');
    expect(tips('legal')).toBe('planted key: rotate it');
    expect(tips('archive')).toBe('not until its keys are rotated');
    expect(tips('desk')).toBe('not until its keys are rotated');
  });
});

describe('the submit permission in words', () => {
  it('is worded in the rules, in English and in Spanish', () => {
    const rules = tipRules();
    const cap: Capability = { subject: 'task', action: 'submit', audience: ['tips', 'hotline'] };
    expect(describeCapability(rules, cap)).toBe('send tips to Tips, Hotline (write-only: without reading other people’s)');
    const es = createDashboardI18n('es').global.t;
    expect(describeCapability(rules, cap, es)).toBe('enviar pistas a Tips, Hotline (solo escritura: sin leer las de otras personas)');
  });
});

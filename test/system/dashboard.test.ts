/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core) against a real node
 * started here (temp data dir, port 0) serving a fresh build of the dashboard. One founder
 * walks through the flows; screenshots land in test-results/dashboard/.
 */
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { http } from '../../apps/node/test/support/http.js';
import { axeViolations, contrastProblems, unnamedControls } from '../support/a11y.js';
import { buildDashboard, launchChromium, screenshot, signIn, startTestNode, tempDir, type TestNode } from '../support/dashboard.js';

let buildDir: string;
let t: TestNode;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pursuanceId: string;
const pageErrors: string[] = [];

interface Template {
  id: string;
  rules: { title: string; roles: Record<string, { title: string; rank: number; can: unknown[] }> };
}
let template: Template;
/** The template's lowest-ranked role (the "member" kind) and its highest (the "organizer" kind). */
let low: { id: string; title: string };
let high: { id: string; title: string };

const api = (method: string, path: string, body?: unknown) => http(t.node.port, method, path, { token: t.node.token, ...(body === undefined ? {} : { body }) });
const card = (title: string) => page.getByTestId('task-card').filter({ hasText: title });
const column = (status: string) => page.locator(`[data-testid="column"][data-status="${status}"]`);
const tab = (name: string) => page.getByRole('navigation', { name: 'Pursuance sections' }).getByRole('link', { name, exact: true });

beforeAll(async () => {
  buildDir = buildDashboard(await tempDir('build'));
  t = await startTestNode(buildDir, 'founder');
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  template = ((await api('GET', '/api/templates')).body as Template[]).find((x) => x.id === 'activist-cell')!;
  const byRank = Object.entries(template.rules.roles).sort((a, b) => a[1].rank - b[1].rank);
  low = { id: byRank[0]![0], title: byRank[0]![1].title };
  high = { id: byRank.at(-1)![0], title: byRank.at(-1)![1].title };
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

describe('the node serves the dashboard', () => {
  it('at / and at client routes, with a strict CSP, while /api stays behind the token', async () => {
    const root = await http(t.node.port, 'GET', '/');
    expect(root.status).toBe(200);
    expect(root.text).toContain('<div id="app"></div>');
    expect(root.text).toContain('/assets/');
    const csp = (await fetch(`${t.node.url}/p/abc/board`)).headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect((await http(t.node.port, 'GET', '/p/abc/tasks/def')).text).toContain('<div id="app"></div>');
    const asset = /\/assets\/[^"]+\.js/.exec(root.text)![0];
    expect((await http(t.node.port, 'GET', asset)).status).toBe(200);
    // A view from another build is missing, not the page (the dashboard reloads on that error).
    const missing = await http(t.node.port, 'GET', '/assets/BoardView-0ld8uild.js');
    expect(missing.status).toBe(404);
    expect(missing.text).not.toContain('<div id="app">');
    // /api is never answered by the static layer: no token, no data; unknown API paths are not the SPA.
    expect((await http(t.node.port, 'GET', '/api/pursuances')).status).toBe(401);
    const unknown = await http(t.node.port, 'GET', '/api/no-such-route', { token: t.node.token });
    expect(unknown.status).toBe(404);
    expect(unknown.text).not.toContain('<div id="app">');
    expect((await http(t.node.port, 'POST', '/', { body: {} })).status).toBe(404);
  });
});

describe('the dashboard in Chromium', { timeout: 90_000 }, () => {
  it('asks for the token once and keeps it in session storage only', async () => {
    await page.goto(`${t.node.url}/`);
    await page.getByRole('heading', { name: 'Connect to your node' }).waitFor();
    await screenshot(page, '01-token');
    await page.getByLabel('Node token').fill('x'.repeat(43));
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByTestId('token-error').textContent()).toBe('The node refused this token.');
    await signIn(page, t.node);
    await page.getByRole('heading', { name: 'Your pursuances' }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("pursuance.token")')).toBe(t.node.token);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    // A reload keeps the session; a new browser session asks again.
    await page.reload();
    await page.getByRole('heading', { name: 'Your pursuances' }).waitFor();
    const other = await browser.newContext();
    const fresh = await other.newPage();
    await fresh.goto(`${t.node.url}/`);
    await fresh.getByRole('heading', { name: 'Connect to your node' }).waitFor();
    await other.close();
  });

  it("creates a pursuance from a template, explaining the template's roles first", async () => {
    await page.getByRole('link', { name: 'New pursuance' }).click();
    await page.getByRole('radio', { name: new RegExp(template.rules.title) }).check();
    const explained = page.getByRole('heading', { name: `What these rules mean: ${template.rules.title}` });
    await explained.waitFor();
    for (const role of Object.values(template.rules.roles))
      await page
        .getByRole('heading', { name: new RegExp(`^${role.title} \\(`) })
        .first()
        .waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Cell 9');
    await page.getByLabel(/^Description/).fill('Housing action in the east end');
    await screenshot(page, '02-create-from-template');
    await page.getByRole('button', { name: 'Create pursuance' }).click();
    await page.getByTestId('pursuance-name').filter({ hasText: 'Cell 9' }).waitFor();
    pursuanceId = /\/p\/([0-9a-f]{64})\/board$/.exec(page.url())![1]!;
    const summary = (await api('GET', `/api/pursuances/${pursuanceId}`)).body as { amFounder: boolean; rulesTitle: string };
    expect(summary).toMatchObject({ amFounder: true, rulesTitle: template.rules.title });
  });

  it('creates a task for one role, showing who will see it before it is sent', async () => {
    await tab('New task').click();
    await page.getByRole('checkbox', { name: new RegExp(`^${high.title}`) }).check();
    const note = page.getByTestId('audience-note');
    await expect.poll(() => note.textContent()).toContain(`Visible to: ${high.title}`);
    expect(await note.textContent()).toContain('1 person: you');
    await page.getByLabel('Title').fill('Book the hall');
    await page.getByLabel(/^Labels/).fill('logistics, urgent');
    await page.getByLabel('Description').fill('Ask the caretaker about Saturday.');
    await page.getByRole('checkbox', { name: 'you' }).check();
    await screenshot(page, '03-new-task');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByTestId('task-title').filter({ hasText: 'Book the hall' }).waitFor();
    // A second task, for the other role, through the API (as another tab or tool would).
    await api('POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: [low.id], title: 'Paint the banner', labels: ['art'] });
    await tab('Board').click();
    await column('open').getByTestId('task-card').filter({ hasText: 'Book the hall' }).waitFor();
    await column('open').getByTestId('task-card').filter({ hasText: 'Paint the banner' }).waitFor();
    expect(await card('Book the hall').textContent()).toContain(`for ${high.title}`);
  });

  it('moves a card by dragging it to an allowed column, and by keyboard', async () => {
    await card('Book the hall').dragTo(column('in-progress'));
    await column('in-progress').getByTestId('task-card').filter({ hasText: 'Book the hall' }).waitFor();
    // Keyboard: focus the card's Move… button, open the menu, pick a status with the arrows.
    const move = card('Book the hall').getByRole('button', { name: 'Move “Book the hall”' });
    await move.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu', { name: 'Move “Book the hall” to' });
    await menu.waitFor();
    const items = await menu.getByRole('menuitem').all();
    expect(await Promise.all(items.map((i) => i.getAttribute('data-target')))).toEqual(['review', 'open', 'done', 'dropped']);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await column('review').getByTestId('task-card').filter({ hasText: 'Book the hall' }).waitFor();
    // Focus follows the card to its new column.
    await expect.poll(() => page.evaluate('document.activeElement?.closest("[data-status]")?.dataset.status')).toBe('review');
    const detail = (await api('GET', `/api/pursuances/${pursuanceId}/tasks`)).body as { title: string; status: string }[];
    expect(detail.find((x) => x.title === 'Book the hall')?.status).toBe('review');
    await screenshot(page, '04-board');
  });

  it('filters and searches locally, and lists my tasks', async () => {
    await page.getByLabel('Search').fill('caretaker');
    await expect.poll(() => page.getByTestId('filter-count').textContent()).toBe('1 of 2 tasks');
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Label').selectOption('art');
    await expect.poll(() => page.getByTestId('task-card').count()).toBe(1);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.getByTestId('task-card').count()).toBe(2);
    await tab('My tasks').click();
    await page.getByTestId('my-tasks').getByRole('link', { name: 'Book the hall' }).waitFor();
    expect(await page.getByTestId('my-tasks').getByRole('link').count()).toBe(1);
  });

  it('opens a task, comments with its audience shown, closes it, and shows its history', async () => {
    await page.getByTestId('my-tasks').getByRole('link', { name: 'Book the hall' }).click();
    await page.getByTestId('task-title').filter({ hasText: 'Book the hall' }).waitFor();
    expect(await page.getByText('Ask the caretaker about Saturday.').count()).toBe(1);
    const form = page.getByRole('form', { name: 'Add a comment' });
    expect(await form.getByTestId('audience-note').textContent()).toContain(`Visible to: ${high.title}`);
    await form.getByLabel('Your comment').fill('Caretaker says yes, 10am.');
    await form.getByRole('button', { name: 'Send comment' }).click();
    await page.getByTestId('comments').getByText('Caretaker says yes, 10am.').waitFor();
    await page.getByRole('button', { name: 'Close as done' }).click();
    await expect.poll(() => page.getByTestId('task-status').textContent()).toBe('done');
    // The history is read apart from the task list (GET …/tasks/:taskId), once the store's task is replaced: a moment later.
    await expect.poll(() => page.getByTestId('history').textContent()).toContain('closed');
    const history = await page.getByTestId('history').textContent();
    expect(history).toContain('created the task');
    expect(history).toContain('commented');
    expect(history).toContain('closed');
    await screenshot(page, '05-task-detail');
  });

  it('shows subtasks in the tree view', async () => {
    await tab('New task').click();
    await page.getByRole('checkbox', { name: new RegExp(`^${low.title}`) }).check();
    await page.getByLabel('Title').fill('Buy paint');
    await page.getByLabel('Subtask of').selectOption({ label: 'Paint the banner' });
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByTestId('task-title').filter({ hasText: 'Buy paint' }).waitFor();
    await tab('Tree').click();
    const parent = page.getByTestId('tree-item').filter({ has: page.getByRole('link', { name: 'Paint the banner', exact: true }) });
    const child = parent.getByTestId('tree-item').filter({ hasText: 'Buy paint' });
    await child.waitFor();
    await screenshot(page, '06-tree');
    // Re-parent it to the top level; a task's own subtree is never offered as its new parent.
    await child.getByRole('button', { name: 'Move under…' }).click();
    const options = await page.getByLabel('New parent').locator('option').allTextContents();
    expect(options).toContain('Paint the banner');
    expect(options).not.toContain('Buy paint');
    await page.getByLabel('New parent').selectOption({ label: '(top level)' });
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await parent.getByTestId('tree-item').waitFor({ state: 'detached' });
    await page.locator('[data-testid="tree"] > [data-testid="tree-item"]').filter({ hasText: 'Buy paint' }).waitFor();
  });

  it("shows a refused action with the node's reason", async () => {
    // Leaving is always allowed by the rules, so it is offered; the node refuses the last founder.
    await page.getByRole('link', { name: 'Pursuances', exact: true }).click();
    await page.getByRole('button', { name: 'Leave…' }).click();
    await page.getByTestId('confirm-leave').click();
    const reason = page.getByTestId('error-reason');
    await reason.waitFor();
    expect(await reason.textContent()).toBe('the last founder cannot leave; designate a successor first');
    expect(await page.getByTestId('error').textContent()).toContain('INVALID_STATE');
    await screenshot(page, '07-refused');
    expect((await api('GET', `/api/pursuances/${pursuanceId}`)).body).toMatchObject({ amFounder: true });
  });

  let member: Identity;
  it('adds a member with a role, and offers an invite string, its QR code and the event bundle', async () => {
    member = Identity.generate();
    await page.goto(`${t.node.url}/p/${pursuanceId}/members`);
    // The members page also holds the public profile's form (which has a name field of its own).
    const add = page.getByRole('form', { name: 'Add a member' });
    await add.getByLabel('Their node address').fill(member.onion);
    await add.getByLabel(/^Name/).fill('mo');
    await add.getByRole('checkbox', { name: low.title }).check();
    await page.getByRole('button', { name: 'Add member' }).click();
    const row = page.locator(`tr[data-member="${member.onion}"]`);
    await row.getByText('mo', { exact: true }).waitFor();
    expect(await row.textContent()).toContain(low.title);
    // Give the member a second role, then take it back.
    await row.getByLabel('Role to give mo').selectOption({ label: high.title });
    await row.getByRole('button', { name: 'Give' }).click();
    // The role reads its whole history: the dialog says so, and giving it needs a confirmation.
    const give = page.getByRole('dialog', { name: `Give mo the role ${high.title}?` });
    expect(await give.textContent()).toContain(`mo can read the whole history sealed to ${high.title}`);
    await give.getByRole('button', { name: `Give the role ${high.title}` }).click();
    await row.locator('.chip', { hasText: high.title }).waitFor();
    await row.getByRole('button', { name: `Take role ${high.title} from mo` }).click();
    await page
      .getByRole('dialog', { name: `Take the role ${high.title} from mo?` })
      .getByRole('button', { name: 'Take the role away' })
      .click();
    await row.locator('.chip', { hasText: high.title }).waitFor({ state: 'detached' });
    const held = ((await api('GET', `/api/pursuances/${pursuanceId}/members`)).body as { onion: string; roles: string[] }[]).find(
      (m) => m.onion === member.onion,
    );
    expect(held?.roles).toEqual([low.id]);
    const invite = await page.getByRole('textbox', { name: 'Invite string' }).inputValue();
    expect(invite).toBe(`pursuance-invite:1:${pursuanceId}:${t.node.identity.onion}`);
    await page.getByRole('img', { name: 'QR code of the invite string' }).waitFor();
    await page.getByRole('button', { name: 'Make the event bundle' }).click();
    const bundle = JSON.parse(await page.getByRole('textbox', { name: /^Event bundle/ }).inputValue()) as { pursuance: string; events: string[] };
    const { events } = (await api('GET', `/api/pursuances/${pursuanceId}`)).body as { events: number };
    expect(bundle.pursuance).toBe(pursuanceId);
    expect(bundle.events).toHaveLength(events);
    await screenshot(page, '08-members-invite');
  });

  it('dry-runs a rule change (who gains what) before signing it', async () => {
    await tab('Rules').click();
    await page.getByRole('button', { name: 'Propose a change…' }).click();
    // The form: one tick gives the lowest role the right to move the group.
    await page.getByRole('checkbox', { name: `${low.title} may move the group to another relay`, exact: true }).check();
    const dry = page.getByTestId('dry-run');
    await dry.getByText('gains: move the group to another relay').first().waitFor();
    // The JSON view shows the very same draft.
    await page.getByText('Advanced: edit as JSON').click();
    const draft = page.getByLabel(/^Rules document/);
    const rules = JSON.parse(await draft.inputValue()) as Template['rules'];
    expect(rules.roles[low.id]!.can).toContainEqual({ subject: 'relay', action: 'move' });
    await dry.getByText('gains: move the group to another relay').first().waitFor();
    expect(await dry.getByTestId('dry-member').textContent()).toContain('mo');
    await screenshot(page, '09-rules-dry-run');
    await page.getByRole('button', { name: 'Sign and publish' }).click();
    await page.getByRole('dialog', { name: 'Sign and publish the new rules?' }).getByRole('button', { name: 'Publish the new rules' }).click();
    await page.getByRole('button', { name: 'Propose a change…' }).waitFor();
    expect((await api('GET', `/api/pursuances/${pursuanceId}`)).body).toMatchObject({ rulesRevision: 1 });
    await page.getByText('may move the group to another relay').nth(1).waitFor();
  });

  it('rotates a role key, and a removal rotates it again', async () => {
    await tab('Keys').click();
    const row = page.locator(`tr[data-role="${low.id}"]`);
    await expect.poll(() => row.getByTestId('epoch').textContent()).toMatch(/^\s*0/);
    await row.getByRole('button', { name: `Rotate the key of ${low.title}` }).click();
    await row.getByRole('dialog').getByRole('button', { name: 'Rotate the key', exact: true }).click();
    await expect.poll(() => row.getByTestId('epoch').textContent()).toMatch(/^\s*1/);
    await tab('Members & roles').click();
    const memberRow = page.locator(`tr[data-member="${member.onion}"]`);
    await memberRow.getByRole('button', { name: 'Remove…' }).click();
    await memberRow.getByLabel(/^Reason/).fill('moved away');
    await memberRow.getByTestId('confirm-remove').click();
    await memberRow.waitFor({ state: 'detached' });
    await tab('Keys').click();
    await expect.poll(() => row.getByTestId('epoch').textContent()).toMatch(/^\s*2/);
    expect(await row.getByTestId('rotated').textContent()).toContain('by you');
    await screenshot(page, '10-keys');
  });

  it('updates live through server-sent events when the node changes from outside the browser', async () => {
    await tab('Board').click();
    await card('Paint the banner').waitFor();
    await page.evaluate('window.__noReload = 42');
    const created = await api('POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: [low.id], title: 'Made elsewhere' });
    expect(created.status).toBe(201);
    await column('open').getByTestId('task-card').filter({ hasText: 'Made elsewhere' }).waitFor();
    await api('POST', `/api/pursuances/${pursuanceId}/tasks/${(created.body as { id: string }).id}/changes`, { op: 'status', to: 'in-progress' });
    await column('in-progress').getByTestId('task-card').filter({ hasText: 'Made elsewhere' }).waitFor();
    expect(await page.evaluate('window.__noReload')).toBe(42);
    await expect.poll(() => page.getByTestId('announce').textContent()).toContain('Cell 9: 1 new event');
  });

  it('shows health, with replay progress driven by the stream', async () => {
    await tab('Health').click();
    await page.getByRole('button', { name: 'Rebuild from the event store' }).click();
    await page.getByRole('progressbar', { name: 'Replay' }).waitFor();
    const { events } = (await api('GET', `/api/pursuances/${pursuanceId}`)).body as { events: number };
    await expect.poll(() => page.getByRole('progressbar', { name: 'Replay' }).getAttribute('aria-valuenow')).toBe(String(events));
    expect(await page.getByTestId('events').textContent()).toBe(String(events));
    expect(await page.getByTestId('sync-status').textContent()).toContain('export and import');
    await screenshot(page, '11-health');
  });

  it(
    'is keyboard- and screen-reader-friendly in English and Spanish: skip link, named controls, AA contrast, axe on every view',
    { timeout: 300_000 },
    async () => {
      const tasks = (await api('GET', `/api/pursuances/${pursuanceId}/tasks`)).body as { id: string; title: string }[];
      const taskId = tasks.find((x) => x.title === 'Book the hall')!.id;
      const p = `/p/${pursuanceId}`;
      // Every view of the route table (src/lib/router.ts), each with what shows it has loaded.
      const views: readonly (readonly [path: string, ready: string])[] = [
        ['/', '[data-testid="pursuance"]'],
        ['/new', '#p-name'],
        ['/join', '#join-title'],
        [`${p}/board`, '[data-testid="column"]'],
        [`${p}/tree`, '[data-testid="tree-item"]'],
        [`${p}/mine`, '[data-testid="my-tasks"] a'],
        [`${p}/new-task`, '#t-title'],
        [`${p}/tasks/${taskId}`, '[data-testid="history"] li'],
        [`${p}/members`, '[data-testid="members"]'],
        [`${p}/rules`, '#rules-title'],
        [`${p}/keys`, '[data-testid="epoch"]'],
        [`${p}/health`, '[data-testid="sync-status"]'],
        ['/no/such/page', '[data-testid="not-found"]'],
      ];
      const everyView = async (lang: string): Promise<void> => {
        for (const [path, ready] of views) {
          await page.goto(`${t.node.url}${path}`);
          await page.locator('[data-testid="live-status"].open').waitFor();
          await page.locator(ready).first().waitFor();
          if (path.startsWith(p)) await page.getByTestId('pursuance-name').filter({ hasText: 'Cell 9' }).waitFor();
          expect(await page.evaluate('document.documentElement.lang'), path).toBe(lang);
          expect(await unnamedControls(page), `${lang} ${path}`).toEqual([]);
          expect(await contrastProblems(page), `${lang} ${path}`).toEqual([]);
          expect(await axeViolations(page), `${lang} ${path}`).toEqual([]);
        }
        await page.keyboard.press('Tab');
      };
      const switchTo = async (target: Page, lang: 'en' | 'es', name: string): Promise<void> => {
        await target.getByTestId('locale').selectOption(lang);
        await expect.poll(() => target.evaluate('document.documentElement.lang')).toBe(lang);
        await target.getByRole('combobox', { name }).waitFor();
      };

      await everyView('en');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
      await page.goto(`${t.node.url}/`);
      await switchTo(page, 'es', 'Idioma');
      await page.getByRole('heading', { name: 'Tus pursuances' }).waitFor();
      // A refusal in Spanish: the catalog's words for its code, the node's own (English) beside them, the code alongside.
      await page.getByRole('button', { name: 'Salir…' }).click();
      await page.getByTestId('confirm-leave').click();
      const refused = page.getByTestId('error');
      await refused.waitFor();
      expect(await refused.getByTestId('error-reason').textContent()).toBe('Esto no encaja con el estado actual de aquello a lo que se refiere.');
      expect(await refused.getByTestId('error-code').textContent()).toBe('INVALID_STATE');
      expect(await refused.getByTestId('error-original').textContent()).toContain('the last founder cannot leave; designate a successor first');
      expect(await refused.textContent()).toContain('No se pudo salir');
      expect(await axeViolations(page), 'es / with a refusal').toEqual([]);
      expect(await contrastProblems(page), 'es / with a refusal').toEqual([]);
      await screenshot(page, '12-spanish');
      await everyView('es');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Saltar al contenido');

      // The sign-in page, without a token, in both languages.
      const other = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      const gate = await other.newPage();
      await gate.goto(`${t.node.url}/sign-in`);
      await gate.locator('#gate-title').waitFor();
      for (const [lang, name] of [
        ['en', 'Language'],
        ['es', 'Idioma'],
      ] as const) {
        if (lang === 'es') await switchTo(gate, 'es', name);
        expect(await unnamedControls(gate), `${lang} /sign-in`).toEqual([]);
        expect(await contrastProblems(gate), `${lang} /sign-in`).toEqual([]);
        expect(await axeViolations(gate), `${lang} /sign-in`).toEqual([]);
      }
      // The check itself finds what it should: an unlabelled field is a critical violation.
      await gate.setContent('<!doctype html><html lang="en"><head><title>t</title></head><body><main><input></main></body></html>');
      expect((await axeViolations(gate)).map((v) => v.rule)).toContain('label');
      await other.close();

      await page.goto(`${t.node.url}/`);
      await switchTo(page, 'en', 'Language');
      expect(pageErrors).toEqual([]);
    },
  );
});

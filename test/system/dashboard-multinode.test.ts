/**
 * Three real nodes and three dashboards (one Chromium, one browser context each): an editor
 * (the founder), a reporter and a source. Group sync between nodes is not built yet, so the
 * test carries signed events between them through each node's own API (GET/POST
 * /api/pursuances/:id/events): real cross-node flow, every event verified by the receiving
 * node. Each dashboard only ever talks to its own node.
 */
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../../apps/node/test/support/http.js';
import {
  buildDashboard,
  carryEvents,
  launchChromium,
  openLivePage,
  screenshot,
  sectionTab,
  startTestNode,
  tempDir,
  type TestNode,
} from '../support/dashboard.js';

/** A newsroom: stories sealed to the desk, which editors and reporters hold; a source on a private tip line. */
const task = (action: string, audience: '*' | string[], reason?: string) => ({ subject: 'task', action, audience, ...(reason ? { reason } : {}) });
const RULES = {
  format: 'pursuance-rules/1',
  title: 'Newsroom',
  description: 'Editors run the desk; reporters work stories; a source has a private tip line.',
  roles: {
    editor: {
      title: 'Editor',
      rank: 800,
      history: 'all',
      can: [
        ...['create', 'edit', 'assign', 'comment', 'transition', 'close'].map((a) => task(a, '*')),
        { subject: 'role', action: 'assign', roles: ['desk', 'reporter', 'tipline-1'] },
        { subject: 'role', action: 'remove', roles: ['desk', 'reporter', 'tipline-1'] },
        { subject: 'keys', action: 'rotate', roles: '*' },
        { subject: 'member', action: 'invite' },
        { subject: 'member', action: 'expel' },
      ],
    },
    reporter: {
      title: 'Reporter',
      rank: 400,
      history: 'all',
      can: ['create', 'edit', 'assign', 'comment', 'transition'].map((a) => task(a, ['desk'])),
      cannot: [task('close', '*', 'only editors publish or spike a story')],
    },
    desk: { title: 'Desk', description: 'Every story is sealed to the desk.', rank: 200, history: 'all', can: [] },
    'tipline-1': { title: 'Tip line 1', rank: 100, history: 'since-join', can: [task('create', ['tipline-1']), task('comment', ['tipline-1'])] },
  },
  workflow: {
    states: ['pitch', 'reporting', 'editing', 'published', 'spiked'],
    initial: 'pitch',
    closed: ['published', 'spiked'],
    transitions: [
      { from: 'pitch', to: 'reporting' },
      { from: 'reporting', to: 'editing' },
      { from: 'editing', to: 'reporting' },
    ],
  },
  succession: { quorum: 1, inactivityDays: null },
};

let buildDir: string;
let editor: TestNode;
let reporter: TestNode;
let source: TestNode;
let browser: Browser;
const contexts: BrowserContext[] = [];
let pageE: Page;
let pageR: Page;
let pageS: Page;
let id: string;
const pageErrors: string[] = [];

const api = (n: TestNode, method: string, path: string, body?: unknown) =>
  http(n.node.port, method, path, { token: n.node.token, ...(body === undefined ? {} : { body }) });

/** Carry every signed event `from` holds to `to` (what group sync does); the receiver's report. */
const carry = (from: TestNode, to: TestNode) => carryEvents(from, to, id);
const openPage = (n: TestNode, path: string): Promise<Page> => openLivePage(browser, n, path, contexts, pageErrors);
const tab = sectionTab;

beforeAll(async () => {
  buildDir = buildDashboard(await tempDir('build'));
  [editor, reporter, source] = await Promise.all([startTestNode(buildDir, 'editor'), startTestNode(buildDir, 'reporter'), startTestNode(buildDir, 'source')]);
  browser = await launchChromium();
  const created = await api(editor, 'POST', '/api/pursuances', { name: 'Harbour desk', rules: RULES });
  expect(created.status).toBe(201);
  id = (created.body as { id: string }).id;
  expect(
    (await api(editor, 'POST', `/api/pursuances/${id}/members`, { onion: reporter.node.identity.onion, name: 'rae', roles: ['desk', 'reporter'] })).status,
  ).toBe(201);
  expect((await api(editor, 'POST', `/api/pursuances/${id}/members`, { onion: source.node.identity.onion, name: 'sol', roles: ['tipline-1'] })).status).toBe(
    201,
  );
  // The reporter's node takes the events in through the API; the source joins through its dashboard (first test).
  expect((await carry(editor, reporter)).rejected).toEqual([]);
  [pageE, pageR, pageS] = await Promise.all([openPage(editor, `/p/${id}/members`), openPage(reporter, `/p/${id}/board`), openPage(source, '/join')]);
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await Promise.all([editor?.close(), reporter?.close(), source?.close()]);
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

describe('dashboards of three members on three nodes', { timeout: 90_000 }, () => {
  const story = 'Story: harbour contracts';

  it("lets the source join by pasting the invite string and event bundle from the editor's dashboard", async () => {
    // The source's Join page shows the node address the editor added.
    expect(await pageS.getByRole('textbox', { name: 'Your node address' }).inputValue()).toBe(source.node.identity.onion);
    await pageS.getByRole('img', { name: 'QR code of your node address' }).waitFor();
    const invite = await pageE.getByRole('textbox', { name: 'Invite string' }).inputValue();
    await pageE.getByRole('button', { name: 'Make the event bundle' }).click();
    const bundle = await pageE.getByRole('textbox', { name: /^Event bundle/ }).inputValue();
    await pageS.getByLabel(/^Invite string/).fill(invite);
    await pageS.getByLabel('Event bundle').fill(bundle);
    await pageS.getByRole('button', { name: 'Verify and import' }).click();
    const report = pageS.getByTestId('import-report');
    const n = (JSON.parse(bundle) as { events: string[] }).events.length;
    await report.getByText(`${n} received, ${n} accepted, 0 waiting for earlier events.`).waitFor();
    await screenshot(pageS, 'multi-00-source-join');
    await report.getByRole('link', { name: 'Open “Harbour desk”' }).click();
    await pageS.getByTestId('board').waitFor();
    expect(await pageS.getByTestId('my-roles').textContent()).toContain('Tip line 1');
    await tab(pageE, 'New task').click();
  });

  it("shows the editor's new desk story live to the reporter, and not to the source", async () => {
    await pageR.getByTestId('board').waitFor();
    await pageS.getByTestId('board').waitFor();
    await pageR.evaluate('window.__noReload = 1');
    await pageS.evaluate('window.__noReload = 1');

    await pageE.getByRole('checkbox', { name: /^Desk/ }).check();
    expect(await pageE.getByTestId('audience-note').textContent()).toMatch(/Visible to: Desk — 2 people: you, rae/);
    await pageE.getByLabel('Title').fill(story);
    await pageE.getByLabel('Description').fill('Seven contracts, one director.');
    await pageE.getByRole('button', { name: 'Create task' }).click();
    await pageE.getByTestId('task-title').filter({ hasText: story }).waitFor();

    await carry(editor, reporter);
    await carry(editor, source);

    // The reporter's board shows the story without a reload.
    await pageR.locator('[data-status="pitch"]').getByTestId('task-card').filter({ hasText: story }).waitFor();
    expect(await pageR.evaluate('window.__noReload')).toBe(1);
    await screenshot(pageR, 'multi-01-reporter-board');

    // The source's node took the event in (its board counts one sealed task) but cannot read it.
    await pageS.getByTestId('sealed-count').filter({ hasText: '1 task is sealed' }).waitFor();
    expect(await pageS.evaluate('window.__noReload')).toBe(1);
    expect(await pageS.getByText(story).count()).toBe(0);
    expect(await pageS.getByTestId('task-card').count()).toBe(0);
    await screenshot(pageS, 'multi-02-source-board');
    const sourceTasks = (await api(source, 'GET', `/api/pursuances/${id}/tasks`)).body as { title: string | null; readable: boolean }[];
    expect(sourceTasks).toEqual([expect.objectContaining({ title: null, readable: false })]);
  });

  it('offers the reporter only what the rules allow, and says why not the rest', async () => {
    await pageR.getByRole('link', { name: story }).click();
    await pageR.getByTestId('task-title').filter({ hasText: story }).waitFor();
    expect(await pageR.getByRole('button', { name: 'Move to reporting' }).count()).toBe(1);
    expect(await pageR.getByRole('button', { name: /^Close as/ }).count()).toBe(0);
    expect(await pageR.getByTestId('denied').textContent()).toContain('close: denied by rule: only editors publish or spike a story');
    await pageR.getByRole('button', { name: 'Move to reporting' }).click();
    await expect.poll(() => pageR.getByTestId('task-status').textContent()).toBe('reporting');
    await screenshot(pageR, 'multi-03-reporter-detail');
    // The editor sees the reporter's move once the events reach them.
    await carry(reporter, editor);
    const onEditor = (await api(editor, 'GET', `/api/pursuances/${id}/tasks`)).body as { title: string; status: string }[];
    expect(onEditor.find((x) => x.title === story)?.status).toBe('reporting');
  });

  let tipId: string;
  it("removes the source: the editor's keys show the rotated tip-line key, and the reporter's update live", async () => {
    // Meanwhile, before hearing of the removal, the source files a tip on its own node.
    await tab(pageS, 'New task').click();
    await pageS.getByRole('checkbox', { name: /^Tip line 1/ }).check();
    await pageS.getByLabel('Title').fill('Tip: the director is the mayor’s cousin');
    await pageS.getByRole('button', { name: 'Create task' }).click();
    await pageS.getByTestId('task-title').filter({ hasText: 'Tip: the director' }).waitFor();
    tipId = /\/tasks\/([0-9a-f]{64})$/.exec(pageS.url())![1]!;

    await carry(editor, reporter);
    await tab(pageR, 'Keys').click();
    const reporterRow = pageR.locator('tr[data-role="tipline-1"]');
    await expect.poll(() => reporterRow.getByTestId('epoch').textContent()).toMatch(/^\s*0/);

    await tab(pageE, 'Members & roles').click();
    const row = pageE.locator(`tr[data-member="${source.node.identity.onion}"]`);
    await row.getByRole('button', { name: 'Remove…' }).click();
    await row.getByLabel(/^Reason/).fill('source asked to stop');
    await row.getByTestId('confirm-remove').click();
    await row.waitFor({ state: 'detached' });
    await tab(pageE, 'Keys').click();
    const editorRow = pageE.locator('tr[data-role="tipline-1"]');
    await expect.poll(() => editorRow.getByTestId('epoch').textContent()).toMatch(/^\s*1/);
    expect(await editorRow.getByTestId('rotated').textContent()).toContain('by you');
    expect(await editorRow.locator('td').nth(1).textContent()).toBe('you');
    await screenshot(pageE, 'multi-04-editor-keys');

    await carry(editor, reporter);
    await expect.poll(() => reporterRow.getByTestId('epoch').textContent()).toMatch(/^\s*1/);
    expect(await reporterRow.getByTestId('rotated').textContent()).toMatch(/by (?!you)/);
    await screenshot(pageR, 'multi-05-reporter-keys');
  });

  it("rejects the removed source's concurrent tip on the editor's node, with the reason in Health", async () => {
    await carry(source, editor);
    const rejections = (await api(editor, 'GET', `/api/pursuances/${id}/rejections`)).body as { eventId: string; code: string }[];
    expect(rejections).toEqual([expect.objectContaining({ eventId: tipId, code: 'NOT_A_MEMBER' })]);
    await tab(pageE, 'Health').click();
    const table = pageE.getByTestId('rejections');
    await table.getByText(tipId.slice(0, 10)).waitFor();
    expect(await table.textContent()).toContain(`${source.node.identity.onion} is not a member at this point`);
    await screenshot(pageE, 'multi-06-editor-health');
  });

  it('tells the removed source it is no longer a member', async () => {
    await tab(pageS, 'Board').click();
    await carry(editor, source);
    await pageS.getByTestId('not-member').waitFor();
    expect(await pageS.getByRole('button', { name: /Move/ }).count()).toBe(0);
    await screenshot(pageS, 'multi-07-source-removed');
    expect(pageErrors).toEqual([]);
  });
});

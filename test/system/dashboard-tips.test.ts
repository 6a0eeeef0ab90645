/**
 * The tip form in a real browser: a newsroom editor (the founder) and two sources, each on its
 * own node with its own dashboard (one Chromium, one browser context each). A source finds
 * "Send a tip", sends one through the form; the editor's board shows it live as a tip; the
 * other source's board counts it as sealed and shows nothing of it. Signed events travel
 * between the nodes through each node's own API (GET/POST /api/pursuances/:id/events), every
 * one verified by the node that takes it in; each dashboard only talks to its own node.
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

let buildDir: string;
let editor: TestNode;
let sam: TestNode;
let sue: TestNode;
let browser: Browser;
const contexts: BrowserContext[] = [];
let id: string;
const pageErrors: string[] = [];

const api = (n: TestNode, method: string, path: string, body?: unknown) =>
  http(n.node.port, method, path, { token: n.node.token, ...(body === undefined ? {} : { body }) });

const carry = async (from: TestNode, to: TestNode): Promise<void> => expect((await carryEvents(from, to, id)).rejected).toEqual([]);
const openPage = (n: TestNode, path: string): Promise<Page> => openLivePage(browser, n, path, contexts, pageErrors);
const tab = sectionTab;

beforeAll(async () => {
  buildDir = buildDashboard(await tempDir('build'));
  [editor, sam, sue] = await Promise.all([startTestNode(buildDir, 'editor'), startTestNode(buildDir, 'sam'), startTestNode(buildDir, 'sue')]);
  browser = await launchChromium();
  const created = await api(editor, 'POST', '/api/pursuances', { name: 'The Ledger', template: 'newsroom' });
  expect(created.status).toBe(201);
  id = (created.body as { id: string }).id;
  for (const [n, name] of [
    [sam, 'sam'],
    [sue, 'sue'],
  ] as const) {
    expect((await api(editor, 'POST', `/api/pursuances/${id}/members`, { onion: n.node.identity.onion, name, roles: ['source'] })).status).toBe(201);
  }
  await carry(editor, sam);
  await carry(editor, sue);
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await Promise.all([editor?.close(), sam?.close(), sue?.close()]);
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

describe('a tip line in the dashboards of an editor and two sources', { timeout: 120_000 }, () => {
  const title = 'The harbour master takes cash';

  it('a source sends a tip through the form; the editor sees it live as a tip; the other source sees only that something is sealed', async () => {
    const [pageE, pageSam, pageSue] = await Promise.all([openPage(editor, `/p/${id}/board`), openPage(sam, `/p/${id}/board`), openPage(sue, `/p/${id}/board`)]);
    // A source may not create tasks, only send tips: the tab is there, "New task" is not.
    expect(await tab(pageSam, 'New task').count()).toBe(0);
    await tab(pageSam, 'Send a tip').click();
    await pageSam.getByRole('heading', { name: 'Send a tip' }).waitFor();
    await pageSam.getByRole('radio', { name: 'Tips' }).check();
    expect(await pageSam.getByTestId('tip-readers').textContent()).toContain('Only holders of Tips and you can read this');
    await pageSam.getByLabel('Title').fill(title);
    await pageSam.getByLabel('Details').fill('Every Tuesday, behind the customs shed.');
    await screenshot(pageSam, 'tips-00-form');
    await pageSam.getByRole('button', { name: 'Send the tip' }).click();
    await pageSam.getByTestId('task-title').filter({ hasText: title }).waitFor();
    await pageSam.locator('.task-head [data-testid="tip-badge"]').waitFor();
    await screenshot(pageSam, 'tips-01-sent');

    await pageE.evaluate('window.__noReload = 1');
    await pageSue.evaluate('window.__noReload = 1');
    await carry(sam, editor);
    await carry(sam, sue);

    // The editor (the founder holds the tips role) reads it on the board, marked as a tip, without a reload.
    const card = pageE.getByTestId('task-card').filter({ hasText: title });
    await card.waitFor();
    await card.getByTestId('tip-badge').waitFor();
    expect(await pageE.evaluate('window.__noReload')).toBe(1);
    await screenshot(pageE, 'tips-02-editor-board');

    // Sue's node took it in and cannot read it: her board counts one sealed task and shows no text of it.
    await pageSue.getByTestId('sealed-count').filter({ hasText: '1 task is sealed' }).waitFor();
    expect(await pageSue.evaluate('window.__noReload')).toBe(1);
    expect(await pageSue.getByText(title).count()).toBe(0);
    const sueTasks = (await api(sue, 'GET', `/api/pursuances/${id}/tasks`)).body as { title: string | null; readable: boolean; submission?: true }[];
    expect(sueTasks).toEqual([expect.objectContaining({ title: null, readable: false, submission: true })]);
    expect(pageErrors).toEqual([]);
  });
});

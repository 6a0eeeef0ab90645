/**
 * Incremental updates in a real browser (Debian's Chromium via playwright-core) against a real
 * node serving a fresh build: two browser contexts on one board of a few hundred tasks. A
 * command in one updates the card in the other through the live stream and one change set
 * (GET …/changes), and the other page's network log shows the task list was not fetched
 * again. The long column renders only the cards in view.
 */
import { rm } from 'node:fs/promises';
import type { Browser, Page, Request, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventId, Rules } from '@pursuance/pursuance';
import { http } from '../../apps/node/test/support/http.js';
import { buildDashboard, launchChromium, screenshot, startTestNode, tempDir, type TestNode } from '../support/dashboard.js';

/** Generous: a loaded 2-core machine builds, starts Chromium and folds hundreds of tasks. */
const LIMIT = 60_000;
const TASKS = 300;

const RULES = {
  format: 'pursuance-rules/1',
  title: 'crew board',
  description: '',
  roles: {
    crew: {
      title: 'Crew',
      description: '',
      rank: 100,
      history: 'all',
      can: (['create', 'edit', 'assign', 'comment', 'transition', 'close'] as const).map((action) => ({ subject: 'task', action, audience: '*' })),
      cannot: [],
    },
  },
  workflow: {
    states: ['open', 'doing', 'review', 'done'],
    initial: 'open',
    closed: ['done'],
    transitions: [
      { from: 'open', to: 'doing' },
      { from: 'doing', to: 'review' },
      { from: 'review', to: 'doing' },
    ],
  },
  succession: { quorum: 1, inactivityDays: null },
} as unknown as Rules;

let buildDir: string;
let t: TestNode;
let browser: Browser;
let pursuanceId: string;
const ids: EventId[] = [];
const pageErrors: string[] = [];

async function openSignedIn(path: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  await context.addInitScript(`sessionStorage.setItem('pursuance.token', ${JSON.stringify(t.node.token)});`);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${t.node.url}${path}`);
  await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor({ timeout: LIMIT });
  return page;
}

/** The API paths a page asks for (reads only), from the moment this is called. */
function apiLog(page: Page): { paths: string[]; changeSets: unknown[] } {
  const log = { paths: [] as string[], changeSets: [] as unknown[] };
  page.on('request', (r: Request) => {
    const url = new URL(r.url());
    if (r.method() === 'GET' && url.pathname.startsWith('/api/')) log.paths.push(`${url.pathname}${url.search}`);
  });
  page.on('response', (r: Response) => {
    if (/\/changes\?since=\d+$/.test(r.url())) void r.json().then((body: unknown) => log.changeSets.push(body));
  });
  return log;
}

beforeAll(async () => {
  buildDir = buildDashboard(await tempDir('incremental-build'));
  t = await startTestNode(buildDir, 'incremental');
  browser = await launchChromium();
  const created = await http(t.node.port, 'POST', '/api/pursuances', { token: t.node.token, body: { name: 'Long board', rules: RULES } });
  expect(created.status, created.text).toBe(201);
  pursuanceId = (created.body as { id: string }).id;
  // Signed into the node's store as its member would, without a round trip per task.
  for (let i = 0; i < TASKS; i++) ids.push((await t.node.registry.act(pursuanceId, (a) => a.createTask({ audience: ['crew'], title: `Task ${i}` }))).id);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

describe('a command in one browser updates one card in another', { timeout: 180_000 }, () => {
  it('through one change set, without fetching the task list again, on a windowed column', async () => {
    const board = `/p/${pursuanceId}/board`;
    const b = await openSignedIn(board);
    const open = b.locator('[data-testid="column"][data-status="open"]');
    const cardIn = (page: Page, status: string, title: string) =>
      page
        .locator(`[data-testid="column"][data-status="${status}"]`)
        .getByTestId('task-card')
        .filter({ has: page.getByRole('heading', { name: title, exact: true }) });
    // Newest first: the last task made is on top of the open column.
    const newest = `Task ${TASKS - 1}`;
    await cardIn(b, 'open', newest).waitFor({ timeout: LIMIT });
    // The open column holds every task but renders only those in view.
    await open.getByTestId('card-window').waitFor({ timeout: LIMIT });
    expect(await open.locator('.count').textContent()).toBe(String(TASKS));
    const rendered = await open.getByTestId('task-card').count();
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(TASKS / 3);

    const a = await openSignedIn(`/p/${pursuanceId}/tasks/${ids.at(-1)!}`);
    const log = apiLog(b);

    // A comment in A: B's card gains "1 comment".
    await a.getByLabel('Your comment').fill('Booked for Saturday');
    await a.getByRole('button', { name: 'Send comment' }).click();
    await cardIn(b, 'open', newest).filter({ hasText: '1 comment' }).waitFor({ timeout: LIMIT });

    // A move in A (from its board's menu): the card leaves B's open column for "doing".
    await a.goto(`${t.node.url}${board}`);
    const inA = cardIn(a, 'open', newest);
    await inA.getByTestId('move-button').click({ timeout: LIMIT });
    await inA.locator('[role="menuitem"][data-target="doing"]').click({ timeout: LIMIT });
    await cardIn(b, 'doing', newest).waitFor({ timeout: LIMIT });
    await expect.poll(() => cardIn(b, 'open', newest).count(), { timeout: LIMIT }).toBe(0);
    await expect.poll(() => open.locator('.count').textContent(), { timeout: LIMIT }).toBe(String(TASKS - 1));
    await screenshot(b, 'incremental-board');

    // B asked for change sets, and never for the task list (nor the members, roles or feed).
    const paths = log.paths.map((p) => p.replace(pursuanceId, ':id'));
    expect(paths.filter((p) => p.startsWith('/api/pursuances/:id/changes?since='))).not.toHaveLength(0);
    expect(paths.filter((p) => /^\/api\/pursuances\/:id\/(tasks|members|roles|feed)(\?|$)/.test(p))).toEqual([]);
    // Each change set carried the one task that changed, not the list.
    await expect.poll(() => log.changeSets.length, { timeout: LIMIT }).toBeGreaterThan(0);
    for (const c of log.changeSets as { reset: boolean; tasks: { upserted: { id: string }[] } }[]) {
      expect(c.reset).toBe(false);
      expect(c.tasks.upserted.map((x) => x.id).every((id) => id === ids.at(-1))).toBe(true);
    }
    expect(pageErrors).toEqual([]);
  });
});

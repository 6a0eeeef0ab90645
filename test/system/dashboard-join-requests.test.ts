/**
 * Joining by request in real browsers: a founder and two strangers, each on its own node with
 * its own dashboard (one Chromium, one browser context each, each signed in with its node's own
 * token), on one loopback network with a relay process. The founder publishes the pursuance's
 * public profile under Members → Join requests and copies its text; a stranger pastes it under
 * Join, sees the preview, answers the question and sends the request (its node does the proof of
 * work and posts it to the profile's inbox on the relay). The founder's dashboard shows the
 * request live, with the answer beside the question, and admits the stranger, whose node is
 * handed the pursuance and joins it. A second stranger is declined with a note, and reads it.
 * Only the setup (creating the pursuance on the relay) goes through the API; every wait is on a
 * condition, never on a timer. Screenshots are saved under test-results/dashboard (not committed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { axeViolations, contrastProblems, unnamedControls } from '../support/a11y.js';
import { buildDashboard, launchChromium, openLivePage, screenshot, sectionTab, type TestNode } from '../support/dashboard.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';

/** What waits across nodes (relay, proof of work, p2p hand-over) may take on a loaded 2-core machine. */
const CROSS_NODE = 120_000;
/** What waits on one node and its own dashboard may take there. */
const LOCAL = 60_000;

const NAME = 'Tenants United';
const QUESTION = 'Which building?';

let dir: string;
let registryDir: string;
let buildDir: string;
let relay: Spawned;
let relayBundle: string;
const nodes: TestNode[] = [];
let founder: TestNode;
let rosa: TestNode;
let nosy: TestNode;
let browser: Browser;
const contexts: BrowserContext[] = [];
let pageF: Page;
let pageR: Page;
let pageN: Page;
let id: string;
let profileText: string;
const pageErrors: string[] = [];

const api = (n: TestNode, method: string, path: string, body?: unknown) =>
  http(n.node.port, method, path, { token: n.node.token, ...(body === undefined ? {} : { body }) });

/** An in-process node on the loopback network (fast peer timings), serving the dashboard just built. */
async function node(name: string): Promise<TestNode> {
  const dataDir = join(dir, name);
  const running: RunningNode = await startNode({ ...testNodeOptions(dir, name, registryDir), dashboardDir: buildDir });
  const n: TestNode = { node: running, dataDir, close: () => running.close() };
  nodes.push(n);
  return n;
}

async function openPage(n: TestNode, path: string): Promise<Page> {
  const page = await openLivePage(browser, n, path, contexts, pageErrors);
  page.setDefaultTimeout(LOCAL);
  return page;
}

/** The main navigation's link (Pursuances, New, Join). */
const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
/** A request in the founder's review inbox, by the name its sender gave. */
const requestOf = (page: Page, name: string) => page.getByTestId('review-inbox').locator('li.request').filter({ hasText: name });
/** The stranger's own request to join, under "Your requests to join". */
const sentOf = (page: Page) => page.getByTestId('sent-requests').locator('li').filter({ hasText: NAME });
/** The answer shown beside a question (the <dd> right after its <dt>). */
const answerTo = (request: Locator, question: string) =>
  request.getByTestId('request-answers').locator('dt', { hasText: question }).locator('xpath=following-sibling::dd[1]');

async function expectAccessible(page: Page, where: string): Promise<void> {
  expect(await unnamedControls(page), where).toEqual([]);
  expect(await contrastProblems(page), where).toEqual([]);
  expect(await axeViolations(page), where).toEqual([]);
}

/** A stranger's Join view: paste the profile text, check the preview, answer, send; it shows the request as waiting. */
async function askToJoin(page: Page, name: string, answer: string, shot: string): Promise<void> {
  await nav(page, 'Join').click();
  await page.getByRole('heading', { name: 'Join a pursuance' }).waitFor();
  await page.getByLabel('Invite link, profile or group invite').fill(`Join us: ${profileText}`);
  const preview = page.getByTestId('profile-preview');
  await preview.getByRole('heading', { name: `“${NAME}” takes requests to join` }).waitFor({ timeout: CROSS_NODE });
  expect(await preview.getByTestId('preview-asks').locator('li').allTextContents()).toEqual([QUESTION]);
  expect(await preview.getByTestId('preview-work').textContent()).toMatch(/^8 bits/);
  expect(await preview.getByTestId('preview-about').textContent()).toBe('Renters organising in the north district.');
  await page.getByLabel(/^The name you go by/).fill(name);
  await page.getByLabel(QUESTION, { exact: true }).fill(answer);
  await expectAccessible(page, `${name}: /join with a profile preview`);
  await screenshot(page, `${shot}-preview`);
  await page.getByRole('button', { name: 'Send request' }).click();
  // The node does the work and posts the request; the form clears and says so.
  await page
    .getByTestId('request-sent')
    .filter({ hasText: `Request sent to “${NAME}”` })
    .waitFor({ timeout: CROSS_NODE });
  const sent = sentOf(page);
  await expect.poll(() => sent.getAttribute('data-status'), { timeout: LOCAL }).toBe('sent');
  expect(await sent.locator('.badge').textContent()).toBe('waiting');
  expect(await sent.textContent()).toContain('Waiting for an answer');
  await screenshot(page, `${shot}-sent`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dashboard-join-requests-'));
  registryDir = join(dir, 'registry');
  const relayStarting = startRelayProcess(join(dir, 'relay'), registryDir);
  buildDir = buildDashboard(join(dir, 'build'));
  ({ relay, bundle: relayBundle } = await relayStarting);
  [founder, rosa, nosy] = await Promise.all([node('founder'), node('rosa'), node('nosy')]);
  browser = await launchChromium();
  // Setup through the API: a pursuance (organizer and member roles) on the relay.
  const created = await api(founder, 'POST', '/api/pursuances', { name: NAME, template: 'activist-cell', relay: relayBundle });
  expect(created.status, created.text).toBe(201);
  expect(created.body).toMatchObject({ attached: true });
  id = (created.body as { id: string }).id;
  [pageF, pageR, pageN] = await Promise.all([openPage(founder, `/p/${id}/board`), openPage(rosa, '/'), openPage(nosy, '/')]);
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('joining by request through the dashboards of a founder and two strangers', () => {
  it('the founder publishes the public profile under Members → Join requests and copies its text', { timeout: 120_000 }, async () => {
    await sectionTab(pageF, 'Members & roles').click();
    const panel = pageF.getByTestId('join-requests');
    await panel.getByRole('heading', { name: 'Join requests' }).waitFor();
    await panel.getByTestId('no-profile').waitFor();
    await panel.getByLabel('Requests are read by the holders of').selectOption({ label: 'Organizer' });
    await panel.getByLabel('About the pursuance').fill('Renters organising in the north district.');
    await panel.getByTestId('add-question').click();
    await panel.getByLabel('Question 1', { exact: true }).fill(QUESTION);
    await panel.getByLabel('Work a request costs').fill('8');
    await panel.getByRole('button', { name: 'Publish profile' }).click();

    const facts = panel.getByTestId('profile-facts');
    await facts.waitFor({ timeout: LOCAL });
    expect(await facts.locator('ol li').allTextContents()).toEqual([QUESTION]);
    expect(await facts.textContent()).toContain('8 bits');
    expect(await facts.textContent()).toContain('Organizer');
    // The form now offers to publish again; nothing is stale and this node reads the requests.
    await panel.getByRole('button', { name: 'Publish again' }).waitFor();
    expect(await panel.getByTestId('profile-stale').count()).toBe(0);
    expect(await panel.getByTestId('profile-not-reading').count()).toBe(0);
    await panel.getByTestId('no-requests').waitFor();

    profileText = await panel.getByLabel('Profile text to share').inputValue();
    expect(profileText).toMatch(/^pursuance-profile:1:\S+$/);
    // The profile names no member: not the founder's address.
    expect(profileText).not.toContain(founder.node.identity.onion);
    await expectAccessible(pageF, 'founder: Members with a published profile');
    await screenshot(pageF, 'join-requests-00-profile');
  });

  it('a stranger asks through the profile; the founder sees the request live, with the answer, and admits them; they join', { timeout: 300_000 }, async () => {
    await pageF.evaluate('window.__noReload = 1');
    await askToJoin(pageR, 'Rosa', 'Block C, flat 12', 'join-requests-01-rosa');
    await pageR.evaluate('window.__noReload = 1');

    // The founder's inbox shows it without a reload: the name, the answer beside the question, the work.
    const request = requestOf(pageF, 'Rosa');
    await request.waitFor({ timeout: CROSS_NODE });
    expect(await pageF.evaluate('window.__noReload')).toBe(1);
    expect(await request.getAttribute('data-status')).toBe('pending');
    expect(await request.getByTestId('request-status').textContent()).toBe('waiting');
    expect(await answerTo(request, QUESTION).textContent()).toBe('Block C, flat 12');
    expect(await request.textContent()).toMatch(/\d+ bits of work/);
    expect(await pageF.getByTestId('inbox-counts').textContent()).toMatch(/^1 waiting, room for \d+\.$/);
    await expectAccessible(pageF, 'founder: Members with a request waiting');
    await screenshot(pageF, 'join-requests-02-founder-request');

    // Admit, as a member.
    await request.getByRole('button', { name: 'Admit…' }).click();
    const dialog = pageF.getByTestId('confirm-admit');
    await dialog.getByRole('heading', { name: 'Let Rosa in?' }).waitFor();
    await dialog.getByRole('checkbox', { name: 'Member', exact: true }).check();
    expect(await dialog.textContent()).toContain('Rosa joins as Member.');
    await expectAccessible(pageF, 'founder: the admit dialog');
    await dialog.getByRole('button', { name: 'Admit', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: CROSS_NODE });
    await expect.poll(() => request.getAttribute('data-status'), { timeout: CROSS_NODE }).toMatch(/^(admitted|member)$/);
    expect(await request.getByRole('button', { name: 'Admit…' }).count()).toBe(0);
    // Rosa is in the founder's member list, as a member.
    const row = pageF.locator(`tr[data-member="${rosa.node.identity.onion}"]`);
    await row.waitFor({ timeout: LOCAL });
    // Admitted as "Rosa" (the name in her request); once her node is in, it may sign the name it goes
    // by everywhere ("rosa", its display name), so either may show by now.
    expect(await row.locator('th').textContent()).toMatch(/rosa/i);
    await expect.poll(() => row.locator('.chip.role').allTextContents(), { timeout: LOCAL }).toEqual([expect.stringContaining('Member')]);
    await screenshot(pageF, 'join-requests-03-founder-admitted');

    // Rosa's Join view: the request turns to joined without a reload, with a link to the pursuance.
    const sent = sentOf(pageR);
    await expect.poll(() => sent.getAttribute('data-status'), { timeout: CROSS_NODE }).toBe('joined');
    expect(await sent.locator('.badge').textContent()).toBe('joined');
    expect(await sent.textContent()).toContain('You are in.');
    expect(await pageR.evaluate('window.__noReload')).toBe(1);
    await screenshot(pageR, 'join-requests-04-rosa-joined');

    // The pursuance is in Rosa's list, with Rosa's role.
    await nav(pageR, 'Pursuances').click();
    const card = pageR.getByTestId('pursuance').filter({ has: pageR.getByRole('link', { name: NAME, exact: true }) });
    await card.waitFor({ timeout: CROSS_NODE });
    await card.getByRole('link', { name: NAME, exact: true }).click();
    await pageR.getByTestId('board').waitFor();
    await expect.poll(() => pageR.getByTestId('my-roles').textContent(), { timeout: CROSS_NODE }).toContain('Member');
    await screenshot(pageR, 'join-requests-05-rosa-board');
  });

  it('a second stranger is declined with a note and reads it in their Join view', { timeout: 300_000 }, async () => {
    await askToJoin(pageN, 'Nosy', 'I would rather not say', 'join-requests-06-nosy');
    await pageN.evaluate('window.__noReload = 1');

    const request = requestOf(pageF, 'Nosy');
    await request.waitFor({ timeout: CROSS_NODE });
    expect(await pageF.evaluate('window.__noReload')).toBe(1);
    expect(await answerTo(request, QUESTION).textContent()).toBe('I would rather not say');
    await request.getByRole('button', { name: 'Decline…' }).click();
    const dialog = pageF.getByTestId('confirm-decline');
    await dialog.getByRole('heading', { name: 'Decline the request of Nosy?' }).waitFor();
    const note = 'We only take tenants of our blocks.';
    await dialog.getByLabel('Note to them (optional)').fill(note);
    await expectAccessible(pageF, 'founder: the decline dialog');
    await dialog.getByRole('button', { name: 'Decline', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: CROSS_NODE });
    await expect.poll(() => request.getAttribute('data-status'), { timeout: LOCAL }).toBe('declined');
    expect(await request.getByTestId('request-status').textContent()).toBe('declined');
    await screenshot(pageF, 'join-requests-07-founder-declined');

    // Nosy's Join view: declined, with the note, live; and no pursuance came with it.
    const sent = sentOf(pageN);
    await expect.poll(() => sent.getAttribute('data-status'), { timeout: CROSS_NODE }).toBe('declined');
    expect(await sent.locator('.badge').textContent()).toBe('declined');
    expect(await sent.textContent()).toContain('They declined your request.');
    expect(await sent.getByTestId('sent-note').textContent()).toBe(`Their note: “${note}”`);
    expect(await pageN.evaluate('window.__noReload')).toBe(1);
    await expectAccessible(pageN, 'nosy: /join with a declined request');
    await screenshot(pageN, 'join-requests-08-nosy-declined');
    expect(((await api(nosy, 'GET', '/api/pursuances')).body as { id: string }[]).map((p) => p.id)).not.toContain(id);
    expect(pageErrors).toEqual([]);
  });
});

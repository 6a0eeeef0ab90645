/**
 * Links between pursuances in real browsers: two pursuances, each founded on its own node (one
 * loopback network, one relay process; both pursuances on the relay, so each offer's inbox is a
 * drop box there). The founder of "Port Watch" works in the dashboard: under Links they make an
 * offer to "Harbour Desk" and copy its text, paste Harbour Desk's offer, see its key id (the one
 * Harbour Desk's node reports), set the role mapping and read it in words before opening, then
 * see the link listed and send a task over it, which reaches Harbour Desk's node with its origin.
 * Harbour Desk's side (its offer, its opening) goes through its node's API. Every wait is on a
 * condition, never on a timer. Screenshots are saved under test-results/dashboard (not committed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { axeViolations, contrastProblems, unnamedControls } from '../support/a11y.js';
import { buildDashboard, launchChromium, openLivePage, screenshot, sectionTab, type TestNode } from '../support/dashboard.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';

/** What waits across nodes (through the relay) may take on a loaded 2-core machine. */
const CROSS_NODE = 120_000;
/** What waits on one node and its own dashboard may take there. */
const LOCAL = 60_000;

let dir: string;
let registryDir: string;
let buildDir: string;
let relay: Spawned;
let relayBundle: string;
const nodes: TestNode[] = [];
let port: TestNode;
let harbour: TestNode;
let browser: Browser;
const contexts: BrowserContext[] = [];
let page: Page;
/** Port Watch's pursuance id, and Harbour Desk's. */
let A: string;
let B: string;
const pageErrors: string[] = [];

const api = (n: TestNode, method: string, path: string, body?: unknown) =>
  http(n.node.port, method, path, { token: n.node.token, ...(body === undefined ? {} : { body }) });

async function ok<T>(n: TestNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}

/** An in-process node on the loopback network (fast peer timings), serving the dashboard just built. */
async function node(name: string): Promise<TestNode> {
  const dataDir = join(dir, name);
  const running: RunningNode = await startNode({ ...testNodeOptions(dir, name, registryDir), dashboardDir: buildDir });
  const n: TestNode = { node: running, dataDir, close: () => running.close() };
  nodes.push(n);
  return n;
}

/** A pursuance founded on `n` from the activist cell template (organizers and members), on the relay. */
async function found(n: TestNode, name: string): Promise<string> {
  const created = await api(n, 'POST', '/api/pursuances', { name, template: 'activist-cell', relay: relayBundle });
  expect(created.status, created.text).toBe(201);
  expect(created.body).toMatchObject({ attached: true });
  return (created.body as { id: string }).id;
}

/** The key id as the dashboard groups it to be read aloud. */
const grouped = (hex: string) => (hex.match(/.{1,4}/g) ?? []).join(' ');

async function expectAccessible(where: string): Promise<void> {
  expect(await unnamedControls(page), where).toEqual([]);
  expect(await contrastProblems(page), where).toEqual([]);
  expect(await axeViolations(page), where).toEqual([]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dashboard-links-'));
  registryDir = join(dir, 'registry');
  const relayStarting = startRelayProcess(join(dir, 'relay'), registryDir);
  buildDir = buildDashboard(join(dir, 'build'));
  ({ relay, bundle: relayBundle } = await relayStarting);
  [port, harbour] = await Promise.all([node('port'), node('harbour')]);
  browser = await launchChromium();
  [A, B] = await Promise.all([found(port, 'Port Watch'), found(harbour, 'Harbour Desk')]);
  page = await openLivePage(browser, port, `/p/${A}/board`, contexts, pageErrors);
  page.setDefaultTimeout(LOCAL);
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('linking two pursuances in the dashboard', () => {
  let ourOffer: { text: string; keyId: string };

  it('the founder makes an offer to the other pursuance under Links and copies its text', { timeout: 120_000 }, async () => {
    await sectionTab(page, 'Links').click();
    await page.getByRole('heading', { name: 'Links', level: 2 }).waitFor();
    await page.getByTestId('no-links').waitFor();

    const form = page.getByTestId('offer-form');
    await form.getByLabel('Their pursuance’s id').fill(B);
    await form.getByLabel('Anchored on our role').selectOption({ label: 'Organizer' });
    await form.getByRole('button', { name: 'Make the offer' }).click();
    const made = page.locator(`[data-testid="offer"][data-to="${B}"]`);
    await made.waitFor();
    const text = await made.getByLabel('Offer text').inputValue();
    expect(text).toMatch(/^pursuance-link:1:\S+$/);
    // What the dashboard shows is what the node made: the same text, and its key id to read out.
    const offers = await ok<{ text: string; keyId: string; to: string }[]>(port, 'GET', `/api/pursuances/${A}/links/offers`);
    expect(offers.map((o) => [o.to, o.text])).toEqual([[B, text]]);
    ourOffer = offers[0]!;
    expect(await made.getByTestId('offer-key-id').locator('code').textContent()).toBe(grouped(ourOffer.keyId));
    await expectAccessible('Links with an offer made');
    await screenshot(page, 'links-00-offer');
  });

  it('pastes their offer, sees its key id, sets the mapping, reads it in words, opens the link and sees it listed', { timeout: 180_000 }, async () => {
    const theirs = await ok<{ text: string; keyId: string }>(harbour, 'POST', `/api/pursuances/${B}/links/offers`, { to: A, anchor: 'organizer' });
    await page.evaluate('window.__noReload = 1');
    const form = page.getByTestId('open-form');
    await form.getByLabel('Their offer', { exact: true }).fill(`Here is ours, as agreed:\n${theirs.text}\n`);
    const preview = page.getByTestId('offer-preview');
    await preview.getByRole('heading', { name: 'Offer from “Harbour Desk”' }).waitFor();
    expect(await preview.getByTestId('preview-key-id').textContent()).toBe(grouped(theirs.keyId));
    expect(await preview.getByTestId('compare-key').textContent()).toContain('Compare this key id with them');
    // Our offer to them was made first: nothing stands in the way of opening.
    expect(await preview.getByTestId('no-own-offer').count()).toBe(0);

    await form.getByRole('button', { name: 'Add a permission' }).click();
    await form.getByLabel('Their role', { exact: true }).fill('organizer');
    // Creating tasks is what a permission grants unless "vouch for applicants" is chosen.
    expect(await form.getByLabel('may', { exact: true }).inputValue()).toBe('create');
    await form.getByLabel('our role', { exact: true }).selectOption({ label: 'Member' });
    await form.getByRole('button', { name: 'Add a sending pair' }).click();
    await form.getByLabel('Our role', { exact: true }).selectOption({ label: 'Organizer' });
    await form.getByLabel('sends tasks to their role').fill('organizer');
    const words = form.getByTestId('open-words').locator('li');
    await expect
      .poll(() => words.allTextContents())
      .toEqual(['Their “organizer” may create tasks for our Member.', 'Our Organizer may send tasks to their “organizer”.']);
    await expectAccessible('Links with an offer previewed and the mapping set');
    await screenshot(page, 'links-01-preview');
    await form.getByRole('button', { name: 'Open the link' }).click();

    const card = page.getByTestId(`link-${B}`);
    await card.getByRole('heading', { name: 'Harbour Desk', exact: true }).waitFor();
    expect(await card.getByTestId('link-mapping').locator('li').allTextContents()).toEqual([
      'Their “organizer” may create tasks for our Member.',
      'Our Organizer may send tasks to their “organizer”.',
    ]);
    // Their anchor key is pinned by the opening: listed with the id compared.
    const anchorRow = card.getByTestId('link-keys').locator('tr[data-role="organizer"]');
    expect(await anchorRow.locator('code').getAttribute('title')).toBe(theirs.keyId);
    // The form is cleared for the next link; the list updated without a reload.
    await expect.poll(() => form.getByLabel('Their offer', { exact: true }).inputValue()).toBe('');
    await preview.waitFor({ state: 'detached' });
    expect(await page.evaluate('window.__noReload')).toBe(1);
    const links = await ok<{ peer: string; theyMay: unknown[]; weSend: unknown[] }[]>(port, 'GET', `/api/pursuances/${A}/links`);
    expect(links).toEqual([
      expect.objectContaining({
        peer: B,
        theyMay: [{ theirRole: 'organizer', action: 'create', on: 'member' }],
        weSend: [{ ours: 'organizer', theirs: 'organizer' }],
      }),
    ]);
    await expectAccessible('Links with a link open');
    await screenshot(page, 'links-02-open');
  });

  it('sends a task over the link; it reaches the other pursuance with its origin', { timeout: 240_000 }, async () => {
    // Their side opens too, letting our organizers create tasks for their organizers.
    await ok(harbour, 'POST', `/api/pursuances/${B}/links`, { offer: ourOffer.text, theyMay: [{ theirRole: 'organizer', on: 'organizer' }] });
    const card = page.getByTestId(`link-${B}`);
    const send = card.getByTestId('link-send');
    const pair = send.getByRole('radio', { name: 'our Organizer → their “organizer”' });
    expect(await pair.isChecked()).toBe(true);
    await send.getByLabel('Title').fill('Check berth 7');
    await send.getByLabel('Details').fill('The March manifests do not match the crane logs.');
    await send.getByRole('button', { name: 'Send the task' }).click();
    const status = send.getByTestId('link-sent');
    await expect.poll(() => status.getAttribute('data-posted'), { timeout: CROSS_NODE }).toMatch(/^(true|false)$/);
    // Either answer is honest (their relay may be slow to take it): the words say which.
    const posted = (await status.getAttribute('data-posted')) === 'true';
    expect(await status.textContent()).toMatch(posted ? /^Sent: their relay has it\.$/ : /^Waiting, will retry/);
    await screenshot(page, 'links-03-sent');

    type Task = { title: string | null; readable: boolean; origin?: { peer: string; name: string | null; role: string } };
    const arrived = async () => ((await ok<Task[]>(harbour, 'GET', `/api/pursuances/${B}/tasks`)) ?? []).filter((t) => t.origin !== undefined);
    await expect.poll(async () => (await arrived()).length, { timeout: CROSS_NODE, interval: 500 }).toBe(1);
    expect((await arrived())[0]).toMatchObject({ title: 'Check berth 7', readable: true, origin: { peer: A, name: 'Port Watch', role: 'organizer' } });
    // Nothing waits in our outbox once it is there; the list says so without a reload.
    await card.getByTestId('link-waiting').waitFor({ state: 'detached', timeout: CROSS_NODE });
    expect(pageErrors).toEqual([]);
  });
});

/**
 * A new group as it would meet the product (issue 14, "Done when", first bullet), against real
 * processes: a relay daemon and three `pursuance node start` processes on one loopback network,
 * each serving a fresh build of the dashboard, each person in their own browser context.
 *
 * The founder signs in with the printed link, names themself, creates a pursuance from a
 * template on the relay their node offers, and makes an invite link. The newcomer opens the
 * link on their own dashboard and asks; the founder approves; both then see each other's names.
 * A third person tries the spent link. Every mistake on the way — a name a signed event cannot
 * carry, a garbage relay bundle, garbage and cut-short invites — shows a plain message next to
 * the control it concerns. Screenshots of each step go to test-results/new-group.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, buildDashboard, launchChromium } from '../support/dashboard.js';
import { spawnCli, startRelayProcess, type Spawned } from '../support/processes.js';

const SHOTS = join(ROOT, 'test-results/new-group');
/** Generous: three node processes, a relay and Chromium share two cores in CI. */
const WAIT = 90_000;

interface NodeProc {
  readonly proc: Spawned;
  readonly onion: string;
  readonly url: string;
  readonly signIn: string;
}

let dir: string;
let relay: Spawned;
let bundle: string;
let browser: Browser;
const procs: NodeProc[] = [];
const pageErrors: string[] = [];
let founder: NodeProc;
let noor: NodeProc;
let omar: NodeProc;
let pageF: Page;
let pageN: Page;
let pageO: Page;
let link: string;
let url: string;
let pursuanceId: string;

async function startNodeProcess(name: string, registryDir: string, dashboardDir: string, extra: string[]): Promise<NodeProc> {
  const proc = spawnCli(['node', 'start', '--data-dir', join(dir, name), '--port', '0', '--loopback-registry', registryDir, ...extra], {
    PURSUANCE_PASSWORD: `${name} password`,
    PURSUANCE_DASHBOARD_DIR: dashboardDir,
  });
  try {
    const onion = (await proc.waitForLine(/node ([a-z2-7]{56})\n/))[1]!;
    const dashboard = (await proc.waitForLine(/dashboard (http:\/\/127\.0\.0\.1:\d+)\/\n/))[1]!;
    const signIn = (await proc.waitForLine(/sign-in (\S+)\n/))[1]!;
    const n = { proc, onion, url: dashboard, signIn };
    procs.push(n);
    return n;
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function open(signInLink: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  // Every action and wait may take as long as a loaded CI machine needs (Playwright's default is 30 s).
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(signInLink);
  await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor({ timeout: WAIT });
  return page;
}

/** The error shown for a control: inside the same form (or fieldset), visible, in plain words with the code beside. */
async function errorBeside(container: Locator, words: RegExp): Promise<string> {
  const notice = container.getByRole('alert').filter({ hasText: words });
  await notice.first().waitFor({ timeout: WAIT });
  return (await notice.first().textContent()) ?? '';
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'new-group-'));
  const registryDir = join(dir, 'registry');
  const dashboardDir = buildDashboard(join(dir, 'dashboard'));
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir));
  // The founder's node is given the group's relay at start (--relay), so the dashboard offers it.
  [founder, noor, omar] = await Promise.all([
    startNodeProcess('founder', registryDir, dashboardDir, ['--relay', bundle]),
    startNodeProcess('noor', registryDir, dashboardDir, ['--name', 'Noor']),
    startNodeProcess('omar', registryDir, dashboardDir, ['--name', 'Omar']),
  ]);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.proc.stop()));
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a new group, from the first start to two members who know each other by name', () => {
  it('the founder signs in with the printed link and names themself (a bad name is refused beside the field)', { timeout: 180_000 }, async () => {
    pageF = await open(founder.signIn);
    // The token left the address bar once used.
    expect(pageF.url()).not.toContain('token=');
    await shot(pageF, '01-founder-signed-in');
    const profile = pageF.getByTestId('profile-name');
    await profile.getByLabel('Name', { exact: true }).fill('Fatima\u202e');
    await profile.getByRole('button', { name: 'Save name' }).click();
    const text = await errorBeside(profile, /name/i);
    expect(text).toMatch(/INVALID_REQUEST/);
    await expect.poll(() => profile.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await shot(pageF, '02-founder-bad-name');
    await profile.getByLabel('Name', { exact: true }).fill('Fatima');
    await profile.getByRole('button', { name: 'Save name' }).click();
    await profile.getByTestId('profile-saved').waitFor({ timeout: WAIT });
    await shot(pageF, '03-founder-named');
  });

  it('creates a pursuance from a template on the relay the node offers (a garbage bundle is refused beside its field)', { timeout: 180_000 }, async () => {
    await pageF.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New' }).click();
    // The home page has a "Name" field too (your name): wait for the new-pursuance form first.
    await pageF.waitForURL('**/new');
    const relayChoice = pageF.getByTestId('relay-choice');
    await relayChoice.waitFor();
    await pageF.getByLabel('Name', { exact: true }).fill('Tenants union');
    // Offered, and chosen by default: the relay the node was given.
    const offered = relayChoice.getByRole('radio').first();
    await expect.poll(() => offered.isChecked(), { timeout: WAIT }).toBe(true);
    await relayChoice.getByLabel('Paste a new relay bundle').check();
    await pageF.getByLabel('Relay bundle', { exact: true }).fill('key-bundle not-a-bundle');
    await pageF.getByRole('button', { name: 'Create pursuance' }).click();
    expect(await errorBeside(pageF.locator('form').filter({ has: relayChoice }), /bundle/i)).toMatch(/INVALID_BUNDLE/);
    await expect.poll(() => pageF.getByLabel('Relay bundle', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await shot(pageF, '04-founder-bad-bundle');
    await offered.check();
    await pageF.getByRole('button', { name: 'Create pursuance' }).click();
    await pageF.waitForURL(/\/p\/[0-9a-f]{64}\//, { timeout: WAIT });
    pursuanceId = /\/p\/([0-9a-f]{64})\//.exec(pageF.url())![1]!;
    await pageF.getByTestId('pursuance-name').filter({ hasText: 'Tenants union' }).waitFor();
    await shot(pageF, '05-founder-created');
  });

  it('makes an invite link, shown once with its QR code', { timeout: 180_000 }, async () => {
    await pageF.goto(`${founder.url}/p/${pursuanceId}/members`);
    const form = pageF.getByTestId('invite-link-form');
    await form.waitFor({ timeout: WAIT });
    await expect.poll(() => form.getByLabel('Member', { exact: true }).isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Create invite link' }).click();
    const shown = pageF.getByTestId('invite-link');
    await shown.waitFor({ timeout: WAIT });
    link = await shown.getByRole('textbox', { name: 'Invite link' }).inputValue();
    url = await shown.getByRole('textbox', { name: /^Or as an address/ }).inputValue();
    expect(link).toMatch(/^pursuance-join:1:[A-Za-z0-9_-]+$/);
    expect(url).toBe(`http://127.0.0.1:7878/join#invite=${link}`);
    await shown.getByRole('img', { name: 'QR code of the invite link' }).waitFor();
    await shot(pageF, '06-founder-invite-link');
  });

  it('a garbage invite and a cut-short link are refused beside the invite box', { timeout: 180_000 }, async () => {
    pageO = await open(omar.signIn);
    await pageO.goto(`${omar.url}/join`);
    const form = pageO.getByTestId('join-by-invite');
    const box = form.getByRole('textbox', { name: 'Invite link, profile or group invite' });
    await box.fill('hello, here is my invite');
    expect(await errorBeside(form, /neither an invite link/)).toContain('pursuance-join:1:');
    expect(await form.locator('button[type="submit"]').isDisabled()).toBe(true);
    await box.fill(link.slice(0, -30));
    await form.getByRole('button', { name: 'Ask to join' }).click();
    expect(await errorBeside(form, /damaged or cut short/)).toMatch(/INVALID_INVITE/);
    await expect.poll(() => box.getAttribute('aria-invalid')).toBe('true');
    await shot(pageO, '07-omar-cut-link');
  });

  it('the newcomer opens the link on their dashboard, asks, and waits for approval', { timeout: 180_000 }, async () => {
    pageN = await open(noor.signIn);
    // The link as sent is for the usual port; Noor's dashboard is elsewhere, so they open its fragment there.
    await pageN.goto(`${noor.url}/join${url.slice(url.indexOf('#'))}`);
    const box = pageN.getByRole('textbox', { name: 'Invite link, profile or group invite' });
    await expect.poll(() => box.inputValue(), { timeout: WAIT }).toBe(link);
    expect(pageN.url()).not.toContain('invite=');
    await shot(pageN, '08-noor-opened-link');
    await pageN.getByRole('button', { name: 'Ask to join' }).click();
    await pageN.getByTestId('join-asked').filter({ hasText: 'Fatima has your request' }).waitFor({ timeout: WAIT });
    await shot(pageN, '09-noor-waiting');
  });

  it('the founder approves after reading what it grants', { timeout: 180_000 }, async () => {
    const request = pageF.getByTestId('invite-requests');
    await request.filter({ hasText: 'Noor' }).waitFor({ timeout: WAIT });
    await shot(pageF, '10-founder-request');
    await request.getByRole('button', { name: 'Approve…' }).click();
    const dialog = pageF.getByTestId('confirm-approve');
    expect(await dialog.textContent()).toContain('Noor joins as Member');
    await shot(pageF, '11-founder-confirm');
    await dialog.getByRole('button', { name: 'Approve and let them in' }).click();
    await request.waitFor({ state: 'detached', timeout: WAIT });
  });

  it('both see each other by name', { timeout: 180_000 }, async () => {
    await pageN.waitForURL(`**/p/${pursuanceId}/board`, { timeout: WAIT });
    await pageN.getByTestId('pursuance-name').filter({ hasText: 'Tenants union' }).waitFor({ timeout: WAIT });
    await shot(pageN, '12-noor-board');
    await pageN.goto(`${noor.url}/p/${pursuanceId}/members`);
    await pageN.locator(`tr[data-member="${founder.onion}"]`).filter({ hasText: 'Fatima' }).waitFor({ timeout: WAIT });
    await shot(pageN, '13-noor-members');
    await pageF.goto(`${founder.url}/p/${pursuanceId}/members`);
    await pageF.locator(`tr[data-member="${noor.onion}"]`).filter({ hasText: 'Noor' }).waitFor({ timeout: WAIT });
    await shot(pageF, '14-founder-members');
    // Noor reads the dashboard in Spanish: the names stay, the words change.
    await pageN.getByTestId('locale').selectOption('es');
    await expect.poll(() => pageN.evaluate('document.documentElement.lang')).toBe('es');
    await pageN.locator(`tr[data-member="${founder.onion}"]`).filter({ hasText: 'Fatima' }).waitFor();
    await pageN.getByRole('heading', { name: 'Miembros y roles' }).waitFor({ timeout: WAIT });
    await shot(pageN, '14b-noor-members-spanish');
    await pageN.getByTestId('locale').selectOption('en');
  });

  it('a third person with the spent link is told it was used, beside the invite box', { timeout: 180_000 }, async () => {
    const form = pageO.getByTestId('join-by-invite');
    await form.getByRole('textbox', { name: 'Invite link, profile or group invite' }).fill(link);
    await form.getByRole('button', { name: 'Ask to join' }).click();
    await form.getByTestId('join-refused').filter({ hasText: 'Someone else has already used this invite link' }).waitFor({ timeout: WAIT });
    await shot(pageO, '15-omar-spent-link');
    expect(pageErrors).toEqual([]);
  });
});

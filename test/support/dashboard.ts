import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { startNode, type RunningNode } from '@pursuance/node';
import { http } from '../../apps/node/test/support/http.js';

/**
 * Helpers for the dashboard's browser tests and benchmarks: a fresh build of the dashboard,
 * real nodes serving it, and Debian's Chromium driven by playwright-core.
 */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARD = join(ROOT, 'apps/dashboard');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results/dashboard');

/**
 * Build the dashboard from source into `outDir` (each test file gets its own, so parallel
 * files never race on apps/dashboard/dist). About 2 s.
 */
export function buildDashboard(outDir: string): string {
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: DASHBOARD, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`vite build failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`vite build wrote no index.html to ${outDir}`);
  return outDir;
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run test/ci/install-system-deps.sh (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface TestNode {
  readonly node: RunningNode;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** A real node (temp data dir, port 0, test KDF parameters) serving the dashboard built in `dashboardDir`. */
export async function startTestNode(dashboardDir: string, label = 'node'): Promise<TestNode> {
  const dataDir = await mkdtemp(join(tmpdir(), `dash-${label}-`));
  const node = await startNode({ dataDir, password: `${label} password`, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir });
  return {
    node,
    dataDir,
    async close() {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Open the dashboard and enter the node's token, as a person would. */
export async function signIn(page: Page, node: RunningNode, path = '/'): Promise<void> {
  await page.goto(`${node.url}${path}`);
  await page.getByLabel('Node token').fill(node.token);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `dash-${label}-`));
}

/**
 * Carry every signed event `from` holds of pursuance `id` to `to` through each node's own API
 * (GET/POST /api/pursuances/:id/events): what group sync does over a relay, with every event
 * verified by the node taking it in. Returns the receiver's report.
 */
export async function carryEvents(from: TestNode, to: TestNode, id: string): Promise<{ accepted: number; rejected: { code: string; reason: string }[] }> {
  const call = (n: TestNode, method: string, body?: unknown) =>
    http(n.node.port, method, `/api/pursuances/${id}/events`, { token: n.node.token, ...(body === undefined ? {} : { body }) });
  const exported = await call(from, 'GET');
  if (exported.status !== 200) throw new Error(`exporting events answered ${exported.status}: ${exported.text.slice(0, 300)}`);
  const report = await call(to, 'POST', { events: (exported.body as { events: string[] }).events });
  if (report.status !== 200) throw new Error(`importing events answered ${report.status}: ${report.text.slice(0, 300)}`);
  return report.body as { accepted: number; rejected: { code: string; reason: string }[] };
}

/**
 * A page of `n`'s dashboard in a browser context of its own (added to `contexts`, for closing),
 * signed in and live at `path`. Errors the page throws are collected in `errors`.
 */
export async function openLivePage(browser: Browser, n: TestNode, path: string, contexts: BrowserContext[], errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, n.node);
  await page.goto(`${n.node.url}${path}`);
  await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor();
  return page;
}

/** A pursuance's section tab by its name. */
export const sectionTab = (page: Page, name: string) => page.getByRole('navigation', { name: 'Pursuance sections' }).getByRole('link', { name, exact: true });

/**
 * Dashboard benchmarks in headless Chromium against a real node (figures printed, never asserted):
 *  - first paint, board rendered and time to interactive of a board with 5,000 tasks
 *    (generated through the pursuance core into the node's store, as its own member would);
 *  - time to interactive of a board with 50,000 tasks (generated the same way, after the other
 *    measurements so they see the store they always saw), beside the 5,000-task figure;
 *  - click-to-paint latency of a card's menu on that board;
 *  - time from a command in one browser (creating a task) to the update in another browser
 *    context on the same node (server-sent events, then GET …/changes and a patch of the one
 *    card: the task list is not refetched, which the row counts), on a small board and on the
 *    5,000-task board;
 *  - the same across the demo network: the founder's browser on node A, a member's browser on
 *    node B, events carried by a relay daemon process over LoopbackACN; beside it, the same
 *    path without browsers (A's API → B's projection) measured in the same run.
 * BENCH_DASHBOARD_TASKS changes the board size; BENCH_DASHBOARD_TTI_TASKS the large board's
 * (0: skip it); BENCH_DASHBOARD_RUNS the number of loads.
 */
import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import type { RunningNode } from '@pursuance/node';
import type { EventId, Rules } from '@pursuance/pursuance';
import { http } from '../../apps/node/test/support/http.js';
import { buildDashboard, launchChromium, startTestNode, tempDir } from '../support/dashboard.js';
import { untilChange } from '../support/until-change.js';
import { fmt, printTable } from './measure.js';
import { startRelayPair } from './relay-pair.js';

const TASKS = Number(process.env.BENCH_DASHBOARD_TASKS ?? 5000);
const TTI_TASKS = Number(process.env.BENCH_DASHBOARD_TTI_TASKS ?? 50_000);
const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS ?? 3);
const PINGS = 10;

const RULES = {
  format: 'pursuance-rules/1',
  title: 'bench',
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

/** Runs in the page before the app: timestamps for the first card on the board and the first idle moment after it. */
const INSTRUMENT = `
  window.__bench = { longTasks: 0, longTaskMs: 0 };
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) { window.__bench.longTasks++; window.__bench.longTaskMs += e.duration; } }).observe({ type: 'longtask', buffered: true });
  } catch {}
  // The whole list is in once the board shows and no page is still arriving (a small board: at once).
  const checkWhole = () => {
    if (window.__bench.wholeAt === undefined && window.__bench.boardAt !== undefined && !document.querySelector('[data-testid="tasks-arriving"]')) {
      window.__bench.wholeAt = performance.now();
      whole.disconnect();
    }
  };
  const whole = new MutationObserver(checkWhole);
  whole.observe(document, { childList: true, subtree: true });
  const watch = new MutationObserver(() => {
    if (window.__bench.boardAt === undefined && document.querySelector('[data-testid="board"] [data-testid="task-card"]')) {
      window.__bench.boardAt = performance.now();
      window.__bench.cards = document.querySelectorAll('[data-testid="task-card"]').length;
      watch.disconnect();
      checkWhole();
      requestAnimationFrame(() => setTimeout(() => {
        window.__bench.paintedAt = performance.now();
        requestIdleCallback(() => { window.__bench.idleAt = performance.now(); }, { timeout: 30000 });
      }, 0));
    }
  });
  watch.observe(document, { childList: true, subtree: true });
`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]): string => `median ${fmt(median(xs))} ms, min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}`;

/** How many tasks of `id` are open (each one of the new-task form's choices of parent). */
async function openTaskCount(node: RunningNode, id: string): Promise<number> {
  const tasks = (await http(node.port, 'GET', `/api/pursuances/${id}/tasks`, { token: node.token })).body as { closed: boolean; readable: boolean }[];
  return tasks.filter((t) => !t.closed && t.readable).length;
}

interface Load {
  fp: number;
  fcp: number;
  board: number;
  painted: number;
  idle: number;
  /** The last page of the task list is in (the board no longer says more are arriving). */
  whole: number;
  cards: number;
  longTasks: number;
  longTaskMs: number;
  tasksBytes: number;
  clickToPaint: number;
}

async function loadBoard(browser: Browser, url: string, token: string, timeout = 120_000): Promise<Load> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  await context.addInitScript(`sessionStorage.setItem('pursuance.token', ${JSON.stringify(token)});${INSTRUMENT}`);
  const page = await context.newPage();
  await page.goto(url);
  // A function, not a string: the dashboard's CSP forbids eval, which string predicates need.
  await page.waitForFunction(
    () => {
      const b = (globalThis as unknown as { __bench: { idleAt?: number; wholeAt?: number } }).__bench;
      return b.idleAt !== undefined && b.wholeAt !== undefined;
    },
    undefined,
    { timeout },
  );
  const m = await page.evaluate<Record<string, number>>(`({
    ...window.__bench,
    fp: performance.getEntriesByName('first-paint')[0]?.startTime ?? NaN,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    tasksBytes: performance.getEntriesByType('resource').filter((e) => /\\/tasks(\\?|$)/.test(e.name)).reduce((sum, e) => sum + e.encodedBodySize, 0),
  })`);
  const clickToPaint = await page.evaluate<number>(`(async () => {
    const b = document.querySelector('[data-testid="move-button"]');
    const t0 = performance.now();
    b.click();
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    if (!document.querySelector('[role="menu"]')) throw new Error('the menu did not open');
    return performance.now() - t0;
  })()`);
  await context.close();
  return {
    fp: m.fp!,
    fcp: m.fcp!,
    board: m.boardAt!,
    painted: m.paintedAt!,
    idle: m.idleAt!,
    whole: m.wholeAt!,
    cards: m.cards!,
    longTasks: m.longTasks!,
    longTaskMs: m.longTaskMs!,
    tasksBytes: m.tasksBytes!,
    clickToPaint,
  };
}

/** B's requests for the whole task list and for change sets, while `during` runs. */
async function countingRequests<T>(b: Page, during: () => Promise<T>): Promise<{ result: T; lists: number; changeSets: number }> {
  let lists = 0;
  let changeSets = 0;
  const seen = (r: { url(): string }) => {
    const path = new URL(r.url()).pathname;
    // Every page of the list counts: a refetch of the list is any read of it.
    if (/\/api\/pursuances\/[0-9a-f]{64}\/tasks$/.test(path)) lists += 1;
    if (/\/api\/pursuances\/[0-9a-f]{64}\/changes$/.test(path)) changeSets += 1;
  };
  b.on('request', seen);
  try {
    return { result: await during(), lists, changeSets };
  } finally {
    b.off('request', seen);
  }
}

/** One command's trip: in-page clocks (A's click event → the card in B's DOM), and as Playwright saw it. */
interface Ping {
  readonly inPage: number;
  readonly playwright: number;
}

/**
 * Create a task in browser A's form and time until browser B's board shows it. A stays in the
 * app between commands (the "New task" tab, as a person would), and each click waits until A's
 * own list holds every open task, so A loading its list never shares the machine with a
 * measurement. The figure is taken by the pages' own clocks, from A's click event to the card
 * in B's DOM (a MutationObserver, before B paints it); Playwright's figure adds its click's
 * actionability checks and the polling of its wait.
 */
async function pingPong(a: Page, b: Page, base: string, n: number, openTasks: number): Promise<Ping[]> {
  const out: Ping[] = [];
  await a.goto(`${base}/new-task`);
  for (let i = 0; i < n; i++) {
    const title = `Ping ${Date.now()}-${i}`;
    if (i > 0) await a.getByRole('navigation', { name: 'Pursuance sections' }).getByRole('link', { name: 'New task', exact: true }).click();
    // Every open task is a choice of parent (the picker counts them): A's list is whole, its own earlier pings included.
    await a.waitForFunction(
      (want) =>
        Number(
          (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document
            .querySelector('.task-picker')
            ?.getAttribute('data-choices') ?? -1,
        ) >= want,
      openTasks + i,
      { timeout: 120_000 },
    );
    await a.getByRole('checkbox', { name: /^Crew/ }).check();
    await a.getByLabel('Title').fill(title);
    await a.evaluate(
      `document.addEventListener('click', (e) => { window.__clickedAt = performance.timeOrigin + e.timeStamp; }, { capture: true, once: true })`,
    );
    await b.evaluate(`(() => {
      window.__seenAt = undefined;
      const title = ${JSON.stringify(title)};
      const seen = () => [...document.querySelectorAll('[data-testid="task-card"]')].some((c) => c.textContent.includes(title));
      const watch = new MutationObserver(() => {
        if (!seen()) return;
        window.__seenAt = performance.timeOrigin + performance.now();
        watch.disconnect();
      });
      watch.observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    const started = performance.now();
    await a.getByRole('button', { name: 'Create task' }).click();
    await b.getByTestId('task-card').filter({ hasText: title }).waitFor({ timeout: 60_000 });
    const playwright = performance.now() - started;
    const clickedAt = await a.evaluate<number>('window.__clickedAt');
    const seenAt = await b.evaluate<number>('window.__seenAt');
    out.push({ inPage: seenAt - clickedAt, playwright });
  }
  return out;
}

/** A command on A's API until the event is in B's projection: the browsers' share is the rest. */
async function apiPingPong(a: RunningNode, b: RunningNode, id: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await http(a.port, 'POST', `/api/pursuances/${id}/tasks`, { token: a.token, body: { audience: ['crew'], title: `API ping ${i}` } });
    const eventId = (r.body as { id: EventId }).id;
    await untilChange(b, () => b.registry.get(id).log.state().tasks.has(eventId), 'the task on B', 60_000);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * `count` tasks signed into the node's store through the pursuance core, as its own member would
 * (no HTTP round trip per task): varied titles, labels and due dates, 30 % moved to "doing" and
 * 10 % closed. The same board at every size, so sizes compare.
 */
async function generateBoard(node: RunningNode, id: string, count: number): Promise<{ events: number; seconds: number }> {
  const started = performance.now();
  const ids: EventId[] = [];
  // A large board takes a while: say how far it got (stderr, apart from the figures).
  const step = count >= 10_000 ? Math.floor(count / 10) : Infinity;
  const progress = (phase: string, i: number) => {
    if (i > 0 && i % step === 0) process.stderr.write(`  ${phase} ${fmt(i)} / ${fmt(count)} (${fmt((performance.now() - started) / 1000, 0)} s)\n`);
  };
  for (let i = 0; i < count; i++) {
    progress('tasks created', i);
    const e = await node.registry.act(id, (a) =>
      a.createTask({
        audience: ['crew'],
        title: `Task ${i}: ${['leaflets', 'banner', 'hall', 'press', 'legal'][i % 5]}`,
        labels: [`l${i % 7}`],
        due: i % 3 === 0 ? Date.now() + i * 3_600_000 : null,
      }),
    );
    ids.push(e.id);
  }
  let events = count;
  for (let i = 0; i < count; i++) {
    progress('tasks moved or closed, of', i);
    if (i % 10 < 3) await node.registry.act(id, (a) => a.setStatus(ids[i]!, 'doing'));
    else if (i % 10 === 9) await node.registry.act(id, (a) => a.closeTask(ids[i]!, 'done'));
    else continue;
    events += 1;
  }
  return { events, seconds: (performance.now() - started) / 1000 };
}

/** The member view warmed by one GET …/tasks (decrypting every task once), so loads measure the dashboard. */
async function warmTasks(node: RunningNode, id: string): Promise<number> {
  const started = performance.now();
  await http(node.port, 'GET', `/api/pursuances/${id}/tasks`, { token: node.token });
  return performance.now() - started;
}

async function openSignedIn(browser: Browser, url: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  await context.addInitScript(`sessionStorage.setItem('pursuance.token', ${JSON.stringify(token)});`);
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor();
  return page;
}

process.stdout.write(`\ndashboard benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
const buildDir = await tempDir('bench-build');
const started = performance.now();
buildDashboard(buildDir);
const buildSeconds = (performance.now() - started) / 1000;
const t = await startTestNode(buildDir, 'bench');
const browser = await launchChromium();
try {
  const { node } = t;
  const create = async (name: string) =>
    ((await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name, rules: RULES } })).body as { id: string }).id;
  const big = await create('Bench board');
  const small = await create('Small board');

  const { events, seconds: genSeconds } = await generateBoard(node, big, TASKS);
  for (let i = 0; i < 5; i++) await node.registry.act(small, (a) => a.createTask({ audience: ['crew'], title: `Small ${i}` }));

  printTable('setup', [
    ['dashboard build (vite build)', `${fmt(buildSeconds, 1)} s`],
    [`generate ${fmt(TASKS)} tasks (${fmt(events)} signed events) into the node`, `${fmt(genSeconds, 1)} s (${fmt(events / genSeconds)} events/s)`],
  ]);

  const viewSeconds = (await warmTasks(node, big)) / 1000;

  const loads: Load[] = [];
  for (let i = 0; i < RUNS; i++) loads.push(await loadBoard(browser, `${node.url}/p/${big}/board`, node.token));
  const col = (k: keyof Load, of: Load[] = loads) => of.map((l) => l[k]);
  const ms = (k: keyof Load, of: Load[] = loads) =>
    `${fmt(median(col(k, of)))} ms (runs: ${col(k, of)
      .map((x) => fmt(x))
      .join(', ')})`;
  printTable(`board with ${fmt(TASKS)} tasks, headless Chromium (median of ${RUNS} fresh loads)`, [
    ['node: first GET …/tasks after the writes (builds the member view)', `${fmt(viewSeconds * 1000)} ms`],
    ['GET …/tasks bodies (every page)', `${fmt(median(col('tasksBytes')) / 1e6, 1)} MB`],
    ['first paint', ms('fp')],
    ['first contentful paint', ms('fcp')],
    ['board rendered (first cards in the DOM)', ms('board')],
    ['board painted', ms('painted')],
    ['time to interactive (first idle after the board)', ms('idle')],
    ['the whole task list on the board (its last page in)', ms('whole')],
    ['cards rendered (a column of over 100 cards renders those in view)', fmt(median(col('cards')))],
    ['long tasks before idle', `${fmt(median(col('longTasks')))} (${fmt(median(col('longTaskMs')))} ms)`],
    ['click “Move…” → menu painted', ms('clickToPaint')],
  ]);

  const rows: [string, string][] = [];
  for (const [label, id] of [
    ['small board (5 tasks)', small],
    [`board with ${fmt(TASKS)} tasks`, big],
  ] as const) {
    const base = `${node.url}/p/${id}`;
    const a = await openSignedIn(browser, `${base}/new-task`, node.token);
    const b = await openSignedIn(browser, `${base}/board`, node.token);
    await b.getByTestId('task-card').first().waitFor({ timeout: 60_000 });
    const open = await openTaskCount(node, id);
    const { result: pings, lists, changeSets } = await countingRequests(b, () => pingPong(a, b, base, PINGS, open));
    rows.push(
      [
        `${label}: command in A → card in B (pages' clocks)`,
        `${spread(pings.map((p) => p.inPage))} (${PINGS} tasks; B fetched the task list ${lists}×, change sets ${changeSets}×)`,
      ],
      [`${label}: the same, as Playwright saw it`, spread(pings.map((p) => p.playwright))],
    );
    await a.context().close();
    await b.context().close();
  }
  printTable('live update between two browser contexts on one node (SSE `changed` → GET …/changes → patch the card), same run', rows);

  const pair = await startRelayPair({ pursuance: { name: 'Relay board', rules: RULES }, roles: ['crew'], dashboardDir: buildDir });
  try {
    for (let i = 0; i < 5; i++) await pair.call(pair.a, 'POST', `/api/pursuances/${pair.id}/tasks`, { audience: ['crew'], title: `Relay ${i}` });
    const base = (n: RunningNode) => `${n.url}/p/${pair.id}`;
    const a = await openSignedIn(browser, `${base(pair.a)}/new-task`, pair.a.token);
    const b = await openSignedIn(browser, `${base(pair.b)}/board`, pair.b.token);
    await b.getByTestId('task-card').first().waitFor({ timeout: 60_000 });
    const viaBrowsers = await pingPong(a, b, base(pair.a), PINGS, await openTaskCount(pair.a, pair.id));
    const viaApi = await apiPingPong(pair.a, pair.b, pair.id, PINGS);
    const line = (times: number[]) => `${spread(times)} (${times.length} tasks)`;
    printTable('demo network: founder on node A, member on node B, relay daemon process, LoopbackACN', [
      ["browser on A: “Create task” → card on B's board (in B's browser), pages' clocks", line(viaBrowsers.map((p) => p.inPage))],
      ['the same, as Playwright saw it', line(viaBrowsers.map((p) => p.playwright))],
      ["baseline, same run: A's API → task in B's projection (no browsers)", line(viaApi)],
    ]);
    await a.context().close();
    await b.context().close();
  } finally {
    await pair.close();
  }

  // Last, so the figures above see the store they always saw (not one with 50,000 more tasks).
  if (TTI_TASKS > 0) {
    const huge = await create('Large board');
    const gen = await generateBoard(node, huge, TTI_TASKS);
    const warm = await warmTasks(node, huge);
    const hugeLoads: Load[] = [];
    // A generous limit: the point is to measure a slow load, not to fail on one.
    for (let i = 0; i < RUNS; i++) hugeLoads.push(await loadBoard(browser, `${node.url}/p/${huge}/board`, node.token, 600_000));
    const rate = (events: number, seconds: number) => `${fmt(seconds, 1)} s (${fmt(events / seconds)} events/s)`;
    printTable(`time to interactive by board size, headless Chromium (median of ${RUNS} fresh loads each), same run`, [
      [`generate ${fmt(TTI_TASKS)} tasks (${fmt(gen.events)} signed events) into the node`, rate(gen.events, gen.seconds)],
      [`baseline: generate ${fmt(TASKS)} tasks (${fmt(events)} signed events)`, rate(events, genSeconds)],
      [`node: first GET …/tasks, ${fmt(TTI_TASKS)} tasks (builds the member view)`, `${fmt(warm)} ms`],
      [`GET …/tasks bodies (every page), ${fmt(TTI_TASKS)} tasks`, `${fmt(median(col('tasksBytes', hugeLoads)) / 1e6, 1)} MB`],
      [`board with ${fmt(TASKS)} tasks: time to interactive`, ms('idle')],
      [`board with ${fmt(TTI_TASKS)} tasks: time to interactive`, ms('idle', hugeLoads)],
      [`board with ${fmt(TTI_TASKS)} tasks: board rendered (first cards in the DOM)`, ms('board', hugeLoads)],
      [`board with ${fmt(TTI_TASKS)} tasks: the whole task list on the board (its last page in)`, ms('whole', hugeLoads)],
      [`board with ${fmt(TTI_TASKS)} tasks: cards rendered`, fmt(median(col('cards', hugeLoads)))],
      [
        `board with ${fmt(TTI_TASKS)} tasks: long tasks before idle`,
        `${fmt(median(col('longTasks', hugeLoads)))} (${fmt(median(col('longTaskMs', hugeLoads)))} ms)`,
      ],
      [`board with ${fmt(TTI_TASKS)} tasks: click “Move…” → menu painted`, ms('clickToPaint', hugeLoads)],
    ]);
  }
} finally {
  await browser.close();
  await t.close();
  await rm(buildDir, { recursive: true, force: true });
}

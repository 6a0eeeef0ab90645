import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, RulesSchema, type Rules } from '@pursuance/pursuance';
import { PART, PROJECTION_FORMAT, Projector, historyPart, isHistoryPart, isTaskPart, taskIdOf } from '../src/domain/projector.js';
import { tasksOf } from '../src/domain/read-models.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { openNodeStore, startNode, type RunningNode } from '../src/index.js';
import { EventStore } from '../src/store/event-store.js';
import { LATER_PREFIX, LIST_PREFIX, PROJECTION_BUCKETS, ProjectionRows, SHELF } from '../src/store/projection-store.js';
import { StoreKeys } from '../src/store/store-keys.js';
import { commandArbitrary, runCommand } from './support/commands.js';
import { http } from './support/http.js';
import { asHeld } from './support/held-parts.js';
import { cursorOf } from './support/task-cursor.js';

/**
 * Persisted read models: the rows the read routes serve are written in the same transaction as
 * the events, equal what a replay of the event store writes, answer at start-up before any
 * replay, and never hold more than the API shows this member (sealed at rest).
 */
const PASSWORD = 'node test password';
let dir: string;
let rules: Rules;

const start = (dataDir: string, extra: Partial<Parameters<typeof startNode>[0]> = {}) =>
  startNode({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null, ...extra });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-projections-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The read model a from-scratch projection of the loaded log gives (the state hash left out of the checkpoint). */
function rebuilt(node: RunningNode, id: string): Map<string, string> {
  const entry = node.registry.get(id);
  const write = new Projector(node.registry.identity.onion).diff(entry, node.registry.view(id), undefined, 'all');
  return withoutHash(write.upserts);
}

function withoutHash(parts: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map(parts);
  const checkpoint = out.get(PART.checkpoint);
  if (checkpoint !== undefined) out.set(PART.checkpoint, JSON.stringify({ ...(JSON.parse(checkpoint) as object), stateHash: null }));
  return out;
}

async function onDisk(store: EventStore, id: string): Promise<Map<string, string>> {
  return withoutHash((await store.storedProjections()).get(id) ?? new Map());
}

const storeOf = (node: RunningNode): EventStore => (node.registry as unknown as { store: EventStore }).store;

describe('persisted read models', () => {
  let node: RunningNode;
  const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    node = await start(join(dir, 'property'));
    const templates = (await call('GET', '/api/templates')).body as { id: string; rules: unknown }[];
    rules = RulesSchema.parse(templates.find((t) => t.id === 'activist-cell')!.rules);
  });
  afterAll(async () => {
    await node?.close();
  });

  it('equal, on disk and in memory, what a replay of the events writes, whatever the commands (property)', async () => {
    const command = commandArbitrary(rules.workflow.states, fc.constantFrom('x', '__proto__', 'constructor', 'ünï'));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 3, maxLength: 16 }), async (steps) => {
        const created = await call('POST', '/api/pursuances', { name: `Property ${run++}`, template: 'activist-cell' });
        const id = (created.body as { id: string }).id;
        const p = `/api/pursuances/${id}`;
        const tasks: string[] = [];
        for (const c of steps) await runCommand(call, id, tasks, c);
        await node.registry.idle();
        const memory = withoutHash(node.registry.projections.parts(id)!);
        // Memory holds each history's digest only (part-digest.ts); the disk holds every text.
        expect(memory).toEqual(asHeld(rebuilt(node, id)));
        expect(await onDisk(storeOf(node), id)).toEqual(rebuilt(node, id));
        expect([...memory.keys()].filter((name) => name.startsWith('later:')).every((name) => memory.get(name)!.startsWith('#'))).toBe(true);
        // What the routes serve is what the log gives, computed the old way.
        expect((await call('GET', `${p}/tasks`)).body).toEqual(JSON.parse(JSON.stringify(tasksOf(node.registry.get(id), node.registry.view(id)))));
      }),
      { numRuns: 12 },
    );
    // A rebuild from the event store finds nothing to repair and leaves the tables as they were.
    const repairs = node.registry.projectionRepairs;
    const before = await storeOf(node).storedProjections();
    expect((await call('POST', '/api/admin/rebuild')).status).toBe(200);
    expect(node.registry.projectionRepairs).toBe(repairs);
    const after = await storeOf(node).storedProjections();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, parts] of after) expect(withoutHash(parts)).toEqual(withoutHash(before.get(id)!));
  }, 300_000);

  it('are written in the same transaction as the events: a failed write stores neither', async () => {
    const created = await call('POST', '/api/pursuances', { name: 'Atomic', template: 'activist-cell' });
    const id = (created.body as { id: string }).id;
    await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Kept' });
    const store = storeOf(node);
    const events = await store.count(id);
    const rows = await onDisk(store, id);
    const spy = vi.spyOn(ProjectionRows.prototype, 'write').mockRejectedValueOnce(new Error('disk full'));
    try {
      const r = await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Lost with its read model' });
      expect(r.status).toBe(500);
    } finally {
      spy.mockRestore();
    }
    expect(await store.count(id)).toBe(events);
    expect(await onDisk(store, id)).toEqual(rows);
  });
});

describe('a damaged read-model row while the node runs', () => {
  it('keeps no event out: the command is stored, the read model written again from the events, and later writes go on', async () => {
    const dataDir = join(dir, 'damaged-live');
    const node = await start(dataDir);
    const warnings: string[] = [];
    node.registry.warn = (line) => void warnings.push(line);
    const call = (method: string, path: string, body?: unknown) =>
      http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
    let id = '';
    try {
      id = ((await call('POST', '/api/pursuances', { name: 'Damaged', template: 'activist-cell' })).body as { id: string }).id;
      const add = (title: string) => call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title });
      expect((await add('One')).status).toBe(201);
      const events = await storeOf(node).count(id);
      // Every stored row of its read model now holds another's sealed blob: none opens where it is.
      await scrambleProjectionRows(join(dataDir, 'node.sqlite'), '');
      await expect(storeOf(node).storedProjections()).rejects.toMatchObject({ name: 'StoreCorruptError' });

      const two = await add('Two');
      expect(two.status, two.text).toBe(201);
      expect(await storeOf(node).count(id)).toBe(events + 1);
      expect(warnings).toEqual([
        expect.stringMatching(/^pursuance [0-9a-f]{64}: a stored read-model row did not open \(.+\); the read model is written again from the events$/),
      ]);
      expect(node.registry.projectionRepairs).toBe(1);
      // On disk and in memory: what a replay writes.
      expect(await onDisk(storeOf(node), id)).toEqual(rebuilt(node, id));
      expect(withoutHash(node.registry.projections.parts(id)!)).toEqual(asHeld(rebuilt(node, id)));
      // A whole read model written: its checkpoint names the state it was written from.
      expect(JSON.parse(node.registry.projections.parts(id)!.get(PART.checkpoint)!)).toMatchObject({ stateHash: node.registry.get(id).log.stateHash() });
      // Later writes touch the rewritten rows without a word.
      expect((await add('Three')).status).toBe(201);
      expect(warnings).toHaveLength(1);
      expect(((await call('GET', `/api/pursuances/${id}/tasks`)).body as { title: string }[]).map((t) => t.title)).toEqual(['One', 'Two', 'Three']);
    } finally {
      await node.close();
    }
    // The next start serves the rows as stored and its replay finds nothing to repair.
    const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    try {
      const registry = new PursuanceRegistry(opened.store, opened.identity);
      const later: string[] = [];
      registry.warn = (line) => void later.push(line);
      await registry.open();
      registry.readable(id);
      await registry.listRead(id);
      expect(registry.projections.tasks(id).map((t) => t.title)).toEqual(['One', 'Two', 'Three']);
      await registry.load();
      expect(later).toEqual([]);
      expect(registry.projectionRepairs).toBe(0);
      await registry.idle();
    } finally {
      await opened.close();
    }
  }, 120_000);
});

describe('start-up', () => {
  it("serves a board's first page from its own part while the list is read, and waits for the list for the rest", async () => {
    const dataDir = join(dir, 'first-page');
    const node = await start(dataDir);
    let id: string;
    const ids: string[] = [];
    try {
      const call = (method: string, path: string, body?: unknown) =>
        http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
      id = ((await call('POST', '/api/pursuances', { name: 'Paged', template: 'activist-cell' })).body as { id: string }).id;
      for (const title of ['T0', 'T1', 'T2', 'T3', 'T4'])
        ids.push(((await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title })).body as { id: string }).id);
      // A stored page that is not one (a damaged row, an older node) is worked out again at the next write.
      await storeOf(node).writeProjection({ pursuanceId: id, upserts: new Map([[PART.firstPage, '{"total":-1}']]), deletes: [] });
      node.registry.projections.apply({ pursuanceId: id, upserts: new Map([[PART.firstPage, '{"total":-1}']]), deletes: [] });
      ids.push(((await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'T5' })).body as { id: string }).id);
      expect(await onDisk(storeOf(node), id)).toEqual(rebuilt(node, id));
    } finally {
      await node.close();
    }

    const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    try {
      const registry = new PursuanceRegistry(opened.store, opened.identity);
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      // The list's read pauses between its pages of rows: held there until released.
      registry.betweenSlices = () => held;
      await registry.open();
      const titles = (text: string): string[] => (JSON.parse(text) as { tasks: { title: string }[] }).tasks.map((t) => t.title);
      const first = await registry.tasksText(id, { limit: 3, after: null });
      expect(registry.projections.hasShelf(id, SHELF.list)).toBe(false);
      expect(titles(first)).toEqual(['T5', 'T4', 'T3']);
      expect(titles(await registry.tasksText(id, { limit: 500, after: null }))).toEqual(['T5', 'T4', 'T3', 'T2', 'T1', 'T0']);
      // One task is read from the store meanwhile.
      expect((await registry.task(id, ids[2]!))?.title).toBe('T2');
      // The whole list, and a page past the first, wait for the list.
      const answered: string[] = [];
      const whole = registry.tasksText(id, undefined).then((text) => void answered.push(text));
      const second = registry.tasksText(id, { limit: 3, after: JSON.parse(first).next === null ? null : cursorOf(JSON.parse(first).next as string) });
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toEqual([]);
      release();
      await whole;
      expect((JSON.parse(answered[0]!) as { title: string }[]).map((t) => t.title)).toEqual(['T0', 'T1', 'T2', 'T3', 'T4', 'T5']);
      expect(titles(await second)).toEqual(['T2', 'T1', 'T0']);
      // From the list, the first page is the same text the part gave.
      expect(registry.projections.hasShelf(id, SHELF.list)).toBe(true);
      expect(await registry.tasksText(id, { limit: 3, after: null })).toBe(first);
      await registry.load();
      expect(registry.projectionRepairs).toBe(0);
      await registry.idle();
      // Memory holds each history's digest; a task's history comes whole from the store.
      expect(registry.projections.parts(id)!.get(`later:history:${ids[2]!}`)).toMatch(/^#[0-9a-f]{32}$/);
      expect((await registry.task(id, ids[2]!))?.history.length).toBeGreaterThan(0);
      // Ids nobody holds, prototype names among them, are no task: no history parsed from a digest or a prototype.
      for (const taskId of ['0'.repeat(64), 'constructor', '__proto__', 'toString', '']) expect(await registry.task(id, taskId)).toBeUndefined();

      // A node stopped while its lists are read (Ctrl-C in the first second): the read ends at its next page, quietly.
      const stopped = new PursuanceRegistry(opened.store, opened.identity);
      const warned: string[] = [];
      stopped.warn = (line) => void warned.push(line);
      let go = (): void => undefined;
      const paused = new Promise<void>((resolve) => (go = resolve));
      stopped.betweenSlices = () => paused;
      await stopped.open();
      stopped.stop();
      go();
      await stopped.idle();
      expect(stopped.projections.hasShelf(id, SHELF.list)).toBe(false);
      expect(warned).toEqual([]);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('serves the read routes from the stored rows before the logs load; everything else waits with Retry-After', async () => {
    const dataDir = join(dir, 'restart');
    let node = await start(dataDir);
    let call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
    // A pursuance of someone else's where this member reads only what the member role may.
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Their cell', rules: rules });
    const me = node.registry.identity;
    const sealed = founder.createTask({ audience: ['organizer'], title: 'Organizers only', body: 'the safe house' });
    const events = [
      founder.log.genesis,
      founder.addMember(me.publicKey, { name: 'me', roles: ['member'] }),
      founder.createTask({ audience: ['member'], title: 'Open one' }),
      sealed,
    ];
    expect((await call('POST', `/api/pursuances/${founder.log.id}/events`, { events: events.map((e) => toBase64(e.bytes)) })).status).toBe(200);
    const own = (await call('POST', '/api/pursuances', { name: 'Mine', template: 'activist-cell' })).body as { id: string };
    const paint = (await call('POST', `/api/pursuances/${own.id}/tasks`, { audience: ['member'], title: 'Buy paint' })).body as { id: string };
    const routes = (id: string) => [
      '',
      '/members',
      '/roles',
      '/rules',
      '/tasks',
      `/tasks/${id === own.id ? paint.id : sealed.id}`,
      '/feed?limit=50',
      '/rejections',
    ];
    const served = new Map<string, unknown>();
    for (const id of [founder.log.id, own.id]) for (const r of routes(id)) served.set(`${id}${r}`, (await call('GET', `/api/pursuances/${id}${r}`)).body);
    served.set('list', (await call('GET', '/api/pursuances')).body);
    await node.close();

    // Sealed at rest: the file holds neither titles nor the sealed body.
    const file = await readFile(join(dataDir, 'node.sqlite'));
    for (const text of ['Organizers only', 'the safe house', 'Open one', 'Buy paint']) expect(file.includes(Buffer.from(text))).toBe(false);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let listening!: (url: string) => void;
    const url = new Promise<string>((resolve) => (listening = resolve));
    const starting = start(dataDir, { onListening: (u) => listening(u), beforeLoad: () => held });
    const port = Number(new URL(await url).port);
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
    const early = (method: string, path: string, body?: unknown) => http(port, method, path, { token, ...(body === undefined ? {} : { body }) });
    for (const id of [founder.log.id, own.id]) {
      for (const r of routes(id)) {
        const got = await early('GET', `/api/pursuances/${id}${r}`);
        expect(got.status, `${r}: ${got.text}`).toBe(200);
        if (r === '') expect(got.body).toEqual({ ...(served.get(`${id}${r}`) as object), loaded: false });
        else expect(got.body).toEqual(served.get(`${id}${r}`));
      }
    }
    expect((await early('GET', '/api/pursuances')).body).toEqual((served.get('list') as object[]).map((s) => ({ ...s, loaded: false })));
    // What cannot be read from the rows answers 503 with Retry-After, never a wrong answer.
    for (const [method, path] of [
      ['POST', `/api/pursuances/${own.id}/tasks`],
      ['GET', `/api/pursuances/${own.id}/changes`],
      ['GET', `/api/pursuances/${own.id}/succession`],
    ] as const) {
      const r = await early(method, path, method === 'POST' ? { audience: ['member'], title: 'Too early' } : undefined);
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(r.body).toMatchObject({ code: 'NODE_STARTING' });
      expect(r.headers['retry-after']).toBe('1');
    }
    // The stored feed holds 200 items: one more is read from the log, which is not there yet.
    expect((await early('GET', `/api/pursuances/${own.id}/feed?limit=200`)).status).toBe(200);
    const longer = await early('GET', `/api/pursuances/${own.id}/feed?limit=201`);
    expect(longer.status).toBe(503);
    expect(longer.body).toMatchObject({ code: 'PURSUANCE_LOADING', pursuanceId: own.id });
    expect(longer.headers['retry-after']).toBe('1');
    // Prototype names and unknown ids never reach a stored part.
    for (const name of ['__proto__', 'constructor', 'f'.repeat(64)]) {
      expect((await early('GET', `/api/pursuances/${own.id}/tasks/${name}`)).status, name).not.toBe(200);
      expect((await early('GET', `/api/pursuances/${name}/tasks`)).status, name).not.toBe(200);
    }
    // A stranger still learns nothing, not even that the node is starting.
    expect((await http(port, 'GET', `/api/pursuances/${own.id}/tasks`)).status).toBe(401);
    release();
    node = await starting;
    call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
    expect(node.registry.projectionRepairs).toBe(0);
    expect(((await call('GET', `/api/pursuances/${own.id}`)).body as { loaded: boolean }).loaded).toBe(true);
    expect((await call('POST', `/api/pursuances/${own.id}/tasks`, { audience: ['member'], title: 'Now' })).status).toBe(201);
    await node.close();
  }, 120_000);

  it('does not serve a read model that lags the events, and a replay writes it; unreadable rows cost a replay, not the start', async () => {
    const dataDir = join(dir, 'stale');
    const author = PursuanceAuthor.create(Identity.generate(), { name: 'Written directly', rules: rules });
    const node = await start(dataDir);
    const me = node.registry.identity;
    const first = [author.log.genesis, author.addMember(me.publicKey, { roles: ['member'] }), author.createTask({ audience: ['member'], title: 'One' })];
    expect(
      (await http(node.port, 'POST', `/api/pursuances/${author.log.id}/events`, { token: node.token, body: { events: first.map((e) => toBase64(e.bytes)) } }))
        .status,
    ).toBe(200);
    await node.close();

    // Events stored by something other than the registry (an import tool): the rows lag them.
    const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    await opened.store.append([author.createTask({ audience: ['member'], title: 'Two' })], 'import');
    const registry = new PursuanceRegistry(opened.store, opened.identity);
    registry.warn = () => undefined;
    await registry.open();
    expect(() => registry.readable(author.log.id)).toThrow(expect.objectContaining({ code: 'PURSUANCE_LOADING' }));
    await registry.load();
    registry.readable(author.log.id);
    expect(registry.projections.tasks(author.log.id).map((t) => t.title)).toEqual(['One', 'Two']);
    await registry.idle();
    await opened.close();

    // Two rows swapped on disk: they no longer open where they are. The node starts, warns, rebuilds.
    await swapTwoProjectionRows(join(dataDir, 'node.sqlite'));
    const warnings: string[] = [];
    const again = await start(dataDir, { onListening: () => undefined });
    try {
      expect(
        ((await http(again.port, 'GET', `/api/pursuances/${author.log.id}/tasks`, { token: again.token })).body as { title: string }[]).map((t) => t.title),
      ).toEqual(['One', 'Two']);
      const fresh = new PursuanceRegistry(storeOf(again), again.identity);
      fresh.warn = (line) => void warnings.push(line);
      await fresh.open();
      expect(warnings).toEqual([]);
      expect(fresh.projections.has(author.log.id)).toBe(true);
    } finally {
      await again.close();
    }
  }, 120_000);

  it('serves the first page while a list whose rows do not open answers "loading", and the replay writes the list again', async () => {
    const dataDir = join(dir, 'list-swapped');
    const node = await start(dataDir);
    let id: string;
    try {
      id = (
        (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Swapped list', template: 'activist-cell' } })).body as {
          id: string;
        }
      ).id;
      for (const title of ['L0', 'L1', 'L2'])
        await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title } });
    } finally {
      await node.close();
    }
    const opened = await openWithShelfScrambled(dataDir, id, LIST_PREFIX);
    try {
      const { registry, warnings } = watched(opened);
      await registry.open();
      const titles = (text: string): string[] => (JSON.parse(text) as { tasks: { title: string }[] }).tasks.map((t) => t.title);
      // Before the list's read ends, the first page; after it, everything waits for the replay.
      expect(titles(await registry.tasksText(id, { limit: 2, after: null }))).toEqual(['L2', 'L1']);
      await expect(registry.tasksText(id, undefined)).rejects.toMatchObject({ code: 'PURSUANCE_LOADING' });
      await expect(registry.tasksText(id, { limit: 2, after: null })).rejects.toMatchObject({ code: 'PURSUANCE_LOADING' });
      expect(warnings).toEqual([expect.stringMatching(/the stored read model could not be read .*; it is rebuilt from the events$/)]);
      await registry.load();
      expect((JSON.parse(await registry.tasksText(id, undefined)) as { title: string }[]).map((t) => t.title)).toEqual(['L0', 'L1', 'L2']);
      await registry.idle();
      // Written again: a second start reads the list without a word.
      const again = await restartsQuietly(opened);
      expect(again.projections.tasks(id).map((t) => t.title)).toEqual(['L0', 'L1', 'L2']);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('answers "loading" for a history whose row does not open, and the replay writes the shelf again', async () => {
    const dataDir = join(dir, 'later-swapped');
    const node = await start(dataDir);
    let id: string;
    let first: string;
    try {
      ({ id } = (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Swapped', template: 'activist-cell' } })).body as {
        id: string;
      });
      const add = async (title: string) =>
        ((await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title } })).body as { id: string })
          .id;
      first = await add('First');
      await add('Second');
    } finally {
      await node.close();
    }
    // The rows of the pursuance's "later" shelf (two histories) no longer open where they are.
    const opened = await openWithShelfScrambled(dataDir, id, LATER_PREFIX);
    try {
      const { registry, warnings } = watched(opened);
      await registry.open();
      // The start-up read never opens the shelf; the list is served, the history answers "loading".
      await registry.listRead(id);
      expect(registry.projections.tasks(id).map((t) => t.title)).toEqual(['First', 'Second']);
      await expect(registry.task(id, first)).rejects.toMatchObject({ code: 'PURSUANCE_LOADING' });
      await registry.load();
      expect(warnings.join('\n')).toContain('could not be read');
      expect((await registry.task(id, first))?.history.map((h) => h.kind)).toEqual(['task.create']);
      await registry.idle();
      // Written again: a second start takes the shelf in without a word.
      await restartsQuietly(opened);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('does not serve an older layout (histories inside the tasks), and the replay rewrites it without calling it a repair', async () => {
    const dataDir = join(dir, 'layout-1');
    const node = await start(dataDir);
    let id: string;
    try {
      ({ id } = (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Old layout', rules } })).body as { id: string });
      const task = (await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title: 'Kept' } }))
        .body as { id: string; history: unknown[] };
      expect(task.history).toHaveLength(1);
      // The list carries no history; the task read does.
      const listed = (await http(node.port, 'GET', `/api/pursuances/${id}/tasks`, { token: node.token })).body as Record<string, unknown>[];
      expect(listed.map((t) => [t.title, Object.hasOwn(t, 'history')])).toEqual([['Kept', false]]);
    } finally {
      await node.close();
    }

    // Rewrite the rows as a node before PROJECTION_FORMAT 2 stored them: each task whole, no history parts, no format.
    const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    try {
      const parts = (await opened.store.storedProjections()).get(id)!;
      const upserts = new Map<string, string>();
      const deletes: string[] = [];
      for (const [name, json] of parts) {
        if (isHistoryPart(name)) deletes.push(name);
        else if (isTaskPart(name))
          upserts.set(name, JSON.stringify({ ...(JSON.parse(json) as object), history: JSON.parse(parts.get(historyPart(taskIdOf(name)))!) as unknown }));
      }
      const { format, ...checkpoint } = JSON.parse(parts.get(PART.checkpoint)!) as { format: number };
      expect(format).toBe(PROJECTION_FORMAT);
      upserts.set(PART.checkpoint, JSON.stringify(checkpoint));
      expect(deletes).toHaveLength(1);
      await opened.store.writeProjection({ pursuanceId: id, upserts, deletes });

      const registry = await replaysQuietly(opened, id);
      const stored = (await opened.store.storedProjections()).get(id)!;
      expect([...stored.keys()].filter(isHistoryPart)).toHaveLength(1);
      expect(registry.projections.tasks(id).map((t) => Object.hasOwn(t, 'history'))).toEqual([false]);
      const [only] = registry.projections.tasks(id);
      expect((await registry.task(id, only!.id))?.history.map((h) => h.kind)).toEqual(['task.create']);
      await registry.idle();
    } finally {
      await opened.close();
    }
  }, 120_000);
  it('does not serve a read model stored one part per row (before buckets), and the replay rewrites it into buckets without a warning', async () => {
    const dataDir = join(dir, 'layout-2');
    const node = await start(dataDir);
    let id: string;
    try {
      ({ id } = (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Part per row', rules } })).body as { id: string });
      for (const title of ['One', 'Two', 'Three'])
        expect((await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title } })).status).toBe(201);
    } finally {
      await node.close();
    }
    // The rows rewritten as format 2 kept them: one sealed { t: 'projection', p, n, v } per part,
    // under the part's own tag, the checkpoint saying format 2.
    let opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    const parts = (await opened.store.storedProjections()).get(id)!;
    const keys = StoreKeys.forIdentity(opened.identity);
    await opened.close();
    const checkpoint = { ...(JSON.parse(parts.get(PART.checkpoint)!) as object), format: 2 };
    parts.set(PART.checkpoint, JSON.stringify(checkpoint));
    await withSqlite(join(dataDir, 'node.sqlite'), async (all) => {
      await all('DELETE FROM node_sealed_projections');
      for (const [name, json] of parts)
        await all('INSERT INTO node_sealed_projections (pursuance_tag, name_tag, sealed) VALUES (?, ?, ?)', [
          keys.tag('pursuance', name.startsWith(LATER_PREFIX) ? `${id}\u0000${LATER_PREFIX}` : id),
          keys.tag('projection', `${id}\u0000${name}`),
          keys.seal({ t: 'projection', p: id, n: name, v: json }),
        ]);
    });

    opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    try {
      await expect(opened.store.storedProjections()).rejects.toMatchObject({ code: 'STORE_CORRUPT', name: 'LegacyProjectionLayoutError' });
      const registry = await replaysQuietly(opened, id);
      expect(registry.projections.tasks(id).map((t) => t.title)).toEqual(['One', 'Two', 'Three']);
      await registry.idle();
      // Every old row is gone: a left-over one would not open as a bucket, and storedProjections would refuse it.
      const stored = (await opened.store.storedProjections()).get(id)!;
      expect(JSON.parse(stored.get(PART.checkpoint)!)).toMatchObject({ format: PROJECTION_FORMAT });
      expect(new Set(stored.keys())).toEqual(new Set(parts.keys()));
      await withSqlite(join(dataDir, 'node.sqlite'), async (all) => {
        const [{ n }] = (await all<{ n: number }>('SELECT COUNT(*) AS n FROM node_sealed_projections')) as [{ n: number }];
        expect(n).toBeLessThanOrEqual(Math.min(parts.size, PROJECTION_BUCKETS.now + PROJECTION_BUCKETS.later));
      });
    } finally {
      await opened.close();
    }
  }, 120_000);
});

/**
 * A registry on the opened store that does not serve `id`'s stored read model (it answers
 * "loading"), then replays it without a warning and without counting a repair: an older layout
 * is not damage.
 */
type OpenedStore = { store: EventStore; identity: Identity };

/** A registry over `opened` whose warnings are kept, not printed. */
function watched(opened: OpenedStore): { registry: PursuanceRegistry; warnings: string[] } {
  const warnings: string[] = [];
  const registry = new PursuanceRegistry(opened.store, opened.identity);
  registry.warn = (line) => void warnings.push(line);
  return { registry, warnings };
}

/**
 * The node's store opened, with every row of one of `id`'s shelves read after start-up
 * (LATER_PREFIX, LIST_PREFIX) holding another row's sealed blob: none opens where it is.
 */
async function openWithShelfScrambled(
  dataDir: string,
  id: string,
  shelf: typeof LATER_PREFIX | typeof LIST_PREFIX,
): Promise<OpenedStore & { close(): Promise<void> }> {
  const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
  const tag = StoreKeys.forIdentity(opened.identity).tag('pursuance', `${id}\u0000${shelf}`);
  await scrambleProjectionRows(join(dataDir, 'node.sqlite'), `WHERE pursuance_tag = '${tag}'`);
  return opened;
}

/** A second start over a store a replay wrote again: it loads without a word and repairs nothing. */
async function restartsQuietly(opened: OpenedStore): Promise<PursuanceRegistry> {
  const { registry, warnings } = watched(opened);
  await registry.open();
  await registry.load();
  expect(warnings).toEqual([]);
  expect(registry.projectionRepairs).toBe(0);
  await registry.idle();
  return registry;
}

async function replaysQuietly(opened: OpenedStore, id: string): Promise<PursuanceRegistry> {
  const { registry, warnings } = watched(opened);
  await registry.open();
  expect(() => registry.readable(id)).toThrow(expect.objectContaining({ code: 'PURSUANCE_LOADING' }));
  await registry.load();
  registry.readable(id);
  expect(warnings).toEqual([]);
  expect(registry.projectionRepairs).toBe(0);
  return registry;
}

/**
 * Move pursuance a's one "later" row in the SQLite file: onto a's start-up shelf, or (the second
 * time, from there) under pursuance b's. Rows are found by the order they were written in.
 */
async function moveLaterRow(path: string, where: 'onto the start-up shelf' | 'under another pursuance'): Promise<void> {
  await withSqlite(path, async (all) => {
    const rows = await all<{ pursuance_tag: string; name_tag: string }>('SELECT pursuance_tag, name_tag FROM node_sealed_projections ORDER BY rowid');
    // Written in order: a's summary, a's "later" row, b's summary.
    const [summaryA, laterA, summaryB] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    const first = where === 'onto the start-up shelf';
    // The second move finds the row where the first put it.
    expect(laterA.pursuance_tag === summaryA.pursuance_tag).toBe(!first);
    await all('UPDATE node_sealed_projections SET pursuance_tag = ? WHERE pursuance_tag = ? AND name_tag = ?', [
      (first ? summaryA : summaryB).pursuance_tag,
      laterA.pursuance_tag,
      laterA.name_tag,
    ]);
  });
}

type All = <T>(sql: string, params?: unknown[]) => Promise<T[]>;

/** Run `use` on the SQLite file opened directly (as someone with the disk, not the key, would). */
async function withSqlite(path: string, use: (all: All) => Promise<void>): Promise<void> {
  const db = new sqlite3.Database(path);
  const all: All = <T>(sql: string, params: unknown[] = []) =>
    new Promise<T[]>((resolve, reject) => db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  try {
    await use(all);
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

/**
 * Give every projection row `where` picks a sealed blob that belongs elsewhere (a tampered or
 * damaged store): rotated among them, or, for a single row, another row's.
 */
async function scrambleProjectionRows(path: string, where: string): Promise<void> {
  await withSqlite(path, async (all) => {
    const rows = await all<{ pursuance_tag: string; name_tag: string; sealed: Buffer }>(
      `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections ${where}`,
    );
    expect(rows.length).toBeGreaterThan(0);
    const donors =
      rows.length > 1
        ? [...rows.slice(1), rows[0]!]
        : await all<{ sealed: Buffer }>('SELECT sealed FROM node_sealed_projections WHERE NOT (pursuance_tag = ? AND name_tag = ?) LIMIT 1', [
            rows[0]!.pursuance_tag,
            rows[0]!.name_tag,
          ]);
    for (const [i, row] of rows.entries())
      await all('UPDATE node_sealed_projections SET sealed = ? WHERE pursuance_tag = ? AND name_tag = ?', [donors[i]!.sealed, row.pursuance_tag, row.name_tag]);
  });
}

/**
 * Exchange the sealed blobs of two projection rows in the SQLite file (a tampered or damaged
 * store): the first two, or the first two `where` picks.
 */
async function swapTwoProjectionRows(path: string, where = ''): Promise<void> {
  await withSqlite(path, async (all) => {
    const rows = await all<{ pursuance_tag: string; name_tag: string; sealed: Buffer }>(
      `SELECT pursuance_tag, name_tag, sealed FROM node_sealed_projections ${where} LIMIT 2`,
    );
    expect(rows.length).toBe(2);
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    await all('UPDATE node_sealed_projections SET sealed = ? WHERE pursuance_tag = ? AND name_tag = ?', [b.sealed, a.pursuance_tag, a.name_tag]);
    await all('UPDATE node_sealed_projections SET sealed = ? WHERE pursuance_tag = ? AND name_tag = ?', [a.sealed, b.pursuance_tag, b.name_tag]);
  });
}

describe('sealed read-model rows', () => {
  it('write and drop parts in batches of any size, and a replay drops parts the events no longer give', async () => {
    const store = await EventStore.open(join(dir, 'rows.sqlite'), Identity.generate());
    try {
      const id = 'a'.repeat(64);
      // More parts than one statement may bind (SQLite allows 32,766 variables, three per part).
      const many = new Map(Array.from({ length: 11_000 }, (_, i) => [`task:${i}`, JSON.stringify({ i })]));
      await store.writeProjection({ pursuanceId: id, upserts: many, deletes: [] });
      expect((await store.storedProjections()).get(id)).toEqual(many);
      // Stored in keyed buckets: a row holds many parts, and the file does not count the tasks.
      const rowCount = () => store.dataSource.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM node_sealed_projections').then((r) => r[0]!.n);
      expect(await rowCount()).toBe(PROJECTION_BUCKETS.now);
      // Exactly two batches' worth dropped, the rest kept.
      const dropped = [...many.keys()].slice(0, 400);
      await store.writeProjection({ pursuanceId: id, upserts: new Map([['task:0', '"again"']]), deletes: dropped.slice(1) });
      const after = (await store.storedProjections()).get(id)!;
      expect(after.size).toBe(11_000 - 399);
      expect(await rowCount()).toBe(PROJECTION_BUCKETS.now);
      expect(after.get('task:0')).toBe('"again"');
      for (const name of dropped.slice(1)) expect(after.has(name)).toBe(false);
      expect(after.get('task:400')).toBe(JSON.stringify({ i: 400 }));
      // Replacing drops everything of that pursuance first, in the same transaction.
      await store.writeProjection({ pursuanceId: id, upserts: new Map([['summary', '{}']]), deletes: [] }, true);
      expect((await store.storedProjections()).get(id)).toEqual(new Map([['summary', '{}']]));
      // A bucket whose last part goes is no row at all.
      expect(await rowCount()).toBe(1);
      await store.writeProjection({ pursuanceId: id, upserts: new Map(), deletes: ['summary'] });
      expect(await rowCount()).toBe(0);
      expect((await store.storedProjections()).has(id)).toBe(false);
    } finally {
      await store.close();
    }

    // Parts named LATER_PREFIX… and LIST_PREFIX… sit on shelves of their own: start-up's read leaves them unopened.
    const later = await EventStore.open(join(dir, 'later.sqlite'), Identity.generate());
    try {
      const [a, b] = ['c'.repeat(64), 'd'.repeat(64)];
      const history = `${LATER_PREFIX}history:1`;
      const item = `${LIST_PREFIX}task:1`;
      const now = new Map([
        ['summary', '{"n":1}'],
        ['task:1', '{"t":1}'],
      ]);
      await later.writeProjection({ pursuanceId: a, upserts: new Map([...now, [history, '[1]'], [item, '{"i":1}']]), deletes: [] });
      await later.writeProjection({ pursuanceId: b, upserts: new Map([[history, '[2]']]), deletes: [] });
      expect((await later.storedProjections([a, b])).get(a)).toEqual(now);
      expect((await later.storedProjections([a, b])).has(b)).toBe(false);
      expect((await later.storedProjections([b])).has(a)).toBe(false);
      expect(await later.shelfProjections(a, SHELF.later)).toEqual(new Map([[history, '[1]']]));
      // What the caller keeps of each part, given as each page is read (the node keeps a history's digest).
      expect(await later.shelfProjections(a, SHELF.later, undefined, (name, json) => `${name}=${json}`)).toEqual(new Map([[history, `${history}=[1]`]]));
      expect(await later.shelfProjections(a, SHELF.list)).toEqual(new Map([[item, '{"i":1}']]));
      expect(await later.shelfProjections(b, SHELF.list)).toEqual(new Map());
      expect(await later.projectionPart(a, history)).toBe('[1]');
      expect(await later.projectionPart(a, item)).toBe('{"i":1}');
      expect(await later.projectionPart(a, 'task:1')).toBe('{"t":1}');
      expect(await later.projectionPart(a, `${LATER_PREFIX}history:2`)).toBeUndefined();
      for (const name of ['__proto__', 'constructor', `${LATER_PREFIX}__proto__`, `${LIST_PREFIX}constructor`])
        expect(await later.projectionPart(a, name)).toBeUndefined();
      expect((await later.storedProjections()).get(a)).toEqual(new Map([...now, [history, '[1]'], [item, '{"i":1}']]));
      // Dropped by name from its own shelf, and with everything else on replace.
      await later.writeProjection({ pursuanceId: b, upserts: new Map(), deletes: [history] });
      expect(await later.shelfProjections(b, SHELF.later)).toEqual(new Map());
      await later.writeProjection({ pursuanceId: a, upserts: new Map([['summary', '{}']]), deletes: [] }, true);
      expect((await later.storedProjections()).get(a)).toEqual(new Map([['summary', '{}']]));
      expect(await later.shelfProjections(a, SHELF.list)).toEqual(new Map());
    } finally {
      await later.close();
    }
    // A row moved onto the other shelf, or under another pursuance, does not open there.
    const moved = join(dir, 'later-moved.sqlite');
    const identity = Identity.generate();
    const [a, b] = ['e'.repeat(64), 'f'.repeat(64)];
    const shelves = await EventStore.open(moved, identity);
    await shelves.writeProjection({
      pursuanceId: a,
      upserts: new Map([
        ['summary', '{}'],
        [`${LATER_PREFIX}x`, '[1]'],
      ]),
      deletes: [],
    });
    await shelves.writeProjection({ pursuanceId: b, upserts: new Map([['summary', '{}']]), deletes: [] });
    await shelves.close();
    for (const [where, read] of [
      ['onto the start-up shelf', a],
      ['under another pursuance', b],
    ] as const) {
      await moveLaterRow(moved, where);
      const reopened = await EventStore.open(moved, identity);
      try {
        await expect(reopened.storedProjections([read]), where).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
      } finally {
        await reopened.close();
      }
    }

    // Rows sealed under the store's key, where their tags say, yet malformed: refused, each for its own reason.
    {
      const path = join(dir, 'malformed.sqlite');
      const identity = Identity.generate();
      const keys = StoreKeys.forIdentity(identity);
      const p = '9'.repeat(64);
      const good = { t: 'projection-bucket', p, s: 0, b: 3, parts: [['summary', '{}']] };
      const malformed: [string, Record<string, unknown>][] = [
        ['pursuance not a string', { ...good, p: 7 }],
        ['no such shelf', { ...good, s: 3 }],
        ['bucket past the list shelf', { ...good, s: 2, b: PROJECTION_BUCKETS.list, parts: [[`${LIST_PREFIX}x`, '1']] }],
        ['a list part on the start-up shelf', { ...good, parts: [[`${LIST_PREFIX}x`, '1']] }],
        ['a start-up part on the list shelf', { ...good, s: 2, parts: [['summary', '{}']] }],
        ['a later part on the list shelf', { ...good, s: 2, parts: [[`${LATER_PREFIX}x`, '1']] }],
        ['bucket not a number', { ...good, b: '3' }],
        ['bucket below range', { ...good, b: -1 }],
        ['bucket past the start-up shelf', { ...good, b: PROJECTION_BUCKETS.now }],
        ['bucket past the later shelf', { ...good, s: 1, b: PROJECTION_BUCKETS.later, parts: [[`${LATER_PREFIX}x`, '1']] }],
        ['parts not a list', { ...good, parts: { summary: '{}' } }],
        ['a part not a pair', { ...good, parts: ['summary'] }],
        ['a part of three', { ...good, parts: [['summary', '{}', 'x']] }],
        ['a part of one', { ...good, parts: [['summary']] }],
        ['a name not a string', { ...good, parts: [[1, '{}']] }],
        ['a value not a string', { ...good, parts: [['summary', 1]] }],
        ['a later part on the start-up shelf', { ...good, parts: [[`${LATER_PREFIX}x`, '1']] }],
        ['a start-up part on the later shelf', { ...good, s: 1, parts: [['summary', '{}']] }],
        [
          'a name twice',
          {
            ...good,
            parts: [
              ['summary', '{}'],
              ['summary', '{}'],
            ],
          },
        ],
      ];
      const store = await EventStore.open(path, identity);
      await store.close();
      for (const [what, record] of [['well formed', good] as const, ...malformed]) {
        const s = record.s === 1 || record.s === 2 ? record.s : 0;
        await withSqlite(path, async (all) => {
          await all('DELETE FROM node_sealed_projections');
          await all('INSERT INTO node_sealed_projections (pursuance_tag, name_tag, sealed) VALUES (?, ?, ?)', [
            keys.tag('pursuance', s === 0 ? p : `${p}\u0000${s === 1 ? LATER_PREFIX : LIST_PREFIX}`),
            keys.tag('projection', `${p}\u0000${s}\u0000${String(record.b)}`),
            keys.seal(record as never),
          ]);
        });
        const reopened = await EventStore.open(path, identity);
        try {
          if (what === 'well formed') expect((await reopened.storedProjections()).get(p)).toEqual(new Map([['summary', '{}']]));
          else
            await expect(reopened.storedProjections(), what).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: 'a stored read-model row is malformed' });
        } finally {
          await reopened.close();
        }
      }
    }

    // A part left over in the store (a task no event gives) goes at the next replay, reported.
    const dataDir = join(dir, 'leftover');
    const node = await start(dataDir);
    const own = (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Leftover', template: 'activist-cell' } })).body as {
      id: string;
    };
    const planted = [`${LIST_PREFIX}task:${'b'.repeat(64)}`, '__proto__', `${LATER_PREFIX}constructor`];
    await storeOf(node).writeProjection({ pursuanceId: own.id, upserts: new Map(planted.map((name) => [name, '{"id":"planted"}'])), deletes: [] });
    await node.close();
    const warnings: string[] = [];
    const opened = await openNodeStore({ dataDir, password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
    try {
      const registry = new PursuanceRegistry(opened.store, opened.identity);
      registry.warn = (line) => void warnings.push(line);
      await registry.open();
      expect(registry.projections.get(own.id, '__proto__')).toEqual({ id: 'planted' });
      await registry.load();
      expect(registry.projectionRepairs).toBe(1);
      expect(warnings.join('\n')).toMatch(/disagreed with a replay of its \d+ events \(3 parts differ\)/);
      const stored = (await opened.store.storedProjections()).get(own.id)!;
      for (const name of planted) expect(stored.has(name), name).toBe(false);
      await registry.idle();
    } finally {
      await opened.close();
    }
  }, 120_000);
});

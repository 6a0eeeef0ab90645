import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { ProjectionCache } from '../src/domain/projections.js';
import { taskCursorText } from '../src/domain/task-order.js';
import { taskPart } from '../src/domain/projector.js';
import { startNode, type RunningNode } from '../src/index.js';
import { http } from './support/http.js';
import { cursorOf } from './support/task-cursor.js';

const PID = '1'.repeat(64);

interface Page {
  tasks: { id: string; createdAt: number; title: string }[];
  next: string | null;
}

/** A stored task part as the projector writes it: `createdAt` first of the task's own keys. */
const part = (id: string, createdAt: number, title: string) => JSON.stringify({ id, createdAt, title });

function cacheOf(tasks: readonly { id: string; createdAt: number; title: string }[]): ProjectionCache {
  const cache = new ProjectionCache();
  cache.apply({ pursuanceId: PID, upserts: new Map(tasks.map((t) => [taskPart(t.id), part(t.id, t.createdAt, t.title)])), deletes: [] });
  return cache;
}

function page(cache: ProjectionCache, limit: number, after: string | null): Page {
  return JSON.parse(cache.tasksPageJson(PID, limit, after === null ? null : cursorOf(after))) as Page;
}

const hexId = fc.stringMatching(/^[0-9a-f]{64}$/);
// Few distinct times, so ties (ordered by id) are common.
const tasksArb = fc.uniqueArray(fc.record({ id: hexId, createdAt: fc.integer({ min: 0, max: 6 }), title: fc.string({ maxLength: 6 }) }), {
  selector: (t) => t.id,
  maxLength: 40,
});

describe('task list pages (ProjectionCache.tasksPageJson)', () => {
  it('walked from the first page to the last, give the whole list newest first, each task once (property)', () => {
    fc.assert(
      fc.property(tasksArb, fc.integer({ min: 1, max: 12 }), (tasks, limit) => {
        const cache = cacheOf(tasks);
        const whole = cache.tasks(PID).map((t) => t.id);
        const seen: string[] = [];
        let after: string | null = null;
        for (let i = 0; i <= tasks.length; i++) {
          const p = page(cache, limit, after);
          expect(p.tasks.length).toBe(Math.min(limit, whole.length - seen.length));
          seen.push(...p.tasks.map((t) => t.id));
          after = p.next;
          if (after === null) break;
        }
        expect(after).toBeNull();
        expect(seen).toEqual([...whole].reverse());
      }),
    );
  });

  it('go on from where the last page ended when tasks change, come or go between pages (property)', () => {
    const change = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), id: hexId, createdAt: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('edit' as const), pick: fc.nat(), title: fc.string({ maxLength: 6 }) }),
    );
    fc.assert(
      fc.property(tasksArb, fc.integer({ min: 1, max: 8 }), fc.array(change, { maxLength: 6 }), (tasks, limit, changes) => {
        const cache = cacheOf(tasks);
        const first = page(cache, limit, null);
        if (first.next === null) return;
        const boundary = cursorOf(first.next);
        const current = new Map(tasks.map((t) => [t.id, t]));
        for (const c of changes) {
          const ids = [...current.keys()];
          if (c.kind === 'add') {
            if (current.has(c.id)) continue;
            const t = { id: c.id, createdAt: c.createdAt, title: 'new' };
            current.set(t.id, t);
            cache.apply({ pursuanceId: PID, upserts: new Map([[taskPart(t.id), part(t.id, t.createdAt, t.title)]]), deletes: [] });
          } else if (ids.length > 0) {
            const id = ids[c.pick % ids.length]!;
            if (c.kind === 'drop') {
              current.delete(id);
              cache.apply({ pursuanceId: PID, upserts: new Map(), deletes: [taskPart(id)] });
            } else {
              const t = { ...current.get(id)!, title: c.title };
              current.set(id, t);
              cache.apply({ pursuanceId: PID, upserts: new Map([[taskPart(id), part(id, t.createdAt, t.title)]]), deletes: [] });
            }
          }
        }
        // The rest of the walk: every task now held that stands before the first page's end
        // in the list's order, newest first, each once; none at or after it.
        const rest: string[] = [];
        let after: string | null = first.next;
        while (after !== null) {
          const p = page(cache, limit, after);
          rest.push(...p.tasks.map((t) => t.id));
          after = p.next;
        }
        const older = [...current.values()]
          .filter((t) => t.createdAt < boundary.createdAt || (t.createdAt === boundary.createdAt && t.id < boundary.id))
          .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
          .map((t) => t.id);
        expect(rest).toEqual(older);
      }),
    );
  });

  it('a cursor past either end gives an empty last page or the oldest tasks, never an error', () => {
    const cache = cacheOf([
      { id: 'a'.repeat(64), createdAt: 5, title: 'A' },
      { id: 'b'.repeat(64), createdAt: 5, title: 'B' },
    ]);
    expect(page(cache, 10, taskCursorText({ createdAt: 0, id: '0'.repeat(64) }))).toEqual({ tasks: [], next: null });
    expect(page(cache, 10, taskCursorText({ createdAt: Number.MAX_SAFE_INTEGER, id: 'f'.repeat(64) })).tasks.map((t) => t.title)).toEqual(['B', 'A']);
    // Between the two (same time, ties by id).
    expect(page(cache, 10, taskCursorText({ createdAt: 5, id: 'b'.repeat(64) })).tasks.map((t) => t.title)).toEqual(['A']);
    expect(page(cache, 1, null)).toEqual({ tasks: [{ id: 'b'.repeat(64), createdAt: 5, title: 'B' }], next: `5.${'b'.repeat(64)}` });
    expect(cacheOf([]).tasksPageJson(PID, 5, null)).toBe('{"tasks":[],"next":null}');
  });
});

describe('GET …/tasks?limit=&after= over HTTP', () => {
  let dir: string;
  let node: RunningNode;
  let id: string;
  const titles = ['One', 'Two', 'Three', 'Four', 'Five'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-task-pages-'));
    node = await startNode({ dataDir: dir, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false });
    const created = await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Pages', template: 'activist-cell' } });
    id = (created.body as { id: string }).id;
    for (const title of titles) {
      const r = await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title } });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (query: string) => http(node.port, 'GET', `/api/pursuances/${id}/tasks${query}`, { token: node.token });

  it('walks the list in pages, newest first, and without limit still answers the whole list oldest first', async () => {
    // Oldest first; two tasks made in the same millisecond are ordered by id.
    const whole = ((await get('')).body as { title: string }[]).map((t) => t.title);
    expect([...whole].sort()).toEqual([...titles].sort());
    const seen: string[] = [];
    let query = '?limit=2';
    for (let i = 0; i < 5; i++) {
      const r = await get(query);
      expect(r.status).toBe(200);
      const p = r.body as Page;
      seen.push(...p.tasks.map((t) => t.title));
      if (p.next === null) break;
      query = `?limit=2&after=${encodeURIComponent(p.next)}`;
    }
    expect(seen).toEqual([...whole].reverse());
  });

  it('refuses a bad limit or cursor with a clear 400, whatever the value', async () => {
    const someId = 'a'.repeat(64);
    for (const query of [
      '?limit=0',
      `?limit=5001`,
      '?limit=1.5',
      '?limit=abc',
      '?limit=-1',
      `?after=1.${someId}`,
      '?limit=2&after=',
      '?limit=2&after=__proto__',
      '?limit=2&after=constructor',
      `?limit=2&after=01.${someId}`,
      `?limit=2&after=-1.${someId}`,
      `?limit=2&after=1.${someId.toUpperCase()}`,
      `?limit=2&after=1.${someId}0`,
      `?limit=2&after=1e3.${someId}`,
      `?limit=2&after=99999999999999999.${someId}`,
      `?limit=2&after=9007199254740992.${someId}`,
    ]) {
      const r = await get(query);
      expect(r.status, query).toBe(400);
      expect((r.body as { code: string }).code, query).toBe('INVALID_REQUEST');
    }
    // The limit's bounds themselves are taken.
    expect(((await get('?limit=1')).body as Page).tasks).toHaveLength(1);
    expect(((await get('?limit=5000')).body as Page).tasks).toHaveLength(titles.length);
    // The largest position a JSON number carries exactly is a valid cursor: past every task.
    const last = await get(`?limit=2&after=9007199254740991.${'f'.repeat(64)}`);
    expect((last.body as Page).tasks).toEqual(((await get('?limit=2')).body as Page).tasks);
    expect((last.body as Page).tasks).toHaveLength(2);
  });
});

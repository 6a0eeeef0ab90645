import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstPageAnswer, firstPageJson, firstPageOf, parseFirstPage, updatedFirstPage, type FirstPage } from '../src/domain/first-page.js';
import { ProjectionCache } from '../src/domain/projections.js';
import { PART, taskPart } from '../src/domain/projector.js';
import type { TaskRow } from '../src/domain/task-order.js';

const PID = '2'.repeat(64);

/** A stored list item as the projector writes it: `createdAt` first of the task's own keys. */
const itemJson = (id: string, createdAt: number, title: string): string => JSON.stringify({ id, createdAt, title });
const rowOf = (id: string, createdAt: number, title: string): TaskRow => ({ id, createdAt, json: itemJson(id, createdAt, title) });

// Few ids and times: ties, re-adds and moves on a small page are common.
const idArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '__proto__', 'constructor');
const changeArb = fc.tuple(idArb, fc.option(fc.record({ createdAt: fc.integer({ min: 0, max: 5 }), title: fc.string({ maxLength: 3 }) }), { nil: null }));
const batchArb = fc.uniqueArray(changeArb, { selector: ([id]) => id, maxLength: 4 });

describe('the first page (first-page.ts)', () => {
  it('kept from its own part through any changes, equals the page worked out from the whole list (property)', () => {
    let fromPage = 0;
    let fromList = 0;
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 25 }), fc.integer({ min: 1, max: 4 }), (batches, size) => {
        const list = new Map<string, TaskRow>();
        let page: FirstPage = firstPageOf([], size);
        for (const batch of batches) {
          const changes = new Map<string, string | null>(batch.map(([id, c]) => [id, c === null ? null : itemJson(id, c.createdAt, c.title)]));
          const listedBefore = new Set(list.keys());
          for (const [id, c] of batch) {
            if (c === null) list.delete(id);
            else list.set(id, rowOf(id, c.createdAt, c.title));
          }
          const whole = firstPageOf([...list.values()], size);
          const updated = updatedFirstPage(page, changes, (id) => listedBefore.has(id), size);
          // When it answers, it answers right; when it cannot, the whole list is the answer.
          if (updated !== null) {
            fromPage += 1;
            expect(updated).toEqual(whole);
          } else fromList += 1;
          page = updated ?? whole;
          // Stored and read back, the page is the same, byte for byte.
          expect(parseFirstPage(firstPageJson(page))).toEqual(page);
        }
      }),
      { numRuns: 400 },
    );
    // Both ways were taken, the page's own mostly.
    expect(fromPage).toBeGreaterThan(fromList);
    expect(fromList).toBeGreaterThan(0);
  });

  it('is told from its own part for the usual changes: a new task on top, an edit on the page, one under it', () => {
    const list = Array.from({ length: 10 }, (_, i) => rowOf(`t${i}`, i, 'x'));
    const page = firstPageOf(list, 3);
    expect(page.rows.map((r) => r.id)).toEqual(['t9', 't8', 't7']);
    const listed = (id: string): boolean => list.some((r) => r.id === id);
    expect(updatedFirstPage(page, new Map([['new', itemJson('new', 20, 'n')]]), listed, 3)?.rows.map((r) => r.id)).toEqual(['new', 't9', 't8']);
    expect(updatedFirstPage(page, new Map([['t8', itemJson('t8', 8, 'edited')]]), listed, 3)?.rows[1]?.json).toBe(itemJson('t8', 8, 'edited'));
    const under = updatedFirstPage(page, new Map([['t2', itemJson('t2', 2, 'edited')]]), listed, 3);
    expect(under).toEqual(page);
    // A task under the page that goes changes only the count.
    expect(updatedFirstPage(page, new Map([['t2', null]]), listed, 3)).toEqual({ total: 9, rows: page.rows });
    // On a page that holds the whole list, a task that goes is just gone, down to none.
    const whole = firstPageOf(list.slice(0, 2), 3);
    expect(updatedFirstPage(whole, new Map([['t1', null]]), listed, 3)).toEqual(firstPageOf(list.slice(0, 1), 3));
    expect(updatedFirstPage(firstPageOf(list.slice(0, 1), 3), new Map([['t0', null]]), listed, 3)).toEqual({ total: 0, rows: [] });
    // A stored page that does not hold what its count says (damaged, or written wrong) is not trusted.
    expect(updatedFirstPage({ total: 10, rows: page.rows.slice(0, 2) }, new Map(), listed, 3)).toBeNull();
    expect(updatedFirstPage({ total: 0, rows: [] }, new Map([['t1', null]]), listed, 3)).toBeNull();
    // A task on the page that goes, or moves back, needs the whole list: the next one is not on the page.
    expect(updatedFirstPage(page, new Map([['t9', null]]), listed, 3)).toBeNull();
    expect(updatedFirstPage(page, new Map([['t9', itemJson('t9', 0, 'x')]]), listed, 3)).toBeNull();
  });

  it('refuses a stored part that is not one, so the projector works the page out again', () => {
    const bad = [
      undefined,
      '',
      'not json',
      'null',
      '[]',
      '{"total":-1,"tasks":[]}',
      '{"total":1.5,"tasks":[]}',
      '{"total":"1","tasks":[]}',
      '{"total":0,"tasks":[{"id":"a","createdAt":1}]}',
      '{"total":1,"tasks":[null]}',
      '{"total":1,"tasks":[{"id":1,"createdAt":1}]}',
      '{"total":1,"tasks":[{"id":"a","createdAt":"1"}]}',
      '{"total":1,"tasks":{"0":{"id":"a","createdAt":1}}}',
      '{"__proto__":{"total":1},"tasks":[]}',
    ];
    for (const json of bad) expect(parseFirstPage(json), String(json)).toBeNull();
    expect(parseFirstPage('{"total":3,"tasks":[{"id":"__proto__","createdAt":2}]}')).toEqual({
      total: 3,
      rows: [{ id: '__proto__', createdAt: 2, json: '{"id":"__proto__","createdAt":2}' }],
    });
  });

  it('answers every first page the whole list answers, byte for byte, and nothing it cannot (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[0-9a-f]{4}$/), createdAt: fc.integer({ min: 0, max: 4 }), title: fc.string({ maxLength: 4 }) }), {
          selector: (t) => t.id,
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: -1, max: 15 }),
        (tasks, size, limit) => {
          const cache = new ProjectionCache();
          const rows = tasks.map((t) => rowOf(t.id, t.createdAt, t.title));
          cache.apply({
            pursuanceId: PID,
            upserts: new Map([...rows.map((r) => [taskPart(r.id), r.json] as const), [PART.firstPage, firstPageJson(firstPageOf(rows, size))]]),
            deletes: [],
          });
          const answer = cache.firstPageJson(PID, limit);
          if (limit < 1 || (limit > size && tasks.length > size)) expect(answer).toBeUndefined();
          else expect(answer).toBe(cache.tasksPageJson(PID, limit, null));
          expect(firstPageAnswer(firstPageOf(rows, size), limit)).toBe(answer);
        },
      ),
      { numRuns: 300 },
    );
  });
});

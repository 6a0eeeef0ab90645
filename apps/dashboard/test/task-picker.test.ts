// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import fc from 'fast-check';
import { reactive } from 'vue';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyFilters } from '../src/lib/filters.js';
import { MAX_TASK_CHOICES, MIN_ID_PREFIX, taskChoices } from '../src/lib/task-choices.js';
import { searchWords } from '../src/lib/search-text.js';
import type { TaskListItem } from '../src/lib/types.js';
import NewTask from '../src/views/NewTask.vue';
import TreeView from '../src/views/TreeView.vue';
import { PID, task } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);

const hexId = (i: number) => i.toString(16).padStart(64, '0');
const HOSTILE_TITLES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '', ' ', 'Réunion', 'REUNION', 'ﬁle', '𝒜'];

describe('task choices', () => {
  it('lists every choice when there are few, and the first MAX_TASK_CHOICES of many, in the order given', () => {
    const few = Array.from({ length: 3 }, (_, i) => task({ id: hexId(i + 1), title: `t${i}` }));
    expect(taskChoices(few, '', '')).toEqual({ shown: few, matching: 3 });
    const many = Array.from({ length: MAX_TASK_CHOICES + 7 }, (_, i) => task({ id: hexId(i + 1), title: `t${i}` }));
    const c = taskChoices(many, '  ', '');
    expect(c.matching).toBe(MAX_TASK_CHOICES + 7);
    expect(c.shown).toEqual(many.slice(0, MAX_TASK_CHOICES));
  });

  it('finds titles by every word, ignoring case and accents, and tasks by the start of their id', () => {
    const ts = [task({ id: hexId(0xabc1), title: 'Réunion des voisins' }), task({ id: hexId(0xabc2), title: 'Print flyers' }), task({ title: null })];
    expect(taskChoices(ts, 'REUNION  voisins', '').shown).toEqual([ts[0]]);
    expect(taskChoices(ts, 'voisins print', '').shown).toEqual([]);
    expect(taskChoices(ts, hexId(0xabc2), '').shown).toEqual([ts[1]]);
    expect(taskChoices(ts, hexId(0xabc2).slice(0, 62), '').shown).toEqual([ts[0], ts[1]]);
    // A short word is a word of a title, never a piece of an id: "0" finds no task here.
    expect(taskChoices(ts, '0'.repeat(MIN_ID_PREFIX - 1), '').matching).toBe(0);
    expect(taskChoices(ts, '0'.repeat(MIN_ID_PREFIX), '').matching).toBe(3);
    // A title the member cannot read matches no word, not the text "null".
    expect(taskChoices(ts, 'null', '').matching).toBe(0);
  });

  it('keeps the chosen task first whatever the search, and never twice', () => {
    const ts = Array.from({ length: MAX_TASK_CHOICES + 5 }, (_, i) => task({ id: hexId(i + 1), title: `item ${i}` }));
    const last = ts.at(-1)!;
    const hidden = taskChoices(ts, 'item 3', last.id);
    expect(hidden.shown[0]).toBe(last);
    // Every word, anywhere in the title: "item 13" holds "3" too.
    expect(hidden.matching).toBe(ts.filter((t) => t.title!.includes('3')).length);
    expect(hidden.shown.slice(1).map((t) => t.title)).toEqual(ts.filter((t) => t.title!.includes('3')).map((t) => t.title));
    const all = taskChoices(ts, '', last.id);
    expect(all.shown[0]).toBe(last);
    expect(all.shown.filter((t) => t === last)).toHaveLength(1);
    expect(all.shown).toHaveLength(MAX_TASK_CHOICES + 1);
    // Something not among the choices (a task closed meanwhile, a forged id) is not shown.
    expect(taskChoices(ts, '', 'f'.repeat(64)).shown).toHaveLength(MAX_TASK_CHOICES);
    expect(taskChoices(ts, '', '__proto__').shown[0]).toBe(ts[0]);
  });

  it('holds for any titles and searches (property)', () => {
    const titleArb = fc.oneof(fc.constantFrom(...HOSTILE_TITLES), fc.string({ maxLength: 12 }), fc.constant(null));
    fc.assert(
      fc.property(
        fc.array(titleArb, { maxLength: 40 }),
        fc.oneof(fc.constantFrom(...HOSTILE_TITLES), fc.string({ maxLength: 6 })),
        fc.integer({ min: 0, max: 45 }),
        fc.integer({ min: 1, max: 12 }),
        (titles, query, chosenAt, limit) => {
          const ts: TaskListItem[] = titles.map((title, i) => task({ id: hexId(i + 1), title }));
          const chosen = ts[chosenAt]?.id ?? '';
          const { shown, matching } = taskChoices(ts, query, chosen, limit);
          const words = searchWords(query);
          const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('und');
          const hit = (t: TaskListItem) => words.every((w) => fold(t.title ?? '').includes(w) || (w.length >= MIN_ID_PREFIX && t.id.startsWith(w)));
          const hits = ts.filter(hit);
          expect(matching).toBe(hits.length);
          expect(new Set(shown).size).toBe(shown.length);
          for (const t of shown) expect(ts).toContain(t);
          const rest = chosen ? shown.slice(1) : shown;
          if (chosen) expect(shown[0]!.id).toBe(chosen);
          expect(rest).toEqual(hits.filter((t) => t.id !== chosen).slice(0, limit));
        },
      ),
      { numRuns: 500 },
    );
  });
});

function board(n: number, over: (i: number) => Partial<TaskListItem> = () => ({})): TaskListItem[] {
  return Array.from({ length: n }, (_, i) => task({ id: hexId(0x1000 + i), title: `Errand ${i}`, ...over(i) }));
}

describe('the task picker in forms', () => {
  it('offers a new task at most MAX_TASK_CHOICES open parents of thousands, newest first, and a search finds the rest', async () => {
    const { ctx, store, f } = await setupApp('member', { [`POST /api/pursuances/${PID}/tasks`]: () => task({ id: 'c'.repeat(64), title: 'Sub' }) });
    const tasks = board(3000, (i) => (i % 10 === 9 ? { closed: true } : i % 10 === 8 ? { readable: false, title: null } : {}));
    store.tasks.value = tasks;
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    const options = () => w.findAll('#t-parent option').map((o) => o.text());
    expect(options()).toHaveLength(MAX_TASK_CHOICES + 1);
    expect(options()[0]).toBe('(none: a top-level task)');
    expect(options()[1]).toBe('Errand 2997');
    expect(w.find('.task-picker').attributes('data-choices')).toBe('2400');
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('Showing 50 of 2,400 tasks: type part of a title to narrow.');
    await w.find('#t-parent-find').setValue('errand 129');
    // 129, 1129 and 2129 are closed, 1298 unreadable, 1299 closed.
    expect(options().slice(1)).toEqual([1297, 1296, 1295, 1294, 1293, 1292, 1291, 1290].map((i) => `Errand ${i}`));
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('8 tasks to choose from');
    await w.find('#t-parent-find').setValue('errand 1290');
    expect(options()).toEqual(['(none: a top-level task)', 'Errand 1290']);
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('1 task to choose from');
    await w.find('#t-parent').setValue(hexId(0x1000 + 1290));
    // Searching on keeps what is chosen in the list, so the select still shows it.
    await w.find('#t-parent-find').setValue('errand 5');
    expect(options()[1]).toBe('Errand 1290');
    expect((w.find('#t-parent').element as HTMLSelectElement).value).toBe(hexId(0x1000 + 1290));
    // Closed and unreadable tasks are no choice, whatever the search.
    await w.find('#t-parent-find').setValue('errand 1299');
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('No task title holds “errand 1299”.');
    await w.find('input[name="audience"]').setValue(true);
    await w.find('#t-title').setValue('Sub');
    await w.find('form').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ audience: ['member'], title: 'Sub', parent: hexId(0x1000 + 1290) });
  });

  it('says there is nothing to choose from yet on a pursuance without tasks, not that a search found nothing', async () => {
    const { ctx, store } = await setupApp('member');
    store.tasks.value = [];
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    expect(w.findAll('#t-parent option').map((o) => o.text())).toEqual(['(none: a top-level task)']);
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('No task to choose from yet.');
    await w.find('#t-parent-find').setValue('__proto__');
    expect(w.find('[data-testid="task-picker-count"]').text()).toBe('No task to choose from yet.');
  });

  it('searches prototype-named titles as plain text', async () => {
    const { ctx, store } = await setupApp('member');
    store.tasks.value = HOSTILE_TITLES.map((title, i) => task({ id: hexId(0x2000 + i), title }));
    const w = mountWith(NewTask, ctx, { store });
    await flushPromises();
    for (const name of ['__proto__', 'constructor', 'toString']) {
      await w.find('#t-parent-find').setValue(name);
      expect(w.findAll('#t-parent option').map((o) => o.text())).toEqual(['(none: a top-level task)', name]);
    }
    await w.find('#t-parent-find').setValue('reunion');
    expect(w.findAll('#t-parent option').map((o) => o.text())).toEqual(['(none: a top-level task)', 'REUNION', 'Réunion']);
  });

  it('offers a moved task no parent in its own subtree, through the same picker', async () => {
    const { ctx, store, f } = await setupApp('founder', {
      [`POST /api/pursuances/${PID}/tasks/${hexId(0x1000)}/changes`]: () => ({ id: 'e', kind: 'task.move' }),
    });
    const tasks = board(200, (i) => ({ parent: i === 1 ? hexId(0x1000) : i === 2 ? hexId(0x1001) : null }));
    store.tasks.value = tasks.map((t, i) => (i === 0 ? { ...t, children: [hexId(0x1001)] } : i === 1 ? { ...t, children: [hexId(0x1002)] } : t));
    const w = mountWith(TreeView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const row = w.findAll('.tree-row').find((r) => r.find('.tree-title').text() === 'Errand 0')!;
    await row.find('.link-button').trigger('click');
    expect(w.find('.task-picker').attributes('data-choices')).toBe('197');
    await w.find('#new-parent-find').setValue('errand 1');
    const offered = w.findAll('#new-parent option').map((o) => o.text());
    expect(offered).not.toContain('Errand 1');
    expect(offered).not.toContain('Errand 0');
    expect(offered).toContain('Errand 199');
    await w.find('#new-parent-find').setValue('errand 150');
    await w.find('#new-parent').setValue(hexId(0x1000 + 150));
    await w.find('form.inline-form').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST')?.body).toEqual({ op: 'move', parent: hexId(0x1000 + 150) });
  });
});

// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { reactive } from 'vue';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyFilters } from '../src/lib/filters.js';
import BoardView from '../src/views/BoardView.vue';
import { task } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => unmountAll());

/** Every column goes through CardWindow: a long one is virtualised, a short one is rendered whole. */
describe('board columns', () => {
  it('virtualises a column of over 100 cards and renders a shorter one whole, each card once', async () => {
    const { ctx, store, state } = await setupApp('founder');
    state.tasks = [
      ...Array.from({ length: 150 }, (_, i) => task({ title: `Long ${i}` })),
      ...Array.from({ length: 3 }, (_, i) => task({ title: `Short ${i}`, status: 'review' })),
    ];
    await store.refresh();
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const column = (status: string) => w.find(`[data-testid="column"][data-status="${status}"]`);

    const open = column('open');
    expect(open.find('.count').text()).toBe('150');
    expect(open.find('[data-testid="card-window"]').exists()).toBe(true);
    expect(open.findAll('[data-testid="task-card"]').length).toBeLessThan(150);

    const review = column('review');
    expect(review.find('[data-testid="card-window"]').exists()).toBe(false);
    // Newest first, every card, and none twice.
    expect(review.findAll('[data-testid="task-card"]').map((c) => c.find('h3').text())).toEqual(['Short 2', 'Short 1', 'Short 0']);
    expect(w.findAll('[data-testid="task-card"]').filter((c) => c.find('h3').text().startsWith('Short'))).toHaveLength(3);

    // A column that shrinks to 100 cards or fewer is rendered whole from then on.
    state.tasks = state.tasks.slice(50);
    await store.refresh();
    await flushPromises();
    expect(column('open').find('[data-testid="card-window"]').exists()).toBe(false);
    expect(column('open').findAll('[data-testid="task-card"]')).toHaveLength(100);
  });
});

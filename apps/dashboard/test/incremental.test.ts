import fc from 'fast-check';
import { ref } from 'vue';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../src/lib/api.js';
import { applyFeedChanges, applyTaskChanges, compareTasks } from '../src/lib/changes.js';
import { PursuanceStore } from '../src/lib/pursuance-store.js';
import type { FeedItem, PursuanceChanges, TaskListItem } from '../src/lib/types.js';
import { FOUNDER, PID, cellRules, members, roles, summary, task, taskList } from './support/fakes.js';

/**
 * The store keeps tasks, members, roles and the feed by change sets (GET …/changes) after one
 * whole fetch. A scripted node below versions its read model as the real one does: each batch
 * of changes bumps the version, and a change set since v names every task changed or removed
 * after v. Whatever the batches and whenever the store catches up, it must hold what a full
 * refetch would give, without refetching the task list.
 */
type Op =
  | { readonly kind: 'create'; readonly at: number; readonly title: string }
  | { readonly kind: 'edit'; readonly pick: number; readonly title: string }
  | { readonly kind: 'remove'; readonly pick: number }
  | { readonly kind: 'member'; readonly name: string };

const FEED = 200;

class ScriptedNode {
  version = 7_000;
  readonly tasks = new Map<string, TaskListItem>();
  readonly changedAt = new Map<string, number>();
  readonly removedAt = new Map<string, number>();
  members = members();
  membersAt = this.version;
  feed: FeedItem[] = [];
  /** Versions handed out and how long the feed was then; older ones are forgotten (a reset). */
  history = new Map<number, number>([[this.version, 0]]);
  #n = 0;

  public list(): TaskListItem[] {
    return [...this.tasks.values()].sort(compareTasks);
  }

  /** One batch of changes: one new version. */
  public apply(batch: readonly Op[]): void {
    const v = ++this.version;
    for (const op of batch) {
      const ids = [...this.tasks.keys()].sort();
      const picked = (i: number) => (ids.length === 0 ? undefined : ids[i % ids.length]);
      if (op.kind === 'create') {
        const t = task({ id: (++this.#n).toString(16).padStart(64, 'c'), createdAt: op.at, title: op.title });
        this.tasks.set(t.id, t);
        this.changedAt.set(t.id, v);
        this.removedAt.delete(t.id);
      } else if (op.kind === 'edit') {
        const id = picked(op.pick);
        if (id === undefined) continue;
        this.tasks.set(id, { ...this.tasks.get(id)!, title: op.title });
        this.changedAt.set(id, v);
      } else if (op.kind === 'remove') {
        const id = picked(op.pick);
        if (id === undefined) continue;
        this.tasks.delete(id);
        this.changedAt.delete(id);
        this.removedAt.set(id, v);
      } else {
        this.members = [...this.members, { onion: 'n'.repeat(56), name: op.name, roles: [], founder: false }];
        this.membersAt = v;
      }
      this.feed.unshift({ id: `e${v}-${this.feed.length}`, kind: op.kind, author: FOUNDER, authorName: null, time: v, accepted: true, rejection: null });
    }
    this.history.set(v, this.feed.length);
  }

  public forgetAllBut(latest: number): void {
    const keep = [...this.history.keys()].sort((a, b) => a - b).slice(-latest);
    this.history = new Map(keep.map((v) => [v, this.history.get(v)!]));
  }

  public changes(since: number | undefined): PursuanceChanges {
    const empty = { tasks: { upserted: [], removed: [] }, members: null, roles: null, feed: { items: [], full: false } };
    if (since === undefined || !this.history.has(since)) return { version: this.version, reset: true, ...empty };
    const fresh = this.feed.length - this.history.get(since)!;
    return {
      version: this.version,
      reset: false,
      tasks: {
        upserted: this.list().filter((t) => this.changedAt.get(t.id)! > since),
        removed: [...this.removedAt].filter(([, v]) => v > since).map(([id]) => id),
      },
      members: this.membersAt > since ? this.members : null,
      roles: null,
      feed: fresh > FEED ? { items: this.feed.slice(0, FEED), full: true } : { items: this.feed.slice(0, fresh), full: false },
    };
  }

  /** A fetch answering like the node; every URL asked for is recorded. */
  public fetch(calls: string[]): (input: string) => Promise<Response> {
    const p = `/api/pursuances/${PID}`;
    return (input) => {
      calls.push(input);
      const url = new URL(input, 'http://127.0.0.1');
      const since = url.searchParams.get('since');
      const answers: Record<string, () => unknown> = {
        [p]: () => summary(),
        [`${p}/tasks`]: () =>
          taskList(this.list(), { method: 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), body: undefined, headers: {} }),
        [`${p}/members`]: () => this.members,
        [`${p}/roles`]: () => roles(),
        [`${p}/rules`]: () => cellRules(),
        [`${p}/feed`]: () => this.feed.slice(0, Number(url.searchParams.get('limit') ?? FEED)),
        [`${p}/changes`]: () => this.changes(since === null ? undefined : Number(since)),
      };
      const answer = answers[url.pathname];
      return Promise.resolve(
        answer
          ? new Response(JSON.stringify(answer()), { status: 200 })
          : new Response(JSON.stringify({ code: 'NOT_FOUND', message: 'no such route' }), { status: 404 }),
      );
    };
  }
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), at: fc.integer({ min: 0, max: 50 }), title: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('edit' as const), pick: fc.nat(), title: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('member' as const), name: fc.constantFrom('bea', 'cy') }),
);
/** Batches of changes, each followed by a catch-up or not (a store may miss `changed` events: coalesced ones). */
const script = fc.array(fc.record({ batch: fc.array(op, { minLength: 1, maxLength: 4 }), catchUp: fc.boolean() }), { maxLength: 12 });

function storeOn(node: ScriptedNode) {
  const calls: string[] = [];
  const store = new PursuanceStore(PID, new ApiClient(() => 'T'.repeat(43), node.fetch(calls)), ref(FOUNDER));
  const count = (path: string) => calls.filter((c) => c.split('?')[0] === `/api/pursuances/${PID}${path}`).length;
  return { store, calls, count };
}

describe('change sets', () => {
  it('applied in order give the list a full refetch gives, keeping unchanged tasks as they were (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 8 }), script, (before, after) => {
        const node = new ScriptedNode();
        for (const b of before) node.apply(b);
        let held: readonly TaskListItem[] = node.list();
        let version = node.version;
        let feed: readonly FeedItem[] = node.feed.slice(0, FEED);
        for (const { batch, catchUp } of after) {
          node.apply(batch);
          if (!catchUp) continue;
          const c = node.changes(version);
          const next = applyTaskChanges(held, c.tasks);
          const touched = new Set([...c.tasks.upserted.map((t) => t.id), ...c.tasks.removed]);
          for (const t of next) if (!touched.has(t.id)) expect(held).toContain(t);
          held = next;
          feed = applyFeedChanges(feed, c.feed);
          version = c.version;
        }
        const last = node.changes(version);
        held = applyTaskChanges(held, last.tasks);
        feed = applyFeedChanges(feed, last.feed);
        expect(held).toEqual(node.list());
        expect(feed).toEqual(node.feed.slice(0, FEED));
        // Applying the same set again changes nothing.
        expect(applyTaskChanges(held, last.tasks)).toEqual(held);
      }),
      { numRuns: 300 },
    );
  });
});

describe('PursuanceStore with change sets', () => {
  it('patches tasks, members and the feed without refetching the lists, and holds what a refetch gives (property)', async () => {
    await fc.assert(
      fc.asyncProperty(script, async (steps) => {
        const node = new ScriptedNode();
        node.apply([{ kind: 'create', at: 1, title: 'first' }]);
        const { store, count } = storeOn(node);
        await store.want('tasks', 'feed');
        expect(store.version).toBe(node.version);
        for (const { batch, catchUp } of steps) {
          node.apply(batch);
          if (catchUp) await store.refresh();
        }
        await store.refresh();
        expect(store.error.value).toBeNull();
        expect(store.tasks.value).toEqual(node.list());
        expect(store.members.value).toEqual(node.members);
        expect(store.feed.value).toEqual(node.feed.slice(0, FEED));
        expect(store.version).toBe(node.version);
        expect(count('/tasks')).toBe(1);
        expect(count('/members')).toBe(1);
        expect(count('/feed')).toBe(1);
      }),
      { numRuns: 100 },
    );
  });

  it('refetches the lists whole when the node answers `reset` (it forgot the version, or restarted)', async () => {
    const node = new ScriptedNode();
    node.apply([{ kind: 'create', at: 1, title: 'first' }]);
    const { store, count } = storeOn(node);
    await store.want('tasks');
    node.apply([{ kind: 'create', at: 2, title: 'second' }]);
    await store.refresh();
    expect(count('/tasks')).toBe(1);
    node.apply([{ kind: 'edit', pick: 0, title: 'again' }]);
    node.apply([{ kind: 'create', at: 3, title: 'third' }]);
    node.forgetAllBut(1);
    await store.refresh();
    expect(count('/tasks')).toBe(2);
    expect(store.tasks.value).toEqual(node.list());
    expect(store.version).toBe(node.version);
    // And back to change sets from the new version on.
    node.apply([{ kind: 'edit', pick: 1, title: 'patched' }]);
    await store.refresh();
    expect(count('/tasks')).toBe(2);
    expect(store.tasks.value).toEqual(node.list());
  });

  it('fetches whole on every refresh from a node without the changes route', async () => {
    const node = new ScriptedNode();
    node.apply([{ kind: 'create', at: 1, title: 'first' }]);
    const calls: string[] = [];
    const plain = node.fetch(calls);
    const older = (input: string) => {
      if (!input.includes('/changes')) return plain(input);
      calls.push(input);
      return Promise.resolve(new Response('{"code":"NOT_FOUND","message":"no such route"}', { status: 404 }));
    };
    const store = new PursuanceStore(PID, new ApiClient(() => 'T'.repeat(43), older), ref(FOUNDER));
    await store.want('tasks');
    node.apply([{ kind: 'create', at: 2, title: 'second' }]);
    await store.refresh();
    await store.refresh();
    expect(store.error.value).toBeNull();
    expect(store.tasks.value).toEqual(node.list());
    expect(store.version).toBeNull();
    expect(calls.filter((c) => c.split('?')[0]!.endsWith('/tasks'))).toHaveLength(3);
    // The node was asked once whether it has change sets, not on every refresh.
    expect(calls.filter((c) => c.includes('/changes'))).toHaveLength(1);
  });
});

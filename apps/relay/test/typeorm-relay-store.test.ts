import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORAGE_DAY_MS } from '@pursuance/relay';
import { record, runRelayStoreContractTests } from '@pursuance/relay/testing';
import { TypeormRelayStore, type CommitInfo } from '../src/store/typeorm-relay-store.js';

runRelayStoreContractTests(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-store-'));
  return {
    open: (options = {}) => TypeormRelayStore.open({ ...options, path: join(dir, 'relay.sqlite') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}, 'TypeormRelayStore (SQLite, WAL)');

describe('TypeormRelayStore group commit', () => {
  it('commits concurrent posts together, in few transactions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-store-'));
    const commits: CommitInfo[] = [];
    const store = await TypeormRelayStore.open({ path: join(dir, 'relay.sqlite'), onCommit: (c) => commits.push(c) });
    try {
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => store.post(record())));
      expect(outcomes.every((o) => o.kind === 'stored')).toBe(true);
      expect(commits.reduce((n, c) => n + c.posts, 0)).toBe(300);
      // 300 posts in the same tick: batches of at most 256, so exactly two commits.
      expect(commits.map((c) => c.posts)).toEqual([256, 44]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TypeormRelayStore pruning', () => {
  it('catches up on expired messages in bounded transactions and lets a post in between them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-store-'));
    let now = Date.UTC(2026, 0, 10, 12);
    const commits: CommitInfo[] = [];
    const events: string[] = [];
    let posted: Promise<unknown> | undefined;
    const store = await TypeormRelayStore.open({
      path: join(dir, 'relay.sqlite'),
      retentionMs: STORAGE_DAY_MS,
      pruneBatch: 5,
      now: () => now,
      onCommit: (c) => {
        commits.push(c);
        // A post arriving during the catch-up, right after its first prune-only transaction.
        if (c.posts === 0 && posted === undefined) posted = store.post(record()).then(() => events.push('post'));
      },
    });
    try {
      await Promise.all(Array.from({ length: 60 }, () => store.post(record())));
      now += 3 * STORAGE_DAY_MS;
      commits.length = 0;
      const deleted = await store.pruneDue().then((n) => (events.push('prune done'), n));
      await posted;
      // The post was committed while the catch-up still had work to do.
      expect(events).toEqual(['post', 'prune done']);
      const postCommit = commits.findIndex((c) => c.posts === 1);
      expect(postCommit).toBeGreaterThan(0);
      expect(postCommit).toBeLessThan(commits.length - 1);
      // No transaction deleted more than the batch; together they deleted every expired message.
      for (const c of commits) expect(c.expired + c.pruned).toBeLessThanOrEqual(5);
      expect(deleted + commits[postCommit]!.expired).toBe(60);
      expect(await store.stats()).toMatchObject({ messages: 1, expired: 60 });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

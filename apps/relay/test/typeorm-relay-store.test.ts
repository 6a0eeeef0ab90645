import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_DAY_MS, StoreFailedError } from '@pursuance/relay';
import { record, runRelayStoreContractTests } from '@pursuance/relay/testing';
import { PostgresRelayStore, StoreInUseError } from '../src/store/postgres-relay-store.js';
import type { CommitInfo } from '../src/store/typeorm-relay-store.js';
import { startPostgresCluster, type PostgresCluster } from './support/postgres-cluster.js';

/** One throwaway cluster for this file; a fresh database for every test. */
let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await startPostgresCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

async function freshUrl(): Promise<string> {
  return cluster.url(await cluster.createDatabase());
}

runRelayStoreContractTests(async () => {
  const url = await freshUrl();
  return {
    open: (options = {}) => PostgresRelayStore.open({ ...options, url }),
    // The database goes with the cluster at the end of the file.
    cleanup: () => Promise.resolve(),
  };
}, 'PostgresRelayStore (PostgreSQL, synchronous_commit on)');

describe('PostgresRelayStore group commit', () => {
  it('commits concurrent posts together, in few transactions', async () => {
    const commits: CommitInfo[] = [];
    const store = await PostgresRelayStore.open({ url: await freshUrl(), onCommit: (c) => commits.push(c) });
    try {
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => store.post(record())));
      expect(outcomes.every((o) => o.kind === 'stored')).toBe(true);
      // 300 posts in the same tick: batches of at most 256, so exactly two commits.
      expect(commits.map((c) => c.posts)).toEqual([256, 44]);
      const seqs = outcomes.map((o) => (o.kind === 'stored' ? o.message.seq : -1));
      expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    } finally {
      await store.close();
    }
  });
});

describe('PostgresRelayStore pruning', () => {
  it('catches up on expired messages in bounded transactions and lets a post in between them', async () => {
    let now = Date.UTC(2026, 0, 10, 12);
    const commits: CommitInfo[] = [];
    const events: string[] = [];
    let posted: Promise<unknown> | undefined;
    const store = await PostgresRelayStore.open({
      url: await freshUrl(),
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
      expect(events).toEqual(['post', 'prune done']);
      const postCommit = commits.findIndex((c) => c.posts === 1);
      expect(postCommit).toBeGreaterThan(0);
      expect(postCommit).toBeLessThan(commits.length - 1);
      for (const c of commits) expect(c.expired + c.pruned).toBeLessThanOrEqual(5);
      expect(deleted + commits[postCommit]!.expired).toBe(60);
      expect(await store.stats()).toMatchObject({ messages: 1, expired: 60 });
    } finally {
      await store.close();
    }
  });
});

describe('PostgresRelayStore writer', () => {
  it('lets one relay write a database at a time, and frees it on close', async () => {
    const url = await freshUrl();
    const first = await PostgresRelayStore.open({ url });
    await expect(PostgresRelayStore.open({ url, lockWaitMs: 200 })).rejects.toBeInstanceOf(StoreInUseError);
    await first.post(record());
    await first.close();
    const second = await PostgresRelayStore.open({ url });
    expect((await second.stats()).messages).toBe(1);
    await second.close();
  });

  it('waits for the lock a crashed or stopping relay still holds, and gets it once freed', async () => {
    const database = await cluster.createDatabase();
    const first = await PostgresRelayStore.open({ url: cluster.url(database) });
    const second = PostgresRelayStore.open({ url: cluster.url(database), lockWaitMs: 120_000 });
    // Wait until the second open is queued on the lock, then free it.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const waiting = await cluster.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`, [], database);
      if (waiting.length > 0) break;
      if (Date.now() > deadline) throw new Error('the second open never waited for the lock');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await first.close();
    const store = await second;
    expect((await store.post(record())).kind).toBe('stored');
    await store.close();
  });

  it('takes its connection and the lock again after the server dropped it, with the counts re-read', async () => {
    const database = await cluster.createDatabase();
    const store = await PostgresRelayStore.open({ url: cluster.url(database), maxMessages: 100 });
    try {
      const a = record();
      expect((await store.post(a)).kind).toBe('stored');
      // What an administrator's pg_terminate_backend or a server restart does to the writer's session.
      const killed = await cluster.query<{ n: number }>(
        `SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pursuance-relay' AND pid <> pg_backend_pid()`,
        [database],
      );
      expect(killed[0]!.n).toBeGreaterThan(0);
      // The first write after the loss may fail (its connection was cut); the next one reconnects.
      const outcomes: string[] = [];
      for (let i = 0; i < 3 && outcomes.at(-1) !== 'stored'; i++) {
        outcomes.push(
          await store.post(record()).then(
            (o) => o.kind,
            (e: unknown) => (e instanceof StoreFailedError ? 'failed' : 'other'),
          ),
        );
      }
      expect(outcomes.at(-1)).toBe('stored');
      expect(outcomes.filter((o) => o !== 'stored' && o !== 'failed')).toEqual([]);
      expect(await store.post(a)).toEqual({ kind: 'token-spent' });
      expect(await store.stats()).toMatchObject({ messages: 2, spentTokens: 2 });
      // It holds the lock again.
      await expect(PostgresRelayStore.open({ url: cluster.url(database), lockWaitMs: 200 })).rejects.toBeInstanceOf(StoreInUseError);
    } finally {
      await store.close();
    }
  });

  it('never hands out a seq a JS number cannot hold: past 2^53 − 1 a post fails instead', async () => {
    const database = await cluster.createDatabase();
    const store = await PostgresRelayStore.open({ url: cluster.url(database) });
    try {
      await cluster.query(`SELECT setval('relay_messages_seq_seq', $1)`, [String(Number.MAX_SAFE_INTEGER - 1)], database);
      const last = await store.post(record());
      expect(last.kind === 'stored' && last.message.seq).toBe(Number.MAX_SAFE_INTEGER);
      await expect(store.post(record())).rejects.toBeInstanceOf(StoreFailedError);
      const [row] = await store.read(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1);
      expect(row?.seq).toBe(Number.MAX_SAFE_INTEGER);
      expect(await store.count(1, Number.MAX_SAFE_INTEGER)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('names no token or ciphertext in a failed commit', async () => {
    const database = await cluster.createDatabase();
    const store = await PostgresRelayStore.open({ url: cluster.url(database) });
    try {
      // A constraint the schema does not have, so the INSERT fails inside the post's transaction.
      await cluster.query('ALTER TABLE relay_messages ADD CONSTRAINT never CHECK (octet_length(ciphertext) = 1)', [], database);
      const r = record();
      const error: unknown = await store.post(r).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreFailedError);
      expect((error as StoreFailedError).message).toBe('commit failed: 23514');
      // Rolled back as a whole: the token is not spent.
      expect(await store.isSpent(r.tokenEpoch, r.tokenInput)).toBe(false);
      await cluster.query('ALTER TABLE relay_messages DROP CONSTRAINT never', [], database);
      expect((await store.post(r)).kind).toBe('stored');
    } finally {
      await store.close();
    }
  });
});

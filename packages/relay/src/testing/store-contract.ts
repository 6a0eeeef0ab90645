import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE } from '../protocol-profile.js';
import { STORAGE_DAY_MS, bucketOf, type PostOutcome, type PostRecord, type RelayStore, type RelayStoreOptions } from '../store.js';
import { randomMessage } from './fixtures.js';

/**
 * The RelayStore contract. Every implementation runs this suite (the in-memory store in
 * packages/relay, TypeORM on SQLite in apps/relay). `open` may be called repeatedly on one harness and must return a
 * store over the same data each time (a "reopen" after close), so durability across reopen is
 * part of the contract.
 */
export interface RelayStoreHarness {
  open(options?: RelayStoreOptions): Promise<RelayStore>;
  cleanup(): Promise<void>;
}

export function record(tokenInput: Uint8Array = new Uint8Array(randomBytes(32)), tokenEpoch = 0): PostRecord {
  return { ...randomMessage(), tokenEpoch, tokenInput };
}

export interface RelayStoreContractOptions {
  /** Runs of the bucket-mark property (default 20: each run opens a fresh store; an in-memory one can afford more). */
  readonly propertyRuns?: number;
}

const storedSeqs = (outcomes: readonly PostOutcome[]): number[] => outcomes.flatMap((o) => (o.kind === 'stored' ? [o.message.seq] : []));

/** One step of the bucket-mark property. */
type BucketStep = { readonly kind: 'clock'; readonly ms: number } | { readonly kind: 'post'; readonly n: number } | { readonly kind: 'prune' };

export function runRelayStoreContractTests(
  setup: () => Promise<RelayStoreHarness>,
  title = 'RelayStore',
  contractOptions: RelayStoreContractOptions = {},
): void {
  describe(`RelayStore contract: ${title}`, () => {
    let harness: RelayStoreHarness;
    let store: RelayStore;
    beforeEach(async () => {
      harness = await setup();
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    it('starts empty', async () => {
      expect(await store.lastSeq()).toBe(0);
      expect(await store.count(1, Number.MAX_SAFE_INTEGER)).toBe(0);
      expect(await store.read(1, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await store.stats()).toMatchObject({ messages: 0, bytes: 0, spentTokens: 0, pruned: 0, expired: 0 });
    });

    it('stores posts in order with increasing seq and returns the exact bytes', async () => {
      const records = [record(), record(), record()];
      const seqs: number[] = [];
      for (const r of records) {
        const outcome = await store.post(r);
        expect(outcome.kind).toBe('stored');
        if (outcome.kind === 'stored') {
          expect(outcome.message.signature).toEqual(r.signature);
          expect(outcome.message.ciphertext).toEqual(r.ciphertext);
          seqs.push(outcome.message.seq);
        }
      }
      expect(seqs[0]).toBeGreaterThanOrEqual(1);
      expect(seqs[1]).toBeGreaterThan(seqs[0]!);
      expect(seqs[2]).toBeGreaterThan(seqs[1]!);
      expect(await store.lastSeq()).toBe(seqs[2]);
      const all = await store.read(1, Number.MAX_SAFE_INTEGER, 100);
      expect(all.map((m) => m.seq)).toEqual(seqs);
      expect(all.map((m) => [m.signature, m.ciphertext])).toEqual(records.map((r) => [r.signature, r.ciphertext]));
      expect(await store.seqOf(records[1]!.signature)).toBe(seqs[1]);
      expect(await store.seqOf(new Uint8Array(64))).toBeUndefined();
    });

    it('reads and counts ranges, honouring the limit', async () => {
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const o = await store.post(record());
        if (o.kind === 'stored') seqs.push(o.message.seq);
      }
      expect(await store.count(seqs[3]!, seqs[7]!)).toBe(5);
      expect((await store.read(seqs[3]!, seqs[7]!, 3)).map((m) => m.seq)).toEqual(seqs.slice(3, 6));
      expect((await store.read(seqs[8]!, Number.MAX_SAFE_INTEGER, 100)).map((m) => m.seq)).toEqual(seqs.slice(8));
      expect(await store.read(seqs[9]! + 1, Number.MAX_SAFE_INTEGER, 100)).toEqual([]);
    });

    it('refuses a spent token and changes nothing', async () => {
      const first = record();
      expect((await store.post(first)).kind).toBe('stored');
      const again = { ...record(), tokenInput: first.tokenInput };
      expect(await store.post(again)).toEqual({ kind: 'token-spent' });
      expect(await store.seqOf(again.signature)).toBeUndefined();
      expect((await store.stats()).messages).toBe(1);
      expect(await store.isSpent(0, first.tokenInput)).toBe(true);
    });

    it('treats a duplicate signature as idempotent but still spends the new token', async () => {
      const first = record();
      await store.post(first);
      const repeat = { ...first, tokenInput: new Uint8Array(randomBytes(32)) };
      expect(await store.isSpent(0, repeat.tokenInput)).toBe(false);
      expect(await store.post(repeat)).toEqual({ kind: 'duplicate' });
      expect(await store.isSpent(0, repeat.tokenInput)).toBe(true);
      expect(await store.post({ ...first, tokenInput: repeat.tokenInput })).toEqual({ kind: 'token-spent' });
      expect(await store.count(1, Number.MAX_SAFE_INTEGER)).toBe(1);
      expect((await store.stats()).spentTokens).toBe(2);
    });

    it('keys spent tokens by (epoch, input): the same input under another epoch is another token', async () => {
      const input = new Uint8Array(randomBytes(32));
      expect((await store.post(record(input, 3))).kind).toBe('stored');
      expect(await store.isSpent(3, input)).toBe(true);
      expect(await store.isSpent(4, input)).toBe(false);
      expect((await store.post(record(input, 4))).kind).toBe('stored');
      expect(await store.post(record(input, 3))).toEqual({ kind: 'token-spent' });
      expect(await store.post(record(input, 4))).toEqual({ kind: 'token-spent' });
      expect((await store.stats()).spentTokens).toBe(2);
    });

    it('drops the spent tokens of whole epochs below a bound, and only those', async () => {
      const byEpoch = [0, 1, 1, 2, 5, 2_147_483_647].map((epoch) => ({ epoch, input: new Uint8Array(randomBytes(32)) }));
      for (const t of byEpoch) expect((await store.post(record(t.input, t.epoch))).kind).toBe('stored');
      expect(await store.dropSpentBefore(0)).toBe(0);
      expect(await store.dropSpentBefore(2)).toBe(3);
      expect(await store.dropSpentBefore(2)).toBe(0);
      for (const t of byEpoch) expect(await store.isSpent(t.epoch, t.input), `epoch ${t.epoch}`).toBe(t.epoch >= 2);
      expect((await store.stats()).spentTokens).toBe(3);
      // Messages are untouched by dropping tokens.
      expect((await store.stats()).messages).toBe(byEpoch.length);
      await store.close();
      store = await harness.open();
      expect((await store.stats()).spentTokens).toBe(3);
      expect(await store.isSpent(1, byEpoch[1]!.input)).toBe(false);
      expect(await store.isSpent(5, byEpoch[4]!.input)).toBe(true);
    });

    it('settles concurrent posts atomically: one success per token, outcomes in seq order', async () => {
      const tokens = Array.from({ length: 20 }, () => new Uint8Array(randomBytes(32)));
      // Each token used three times, interleaved, plus some duplicate signatures.
      const records = [...tokens, ...tokens, ...tokens].map((t) => record(t));
      records.push({ ...records[0]!, tokenInput: new Uint8Array(randomBytes(32)) });
      const outcomes = await Promise.all(records.map((r) => store.post(r)));
      const stored = outcomes.flatMap((o) => (o.kind === 'stored' ? [o.message.seq] : []));
      expect(stored.length).toBe(20);
      expect([...stored].sort((a, b) => a - b)).toEqual(stored); // resolution order = seq order
      expect(new Set(stored).size).toBe(20);
      expect(outcomes.filter((o) => o.kind === 'token-spent').length).toBe(40);
      const winners = new Set(records.filter((_, i) => outcomes[i]!.kind === 'stored').map((r) => Buffer.from(r.tokenInput).toString('hex')));
      expect(winners.size).toBe(20);
      expect(outcomes.at(-1)!.kind).toBe(outcomes[0]!.kind === 'stored' ? 'duplicate' : 'stored');
      expect((await store.stats()).spentTokens).toBe(21);
    });

    it('prunes the oldest messages past the cap, never un-spends a token, and keeps seq monotonic', async () => {
      await store.close();
      store = await harness.open({ maxMessages: 10 });
      const records = Array.from({ length: 25 }, () => record());
      const seqs: number[] = [];
      for (const r of records) {
        const o = await store.post(r);
        if (o.kind === 'stored') seqs.push(o.message.seq);
      }
      const stats = await store.stats();
      expect(stats.maxMessages).toBe(10);
      expect(stats.messages).toBeLessThanOrEqual(10);
      expect(stats.pruned).toBe(25 - stats.messages);
      const kept = await store.read(1, Number.MAX_SAFE_INTEGER, 100);
      // Exactly the newest survive, in order.
      expect(kept.map((m) => m.seq)).toEqual(seqs.slice(25 - stats.messages));
      expect(await store.seqOf(records[0]!.signature)).toBeUndefined();
      // A pruned message's token stays spent; re-posting it is refused.
      expect(await store.post(records[0]!)).toEqual({ kind: 'token-spent' });
      expect(await store.lastSeq()).toBe(seqs.at(-1));
    });

    it('counts the bytes of what it stores and prunes', async () => {
      await store.close();
      store = await harness.open({ maxMessages: 10 });
      for (let i = 0; i < 25; i++) await store.post(record());
      const stats = await store.stats();
      const kept = await store.read(1, Number.MAX_SAFE_INTEGER, 100);
      expect(stats.bytes).toBe(kept.reduce((n, m) => n + m.signature.byteLength + m.ciphertext.byteLength, 0));
      expect(stats.bytes).toBe(stats.messages * (GROUP_CIPHERTEXT_SIZE + GROUP_SIGNATURE_SIZE));
      await store.close();
      store = await harness.open();
      expect((await store.stats()).bytes).toBe(stats.bytes);
    });

    it('prunes messages past the retention window (clock injected), oldest first, never early, keeping newer ones', async () => {
      const day = STORAGE_DAY_MS;
      const start = Date.UTC(2026, 0, 10, 12); // midday of day D
      let now = start;
      await store.close();
      store = await harness.open({ retentionMs: 3 * day, now: () => now });
      const first = Array.from({ length: 5 }, () => record());
      for (const r of first) expect((await store.post(r)).kind).toBe('stored');
      now = start + day; // day D+1
      const second = Array.from({ length: 5 }, () => record());
      for (const r of second) await store.post(r);
      const signatures = async (): Promise<string[]> =>
        (await store.read(1, Number.MAX_SAFE_INTEGER, 100)).map((m) => Buffer.from(m.signature).toString('hex'));
      const hex = (rs: PostRecord[]): string[] => rs.map((r) => Buffer.from(r.signature).toString('hex'));

      // Exactly three days after the first posts: not one day-D message is past the window yet.
      now = start + 3 * day;
      expect(await store.pruneDue()).toBe(0);
      expect(await signatures()).toEqual(hex([...first, ...second]));

      // Day D lies wholly before now − window: its messages go, day D+1's (2.5 days old) stay.
      now = start + 3.5 * day;
      expect(await store.pruneDue()).toBe(5);
      expect(await signatures()).toEqual(hex(second));
      expect(await store.stats()).toMatchObject({ messages: 5, expired: 5, pruned: 0, retentionMs: 3 * day });
      // Expired messages' tokens stay spent.
      expect(await store.post(first[0]!)).toEqual({ kind: 'token-spent' });

      // Posting prunes too, with no sweep: day D+1 is past the window two days later.
      now = start + 5.5 * day;
      const third = record();
      await store.post(third);
      expect(await signatures()).toEqual(hex([third]));
      expect((await store.stats()).expired).toBe(10);

      // The day marks survive a reopen: the third post expires on time after one.
      await store.close();
      now = start + 9.5 * day;
      store = await harness.open({ retentionMs: 3 * day, now: () => now });
      expect(await store.pruneDue()).toBe(1);
      expect(await store.count(1, Number.MAX_SAFE_INTEGER)).toBe(0);
    });

    it('prunes in bounded batches: a post deletes at most pruneBatch expired messages, pruneDue the rest', async () => {
      const day = STORAGE_DAY_MS;
      let now = Date.UTC(2026, 0, 10, 12);
      await store.close();
      store = await harness.open({ retentionMs: day, pruneBatch: 3, now: () => now });
      for (let i = 0; i < 10; i++) await store.post(record());
      now += 3 * day;
      const fresh = record();
      await store.post(fresh);
      expect(await store.stats()).toMatchObject({ messages: 8, expired: 3 });
      expect(await store.pruneDue()).toBe(7);
      const kept = await store.read(1, Number.MAX_SAFE_INTEGER, 100);
      expect(kept.map((m) => m.signature)).toEqual([fresh.signature]);
    });

    it('over a lowered cap, never grows and shrinks to the cap in bounded steps, oldest first', async () => {
      await store.close();
      store = await harness.open({ maxMessages: 100 });
      const seqs: number[] = [];
      for (let i = 0; i < 30; i++) {
        const o = await store.post(record());
        if (o.kind === 'stored') seqs.push(o.message.seq);
      }
      await store.close();
      store = await harness.open({ maxMessages: 10, pruneBatch: 4 });
      const o = await store.post(record());
      if (o.kind === 'stored') seqs.push(o.message.seq);
      expect((await store.stats()).messages).toBe(27);
      expect((await store.read(1, Number.MAX_SAFE_INTEGER, 100)).map((m) => m.seq)).toEqual(seqs.slice(4));
      expect(await store.pruneDue()).toBeGreaterThan(0);
      const kept = (await store.read(1, Number.MAX_SAFE_INTEGER, 100)).map((m) => m.seq);
      expect(kept.length).toBeLessThanOrEqual(10);
      expect(kept).toEqual(seqs.slice(seqs.length - kept.length));
    });

    it('keeps messages, spent tokens and the seq counter across reopen', async () => {
      const a = record();
      const b = record();
      await store.post(a);
      const ob = await store.post(b);
      await store.close();
      store = await harness.open({ maxMessages: 1 });
      expect(await store.isSpent(0, a.tokenInput)).toBe(true);
      expect(await store.seqOf(b.signature)).toBe(ob.kind === 'stored' ? ob.message.seq : -1);
      // Posting prunes down to the cap; the next seq still never reuses an old one.
      const c = await store.post(record());
      expect(c.kind === 'stored' && c.message.seq).toBeGreaterThan(ob.kind === 'stored' ? ob.message.seq : 0);
      await store.close();
      store = await harness.open();
      const last = await store.lastSeq();
      const d = await store.post(record());
      expect(d.kind === 'stored' && d.message.seq).toBe(last + 1);
      expect(await store.post(a)).toEqual({ kind: 'token-spent' });
    });

    describe('bucket marks', () => {
      const bucketMs = 60_000;
      const start = Date.UTC(2026, 0, 10, 12);
      const b0 = bucketOf(start, bucketMs);
      let now = start;
      const reopen = async (options: RelayStoreOptions = {}): Promise<void> => {
        await store.close();
        store = await harness.open({ bucketMs, now: () => now, ...options });
      };
      const postAt = async (bucket: number, n: number): Promise<number[]> => {
        now = bucket * bucketMs + bucketMs / 2;
        const seqs: number[] = [];
        for (let i = 0; i < n; i++) seqs.push(...storedSeqs([await store.post(record())]));
        expect(seqs).toHaveLength(n);
        return seqs;
      };
      const before = async (buckets: number[]): Promise<number[]> => Promise.all(buckets.map((b) => store.seqBeforeBucket(b)));
      beforeEach(async () => {
        now = start;
        await reopen();
      });

      it('files messages per bucket; seqBeforeBucket answers before, between, inside and after the marks', async () => {
        expect(store.currentBucket()).toBe(b0);
        expect(await before([0, b0, b0 + 1, Number.MAX_SAFE_INTEGER])).toEqual([0, 0, 0, 0]);
        const first = await postAt(b0, 2);
        const second = await postAt(b0 + 3, 3);
        expect(store.currentBucket()).toBe(b0 + 3);
        const third = await postAt(b0 + 4, 1);
        expect(store.currentBucket()).toBe(b0 + 4);
        expect(await before([0, b0 - 5, b0])).toEqual([0, 0, 0]);
        // Inside and between: everything filed under an earlier bucket, and nothing later.
        expect(await before([b0 + 1, b0 + 2, b0 + 3])).toEqual([first[1], first[1], first[1]]);
        expect(await store.seqBeforeBucket(b0 + 4)).toBe(second[2]);
        expect(await before([b0 + 5, b0 + 100, Number.MAX_SAFE_INTEGER])).toEqual([third[0], third[0], third[0]]);
        // Time passing with no post moves the current bucket on; the marks stay.
        now = (b0 + 10) * bucketMs;
        expect(store.currentBucket()).toBe(b0 + 10);
        expect(await store.seqBeforeBucket(b0 + 10)).toBe(third[0]);
      });

      it('files under the latest bucket when the clock steps back: the current bucket never decreases', async () => {
        const [a] = await postAt(b0 + 5, 1);
        now = start; // stepped back five buckets
        expect(store.currentBucket()).toBe(b0 + 5);
        const [b] = storedSeqs([await store.post(record())]);
        expect(store.currentBucket()).toBe(b0 + 5);
        expect(await before([b0 + 1, b0 + 5, b0 + 6])).toEqual([0, 0, b]);
        expect(b).toBeGreaterThan(a!);
        const [c] = await postAt(b0 + 7, 1);
        now = (b0 + 6) * bucketMs;
        expect(store.currentBucket()).toBe(b0 + 7);
        expect(await before([b0 + 6, b0 + 7, b0 + 8])).toEqual([b, b, c]);
      });

      it('keeps the marks across reopen', async () => {
        await postAt(b0, 2);
        await postAt(b0 + 2, 1);
        await postAt(b0 + 6, 2);
        const buckets = Array.from({ length: 10 }, (_, i) => b0 - 1 + i);
        const answers = await before(buckets);
        const current = store.currentBucket();
        expect(current).toBe(b0 + 6);
        now = start; // and the clock stepped back across the restart
        await reopen();
        expect(store.currentBucket()).toBe(current);
        expect(await before(buckets)).toEqual(answers);
        const [next] = storedSeqs([await store.post(record())]);
        expect(await before([b0 + 6, b0 + 7])).toEqual([answers[7], next]);
      });

      it('drops the marks of buckets the cap pruned wholly; later buckets still answer', async () => {
        await reopen({ maxMessages: 5 });
        await postAt(b0, 3);
        const middle = await postAt(b0 + 1, 3);
        const last = await postAt(b0 + 2, 3);
        // The five newest are kept: bucket b0 is gone, b0 + 1 is partly kept.
        expect((await store.read(1, Number.MAX_SAFE_INTEGER, 100)).map((m) => m.seq)).toEqual([...middle.slice(1), ...last]);
        expect(await before([b0, b0 + 1, b0 + 2, b0 + 3])).toEqual([0, 0, middle[2], last[2]]);
        await reopen({ maxMessages: 2 });
        expect(await store.pruneDue()).toBe(3);
        expect(await before([b0 + 1, b0 + 2, b0 + 3])).toEqual([0, 0, last[2]]);
        expect(store.currentBucket()).toBe(b0 + 2);
      });

      it('drops the marks of buckets retention expired wholly; later buckets still answer', async () => {
        const day = STORAGE_DAY_MS;
        const quarter = day / 4; // four buckets a day
        now = start;
        await reopen({ retentionMs: day, bucketMs: quarter });
        const b = bucketOf(start, quarter);
        const first = storedSeqs(await Promise.all([store.post(record()), store.post(record())]));
        now = start + day;
        const second = storedSeqs(await Promise.all([store.post(record()), store.post(record())]));
        expect(await before([b, b + 1, b + 4, b + 5])).toEqual([0, first[1], first[1], second[1]]);
        // Day D is wholly past the window, day D + 1 is not.
        now = start + 1.75 * day;
        expect(await store.pruneDue()).toBe(2);
        expect(await before([b, b + 1, b + 4, b + 5])).toEqual([0, 0, 0, second[1]]);
        now = start + 3 * day;
        expect(await store.pruneDue()).toBe(2);
        expect(await store.seqBeforeBucket(Number.MAX_SAFE_INTEGER)).toBe(0);
      });

      it('gives the posts of one group commit one mark', async () => {
        const seqs = storedSeqs(await Promise.all(Array.from({ length: 6 }, () => store.post(record()))));
        expect(seqs).toHaveLength(6);
        expect(await before([b0, b0 + 1])).toEqual([0, Math.max(...seqs)]);
        now = start + bucketMs;
        const more = storedSeqs(await Promise.all(Array.from({ length: 4 }, () => store.post(record()))));
        expect(await before([b0 + 1, b0 + 2])).toEqual([Math.max(...seqs), Math.max(...more)]);
      });
    });

    it('answers seqBeforeBucket like a model of filed buckets, whatever the clock, posts and pruning do', { timeout: 180_000 }, async () => {
      const day = STORAGE_DAY_MS;
      const step: fc.Arbitrary<BucketStep> = fc.oneof(
        fc.record({ kind: fc.constant('clock' as const), ms: fc.integer({ min: -day, max: 2 * day }) }),
        fc.record({ kind: fc.constant('post' as const), n: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ kind: fc.constant('prune' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            bucketMs: fc.constantFrom(day / 24, day / 4, day),
            maxMessages: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
            retentionMs: fc.option(fc.constantFrom(day, 2 * day), { nil: undefined }),
            steps: fc.array(step, { maxLength: 12 }),
            probes: fc.array(fc.integer({ min: -3, max: 80 }), { maxLength: 4 }),
          }),
          async ({ bucketMs, maxMessages, retentionMs, steps, probes }) => {
            let clock = Date.UTC(2026, 0, 10, 12);
            const origin = bucketOf(clock, bucketMs);
            const h = await setup();
            const s = await h.open({ bucketMs, maxMessages, retentionMs, now: () => clock });
            try {
              // The model: the bucket every stored seq was filed under, by the same max rule.
              const filed = new Map<number, number>();
              let latest = Number.NEGATIVE_INFINITY;
              for (const st of steps) {
                if (st.kind === 'clock') clock += st.ms;
                else if (st.kind === 'prune') await s.pruneDue();
                else {
                  const seqs = storedSeqs(await Promise.all(Array.from({ length: st.n }, () => s.post(record()))));
                  latest = Math.max(bucketOf(clock, bucketMs), latest);
                  for (const seq of seqs) filed.set(seq, latest);
                }
                expect(s.currentBucket()).toBe(Math.max(bucketOf(clock, bucketMs), latest));
                const retained = (await s.read(1, Number.MAX_SAFE_INTEGER, 10_000)).map((m) => m.seq);
                const buckets = new Set([...probes.map((p) => origin + p), s.currentBucket(), s.currentBucket() + 1]);
                for (const b of filed.values()) for (const d of [-1, 0, 1]) buckets.add(b + d);
                for (const b of buckets) {
                  const expected = Math.max(0, ...retained.filter((seq) => filed.get(seq)! < b));
                  expect(await s.seqBeforeBucket(b), `bucket ${b - origin} after origin`).toBe(expected);
                }
              }
            } finally {
              await s.close();
              await h.cleanup();
            }
          },
        ),
        { numRuns: contractOptions.propertyRuns ?? 20 },
      );
    });

    it('rejects operations after close', async () => {
      await store.close();
      await expect(store.post(record())).rejects.toBeInstanceOf(Error);
      store = await harness.open();
    });
  });
}

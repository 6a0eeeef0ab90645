import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP_CIPHERTEXT_SIZE, GROUP_SIGNATURE_SIZE } from '../protocol-profile.js';
import { STORAGE_DAY_MS, type PostRecord, type RelayStore, type RelayStoreOptions } from '../store.js';
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

export function runRelayStoreContractTests(setup: () => Promise<RelayStoreHarness>, title = 'RelayStore'): void {
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

    it('rejects operations after close', async () => {
      await store.close();
      await expect(store.post(record())).rejects.toBeInstanceOf(Error);
      store = await harness.open();
    });
  });
}

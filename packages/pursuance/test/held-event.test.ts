import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEncode, equalBytes, Identity } from '@pursuance/crypto';
import { decodeEvent, PursuanceAuthor, PursuanceLog, type EventId, type SignedEvent } from '../src/index.js';
import { headerValue, type EventHeader } from '../src/envelope.js';
import { buildMemberView } from '../src/view.js';
import {
  EncodingArena,
  EventKeeper,
  heldFields,
  heldHeaderDecodes,
  MAX_AUDIENCES,
  RECENT_HEADERS,
  sharedAudience,
  type EncodingShelf,
} from '../src/held-event.js';
import { clock, joinAs, syncInto, template } from './support/helpers.js';
import { run, step } from './support/world.js';

/** The header as its canonical bytes: compares every field, getters included (toEqual sees own fields only). */
const encoded = (h: EventHeader): Uint8Array => canonicalEncode(headerValue(h));

/** Everything a reader of `held` sees, against a fresh decode of the bytes it was made from. */
function expectSameEvent(held: SignedEvent, sent: Uint8Array): void {
  const fresh = decodeEvent(sent);
  expect(held.bytes).toEqual(sent);
  expect(held.id).toBe(fresh.id);
  expect(held.author).toBe(fresh.author);
  expect(held.parentIds).toEqual(fresh.parentIds);
  expect(held.pursuanceId).toBe(fresh.pursuanceId);
  const h = held.header;
  expect([h.v, h.kind, h.seq, h.time, [...h.audience]]).toEqual([
    fresh.header.v,
    fresh.header.kind,
    fresh.header.seq,
    fresh.header.time,
    [...fresh.header.audience],
  ]);
  expect(encoded(h)).toEqual(encoded(fresh.header));
}

/** Push every header a log holds out of the recent ring: hold RECENT_HEADERS other events. */
function evictAll(from: PursuanceLog): PursuanceLog[] {
  // Decoded once and given as events: each log holds them anew without checking signatures again.
  const decoded = [...from.events()].map((e) => decodeEvent(e.bytes));
  const logs: PursuanceLog[] = [];
  for (let held = 0; held <= RECENT_HEADERS; held += decoded.length) {
    const other = new PursuanceLog(from.genesis.bytes);
    for (const e of decoded) other.add(e);
    logs.push(other);
  }
  return logs;
}

function smallLog(tasks: number): { log: PursuanceLog; founder: PursuanceAuthor } {
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell', rules: template('activist-cell') }, clock());
  for (let i = 0; i < tasks; i++) founder.createTask({ audience: ['member'], title: `task ${i}`, body: 'x'.repeat(i) });
  return { log: founder.log, founder };
}

describe('events a log holds (held-event.ts)', () => {
  it('read back as their bytes decode, every kind, before and after their decoded headers are dropped (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 40 }), (steps) => {
        const world = run(steps);
        const sent = [...world.all.values()].map((e) => Uint8Array.from(e.bytes));
        const genesis = sent.find((b) => decodeEvent(b).pursuanceId === null)!;
        const log = new PursuanceLog(genesis);
        log.addAll(sent);
        const hash = log.stateHash();
        const check = (): void => {
          for (const bytes of sent) expectSameEvent(log.event(decodeEvent(bytes).id)!, bytes);
        };
        check();
        evictAll(log);
        check();
        // A refold reads every header again, decoded from the bytes: the same state.
        log.replay();
        expect(log.stateHash()).toBe(hash);
      }),
      { numRuns: 10 },
    );
  });

  it('answer kind, sequence, time and audience without decoding; decode the rest once when read, then keep it', () => {
    const { log } = smallLog(20);
    evictAll(log);
    const events = [...log.events()];
    const before = heldHeaderDecodes();
    let light = 0;
    for (const e of events) light += e.header.seq + e.header.time + e.header.audience.length + e.header.kind.length;
    expect(light).toBeGreaterThan(0);
    expect(heldHeaderDecodes()).toBe(before);
    // Events of one audience share one list of it.
    const [a, b] = events.filter((e) => e.header.kind === 'task.create');
    expect(a!.header.audience).toBe(b!.header.audience);
    // A header asked for before the rest was decoded decodes it once, whichever parts are read.
    const lightA = a!.header;
    const body = lightA.body;
    expect([lightA.author, lightA.parents, lightA.pursuance, lightA.body]).toEqual([
      decodeEvent(a!.bytes).header.author,
      decodeEvent(a!.bytes).header.parents,
      decodeEvent(a!.bytes).header.pursuance,
      body,
    ]);
    expect(heldHeaderDecodes()).toBe(before + 1);
    // Kept now: the same decoded header, no second decode, also once another event's is decoded.
    expect(a!.header.body).toBe(body);
    void b!.header.body;
    expect(heldHeaderDecodes()).toBe(before + 2);
    expect(a!.header.body).toBe(body);
    expect(heldHeaderDecodes()).toBe(before + 2);
  });

  it('give their parents and pursuance as decoded: none for the genesis, one, or several after a merge', () => {
    const now = clock();
    const { log, founder } = smallLog(1);
    const member = Identity.generate();
    founder.addMember(member.publicKey, { roles: ['member'] });
    const other = joinAs(member, log, now);
    // Concurrent: each on their own copy, then both copies hold both.
    const a = founder.createTask({ audience: ['member'], title: 'one' });
    const b = other.createTask({ audience: ['member'], title: 'two' });
    syncInto(founder, other.log);
    const merge = founder.createTask({ audience: ['member'], title: 'after both' });
    const held = new PursuanceLog(log.genesis.bytes);
    const sent = [...log.events()].map((e) => Uint8Array.from(e.bytes));
    held.addAll(sent);
    expect(held.event(merge.id)!.parentIds).toEqual([a.id, b.id].sort());
    for (const bytes of sent) expectSameEvent(held.event(decodeEvent(bytes).id)!, bytes);
    expect(held.genesis.pursuanceId).toBeNull();
    expect(held.event(log.genesis.id)!.pursuanceId).toBeNull();
    expect(held.event(merge.id)!.pursuanceId).toBe(log.genesis.id);
    // A list of one is a new array at every read: changing it changes nothing held.
    const one = held.event(a.id)!.parentIds as EventId[];
    one.push(b.id);
    expect(held.event(a.id)!.parentIds).toHaveLength(1);
  });

  it('are their own history entries where the entry records no change (a creation, a comment)', () => {
    const { log, founder } = smallLog(2);
    const task = [...log.events()].find((e) => e.header.kind === 'task.create')!;
    founder.comment(task.id, 'seen');
    founder.editTask(task.id, { title: 'renamed' });
    const held = (id: EventId): SignedEvent => log.event(id)!;
    expect(heldFields(held(task.id))).toBe(held(task.id));
    const history = buildMemberView(log, founder.identity).tasks.get(task.id)!.history;
    expect(history.map((h) => h.kind)).toEqual(['task.create', 'task.comment', 'task.edit']);
    expect(history[0]).toBe(held(task.id));
    expect(history[1]).toBe(held(history[1]!.id));
    // A change is an entry of its own: the event is never written to.
    expect(history[2]).not.toBe(held(history[2]!.id));
    expect(history[2]!.change).toEqual({ title: { from: 'task 0', to: 'renamed' } });
    expect((held(history[2]!.id) as { change?: unknown }).change).toBeUndefined();
  });

  it("belong to their keeper's pursuance: the keeper refuses an event of another, or a second genesis", () => {
    const { log } = smallLog(1);
    const other = smallLog(1).log;
    const keeper = new EventKeeper(new EncodingArena(), log.id);
    const theirs = [...other.events()].find((e) => e.pursuanceId !== null)!;
    expect(() => keeper.keep(decodeEvent(theirs.bytes), () => undefined)).toThrow(/is not of pursuance/);
    expect(() => keeper.keep(decodeEvent(other.genesis.bytes), () => undefined)).toThrow(/is not of pursuance/);
    const ours = keeper.keep(decodeEvent(log.genesis.bytes), () => undefined);
    expect(ours.pursuanceId).toBeNull();
    // An event another log already holds is checked as well before it is shared.
    expect(() => keeper.keep(theirs, () => undefined)).toThrow(/is not of pursuance/);
    expect(keeper.keep(ours, () => undefined)).toBe(ours);
  });

  it('stay the same objects when another log takes them in', () => {
    const { log } = smallLog(3);
    const replica = new PursuanceLog(log.genesis);
    for (const e of log.events()) replica.add(e);
    for (const e of log.events()) if (e.id !== log.genesis.id) expect(replica.event(e.id)).toBe(e);
  });

  it('hand out views of their own bytes: writing into the bytes an event came from, or into a view, changes no other event', () => {
    const { log } = smallLog(30);
    const sent = [...log.events()].map((e) => Uint8Array.from(e.bytes));
    const replica = new PursuanceLog(sent[0]!);
    const inputs = sent.slice(1).map((b) => Uint8Array.from(b));
    replica.addAll(inputs);
    for (const b of inputs) b.fill(0);
    const views = [...replica.events()].map((e) => e.bytes);
    views[3]!.fill(0xee);
    for (const [i, bytes] of sent.entries()) {
      if (i === 3) continue;
      expect(replica.event(decodeEvent(bytes).id)!.bytes).toEqual(bytes);
    }
  });
});

/** A shelf in memory that keeps copies, refuses the chunks `refuse` names, and counts reads. */
function memoryShelf(refuse: (index: number) => boolean = () => false): EncodingShelf & { reads: number; kept: Map<number, Uint8Array> } {
  const kept = new Map<number, Uint8Array>();
  return {
    reads: 0,
    kept,
    put(index, chunk) {
      if (refuse(index)) return false;
      kept.set(index, Uint8Array.from(chunk));
      return true;
    },
    get(index) {
      this.reads += 1;
      return kept.get(index)!;
    },
  };
}

describe('EncodingArena', () => {
  it('gives back each encoding as it was put, whatever the sizes, with a shelf or without, and no two overlap (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6_000 }), { maxLength: 60 }),
        fc.option(fc.func(fc.boolean()), { nil: undefined }),
        fc.array(fc.nat(), { maxLength: 80 }),
        (sizes, refuse, reads) => {
          const shelf = refuse && memoryShelf((i) => refuse(i));
          const arena = new EncodingArena(shelf);
          const put = sizes.map((n, i) => {
            const bytes = new Uint8Array(n).fill(i % 251);
            return { bytes, at: arena.put(bytes) };
          });
          const view = (k: number): Uint8Array => arena.view(put[k]!.at.chunk, put[k]!.at.offset, put[k]!.bytes.length);
          // In any order, again and again: read back from the shelf or from memory.
          for (const r of [...reads, ...put.keys()]) {
            if (put.length === 0) break;
            const k = r % put.length;
            expect(equalBytes(view(k), put[k]!.bytes)).toBe(true);
          }
          // Regions in one chunk are apart: write each fully in memory, then read each back.
          if (!shelf) {
            for (const k of put.keys()) view(k).fill(255 - (k % 251));
            for (const k of put.keys()) expect(view(k).every((x) => x === 255 - (k % 251))).toBe(true);
          } else {
            // What a shelf keeps: only the chunk being filled, the refused ones and the last few read back.
            const refused = [...new Set(put.map((p) => p.at.chunk))].filter((c) => !shelf.kept.has(c)).length;
            expect(arena.chunksInMemory()).toBeLessThanOrEqual(refused + 8);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives an encoding larger than any chunk a chunk of its own, and goes on after it', () => {
    const arena = new EncodingArena();
    const small = arena.put(new Uint8Array([1, 2, 3]));
    const big = new Uint8Array((1 << 20) + 7).fill(9);
    const large = arena.put(big);
    expect(large.offset).toBe(0);
    // Nothing more goes into a chunk past the largest size: every offset stays below it (a held event packs it with the chunk).
    const empty = arena.put(new Uint8Array(0));
    expect([empty.chunk, empty.offset]).toEqual([large.chunk + 1, 0]);
    // Nor into one filled to exactly that size.
    const exact = new EncodingArena();
    const full = exact.put(new Uint8Array(1 << 20));
    const next = exact.put(new Uint8Array(0));
    expect([next.chunk, next.offset]).toEqual([full.chunk + 1, 0]);
    expect(equalBytes(arena.view(large.chunk, 0, big.length), big)).toBe(true);
    const after = arena.put(new Uint8Array([4]));
    expect(after.chunk).toBe(large.chunk + 1);
    expect(equalBytes(arena.view(small.chunk, small.offset, 3), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(equalBytes(arena.view(after.chunk, after.offset, 1), new Uint8Array([4]))).toBe(true);
  });

  it('with a shelf, keeps in memory only the chunk it fills and the last ones read, and reads a chunk back once for a run of reads', () => {
    const shelf = memoryShelf();
    const arena = new EncodingArena(shelf);
    const put = Array.from({ length: 4000 }, (_, i) => {
      const bytes = new Uint8Array(1000).fill(i % 256);
      return { bytes, at: arena.put(bytes) };
    });
    const chunks = new Set(put.map((p) => p.at.chunk)).size;
    // 4 MB in chunks growing from 4 KB to 1 MB: a dozen, not one per encoding.
    expect(chunks).toBeLessThan(16);
    expect(shelf.kept.size).toBe(chunks - 1);
    expect(arena.chunksInMemory()).toBe(1);
    for (const p of put) expect(equalBytes(arena.view(p.at.chunk, p.at.offset, 1000), p.bytes)).toBe(true);
    // In the order written: each shelved chunk read back once.
    expect(shelf.reads).toBe(chunks - 1);
    expect(arena.chunksInMemory()).toBe(1 + 8);
  });

  it('keeps the chunks read back most recently, not those read back first', () => {
    const shelf = memoryShelf();
    const arena = new EncodingArena(shelf);
    // Chunks of 1 MB from the eighth on: one encoding of 1 MB each.
    const put = Array.from({ length: 20 }, (_, i) => ({ i, at: arena.put(new Uint8Array(1 << 20).fill(i)) }));
    const read = (k: number): number => arena.view(put[k]!.at.chunk, put[k]!.at.offset, 1)[0]!;
    for (let k = 0; k < 8; k++) expect(read(k)).toBe(k);
    expect(shelf.reads).toBe(8);
    // The first read again: now the most recent, so the ninth pushes out the second, not it.
    expect(read(0)).toBe(0);
    expect(read(8)).toBe(8);
    expect(shelf.reads).toBe(9);
    expect(read(0)).toBe(0);
    expect(shelf.reads).toBe(9);
    expect(read(1)).toBe(1);
    expect(shelf.reads).toBe(10);
  });

  it('keeps a chunk the shelf refuses in memory and serves it from there', () => {
    const shelf = memoryShelf(() => true);
    const arena = new EncodingArena(shelf);
    const put = Array.from({ length: 100 }, (_, i) => ({ bytes: new Uint8Array(500).fill(i), at: arena.put(new Uint8Array(500).fill(i)) }));
    for (const p of put) expect(equalBytes(arena.view(p.at.chunk, p.at.offset, 500), p.bytes)).toBe(true);
    expect(shelf.reads).toBe(0);
    expect(arena.chunksInMemory()).toBe(new Set(put.map((p) => p.at.chunk)).size);
  });
});

describe('sharedAudience', () => {
  it('gives one list per audience, tells apart audiences whose ids run together, and forgets them all past its bound', () => {
    const first = sharedAudience(['member']);
    expect(sharedAudience(['member'])).toBe(first);
    sharedAudience(['a-new-one']);
    expect(sharedAudience(['member'])).toBe(first);
    expect(sharedAudience(['ab', 'c'])).not.toBe(sharedAudience(['a', 'bc']));
    expect(sharedAudience(['ab', 'c'])).toEqual(['ab', 'c']);
    expect(sharedAudience(['constructor'])).toEqual(['constructor']);
    expect(sharedAudience([])).toEqual([]);
    for (let i = 0; i < MAX_AUDIENCES; i++) sharedAudience([`r${i}`]);
    expect(sharedAudience(['member'])).not.toBe(first);
    expect(sharedAudience(['member'])).toEqual(['member']);
  });
});

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '@pursuance/crypto';
import { MAX_BUCKET_INDEX, MemoryRelayStore, bucketOf, type EncryptedGroupMessage } from '../src/index.js';
import type { BoardSession } from '../src/board-session.js';
import { GatedStore } from '../src/testing/index.js';
import { randomMessage } from './support/fixtures.js';
import { nextEvents, relayWorld, type RelayWorld } from './support/relay-world.js';

/**
 * Bucketed fetch against an in-process relay on loopback sockets, with the store's clock in the
 * test's hands: a minute per bucket, starting at a bucket boundary near now (the token epochs
 * of the test keys are real weeks around today).
 */
const MINUTE = 60_000;
const hex = (m: EncryptedGroupMessage): string => toHex(m.signature);

let world: RelayWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

function clock(): { now: () => number; start: number; bucket: () => number; to(bucket: number): void } {
  const start = bucketOf(Date.now(), MINUTE);
  let at = start * MINUTE;
  return {
    now: () => at,
    start,
    bucket: () => bucketOf(at, MINUTE),
    to(bucket: number) {
      at = bucket * MINUTE + 1_000;
    },
  };
}

async function fetchAll(session: BoardSession, fromBucket: number): Promise<{ messages: string[]; bucket: number }> {
  const messages: string[] = [];
  const { bucket } = await session.fetchEach({ fromBucket, onMessage: (m) => messages.push(hex(m)) });
  return { messages, bucket };
}

describe('bucketed fetch', () => {
  it('the bundle states the store bucket; a fetch from bucket b brings every message filed under b or later, then live pushes', async () => {
    const c = clock();
    const store = new MemoryRelayStore({ bucketMs: MINUTE, now: c.now });
    world = await relayWorld({ store, now: c.now });
    expect(world.bundle.bucketSeconds).toBe(60);
    const poster = await world.client().openSession();
    const B = c.start;
    const posts: EncryptedGroupMessage[] = [];
    const postAt = async (bucket: number): Promise<void> => {
      c.to(bucket);
      const m = randomMessage();
      posts.push(m);
      await poster.post(m);
    };
    await postAt(B);
    await postAt(B + 1);
    await postAt(B + 1);
    await postAt(B + 3);
    c.to(B + 5);

    const reader = await world.client().openSession();
    const ids = posts.map(hex);
    expect(await fetchAll(reader, B)).toEqual({ messages: ids, bucket: B + 5 });
    expect(await fetchAll(reader, B + 1)).toEqual({ messages: ids.slice(1), bucket: B + 5 });
    expect(await fetchAll(reader, B + 2)).toEqual({ messages: ids.slice(3), bucket: B + 5 });
    expect(await fetchAll(reader, B + 4)).toEqual({ messages: [], bucket: B + 5 });
    // A fetch from far in the future (the largest index a request may name) brings nothing and
    // names the real frontier, not the one asked for.
    expect(await fetchAll(reader, MAX_BUCKET_INDEX)).toEqual({ messages: [], bucket: B + 5 });
    // From bucket 0 (a member joining): everything retained.
    expect((await fetchAll(reader, 0)).messages).toEqual(ids);

    const pushed = nextEvents<EncryptedGroupMessage>(reader, 'message', 1);
    const fresh = randomMessage();
    await poster.post(fresh);
    expect((await pushed).map(hex)).toEqual([hex(fresh)]);
  });

  it('pongs tell a bucketed session its frontier as the clock moves; a Cwtch-era replay session gets empty pongs', async () => {
    const c = clock();
    world = await relayWorld({ store: new MemoryRelayStore({ bucketMs: MINUTE, now: c.now }), now: c.now });
    const bucketed = await world.client().openSession();
    const replaying = await world.client().openSession();
    const heard: number[] = [];
    const unheard: number[] = [];
    bucketed.on('bucket', (b) => heard.push(b));
    replaying.on('bucket', (b) => unheard.push(b));
    await bucketed.fetchEach({ fromBucket: 0, onMessage: () => undefined });
    await replaying.replay();
    await bucketed.ping();
    await replaying.ping();
    c.to(c.start + 2);
    await bucketed.ping();
    await replaying.ping();
    expect(heard).toEqual([c.start, c.start + 2]);
    expect(unheard).toEqual([]);
  });

  it('the frontier does not pass a post still being stored, so a fetch from it cannot miss that post', async () => {
    const c = clock();
    const store = new GatedStore({ bucketMs: MINUTE, now: c.now });
    world = await relayWorld({ store, now: c.now });
    const reader = await world.client().openSession();
    const heard: number[] = [];
    reader.on('bucket', (b) => heard.push(b));
    await reader.fetchEach({ fromBucket: 0, onMessage: () => undefined });
    const poster = await world.client().openSession();
    const held = randomMessage();
    const posting = poster.post(held);
    while (store.pending === 0) await new Promise((resolve) => setImmediate(resolve));
    c.to(c.start + 3);
    await reader.ping();
    // The held post may still be filed under any bucket from the one it started in.
    expect(heard.at(-1)).toBe(c.start);
    const other = await world.client().openSession();
    expect(await fetchAll(other, 0)).toEqual({ messages: [], bucket: c.start });
    const pushed = nextEvents<EncryptedGroupMessage>(reader, 'message', 1);
    store.releaseOldest();
    await posting;
    await pushed;
    await reader.ping();
    expect(heard.at(-1)).toBe(c.start + 3);
  });

  it('a member who keeps the frontiers it heard and reconnects at any moment misses nothing (property, real sockets)', async () => {
    // The member's memory is what it received, in order: a drop loses an arbitrary tail of it
    // (pushes on the wire, a crash before writing), never anything out of order.
    type Step = { kind: 'post'; n: number } | { kind: 'tick'; buckets: number } | { kind: 'ping' } | { kind: 'drop'; keep: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('post' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('tick' as const), buckets: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('ping' as const) }),
      fc.record({ kind: fc.constant('drop' as const), keep: fc.double({ min: 0, max: 1, noNaN: true }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async (steps) => {
        const c = clock();
        const w = await relayWorld({ store: new MemoryRelayStore({ bucketMs: MINUTE, now: c.now }), now: c.now });
        try {
          const poster = await w.client().openSession();
          const posted: string[] = [];
          let memory: ({ message: string } | { bucket: number })[] = [];
          let kept = 0;
          const cursor = (): number => Math.max(0, ...memory.map((e) => ('bucket' in e ? e.bucket : 0)));
          const connect = async (): Promise<BoardSession> => {
            const session = await w.client().openSession();
            const live = (): boolean => !session.isClosed;
            session.on('message', (m) => live() && memory.push({ message: hex(m) }));
            session.on('bucket', (b) => live() && memory.push({ bucket: b }));
            const { bucket } = await session.fetchEach({ fromBucket: cursor(), onMessage: (m) => memory.push({ message: hex(m) }) });
            memory.push({ bucket });
            return session;
          };
          let reader = await connect();
          let bucket = c.start;
          for (const s of steps) {
            if (s.kind === 'post') {
              for (let i = 0; i < s.n; i++) {
                const m = randomMessage();
                posted.push(hex(m));
                await poster.post(m);
              }
            } else if (s.kind === 'tick') {
              bucket += s.buckets;
              c.to(bucket);
            } else if (s.kind === 'ping') {
              await reader.ping();
            } else {
              reader.close();
              await reader.closed;
              kept += Math.floor((memory.length - kept) * s.keep);
              memory = memory.slice(0, kept);
              reader = await connect();
            }
          }
          reader.close();
          await reader.closed;
          await connect();
          const received = new Set(memory.flatMap((e) => ('message' in e ? [e.message] : [])));
          expect(posted.filter((id) => !received.has(id))).toEqual([]);
        } finally {
          await w.cleanup();
        }
      }),
      { numRuns: 20 },
    );
  });
});

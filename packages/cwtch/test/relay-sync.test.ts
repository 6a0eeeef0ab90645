import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Identity, equalBytes, toHex } from '@pursuance/crypto';
import {
  MemoryRelayStore,
  RelayClient,
  RelayServer,
  exportKeyBundle,
  importKeyBundle,
  parseBoardRequest,
  relayCause,
  signKeyBundle,
  type EncryptedGroupMessage,
  type KeyBundle,
  type PostOutcome,
  type PostRecord,
  type RelayStore,
} from '@pursuance/relay';
import { GatedStore, randomMessage, testTokenKeys } from '@pursuance/relay/testing';
import { Connection, LoopbackACN, TAPIR_PORT, type ACN } from '@pursuance/tapir';
import { RelaySync, type RelaySyncOptions } from '../src/relay-sync.js';
import { AdversarialRelay } from './support/adversarial-relay.js';
import { waitForEvent } from './support/helpers.js';

const WINDOW = 16;
const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

/** A memory store that fails every post of one message (the relay answers STORE_FAILED). */
class FailingFor extends MemoryRelayStore {
  public attempts = 0;
  public constructor(private readonly signature: Uint8Array) {
    super();
  }

  public override post(record: PostRecord): Promise<PostOutcome> {
    if (!equalBytes(record.signature, this.signature)) return super.post(record);
    this.attempts += 1;
    return Promise.reject(new Error('disk full'));
  }
}

let dir: string;
let acn: LoopbackACN;
let cleanups: (() => Promise<unknown>)[];
let unhandled: unknown[];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-sync-'));
  acn = new LoopbackACN({ registryDir: dir });
  cleanups = [];
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await acn.close();
  await rm(dir, { recursive: true, force: true });
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

function sync(bundle: KeyBundle, options: Partial<RelaySyncOptions> = {}): RelaySync {
  let cursor: { since?: Uint8Array; bucket?: number } = {};
  const created = new RelaySync({
    acn,
    bundle,
    cursor: () => cursor,
    onMessage: (m) => (cursor = { ...cursor, since: m.signature }),
    onBucket: (bucket) => (cursor = { ...cursor, bucket }),
    retry: { baseMs: 40, maxMs: 300, jitter: 0 },
    ...options,
  });
  cleanups.push(() => created.stop());
  return created;
}

async function relay(store: RelayStore, tokenIdentity = Identity.generate()): Promise<{ server: RelayServer; bundle: KeyBundle; boardIdentity: Identity }> {
  const boardIdentity = Identity.generate();
  const server = await RelayServer.start({ acn, boardIdentity, tokenIdentity, tokenKeys: testTokenKeys(), store, powDifficulty: 2 });
  cleanups.push(() => server.close());
  return { server, bundle: importKeyBundle(server.exportedBundle), boardIdentity };
}

/** An onion whose streams are accepted on 127.0.0.1 and never answered. */
async function mute(identity: Identity): Promise<{ accepted: () => number; open: Set<Socket> }> {
  const open = new Set<Socket>();
  let accepted = 0;
  const listener = await acn.listen(identity, TAPIR_PORT, (socket) => {
    accepted += 1;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => open.delete(socket));
    socket.resume();
  });
  cleanups.push(async () => {
    for (const s of open) s.destroy();
    await listener.close();
  });
  return { accepted: () => accepted, open };
}

function bundleNaming(board: Identity, token: Identity = Identity.generate()): KeyBundle {
  return importKeyBundle(exportKeyBundle(signKeyBundle(board, token.onion, testTokenKeys())));
}

describe('RelaySync.stop() aborts whatever is under way', () => {
  it('while the ACN never completes opening the session', async () => {
    let opens = 0;
    const hanging: ACN = {
      kind: 'tor',
      listen: () => new Promise(() => undefined),
      open: () => {
        opens += 1;
        return new Promise(() => undefined);
      },
      bootstrapStatus: () => Promise.resolve({ progress: 0, summary: 'never connects' }),
      close: () => Promise.resolve(),
    };
    const s = sync(bundleNaming(Identity.generate()), { acn: hanging });
    s.start();
    s.post(randomMessage());
    await vi.waitUntil(() => opens === 1, { timeout: 20_000 });
    await s.stop();
    expect(s.sessions).toBe(0);
  });

  it('while a 127.0.0.1 server accepted the stream and never answers the handshake', async () => {
    const board = Identity.generate();
    const server = await mute(board);
    // The handshake would otherwise wait ten minutes: only the abort can end it.
    const s = sync(bundleNaming(board), { client: { handshakeTimeoutMs: 600_000, connectTimeoutMs: 600_000 } });
    s.start();
    await vi.waitUntil(() => server.accepted() === 1, { timeout: 20_000 });
    await s.stop();
    await vi.waitUntil(() => server.open.size === 0, { timeout: 20_000 });
    expect(s.sessions).toBe(0);
  });

  it('while queued posts wait on a token service that never answers', async () => {
    const tokenIdentity = Identity.generate();
    const { boardIdentity } = await relay(new MemoryRelayStore(), Identity.generate());
    const tokens = await mute(tokenIdentity);
    const s = sync(bundleNaming(boardIdentity, tokenIdentity), { client: { handshakeTimeoutMs: 600_000 } });
    const posted: string[] = [];
    s.on('posted', (id) => posted.push(id));
    s.start();
    await waitForEvent(s, 'synced');
    for (let i = 0; i < 3; i++) s.post(randomMessage());
    await vi.waitUntil(() => tokens.accepted() >= 1, { timeout: 20_000 });
    await s.stop();
    await vi.waitUntil(() => tokens.open.size === 0, { timeout: 20_000 });
    expect(posted).toEqual([]);
    expect(s.queuedPosts).toBe(3);
  });
});

describe('RelaySync posting', () => {
  it(`a burst keeps a window of ${WINDOW} posts in flight; the relay stores them in queue order, each acknowledged once`, async () => {
    const store = new GatedStore();
    const { server, bundle } = await relay(store);
    const s = sync(bundle, { client: { batchSize: 20 } });
    const posted: string[] = [];
    s.on('posted', (id) => posted.push(id));
    s.start();
    await waitForEvent(s, 'synced');
    const burst = Array.from({ length: 40 }, () => randomMessage());
    for (const m of burst) s.post(m);
    await vi.waitUntil(() => store.pending === WINDOW, { timeout: 20_000, interval: 5 });
    for (let released = 1; released <= burst.length; released++) {
      store.releaseOldest();
      const expected = Math.min(WINDOW, burst.length - released);
      await vi.waitUntil(() => store.released === released && store.pending === expected, { timeout: 20_000, interval: 5 });
    }
    await vi.waitUntil(() => posted.length === burst.length, { timeout: 20_000 });
    expect(store.maxPending).toBe(WINDOW);
    expect(posted).toEqual(burst.map(hex));
    expect(s.queuedPosts).toBe(0);
    const stored = await server.board.store.read(1, Number.MAX_SAFE_INTEGER, 1000);
    expect(stored.map(hex)).toEqual(burst.map(hex));
  });

  it('a post the relay refuses every time fails alone, after its attempts; the posts around it go through in order', async () => {
    const burst = Array.from({ length: 12 }, () => randomMessage());
    const refused = burst[5]!;
    const store = new FailingFor(refused.signature);
    const { server, bundle } = await relay(store);
    const s = sync(bundle, { client: { batchSize: 20 } });
    const posted: string[] = [];
    const failed: [string, string][] = [];
    s.on('posted', (id) => posted.push(id));
    s.on('postFailed', (id, err) => failed.push([id, (err as Error & { reason?: string }).reason ?? '']));
    s.start();
    await waitForEvent(s, 'synced');
    for (const m of burst) s.post(m);
    await vi.waitUntil(() => posted.length + failed.length === burst.length, { timeout: 20_000 });
    expect(failed).toEqual([[hex(refused), 'STORE_FAILED']]);
    expect(store.attempts).toBe(3);
    const others = burst.filter((m) => m !== refused).map(hex);
    expect(posted).toEqual(others);
    const stored = await server.board.store.read(1, Number.MAX_SAFE_INTEGER, 100);
    expect(stored.map(hex)).toEqual(others);
    expect(s.queuedPosts).toBe(0);
  });
});

describe('RelaySync keepalive', () => {
  it('detects a relay that stops answering while keeping the connection, and syncs again once it answers', async () => {
    const adversary = await AdversarialRelay.start(acn);
    cleanups.push(() => adversary.close());
    const s = sync(importKeyBundle(adversary.bundle), { client: { keepalive: { intervalMs: 100, timeoutMs: 500 } } });
    const downs: (string | undefined)[] = [];
    s.on('down', (error) => downs.push(relayCause(error)?.code));
    s.start();
    await waitForEvent(s, 'synced');
    adversary.silent = true;
    await vi.waitUntil(() => downs.length === 1, { timeout: 20_000 });
    // Found by the keepalive: the relay had closed nothing.
    expect(downs).toEqual(['SESSION_UNRESPONSIVE']);
    expect(s.isSynced).toBe(false);
    adversary.silent = false;
    await vi.waitUntil(() => s.isSynced, { timeout: 20_000 });
    expect(s.sessions).toBeGreaterThanOrEqual(2);
  });
});

describe('what a relay can link across a member’s sessions', () => {
  it('bucketed: members back from the same bucket send byte-identical fetches naming no message; "since" names the last message each saw', async () => {
    let now = Math.floor(Date.now() / 60_000) * 60_000;
    const B = now / 60_000;
    const { bundle, boardIdentity } = await relay(new MemoryRelayStore({ bucketMs: 60_000, now: () => now }));
    const keys = testTokenKeys();
    // The same relay as named by a bundle from before bucketed fetch (the compatibility path).
    const legacy = importKeyBundle(exportKeyBundle(signKeyBundle(boardIdentity, bundle.tokenOnion, { root: keys.root, schedule: keys.schedule })));
    const poster = new RelaySync({ acn, bundle, cursor: () => undefined, onMessage: () => undefined, retry: { baseMs: 40, maxMs: 300, jitter: 0 } });
    cleanups.push(() => poster.stop());
    poster.start();
    await waitForEvent(poster, 'synced');
    const post = async (): Promise<EncryptedGroupMessage> => {
      const m = randomMessage();
      const posted = waitForEvent<string>(poster, 'posted', (id) => id === hex(m));
      poster.post(m);
      await posted;
      return m;
    };

    // Two members (of different groups: the relay cannot tell) follow the relay, each keeping its cursor.
    type Member = { cursor: { since?: Uint8Array; bucket?: number }; seen: Set<string>; sync?: RelaySync };
    const follow = (member: Member, over: KeyBundle): RelaySync => {
      const s = new RelaySync({
        acn,
        bundle: over,
        cursor: () => member.cursor,
        onMessage: (m) => {
          member.seen.add(hex(m));
          member.cursor = { ...member.cursor, since: m.signature };
        },
        onBucket: (b) => (member.cursor = { ...member.cursor, bucket: Math.max(member.cursor.bucket ?? 0, b) }),
        retry: { baseMs: 40, maxMs: 300, jitter: 0 },
      });
      cleanups.push(() => s.stop());
      member.sync = s;
      s.start();
      return s;
    };
    const x: Member = { cursor: {}, seen: new Set() };
    const y: Member = { cursor: {}, seen: new Set() };
    await Promise.all([waitForEvent(follow(x, bundle), 'synced'), waitForEvent(follow(y, bundle), 'synced')]);
    const m1 = await post();
    const m2 = await post();
    await vi.waitUntil(() => x.seen.has(hex(m2)) && y.seen.has(hex(m2)), { timeout: 20_000 });
    await x.sync!.stop();
    await post();
    const m4 = await post();
    await vi.waitUntil(() => y.seen.has(hex(m4)), { timeout: 20_000 });
    await y.sync!.stop();
    // They left at different messages of the same bucket.
    expect([x.cursor.since, y.cursor.since].map((s) => toHex(s!))).toEqual([hex(m2), hex(m4)]);
    now += 3 * 60_000;
    await post();

    // Record every request the relay's board is handed, as it decrypts them.
    const requests: string[] = [];
    const originalSend = Connection.prototype.send;
    Connection.prototype.send = function (this: Connection, payload: Uint8Array) {
      try {
        const request = parseBoardRequest(payload);
        if (request.kind === 'fetch' || request.kind === 'replay') requests.push(new TextDecoder().decode(payload));
      } catch {
        // not a board request (an answer, a token purchase)
      }
      return originalSend.call(this, payload);
    };
    try {
      const back = { x: { ...x, seen: new Set(x.seen) }, y: { ...y, seen: new Set(y.seen) } };
      await Promise.all([waitForEvent(follow(back.x, bundle), 'synced'), waitForEvent(follow(back.y, bundle), 'synced')]);
      expect(requests).toEqual([`{"MessageType":9,"BucketRequest":{"From":${B}}}`, `{"MessageType":9,"BucketRequest":{"From":${B}}}`]);
      for (const s of [m1, m2, m4].map((m) => Buffer.from(m.signature).toString('base64'))) expect(requests.join()).not.toContain(s);
      await back.x.sync!.stop();
      await back.y.sync!.stop();

      // The same two members on the "since" path: each request names the last message that member processed.
      requests.length = 0;
      await Promise.all([waitForEvent(follow(x, legacy), 'synced'), waitForEvent(follow(y, legacy), 'synced')]);
      expect(new Set(requests).size).toBe(2);
      expect(requests.find((r) => r.includes(Buffer.from(m2.signature).toString('base64')))).toBeDefined();
      expect(requests.find((r) => r.includes(Buffer.from(m4.signature).toString('base64')))).toBeDefined();
    } finally {
      Connection.prototype.send = originalSend;
    }
  });
});

describe('frontiers a relay names', () => {
  it('keeps those within a bucket and the clock skew of our clock, and ignores a frontier beyond it (it would skip what the relay stores until then)', async () => {
    const adversary = await AdversarialRelay.start(acn);
    cleanups.push(() => adversary.close());
    const bundle = importKeyBundle(adversary.bundle);
    const hour = Math.floor(Date.now() / 3_600_000);
    const heard: number[] = [];
    const fetched: string[] = [];
    const follow = (): RelaySync => {
      const s = new RelaySync({
        acn,
        bundle,
        cursor: () => undefined,
        onMessage: (m, phase) => fetched.push(`${phase}:${hex(m)}`),
        onBucket: (b) => heard.push(b),
        retry: { baseMs: 40, maxMs: 300, jitter: 0 },
      });
      cleanups.push(() => s.stop());
      s.start();
      return s;
    };
    const client = new RelayClient({ acn, bundle });
    cleanups.push(() => client.close());
    await (await client.openSession()).post(randomMessage());
    const honest = follow();
    await waitForEvent(honest, 'synced');
    // The fetched message went to onMessage as part of the fetch, then the frontier.
    expect(fetched).toEqual([`replay:${hex(adversary.stored[0]!)}`]);
    // (This hour, or the next if the test crossed into it.)
    expect(heard).toHaveLength(1);
    expect([hour, hour + 1]).toContain(heard[0]);
    await honest.stop();
    // An hour ahead (a clock a little fast) is kept; two hours and more is not.
    adversary.frontierAhead = 1;
    const fast = follow();
    await waitForEvent(fast, 'synced');
    await fast.stop();
    adversary.frontierAhead = 1_000;
    const lying = follow();
    await waitForEvent(lying, 'synced');
    await lying.stop();
    expect(heard).toHaveLength(2);
    expect([heard[0]! + 1, heard[0]! + 2]).toContain(heard[1]);
  });
});

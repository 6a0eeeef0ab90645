import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Identity, toHex } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, LoopbackACN, TapirService, type ACN } from '@pursuance/tapir';
import {
  MemoryKeyBundlePins,
  RelayClient,
  exportKeyBundle,
  generateVoprfKeyPair,
  signKeyBundle,
  spendToken,
  trustKeyBundle,
  type RelayClientOptions,
} from '../src/index.js';
import { encodePing, encodePostRequest, parseBoardResponse } from '../src/board-protocol.js';
import { OperationAbortedError, SessionUnresponsiveError } from '../src/errors.js';
import type { EncryptedGroupMessage } from '../src/group-message.js';
import { POST_WINDOW } from '../src/protocol-profile.js';
import { GatedStore } from '../src/testing/gated-store.js';
import { testTokenKeys } from '../src/testing/index.js';
import { issueTokens, randomMessage } from './support/fixtures.js';
import { muteListener, silentBoard } from './support/silent-board.js';
import { nextEvents, relayWorld, type RelayWorld } from './support/relay-world.js';

const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

describe('pipelined posts over 127.0.0.1', () => {
  let world: RelayWorld;
  let store: GatedStore;
  beforeEach(async () => {
    store = new GatedStore();
    world = await relayWorld({ store });
  });
  afterEach(async () => {
    await world.cleanup();
  });

  it(`a burst keeps exactly the window (${POST_WINDOW}) of posts in flight, and the board stores them in send order`, async () => {
    const burst = POST_WINDOW * 2 + 8;
    const client = world.client({ batchSize: 100 });
    const session = await client.openSession();
    const messages = Array.from({ length: burst }, () => randomMessage());
    const acks = messages.map((m) => session.post(m));
    // Every post reaches the store and is held there: the window fills, the rest wait.
    await vi.waitUntil(() => store.pending === POST_WINDOW, { timeout: 20_000, interval: 5 });
    expect(session.postsInFlight).toBe(POST_WINDOW);
    for (let released = 1; released <= burst; released++) {
      store.releaseOldest();
      // One acknowledgement frees one slot: the next post goes out and is held in its turn.
      const expected = Math.min(POST_WINDOW, burst - released);
      await vi.waitUntil(() => store.released === released && store.pending === expected, { timeout: 20_000, interval: 5 });
    }
    await Promise.all(acks);
    expect(store.maxPending).toBe(POST_WINDOW);
    expect((await session.replay()).map(hex)).toEqual(messages.map(hex));
  });

  it('with a window of 1, one post at a time (the old behaviour)', async () => {
    const client = world.client({ batchSize: 20, window: 1 });
    const session = await client.openSession();
    const messages = Array.from({ length: 5 }, () => randomMessage());
    const acks = messages.map((m) => session.post(m));
    for (let i = 0; i < messages.length; i++) {
      await vi.waitUntil(() => store.released === i && store.pending === 1, { timeout: 20_000, interval: 5 });
      store.releaseOldest();
    }
    await Promise.all(acks);
    expect(store.maxPending).toBe(1);
    expect((await session.replay()).map(hex)).toEqual(messages.map(hex));
  });

  it('the board answers strictly in request order, even when a later request is settled first', async () => {
    const key = world.bundle;
    const service = new TapirService(world.acn, Identity.generate());
    try {
      const conn = await service.connect(key.boardOnion, new ApplicationChain([new AuthApp()]));
      const client = world.client();
      const slow = randomMessage();
      const forged = randomMessage();
      const [token] = issueTokens(generateVoprfKeyPair(), 1);
      const rejected = nextEvents(world.relay.board, 'postRejected', 1);
      // A valid post (held by the store), a forged one (refused at once), then a ping.
      await conn.send(encodePostRequest(slow, spendToken(await client.takeToken(), slow, key.boardOnion)));
      await conn.send(encodePostRequest(forged, spendToken(token!, forged, key.boardOnion)));
      await conn.send(encodePing());
      await rejected;
      await vi.waitUntil(() => store.pending === 1, { timeout: 20_000, interval: 5 });
      store.releaseOldest();
      const answers = [await conn.expect(), await conn.expect(), await conn.expect()].map(parseBoardResponse);
      expect(answers).toEqual([{ kind: 'postResult', ok: true }, { kind: 'postResult', ok: false, code: 'TOKEN_INVALID' }, { kind: 'pong' }]);
      conn.close();
    } finally {
      await service.close();
    }
  });

  it('drops a session that sends pings faster than it reads the pongs (bounded queue)', async () => {
    const service = new TapirService(world.acn, Identity.generate());
    try {
      const conn = await service.connect(world.bundle.boardOnion, new ApplicationChain([new AuthApp()]));
      const closed = nextEvents<string | undefined>(world.relay.board, 'sessionClosed', 1);
      // Never read: once the socket buffers are full the pongs queue up on the board.
      for (let i = 0; i < 4000 && !conn.isClosed; i++) await conn.send(encodePing()).catch(() => undefined);
      expect(await closed).toEqual(['SLOW_CONSUMER']);
    } finally {
      await service.close();
    }
  });
});

describe('keepalive over 127.0.0.1', () => {
  let dir: string;
  let acn: LoopbackACN;
  let closers: (() => Promise<unknown>)[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-keepalive-'));
    acn = new LoopbackACN({ registryDir: dir });
    closers = [];
  });
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    await acn.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A client of a relay whose board is `board` (its token service is nowhere: no tokens needed). */
  async function clientFor(board: Identity, options: Partial<RelayClientOptions> = {}) {
    const signed = signKeyBundle(board, Identity.generate().onion, testTokenKeys());
    const bundle = await trustKeyBundle(exportKeyBundle(signed), new MemoryKeyBundlePins());
    const client = new RelayClient({ acn, bundle, ...options });
    closers.push(() => client.close());
    return client;
  }

  it('detects a relay that stops answering but keeps the connection open, within the keepalive timeout', async () => {
    const identity = Identity.generate();
    const board = await silentBoard(acn, { identity });
    closers.push(() => board.close());
    const keepalive = { intervalMs: 100, timeoutMs: 600 };
    const client = await clientFor(identity, { keepalive });
    const session = await client.openSession();
    const error = await session.closed;
    expect(error).toBeInstanceOf(SessionUnresponsiveError);
    expect(error).toMatchObject({ code: 'SESSION_UNRESPONSIVE', timeoutMs: keepalive.timeoutMs });
    // The silence was noticed by pinging: the board received the ping and never answered it.
    expect(board.requests).toEqual([{ kind: 'ping' }]);
  });

  it('an idle session on an honest relay is kept alive by pings', async () => {
    const world = await relayWorld();
    closers.push(() => world.cleanup());
    const session = await world.client({ keepalive: { intervalMs: 50, timeoutMs: 5_000 } }).openSession();
    await nextEvents(session, 'pong', 5);
    expect(session.isClosed).toBe(false);
    expect(world.relay.board.sessionCount).toBe(1);
  });

  it('aborts an open the ACN never completes, and close() returns', async () => {
    const hanging: ACN = {
      kind: 'loopback',
      listen: () => new Promise(() => undefined),
      open: () => new Promise(() => undefined),
      bootstrapStatus: () => Promise.resolve({ progress: 100, summary: 'never opens' }),
      close: () => Promise.resolve(),
    };
    const client = await clientFor(Identity.generate(), { acn: hanging });
    const abort = new AbortController();
    const opening = client.openSession({ signal: abort.signal });
    abort.abort();
    await expect(opening).rejects.toBeInstanceOf(OperationAbortedError);
    const again = client.openSession();
    const buying = client.buyTokens();
    await client.close();
    await expect(again).rejects.toBeInstanceOf(OperationAbortedError);
    await expect(buying).rejects.toBeInstanceOf(OperationAbortedError);
  });

  it('aborts a handshake a 127.0.0.1 server accepted and never answers, and drops its socket', async () => {
    const identity = Identity.generate();
    const mute = await muteListener(acn, identity);
    closers.push(() => mute.close());
    // A handshake timeout far beyond the test's: only the abort can end this open.
    const client = await clientFor(identity, { handshakeTimeoutMs: 600_000 });
    const abort = new AbortController();
    const opening = client.openSession({ signal: abort.signal });
    await vi.waitUntil(() => mute.accepted() === 1, { timeout: 20_000, interval: 5 });
    abort.abort();
    await expect(opening).rejects.toBeInstanceOf(OperationAbortedError);
    await vi.waitUntil(() => mute.open.size === 0, { timeout: 20_000, interval: 5 });
    // The same through close(): a second stuck handshake ends with the client.
    const second = client.openSession();
    await vi.waitUntil(() => mute.accepted() === 2, { timeout: 20_000, interval: 5 });
    await client.close();
    await expect(second).rejects.toBeInstanceOf(OperationAbortedError);
    await vi.waitUntil(() => mute.open.size === 0, { timeout: 20_000, interval: 5 });
  });
});

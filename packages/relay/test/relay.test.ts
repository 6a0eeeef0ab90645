import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Identity, toHex } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, ProofOfWorkApp, TAPIR_PORT, TapirService, encodeFrame, type Connection } from '@pursuance/tapir';
import { MemoryRelayStore, encodeTokenRequest, generateVoprfKeyPair, spendToken, type EncryptedGroupMessage } from '../src/index.js';
import { testTokenKeys } from '../src/testing/index.js';
import { BOARD_SYNCED_CAPABILITY } from '../src/protocol-profile.js';
import { SessionClosedError, TokenKeyUnprovenError } from '../src/errors.js';
import { TokenPurchaseApp } from '../src/token-purchase.js';
import type { Token } from '../src/tokens.js';
import { issueTokens, randomMessage, randomOnion } from './support/fixtures.js';
import { nextEvents, relayWorld, type RelayWorld } from './support/relay-world.js';

let world: RelayWorld;
beforeEach(async () => {
  world = await relayWorld();
});
afterEach(async () => {
  await world.cleanup();
});

const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

describe('relay board and token service, in process', () => {
  it('posts, replays all, replays since a signature (inclusive), and pushes live to synced sessions', async () => {
    const alice = await world.client().openSession();
    const bob = await world.client().openSession();
    const sent = [randomMessage(), randomMessage(), randomMessage()];
    for (const m of sent) await alice.post(m);

    expect((await bob.replay()).map(hex)).toEqual(sent.map(hex));
    expect((await bob.replay({ since: sent[1]!.signature })).map(hex)).toEqual(sent.slice(1).map(hex));
    // An unknown signature replays everything (Cwtch semantics).
    expect((await bob.replay({ since: new Uint8Array(64).fill(9) })).map(hex)).toEqual(sent.map(hex));

    const pushed = nextEvents<EncryptedGroupMessage>(bob, 'message', 2);
    const fresh = [randomMessage(), randomMessage()];
    for (const m of fresh) await alice.post(m);
    expect((await pushed).map(hex)).toEqual(fresh.map(hex));
    expect((await bob.replay()).length).toBe(5);
  });

  it('subscribes: replayed messages then live pushes into one handler, until unsubscribed', async () => {
    const alice = await world.client().openSession();
    const bob = await world.client().openSession();
    const before = randomMessage();
    await alice.post(before);
    const seen: string[] = [];
    let live!: () => void;
    const gotLive = new Promise<void>((resolve) => (live = resolve));
    const { replayed, unsubscribe } = await bob.subscribe((m) => {
      seen.push(hex(m));
      if (seen.length === 2) live();
    });
    expect(replayed).toBe(1);
    const after = randomMessage();
    await alice.post(after);
    await gotLive;
    expect(seen).toEqual([hex(before), hex(after)]);
    unsubscribe();
    const pushed = nextEvents(bob, 'message', 1);
    await alice.post(randomMessage());
    await pushed;
    expect(seen.length).toBe(2);
  });

  it('does not push to sessions that have not replayed yet', async () => {
    const alice = await world.client().openSession();
    const quiet = await world.client().openSession();
    const synced = await world.client().openSession();
    await synced.replay();
    let quietGot = 0;
    quiet.on('message', () => quietGot++);
    const pushed = nextEvents(synced, 'message', 1);
    await alice.post(randomMessage());
    await pushed;
    // The quiet session then replays and sees the message exactly once, in the replay.
    expect((await quiet.replay()).length).toBe(1);
    expect(quietGot).toBe(0);
  });

  it('acknowledges a duplicate signature idempotently: stored once, the new token still consumed', async () => {
    const client = world.client();
    const session = await client.openSession();
    const m = randomMessage();
    await session.post(m);
    const [token] = await takeTokens(client, 1);
    const spent = spendToken(token!, m, world.bundle.boardOnion);
    expect(await session.postSpent(m, spent)).toEqual({ ok: true });
    expect(await world.store.isSpent(spent.epoch, spent.input)).toBe(true);
    expect((await session.replay()).length).toBe(1);
    expect(await session.postSpent(m, spent)).toEqual({ ok: false, code: 'TOKEN_SPENT' });
  });

  it('rejects a double spend, a forged token, a token for another relay, and a token for another post', async () => {
    const client = world.client();
    const session = await client.openSession();
    const [t1, t2, t3] = await takeTokens(client, 3);
    const m = randomMessage();
    const spent = spendToken(t1!, m, world.bundle.boardOnion);
    expect(await session.postSpent(m, spent)).toEqual({ ok: true });
    // Same token on another message: bound to the first post, so invalid.
    const other = randomMessage();
    expect(await session.postSpent(other, spent)).toEqual({ ok: false, code: 'TOKEN_INVALID' });
    // Same token re-bound to the other message: valid MAC, but t was spent.
    expect(await session.postSpent(other, spendToken(t1!, other, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_SPENT' });
    // Forged: random output.
    const forged = spendToken({ epoch: 0, input: new Uint8Array(randomBytes(32)), output: new Uint8Array(randomBytes(64)) }, other, world.bundle.boardOnion);
    expect(await session.postSpent(other, forged)).toEqual({ ok: false, code: 'TOKEN_INVALID' });
    // Wrong relay binding: a genuine token MAC'd for another relay's onion.
    expect(await session.postSpent(other, spendToken(t2!, other, randomOnion()))).toEqual({ ok: false, code: 'TOKEN_INVALID' });
    // A token issued by another relay's key.
    const [foreign] = issueTokens(generateVoprfKeyPair(), 1);
    expect(await session.postSpent(other, spendToken(foreign!, other, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_INVALID' });
    // The genuine, unspent t2 still works for the other post afterwards: none of the failures consumed it.
    expect(await session.postSpent(other, spendToken(t2!, other, world.bundle.boardOnion))).toEqual({ ok: true });
    expect(t3).toBeDefined();
    expect((await session.replay()).map(hex)).toEqual([m, other].map(hex));
    await expect(session.post({ ...randomMessage(), ciphertext: new Uint8Array(100) })).rejects.toThrow(/4096-byte/);
  });

  it('answers pipelined posts in order and drops a session after too many rejected tokens', async () => {
    const client = world.client({ batchSize: 20 });
    const session = await client.openSession();
    const messages = Array.from({ length: 12 }, () => randomMessage());
    await Promise.all(messages.map((m) => session.post(m)));
    expect((await session.replay()).map(hex)).toEqual(messages.map(hex));

    const bad = randomMessage();
    const forged = spendToken({ epoch: 0, input: new Uint8Array(randomBytes(32)), output: new Uint8Array(randomBytes(64)) }, bad, world.bundle.boardOnion);
    const replies = await Promise.allSettled(Array.from({ length: 10 }, () => session.postSpent(bad, forged)));
    expect(replies.slice(0, 8).every((r) => r.status === 'fulfilled' && !r.value.ok)).toBe(true);
    // The relay hangs up (its reason stays on its side); the client sees the session closed.
    await session.closed;
    expect(session.isClosed).toBe(true);
    expect(world.errors.some((e) => e.cause instanceof Error && (e.cause as { code?: string }).code === 'TOO_MANY_FAILED_SPENDS')).toBe(true);
  });

  it('uses a fresh ephemeral identity for every board session and never the member identity', async () => {
    const seen: string[] = [];
    world.relay.boardService.on('established', (conn) => seen.push(conn.remoteOnion!));
    const client = world.client();
    const a = await client.openSession();
    const b = await client.openSession();
    await a.replay();
    await b.replay();
    expect(seen).toEqual([a.localOnion, b.localOnion]);
    expect(a.localOnion).not.toBe(b.localOnion);
  });

  it('tops up tokens automatically, one proof of work per batch', async () => {
    let batches = 0;
    world.relay.tokens.on('issued', () => batches++);
    const client = world.client({ batchSize: 4, lowWaterMark: 1 });
    const session = await client.openSession();
    for (let i = 0; i < 10; i++) await session.post(randomMessage());
    expect((await session.replay()).length).toBe(10);
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(batches).toBeLessThanOrEqual(4);
  });

  it('closes a board connection on a malformed request and keeps serving others', async () => {
    const service = new TapirService(world.acn, Identity.generate());
    const conn = await service.connect(world.bundle.boardOnion, new ApplicationChain([new AuthApp()]));
    await conn.send(new TextEncoder().encode('{"MessageType":2,"PostRequest":{}}'));
    await expect(conn.expect()).rejects.toBeDefined();
    expect(world.errors.at(-1)).toMatchObject({ code: 'PROTOCOL_VIOLATION', cause: { code: 'MALFORMED_REQUEST' } });
    await service.close();
    const honest = await world.client().openSession();
    await honest.post(randomMessage());
    expect((await honest.replay()).length).toBe(1);
  });
});

describe('token service', () => {
  it('refuses a client that skips proof of work, issuing nothing', async () => {
    let issued = 0;
    world.relay.tokens.on('issued', (n) => (issued += n));
    const service = new TapirService(world.acn, Identity.generate());
    const skip: { name: string; capability: string; run(conn: Connection): Promise<void> } = {
      name: 'skip-pow',
      capability: 'x',
      async run(conn) {
        await conn.send(encodeTokenRequest([new Uint8Array(32)]));
        await conn.expect();
        await conn.expect();
      },
    };
    await expect(service.connect(world.bundle.tokenOnion, new ApplicationChain([skip]))).rejects.toBeDefined();
    expect(world.errors.at(-1)?.code).toBe('PROTOCOL_VIOLATION');
    expect(issued).toBe(0);
    await service.close();
  });

  it('refuses an oversized batch and an invalid element after proof of work', async () => {
    const service = new TapirService(world.acn, Identity.generate());
    for (const payload of [encodeTokenRequest(Array.from({ length: 101 }, () => new Uint8Array(32).fill(1))), encodeTokenRequest([new Uint8Array(32)])]) {
      const raw: { name: string; capability: string; run(conn: Connection): Promise<void> } = {
        name: 'raw',
        capability: 'x',
        async run(conn) {
          await conn.send(payload);
          await conn.expect();
        },
      };
      await expect(service.connect(world.bundle.tokenOnion, new ApplicationChain([new ProofOfWorkApp(), raw]))).rejects.toBeDefined();
    }
    expect(world.errors.slice(-2).map((e) => (e.cause as { code?: string } | undefined)?.code)).toEqual(['MALFORMED_REQUEST', 'TOKEN_BATCH_INVALID']);
    await service.close();
  });

  it('a client refuses tokens from a service whose epoch key is not the one its pinned bundle commits to', async () => {
    // A bundle committing to other keys than the service uses: the key's path does not reach the root.
    const client = world.client();
    const liar = new TokenPurchaseApp({ tokenEpochRoot: testTokenKeys().root, tokenSchedule: world.bundle.tokenSchedule }, 3);
    const service = new TapirService(world.acn, Identity.generate());
    const err = await service.connect(world.bundle.tokenOnion, new ApplicationChain([new ProofOfWorkApp(), liar])).catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(TokenKeyUnprovenError);
    expect(((err as Error).cause as Error).message).toMatch(/is not the one the relay's bundle commits to/);
    expect(liar.tokens).toEqual([]);
    await service.close();
    // And through the client API: a client pinned to another commitment gets the typed error.
    const wrong = world.client({ bundle: { ...world.bundle, tokenEpochRoot: testTokenKeys().root } });
    await expect(wrong.buyTokens()).rejects.toBeInstanceOf(TokenKeyUnprovenError);
    expect(wrong.wallet.size).toBe(0);
    expect(client.wallet.size).toBe(0);
  });

  it('survives raw garbage on both onions', async () => {
    for (const onion of [world.bundle.tokenOnion, world.bundle.boardOnion]) {
      const socket = await world.acn.open(onion, TAPIR_PORT);
      const closed = new Promise((r) => socket.once('close', r));
      socket.on('error', () => undefined);
      socket.resume();
      socket.end(Buffer.concat([Buffer.from(encodeFrame(new Uint8Array(randomBytes(100)))), Buffer.alloc(10)]));
      await closed;
    }
    const s = await world.client().openSession();
    await s.post(randomMessage());
  });
});

describe('replay edge cases', () => {
  it('interrupts a replay whose announced messages are pruned before they are sent, and a new replay works', async () => {
    // A store whose second page read waits until the test has pruned the rest.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    class GatedStore extends MemoryRelayStore {
      public override async read(fromSeq: number, toSeq: number, limit: number) {
        if (++reads === 2) await gate;
        return super.read(fromSeq, toSeq, limit);
      }
    }
    await world.cleanup();
    world = await relayWorld({ store: new GatedStore({ maxMessages: 20 }), boardLimits: { replayPageSize: 5 } });
    const writer = await world.client({ batchSize: 40 }).openSession();
    for (let i = 0; i < 20; i++) await writer.post(randomMessage());
    const reader = await world.client().openSession();
    const received: EncryptedGroupMessage[] = [];
    const replay = reader.replayEach({ onMessage: (m) => received.push(m) });
    await vi.waitUntil(() => reads === 2);
    // 15 more posts: the cap of 20 prunes (about 10% at a time) messages the reader was promised.
    for (let i = 0; i < 15; i++) await writer.post(randomMessage());
    release();
    await expect(replay).rejects.toBeInstanceOf(SessionClosedError);
    expect(received.length).toBeGreaterThanOrEqual(5);
    expect(received.length).toBeLessThan(20);
    expect(world.errors.some((e) => (e.cause as { code?: string } | undefined)?.code === 'REPLAY_INTERRUPTED')).toBe(true);
    const again = await world.client().openSession();
    const all = await again.replay();
    expect(all.length).toBe((await world.store.stats()).messages);
  });

  it('catches up from the store when more is posted during a replay than the push buffer holds', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    class GatedStore extends MemoryRelayStore {
      public override async read(fromSeq: number, toSeq: number, limit: number) {
        if (++reads === 1) await gate;
        return super.read(fromSeq, toSeq, limit);
      }
    }
    await world.cleanup();
    world = await relayWorld({ store: new GatedStore(), boardLimits: { maxPendingPushes: 3 } });
    const writer = await world.client({ batchSize: 20 }).openSession();
    const early = Array.from({ length: 5 }, () => randomMessage());
    for (const m of early) await writer.post(m);
    const reader = await world.client().openSession();
    const received: string[] = [];
    const live = nextEvents<EncryptedGroupMessage>(reader, 'message', 10);
    const replay = reader.replayEach({ onMessage: (m) => received.push(hex(m)) });
    await vi.waitUntil(() => reads === 1);
    // Ten posts while the replay is held: far more than the 3-message buffer.
    const late = Array.from({ length: 10 }, () => randomMessage());
    for (const m of late) await writer.post(m);
    release();
    expect(await replay).toBe(5);
    expect(received).toEqual(early.map(hex));
    expect((await live).map(hex)).toEqual(late.map(hex));
    expect(reader.isClosed).toBe(false);
  });

  it('marks a synced session with the synced capability', async () => {
    const established = new Promise<Connection>((resolve) => world.relay.boardService.once('established', resolve));
    const session = await world.client().openSession();
    const conn = await established;
    expect(conn.hasCapability(BOARD_SYNCED_CAPABILITY)).toBe(false);
    await session.replay();
    expect(conn.hasCapability(BOARD_SYNCED_CAPABILITY)).toBe(true);
  });
});

async function takeTokens(client: { takeToken(): Promise<Token> }, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await client.takeToken());
  return out;
}

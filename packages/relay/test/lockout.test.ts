import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Identity, toHex } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TAPIR_PORT, TAPIR_WIRE_VERSION, TapirService, encodeFrame, type Connection } from '@pursuance/tapir';
import type { EncryptedGroupMessage } from '../src/index.js';
import { randomMessage } from './support/fixtures.js';
import { relayWorld, type RelayWorld } from './support/relay-world.js';

/**
 * Issue 15, "no lock-out": an attacker's idle sockets and idle authenticated sessions (made
 * with throwaway identities, no work, no tokens) must not keep an honest client out of a relay
 * running with its default limits, and idle sessions must not hold their slots forever.
 */
let world: RelayWorld | undefined;
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await world?.cleanup();
  world = undefined;
});

const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** An attacker's dialler: each session on a fresh throwaway identity, no client-side limit. */
function attacker(w: RelayWorld): TapirService {
  const service = new TapirService(w.acn, Identity.generate(), { maxConnections: 4096 });
  cleanups.push(() => service.close());
  return service;
}

/** Sessions that authenticate to the board and then never send a request. */
async function idleSessions(w: RelayWorld, count: number): Promise<Connection[]> {
  const service = attacker(w);
  const sessions: Connection[] = [];
  // A few at a time: an attacker's own pending handshakes would otherwise evict each other.
  for (let i = 0; i < count; i += 16) {
    const batch = Array.from({ length: Math.min(16, count - i) }, () =>
      service.connect(w.bundle.boardOnion, new ApplicationChain([new AuthApp()]), { identity: Identity.generate() }),
    );
    sessions.push(...(await Promise.all(batch)));
  }
  return sessions;
}

/** Raw TCP streams that never send a byte. */
async function idleSockets(w: RelayWorld, onion: RelayWorld['bundle']['boardOnion'], count: number): Promise<Socket[]> {
  const sockets = await Promise.all(Array.from({ length: count }, () => w.acn.open(onion, TAPIR_PORT)));
  for (const socket of sockets) {
    socket.on('error', () => undefined);
    socket.resume();
  }
  cleanups.push(() => sockets.forEach((s) => s.destroy()));
  return sockets;
}

describe('a relay with its default limits under an idle-connection flood', () => {
  it('200 idle sockets per service and 200 idle sessions do not refuse an honest client buying tokens, posting and syncing', async () => {
    world = await relayWorld();
    const { relay } = world;
    const board = relay.boardService.metrics;
    const tokens = relay.tokenService.metrics;

    const sessions = await idleSessions(world, 200);
    await until(() => board.established === 200);
    // Raw sockets arrive after the sessions. They have paid nothing, so they only ever push out
    // each other (oldest first): past 64 unadmitted per service, and at the board's connection
    // limit (256) before any session.
    await idleSockets(world, world.bundle.boardOnion, 200);
    await idleSockets(world, world.bundle.tokenOnion, 200);
    await until(() => board.accepted === 400 && tokens.accepted === 200);
    expect(board.evictedIdle).toBe(0);
    expect(board.evictedUnpaid).toBe(200 - 56);
    expect(tokens.evictedUnpaid).toBe(200 - 64);
    expect(tokens.evictedPending).toBe(200 - 64);
    expect(relay.boardService.connections()).toHaveLength(256);
    expect(sessions.filter((s) => !s.isClosed)).toHaveLength(200);

    const client = world.client();
    expect(await client.buyTokens()).toBe(5);
    const session = await client.openSession();
    const posted = [randomMessage(), randomMessage(), randomMessage()];
    for (const m of posted) await session.post(m);
    expect((await session.replay()).map(hex)).toEqual(posted.map(hex));

    expect(board.refused).toBe(0);
    expect(tokens.refused).toBe(0);
    // Each honest purchase took the place of an idle socket.
    expect(tokens.evictedPending).toBeGreaterThan(200 - 64);
    expect(world.errors.filter((e) => e.code === 'TOO_MANY_CONNECTIONS')).toEqual([]);
    await client.close();
  }, 120_000);
});

describe('a relay with its default limits under a re-dial flood', () => {
  it('an attacker re-dialling both services as fast as it can, holding every socket, does not fail one honest handshake', async () => {
    world = await relayWorld();
    const w = world;
    const { relay } = w;
    let stop = false;
    const held = new Set<Socket>();
    // A hello asking admission without work: what a flood that will not pay can send.
    const hello = encodeFrame(new TextEncoder().encode(`{"TapirHello":${TAPIR_WIRE_VERSION},"Solution":null}`));
    const loop = async (onion: RelayWorld['bundle']['boardOnion'], sayHello: boolean): Promise<void> => {
      while (!stop) {
        const socket = await w.acn.open(onion, TAPIR_PORT).catch(() => undefined);
        if (socket === undefined) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        if (stop) {
          socket.destroy();
          return;
        }
        held.add(socket);
        socket.on('error', () => undefined);
        socket.resume();
        if (sayHello) socket.write(hello);
        // Held until the relay drops it, then dialled again at once.
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        held.delete(socket);
      }
    };
    // More loops than a service keeps unadmitted connections (64), so the pool churns.
    const loops = [w.bundle.boardOnion, w.bundle.tokenOnion].flatMap((onion) => Array.from({ length: 96 }, (_, i) => loop(onion, i % 2 === 0)));
    try {
      await until(() => relay.boardService.metrics.evictedUnpaid >= 300 && relay.tokenService.metrics.evictedUnpaid >= 300);
      const client = w.client();
      const posted: EncryptedGroupMessage[] = [];
      for (let round = 0; round < 3; round++) {
        expect(await client.buyTokens()).toBe(5);
        const session = await client.openSession();
        const m = randomMessage();
        await session.post(m);
        posted.push(m);
        expect((await session.replay()).map(hex)).toEqual(posted.map(hex));
        session.close();
      }
      for (const service of [relay.boardService, relay.tokenService]) expect(service.metrics.refused).toBe(0);
      // Only the honest client's connections got through: three sessions, and its purchases
      // (three, plus any background top-up).
      expect(relay.boardService.metrics.established).toBe(3);
      expect(relay.tokenService.metrics.established).toBeGreaterThanOrEqual(3);
      expect(relay.boardService.metrics.admissionPaid + relay.tokenService.metrics.admissionPaid).toBeGreaterThanOrEqual(6);
      console.info(
        `relay flood: board ${relay.boardService.metrics.evictedUnpaid} / token ${relay.tokenService.metrics.evictedUnpaid} unpaid evictions, ` +
          `${relay.boardService.metrics.admissionDemands + relay.tokenService.metrics.admissionDemands} demands; honest 3/3 rounds; ` +
          `difficulty now board ${relay.boardService.admissionBits} / token ${relay.tokenService.admissionBits} bits`,
      );
      await client.close();
    } finally {
      stop = true;
      for (const s of held) s.destroy();
      await Promise.all(loops);
    }
  }, 120_000);
});

describe('idle timeout of board sessions', () => {
  it('closes sessions that send nothing, subscribed or not, and keeps those that post or renew', async () => {
    world = await relayWorld({ idleTimeoutMs: 1_500 });
    const w = world;

    // The sessions that must stay are opened first: had use not counted, they would go first.
    const poster = w.client();
    const posting = await poster.openSession();
    const renewer = w.client({ renewIntervalMs: 300 });
    const renewing = await renewer.openSession();
    const renewed: EncryptedGroupMessage[] = [];
    await renewing.subscribe((m) => renewed.push(m));

    const [idle] = await idleSessions(w, 1);
    // A subscriber that follows live pushes without ever sending again.
    const listener = w.client({ renewIntervalMs: false, keepalive: false });
    const listening = await listener.openSession();
    const heard: EncryptedGroupMessage[] = [];
    await listening.subscribe((m) => heard.push(m));

    let stop = false;
    const posted: EncryptedGroupMessage[] = [];
    const posts = (async () => {
      while (!stop) {
        const m = randomMessage();
        await posting.post(m);
        posted.push(m);
        // Pacing, not waiting for a condition: a post every 200 ms keeps pushes flowing.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      await idle!.closed;
      await listening.closed;
    } finally {
      stop = true;
      await posts;
    }
    // The listener did receive pushes: receiving alone does not count as use.
    expect(heard.length).toBeGreaterThan(0);
    expect(w.errors.filter((e) => e.code === 'IDLE_TIMEOUT')).toHaveLength(2);
    expect(w.relay.boardService.metrics.idleTimedOut).toBe(2);
    expect(posting.isClosed).toBe(false);
    expect(renewing.isClosed).toBe(false);

    const last = randomMessage();
    await posting.post(last);
    posted.push(last);
    await until(() => renewed.length === posted.length);
    expect(renewed.map(hex)).toEqual(posted.map(hex));
    await Promise.all([poster.close(), renewer.close(), listener.close()]);
  }, 60_000);
});

import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApplicationChain, AuthApp, ConnectionEvictedError, TAPIR_PORT, type Application, type Connection, type TapirError } from '../src/index.js';
import { loopbackWorld, type LoopbackWorld } from './support/loopback.js';

/**
 * No lock-out: a full service makes room for a newcomer by dropping the oldest pending
 * handshake or the least recently active established connection, instead of refusing it.
 */
let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

const auth = () => new ApplicationChain([new AuthApp()]);

/** Echo that counts every packet as use of the connection. */
const activeEcho = (): Application =>
  new ApplicationChain([new AuthApp()], {
    name: 'active-echo',
    async run(conn: Connection) {
      for (;;) {
        const payload = await conn.expect();
        conn.markActive();
        await conn.send(payload);
      }
    },
  });

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

function closedSignal(socket: Socket): Promise<void> {
  socket.on('error', () => undefined);
  socket.resume();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

async function roundTrip(conn: Connection, byte: number): Promise<void> {
  await conn.send(Uint8Array.of(byte));
  expect(await conn.expect()).toEqual(Uint8Array.of(byte));
}

describe('eviction at the pending-handshake limit', () => {
  it('idle raw sockets are pushed out oldest first and an honest client completes its handshake', async () => {
    // A handshake timeout far beyond the test: only eviction can free a slot here.
    const { service: server, errors } = await world.echoServer({ maxPendingHandshakes: 4, handshakeTimeoutMs: 600_000 });
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    // One at a time, so the server's arrival order is the order opened.
    for (let i = 0; i < 10; i++) {
      const socket = await world.acn().open(server.onion, TAPIR_PORT);
      sockets.push(socket);
      closed.push(closedSignal(socket));
      await until(() => server.metrics.accepted === i + 1);
    }
    expect(server.metrics.evictedPending).toBe(6);
    await Promise.all(closed.slice(0, 6));

    const conn = await world.client().connect(server.onion, auth());
    await roundTrip(conn, 7);
    // The honest client took the place of the oldest socket still pending, the seventh.
    await closed[6];
    expect(server.metrics).toMatchObject({ refused: 0, evictedPending: 7, established: 1 });
    expect(server.connections()).toHaveLength(4); // three raw sockets still pending + the client
    const evictions = errors.filter((e): e is ConnectionEvictedError => e instanceof ConnectionEvictedError);
    expect(evictions).toHaveLength(7);
    // They never sent an admission hello: dropped as unpaid, before any connection in its handshake.
    expect(evictions.every((e) => e.code === 'CONNECTION_EVICTED' && e.reason === 'unpaid')).toBe(true);
    expect(server.metrics.evictedUnpaid).toBe(7);
    for (const s of sockets) s.destroy();
  });
});

describe('eviction at the connection limit', () => {
  it('drops the least recently active established connection for a newcomer', async () => {
    const { service: server, errors } = await world.echoServer({ maxConnections: 5 }, activeEcho);
    const client = world.client();
    const conns: Connection[] = [];
    for (let i = 0; i < 5; i++) conns.push(await client.connect(server.onion, auth()));
    await until(() => server.metrics.established === 5);
    // Every connection but the third is used after the third was established.
    for (const [i, conn] of conns.entries()) if (i !== 2) await roundTrip(conn, i);

    const evicted = new Promise<TapirError>((resolve) => server.once('connectionError', (_c, e) => resolve(e)));
    const newcomer = await client.connect(server.onion, auth());
    await roundTrip(newcomer, 9);
    const error = await evicted;
    expect(error).toBeInstanceOf(ConnectionEvictedError);
    expect((error as ConnectionEvictedError).reason).toBe('idle');
    await conns[2]!.closed;
    for (const [i, conn] of conns.entries()) if (i !== 2) await roundTrip(conn, 10 + i);
    expect(server.metrics).toMatchObject({ refused: 0, evictedIdle: 1, evictedPending: 0 });
    expect(errors).toHaveLength(1);
  });

  it('with no established connection to drop, drops the oldest pending one', async () => {
    const { service: server } = await world.echoServer({ maxConnections: 3, handshakeTimeoutMs: 600_000 });
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await world.acn().open(server.onion, TAPIR_PORT);
      sockets.push(socket);
      closed.push(closedSignal(socket));
      await until(() => server.metrics.accepted === i + 1);
    }
    const conn = await world.client().connect(server.onion, auth());
    await roundTrip(conn, 1);
    await closed[0];
    expect(server.metrics).toMatchObject({ refused: 0, evictedPending: 1, evictedIdle: 0 });
    for (const s of sockets) s.destroy();
  });

  it('an application can keep a connection from being evicted', async () => {
    const protectedEcho = (): Application =>
      new ApplicationChain([new AuthApp()], {
        name: 'protected',
        async run(conn: Connection) {
          conn.evictable = false;
          await conn.expect();
        },
      });
    const { service: server } = await world.echoServer({ maxConnections: 2 }, protectedEcho);
    const client = world.client();
    await client.connect(server.onion, auth());
    await client.connect(server.onion, auth());
    await until(() => server.metrics.established === 2);
    const refused = new Promise<TapirError>((resolve) => server.once('connectionError', (_c, e) => resolve(e)));
    await expect(client.connect(server.onion, auth())).rejects.toThrow();
    expect((await refused).code).toBe('TOO_MANY_CONNECTIONS');
    expect(server.metrics).toMatchObject({ refused: 1, evictedIdle: 0 });
  });
});

describe('idle timeout', () => {
  it('closes an established connection its application does not mark active, and keeps a used one', async () => {
    const { service: server, errors } = await world.echoServer({ idleTimeoutMs: 1_000 }, activeEcho);
    const client = world.client();
    // The used connection is the older one: were use not counted, it would be closed first.
    const used = await client.connect(server.onion, auth());
    const idle = await client.connect(server.onion, auth());
    let n = 0;
    // Each echo is read back, so the server never blocks on a full socket and stops reading.
    const keepUsing = setInterval(() => void roundTrip(used, n++ % 256).catch(() => undefined), 100);
    try {
      await idle.closed;
      await until(() => errors.length === 1);
      expect(errors[0]!.code).toBe('IDLE_TIMEOUT');
      expect(used.isClosed).toBe(false);
      expect(server.connections()).toHaveLength(1);
      expect(server.metrics.idleTimedOut).toBe(1);
    } finally {
      clearInterval(keepUsing);
    }
  });
});

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, randomKey, toBase64 } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, PACKET_SIZE, TAPIR_PORT, encodeFrame, sealPacket } from '../src/index.js';
import { loopbackWorld, type LoopbackWorld } from './support/loopback.js';

let world: LoopbackWorld;
beforeAll(async () => {
  world = await loopbackWorld();
});
afterAll(async () => {
  await world.cleanup();
});

/**
 * Hostile bytes over real sockets: whatever a connection sends, the server closes that one
 * connection with a typed error (or a handshake timeout) and keeps serving honest clients.
 */
describe('a live service under random input', () => {
  const encoder = new TextEncoder();
  const authJson = fc
    .record({ LongTermPublicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }), EphemeralPublicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }) })
    .map((m) =>
      encodeFrame(encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(m.LongTermPublicKey), EphemeralPublicKey: toBase64(m.EphemeralPublicKey) }))),
    );
  const validAuthThenGarbage = fc.constant(null).map(() => {
    const id = Identity.generate();
    const eph = Identity.generate();
    const hello = encodeFrame(encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(id.publicKey), EphemeralPublicKey: toBase64(eph.publicKey) })));
    return Buffer.concat([hello, sealPacket(randomKey(), 0, encoder.encode('guess'))]);
  });
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 3 * PACKET_SIZE }),
    fc.uint8Array({ minLength: PACKET_SIZE, maxLength: PACKET_SIZE }),
    fc.string().map((s) => encodeFrame(encoder.encode(s))),
    authJson,
    validAuthThenGarbage,
  );

  it('survives 300 hostile connections and still serves an honest client', async () => {
    const { service: server, errors } = await world.echoServer({ handshakeTimeoutMs: 1000 });
    const samples = fc.sample(input, { numRuns: 300, seed: 20261121 });
    const acn = world.acn();
    for (let i = 0; i < samples.length; i += 20) {
      await Promise.all(
        samples.slice(i, i + 20).map(async (bytes) => {
          const socket = await acn.open(server.onion, TAPIR_PORT);
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          socket.on('error', () => undefined);
          socket.resume(); // drain the server's handshake packet so 'close' can fire
          socket.end(bytes);
          await closed;
        }),
      );
    }
    // Every hostile connection ended in a typed error; none reached the echo app.
    expect(server.metrics.established).toBe(0);
    expect(errors.length).toBe(samples.length);
    for (const e of errors) expect(e.code).toMatch(/^[A-Z_]+$/);

    const conn = await world.client().connect(server.onion, new ApplicationChain([new AuthApp()]));
    await conn.send(Uint8Array.of(1));
    expect(await conn.expect()).toEqual(Uint8Array.of(1));
  });
});

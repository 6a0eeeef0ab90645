import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, type Connection, MAX_SEALED_PAYLOAD, PACKET_SIZE, TAPIR_PORT, encodeFrame } from '../src/index.js';
import { AUTHENTICATION_CAPABILITY } from '../src/wire-profile.js';
import { HandshakeInvalidError, IdentityMismatchError } from '../src/errors.js';
import { parseAuthMessage } from '../src/auth.js';
import { encodeAdmissionHello } from '../src/admission.js';
import { loopbackWorld, type LoopbackWorld } from './support/loopback.js';
import { flipByteAt, interpose } from './support/proxy.js';

let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

const auth = (): ApplicationChain => new ApplicationChain([new AuthApp()]);

async function rawSocket(onion: string) {
  return world.acn().open(onion as never, TAPIR_PORT);
}

describe('3DH authentication over loopback sockets', () => {
  it('authenticates both sides and carries sealed payloads up to the limit', async () => {
    const { service: server } = await world.echoServer();
    const serverSide = new Promise<Connection>((resolve) => server.once('established', resolve));
    const alice = Identity.generate();
    const conn = await world.client(alice).connect(server.onion, auth());

    expect(conn.remoteOnion).toBe(server.onion);
    expect(conn.hasCapability(AUTHENTICATION_CAPABILITY)).toBe(true);
    expect((await serverSide).remoteOnion).toBe(alice.onion);

    for (const size of [0, 1, 1000, MAX_SEALED_PAYLOAD]) {
      const payload = new Uint8Array(size).map((_, i) => i % 251);
      await conn.send(payload);
      expect(await conn.expect()).toEqual(payload);
    }
    conn.close();
  });

  it('refuses a peer whose key does not match the dialled onion (hijacked route)', async () => {
    const { service: impostor } = await world.echoServer();
    const victim = Identity.generate();
    // The ACN (untrusted) routes the victim's name to the impostor's listener.
    await copyFile(join(world.registryDir, `${impostor.onion}-${TAPIR_PORT}.json`), join(world.registryDir, `${victim.onion}-${TAPIR_PORT}.json`));
    await expect(world.client().connect(victim.onion, auth())).rejects.toBeInstanceOf(IdentityMismatchError);
  });

  it('closes with DECRYPTION_FAILED when a sealed handshake packet is tampered with', async () => {
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    // Packet 3 client→server (after the admission hello and the auth message) is the sealed transcript commitment.
    const proxy = await interpose(world.registryDir, server.onion, TAPIR_PORT, flipByteAt(2 * PACKET_SIZE + 500));
    // The client may finish its half first (the server's commitment reached it intact), but
    // its connection cannot survive: the server drops it.
    const clientEnd = await world
      .client()
      .connect(server.onion, auth())
      .then(
        async (conn) => {
          await expect(conn.expect()).rejects.toThrow();
          return 'closed by server';
        },
        () => 'rejected',
      );
    expect(['closed by server', 'rejected']).toContain(clientEnd);
    expect((await serverError).code).toBe('DECRYPTION_FAILED');
    await proxy.close();
  });

  it('fails the handshake when the plaintext auth message is altered in flight', async () => {
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    // Byte 20 of packet 2 (after the admission hello) lies inside the base64 of the client's long-term key.
    const proxy = await interpose(world.registryDir, server.onion, TAPIR_PORT, flipByteAt(PACKET_SIZE + 20));
    await expect(world.client().connect(server.onion, auth())).rejects.toThrow();
    expect(['DECRYPTION_FAILED', 'HANDSHAKE_INVALID']).toContain((await serverError).code);
    await proxy.close();
  });

  it('peers that disagree on what was exchanged derive different keys: the first sealed packet does not open', async () => {
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    // A client whose transcript holds an extra entry before auth salts its key derivation with
    // another challenge (a tampered admission exchange would do the same).
    const skew = {
      name: 'skew',
      run: (c: Connection) => Promise.resolve(c.transcript.add('injected', 'entry')),
    };
    await expect(world.client().connect(server.onion, new ApplicationChain([skew, new AuthApp()]))).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    expect((await serverError).code).toBe('DECRYPTION_FAILED');
    expect(server.metrics.established).toBe(0);
  });

  it('rejects a replayed handshake: the old sealed packets do not open under the new session key', async () => {
    const { service: server, nextError } = await world.echoServer();
    const recorder = await interpose(world.registryDir, server.onion, TAPIR_PORT);
    const conn = await world.client().connect(server.onion, auth());
    await conn.send(Uint8Array.of(42));
    await conn.expect();
    conn.close();
    const recorded = recorder.recorded();
    await recorder.close();
    // Admission hello, auth message, commitment, one sealed payload.
    expect(recorded.length).toBe(4 * PACKET_SIZE);

    const serverError = nextError();
    const socket = await rawSocket(server.onion);
    socket.write(recorded);
    expect((await serverError).code).toBe('DECRYPTION_FAILED');
    socket.destroy();
  });

  it('rejects malformed auth messages with HANDSHAKE_INVALID and keeps serving', async () => {
    const { service: server, nextError } = await world.echoServer();
    const cases = [
      'not json',
      '{}',
      JSON.stringify({ LongTermPublicKey: 'AAAA', EphemeralPublicKey: 'AAAA' }),
      JSON.stringify({ LongTermPublicKey: toBase64(new Uint8Array(32)), EphemeralPublicKey: toBase64(new Uint8Array(32)), extra: 1 }),
      // Valid shape, low-order ephemeral key (all zeros): the exchange must be refused.
      JSON.stringify({ LongTermPublicKey: toBase64(Identity.generate().publicKey), EphemeralPublicKey: toBase64(new Uint8Array(32)) }),
      // Reflection: the client's ephemeral key equal to its long-term key.
      (() => {
        const k = toBase64(Identity.generate().publicKey);
        return JSON.stringify({ LongTermPublicKey: k, EphemeralPublicKey: k });
      })(),
    ];
    for (const text of cases) {
      const error = nextError();
      const socket = await rawSocket(server.onion);
      // Admitted without work (the server is idle), then the malformed auth message.
      socket.write(Buffer.concat([encodeFrame(encodeAdmissionHello()), encodeFrame(new TextEncoder().encode(text))]));
      expect((await error).code, text).toBe('HANDSHAKE_INVALID');
      socket.destroy();
    }
    const conn = await world.client().connect(server.onion, auth());
    await conn.send(Uint8Array.of(7));
    expect(await conn.expect()).toEqual(Uint8Array.of(7));
  });

  it('times out half-open handshakes and evicts the oldest beyond the pending limit, while honest clients get through', async () => {
    const { service: server, errors, nextError } = await world.echoServer({ handshakeTimeoutMs: 500, maxPendingHandshakes: 3 });
    const silent = await Promise.all([0, 1, 2].map(() => rawSocket(server.onion)));
    // Wait until the server has accepted all three before flooding further.
    while (server.metrics.accepted < 3) await new Promise((r) => setImmediate(r));
    const evicted = nextError();
    const extra = await rawSocket(server.onion);
    expect((await evicted).code).toBe('CONNECTION_EVICTED');
    expect(server.metrics.refused).toBe(0);
    while (errors.filter((e) => e.code === 'HANDSHAKE_TIMEOUT').length < 3) await nextError();
    const conn = await world.client().connect(server.onion, auth());
    await conn.send(Uint8Array.of(1, 2));
    expect(await conn.expect()).toEqual(Uint8Array.of(1, 2));
    for (const s of [...silent, extra]) s.destroy();
  });
});

describe('auth message parser fuzzing', () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase64);
  const jsonish = fc.oneof(
    fc.record({ LongTermPublicKey: key, EphemeralPublicKey: key }).map((o) => JSON.stringify(o)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ LongTermPublicKey: fc.string(), EphemeralPublicKey: fc.oneof(key, fc.string(), fc.integer()) }).map((o) => JSON.stringify(o)),
    fc.string(),
  );
  const encoder = new TextEncoder();

  it('100,000 inputs give two 32-byte keys or a HandshakeInvalidError', () => {
    let parsed = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          jsonish.map((s) => encoder.encode(s)),
          fc.uint8Array({ maxLength: 200 }),
        ),
        (bytes) => {
          try {
            const m = parseAuthMessage(bytes);
            if (m.longTerm.length !== 32 || m.ephemeral.length !== 32) throw new Error('bad key length accepted');
            parsed++;
          } catch (err) {
            if (!(err instanceof HandshakeInvalidError)) throw err;
          }
        },
      ),
      { numRuns: 100_000 },
    );
    expect(parsed).toBeGreaterThan(1000);
  });
});

describe('service shutdown', () => {
  it('closes promptly while peers are still connected', async () => {
    const { service: server } = await world.echoServer();
    const conns = await Promise.all([0, 1, 2].map(() => world.client().connect(server.onion, auth())));
    await server.close();
    for (const c of conns) await expect(c.expect()).rejects.toThrow();
  });
});

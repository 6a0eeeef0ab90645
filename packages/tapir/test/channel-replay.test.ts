import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, randomKey, secretboxSeal } from '@pursuance/crypto';
import {
  ApplicationChain,
  AuthApp,
  ChannelCipher,
  Connection,
  CounterExhaustedError,
  FrameInvalidError,
  FrameTooLargeError,
  MAX_SEALED_PAYLOAD,
  PACKET_SIZE,
  PacketDecryptionError,
  PacketReflectedError,
  PacketReorderedError,
  PacketReplayedError,
  TAPIR_PORT,
  type SessionKeys,
} from '../src/index.js';
import { DIAGNOSIS_WINDOW } from '../src/channel-cipher.js';
import { counterNonce, encodeFrame } from '../src/frame.js';
import { MAX_PACKET_COUNTER, NONCE_SIZE, SEALED_FRAME_SIZE } from '../src/wire-profile.js';
import { loopbackWorld, type LoopbackWorld } from './support/loopback.js';
import { packetProxy, type PacketRule } from './support/packet-proxy.js';

/**
 * Replay protection inside a session: one key per direction and the packet counter as nonce.
 * Before wire version 3 both directions shared one key and each packet carried a random nonce,
 * so every packet below that is refused would have opened.
 */

const pairOfKeys = (): [SessionKeys, SessionKeys] => {
  const toService = randomKey();
  const toDialler = randomKey();
  return [
    { send: toService, receive: toDialler },
    { send: toDialler, receive: toService },
  ];
};
const bytes = (n: number): Uint8Array => Uint8Array.of(n & 0xff, n >> 8);

describe('ChannelCipher', () => {
  it('opens the peer’s packets in order, each exactly once', () => {
    const [a, b] = pairOfKeys().map((k) => new ChannelCipher(k));
    const packets = [0, 1, 2].map((n) => a!.seal(bytes(n)));
    expect(packets.map((p) => b!.open(p))).toEqual([0, 1, 2].map(bytes));
    expect([a!.sent, b!.received]).toEqual([3, 3]);
  });

  it('names a replayed packet', () => {
    const [a, b] = pairOfKeys().map((k) => new ChannelCipher(k));
    const first = a!.seal(bytes(0));
    b!.open(first);
    b!.open(a!.seal(bytes(1)));
    expect(() => b!.open(first)).toThrow(new PacketReplayedError(2, 0));
  });

  it('names a packet that arrives ahead of its turn', () => {
    const [a, b] = pairOfKeys().map((k) => new ChannelCipher(k));
    const [p0, , p2] = [0, 1, 2].map((n) => a!.seal(bytes(n)));
    b!.open(p0!);
    const error = (() => {
      try {
        b!.open(p2!);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PacketReorderedError);
    expect(error).toMatchObject({ code: 'PACKET_REORDERED', expected: 1, counter: 2 });
  });

  it('names one of its own packets sent back to it', () => {
    const [a] = pairOfKeys().map((k) => new ChannelCipher(k));
    const own = a!.seal(bytes(0));
    a!.seal(bytes(1));
    expect(() => a!.open(own)).toThrow(PacketReflectedError);
    expect(() => new ChannelCipher(pairOfKeys()[0]).open(own)).toThrow(PacketDecryptionError);
  });

  it('ends a direction at the last counter rather than reuse a nonce', () => {
    const [ka, kb] = pairOfKeys();
    const a = new ChannelCipher(ka, MAX_PACKET_COUNTER);
    const b = new ChannelCipher(kb, MAX_PACKET_COUNTER);
    const last = a.seal(bytes(1));
    expect(() => a.seal(bytes(2))).toThrow(new CounterExhaustedError('send'));
    expect(b.open(last)).toEqual(bytes(1));
    expect(() => b.open(last)).toThrow(new CounterExhaustedError('receive'));
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new ChannelCipher({ send: new Uint8Array(31), receive: randomKey() })).toThrow(/session keys must be 32 bytes/);
    expect(() => new ChannelCipher({ send: randomKey(), receive: new Uint8Array(33) })).toThrow(RangeError);
  });

  it('names packets only within the diagnosis window; anything else is a plain decryption failure', () => {
    const [ka, kb] = pairOfKeys();
    const a = new ChannelCipher(ka);
    const b = new ChannelCipher(kb);
    const sent = Array.from({ length: 140 }, (_, n) => a.seal(bytes(n)));
    for (let n = 0; n < 70; n++) b.open(sent[n]!);
    // Expecting 70: packets 6…69 are recent replays, 0…5 too old to name.
    expect(() => b.open(sent[70 - DIAGNOSIS_WINDOW]!)).toThrow(new PacketReplayedError(70, 70 - DIAGNOSIS_WINDOW));
    expect(() => b.open(sent[70 - DIAGNOSIS_WINDOW - 1]!)).toThrow(PacketDecryptionError);
    expect(() => b.open(sent[0]!)).toThrow(PacketDecryptionError);
    // Packets 71…134 are early; 135 and later too far ahead to name.
    expect(() => b.open(sent[70 + DIAGNOSIS_WINDOW]!)).toThrow(new PacketReorderedError(70, 70 + DIAGNOSIS_WINDOW));
    expect(() => b.open(sent[70 + DIAGNOSIS_WINDOW + 1]!)).toThrow(PacketDecryptionError);
    // Its own packets: the last 64 sent are named, older ones are not.
    const own = Array.from({ length: 70 }, (_, n) => b.seal(bytes(n)));
    expect(() => b.open(own[70 - DIAGNOSIS_WINDOW]!)).toThrow(new PacketReflectedError(70 - DIAGNOSIS_WINDOW));
    expect(() => b.open(own[70 - DIAGNOSIS_WINDOW - 1]!)).toThrow(PacketDecryptionError);
    // None of this moved the counter: the next packet still opens.
    expect(b.open(sent[70]!)).toEqual(bytes(70));
  });

  it('a packet that is noise is a plain decryption failure, early in a session and at its very end', () => {
    const noise = new Uint8Array(PACKET_SIZE).fill(0xa5);
    const [ka, kb] = pairOfKeys();
    const b = new ChannelCipher(kb);
    new ChannelCipher(ka);
    expect(() => b.open(noise)).toThrow(PacketDecryptionError);
    // Near the last counter the window ahead runs past it: nothing beyond is ever tried.
    const late = new ChannelCipher(kb, MAX_PACKET_COUNTER - 1);
    late.seal(bytes(1));
    expect(() => late.open(noise)).toThrow(PacketDecryptionError);
  });

  it('a packet that authenticates but is badly framed is a framing error, not taken for a replay', () => {
    const [ka, kb] = pairOfKeys();
    const b = new ChannelCipher(kb);
    // Only a holder of the key can make one: a frame with non-zero padding, sealed under counter 0.
    const frame = encodeFrame(bytes(1), SEALED_FRAME_SIZE);
    frame[SEALED_FRAME_SIZE - 1] = 1;
    const packet = secretboxSeal(ka.send, frame, counterNonce(0)).subarray(NONCE_SIZE);
    expect(() => b.open(packet)).toThrow(FrameInvalidError);
  });

  it('a wiped cipher seals nothing its peer opens and opens nothing', () => {
    const [ka, kb] = pairOfKeys();
    const a = new ChannelCipher(ka);
    const b = new ChannelCipher(kb);
    const before = a.seal(bytes(0));
    b.wipe();
    expect(() => b.open(before)).toThrow(PacketDecryptionError);
    a.wipe();
    expect(() => new ChannelCipher(kb).open(a.seal(bytes(1)))).toThrow(PacketDecryptionError);
  });

  it('property: whatever a network does with the packets, only the next one in order opens', () => {
    // A hostile network's moves: deliver any packet sent so far (fresh, old or early), or
    // reflect one of the receiver's own packets back to it.
    const move = fc.oneof(
      fc.record({ kind: fc.constant('deliver' as const), index: fc.nat(12) }),
      fc.record({ kind: fc.constant('reflect' as const), index: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(move, { maxLength: 30 }), (moves) => {
        const [ka, kb] = pairOfKeys();
        const sender = new ChannelCipher(ka);
        const receiver = new ChannelCipher(kb);
        const sent = Array.from({ length: 13 }, (_, n) => sender.seal(bytes(n)));
        const own = Array.from({ length: 4 }, (_, n) => receiver.seal(bytes(100 + n)));
        for (const m of moves) {
          const expected = receiver.received;
          if (m.kind === 'reflect') {
            expect(() => receiver.open(own[m.index]!)).toThrow(PacketReflectedError);
          } else if (m.index === expected) {
            expect(receiver.open(sent[m.index]!)).toEqual(bytes(m.index));
          } else {
            expect(() => receiver.open(sent[m.index]!)).toThrow(m.index < expected ? PacketReplayedError : PacketReorderedError);
          }
          // A refused packet moves nothing: the next one in order still opens.
          expect(receiver.received).toBe(m.kind === 'deliver' && m.index === expected ? expected + 1 : expected);
        }
      }),
    );
  });
});

describe('Connection at the end of its counter', () => {
  async function socketPair(): Promise<[Socket, Socket]> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address() as { port: number };
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const dialled = createConnection({ host: '127.0.0.1', port: address.port });
    await once(dialled, 'connect');
    const [socket] = await accepted;
    server.close();
    return [dialled, socket];
  }

  /** Two connections over one real socket pair (no handshake), and keys that match each other. */
  async function connectionPair() {
    const [da, db] = await socketPair();
    const a = new Connection({ socket: da, outbound: true, localIdentity: Identity.generate() });
    const b = new Connection({ socket: db, outbound: false, localIdentity: Identity.generate() });
    const [ka, kb] = pairOfKeys();
    return { a, b, db, ka, kb };
  }

  it('sends the last packet, then closes with COUNTER_EXHAUSTED instead of sealing another', async () => {
    const { a, b, ka, kb } = await connectionPair();
    a.setSessionKeys(ka, MAX_PACKET_COUNTER);
    b.setSessionKeys(kb, MAX_PACKET_COUNTER);
    expect(() => a.setSessionKeys(ka)).toThrow(/already set/);
    await a.send(bytes(7));
    expect(await b.expect()).toEqual(bytes(7));
    await expect(a.send(bytes(8))).rejects.toBeInstanceOf(CounterExhaustedError);
    expect(await a.closed).toMatchObject({ code: 'COUNTER_EXHAUSTED' });
    b.close();
  });

  it('an oversized payload is refused at once and leaves the session open', async () => {
    const { a, b, ka, kb } = await connectionPair();
    a.setSessionKeys(ka);
    b.setSessionKeys(kb);
    expect(() => a.send(new Uint8Array(MAX_SEALED_PAYLOAD + 1))).toThrow(FrameTooLargeError);
    expect(a.isClosed).toBe(false);
    // The refused payload took no counter: the next one opens on the other side.
    await a.send(bytes(3));
    expect(await b.expect()).toEqual(bytes(3));
    a.close();
    b.close();
  });

  it('reads packets whatever the byte stream’s cuts: split across chunks, or several in one', async () => {
    const { a, b, db, ka, kb } = await connectionPair();
    const sender = new ChannelCipher(ka);
    b.setSessionKeys(kb);
    const stream = Buffer.concat([0, 1, 2].map((n) => sender.seal(bytes(n))));
    // Chunks handed to the connection directly, so the cuts are exactly these on every run.
    for (const [from, to] of [
      [0, 100],
      [100, PACKET_SIZE + 5],
      [PACKET_SIZE + 5, 3 * PACKET_SIZE],
    ] as const) {
      db.emit('data', stream.subarray(from, to));
    }
    expect([await b.expect(), await b.expect(), await b.expect()]).toEqual([0, 1, 2].map(bytes));
    a.close();
    b.close();
  });
});

describe('a man in the middle of a real session (loopback sockets, honest peers)', () => {
  let world: LoopbackWorld;
  beforeEach(async () => {
    world = await loopbackWorld();
  });
  afterEach(async () => {
    await world.cleanup();
  });

  // Packets in each direction: 0 admission, 1 auth message, 2 sealed commitment (counter 0),
  // then the echo session's payloads (counter 1, 2, …).
  const FIRST_PAYLOAD = 3;

  async function sessionThrough(rule: PacketRule, payloads: number): Promise<{ serverError: Promise<unknown>; echoes: Promise<unknown[]> }> {
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    const proxy = await packetProxy(world.registryDir, server.onion, TAPIR_PORT, rule);
    const conn = await world.client().connect(server.onion, new ApplicationChain([new AuthApp()]));
    const echoes = (async () => {
      const got: unknown[] = [];
      for (let n = 0; n < payloads; n++) await conn.send(bytes(n));
      try {
        for (let n = 0; n < payloads; n++) got.push(await conn.expect());
      } catch (error) {
        got.push(error);
      }
      conn.close();
      await proxy.close();
      return got;
    })();
    return { serverError, echoes };
  }

  it('a packet played twice closes the session with PACKET_REPLAYED', async () => {
    const { serverError, echoes } = await sessionThrough(
      (direction, index, packet) => ({ forward: direction === 'to-service' && index === FIRST_PAYLOAD ? [packet, packet] : [packet] }),
      2,
    );
    expect(await serverError).toMatchObject({ code: 'PACKET_REPLAYED', expected: 2, counter: 1 });
    // The replayed payload was never echoed a second time.
    expect((await echoes)[0]).toEqual(bytes(0));
  });

  it('two packets swapped close the session with PACKET_REORDERED', async () => {
    let held: Buffer | undefined;
    const { serverError, echoes } = await sessionThrough((direction, index, packet) => {
      if (direction !== 'to-service') return { forward: [packet] };
      if (index === FIRST_PAYLOAD) {
        held = packet;
        return { forward: [] };
      }
      if (index === FIRST_PAYLOAD + 1) return { forward: [packet, held!] };
      return { forward: [packet] };
    }, 2);
    expect(await serverError).toMatchObject({ code: 'PACKET_REORDERED', expected: 1, counter: 2 });
    expect((await echoes)[0]).not.toEqual(bytes(1));
  });

  it('the service’s own payload sent back to it closes the session with PACKET_REFLECTED', async () => {
    const { serverError, echoes } = await sessionThrough(
      (direction, index, packet) => ({ forward: [packet], reflect: direction === 'to-dialler' && index === FIRST_PAYLOAD }),
      1,
    );
    expect(await serverError).toMatchObject({ code: 'PACKET_REFLECTED', counter: 1 });
    await echoes;
  });

  it('the service’s own key confirmation sent back to it is refused (one shared key would have accepted it)', async () => {
    // The commitment is the same bytes on both sides; under one shared key the reflected copy
    // opened and matched, and the service took the network for the dialler.
    let held: Buffer | undefined;
    const { service: server, nextError } = await world.echoServer();
    const serverError = nextError();
    const proxy = await packetProxy(world.registryDir, server.onion, TAPIR_PORT, (direction, index, packet) => {
      if (direction === 'to-service' && index === 2) {
        held = packet;
        return { forward: [] };
      }
      return { forward: [packet], reflect: direction === 'to-dialler' && index === 2 };
    });
    const outcome = world
      .client()
      .connect(server.onion, new ApplicationChain([new AuthApp()]))
      .then(
        async (conn) => {
          await conn.expect().catch(() => undefined);
          return 'closed by the service';
        },
        () => 'refused',
      );
    expect(await serverError).toMatchObject({ code: 'PACKET_REFLECTED', counter: 0 });
    expect(server.metrics.established).toBe(0);
    expect(held).toBeDefined();
    expect(['closed by the service', 'refused']).toContain(await outcome);
    await proxy.close();
  });
});

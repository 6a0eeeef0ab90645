// Tests added because a mutation run (npm run mutate -- tapir) showed these checks could be
// removed or weakened with every other test still passing.
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, randomKey, toBase64 } from '@pursuance/crypto';
import {
  ApplicationChain,
  AuthApp,
  Connection,
  MAX_PLAIN_PAYLOAD,
  MAX_POW_DIFFICULTY,
  PACKET_SIZE,
  ProofOfWorkApp,
  TAPIR_PORT,
  encodeFrame,
  sealPacket,
  type Application,
  type TapirError,
} from '../src/index.js';
import { FrameInvalidError } from '../src/errors.js';
import { decodeFrame, openPacket } from '../src/frame.js';
import { meetsDifficulty, solveProofOfWork } from '../src/pow.js';
import { echoApp, loopbackWorld, type LoopbackWorld } from './support/loopback.js';
import { admitOutbound } from '../src/admission.js';

let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

/** y = 2 (sign bit clear) has no x on the curve. */
const NOT_A_POINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 2 : 0));

describe('3DH with keys that are not curve points', () => {
  it('the test key really is not a point (checked with @noble directly)', () => {
    expect(() => ed25519.Point.fromBytes(NOT_A_POINT)).toThrow();
  });

  /** Dial `onion` raw and send an auth message announcing the given keys. */
  async function announce(onion: string, longTerm: Uint8Array, ephemeral: Uint8Array): Promise<Connection> {
    const socket = await world.acn().open(onion as never, TAPIR_PORT);
    const conn = new Connection({ socket, outbound: true, localIdentity: Identity.generate() });
    await admitOutbound(conn);
    await conn.send(new TextEncoder().encode(JSON.stringify({ LongTermPublicKey: toBase64(longTerm), EphemeralPublicKey: toBase64(ephemeral) })));
    return conn;
  }

  for (const which of ['long-term', 'ephemeral'] as const) {
    it(`a peer announcing a ${which} key that is not a point is refused as HANDSHAKE_INVALID`, async () => {
      const { service, nextError } = await world.echoServer();
      const error = nextError();
      const valid = Identity.generate().publicKey;
      const conn = await announce(service.onion, which === 'long-term' ? NOT_A_POINT : valid, which === 'long-term' ? valid : NOT_A_POINT);
      expect((await error).code).toBe('HANDSHAKE_INVALID');
      expect(service.metrics.established).toBe(0);
      conn.close();
    });
  }
});

describe('frame length prefix at its boundaries', () => {
  it('round-trips every payload length where the prefix changes width, and the extremes', () => {
    for (const length of [0, 1, 0x7f, 0x80, 0x81, 0xff, 0x100, MAX_PLAIN_PAYLOAD - 1, MAX_PLAIN_PAYLOAD]) {
      const payload = Uint8Array.from({ length }, (_, i) => (i * 7 + 1) & 0xff);
      expect(decodeFrame(encodeFrame(payload)), `payload of ${length} bytes`).toEqual(payload);
    }
  });

  it('writes 127 in one byte and 128 in two (the minimal encoding the parser demands)', () => {
    expect(Array.from(encodeFrame(new Uint8Array(0x7f)).subarray(0, 2))).toEqual([0x7f, 0x00]);
    expect(Array.from(encodeFrame(new Uint8Array(0x80)).subarray(0, 2))).toEqual([0x80, 0x01]);
  });

  it('refuses a frame that is longer or shorter than its size, even with all-zero padding', () => {
    const frame = encodeFrame(new Uint8Array([1, 2, 3]));
    for (const wrong of [Uint8Array.from([...frame, 0]), frame.subarray(0, PACKET_SIZE - 1)]) {
      expect(() => decodeFrame(wrong)).toThrow(FrameInvalidError);
    }
  });
});

describe('openPacket', () => {
  it('refuses a packet that is not exactly one packet long as FRAME_INVALID, before decrypting', () => {
    const key = randomKey();
    const packet = sealPacket(key, 0, new Uint8Array([1, 2, 3]));
    expect(packet.length).toBe(PACKET_SIZE);
    expect(openPacket(key, 0, packet)).toEqual(new Uint8Array([1, 2, 3]));
    for (const wrong of [packet.subarray(0, PACKET_SIZE - 1), Uint8Array.from([...packet, 0])]) {
      expect(() => openPacket(key, 0, wrong)).toThrow(FrameInvalidError);
    }
  });
});

describe('ProofOfWorkApp configuration', () => {
  it('accepts integer difficulties 0…MAX and refuses anything else', () => {
    for (const difficulty of [0, 1, MAX_POW_DIFFICULTY]) expect(() => new ProofOfWorkApp({ difficulty })).not.toThrow();
    for (const difficulty of [-1, MAX_POW_DIFFICULTY + 1, 1.5, Number.NaN]) expect(() => new ProofOfWorkApp({ difficulty })).toThrow(RangeError);
  });
});

describe('solveProofOfWork', () => {
  it('yields to the event loop while searching and stops when aborted', async () => {
    const controller = new AbortController();
    let ticks = 0;
    // Another task on the same event loop: it can only run if the search yields.
    const other = (): void => {
      ticks += 1;
      if (ticks === 3) controller.abort();
      else setImmediate(other);
    };
    setImmediate(other);
    // 32 bits is practically never met in the few thousand hashes before the abort.
    await expect(solveProofOfWork(new Uint8Array(32), MAX_POW_DIFFICULTY, controller.signal)).rejects.toThrow(/abort/i);
    expect(ticks).toBe(3);
  });

  it('without a signal, finishes a search that spans many yield points', async () => {
    // 18 bits take ~2^18 hashes on average, far past the 4096-hash yield interval (the chance of
    // finishing before the first yield is ~1.6 %; the test holds either way).
    const challenge = new Uint8Array(32).fill(3);
    const solution = await solveProofOfWork(challenge, 18);
    expect(meetsDifficulty(solution, challenge, 18)).toBe(true);
  });
});

describe('the client side of proof of work', () => {
  const DIFFICULTY = 6;
  const powServer = (difficulty: number) => () => new ApplicationChain([new ProofOfWorkApp({ difficulty }), new AuthApp()], echoApp());

  it('accepts a server that demands exactly its maximum difficulty', async () => {
    const { service } = await world.echoServer({}, powServer(DIFFICULTY));
    const conn = await world.client().connect(service.onion, new ApplicationChain([new ProofOfWorkApp({ maxDifficulty: DIFFICULTY }), new AuthApp()]));
    await conn.send(Uint8Array.of(5));
    expect(await conn.expect()).toEqual(Uint8Array.of(5));
    conn.close();
  });

  it('refuses one bit more as POW_TOO_HARD', async () => {
    const { service } = await world.echoServer({}, powServer(DIFFICULTY + 1));
    const dial = world.client().connect(service.onion, new ApplicationChain([new ProofOfWorkApp({ maxDifficulty: DIFFICULTY }), new AuthApp()]));
    await expect(dial).rejects.toMatchObject({ code: 'PROOF_OF_WORK_TOO_HARD' });
  });

  /** A server that sends a challenge with a seed of `seedBytes` bytes, then waits. */
  const seedServer = (seedBytes: number) => (): Application => ({
    name: 'odd-seed',
    async run(conn: Connection) {
      await conn.sendJSON({ Seed: toBase64(new Uint8Array(seedBytes).fill(1)), Difficulty: 1 });
      await conn.expect();
    },
  });

  it('refuses a challenge whose seed is not 32 bytes as a protocol violation', async () => {
    for (const seedBytes of [31, 33]) {
      const { service } = await world.echoServer({}, seedServer(seedBytes));
      const dial = world.client().connect(service.onion, new ProofOfWorkApp());
      const error = (await dial.then(
        () => undefined,
        (e: unknown) => e,
      )) as TapirError | undefined;
      expect(error?.code, `seed of ${seedBytes} bytes`).toBe('PROTOCOL_VIOLATION');
      expect(error?.message).toMatch(/base64 of 32 bytes/);
    }
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, sha256 } from '@pursuance/crypto';
import { ApplicationChain, Connection, ProofOfWorkApp, TAPIR_PORT } from '../src/index.js';
import { POW_CHALLENGE, POW_DIFFICULTY, POW_PROTOCOL_LABEL, POW_SEED } from '../src/wire-profile.js';
import { meetsDifficulty } from '../src/pow.js';
import { echoApp, loopbackWorld, type LoopbackWorld } from './support/loopback.js';
import { admitOutbound } from '../src/admission.js';

/**
 * Proof-of-work boundary: with difficulty d, a solution whose hash has exactly d leading zero
 * bits passes and one with exactly d−1 fails. Solutions are found with a bit-by-bit counter
 * written here, independent of the module's own leadingZeroBits, so an off-by-one there cannot
 * hide itself by also steering the search.
 */
function zeroBitsReference(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    for (let mask = 0x80; mask > 0; mask >>= 1) {
      if ((byte & mask) !== 0) return bits;
      bits++;
    }
  }
  return bits;
}

/** A 32-byte candidate whose SHA-256(candidate ‖ challenge) has exactly `bits` leading zero bits. */
function solutionWithExactly(bits: number, challenge: Uint8Array): Uint8Array {
  const candidate = new Uint8Array(32);
  const view = new DataView(candidate.buffer);
  for (let counter = 0; ; counter++) {
    view.setUint32(28, counter);
    if (zeroBitsReference(sha256(candidate, challenge)) === bits) return candidate;
  }
}

describe('meetsDifficulty at the boundary', () => {
  const challenge = sha256(new TextEncoder().encode('pow boundary challenge'));
  // Byte-aligned and unaligned difficulties: 8 and 16 put the boundary on a byte edge.
  for (const d of [1, 2, 7, 8, 9, 12, 15, 16]) {
    it(`difficulty ${d}: exactly ${d} zero bits pass, exactly ${d - 1} fail`, () => {
      const exact = solutionWithExactly(d, challenge);
      const short = solutionWithExactly(d - 1, challenge);
      expect(meetsDifficulty(exact, challenge, d)).toBe(true);
      expect(meetsDifficulty(short, challenge, d)).toBe(false);
      // The same d−1 solution is fine one bit lower: the check is "at least", not "exactly".
      expect(meetsDifficulty(short, challenge, d - 1)).toBe(true);
    });
  }
});

describe('a proof-of-work gate on the wire', () => {
  let world: LoopbackWorld;
  beforeEach(async () => {
    world = await loopbackWorld();
  });
  afterEach(async () => {
    await world.cleanup();
  });

  const DIFFICULTY = 12;

  /**
   * A hand-driven client: reads the server's challenge, derives the connection-bound challenge
   * exactly as ProofOfWorkApp does, and sends a solution with a chosen number of zero bits.
   */
  async function solveWithExactly(serverOnion: string, bits: number): Promise<Connection> {
    const socket = await world.acn().open(serverOnion as never, TAPIR_PORT);
    const conn = new Connection({ socket, outbound: true, localIdentity: Identity.generate() });
    await admitOutbound(conn);
    conn.transcript.newProtocol(POW_PROTOCOL_LABEL);
    const { Seed, Difficulty } = JSON.parse(new TextDecoder().decode(await conn.expect())) as { Seed: string; Difficulty: number };
    expect(Difficulty).toBe(DIFFICULTY);
    conn.transcript.add(POW_SEED, new Uint8Array(Buffer.from(Seed, 'base64')));
    conn.transcript.add(POW_DIFFICULTY, String(Difficulty));
    const challenge = conn.transcript.commit(POW_CHALLENGE, 32);
    await conn.sendJSON({ Solution: Buffer.from(solutionWithExactly(bits, challenge)).toString('base64') });
    return conn;
  }

  it(`admits a solution with exactly ${DIFFICULTY} bits and refuses one with ${DIFFICULTY - 1}`, async () => {
    const { service: server, nextError } = await world.echoServer({}, () => new ApplicationChain([new ProofOfWorkApp({ difficulty: DIFFICULTY })], echoApp()));

    const exact = await solveWithExactly(server.onion, DIFFICULTY);
    await exact.send(Uint8Array.of(8));
    expect(await exact.expect()).toEqual(Uint8Array.of(8));
    expect(server.metrics.established).toBe(1);

    const refused = nextError();
    const short = await solveWithExactly(server.onion, DIFFICULTY - 1);
    expect((await refused).code).toBe('PROOF_OF_WORK_INVALID');
    await expect(short.expect()).rejects.toThrow();
    expect(server.metrics.established).toBe(1);
  });
});

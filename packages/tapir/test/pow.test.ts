import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, Connection, ProofOfWorkApp, TAPIR_PORT } from '../src/index.js';
import { PROOF_OF_WORK_CAPABILITY } from '../src/wire-profile.js';
import { ProofOfWorkTooHardError } from '../src/errors.js';
import { leadingZeroBits, meetsDifficulty, solveProofOfWork } from '../src/pow.js';
import { admitOutbound } from '../src/admission.js';
import { echoApp, loopbackWorld, type LoopbackWorld } from './support/loopback.js';

let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

describe('proof-of-work primitives', () => {
  it('counts leading zero bits', () => {
    expect(leadingZeroBits(Uint8Array.of(0, 0, 0x80))).toBe(16);
    expect(leadingZeroBits(Uint8Array.of(0, 0x01))).toBe(15);
    expect(leadingZeroBits(Uint8Array.of(0xff))).toBe(0);
    expect(leadingZeroBits(new Uint8Array(4))).toBe(32);
  });

  it('finds solutions that meet the difficulty and are bound to the challenge', async () => {
    const challenge = new Uint8Array(32).fill(9);
    const solution = await solveProofOfWork(challenge, 12);
    expect(meetsDifficulty(solution, challenge, 12)).toBe(true);
    // The same solution against another challenge almost surely fails 12 bits (p = 2^-12).
    const other = new Uint8Array(32).fill(10);
    expect(meetsDifficulty(solution, other, 24)).toBe(false);
  });
});

describe('application chains with proof of work', () => {
  it('runs an unauthenticated PoW gate (token-service shape) with an operator-set difficulty', async () => {
    const { service: server } = await world.echoServer({}, () => new ApplicationChain([new ProofOfWorkApp({ difficulty: 10 })], echoApp()));
    const serverConn = new Promise<Connection>((resolve) => server.once('established', resolve));
    const conn = await world.client().connect(server.onion, new ApplicationChain([new ProofOfWorkApp()]));
    expect((await serverConn).hasCapability(PROOF_OF_WORK_CAPABILITY)).toBe(true);
    expect(conn.isEncrypted).toBe(false);
    await conn.send(Uint8Array.of(5));
    expect(await conn.expect()).toEqual(Uint8Array.of(5));
  });

  it('chains auth → proof of work, the work bound to the authenticated session', async () => {
    const chain = () => new ApplicationChain([new AuthApp(), new ProofOfWorkApp({ difficulty: 8 })], echoApp());
    const { service: server } = await world.echoServer({}, chain);
    const conn = await world.client().connect(server.onion, new ApplicationChain([new AuthApp(), new ProofOfWorkApp()]));
    expect(conn.capabilities).toEqual(['AuthenticationCapability', PROOF_OF_WORK_CAPABILITY]);
    await conn.send(Uint8Array.of(6));
    expect(await conn.expect()).toEqual(Uint8Array.of(6));
  });

  it('lets a client refuse a server that demands too much work', async () => {
    const { service: server } = await world.echoServer({}, () => new ApplicationChain([new ProofOfWorkApp({ difficulty: 20 })], echoApp()));
    await expect(world.client().connect(server.onion, new ApplicationChain([new ProofOfWorkApp({ maxDifficulty: 10 })]))).rejects.toBeInstanceOf(
      ProofOfWorkTooHardError,
    );
  });

  async function rawClient(onion: string): Promise<Connection> {
    const socket = await world.acn().open(onion as never, TAPIR_PORT);
    const conn = new Connection({ socket, outbound: true, localIdentity: Identity.generate() });
    await admitOutbound(conn);
    return conn;
  }

  it('rejects a wrong solution with PROOF_OF_WORK_INVALID', async () => {
    const { service: server, nextError } = await world.echoServer({}, () => new ApplicationChain([new ProofOfWorkApp({ difficulty: 28 })], echoApp()));
    const error = nextError();
    const conn = await rawClient(server.onion);
    await conn.expect(); // the challenge
    await conn.sendJSON({ Solution: toBase64(new Uint8Array(32).fill(1)) });
    expect((await error).code).toBe('PROOF_OF_WORK_INVALID');
  });

  it('closes a client that skips the work and speaks the application protocol', async () => {
    const { service: server, nextError } = await world.echoServer({}, () => new ApplicationChain([new ProofOfWorkApp({ difficulty: 8 })], echoApp()));
    const error = nextError();
    const conn = await rawClient(server.onion);
    await conn.sendJSON({ PostRequest: { EGM: 'x' } });
    expect((await error).code).toBe('PROTOCOL_VIOLATION');
  });
});

import { createConnection, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, sha256, toBase64 } from '@pursuance/crypto';
import {
  ApplicationChain,
  AuthApp,
  Connection,
  PACKET_SIZE,
  TAPIR_PORT,
  TAPIR_WIRE_VERSION,
  TapirError,
  TapirService,
  encodeFrame,
  type Application,
} from '../src/index.js';
import {
  AdmissionTickets,
  admissionChallenge,
  admissionDifficulty,
  admissionPolicy,
  admitOutbound,
  encodeAdmissionHello,
  encodeAdmissionReply,
  parseAdmissionHello,
  parseAdmissionReply,
} from '../src/admission.js';
import { leadingZeroBits, solveProofOfWork } from '../src/pow.js';
import { ADMISSION_NONCE_SIZE, ADMISSION_TICKET_SIZE } from '../src/wire-profile.js';
import { echoApp, loopbackWorld, type LoopbackWorld } from './support/loopback.js';
import { interpose } from './support/proxy.js';
import { slowLink } from './support/slow-link.js';

/**
 * Admission (tapir wire version 2): under pressure a service demands proof of work before it
 * spends any handshake work, difficulty rising with load; diallers solve it transparently and,
 * when a flood pushes them out while they solve, redial with the solved ticket.
 */
let world: LoopbackWorld;
beforeEach(async () => {
  world = await loopbackWorld();
});
afterEach(async () => {
  await world.cleanup();
});

const encoder = new TextEncoder();

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** Auth → echo, counting how often the auth step (the first handshake work) starts. */
function countingChain(counter: { auth: number }): () => Application {
  return () =>
    new ApplicationChain(
      [
        {
          name: 'count',
          run: () => {
            counter.auth += 1;
            return Promise.resolve();
          },
        },
        new AuthApp(),
      ],
      echoApp(),
    );
}

async function rawConnection(onion: string): Promise<Connection> {
  const socket = await world.acn().open(onion as never, TAPIR_PORT);
  return new Connection({ socket, outbound: true, localIdentity: Identity.generate() });
}

/** Raw sockets that connect and never send a byte (drained so the server's writes never block). */
async function holdSockets(onion: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await world.acn().open(onion as never, TAPIR_PORT);
    socket.on('error', () => undefined);
    socket.resume();
    sockets.push(socket);
  }
  return sockets;
}

/** A nonce whose hash has exactly `bits` leading zero bits (by search, checked independently of the module). */
function nonceWithExactly(bits: number, challenge: Uint8Array): Uint8Array {
  for (let i = 0; ; i++) {
    const nonce = new Uint8Array(32);
    new DataView(nonce.buffer).setUint32(28, i);
    if (leadingZeroBits(sha256(nonce, challenge)) === bits) return nonce;
  }
}

describe('admission messages', () => {
  const b64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map(toBase64);
  const solution = fc.oneof(
    fc.constant(null),
    fc.record({ Ticket: fc.oneof(b64(ADMISSION_TICKET_SIZE, ADMISSION_TICKET_SIZE), b64(0, 60)), Nonce: fc.oneof(b64(32, 32), b64(0, 40)) }),
    fc.jsonValue(),
  );
  const helloish = fc.oneof(
    fc.record({ TapirHello: fc.oneof(fc.constant(TAPIR_WIRE_VERSION), fc.integer(), fc.double()), Solution: solution }),
    fc.record({ TapirHello: fc.constant(TAPIR_WIRE_VERSION), Solution: solution, Extra: fc.jsonValue() }),
    fc.record({ LongTermPublicKey: b64(32, 32), EphemeralPublicKey: b64(32, 32) }),
    fc.jsonValue(),
  );
  const replyish = fc.oneof(
    fc.record({
      TapirAdmission: fc.oneof(fc.constant(TAPIR_WIRE_VERSION), fc.integer()),
      Demand: fc.oneof(
        fc.constant(null),
        fc.record({
          Ticket: fc.oneof(b64(ADMISSION_TICKET_SIZE, ADMISSION_TICKET_SIZE), b64(0, 60)),
          Bits: fc.oneof(fc.integer({ min: 1, max: 32 }), fc.integer()),
        }),
        fc.jsonValue(),
      ),
    }),
    fc.record({ LongTermPublicKey: b64(32, 32), EphemeralPublicKey: b64(32, 32) }),
    fc.jsonValue(),
  );
  const bytes = (json: fc.Arbitrary<unknown>) =>
    fc.oneof(
      json.map((v) => encoder.encode(JSON.stringify(v))),
      fc.uint8Array({ maxLength: 300 }),
      fc.string().map((s) => encoder.encode(s)),
    );
  const typed = (err: unknown) => err instanceof TapirError && ['PROTOCOL_VIOLATION', 'WIRE_VERSION_UNSUPPORTED'].includes(err.code);

  it('the hello parser gives a well-formed hello or a typed error for 20,000 inputs', () => {
    let parsed = 0;
    fc.assert(
      fc.property(bytes(helloish), (input) => {
        try {
          const hello = parseAdmissionHello(input);
          expect(hello.version).toBe(TAPIR_WIRE_VERSION);
          if (hello.solution) {
            expect(hello.solution.ticket).toHaveLength(ADMISSION_TICKET_SIZE);
            expect(hello.solution.nonce).toHaveLength(ADMISSION_NONCE_SIZE);
          }
          parsed++;
        } catch (err) {
          if (!typed(err)) throw err;
        }
      }),
      { numRuns: 20_000 },
    );
    expect(parsed).toBeGreaterThan(100);
  });

  it('the reply parser gives a well-formed reply or a typed error for 20,000 inputs', () => {
    let parsed = 0;
    fc.assert(
      fc.property(bytes(replyish), (input) => {
        try {
          const reply = parseAdmissionReply(input);
          if (reply.demand) {
            expect(reply.demand.ticket).toHaveLength(ADMISSION_TICKET_SIZE);
            expect(reply.demand.bits).toBeGreaterThanOrEqual(1);
            expect(reply.demand.bits).toBeLessThanOrEqual(32);
          }
          parsed++;
        } catch (err) {
          if (!typed(err)) throw err;
        }
      }),
      { numRuns: 20_000 },
    );
    expect(parsed).toBeGreaterThan(100);
  });

  it('round-trips every hello and reply', () => {
    const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(fc.option(fc.record({ ticket: bytesOf(ADMISSION_TICKET_SIZE), nonce: bytesOf(ADMISSION_NONCE_SIZE) }), { nil: undefined }), (s) => {
        expect(parseAdmissionHello(encodeAdmissionHello(s)).solution).toEqual(s);
      }),
    );
    fc.assert(
      fc.property(fc.option(fc.record({ ticket: bytesOf(ADMISSION_TICKET_SIZE), bits: fc.integer({ min: 1, max: 32 }) }), { nil: undefined }), (d) => {
        expect(parseAdmissionReply(encodeAdmissionReply(d)).demand).toEqual(d);
      }),
    );
  });

  it('a version-1 first packet (the auth message) is named as such on either side', () => {
    const v1 = encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(new Uint8Array(32)), EphemeralPublicKey: toBase64(new Uint8Array(32)) }));
    expect(() => parseAdmissionHello(v1)).toThrow(expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }));
    expect(() => parseAdmissionReply(v1)).toThrow(expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }));
    expect(() => parseAdmissionHello(encoder.encode('{"TapirHello":1,"Solution":null}'))).toThrow(
      expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }),
    );
    expect(() => parseAdmissionReply(encoder.encode('{"TapirAdmission":4,"Demand":null}'))).toThrow(
      expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }),
    );
  });

  it('a version-2 peer (one shared session key, random nonces) is refused on either side', () => {
    expect(TAPIR_WIRE_VERSION).toBe(3);
    expect(() => parseAdmissionHello(encoder.encode('{"TapirHello":2,"Solution":null}'))).toThrow(
      expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }),
    );
    expect(() => parseAdmissionReply(encoder.encode('{"TapirAdmission":2,"Demand":null}'))).toThrow(
      expect.objectContaining({ code: 'WIRE_VERSION_UNSUPPORTED' }),
    );
  });
});

describe('admission difficulty', () => {
  it('is 0 below the threshold, then the base bits plus one per doubling of the load, capped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 100_000 }),
        (threshold, bits, headroom, load) => {
          const policy = admissionPolicy({ threshold, bits, maxBits: Math.min(32, bits + headroom) });
          const d = admissionDifficulty(load, policy);
          if (load < threshold) expect(d).toBe(0);
          else expect(d).toBe(Math.min(policy.maxBits, bits + Math.floor(Math.log2(load / threshold) + 1e-9)));
          // Monotone: more load never asks for less.
          expect(admissionDifficulty(load + 1, policy)).toBeGreaterThanOrEqual(d);
          expect(admissionDifficulty(load * 2 + 2 * threshold, policy)).toBeGreaterThanOrEqual(
            Math.min(policy.maxBits, Math.max(d, bits) + (load >= threshold ? 1 : 0)),
          );
        },
      ),
    );
    expect(admissionDifficulty(1000, admissionPolicy({ bits: 0 }))).toBe(0);
    // The threshold never exceeds the handshake pool: work is asked before the pool is full.
    expect(admissionPolicy({ threshold: 100 }, 8).threshold).toBe(8);
    expect(() => admissionPolicy({ bits: 33 })).toThrow(RangeError);
    expect(() => admissionPolicy({ bits: 12, maxBits: 10 })).toThrow(RangeError);
  });
});

describe('admission tickets', () => {
  it('admit once with enough work, and refuse forged, short, reused and expired ones', async () => {
    let now = 1_000_000;
    const tickets = new AdmissionTickets(30_000, () => now);
    const ticket = tickets.issue(8);
    const nonce = await solveProofOfWork(admissionChallenge(ticket), 8);
    expect(tickets.redeem({ ticket, nonce })).toBe('ok');
    expect(tickets.redeem({ ticket, nonce })).toBe('stale');

    // A nonce that misses the bits by one: found by search, checked independently of the module.
    const fresh = tickets.issue(8);
    const short = nonceWithExactly(7, admissionChallenge(fresh));
    expect(tickets.redeem({ ticket: fresh, nonce: short })).toBe('short');

    // Raising the bits byte (or any byte) breaks the MAC.
    const solvedFresh = await solveProofOfWork(admissionChallenge(fresh), 8);
    for (const at of [0, 17, 22, ADMISSION_TICKET_SIZE - 1]) {
      const forged = new Uint8Array(fresh);
      forged[at] = forged[at]! ^ 1;
      expect(tickets.redeem({ ticket: forged, nonce: solvedFresh }), `byte ${at}`).toMatch(/forged|short/);
    }
    // Lowering the demanded bits to zero (any nonce would pass) or stretching the expiry is a
    // forgery, not a discount: the MAC covers seed, expiry and bits.
    const cheap = new Uint8Array(fresh);
    cheap[22] = 0; // the bits byte: after the 16-byte seed and the 6-byte expiry
    expect(tickets.redeem({ ticket: cheap, nonce: solvedFresh })).toBe('forged');
    const longer = new Uint8Array(cheap);
    longer[16] = 0xff; // the expiry's high byte
    expect(tickets.redeem({ ticket: longer, nonce: solvedFresh })).toBe('forged');
    // Another service's ticket is forged here.
    const other = new AdmissionTickets(30_000, () => now).issue(1);
    expect(tickets.redeem({ ticket: other, nonce: await solveProofOfWork(admissionChallenge(other), 1) })).toBe('forged');

    now += 30_000;
    expect(tickets.redeem({ ticket: fresh, nonce: solvedFresh })).toBe('stale');
  });
});

describe('a service under pressure', () => {
  it('demands work before any handshake work, with difficulty rising with the connections in setup', async () => {
    const counter = { auth: 0 };
    const { service: server, nextError } = await world.echoServer(
      { admission: { threshold: 4, bits: 6, maxBits: 8 }, maxPendingHandshakes: 8, maxUnadmitted: 64, handshakeTimeoutMs: 600_000 },
      countingChain(counter),
    );
    expect(server.admissionBits).toBe(0);
    const held = await holdSockets(server.onion, 4);
    await until(() => server.metrics.accepted === 4);
    expect(server.admissionBits).toBe(6);
    held.push(...(await holdSockets(server.onion, 4)));
    await until(() => server.metrics.accepted === 8);
    expect(server.admissionBits).toBe(7);
    held.push(...(await holdSockets(server.onion, 24)));
    await until(() => server.metrics.accepted === 32);
    expect(server.admissionBits).toBe(8); // capped (32 / 4 = 3 doublings would be 9)

    // A hello without work gets a demand at the current difficulty; an auth message in place
    // of the solution (a version-1 peer's first packet) closes the connection, and no handshake
    // step ever ran.
    const error = nextError();
    const conn = await rawConnection(server.onion);
    await conn.send(encodeAdmissionHello());
    const reply = parseAdmissionReply(await conn.expect());
    expect(reply.demand?.bits).toBe(8);
    await conn.sendJSON({ LongTermPublicKey: toBase64(Identity.generate().publicKey), EphemeralPublicKey: toBase64(Identity.generate().publicKey) });
    expect((await error).code).toBe('WIRE_VERSION_UNSUPPORTED');

    // Wrong work on a real ticket, and work on a made-up ticket: PROOF_OF_WORK_INVALID.
    for (const forge of [false, true]) {
      const refused = nextError();
      const c = await rawConnection(server.onion);
      await c.send(encodeAdmissionHello());
      const { demand } = parseAdmissionReply(await c.expect());
      const ticket = forge ? new Uint8Array(ADMISSION_TICKET_SIZE).fill(7) : demand!.ticket;
      // Just short of the demand, so only the work check (or the MAC) can refuse it.
      const nonce = nonceWithExactly(demand!.bits - 1, admissionChallenge(ticket));
      await c.send(encodeAdmissionHello({ ticket, nonce }));
      const e = await refused;
      expect(e.code).toBe('PROOF_OF_WORK_INVALID');
      expect(e.message).toMatch(forge ? /not issued/ : /does not meet/);
    }
    expect(counter.auth).toBe(0);
    expect(server.metrics.established).toBe(0);

    // An honest dialler pays transparently and gets through.
    const honest = await world.client().connect(server.onion, new ApplicationChain([new AuthApp()]));
    await honest.send(Uint8Array.of(3));
    expect(await honest.expect()).toEqual(Uint8Array.of(3));
    expect(counter.auth).toBe(1);
    expect(server.metrics).toMatchObject({ admissionPaid: 1, established: 1 });
    expect(server.metrics.admissionDemands).toBeGreaterThanOrEqual(4);
    for (const s of held) s.destroy();
  });

  it('evicts connections that paid only for later payers, after every free or unpaid one', async () => {
    const { service: server, errors } = await world.echoServer({
      admission: { threshold: 2, bits: 4 },
      maxPendingHandshakes: 2,
      maxUnadmitted: 4,
      handshakeTimeoutMs: 600_000,
    });
    // Two connections admitted without work (the service is idle), stalling in their handshake.
    const free = [await rawConnection(server.onion), await rawConnection(server.onion)];
    for (const c of free) await admitOutbound(c);
    // Two that pay (the load is now 2 = the threshold) and stall too: each takes a free one's place.
    const paid = [await rawConnection(server.onion), await rawConnection(server.onion)];
    for (const c of paid) await admitOutbound(c);
    await Promise.all(free.map((c) => c.closed));
    expect(server.metrics).toMatchObject({ admissionPaid: 2, evictedPending: 2, evictedUnpaid: 0 });

    // A flood of sockets that never pay cycles among themselves and never touches the payers.
    const held = await holdSockets(server.onion, 20);
    await until(() => server.metrics.accepted === 24);
    expect(server.metrics.evictedUnpaid).toBe(16);
    expect(paid.every((c) => !c.isClosed)).toBe(true);

    // A later payer takes the place of the oldest payer.
    const later = await rawConnection(server.onion);
    await admitOutbound(later);
    await paid[0]!.closed;
    expect(paid[1]!.isClosed).toBe(false);
    // Its own arrival took the oldest unpaid socket's place (the unadmitted pool was full).
    expect(server.metrics.evictedUnpaid).toBe(17);
    const reasons = errors.filter((e) => e.code === 'CONNECTION_EVICTED').map((e) => (e as TapirError & { reason: string }).reason);
    expect(reasons.filter((r) => r === 'pending')).toHaveLength(3);
    expect(reasons.filter((r) => r === 'unpaid')).toHaveLength(17);
    for (const s of held) s.destroy();
  });

  it('a dialler refuses a version-1 service and more work than its limit', async () => {
    // A version-1 service: sends its auth message first.
    const acn = world.acn();
    const v1 = Identity.generate();
    const v1Sockets: Socket[] = [];
    await acn.listen(v1, TAPIR_PORT, (socket) => {
      v1Sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
      socket.write(
        encodeFrame(encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(v1.publicKey), EphemeralPublicKey: toBase64(Identity.generate().publicKey) }))),
      );
    });
    await expect(world.client().connect(v1.onion, new ApplicationChain([new AuthApp()]))).rejects.toMatchObject({ code: 'WIRE_VERSION_UNSUPPORTED' });
    for (const s of v1Sockets) s.destroy();

    const { service: server } = await world.echoServer({ admission: { threshold: 1, bits: 20 }, handshakeTimeoutMs: 600_000 });
    const held = await holdSockets(server.onion, 1);
    await until(() => server.metrics.accepted === 1);
    const client = new TapirService(world.acn(), Identity.generate(), { maxAdmissionBits: 10 });
    try {
      await expect(client.connect(server.onion, new ApplicationChain([new AuthApp()]))).rejects.toMatchObject({ code: 'PROOF_OF_WORK_TOO_HARD' });
    } finally {
      await client.close();
      for (const s of held) s.destroy();
    }
  });
});

describe('a dialler pushed out while it solves', () => {
  it('redials and presents the solved ticket first, admitted without a second demand', async () => {
    const { service: server } = await world.echoServer({ admission: { threshold: 1, bits: 8 }, maxUnadmitted: 2, handshakeTimeoutMs: 600_000 });
    const held = await holdSockets(server.onion, 1);
    await until(() => server.metrics.accepted === 1);
    // The first connection's solution (its second packet) never reaches the service, so only
    // eviction can end that attempt; everything after it passes.
    let swallowed = false;
    const proxy = await interpose(world.registryDir, server.onion, TAPIR_PORT, (chunk, offset) => {
      const from = Math.max(offset, PACKET_SIZE) - offset;
      const to = Math.min(offset + chunk.length, 2 * PACKET_SIZE) - offset;
      if (from >= to) return chunk;
      if (offset + to === 2 * PACKET_SIZE) swallowed = true;
      return Buffer.concat([chunk.subarray(0, from), chunk.subarray(to)]);
    });
    const client = world.client();
    const connecting = client.connect(server.onion, new ApplicationChain([new AuthApp()]));
    await until(() => swallowed);
    // Two more sockets: the first pushes out the held one, the second the stalled dialler.
    held.push(...(await holdSockets(server.onion, 2)));
    const conn = await connecting;
    await conn.send(Uint8Array.of(9));
    expect(await conn.expect()).toEqual(Uint8Array.of(9));
    expect(client.metrics.admissionRedials).toBe(1);
    expect(server.metrics).toMatchObject({ admissionDemands: 1, admissionPaid: 1, established: 1, refused: 0 });
    for (const s of held) s.destroy();
    conn.close();
    await proxy.close();
  });
});

describe('an attacker re-dialling as fast as it can', () => {
  it('holding sockets and hellos without work, cannot make an honest client fail a handshake', async () => {
    // The relay's defaults for the pools; a handshake timeout beyond the test, so only
    // eviction can remove the attacker's sockets.
    const { service: server } = await world.echoServer({ handshakeTimeoutMs: 600_000 });
    const acn = world.acn();
    let stop = false;
    let dials = 0;
    const sockets = new Set<Socket>();
    // Each loop dials, holds the socket until the server drops it, and dials again at once.
    // Half say hello (asking to be admitted without work), half never send a byte.
    const loop = async (hello: boolean): Promise<void> => {
      while (!stop) {
        let socket: Socket;
        try {
          socket = await acn.open(server.onion, TAPIR_PORT);
        } catch {
          // Never a tight loop: a failing open must not starve the event loop.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        if (stop) {
          socket.destroy();
          break;
        }
        dials += 1;
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.resume();
        if (hello) socket.write(encodeFrame(encodeAdmissionHello()));
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        sockets.delete(socket);
      }
    };
    const attackers = Array.from({ length: 160 }, (_, i) => loop(i % 2 === 0));
    try {
      await until(() => server.metrics.evictedUnpaid >= 1000);
      const client = world.client();
      let ok = 0;
      for (let i = 0; i < 20; i++) {
        const conn = await client.connect(server.onion, new ApplicationChain([new AuthApp()]));
        await conn.send(Uint8Array.of(i));
        expect(await conn.expect()).toEqual(Uint8Array.of(i));
        conn.close();
        ok++;
      }
      expect(ok).toBe(20);
      expect(server.metrics.refused).toBe(0);
      // The honest client paid under the flood, and the service spent handshake work on it only.
      expect(server.metrics.admissionPaid).toBeGreaterThanOrEqual(20);
      expect(server.metrics.established).toBe(20);
      // Figures for the report (not assertions on timing).
      console.info(
        `flood: ${dials} attacker dials, ${server.metrics.evictedUnpaid} unpaid evictions, ${server.metrics.admissionDemands} demands, ` +
          `honest 20/20 with ${client.metrics.admissionRedials} redials, difficulty now ${server.admissionBits} bits`,
      );
    } finally {
      stop = true;
      for (const s of sockets) s.destroy();
      await Promise.all(attackers);
    }
  }, 120_000);
});

describe('an honest dialler on a slow link, an attacker next to the service', () => {
  it('every handshake completes although the flood churns both pools many times over during each one', async () => {
    // TAPIR_FLOOD_BITS=0 runs the same flood against a service that never demands work: then
    // about half the honest handshakes are pushed out (measured: 5/10) and this test fails.
    const { service: server } = await world.echoServer({ handshakeTimeoutMs: 600_000, admission: { bits: Number(process.env.TAPIR_FLOOD_BITS ?? 12) } });
    // 25 ms each way: a handshake takes several round trips, far longer than the flood needs
    // to replace every connection the service holds in setup.
    const link = await slowLink(world.registryDir, server.onion, TAPIR_PORT, 25);
    let stop = false;
    const sockets = new Set<Socket>();
    const loop = async (hello: boolean): Promise<void> => {
      while (!stop) {
        const socket = createConnection(link.direct);
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.resume();
        if (hello) socket.write(encodeFrame(encodeAdmissionHello()));
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        sockets.delete(socket);
      }
    };
    const attackers = Array.from({ length: 160 }, (_, i) => loop(i % 2 === 0));
    const client = world.client();
    const failures: string[] = [];
    try {
      await until(() => server.metrics.evictedUnpaid >= 500);
      for (let i = 0; i < 10; i++) {
        const before = server.metrics.evictedPending;
        try {
          const conn = await client.connect(server.onion, new ApplicationChain([new AuthApp()]));
          await conn.send(Uint8Array.of(i));
          expect(await conn.expect()).toEqual(Uint8Array.of(i));
          conn.close();
        } catch (err) {
          failures.push((err as TapirError).code);
        }
        // The flood went on throughout: more than a pool's worth of evictions per handshake.
        expect(server.metrics.evictedPending - before).toBeGreaterThan(64);
      }
      console.info(
        `slow link: honest ${10 - failures.length}/10 (${failures.join(',') || 'no failures'}), ${client.metrics.admissionRedials} redials, ` +
          `${server.metrics.evictedUnpaid} unpaid / ${server.metrics.evictedPending - server.metrics.evictedUnpaid} admitted evicted, difficulty ${server.admissionBits} bits`,
      );
      expect(failures).toEqual([]);
      expect(server.metrics.established).toBe(10);
    } finally {
      stop = true;
      for (const s of sockets) s.destroy();
      await Promise.all(attackers);
      await link.close();
    }
  }, 120_000);
});

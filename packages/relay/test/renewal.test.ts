import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64, toHex } from '@pursuance/crypto';
import { encodeRenewRequest, encodeRenewResult, parseBoardRequest, parseBoardResponse } from '../src/board-protocol.js';
import { MalformedRequestError, MalformedResponseError, RenewalRefusedError, meetsRenewal, type EncryptedGroupMessage } from '../src/index.js';
import { RENEWAL_CHALLENGE_SIZE } from '../src/protocol-profile.js';
import { randomMessage } from './support/fixtures.js';
import { relayWorld, type RelayWorld } from './support/relay-world.js';

/**
 * Issue 15: a session that holds a live subscription pays for it. Pings prove liveness only;
 * the board's idle timeout is renewed by posting, syncing, or proof of work on a challenge the
 * board hands out (fresh per session, replaced on every renewal).
 */
const encoder = new TextEncoder();

describe('renewal messages', () => {
  const b64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => toBase64(b));
  const nearSize = (size: number) => fc.oneof(b64(size, size), b64(Math.max(0, size - 2), size + 2), fc.string({ maxLength: 8 }));
  const messageType = fc.oneof(fc.constantFrom(5, 6, 7, 8), fc.integer(), fc.constant(null));
  const anything = fc.jsonValue({ maxDepth: 1 });
  const mutate = <T extends object>(arb: fc.Arbitrary<T>) =>
    fc.tuple(arb, fc.constantFrom('none', 'drop', 'add', 'replace'), anything).map(([value, how, extra]) => {
      const obj = structuredClone(value) as Record<string, unknown>;
      const inner = Object.values(obj).find((v) => typeof v === 'object' && v !== null) as Record<string, unknown> | undefined;
      const target = inner ?? obj;
      const key = Object.keys(target)[0] ?? 'x';
      if (how === 'drop') delete target[key];
      if (how === 'add') target.Unexpected = extra;
      if (how === 'replace') target[key] = extra;
      return obj;
    });
  const renewish = mutate(fc.record({ MessageType: messageType, Renew: fc.record({ Solution: fc.oneof(fc.constant(null), nearSize(32), anything) }) }));
  const resultish = mutate(
    fc.record({
      MessageType: fc.oneof(fc.constant(8), messageType),
      RenewResult: fc.oneof(
        fc.record({
          Renewed: fc.oneof(fc.boolean(), anything),
          Challenge: nearSize(RENEWAL_CHALLENGE_SIZE),
          Bits: fc.oneof(fc.integer({ min: -1, max: 33 }), fc.integer({ min: 0, max: 32 }), anything),
        }),
        fc.record({
          Renewed: fc.oneof(fc.boolean(), anything),
          Code: fc.oneof(fc.constantFrom('RENEWAL_INVALID', 'NOPE'), anything),
          Challenge: nearSize(RENEWAL_CHALLENGE_SIZE),
          Bits: fc.integer({ min: 0, max: 32 }),
        }),
      ),
    }),
  );
  const bytes = (arb: fc.Arbitrary<unknown>) =>
    fc.oneof({ weight: 4, arbitrary: arb.map((v) => encoder.encode(JSON.stringify(v))) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) });

  it('the board accepts a Renew with no solution or a 32-byte one and nothing else (30,000 inputs)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(bytes(renewish), (input) => {
        let request;
        try {
          request = parseBoardRequest(input);
        } catch (err) {
          return err instanceof MalformedRequestError;
        }
        if (request.kind !== 'renew') return request.kind === 'ping';
        accepted++;
        if (request.solution !== undefined && request.solution.length !== 32) return false;
        return JSON.stringify(parseBoardRequest(encodeRenewRequest(request.solution))) === JSON.stringify(request);
      }),
      { numRuns: 30_000, seed: 20261203 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('the client accepts only well-formed RenewResults, each re-encoding to itself (30,000 inputs)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(bytes(resultish), (input) => {
        let response;
        try {
          response = parseBoardResponse(input);
        } catch (err) {
          return err instanceof MalformedResponseError;
        }
        if (response.kind !== 'renewResult') return response.kind === 'pong';
        accepted++;
        if (response.challenge.length !== RENEWAL_CHALLENGE_SIZE || response.bits < 0 || response.bits > 32) return false;
        if (response.renewed && response.code !== undefined) return false;
        const { kind: _kind, ...outcome } = response;
        return JSON.stringify(parseBoardResponse(encodeRenewResult(outcome))) === JSON.stringify(response);
      }),
      { numRuns: 30_000, seed: 20261204 },
    );
    expect(accepted).toBeGreaterThan(50);
  });
});

let world: RelayWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** A 32-byte value that does NOT meet `bits` on `challenge` (found by search, so the refusal is certain). */
function wrongSolution(challenge: Uint8Array, bits: number): Uint8Array {
  for (let i = 0; ; i++) {
    const candidate = new Uint8Array(32);
    new DataView(candidate.buffer).setUint32(28, i);
    if (!meetsRenewal(candidate, challenge, bits)) return candidate;
  }
}

describe('paying for a live subscription', () => {
  it('closes subscribers that only ping or present wrong work, and keeps one that pays', async () => {
    world = await relayWorld({ idleTimeoutMs: 1_500, boardLimits: { renewalBits: 10 } });
    const w = world;
    const renewals: string[] = [];
    w.relay.board.on('renewal', (outcome) => renewals.push(outcome));

    // The payer is opened first: were payment not what counts, it would be closed first.
    const payer = w.client({ renewIntervalMs: 300 });
    const paying = await payer.openSession();
    const paid: EncryptedGroupMessage[] = [];
    await paying.subscribe((m) => paid.push(m));

    // Keepalive pings every 100 ms, no renewal: liveness is free, holding the session is not.
    const pinger = w.client({ renewIntervalMs: false, keepalive: { intervalMs: 100, timeoutMs: 5_000 } });
    const pinging = await pinger.openSession();
    await pinging.subscribe(() => undefined);

    // Wrong work on the board's real challenge, every 200 ms: each refused with its code.
    const cheater = w.client({ renewIntervalMs: false, keepalive: false });
    const cheating = await cheater.openSession();
    await cheating.subscribe(() => undefined);
    const refusals: (string | undefined)[] = [];
    let stop = false;
    const cheat = (async () => {
      let { challenge, bits } = await cheating.sendRenewal();
      while (!stop && !cheating.isClosed) {
        const outcome = await cheating.sendRenewal(wrongSolution(challenge, bits)).catch(() => undefined);
        if (outcome === undefined) return;
        refusals.push(outcome.code);
        expect(outcome.renewed).toBe(false);
        expect(toHex(outcome.challenge)).toBe(toHex(challenge)); // unchanged: nothing was paid
        ({ challenge, bits } = outcome);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    try {
      await pinging.closed;
      await cheating.closed;
    } finally {
      stop = true;
      await cheat;
    }
    expect(refusals.length).toBeGreaterThan(0);
    expect(new Set(refusals)).toEqual(new Set(['RENEWAL_INVALID']));
    expect(w.errors.filter((e) => e.code === 'IDLE_TIMEOUT')).toHaveLength(2);
    expect(w.relay.boardService.metrics.idleTimedOut).toBe(2);
    expect(paying.isClosed).toBe(false);
    expect(renewals.filter((r) => r === 'renewed').length).toBeGreaterThan(0);

    // The payer still follows live pushes.
    const poster = w.client();
    const session = await poster.openSession();
    const m = randomMessage();
    await session.post(m);
    await until(() => paid.length === 1);
    expect(toHex(paid[0]!.signature)).toBe(toHex(m.signature));
    await Promise.all([payer.close(), pinger.close(), cheater.close(), poster.close()]);
  }, 60_000);

  it('renew() pays and rotates the challenge; a client refuses a board asking more than its limit', async () => {
    world = await relayWorld({ boardLimits: { renewalBits: 12 } });
    const client = world.client({ renewIntervalMs: false });
    const session = await client.openSession();
    const first = await session.sendRenewal();
    expect(first).toMatchObject({ renewed: false, bits: 12 });
    expect(first.code).toBeUndefined(); // asking for the challenge is not a refusal
    await session.renew();
    const next = await session.sendRenewal();
    expect(toHex(next.challenge)).not.toBe(toHex(first.challenge));
    // The old challenge's work no longer renews: a solution for it is refused on the new one.
    await expect(session.sendRenewal(wrongSolution(next.challenge, 12))).resolves.toMatchObject({ renewed: false, code: 'RENEWAL_INVALID' });

    const stingy = world.client({ renewIntervalMs: false, maxRenewalBits: 8 });
    const stingySession = await stingy.openSession();
    const refused = await stingySession.renew().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RenewalRefusedError);
    expect(refused).toMatchObject({ code: 'RENEWAL_REFUSED', reason: 'RENEWAL_TOO_HARD' });
    await Promise.all([client.close(), stingy.close()]);
  });
});

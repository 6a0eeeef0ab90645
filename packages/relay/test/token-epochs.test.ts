import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { ApplicationChain, ProofOfWorkApp, TapirService, type Application, type Connection } from '@pursuance/tapir';
import {
  MalformedResponseError,
  MemoryRelayStore,
  TokenKeyUnprovenError,
  TokenKeyring,
  TokenProofInvalidError,
  TokenService,
  TokenWallet,
  checkSchedule,
  deriveEpochKey,
  encodeTokenResponse,
  epochAt,
  epochEndMs,
  epochRoot,
  epochStartMs,
  evaluateBlindedBatch,
  generateVoprfKeyPair,
  isIssuable,
  isRedeemable,
  isSpendable,
  oldestRedeemable,
  parseTokenResponse,
  redeemUntilMs,
  spendToken,
  verifyEpochKey,
  type TokenEpochSchedule,
} from '../src/index.js';
import { TOKEN_EPOCH_SKEW_MS, TOKEN_SPEND_MARGIN_MS } from '../src/protocol-profile.js';
import { testTokenKeys } from '../src/testing/index.js';
import { parseTokenRequest } from '../src/token-protocol.js';
import { toTapirError } from '../src/tapir-errors.js';
import { randomMessage } from './support/fixtures.js';
import { relayWorld, type RelayWorld } from './support/relay-world.js';

const DAY = 86_400;
const schedule = fc.record({
  startSeconds: fc.integer({ min: 0, max: 2 ** 34 }),
  epochSeconds: fc.integer({ min: 1, max: 60 * DAY }),
  count: fc.integer({ min: 0, max: 16 }).map((k) => 2 ** k),
  graceSeconds: fc.integer({ min: 0, max: 60 * DAY }),
});

describe('the epoch schedule', () => {
  it('places every moment in at most one epoch, between its start and end', () => {
    fc.assert(
      fc.property(schedule, fc.double({ min: -1, max: 2, noNaN: true }), (s, at) => {
        const span = s.count * s.epochSeconds * 1000;
        const now = s.startSeconds * 1000 + at * span;
        const epoch = epochAt(s, now);
        if (epoch === undefined) {
          expect(now < epochStartMs(s, 0) || now >= epochEndMs(s, s.count - 1)).toBe(true);
        } else {
          expect(now).toBeGreaterThanOrEqual(epochStartMs(s, epoch));
          expect(now).toBeLessThan(epochEndMs(s, epoch));
          expect(isIssuable(s, epoch, now)).toBe(true);
          expect(isRedeemable(s, epoch, now)).toBe(true);
        }
      }),
    );
  });

  it('redeems an epoch exactly until its end plus grace; everything below oldestRedeemable is over', () => {
    fc.assert(
      fc.property(schedule, fc.nat(), fc.double({ min: 0, max: 3, noNaN: true }), (s, e, at) => {
        const epoch = e % s.count;
        const now = epochStartMs(s, epoch) + at * (s.epochSeconds + s.graceSeconds) * 1000;
        expect(isRedeemable(s, epoch, now)).toBe(now < redeemUntilMs(s, epoch));
        const oldest = oldestRedeemable(s, now);
        for (const other of [oldest - 1, oldest - 2, 0]) {
          if (other >= 0 && other < oldest) expect(isRedeemable(s, other, now), `epoch ${other} below ${oldest}`).toBe(false);
        }
        if (oldest < s.count && now >= epochStartMs(s, oldest)) expect(isRedeemable(s, oldest, now)).toBe(true);
        // A client stops spending a token before the relay stops redeeming it.
        if (isSpendable(s, epoch, now)) expect(isRedeemable(s, epoch, now)).toBe(true);
      }),
    );
  });

  it('issues only near now: a neighbour within the skew of the boundary, never two epochs away', () => {
    const s = checkSchedule({ startSeconds: 1_000_000, epochSeconds: DAY, count: 8, graceSeconds: DAY });
    const boundary = epochStartMs(s, 3);
    expect(isIssuable(s, 2, boundary + TOKEN_EPOCH_SKEW_MS - 1)).toBe(true);
    expect(isIssuable(s, 2, boundary + TOKEN_EPOCH_SKEW_MS)).toBe(false);
    expect(isIssuable(s, 3, boundary - TOKEN_EPOCH_SKEW_MS)).toBe(true);
    expect(isIssuable(s, 3, boundary - TOKEN_EPOCH_SKEW_MS - 1)).toBe(false);
    expect(isIssuable(s, 1, boundary)).toBe(false);
    expect(isIssuable(s, 8, epochStartMs(s, 8))).toBe(false);
    for (const absurd of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER, 2 ** 53]) {
      expect(isIssuable(s, absurd, boundary)).toBe(false);
      expect(isRedeemable(s, absurd, boundary)).toBe(false);
      expect(isSpendable(s, absurd, boundary)).toBe(false);
    }
  });

  it('draws every boundary where it says: first and last moments of issuing, redeeming and spending', () => {
    const s = checkSchedule({ startSeconds: 1_000_000, epochSeconds: DAY, count: 8, graceSeconds: DAY });
    expect(epochAt(s, epochStartMs(s, 0))).toBe(0);
    expect(epochAt(s, epochStartMs(s, 0) - 1)).toBeUndefined();
    expect(epochAt(s, epochEndMs(s, 7) - 1)).toBe(7);
    expect(epochAt(s, epochEndMs(s, 7))).toBeUndefined();
    const start = epochStartMs(s, 2);
    expect(isRedeemable(s, 2, start - TOKEN_EPOCH_SKEW_MS)).toBe(true);
    expect(isRedeemable(s, 2, start - TOKEN_EPOCH_SKEW_MS - 1)).toBe(false);
    expect(isRedeemable(s, 2, redeemUntilMs(s, 2) - 1)).toBe(true);
    expect(isRedeemable(s, 2, redeemUntilMs(s, 2))).toBe(false);
    expect(isSpendable(s, 2, redeemUntilMs(s, 2) - TOKEN_SPEND_MARGIN_MS - 1)).toBe(true);
    expect(isSpendable(s, 2, redeemUntilMs(s, 2) - TOKEN_SPEND_MARGIN_MS)).toBe(false);
    // Epochs outside the schedule are nobody's, even at a moment that would be theirs.
    for (const [epoch, at] of [
      [-1, epochStartMs(s, -1) + 1],
      [8, epochStartMs(s, 8) + 1],
      [2.5, epochStartMs(s, 2.5) + 1],
    ] as const) {
      expect(isIssuable(s, epoch, at), `issuable ${epoch}`).toBe(false);
      expect(isRedeemable(s, epoch, at), `redeemable ${epoch}`).toBe(false);
      expect(isSpendable(s, epoch, at), `spendable ${epoch}`).toBe(false);
    }
    expect(oldestRedeemable(s, epochStartMs(s, 0) - 1)).toBe(0);
    expect(oldestRedeemable(s, redeemUntilMs(s, 7))).toBe(8);
  });

  it('refuses schedules out of range', () => {
    for (const edge of [
      { startSeconds: 2 ** 40, epochSeconds: 2 ** 32, count: 2 ** 16, graceSeconds: 2 ** 32 },
      { startSeconds: 0, epochSeconds: 1, count: 1, graceSeconds: 0 },
    ]) {
      expect(checkSchedule(edge)).toEqual(edge);
    }
    const ok: TokenEpochSchedule = { startSeconds: 0, epochSeconds: 60, count: 4, graceSeconds: 0 };
    expect(checkSchedule(ok)).toEqual(ok);
    for (const bad of [
      { ...ok, count: 3 },
      { ...ok, count: 0 },
      { ...ok, count: 2 ** 17 },
      { ...ok, epochSeconds: 0 },
      { ...ok, startSeconds: -1 },
      { ...ok, startSeconds: 0.5 },
      { ...ok, graceSeconds: -1 },
      { ...ok, graceSeconds: Number.NaN },
      { ...ok, startSeconds: 2 ** 40 + 1 },
      { ...ok, epochSeconds: 2 ** 32 + 1 },
      { ...ok, graceSeconds: 2 ** 32 + 1 },
    ]) {
      expect(() => checkSchedule(bad), JSON.stringify(bad)).toThrow(/epoch|grace/);
    }
  });
});

describe('the commitment to every epoch key', () => {
  const keys = testTokenKeys();

  it('proves each epoch key against the root, and nothing else', () => {
    const publicKeys = Array.from({ length: keys.schedule.count }, (_, e) => keys.publicKey(e));
    expect(epochRoot(publicKeys)).toEqual(keys.root);
    expect(new Set(publicKeys.map((k) => Buffer.from(k).toString('hex'))).size).toBe(keys.schedule.count);
    for (let epoch = 0; epoch < keys.schedule.count; epoch++) {
      const path = keys.path(epoch);
      expect(path).toHaveLength(4);
      expect(verifyEpochKey(keys.root, 16, epoch, keys.publicKey(epoch), path)).toBe(true);
      // Another epoch's key, this key under another epoch, a foreign key, a short or long path.
      expect(verifyEpochKey(keys.root, 16, epoch, keys.publicKey((epoch + 1) % 16), path)).toBe(false);
      expect(verifyEpochKey(keys.root, 16, epoch ^ 1, keys.publicKey(epoch), path)).toBe(false);
      expect(verifyEpochKey(keys.root, 16, epoch, generateVoprfKeyPair().publicKey, path)).toBe(false);
      expect(verifyEpochKey(keys.root, 16, epoch, keys.publicKey(epoch), path.slice(1))).toBe(false);
      expect(verifyEpochKey(keys.root, 16, epoch, keys.publicKey(epoch), [...path, path[0]!])).toBe(false);
      expect(verifyEpochKey(keys.root, 32, epoch, keys.publicKey(epoch), path)).toBe(false);
    }
    expect(verifyEpochKey(keys.root, 16, 16, keys.publicKey(0), keys.path(0))).toBe(false);
    expect(verifyEpochKey(keys.root, 16, -1, keys.publicKey(0), keys.path(0))).toBe(false);
  });

  it('fails on any flipped bit of key, path or root', () => {
    fc.assert(
      fc.property(fc.nat(15), fc.nat(), fc.nat(255), (epoch, where, bit) => {
        const parts = [keys.publicKey(epoch), ...keys.path(epoch), keys.root].map((b) => new Uint8Array(b));
        const target = parts[where % parts.length]!;
        target[bit % 32]! ^= 1 << (bit % 8);
        const [key, ...rest] = parts;
        const root = rest.pop()!;
        expect(verifyEpochKey(root, 16, epoch, key!, rest)).toBe(false);
      }),
    );
  });

  it('derives the same keys from the same seed, distinct per epoch and per seed', () => {
    const seed = new Uint8Array(32).fill(5);
    expect(deriveEpochKey(seed, 7)).toEqual(deriveEpochKey(seed, 7));
    expect(deriveEpochKey(seed, 7).publicKey).not.toEqual(deriveEpochKey(seed, 8).publicKey);
    expect(deriveEpochKey(seed, 7).publicKey).not.toEqual(deriveEpochKey(new Uint8Array(32).fill(6), 7).publicKey);
    const s = { startSeconds: 0, epochSeconds: 60, count: 8, graceSeconds: 0 };
    expect(TokenKeyring.fromSeed(seed, s).root).toEqual(TokenKeyring.fromSeed(seed, s).root);
    expect(TokenKeyring.fromSeed(seed, s).root).not.toEqual(TokenKeyring.fromSeed(seed, { ...s, count: 16 }).root);
    expect(() => TokenKeyring.fromSeed(seed.subarray(1), s)).toThrow(RangeError);
  });

  it('issues nothing outside its schedule, and forgets its secrets when wiped', () => {
    const s = { startSeconds: 1_000_000, epochSeconds: 60, count: 4, graceSeconds: 60 };
    const ring = TokenKeyring.fromSeed(new Uint8Array(32).fill(9), s);
    expect(ring.issuing(epochStartMs(s, 0) - 1)).toBeUndefined();
    expect(ring.issuing(epochEndMs(s, 3))).toBeUndefined();
    expect(ring.issuing(epochStartMs(s, 2))).toMatchObject({ epoch: 2, publicKey: ring.publicKey(2) });
    expect(ring.redeeming(2, redeemUntilMs(s, 2))).toBeUndefined();
    const before = new Uint8Array(ring.redeeming(2, epochStartMs(s, 2))!.secretKey);
    for (let e = 0; e < 12; e++) ring.key(e % 4); // the cache stays small and keys stay right
    expect(ring.key(2).secretKey).toEqual(before);
    ring.wipe();
    expect(ring.key(2).secretKey).not.toEqual(before);
  });
});

describe('the wallet', () => {
  it('hands out the oldest spendable token, throws expired ones away, and prunes on request', () => {
    const token = (epoch: number) => ({ epoch, input: new Uint8Array(32).fill(epoch), output: new Uint8Array(64) });
    let expiredBelow = 0;
    const wallet = new TokenWallet((t) => t.epoch >= expiredBelow);
    wallet.add([token(0), token(1), token(2), token(3)]);
    expect(wallet.take()?.epoch).toBe(0);
    expiredBelow = 2;
    expect(wallet.take()?.epoch).toBe(2);
    expect(wallet.size).toBe(1);
    wallet.putBack(token(0));
    wallet.add([token(4)]);
    expect(wallet.prune()).toBe(1);
    expect(wallet.size).toBe(2);
    expect([wallet.take()?.epoch, wallet.take()?.epoch, wallet.take()]).toEqual([3, 4, undefined]);
    const plain = new TokenWallet();
    plain.add([token(7)]);
    expect(plain.prune()).toBe(0);
    expect(plain.take()?.epoch).toBe(7);
  });
});

describe('fuzzing the token response parser', () => {
  it('returns a well-formed response or throws MalformedResponseError, nothing else', () => {
    const valid = new TextDecoder().decode(
      encodeTokenResponse({
        evaluated: [generateVoprfKeyPair().publicKey],
        proof: new Uint8Array(64),
        epoch: { epoch: 3, publicKey: generateVoprfKeyPair().publicKey, path: [new Uint8Array(32), new Uint8Array(32)] },
      }),
    );
    const mutated = fc.tuple(fc.nat(valid.length), fc.nat(valid.length), fc.string({ maxLength: 16 })).map(([a, b, ins]) => {
      const [from, to] = a <= b ? [a, b] : [b, a];
      return valid.slice(0, from) + ins + valid.slice(to);
    });
    const field = fc.constantFrom('Epoch', 'EpochKey', 'EpochPath', 'Proof', 'EvaluatedTokens', '__proto__', 'constructor');
    const replaced = fc.tuple(field, fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => {
      const obj = JSON.parse(valid) as Record<string, unknown>;
      Object.defineProperty(obj, k, { value: v, enumerable: true, configurable: true, writable: true });
      return JSON.stringify(obj);
    });
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, replaced, fc.string({ maxLength: 300 })), (text) => {
        try {
          const r = parseTokenResponse(new TextEncoder().encode(text));
          accepted += 1;
          expect(Number.isInteger(r.epoch.epoch) && r.epoch.epoch >= 0).toBe(true);
          expect(r.epoch.publicKey).toHaveLength(32);
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedResponseError);
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});

/** A shared clock for the relay and its clients. */
function clock(start: number): { now: () => number; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms) };
}

describe('token epochs end to end, in process', () => {
  const keys = testTokenKeys({ epochSeconds: DAY, graceSeconds: DAY });
  const s = keys.schedule;
  const time = clock(epochStartMs(s, 0) + 1000);
  let world: RelayWorld;
  beforeEach(async () => {
    time.set(epochStartMs(s, 0) + 1000);
    world = await relayWorld({ tokenKeys: keys, now: time.now, store: new MemoryRelayStore() });
  });
  afterEach(async () => {
    await world.cleanup();
  });

  it('names the epoch of every token, posts within grace, refuses after it, and drops only expired spent tokens', async () => {
    const client = world.client({ now: time.now });
    await client.buyTokens(4);
    const bought = [client.wallet.take()!, client.wallet.take()!, client.wallet.take()!];
    expect(bought.map((t) => t.epoch)).toEqual([0, 0, 0]);
    const session = await client.openSession();
    const m0 = randomMessage();
    expect(await session.postSpent(m0, spendToken(bought[0]!, m0, world.bundle.boardOnion))).toEqual({ ok: true });

    // Epoch 1, within epoch 0's grace: its tokens still post.
    time.set(epochStartMs(s, 1) + 1000);
    const m1 = randomMessage();
    expect(await session.postSpent(m1, spendToken(bought[1]!, m1, world.bundle.boardOnion))).toEqual({ ok: true });
    // A new purchase is under epoch 1's key.
    await client.buyTokens(2);
    expect(world.relay.tokens.keys.issuing(time.now())?.epoch).toBe(1);
    expect(client.wallet.size).toBe(3); // one of epoch 0, two of epoch 1

    // Past epoch 0's grace: its tokens are refused with their own code, and the wallet drops them.
    time.set(redeemUntilMs(s, 0));
    const m2 = randomMessage();
    expect(await session.postSpent(m2, spendToken(bought[2]!, m2, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    expect(await world.store.seqOf(m2.signature)).toBeUndefined();
    const next = client.wallet.take();
    expect(next?.epoch).toBe(1);
    expect(client.wallet.size).toBe(1); // the epoch-0 token was thrown away, one of epoch 1 is left
    const m3 = randomMessage();
    expect(await session.postSpent(m3, spendToken(next!, m3, world.bundle.boardOnion))).toEqual({ ok: true });

    // The spent set: epoch 0's two spends go, epoch 1's stays.
    expect((await world.store.stats()).spentTokens).toBe(3);
    expect(await world.relay.dropExpiredTokens()).toBe(2);
    expect(await world.store.isSpent(0, bought[0]!.input)).toBe(false);
    expect(await world.store.isSpent(1, next!.input)).toBe(true);
    // A replay of a dropped token is still refused: by its epoch, before the store is asked.
    expect(await session.postSpent(m0, spendToken(bought[0]!, m0, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    session.close();
  });

  it('refuses a token for a future epoch and one for an epoch outside the schedule', async () => {
    const client = world.client({ now: time.now });
    const session = await client.openSession();
    const m = randomMessage();
    const future = { epoch: 3, input: new Uint8Array(32).fill(1), output: new Uint8Array(64) };
    expect(await session.postSpent(m, spendToken(future, m, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    expect(await session.postSpent(m, spendToken({ ...future, epoch: 15 }, m, world.bundle.boardOnion))).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    session.close();
  });

  describe('tagging attempts by the token service are detected', () => {
    /** A token service on its own onion; the client is pointed at it by an otherwise honest bundle. */
    async function hostile(chain: () => Application): Promise<{ onion: Identity['onion']; close: () => Promise<void> }> {
      const service = new TapirService(world.acn, Identity.generate());
      await service.listen(chain);
      return { onion: service.onion, close: () => service.close() };
    }

    it('a per-client key (not in the committed tree)', async () => {
      const own = TokenKeyring.generate({ ...s });
      const liar = await hostile(new TokenService({ keys: own, powDifficulty: 1, now: time.now }).chain);
      const client = world.client({ now: time.now, bundle: { ...world.bundle, tokenOnion: liar.onion } });
      await expect(client.buyTokens(3)).rejects.toBeInstanceOf(TokenKeyUnprovenError);
      expect(client.wallet.size).toBe(0);
      await liar.close();
    });

    it('an honest key of another epoch (an old key few clients still use)', async () => {
      time.set(epochStartMs(s, 3) + 1000);
      const stale = clock(epochStartMs(s, 1) + 1000);
      const liar = await hostile(new TokenService({ keys, powDifficulty: 1, now: stale.now }).chain);
      const client = world.client({ now: time.now, bundle: { ...world.bundle, tokenOnion: liar.onion } });
      await expect(client.buyTokens(3)).rejects.toThrow(/not the present one/);
      expect(client.wallet.size).toBe(0);
      await liar.close();
    });

    it('a proven key, but the batch evaluated under another one', async () => {
      const other = generateVoprfKeyPair();
      const swap: Application = {
        name: 'swapped-key-issuance',
        async run(conn: Connection) {
          try {
            const blinded = parseTokenRequest(await conn.expect());
            const batch = evaluateBlindedBatch(other, blinded);
            const epoch = { epoch: 0, publicKey: keys.publicKey(0), path: keys.path(0) };
            await conn.send(encodeTokenResponse({ evaluated: batch.evaluated, proof: batch.proof, epoch }));
            await conn.expect();
          } catch (err) {
            throw toTapirError(err);
          }
        },
      };
      const liar = await hostile(() => new ApplicationChain([new ProofOfWorkApp({ difficulty: 1 }), swap]));
      const client = world.client({ now: time.now, bundle: { ...world.bundle, tokenOnion: liar.onion } });
      await expect(client.buyTokens(3)).rejects.toBeInstanceOf(TokenProofInvalidError);
      expect(client.wallet.size).toBe(0);
      await liar.close();
    });
  });
});

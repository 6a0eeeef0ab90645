// Tests added because a mutation run (npm run mutate -- relay) showed these checks could be
// removed or weakened with every other test still passing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { ApplicationChain, ProofOfWorkApp, TapirService, type Application, type Connection } from '@pursuance/tapir';
import {
  BoardServer,
  MemoryRelayStore,
  TokenService,
  blindInputs,
  evaluateBlindedBatch,
  finalizeBatch,
  generateVoprfKeyPair,
  parseBoardRequest,
  spendToken,
  verifySpentToken,
  voprfKeyPairFromSecret,
  type RelayStore,
  type VoprfKeyPair,
} from '../src/index.js';
import {
  DEFAULT_RENEWAL_BITS,
  MAX_FAILED_SPENDS_PER_SESSION,
  MAX_PENDING_PUSHES,
  MAX_PIPELINED_POSTS,
  MessageType,
  REPLAY_PAGE_SIZE,
} from '../src/protocol-profile.js';
import { MalformedRequestError } from '../src/errors.js';
import { TokenPurchaseApp } from '../src/token-purchase.js';
import { evaluateInput, isValidElement } from '../src/voprf.js';
import type { Token } from '../src/tokens.js';
import { testTokenKeys } from '../src/testing/index.js';
import { issueTokens, randomMessage, randomOnion } from './support/fixtures.js';
import { nextEvents, relayWorld, type RelayWorld } from './support/relay-world.js';

/** An honestly issued token (valid PRF output) for an input of any length. */
function tokenFor(key: VoprfKeyPair, input: Uint8Array): Token {
  const items = blindInputs([input]);
  const batch = evaluateBlindedBatch(
    key,
    items.map((i) => i.blinded),
  );
  const [output] = finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof);
  return { epoch: 0, input, output: output! };
}

describe('spent tokens whose input is not 32 bytes', () => {
  const key = generateVoprfKeyPair();
  const board = randomOnion();
  const message = randomMessage();

  it('are refused even when the PRF output and the MAC are genuine', () => {
    // Positive control: the same construction with a 32-byte input verifies.
    expect(verifySpentToken(key.secretKey, spendToken(tokenFor(key, new Uint8Array(32).fill(1)), message, board), message, board)).toBe(true);
    for (const length of [0, 31, 33, 64]) {
      const spent = spendToken(tokenFor(key, new Uint8Array(length).fill(1)), message, board);
      expect(verifySpentToken(key.secretKey, spent, message, board), `input of ${length} bytes`).toBe(false);
    }
  });
});

describe('VOPRF key and element checks', () => {
  it('a stored secret key must be 32 bytes and non-zero; a valid one gives back its public key', () => {
    const key = generateVoprfKeyPair();
    expect(voprfKeyPairFromSecret(key.secretKey).publicKey).toEqual(key.publicKey);
    expect(() => voprfKeyPairFromSecret(key.secretKey.subarray(1))).toThrow(RangeError);
    expect(() => voprfKeyPairFromSecret(Uint8Array.from([...key.secretKey, 0]))).toThrow(RangeError);
    expect(() => voprfKeyPairFromSecret(new Uint8Array(32))).toThrow(RangeError);
  });

  it('an element must be a 32-byte encoding of a non-identity point', () => {
    const [item] = blindInputs([new Uint8Array(32)]);
    expect(isValidElement(item!.blinded)).toBe(true);
    expect(isValidElement(item!.blinded.subarray(1))).toBe(false);
    expect(isValidElement(Uint8Array.from([...item!.blinded, 0]))).toBe(false);
    expect(isValidElement(new Uint8Array(32))).toBe(false);
  });

  it('Evaluate takes inputs up to 65535 bytes (the 2-byte length prefix) and refuses longer ones', () => {
    const key = generateVoprfKeyPair();
    expect(evaluateInput(key.secretKey, new Uint8Array(0xffff))).toHaveLength(64);
    expect(() => evaluateInput(key.secretKey, new Uint8Array(0x10000))).toThrow(RangeError);
  });
});

describe('board request parsing is strict', () => {
  const encoder = new TextEncoder();
  const replay = (lastCommit: string) => `{"MessageType":${MessageType.ReplayRequest},"ReplayRequest":{"LastCommit":"${lastCommit}"}}`;

  it('refuses bytes that are not UTF-8 as such, not as a bad field after replacement', () => {
    const text = encoder.encode(replay('x'));
    const at = text.indexOf(0x78); // the "x"
    const payload = Uint8Array.from(text);
    payload[at] = 0xff;
    const err = (() => {
      try {
        parseBoardRequest(payload);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(MalformedRequestError);
    expect((err as Error).message).toMatch(/not UTF-8 JSON/);
  });

  it('refuses a base64 field of the right length with non-zero trailing bits (typed error)', () => {
    const canonical = toBase64(new Uint8Array(64).fill(0xf0)); // ends in "8A=="
    expect(parseBoardRequest(encoder.encode(replay(canonical)))).toMatchObject({ kind: 'replay' });
    expect(canonical.endsWith('A==')).toBe(true);
    const loose = `${canonical.slice(0, -3)}B==`;
    expect(Buffer.from(loose, 'base64')).toEqual(Buffer.from(canonical, 'base64')); // the lenient decoder agrees
    expect(() => parseBoardRequest(encoder.encode(replay(loose)))).toThrow(MalformedRequestError);
  });
});

describe('BoardServer', () => {
  const keys = testTokenKeys();
  const key = keys.key(0);
  const boardOnion = randomOnion();

  it('uses the documented limits unless told otherwise, per limit', () => {
    const store = new MemoryRelayStore();
    const defaults = new BoardServer({ store, tokenKeys: keys, boardOnion });
    expect(defaults.limits).toEqual({
      maxPipelinedPosts: MAX_PIPELINED_POSTS,
      maxPendingPushes: MAX_PENDING_PUSHES,
      maxFailedSpends: MAX_FAILED_SPENDS_PER_SESSION,
      replayPageSize: REPLAY_PAGE_SIZE,
      renewalBits: DEFAULT_RENEWAL_BITS,
    });
    const custom = { maxPipelinedPosts: 3, maxPendingPushes: 4, maxFailedSpends: 5, replayPageSize: 6, renewalBits: 7 };
    expect(new BoardServer({ store, tokenKeys: keys, boardOnion, limits: custom }).limits).toEqual(custom);
    expect(defaults.sessionCount).toBe(0);
  });

  it('answers STORE_FAILED when the store throws, and reports posts and rejections as events', async () => {
    const failing = { post: () => Promise.reject(new Error('disk full')), currentBucket: () => 0 } as unknown as RelayStore;
    const board = new BoardServer({ store: failing, tokenKeys: keys, boardOnion });
    const rejected = nextEvents<string>(board, 'postRejected', 1);
    const message = randomMessage();
    const [token] = issueTokens(key, 1);
    expect(await board.processPost({ kind: 'post', message, token: spendToken(token!, message, boardOnion) })).toEqual({ ok: false, code: 'STORE_FAILED' });
    expect(await rejected).toEqual(['STORE_FAILED']);

    const ok = new BoardServer({ store: new MemoryRelayStore(), tokenKeys: keys, boardOnion });
    const posted = nextEvents<string>(ok, 'posted', 1);
    expect(await ok.processPost({ kind: 'post', message, token: spendToken(token!, message, boardOnion) })).toEqual({ ok: true });
    expect(await posted).toEqual(['stored']);
  });
});

describe('relay sessions and the token service on the wire', () => {
  let world: RelayWorld;
  beforeEach(async () => {
    world = await relayWorld();
  });
  afterEach(async () => {
    await world.cleanup();
  });

  it('a board session that closes is unregistered (sessionCount back to 0, sessionClosed emitted)', async () => {
    const client = world.client();
    const session = await client.openSession();
    expect(world.relay.board.sessionCount).toBe(1);
    const closedEvent = nextEvents(world.relay.board, 'sessionClosed', 1);
    session.close();
    await closedEvent;
    expect(world.relay.board.sessionCount).toBe(0);
  });

  it('the token service demands exactly its configured proof-of-work difficulty', async () => {
    expect(world.relay.tokens.keys.root).toEqual(world.bundle.tokenEpochRoot);
    let demanded: number | undefined;
    const peek: Application = {
      name: 'peek',
      async run(conn: Connection) {
        demanded = (JSON.parse(new TextDecoder().decode(await conn.expect())) as { Difficulty: number }).Difficulty;
        conn.close();
      },
    };
    const service = new TapirService(world.acn, Identity.generate());
    await expect(service.connect(world.bundle.tokenOnion, peek)).rejects.toBeDefined();
    expect(demanded).toBe(2); // relayWorld's powDifficulty
    await service.close();
  });

  describe('after issuing', () => {
    let tokens: TokenService;
    let server: TapirService;
    let client: TapirService;
    const keys = testTokenKeys();
    const bundle = { tokenEpochRoot: keys.root, tokenSchedule: keys.schedule };
    const errors: string[] = [];
    beforeEach(async () => {
      tokens = new TokenService({ keys, powDifficulty: 1, lingerMs: 50 });
      server = new TapirService(world.acn, Identity.generate());
      server.on('connectionError', (_c, e) => errors.push(e.code));
      await server.listen(tokens.chain);
      client = new TapirService(world.acn, Identity.generate());
    });
    afterEach(async () => {
      await client.close();
      await server.close();
    });

    it('closes a connection the client keeps open, once the linger time is over', async () => {
      const purchase = new TokenPurchaseApp(bundle, 2);
      const conn = await client.connect(server.onion, new ApplicationChain([new ProofOfWorkApp(), purchase]));
      expect(purchase.tokens).toHaveLength(2);
      // The client never hangs up: the server must.
      await conn.closed;
      expect(conn.isClosed).toBe(true);
    });

    it('an honest client that hangs up after buying leaves no error on the server', async () => {
      const before = errors.length;
      const conn = await client.connect(server.onion, new ApplicationChain([new ProofOfWorkApp(), new TokenPurchaseApp(bundle, 1)]));
      conn.close();
      await expect.poll(() => server.connections().length, { timeout: 20_000 }).toBe(0);
      expect(errors.slice(before)).toEqual([]);
    });

    it('treats any packet after issuance as a protocol violation', async () => {
      const before = errors.length;
      const conn = await client.connect(server.onion, new ApplicationChain([new ProofOfWorkApp(), new TokenPurchaseApp(bundle, 1)]));
      await conn.send(new Uint8Array([1]));
      await conn.closed;
      await expect.poll(() => errors.slice(before), { timeout: 20_000 }).toContain('PROTOCOL_VIOLATION');
    });
  });
});

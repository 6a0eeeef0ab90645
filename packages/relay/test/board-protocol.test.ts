import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStrictBase64, equalBytes, toBase64 } from '@pursuance/crypto';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  encodeBareMessage,
  encodeNewMessage,
  encodePostRequest,
  encodePostResult,
  encodeReplayResult,
  encodeTokenRequest,
  parseBoardRequest,
} from '../src/index.js';
import { BOARD_PAYLOAD_LIMIT, MAX_TOKEN_BATCH_SIZE, TOKEN_PAYLOAD_LIMIT } from '../src/protocol-profile.js';
import { MalformedRequestError, MalformedResponseError } from '../src/errors.js';
import {
  encodeBucketRequest,
  encodeBucketResult,
  encodePing,
  encodePong,
  encodeReplayRequest,
  parseBareMessage,
  parseBoardResponse,
  type BoardRequest,
} from '../src/board-protocol.js';
import { MAX_BUCKET_INDEX } from '../src/protocol-profile.js';
import { encodeTokenResponse, parseTokenRequest, parseTokenResponse } from '../src/token-protocol.js';
import { randomMessage } from './support/fixtures.js';

const encoder = new TextEncoder();
const token = { epoch: 3, input: new Uint8Array(32).fill(7), mac: new Uint8Array(32).fill(8) };

describe('packet budgets (every message fits one tapir packet)', () => {
  it('a post request with the fixed-size ciphertext fits the 8174-byte sealed payload', () => {
    const message = { ciphertext: new Uint8Array(GROUP_CIPHERTEXT_SIZE).fill(0xff), signature: new Uint8Array(GROUP_SIGNATURE_SIZE).fill(0xff) };
    const bytes = encodePostRequest(message, token);
    // base64(4096) = 5464 chars, base64(64) = 88, base64(32) = 44 twice, plus 104 bytes of JSON (with "E":3).
    expect(toBase64(message.ciphertext).length).toBe(5464);
    expect(bytes.length).toBeLessThan(BOARD_PAYLOAD_LIMIT);
    expect(bytes.length).toBe(5464 + 88 + 44 + 44 + 104);
    expect(BOARD_PAYLOAD_LIMIT).toBe(8174);
    expect(encodeNewMessage(message).length).toBeLessThan(BOARD_PAYLOAD_LIMIT);
    expect(encodeBareMessage(message).length).toBeLessThan(BOARD_PAYLOAD_LIMIT);
  });

  it('a full token batch request and response fit the 8190-byte plain payload', () => {
    const elements = Array.from({ length: MAX_TOKEN_BATCH_SIZE }, () => new Uint8Array(32).fill(0xff));
    expect(encodeTokenRequest(elements).length).toBeLessThan(TOKEN_PAYLOAD_LIMIT);
    // With the longest epoch proof a bundle may need (2^16 epochs: 16 hashes).
    const epoch = { epoch: 65_535, publicKey: new Uint8Array(32).fill(0xff), path: Array.from({ length: 16 }, () => new Uint8Array(32).fill(0xff)) };
    expect(encodeTokenResponse({ evaluated: elements, proof: new Uint8Array(64), epoch }).length).toBeLessThan(TOKEN_PAYLOAD_LIMIT);
    expect(TOKEN_PAYLOAD_LIMIT).toBe(8190);
  });
});

describe('board request codec', () => {
  it('round-trips posts and replays (all, since)', () => {
    const message = randomMessage();
    expect(parseBoardRequest(encodePostRequest(message, token))).toEqual({ kind: 'post', message, token });
    expect(parseBoardRequest(encodeReplayRequest())).toEqual({ kind: 'replay', since: undefined });
    expect(parseBoardRequest(encodeReplayRequest(message.signature))).toEqual({ kind: 'replay', since: message.signature });
    expect(parseBoardRequest(encodePing())).toEqual({ kind: 'ping' });
    expect(new TextDecoder().decode(encodePing())).toBe('{"MessageType":5,"Ping":{}}');
    expect(parseBoardRequest(encodeBucketRequest(0))).toEqual({ kind: 'fetch', fromBucket: 0 });
    expect(parseBoardRequest(encodeBucketRequest(MAX_BUCKET_INDEX))).toEqual({ kind: 'fetch', fromBucket: MAX_BUCKET_INDEX });
    // A fetch names a bucket index and nothing else.
    expect(new TextDecoder().decode(encodeBucketRequest(493_000))).toBe('{"MessageType":9,"BucketRequest":{"From":493000}}');
  });

  it('refuses bucket requests with anything but one whole bucket index in range', () => {
    const cases: unknown[] = [
      { MessageType: 9, BucketRequest: { From: -1 } },
      { MessageType: 9, BucketRequest: { From: MAX_BUCKET_INDEX + 1 } },
      { MessageType: 9, BucketRequest: { From: 1.5 } },
      { MessageType: 9, BucketRequest: { From: '12' } },
      { MessageType: 9, BucketRequest: { From: null } },
      { MessageType: 9, BucketRequest: { From: Number.MAX_VALUE } },
      { MessageType: 9, BucketRequest: {} },
      { MessageType: 9, BucketRequest: { From: 1, To: 2 } },
      { MessageType: 9, BucketRequest: { From: 1 }, Extra: 1 },
      { MessageType: 9, ReplayRequest: { LastCommit: '' } },
      { MessageType: 10, BucketResult: { NumMessages: 0, Bucket: 1 } },
    ];
    for (const c of cases) expect(() => parseBoardRequest(encoder.encode(JSON.stringify(c)))).toThrow(MalformedRequestError);
    // JSON.stringify drops a __proto__ key set through a literal; the text itself must be refused too.
    expect(() => parseBoardRequest(encoder.encode('{"MessageType":9,"BucketRequest":{"From":1,"__proto__":{"To":2}}}'))).toThrow(MalformedRequestError);
    expect(() => parseBoardRequest(encoder.encode('{"MessageType":9,"BucketRequest":{"constructor":1}}'))).toThrow(MalformedRequestError);
  });

  it('round-trips responses', () => {
    const message = randomMessage();
    expect(parseBoardResponse(encodePostResult({ ok: true }))).toEqual({ kind: 'postResult', ok: true });
    expect(parseBoardResponse(encodePostResult({ ok: false, code: 'TOKEN_SPENT' }))).toEqual({ kind: 'postResult', ok: false, code: 'TOKEN_SPENT' });
    expect(parseBoardResponse(encodeReplayResult(3))).toEqual({ kind: 'replayResult', count: 3 });
    expect(parseBoardResponse(encodeNewMessage(message))).toEqual({ kind: 'newMessage', message });
    expect(parseBoardResponse(encodePong())).toEqual({ kind: 'pong' });
    expect(new TextDecoder().decode(encodePong())).toBe('{"MessageType":6,"Pong":{}}');
    expect(parseBoardResponse(encodePong(7))).toEqual({ kind: 'pong', bucket: 7 });
    expect(parseBoardResponse(encodeBucketResult(4, 493_000))).toEqual({ kind: 'bucketResult', count: 4, bucket: 493_000 });
    for (const bad of [
      { MessageType: 10, BucketResult: { NumMessages: 1 } },
      { MessageType: 10, BucketResult: { NumMessages: 1, Bucket: -1 } },
      { MessageType: 10, BucketResult: { NumMessages: -1, Bucket: 1 } },
      { MessageType: 10, BucketResult: { NumMessages: 1, Bucket: MAX_BUCKET_INDEX + 1 } },
      { MessageType: 6, Pong: { Bucket: 0.5 } },
      { MessageType: 6, Pong: { Bucket: 1, Extra: 2 } },
    ]) {
      expect(() => parseBoardResponse(encoder.encode(JSON.stringify(bad)))).toThrow(MalformedResponseError);
    }
    expect(parseBareMessage(encodeBareMessage(message))).toEqual(message);
    expect(() => parseBoardResponse(encodeBareMessage(message))).toThrow(MalformedResponseError);
  });

  it('refuses any other ciphertext or signature length, unknown fields, and mismatched types', () => {
    const valid = JSON.parse(new TextDecoder().decode(encodePostRequest(randomMessage(), token)));
    const cases: unknown[] = [
      { ...valid, PostRequest: { ...valid.PostRequest, EGM: { ...valid.PostRequest.EGM, Ciphertext: toBase64(new Uint8Array(GROUP_CIPHERTEXT_SIZE - 1)) } } },
      { ...valid, PostRequest: { ...valid.PostRequest, EGM: { ...valid.PostRequest.EGM, Ciphertext: toBase64(new Uint8Array(GROUP_CIPHERTEXT_SIZE + 3)) } } },
      { ...valid, PostRequest: { ...valid.PostRequest, EGM: { ...valid.PostRequest.EGM, Signature: '' } } },
      { ...valid, PostRequest: { ...valid.PostRequest, EGM: { ...valid.PostRequest.EGM, Signature: toBase64(new Uint8Array(65)) } } },
      { ...valid, Extra: 1 },
      { ...valid, PostRequest: { ...valid.PostRequest, Group: 'x' } },
      { ...valid, MessageType: 0 },
      { MessageType: 2 },
      { MessageType: 0, ReplayRequest: { LastCommit: toBase64(new Uint8Array(63)) } },
      { MessageType: 4, NewMessage: { EGM: valid.PostRequest.EGM } },
      // A ping carries nothing: no field inside it, no other member beside it.
      { MessageType: 5, Ping: { Nonce: 1 } },
      { MessageType: 5, Ping: {}, Extra: 1 },
      { MessageType: 5, Ping: null },
      { MessageType: 5 },
      { MessageType: 6, Pong: {} },
      [valid],
      null,
    ];
    for (const c of cases) expect(() => parseBoardRequest(encoder.encode(JSON.stringify(c)))).toThrow(MalformedRequestError);
    expect(() => parseBoardRequest(Uint8Array.of(0xff, 0xfe))).toThrow(MalformedRequestError);
    expect(() => parseBoardRequest(new Uint8Array(0))).toThrow(MalformedRequestError);
  });

  it('token codecs refuse empty and oversized batches', () => {
    const e = new Uint8Array(32).fill(1);
    expect(parseTokenRequest(encodeTokenRequest([e]))).toEqual([e]);
    expect(() => parseTokenRequest(encodeTokenRequest([]))).toThrow(MalformedRequestError);
    expect(() => parseTokenRequest(encodeTokenRequest(Array.from({ length: MAX_TOKEN_BATCH_SIZE + 1 }, () => e)))).toThrow(MalformedRequestError);
    const epoch = { epoch: 2, publicKey: e, path: [new Uint8Array(32), new Uint8Array(32).fill(2)] };
    const response = { evaluated: [e], proof: new Uint8Array(64), epoch };
    expect(parseTokenResponse(encodeTokenResponse(response))).toEqual(response);
    expect(() => parseTokenResponse(encodeTokenResponse({ ...response, proof: new Uint8Array(63) }))).toThrow(MalformedResponseError);
    for (const bad of [
      { ...epoch, epoch: -1 },
      { ...epoch, epoch: 65_536 },
      { ...epoch, epoch: 1.5 },
      { ...epoch, publicKey: new Uint8Array(31) },
      { ...epoch, path: [new Uint8Array(33)] },
      { ...epoch, path: Array.from({ length: 17 }, () => new Uint8Array(32)) },
    ]) {
      expect(() => parseTokenResponse(encodeTokenResponse({ ...response, epoch: bad })), JSON.stringify(bad.epoch)).toThrow(MalformedResponseError);
    }
  });
});

describe('strict base64', () => {
  it('accepts exactly one text per byte string', () => {
    expect(decodeStrictBase64('QUJD')).toEqual(encoder.encode('ABC'));
    expect(decodeStrictBase64('QQ==')).toEqual(encoder.encode('A'));
    expect(decodeStrictBase64('')).toEqual(new Uint8Array(0));
    // Non-zero trailing bits, missing or extra padding, URL-safe or foreign characters, whitespace.
    for (const bad of ['QR==', 'QQ', 'QQ=', 'QQ===', 'QUJD=', '-_8=', 'Q UJD', 'QUJD\n', 'QU*D', 'QUJ']) {
      expect(decodeStrictBase64(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('agrees with the encoder on random data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const decoded = decodeStrictBase64(toBase64(bytes));
        return decoded !== undefined && Buffer.from(decoded).equals(Buffer.from(bytes));
      }),
    );
  });
});

describe('fuzzing the board request parser', () => {
  const b64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => toBase64(b));
  const nearSize = (size: number) => fc.oneof(b64(size, size), b64(Math.max(0, size - 2), size + 2), fc.string({ maxLength: 8 }));
  const egm = fc.record({ Ciphertext: nearSize(GROUP_CIPHERTEXT_SIZE), Signature: nearSize(GROUP_SIGNATURE_SIZE) });
  const epochNumber = fc.oneof(fc.nat(70_000), fc.integer(), fc.double(), fc.string({ maxLength: 3 }), fc.constant(null));
  const spent = fc.record({ E: epochNumber, T: nearSize(32), MAC: nearSize(32) });
  const messageType = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 9, 10), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null));
  const bucketIndex = fc.oneof(
    fc.nat(),
    fc.constantFrom(0, MAX_BUCKET_INDEX, MAX_BUCKET_INDEX + 1, -1),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 3 }),
    fc.constant(null),
  );
  const nearValid = fc.oneof(
    fc.record({ MessageType: messageType, PostRequest: fc.record({ Token: spent, EGM: egm }) }),
    fc.record({ MessageType: messageType, BucketRequest: fc.record({ From: bucketIndex }) }),
    fc.record({ MessageType: messageType, ReplayRequest: fc.record({ LastCommit: fc.oneof(fc.constant(''), nearSize(64)) }) }),
    fc.record({ MessageType: messageType, Ping: fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }))) }),
  );
  // Structural mutations of near-valid requests: drop, add or replace a field anywhere.
  const mutated = fc.tuple(nearValid, fc.constantFrom('none', 'drop', 'add', 'replace'), fc.jsonValue({ maxDepth: 2 })).map(([value, how, extra]) => {
    const obj = structuredClone(value) as Record<string, unknown>;
    const inner = Object.values(obj).find((v) => typeof v === 'object' && v !== null) as Record<string, unknown> | undefined;
    const target = inner ?? obj;
    const key = Object.keys(target)[0] ?? 'x';
    if (how === 'drop') delete target[key];
    if (how === 'add') target.Unexpected = extra;
    if (how === 'replace') target[key] = extra;
    return obj;
  });
  const payload = fc.oneof(
    { weight: 4, arbitrary: mutated.map((v) => encoder.encode(JSON.stringify(v))) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => encoder.encode(JSON.stringify(v))) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((s) => encoder.encode(s)) },
  );

  it('accepts only well-formed requests and refuses everything else with MalformedRequestError (50,000 inputs)', () => {
    let accepted = 0;
    let pings = 0;
    let fetches = 0;
    fc.assert(
      fc.property(payload, (bytes) => {
        let request: BoardRequest;
        try {
          request = parseBoardRequest(bytes);
        } catch (err) {
          return err instanceof MalformedRequestError;
        }
        accepted++;
        // Whatever is accepted has the relay's exact sizes and re-encodes to an equal request.
        if (request.kind === 'post') {
          if (request.message.ciphertext.length !== GROUP_CIPHERTEXT_SIZE || request.message.signature.length !== GROUP_SIGNATURE_SIZE) return false;
          return JSON.stringify(parseBoardRequest(encodePostRequest(request.message, request.token))) === JSON.stringify(request);
        }
        if (request.kind === 'ping') {
          pings++;
          // Exactly one text is a ping.
          return new TextDecoder().decode(bytes) === '{"MessageType":5,"Ping":{}}';
        }
        // No input here names a Renew (renewal.test.ts fuzzes those).
        if (request.kind === 'renew') return false;
        if (request.kind === 'fetch') {
          fetches++;
          const from = request.fromBucket;
          return Number.isSafeInteger(from) && from >= 0 && from <= MAX_BUCKET_INDEX && equalBytes(encodeBucketRequest(from), bytes);
        }
        return request.since === undefined || request.since.length === GROUP_SIGNATURE_SIZE;
      }),
      { numRuns: 50_000, seed: 20261122 },
    );
    // The generator reaches the accepting paths too, not only the refusals.
    expect(accepted).toBeGreaterThan(20);
    expect(pings).toBeGreaterThan(5);
    expect(fetches).toBeGreaterThan(5);
  });
});

describe('fuzzing the board response parser (the client side)', () => {
  const b64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => toBase64(b));
  const nearSize = (size: number) => fc.oneof(b64(size, size), b64(Math.max(0, size - 2), size + 2), fc.string({ maxLength: 8 }));
  const egm = fc.record({ Ciphertext: nearSize(GROUP_CIPHERTEXT_SIZE), Signature: nearSize(GROUP_SIGNATURE_SIZE) });
  const messageType = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 10), fc.integer(), fc.constant(null));
  const anything = fc.jsonValue({ maxDepth: 1 });
  const bucketIndex = fc.oneof(fc.nat(), fc.constantFrom(MAX_BUCKET_INDEX, MAX_BUCKET_INDEX + 1, -1), fc.double(), anything);
  const nearValid = fc.oneof(
    fc.record({
      MessageType: messageType,
      PostResult: fc.oneof(
        fc.record({ Success: fc.oneof(fc.boolean(), anything) }),
        fc.record({
          Success: fc.oneof(fc.boolean(), anything),
          Code: fc.oneof(fc.constantFrom('TOKEN_INVALID', 'TOKEN_SPENT', 'STORE_FAILED', 'NOPE'), anything),
        }),
      ),
    }),
    fc.record({ MessageType: messageType, ReplayResult: fc.record({ NumMessages: fc.oneof(fc.integer(), fc.double(), anything) }) }),
    fc.record({ MessageType: messageType, NewMessage: fc.record({ EGM: egm }) }),
    fc.record({
      MessageType: messageType,
      Pong: fc.oneof(fc.constant({}), fc.record({ Bucket: bucketIndex }), fc.dictionary(fc.string({ maxLength: 4 }), anything)),
    }),
    fc.record({ MessageType: messageType, BucketResult: fc.record({ NumMessages: fc.oneof(fc.nat(), fc.integer(), anything), Bucket: bucketIndex }) }),
    egm,
  );
  const payload = fc.oneof(
    { weight: 4, arbitrary: nearValid.map((v) => encoder.encode(JSON.stringify(v))) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => encoder.encode(JSON.stringify(v))) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 600 }) },
  );

  it('accepts only well-formed answers, each re-encoding to itself, and refuses the rest with MalformedResponseError (20,000 inputs)', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(payload, (bytes) => {
        let response: ReturnType<typeof parseBoardResponse>;
        try {
          response = parseBoardResponse(bytes);
        } catch (err) {
          return err instanceof MalformedResponseError;
        }
        kinds.add(response.kind);
        const again =
          response.kind === 'postResult'
            ? encodePostResult(response.ok ? { ok: true } : { ok: false, code: response.code })
            : response.kind === 'replayResult'
              ? encodeReplayResult(response.count)
              : response.kind === 'newMessage'
                ? encodeNewMessage(response.message)
                : response.kind === 'bucketResult'
                  ? encodeBucketResult(response.count, response.bucket)
                  : response.kind === 'pong'
                    ? encodePong(response.bucket)
                    : encodePong();
        return JSON.stringify(parseBoardResponse(again)) === JSON.stringify(response);
      }),
      { numRuns: 20_000, seed: 20261123 },
    );
    expect([...kinds].sort()).toEqual(['bucketResult', 'newMessage', 'pong', 'postResult', 'replayResult']);
  });
});

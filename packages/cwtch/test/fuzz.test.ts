import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, canonicalEncode, concatBytes, padToSize, toBase64, type CanonicalValue } from '@pursuance/crypto';
import { exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { CwtchError, encodeGroupInvite, encodeOverlay, groupGenesis, parseGroupInvite, sealGroupMessage } from '../src/index.js';
import { GROUP_PADDED_PLAINTEXT_SIZE, GROUP_SYNC_MESSAGE_SIZE, MAX_GROUP_PAYLOAD_PER_MESSAGE } from '../src/protocol-profile.js';
import { decodeGroupPlaintext, encodeGroupPlaintext, openGroupMessage } from '../src/group-envelope.js';
import { encodeAttributeRequest, encodeAttributeResponse, parseAttributeRequest, parseAttributeResponse } from '../src/attributes.js';
import { encodePeerMessage, parsePeerMessage } from '../src/peer-protocol.js';
import { encodeRepairAnswer, encodeRepairRequest, parseRepairAnswer, parseRepairRequest } from '../src/repair-protocol.js';
import { parseOverlay } from '../src/overlays.js';
import { testGroup } from './support/helpers.js';

/**
 * Every parser of network bytes this package adds, fed >= 20,000 inputs each: random bytes,
 * random JSON/CBOR, and mutations of valid encodings (bit flips, byte edits, truncation,
 * insertion, splices). Each must either parse or throw a CwtchError — never anything else.
 */
const RUNS = 20_000;
const encoder = new TextEncoder();

type Edit = { kind: 'flip' | 'set' | 'cut' | 'insert' | 'splice'; at: number; value: number; bytes: Uint8Array };
const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'insert', 'splice'),
  at: fc.nat(),
  value: fc.nat(255),
  bytes: fc.uint8Array({ maxLength: 24 }),
});

function mutate(input: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let out: Uint8Array = new Uint8Array(input);
  for (const e of edits) {
    if (out.length === 0) return e.bytes;
    const at = e.at % out.length;
    switch (e.kind) {
      case 'flip':
        out[at]! ^= 1 << (e.value % 8);
        break;
      case 'set':
        out[at] = e.value;
        break;
      case 'cut':
        out = out.slice(0, at);
        break;
      case 'insert':
        out = concatBytes(out.subarray(0, at), e.bytes, out.subarray(at));
        break;
      case 'splice':
        out = concatBytes(out.subarray(0, at), out.subarray(Math.min(out.length, at + e.bytes.length + 1)));
        break;
    }
  }
  return out;
}

/** Random bytes, random JSON, or a mutation of one of `valid`. */
function inputs(valid: readonly Uint8Array[], maxRandom = 600): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([v, e]) => mutate(v, e)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => encoder.encode(JSON.stringify(v))) },
    { weight: 1, arbitrary: fc.constantFrom(...valid) },
  );
}

function onlyTyped(parse: (input: Uint8Array) => unknown): (input: Uint8Array) => void {
  return (input) => {
    try {
      parse(input);
    } catch (err) {
      if (!(err instanceof CwtchError)) throw err;
    }
  };
}

const alice = Identity.generate();
const signature = new Uint8Array(64).fill(3);

describe('fuzzing the peer parsers (only typed errors)', () => {
  it('PeerMessage', () => {
    const valid = [
      encodePeerMessage({ id: 'abc123', context: 'im.cwtch.raw', data: encodeOverlay({ o: 1, d: 'hi' }) }),
      encodePeerMessage({ id: 'x', context: 'im.cwtch.acknowledgement', data: new Uint8Array(0) }),
      encoder.encode(JSON.stringify({ ID: 'a', Context: 'b', Data: toBase64(new Uint8Array(300)) })),
    ];
    fc.assert(fc.property(inputs(valid), onlyTyped(parsePeerMessage)), { numRuns: RUNS, seed: 1 });
  });

  it('overlays', () => {
    const valid = [encodeOverlay({ o: 1, d: 'hello' }), encodeOverlay({ o: 101, d: 'tofubundle:x' }), encoder.encode('{"o":10,"d":"q","extra":[1]}')];
    fc.assert(fc.property(inputs(valid), onlyTyped(parseOverlay)), { numRuns: RUNS, seed: 2 });
  });

  it('attribute requests and responses', () => {
    const valid = [encodeAttributeRequest({ scope: 'public', path: 'name' }), encodeAttributeResponse({ exists: true, value: 'alice' })];
    fc.assert(
      fc.property(
        inputs(valid),
        onlyTyped((b) => [parseAttributeRequest, parseAttributeResponse].map((parse) => onlyTyped(parse)(b))),
      ),
      { numRuns: RUNS, seed: 3 },
    );
  });

  it('repair requests and answers', () => {
    const group = testGroup();
    const valid = [
      encodeRepairRequest({ groupId: group.id, signatures: [signature, new Uint8Array(64)] }),
      encodeRepairAnswer({ ciphertext: new Uint8Array(4096).fill(1), signature }),
    ];
    expect(valid[1]).toHaveLength(GROUP_SYNC_MESSAGE_SIZE);
    fc.assert(
      fc.property(inputs(valid), (b) => {
        onlyTyped(parseRepairRequest)(b);
        onlyTyped(parseRepairAnswer)(b);
      }),
      { numRuns: RUNS, seed: 4 },
    );
  });

  it('group invites (with the relay bundle inside)', () => {
    const board = Identity.generate();
    const bundle = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const group = testGroup({ relay: board.onion });
    const invite = encodeGroupInvite(
      { groupId: group.id, name: 'crew', key: group.key, relay: board.onion, owner: alice.onion, members: [alice.onion], timestamp: 5 },
      bundle,
    );
    expect(parseGroupInvite(invite).invite.groupId).toBe(group.id);
    const withSince = encodeGroupInvite(
      { groupId: group.id, name: 'crew', key: group.key, relay: board.onion, owner: alice.onion, members: null, timestamp: 5, since: 493_000 },
      bundle,
    );
    const valid = [encoder.encode(invite), encoder.encode(withSince)];
    const decoder = new TextDecoder();
    fc.assert(
      fc.property(
        fc.oneof(
          inputs(valid, 200).map((b) => decoder.decode(b)),
          fc.string({ maxLength: 300 }),
        ),
        (text) => {
          try {
            parseGroupInvite(text);
          } catch (err) {
            if (!(err instanceof CwtchError)) throw err;
          }
        },
      ),
      { numRuns: RUNS, seed: 5 },
    );
  });

  it('group plaintexts (after decryption) and whole group messages', () => {
    const group = testGroup();
    const previous = groupGenesis(group.id);
    const validPlain = [
      encodeGroupPlaintext({ sender: alice.onion, timestamp: 9, previous, payload: encoder.encode('{"o":1,"d":"hi"}'), fragment: undefined }),
      encodeGroupPlaintext({
        sender: alice.onion,
        timestamp: 9,
        previous,
        payload: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE),
        fragment: { id: new Uint8Array(16), index: 0, count: 2, length: MAX_GROUP_PAYLOAD_PER_MESSAGE + 1 },
      }),
    ];
    // Random CBOR maps shaped like a plaintext, padded to the one size.
    const cborish = fc
      .record(
        {
          v: fc.oneof(fc.constant(1), fc.integer()),
          s: fc.oneof(fc.constant(alice.onion), fc.string()),
          t: fc.integer(),
          p: fc.uint8Array({ maxLength: 70 }),
          d: fc.uint8Array({ maxLength: 50 }),
        },
        { requiredKeys: [] },
      )
      .map((m) => padToSize(canonicalEncode(m as Record<string, CanonicalValue>), GROUP_PADDED_PLAINTEXT_SIZE));
    const padded = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...validPlain), fc.array(edit, { minLength: 1, maxLength: 3 })).map(([v, e]) => mutate(v, e)) },
      { weight: 2, arbitrary: cborish },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: GROUP_PADDED_PLAINTEXT_SIZE, maxLength: GROUP_PADDED_PLAINTEXT_SIZE }) },
    );
    fc.assert(fc.property(padded, onlyTyped(decodeGroupPlaintext)), { numRuns: RUNS, seed: 6 });

    const egm = sealGroupMessage(group, alice, { timestamp: 1, previous, payload: new Uint8Array(10), fragment: undefined });
    const whole = fc
      .tuple(fc.boolean(), fc.array(edit, { minLength: 1, maxLength: 3 }))
      .map(([which, e]) =>
        which ? { ciphertext: mutate(egm.ciphertext, e), signature: egm.signature } : { ciphertext: egm.ciphertext, signature: mutate(egm.signature, e) },
      );
    fc.assert(
      fc.property(whole, (m) => {
        try {
          openGroupMessage(group, m);
        } catch (err) {
          if (!(err instanceof CwtchError)) throw err;
        }
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });
});

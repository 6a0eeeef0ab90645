import { describe, expect, it } from 'vitest';
import { Identity, fromHex, randomKey, toHex } from '@pursuance/crypto';
import {
  FragmentInvalidError,
  GroupMessageInvalidError,
  NotAMemberError,
  NotDecryptableError,
  SignatureInvalidError,
  deriveGroupId,
  groupGenesis,
  sealGroupMessage,
  trialDecrypt,
  type GroupKeys,
} from '../src/index.js';
import { GROUP_CIPHERTEXT_SIZE, MAX_FRAGMENTS, MAX_GROUP_PAYLOAD, MAX_GROUP_PAYLOAD_PER_MESSAGE } from '../src/protocol-profile.js';
import { decodeGroupPlaintext, encodeGroupPlaintext, openGroupMessage } from '../src/group-envelope.js';
import { splitPayload } from '../src/fragments.js';
import { craftGroupMessage, testGroup } from './support/helpers.js';

const alice = Identity.generate();
const bob = Identity.generate();
const mallory = Identity.generate();
const previous = (group: GroupKeys) => groupGenesis(group.id);

describe('group ids', () => {
  it('are 32 hex characters bound to both the key and the relay', () => {
    const key = randomKey();
    const relay = Identity.generate().onion;
    const id = deriveGroupId(key, relay);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveGroupId(new Uint8Array(key), relay)).toBe(id);
    expect(deriveGroupId(randomKey(), relay)).not.toBe(id);
    expect(deriveGroupId(key, Identity.generate().onion)).not.toBe(id);
    expect(groupGenesis(id)).toHaveLength(64);
  });
});

describe('group message format', () => {
  it('seals every payload size to exactly one ciphertext size, and opens back to the same fields', () => {
    const group = testGroup();
    for (const size of [0, 1, 100, 1000, MAX_GROUP_PAYLOAD_PER_MESSAGE]) {
      const payload = new Uint8Array(size).map((_, i) => (i * 7) % 256);
      const egm = sealGroupMessage(group, alice, { timestamp: 1_700_000_000_000, previous: previous(group), payload, fragment: undefined });
      expect(egm.ciphertext).toHaveLength(GROUP_CIPHERTEXT_SIZE);
      expect(egm.signature).toHaveLength(64);
      const opened = openGroupMessage(group, egm);
      expect(opened).toMatchObject({ sender: alice.onion, timestamp: 1_700_000_000_000, payload, fragment: undefined });
      expect(opened.previous).toEqual(previous(group));
    }
  });

  it('fits the largest fragment with the largest header values', () => {
    const fragment = { id: new Uint8Array(16).fill(255), index: MAX_FRAGMENTS - 1, count: MAX_FRAGMENTS, length: MAX_GROUP_PAYLOAD };
    const padded = encodeGroupPlaintext({
      sender: alice.onion,
      timestamp: Number.MAX_SAFE_INTEGER,
      previous: new Uint8Array(64).fill(255),
      payload: new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE).fill(255),
      fragment,
    });
    expect(decodeGroupPlaintext(padded).fragment).toEqual(fragment);
  });

  it('trial decryption finds the one group key that opens a message, and nothing for foreign ones', () => {
    const groups = [testGroup(), testGroup(), testGroup()];
    const egm = sealGroupMessage(groups[2]!, alice, { timestamp: 1, previous: previous(groups[2]!), payload: new Uint8Array(3), fragment: undefined });
    expect(trialDecrypt(egm.ciphertext, groups)?.group).toBe(groups[2]);
    expect(trialDecrypt(egm.ciphertext, groups.slice(0, 2))).toBeUndefined();
    expect(trialDecrypt(egm.ciphertext.subarray(1), groups)).toBeUndefined();
  });

  it('rejects a forged sender: a key holder claiming to be someone else', () => {
    const group = testGroup();
    const forged = craftGroupMessage(group, mallory, { v: 1, s: alice.onion, t: 1, p: previous(group), d: new Uint8Array(2) });
    expect(() => openGroupMessage(group, forged)).toThrow(SignatureInvalidError);
    // The same bytes honestly signed by the claimed sender are fine: the check is the signature.
    const honest = craftGroupMessage(group, alice, { v: 1, s: alice.onion, t: 1, p: previous(group), d: new Uint8Array(2) });
    expect(openGroupMessage(group, honest).sender).toBe(alice.onion);
  });

  it('rejects a validly signed message from a key outside the member list', () => {
    const group = testGroup({ members: [alice.onion, bob.onion] });
    const fromMallory = sealGroupMessage(group, mallory, { timestamp: 1, previous: previous(group), payload: new Uint8Array(1), fragment: undefined });
    expect(() => openGroupMessage(group, fromMallory)).toThrow(NotAMemberError);
    const fromBob = sealGroupMessage(group, bob, { timestamp: 1, previous: previous(group), payload: new Uint8Array(1), fragment: undefined });
    expect(openGroupMessage(group, fromBob).sender).toBe(bob.onion);
  });

  it('rejects a message under the wrong group key', () => {
    const group = testGroup();
    const other = { ...group, key: randomKey() };
    const egm = sealGroupMessage(other, alice, { timestamp: 1, previous: previous(group), payload: new Uint8Array(1), fragment: undefined });
    expect(() => openGroupMessage(group, egm)).toThrow(NotDecryptableError);
  });

  it('binds the signature to the group id and the relay: moving a message elsewhere breaks it', () => {
    const group = testGroup();
    const egm = sealGroupMessage(group, alice, { timestamp: 1, previous: previous(group), payload: new Uint8Array(1), fragment: undefined });
    expect(() => openGroupMessage({ ...group, relay: Identity.generate().onion }, egm)).toThrow(SignatureInvalidError);
    expect(() => openGroupMessage({ ...group, id: deriveGroupId(randomKey(), group.relay) }, egm)).toThrow(SignatureInvalidError);
    const flipped = new Uint8Array(egm.signature);
    flipped[5]! ^= 1;
    expect(() => openGroupMessage(group, { ciphertext: egm.ciphertext, signature: flipped })).toThrow(SignatureInvalidError);
    const tampered = new Uint8Array(egm.ciphertext);
    tampered[100]! ^= 1;
    expect(() => openGroupMessage(group, { ciphertext: tampered, signature: egm.signature })).toThrow(NotDecryptableError);
  });

  it('rejects malformed plaintexts with typed errors', () => {
    const group = testGroup();
    const base = { v: 1, s: alice.onion, t: 1, p: previous(group), d: new Uint8Array(2) };
    const bad = [
      { ...base, v: 2 },
      { ...base, s: 'not-an-onion' },
      { ...base, t: -1 },
      { ...base, p: new Uint8Array(63) },
      { ...base, d: 'text' },
      { ...base, extra: 1 },
      { v: 1, s: alice.onion, t: 1, p: previous(group) },
      { ...base, f: { m: new Uint8Array(16), i: 0, n: 2 } },
    ];
    for (const plaintext of bad) expect(() => openGroupMessage(group, craftGroupMessage(group, alice, plaintext))).toThrow(GroupMessageInvalidError);
  });
});

describe('fragments', () => {
  it('split large payloads into full parts and a remainder, all sharing one id', () => {
    const payload = new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE * 2 + 5);
    const parts = splitPayload(payload);
    expect(parts.map((p) => p.data.length)).toEqual([MAX_GROUP_PAYLOAD_PER_MESSAGE, MAX_GROUP_PAYLOAD_PER_MESSAGE, 5]);
    expect(new Set(parts.map((p) => toHex(p.fragment!.id))).size).toBe(1);
    expect(parts.map((p) => [p.fragment!.index, p.fragment!.count, p.fragment!.length])).toEqual([
      [0, 3, payload.length],
      [1, 3, payload.length],
      [2, 3, payload.length],
    ]);
    expect(splitPayload(new Uint8Array(10))).toEqual([{ data: new Uint8Array(10), fragment: undefined }]);
    expect(() => splitPayload(new Uint8Array(MAX_GROUP_PAYLOAD + 1))).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
  });

  it('reject a truncated fragment and impossible headers', () => {
    const group = testGroup();
    const id = fromHex('00112233445566778899aabbccddeeff');
    const header = (i: number, n: number, l: number) => ({ m: id, i, n, l });
    const full = new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE);
    const cases = [
      { d: full.subarray(10), f: header(0, 2, MAX_GROUP_PAYLOAD_PER_MESSAGE + 5) }, // first part cut short
      { d: new Uint8Array(4), f: header(1, 2, MAX_GROUP_PAYLOAD_PER_MESSAGE + 5) }, // last part shorter than the remainder
      { d: full, f: header(2, 2, MAX_GROUP_PAYLOAD_PER_MESSAGE * 2) }, // index out of range
      { d: full, f: header(0, 1, MAX_GROUP_PAYLOAD_PER_MESSAGE) }, // a "set" of one
      { d: full, f: header(0, MAX_FRAGMENTS + 1, MAX_GROUP_PAYLOAD) }, // too many
      { d: full, f: header(0, 3, 10) }, // total length impossible for the count
      { d: full, f: { ...header(0, 2, MAX_GROUP_PAYLOAD_PER_MESSAGE + 5), m: new Uint8Array(15) } },
    ];
    for (const { d, f } of cases) {
      const egm = craftGroupMessage(group, alice, { v: 1, s: alice.onion, t: 1, p: previous(group), d, f });
      expect(() => openGroupMessage(group, egm)).toThrow(FragmentInvalidError);
    }
  });
});

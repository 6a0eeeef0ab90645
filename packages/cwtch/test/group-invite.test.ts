import { describe, expect, it } from 'vitest';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import { MAX_BUCKET_INDEX, exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { InviteInvalidError, encodeGroupInvite, parseGroupInvite } from '../src/index.js';
import { testGroup } from './support/helpers.js';

const board = Identity.generate();
const owner = Identity.generate();
const keys = testTokenKeys();
const bundle = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, { root: keys.root, schedule: keys.schedule, bucketSeconds: 3600 }));
const group = testGroup({ relay: board.onion });
const base = { groupId: group.id, name: 'crew', key: group.key, relay: board.onion, owner: owner.onion, members: null, timestamp: 5 };

/** The invite with its JSON edited (as a hostile inviter could write it). */
function edited(edit: (json: Record<string, unknown>) => void): string {
  const text = encodeGroupInvite(base, bundle);
  const at = text.lastIndexOf('torv3') + 'torv3'.length;
  const json = JSON.parse(new TextDecoder().decode(fromBase64(text.slice(at)))) as Record<string, unknown>;
  edit(json);
  return text.slice(0, at) + toBase64(new TextEncoder().encode(JSON.stringify(json)));
}

describe('a group invite names the bucket the group starts at', () => {
  it('carries Since when known, and nothing when not', () => {
    expect(parseGroupInvite(encodeGroupInvite({ ...base, since: 493_000 }, bundle)).invite.since).toBe(493_000);
    expect(parseGroupInvite(encodeGroupInvite({ ...base, since: 0 }, bundle)).invite.since).toBe(0);
    expect(parseGroupInvite(encodeGroupInvite({ ...base, since: MAX_BUCKET_INDEX }, bundle)).invite.since).toBe(MAX_BUCKET_INDEX);
    const without = parseGroupInvite(encodeGroupInvite(base, bundle)).invite;
    expect(without.since).toBeUndefined();
    expect('since' in without).toBe(false);
  });

  it('refuses a Since that is not one whole bucket index in range, and unknown members beside it', () => {
    for (const since of [-1, MAX_BUCKET_INDEX + 1, 1.5, '12', null, true, [1], { b: 1 }]) {
      expect(() => parseGroupInvite(edited((j) => (j.Since = since))), JSON.stringify(since)).toThrow(InviteInvalidError);
    }
    for (const key of ['constructor', '__proto__', 'since', 'To']) {
      const text = edited((j) => Object.defineProperty(j, key, { value: 1, enumerable: true }));
      expect(() => parseGroupInvite(text), key).toThrow(InviteInvalidError);
    }
  });
});

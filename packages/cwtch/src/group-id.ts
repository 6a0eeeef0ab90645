import { fromHex, hmacSha256, publicKeyFromOnion, sha512, toHex, type OnionName } from '@pursuance/crypto';
import { GROUP_GENESIS_LABEL, GROUP_ID_LABEL, GROUP_ID_SIZE, GROUP_KEY_SIZE } from './protocol-profile.js';

const encoder = new TextEncoder();

/**
 * The group id binds the group key AND the relay: the same key on another relay is another
 * group, and nobody can present a key for a given id without knowing it. 32 hex characters.
 */
export function deriveGroupId(groupKey: Uint8Array, relay: OnionName): string {
  if (groupKey.length !== GROUP_KEY_SIZE) throw new RangeError('a group key is 32 bytes');
  const mac = hmacSha256(groupKey, encoder.encode(GROUP_ID_LABEL), publicKeyFromOnion(relay));
  return toHex(mac.subarray(0, GROUP_ID_SIZE));
}

export function isGroupId(value: unknown): value is string {
  return typeof value === 'string' && value.length === GROUP_ID_SIZE * 2 && /^[0-9a-f]+$/.test(value);
}

/** What a group's first message points at in place of a previous signature (64 bytes). */
export function groupGenesis(groupId: string): Uint8Array {
  return sha512(encoder.encode(GROUP_GENESIS_LABEL), fromHex(groupId));
}

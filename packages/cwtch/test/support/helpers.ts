import { Identity, canonicalEncode, padToSize, randomKey, secretboxSeal, type CanonicalValue, type OnionName } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { deriveGroupId, type GroupKeys } from '../../src/index.js';
import { GROUP_PADDED_PLAINTEXT_SIZE } from '../../src/protocol-profile.js';
import { groupSignedBytes } from '../../src/group-envelope.js';

/** A group on a made-up relay (no network): what sealing and checking need. */
export function testGroup(options: { members?: OnionName[] | null; relay?: OnionName } = {}): GroupKeys {
  const key = randomKey();
  const relay = options.relay ?? Identity.generate().onion;
  return { id: deriveGroupId(key, relay), key, relay, members: options.members ?? null };
}

/**
 * Hand-made group message: any plaintext map (valid or not), sealed under `key`, signed by
 * `signer` over (group id, relay, ciphertext) — for forging, truncating and fuzzing.
 */
export function craftGroupMessage(
  group: GroupKeys,
  signer: Identity,
  plaintext: Record<string, CanonicalValue>,
  key: Uint8Array = group.key,
): EncryptedGroupMessage {
  const ciphertext = secretboxSeal(key, padToSize(canonicalEncode(plaintext), GROUP_PADDED_PLAINTEXT_SIZE));
  return { ciphertext, signature: signer.sign(groupSignedBytes(group.id, group.relay, ciphertext)) };
}

export function onceEvent<T>(emitter: { once(name: string, cb: (v: T) => void): unknown }, name: string): Promise<T> {
  return new Promise((resolve) => emitter.once(name, resolve));
}

/** Resolves with the first `name` event whose payload satisfies `predicate`. */
export function waitForEvent<T>(
  emitter: { on(name: string, cb: (v: T) => void): unknown; off(name: string, cb: (v: T) => void): unknown },
  name: string,
  predicate: (v: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve) => {
    const cb = (v: T): void => {
      if (!predicate(v)) return;
      emitter.off(name, cb);
      resolve(v);
    };
    emitter.on(name, cb);
  });
}

/** Wait until `check()` is true, re-checking on every `name` event of `emitter`. */
export async function until<T>(
  emitter: { on(name: string, cb: (v: T) => void): unknown; off(name: string, cb: (v: T) => void): unknown },
  name: string,
  check: () => boolean,
): Promise<void> {
  if (check()) return;
  await waitForEvent(emitter, name, () => check());
}

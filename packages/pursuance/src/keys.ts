import {
  CryptoError,
  canonicalDecode,
  canonicalEncode,
  isCanonicalMap,
  equalBytes,
  openFromIdentity,
  padToSize,
  randomKey,
  RoleKeyPair,
  isUsableBoxKey,
  isUsableSigningKey,
  verifySignature,
  sealToIdentity,
  secretboxOpen,
  secretboxSeal,
  sha256,
  toHex,
  unpad,
  type CanonicalValue,
  type Identity,
} from '@pursuance/crypto';
import type { Lockbox, RolePub, Rotation, Sealed, Share } from './bodies.js';
import { ContentUnreadableError } from './errors.js';
import type { EpochPub } from './state.js';

/**
 * Per-role keys. A role key is 32 random bytes; its public id is a commitment
 * keyId = SHA-256("pursuance/role-key/v1" ‖ canonical({role, key})), published in the
 * rotation that introduces it. Whoever opens a lockbox checks the key against that id, so a
 * member can never plant a key: only a valid rotation event introduces an id, and a share
 * must deliver exactly that key.
 */
const KEY_ID_DOMAIN = new TextEncoder().encode('pursuance/role-key/v1');
/** Sealed content is padded to a multiple of this, so its length says little about it. */
export const CONTENT_PADDING_BUCKET = 256;

export type KeyIdHex = string;

export function roleKeyId(role: string, key: Uint8Array): Uint8Array {
  return sha256(KEY_ID_DOMAIN, canonicalEncode({ role, key }));
}

export interface RoleKey {
  readonly role: string;
  readonly keyId: Uint8Array;
  readonly key: Uint8Array;
}

/**
 * A new role key. `secret`, when given, is 32 fresh random bytes the caller has already
 * persisted (so a key exists at rest before anything is sealed with it); by default, random.
 */
export function newRoleKey(role: string, secret?: Uint8Array): RoleKey {
  if (secret !== undefined && secret.length !== 32) throw new RangeError('a role key secret is 32 bytes');
  const key = secret ? Uint8Array.from(secret) : randomKey();
  return { role, key, keyId: roleKeyId(role, key) };
}

function lockboxPayload(k: RoleKey): Uint8Array {
  return canonicalEncode({ role: k.role, keyId: k.keyId, key: k.key });
}

export function sealLockbox(k: RoleKey, recipient: Uint8Array): Lockbox {
  return { to: recipient, box: sealToIdentity(recipient, lockboxPayload(k)) };
}

/**
 * A rotation introducing `k` with lockboxes to `holders` (ed25519 public keys). With `pursuance`
 * (the pursuance id, or null in its genesis, whose id is not known before it is signed) the
 * rotation also publishes the key's public halves (rolePub): every rotation an author makes does;
 * without it, a rotation as it was before public keys existed (tests of old logs).
 */
export function makeRotation(k: RoleKey, holders: readonly Uint8Array[], pursuance?: string | null): Rotation {
  const base = { role: k.role, keyId: k.keyId, lockboxes: holders.map((h) => sealLockbox(k, h)) };
  return pursuance === undefined ? base : { ...base, pub: rolePub(k, pursuance) };
}

/**
 * Role public keys. From a role key every holder derives an ed25519 and an X25519 pair
 * (RoleKeyPair in @pursuance/crypto); the rotation that introduces the key publishes the public
 * halves with a proof of possession: the signing key's signature over both halves, the role, the
 * key id and the pursuance. So a rotation cannot be copied into another pursuance, role or epoch,
 * and nobody can publish a signing key they do not hold. Whether the halves belong to the secret
 * in the lockboxes only a holder can tell (rolePubMismatch): the fold never sees the secret.
 */
const POP_DOMAIN = 'pursuance/role-pop/v1';

/** What a role key's proof of possession signs (exported for tests that build proofs by hand). */
export function popMessage(pursuance: string | null, role: string, keyId: Uint8Array, sig: Uint8Array, box: Uint8Array): Uint8Array {
  return canonicalEncode({ dom: POP_DOMAIN, pursuance, role, keyId, sig, box });
}

export function rolePub(k: RoleKey, pursuance: string | null): RolePub {
  const { sig, box } = roleKeyPair(k).publicKeys;
  return { sig, box, pop: roleKeyPair(k).sign(popMessage(pursuance, k.role, k.keyId, sig, box)) };
}

const pairs = new WeakMap<Uint8Array, RoleKeyPair>();
/** The key pairs of a role key, derived once per key. */
export function roleKeyPair(k: RoleKey): RoleKeyPair {
  let pair = pairs.get(k.key);
  if (!pair) {
    pair = RoleKeyPair.fromSecret(k.key);
    pairs.set(k.key, pair);
  }
  return pair;
}

/**
 * rolePubProblem's verdicts, by everything it reads. A fold checks the genesis's role keys and
 * every rotation's (a point decompression, an X25519 and a signature check: about half a
 * millisecond each), and a log folds again whenever it changes, so the same keys were checked
 * once per fold. The verdict is a pure function of these bytes. Bounded: the oldest go first.
 */
const PUB_VERDICTS_MAX = 4096;
const pubVerdicts = new Map<string, string | null>();

/** Why a rotation's published public keys are unacceptable to every replica (null when they are fine). */
export function rolePubProblem(pub: RolePub, pursuance: string | null, role: string, keyId: Uint8Array): string | null {
  const key = JSON.stringify([pursuance, role, toHex(keyId), toHex(pub.sig), toHex(pub.box), toHex(pub.pop)]);
  const known = pubVerdicts.get(key);
  if (known !== undefined) return known;
  const verdict = checkRolePub(pub, pursuance, role, keyId);
  if (pubVerdicts.size >= PUB_VERDICTS_MAX) pubVerdicts.delete(pubVerdicts.keys().next().value!);
  pubVerdicts.set(key, verdict);
  return verdict;
}

function checkRolePub(pub: RolePub, pursuance: string | null, role: string, keyId: Uint8Array): string | null {
  if (!isUsableSigningKey(pub.sig)) return 'the role signing key is not a usable ed25519 key';
  if (!isUsableBoxKey(pub.box)) return 'the role box key is low-order or not canonical';
  if (!verifySignature(popMessage(pursuance, role, keyId, pub.sig, pub.box), pub.pop, pub.sig)) {
    return 'the proof of possession does not verify for this pursuance, role and key';
  }
  return null;
}

/** A rotation's public keys as its epoch keeps them (spread into the KeyEpoch). */
export function epochPub(rot: Rotation): { pub?: EpochPub } {
  return rot.pub ? { pub: { sig: rot.pub.sig, box: rot.pub.box } } : {};
}

/**
 * Whether published public keys are NOT the ones a holder derives from the key it opened: a
 * rotator who published keys other than the secret's (a planted key) is caught by every holder.
 */
export function rolePubMismatch(k: RoleKey, pub: { readonly sig: Uint8Array; readonly box: Uint8Array }): boolean {
  const derived = roleKeyPair(k).publicKeys;
  return !equalBytes(derived.sig, pub.sig) || !equalBytes(derived.box, pub.box);
}

export function makeShare(k: RoleKey, recipients: readonly Uint8Array[]): Share {
  return { role: k.role, keyId: k.keyId, lockboxes: recipients.map((h) => sealLockbox(k, h)) };
}

/**
 * Open a lockbox addressed to `me`. Returns undefined when it does not open or does not
 * deliver the key the id commits to (a planted or corrupted key is never accepted).
 */
export function openLockbox(me: Identity, role: string, keyId: Uint8Array, lockbox: Lockbox): RoleKey | undefined {
  if (!equalBytes(lockbox.to, me.publicKey)) return undefined;
  try {
    const v = canonicalDecode(openFromIdentity(me, lockbox.box)) as { role?: unknown; keyId?: unknown; key?: unknown };
    if (v.role !== role || !(v.keyId instanceof Uint8Array) || !(v.key instanceof Uint8Array) || v.key.length !== 32) return undefined;
    if (!equalBytes(v.keyId, keyId) || !equalBytes(roleKeyId(role, v.key), keyId)) return undefined;
    return { role, keyId, key: v.key };
  } catch (err) {
    if (err instanceof CryptoError) return undefined;
    throw err;
  }
}

/** The role keys one member holds, by key id. */
export class Keyring {
  readonly #keys = new Map<KeyIdHex, RoleKey>();

  public add(k: RoleKey): void {
    this.#keys.set(toHex(k.keyId), k);
  }

  public get(keyId: Uint8Array | KeyIdHex): RoleKey | undefined {
    return this.#keys.get(typeof keyId === 'string' ? keyId : toHex(keyId));
  }

  public has(keyId: Uint8Array | KeyIdHex): boolean {
    return this.get(keyId) !== undefined;
  }

  public get size(): number {
    return this.#keys.size;
  }

  public keyIds(): KeyIdHex[] {
    return [...this.#keys.keys()];
  }
}

/**
 * Seal a task payload for an audience: a fresh content key encrypts the padded canonical
 * payload; the content key is wrapped under each audience role's current key.
 */
export function sealContent(payload: CanonicalValue, roleKeys: readonly RoleKey[]): Sealed {
  const contentKey = randomKey();
  const plain = canonicalEncode(payload);
  const size = Math.ceil((plain.length + 4) / CONTENT_PADDING_BUCKET) * CONTENT_PADDING_BUCKET;
  try {
    return {
      keys: roleKeys.map((k) => ({ role: k.role, keyId: k.keyId, wrapped: secretboxSeal(k.key, contentKey) })),
      ct: secretboxSeal(contentKey, padToSize(plain, size)),
    };
  } finally {
    contentKey.fill(0);
  }
}

/**
 * What sealed task content is bound to: the event it is sealed for. The wrapper travels inside
 * the ciphertext, so only someone holding the audience key could re-bind it — and they can read
 * it anyway; a member without the key cannot re-post another's sealed content as theirs.
 */
export interface ContentBinding {
  readonly kind: string;
  readonly task: string | null;
  readonly pursuance: string;
  readonly author: Uint8Array;
  readonly seq: number;
}

export function boundContent(binding: ContentBinding, content: CanonicalValue): CanonicalValue {
  return { kind: binding.kind, task: binding.task, pursuance: binding.pursuance, author: binding.author, seq: binding.seq, content };
}

/** Why opened content does not belong to `expected` (null when it does). */
export function contentBindingProblem(opened: CanonicalValue, expected: ContentBinding): string | null {
  if (!isCanonicalMap(opened)) return 'sealed content is not a bound payload';
  const own = (k: string): CanonicalValue | undefined => (Object.hasOwn(opened, k) ? opened[k] : undefined);
  if (own('kind') !== expected.kind || own('task') !== expected.task) return 'sealed content is bound to another event kind or task';
  const author = own('author');
  if (own('pursuance') !== expected.pursuance || own('seq') !== expected.seq || !(author instanceof Uint8Array) || !equalBytes(author, expected.author)) {
    return 'sealed content is bound to another author or event';
  }
  if (own('content') === undefined) return 'sealed content has no payload';
  return null;
}

/** Open sealed content with any key in the ring; ContentUnreadableError if none fits. */
export function openContent(sealed: Sealed, keyring: Keyring): CanonicalValue {
  const opened = openContentIfHeld(sealed, keyring);
  if (opened === null) throw new ContentUnreadableError('no key in this keyring opens the content');
  return opened;
}

/**
 * openContent for readers going through a whole log, where content sealed to roles they lack is
 * the common case: null when no key in the ring is addressed (an error per such event cost a
 * replay of 100,000 events most of a second in stack traces alone). Corrupt content under a
 * key the ring holds is still a ContentUnreadableError.
 */
export function openContentIfHeld(sealed: Sealed, keyring: Keyring): CanonicalValue | null {
  for (const wrapped of sealed.keys) {
    const k = keyring.get(wrapped.keyId);
    if (!k || k.role !== wrapped.role) continue;
    try {
      const contentKey = secretboxOpen(k.key, wrapped.wrapped);
      return canonicalDecode(unpad(secretboxOpen(contentKey, sealed.ct)));
    } catch (err) {
      if (err instanceof CryptoError) throw new ContentUnreadableError(`sealed content is corrupt: ${err.message}`);
      throw err;
    }
  }
  return null;
}

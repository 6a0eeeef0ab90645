import {
  CryptoError,
  DecryptionError,
  canonicalDecode,
  canonicalEncode,
  isCanonicalMap,
  concatBytes,
  padToSize,
  secretboxOpen,
  secretboxSeal,
  unpad,
  verifySignature,
  type CanonicalValue,
  type Identity,
  type OnionName,
} from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { onionKey } from './onion-keys.js';
import { GroupMessageInvalidError, NotAMemberError, NotDecryptableError, SignatureInvalidError } from './errors.js';
import { checkFragment, type FragmentHeader } from './fragments.js';
import {
  FRAGMENT_FIELDS as FF,
  GROUP_CIPHERTEXT_SIZE,
  GROUP_ENVELOPE_VERSION,
  GROUP_PADDED_PLAINTEXT_SIZE,
  GROUP_PLAINTEXT_FIELDS as F,
  GROUP_SIGNATURE_SIZE,
  MAX_GROUP_PAYLOAD_PER_MESSAGE,
} from './protocol-profile.js';

/**
 * Group messages: what members sign and encrypt, and how a receiver opens and checks them.
 *
 *   plaintext  = canonical CBOR {v, s: sender onion, t: timestamp (ms), p: previous signature,
 *                d: payload, f?: fragment header}
 *   ciphertext = secretbox(group key, padToSize(plaintext, 4056)) → always 4096 bytes
 *   signature  = ed25519(sender, group id ‖ relay onion ‖ ciphertext)
 *
 * The signature binds the message to one group on one relay, so a relay cannot replay it into
 * another group or onto another relay, and only the claimed sender can have made it.
 */
export interface GroupPlaintext {
  readonly sender: OnionName;
  /** Sender-claimed time, milliseconds since the epoch. */
  readonly timestamp: number;
  /** Signature of the latest message the sender had seen in the group (or the group genesis). */
  readonly previous: Uint8Array;
  readonly payload: Uint8Array;
  readonly fragment: FragmentHeader | undefined;
}

/** The parts of a group a message is sealed for and checked against. */
export interface GroupKeys {
  readonly id: string;
  readonly key: Uint8Array;
  readonly relay: OnionName;
  /** Null: no member list is kept. */
  readonly members: readonly string[] | null;
}

export interface OpenedGroupMessage extends GroupPlaintext {
  readonly signature: Uint8Array;
  readonly ciphertext: Uint8Array;
}

const encoder = new TextEncoder();

/** What the sender signs: UTF-8(group id hex) ‖ UTF-8(relay onion) ‖ ciphertext. */
export function groupSignedBytes(groupId: string, relay: OnionName, ciphertext: Uint8Array): Uint8Array {
  return concatBytes(encoder.encode(groupId), encoder.encode(relay), ciphertext);
}

export function encodeGroupPlaintext(message: GroupPlaintext): Uint8Array {
  if (message.payload.length > MAX_GROUP_PAYLOAD_PER_MESSAGE) throw new GroupMessageInvalidError('payload does not fit one group message; fragment it');
  if (message.previous.length !== GROUP_SIGNATURE_SIZE) throw new GroupMessageInvalidError('previous signature is 64 bytes');
  if (message.fragment !== undefined) checkFragment(message.fragment, message.payload.length);
  const map: Record<string, CanonicalValue> = {
    [F.version]: GROUP_ENVELOPE_VERSION,
    [F.sender]: message.sender,
    [F.timestamp]: message.timestamp,
    [F.previous]: message.previous,
    [F.payload]: message.payload,
  };
  if (message.fragment !== undefined) {
    const f = message.fragment;
    map[F.fragment] = { [FF.id]: f.id, [FF.index]: f.index, [FF.count]: f.count, [FF.length]: f.length };
  }
  return padToSize(canonicalEncode(map), GROUP_PADDED_PLAINTEXT_SIZE);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function exactKeys(map: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []): boolean {
  const keys = Object.keys(map);
  return required.every((k) => k in map) && keys.every((k) => required.includes(k) || optional.includes(k));
}

/**
 * Parse a decrypted, padded plaintext. Throws GroupMessageInvalidError or FragmentInvalidError
 * (typed, never anything else) for any defect.
 */
export function decodeGroupPlaintext(padded: Uint8Array): GroupPlaintext {
  let value: CanonicalValue;
  try {
    value = canonicalDecode(unpad(padded, GROUP_PADDED_PLAINTEXT_SIZE));
  } catch (cause) {
    if (cause instanceof CryptoError) throw new GroupMessageInvalidError(`group plaintext does not decode (${cause.code})`, { cause });
    throw cause;
  }
  if (!isCanonicalMap(value) || !exactKeys(value, [F.version, F.sender, F.timestamp, F.previous, F.payload], [F.fragment])) {
    throw new GroupMessageInvalidError('group plaintext has the wrong fields');
  }
  const { [F.version]: version, [F.sender]: sender, [F.timestamp]: timestamp, [F.previous]: previous, [F.payload]: payload } = value;
  if (version !== GROUP_ENVELOPE_VERSION) throw new GroupMessageInvalidError('unsupported group message version');
  if (typeof sender !== 'string' || onionKey(sender) === undefined) throw new GroupMessageInvalidError('sender is not an onion name');
  if (!isCount(timestamp)) throw new GroupMessageInvalidError('timestamp is not a non-negative integer');
  if (!(previous instanceof Uint8Array) || previous.length !== GROUP_SIGNATURE_SIZE) throw new GroupMessageInvalidError('previous signature is not 64 bytes');
  if (!(payload instanceof Uint8Array) || payload.length > MAX_GROUP_PAYLOAD_PER_MESSAGE)
    throw new GroupMessageInvalidError('payload is not bytes of an allowed size');
  let fragment: FragmentHeader | undefined;
  const f = value[F.fragment];
  if (f !== undefined) {
    if (!isCanonicalMap(f) || !exactKeys(f, [FF.id, FF.index, FF.count, FF.length])) throw new GroupMessageInvalidError('fragment header has the wrong fields');
    const { [FF.id]: id, [FF.index]: index, [FF.count]: count, [FF.length]: length } = f;
    if (!(id instanceof Uint8Array) || !isCount(index) || !isCount(count) || !isCount(length))
      throw new GroupMessageInvalidError('fragment header has the wrong types');
    fragment = { id, index, count, length };
    checkFragment(fragment, payload.length);
  }
  return { sender: sender as OnionName, timestamp, previous, payload, fragment };
}

/** Encrypt and sign one group message (the payload must fit one message; see fragments.ts). */
export function sealGroupMessage(group: GroupKeys, identity: Identity, message: Omit<GroupPlaintext, 'sender'>): EncryptedGroupMessage {
  const ciphertext = secretboxSeal(group.key, encodeGroupPlaintext({ ...message, sender: identity.onion }));
  if (ciphertext.length !== GROUP_CIPHERTEXT_SIZE) throw new GroupMessageInvalidError('group ciphertext has the wrong size');
  return { ciphertext, signature: identity.sign(groupSignedBytes(group.id, group.relay, ciphertext)) };
}

/** Decrypt with one group key; NotDecryptableError if it does not open. */
export function decryptGroupCiphertext(key: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length !== GROUP_CIPHERTEXT_SIZE) throw new NotDecryptableError();
  try {
    return secretboxOpen(key, ciphertext);
  } catch (err) {
    if (err instanceof DecryptionError) throw new NotDecryptableError();
    throw err;
  }
}

/**
 * Check a decrypted message: well-formed plaintext, a signature by the claimed sender over
 * (group id, relay, ciphertext), and a sender on the member list if the group keeps one.
 */
export function verifyGroupMessage(group: GroupKeys, message: EncryptedGroupMessage, padded: Uint8Array): OpenedGroupMessage {
  const plaintext = decodeGroupPlaintext(padded);
  if (message.signature.length !== GROUP_SIGNATURE_SIZE) throw new SignatureInvalidError();
  const publicKey = onionKey(plaintext.sender);
  if (publicKey === undefined) throw new GroupMessageInvalidError('sender onion does not decode to a key');
  if (!verifySignature(groupSignedBytes(group.id, group.relay, message.ciphertext), message.signature, publicKey)) throw new SignatureInvalidError();
  if (group.members !== null && !group.members.includes(plaintext.sender)) throw new NotAMemberError();
  return { ...plaintext, signature: message.signature, ciphertext: message.ciphertext };
}

/** Decrypt with the group's key and verify. */
export function openGroupMessage(group: GroupKeys, message: EncryptedGroupMessage): OpenedGroupMessage {
  return verifyGroupMessage(group, message, decryptGroupCiphertext(group.key, message.ciphertext));
}

/**
 * Trial decryption (Cwtch's AttemptDecryption): try every group key on the relay; the first
 * that opens the ciphertext names the group. Undefined when none does (someone else's group,
 * or a ciphertext a relay modified).
 */
export function trialDecrypt<G extends { readonly key: Uint8Array }>(
  ciphertext: Uint8Array,
  groups: readonly G[],
): { group: G; padded: Uint8Array } | undefined {
  if (ciphertext.length !== GROUP_CIPHERTEXT_SIZE) return undefined;
  for (const group of groups) {
    try {
      return { group, padded: secretboxOpen(group.key, ciphertext) };
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
    }
  }
  return undefined;
}

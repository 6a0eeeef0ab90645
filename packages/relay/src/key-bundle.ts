import {
  canonicalEncode,
  equalBytes,
  fromBase64,
  isOnionName,
  publicKeyFromOnion,
  toBase64,
  verifySignature,
  type Identity,
  type OnionName,
} from '@pursuance/crypto';
import { z } from 'zod';
import { KeyBundleChangedError, KeyBundleInvalidError } from './errors.js';
import { KEY_BUNDLE_CONTEXT, KEY_BUNDLE_KEYS, KEY_BUNDLE_PREFIX, MAX_KEY_BUNDLE_LENGTH } from './protocol-profile.js';
import { isValidElement } from './voprf.js';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';

/**
 * A relay's signed key bundle: its board onion, its token-service onion and its token public
 * key, signed by the board identity. A group invite carries the exported string; clients
 * verify it, pin it on first use (TOFU) and refuse a relay that later shows different keys.
 */
export interface KeyBundle {
  readonly boardOnion: OnionName;
  readonly tokenOnion: OnionName;
  /** The VOPRF public key pkS (32-byte ristretto255 element). */
  readonly tokenPublicKey: Uint8Array;
}

export interface SignedKeyBundle extends KeyBundle {
  readonly signature: Uint8Array;
}

function signedBytes(bundle: KeyBundle): Uint8Array {
  return canonicalEncode({
    context: KEY_BUNDLE_CONTEXT,
    keys: {
      [KEY_BUNDLE_KEYS.boardOnion]: bundle.boardOnion,
      [KEY_BUNDLE_KEYS.tokenOnion]: bundle.tokenOnion,
      [KEY_BUNDLE_KEYS.tokenPublicKey]: bundle.tokenPublicKey,
    },
  });
}

/** Relay side: sign a bundle with the board identity (which must be the bundle's board onion). */
export function signKeyBundle(boardIdentity: Identity, tokenOnion: OnionName, tokenPublicKey: Uint8Array): SignedKeyBundle {
  const bundle: KeyBundle = { boardOnion: boardIdentity.onion, tokenOnion, tokenPublicKey: new Uint8Array(tokenPublicKey) };
  checkKeys(bundle);
  return { ...bundle, signature: boardIdentity.sign(signedBytes(bundle)) };
}

function checkKeys(bundle: KeyBundle): void {
  if (!isOnionName(bundle.boardOnion) || !isOnionName(bundle.tokenOnion)) throw new KeyBundleInvalidError('bundle onion names are invalid');
  if (bundle.boardOnion === bundle.tokenOnion) throw new KeyBundleInvalidError('board and token service must be distinct onions');
  if (!isValidElement(bundle.tokenPublicKey)) throw new KeyBundleInvalidError('token public key is not a valid ristretto255 element');
}

const BundleSchema = z.strictObject({
  Keys: z.strictObject({
    [KEY_BUNDLE_KEYS.boardOnion]: z.string().max(64),
    [KEY_BUNDLE_KEYS.tokenOnion]: z.string().max(64),
    [KEY_BUNDLE_KEYS.tokenPublicKey]: base64Bytes(32),
  }),
  Signature: base64Bytes(64),
});

/** `server:` + base64(JSON({Keys: {…}, Signature})). */
export function exportKeyBundle(bundle: SignedKeyBundle): string {
  const json = encodeJSON({
    Keys: {
      [KEY_BUNDLE_KEYS.boardOnion]: bundle.boardOnion,
      [KEY_BUNDLE_KEYS.tokenPublicKey]: toBase64(bundle.tokenPublicKey),
      [KEY_BUNDLE_KEYS.tokenOnion]: bundle.tokenOnion,
    },
    Signature: toBase64(bundle.signature),
  });
  return KEY_BUNDLE_PREFIX + toBase64(json);
}

/**
 * Parse and verify an exported bundle: every key present, nothing extra, valid onions and
 * token key, and a signature by the board onion's own key. Throws KeyBundleInvalidError.
 */
export function importKeyBundle(text: string): SignedKeyBundle {
  if (text.length > MAX_KEY_BUNDLE_LENGTH || !text.startsWith(KEY_BUNDLE_PREFIX)) {
    throw new KeyBundleInvalidError(`a key bundle starts with "${KEY_BUNDLE_PREFIX}"`);
  }
  let json: Uint8Array;
  try {
    json = fromBase64(text.slice(KEY_BUNDLE_PREFIX.length));
  } catch (cause) {
    throw new KeyBundleInvalidError('key bundle is not base64', { cause });
  }
  const parsed = decodeJSON(json, BundleSchema, (reason, cause) => new KeyBundleInvalidError(`key bundle: ${reason}`, { cause }));
  const bundle: KeyBundle = {
    boardOnion: parsed.Keys[KEY_BUNDLE_KEYS.boardOnion] as OnionName,
    tokenOnion: parsed.Keys[KEY_BUNDLE_KEYS.tokenOnion] as OnionName,
    tokenPublicKey: parsed.Keys[KEY_BUNDLE_KEYS.tokenPublicKey],
  };
  checkKeys(bundle);
  if (!verifySignature(signedBytes(bundle), parsed.Signature, publicKeyFromOnion(bundle.boardOnion))) {
    throw new KeyBundleInvalidError('key bundle signature does not verify against the board onion');
  }
  return { ...bundle, signature: parsed.Signature };
}

export function sameKeys(a: KeyBundle, b: KeyBundle): boolean {
  return a.boardOnion === b.boardOnion && a.tokenOnion === b.tokenOnion && equalBytes(a.tokenPublicKey, b.tokenPublicKey);
}

/** Where a client remembers the bundles it trusted first, keyed by board onion. */
export interface KeyBundlePins {
  get(boardOnion: OnionName): Promise<KeyBundle | undefined>;
  set(bundle: KeyBundle): Promise<void>;
}

export class MemoryKeyBundlePins implements KeyBundlePins {
  readonly #pins = new Map<string, KeyBundle>();

  public get(boardOnion: OnionName): Promise<KeyBundle | undefined> {
    return Promise.resolve(this.#pins.get(boardOnion));
  }

  public set(bundle: KeyBundle): Promise<void> {
    this.#pins.set(bundle.boardOnion, { boardOnion: bundle.boardOnion, tokenOnion: bundle.tokenOnion, tokenPublicKey: new Uint8Array(bundle.tokenPublicKey) });
    return Promise.resolve();
  }
}

/**
 * Trust on first use: import `text`, and pin it if this board onion is new; if it was pinned
 * before, every key must match exactly or KeyBundleChangedError is thrown (a relay that
 * rotates its token key or moves its token service is a different relay to its groups).
 */
export async function trustKeyBundle(text: string, pins: KeyBundlePins): Promise<SignedKeyBundle> {
  const bundle = importKeyBundle(text);
  const pinned = await pins.get(bundle.boardOnion);
  if (pinned === undefined) await pins.set(bundle);
  else if (!sameKeys(pinned, bundle)) throw new KeyBundleChangedError();
  return bundle;
}

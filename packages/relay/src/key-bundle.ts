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
import {
  KEY_BUNDLE_CONTEXT,
  KEY_BUNDLE_KEYS,
  KEY_BUNDLE_PREFIX,
  LEGACY_TOKEN_KEY_ENTRY,
  MAX_BUCKET_SECONDS,
  MAX_KEY_BUNDLE_LENGTH,
  MIN_BUCKET_SECONDS,
} from './protocol-profile.js';
import { checkSchedule, type TokenEpochSchedule } from './token-epochs.js';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';

/**
 * A relay's signed key bundle: its board onion, its token-service onion, and its token key
 * schedule with the root committing to every epoch's key (see token-epochs.ts), signed by the
 * board identity. A group invite carries the exported string; clients verify it, pin it on
 * first use (TOFU) and refuse a relay that later shows different keys.
 */
export interface KeyBundle {
  readonly boardOnion: OnionName;
  readonly tokenOnion: OnionName;
  /** Merkle root over (epoch, VOPRF public key) for every epoch of the schedule. */
  readonly tokenEpochRoot: Uint8Array;
  readonly tokenSchedule: TokenEpochSchedule;
  /**
   * The fetch bucket length (see DEFAULT_BUCKET_SECONDS). Undefined in a bundle from a relay
   * that predates bucketed fetch: its members replay "since" a signature instead.
   */
  readonly bucketSeconds?: number;
}

export interface SignedKeyBundle extends KeyBundle {
  readonly signature: Uint8Array;
}

function signedBytes(bundle: KeyBundle): Uint8Array {
  const s = bundle.tokenSchedule;
  return canonicalEncode({
    context: KEY_BUNDLE_CONTEXT,
    keys: {
      [KEY_BUNDLE_KEYS.boardOnion]: bundle.boardOnion,
      [KEY_BUNDLE_KEYS.tokenOnion]: bundle.tokenOnion,
      [KEY_BUNDLE_KEYS.tokenEpochRoot]: bundle.tokenEpochRoot,
      [KEY_BUNDLE_KEYS.tokenEpochStart]: s.startSeconds,
      [KEY_BUNDLE_KEYS.tokenEpochSeconds]: s.epochSeconds,
      [KEY_BUNDLE_KEYS.tokenEpochCount]: s.count,
      [KEY_BUNDLE_KEYS.tokenGraceSeconds]: s.graceSeconds,
      // Signed only when present, so a bundle from before buckets verifies as it always did,
      // and stripping the entry from a newer bundle breaks its signature.
      ...(bundle.bucketSeconds === undefined ? {} : { [KEY_BUNDLE_KEYS.bucketSeconds]: bundle.bucketSeconds }),
    },
  });
}

/** Relay side: sign a bundle with the board identity (which must be the bundle's board onion). */
export function signKeyBundle(
  boardIdentity: Identity,
  tokenOnion: OnionName,
  keys: { readonly root: Uint8Array; readonly schedule: TokenEpochSchedule; readonly bucketSeconds?: number },
): SignedKeyBundle {
  const bundle: KeyBundle = {
    boardOnion: boardIdentity.onion,
    tokenOnion,
    tokenEpochRoot: new Uint8Array(keys.root),
    tokenSchedule: { ...keys.schedule },
    ...(keys.bucketSeconds === undefined ? {} : { bucketSeconds: keys.bucketSeconds }),
  };
  checkKeys(bundle);
  return { ...bundle, signature: boardIdentity.sign(signedBytes(bundle)) };
}

function checkKeys(bundle: KeyBundle): void {
  if (!isOnionName(bundle.boardOnion) || !isOnionName(bundle.tokenOnion)) throw new KeyBundleInvalidError('bundle onion names are invalid');
  if (bundle.boardOnion === bundle.tokenOnion) throw new KeyBundleInvalidError('board and token service must be distinct onions');
  if (bundle.tokenEpochRoot.length !== 32) throw new KeyBundleInvalidError('token epoch root is not 32 bytes');
  const bucket = bundle.bucketSeconds;
  if (bucket !== undefined && !(Number.isSafeInteger(bucket) && bucket >= MIN_BUCKET_SECONDS && bucket <= MAX_BUCKET_SECONDS)) {
    throw new KeyBundleInvalidError(`bucket length must be ${MIN_BUCKET_SECONDS}–${MAX_BUCKET_SECONDS} seconds`);
  }
  try {
    checkSchedule(bundle.tokenSchedule);
  } catch (cause) {
    throw new KeyBundleInvalidError(`token schedule: ${(cause as Error).message}`, { cause });
  }
}

/** Whole seconds as a decimal string (bundle values are strings, as in Cwtch's map). */
const seconds = z
  .string()
  .max(16)
  .regex(/^(0|[1-9][0-9]*)$/, 'a whole number')
  .transform(Number);

const BundleSchema = z.strictObject({
  Keys: z.strictObject({
    [KEY_BUNDLE_KEYS.boardOnion]: z.string().max(64),
    [KEY_BUNDLE_KEYS.tokenOnion]: z.string().max(64),
    [KEY_BUNDLE_KEYS.tokenEpochRoot]: base64Bytes(32),
    [KEY_BUNDLE_KEYS.tokenEpochStart]: seconds,
    [KEY_BUNDLE_KEYS.tokenEpochSeconds]: seconds,
    [KEY_BUNDLE_KEYS.tokenEpochCount]: seconds,
    [KEY_BUNDLE_KEYS.tokenGraceSeconds]: seconds,
    [KEY_BUNDLE_KEYS.bucketSeconds]: seconds.optional(),
  }),
  Signature: base64Bytes(64),
});

/** `server:` + base64(JSON({Keys: {…}, Signature})). */
export function exportKeyBundle(bundle: SignedKeyBundle): string {
  const s = bundle.tokenSchedule;
  const json = encodeJSON({
    Keys: {
      [KEY_BUNDLE_KEYS.boardOnion]: bundle.boardOnion,
      [KEY_BUNDLE_KEYS.tokenOnion]: bundle.tokenOnion,
      [KEY_BUNDLE_KEYS.tokenEpochRoot]: toBase64(bundle.tokenEpochRoot),
      [KEY_BUNDLE_KEYS.tokenEpochStart]: String(s.startSeconds),
      [KEY_BUNDLE_KEYS.tokenEpochSeconds]: String(s.epochSeconds),
      [KEY_BUNDLE_KEYS.tokenEpochCount]: String(s.count),
      [KEY_BUNDLE_KEYS.tokenGraceSeconds]: String(s.graceSeconds),
      ...(bundle.bucketSeconds === undefined ? {} : { [KEY_BUNDLE_KEYS.bucketSeconds]: String(bundle.bucketSeconds) }),
    },
    Signature: toBase64(bundle.signature),
  });
  return KEY_BUNDLE_PREFIX + toBase64(json);
}

/**
 * Parse and verify an exported bundle: every key present, nothing extra, valid onions and
 * schedule, and a signature by the board onion's own key. Throws KeyBundleInvalidError (with
 * its own message for a bundle from a relay that predates token epochs).
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
  const parsed = decodeJSON(json, BundleSchema, (reason, cause) =>
    isLegacyBundle(json)
      ? new KeyBundleInvalidError('this relay predates token key epochs: its operator must upgrade it and share its new key bundle', { cause })
      : new KeyBundleInvalidError(`key bundle: ${reason}`, { cause }),
  );
  const keys = parsed.Keys;
  const bundle: KeyBundle = {
    boardOnion: keys[KEY_BUNDLE_KEYS.boardOnion] as OnionName,
    tokenOnion: keys[KEY_BUNDLE_KEYS.tokenOnion] as OnionName,
    tokenEpochRoot: keys[KEY_BUNDLE_KEYS.tokenEpochRoot],
    tokenSchedule: {
      startSeconds: keys[KEY_BUNDLE_KEYS.tokenEpochStart],
      epochSeconds: keys[KEY_BUNDLE_KEYS.tokenEpochSeconds],
      count: keys[KEY_BUNDLE_KEYS.tokenEpochCount],
      graceSeconds: keys[KEY_BUNDLE_KEYS.tokenGraceSeconds],
    },
    ...(keys[KEY_BUNDLE_KEYS.bucketSeconds] === undefined ? {} : { bucketSeconds: keys[KEY_BUNDLE_KEYS.bucketSeconds] }),
  };
  checkKeys(bundle);
  if (!verifySignature(signedBytes(bundle), parsed.Signature, publicKeyFromOnion(bundle.boardOnion))) {
    throw new KeyBundleInvalidError('key bundle signature does not verify against the board onion');
  }
  return { ...bundle, signature: parsed.Signature };
}

/** A bundle with Cwtch's single token key and no schedule: from a relay without epochs. */
function isLegacyBundle(json: Uint8Array): boolean {
  try {
    const value = JSON.parse(new TextDecoder().decode(json)) as { Keys?: unknown };
    return typeof value.Keys === 'object' && value.Keys !== null && Object.hasOwn(value.Keys, LEGACY_TOKEN_KEY_ENTRY);
  } catch {
    return false;
  }
}

/**
 * The board onion of a bundle this version can no longer read because it predates token
 * epochs (a pin made before the upgrade), or undefined. Its signature is not checked here: it
 * is only asked of a pin this node verified when it made it, and what may replace that pin is
 * a new bundle that importKeyBundle verified against the same board onion.
 */
export function legacyBundleOnion(text: string): OnionName | undefined {
  if (text.length > MAX_KEY_BUNDLE_LENGTH || !text.startsWith(KEY_BUNDLE_PREFIX)) return undefined;
  try {
    const json = fromBase64(text.slice(KEY_BUNDLE_PREFIX.length));
    if (!isLegacyBundle(json)) return undefined;
    const value = JSON.parse(new TextDecoder().decode(json)) as { Keys: Record<string, unknown> };
    const onion = value.Keys[KEY_BUNDLE_KEYS.boardOnion];
    return typeof onion === 'string' && isOnionName(onion) ? onion : undefined;
  } catch {
    return undefined;
  }
}

export function sameKeys(a: KeyBundle, b: KeyBundle): boolean {
  return sameTokenKeys(a, b) && a.bucketSeconds === b.bucketSeconds;
}

/** `next` is `pinned` after its relay was upgraded to bucketed fetch: a bucket length added, every token key kept. */
export function addsBuckets(pinned: KeyBundle, next: KeyBundle): boolean {
  return pinned.bucketSeconds === undefined && next.bucketSeconds !== undefined && sameTokenKeys(pinned, next);
}

function sameTokenKeys(a: KeyBundle, b: KeyBundle): boolean {
  const [x, y] = [a.tokenSchedule, b.tokenSchedule];
  return (
    a.boardOnion === b.boardOnion &&
    a.tokenOnion === b.tokenOnion &&
    equalBytes(a.tokenEpochRoot, b.tokenEpochRoot) &&
    x.startSeconds === y.startSeconds &&
    x.epochSeconds === y.epochSeconds &&
    x.count === y.count &&
    x.graceSeconds === y.graceSeconds
  );
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
    this.#pins.set(bundle.boardOnion, {
      boardOnion: bundle.boardOnion,
      tokenOnion: bundle.tokenOnion,
      tokenEpochRoot: new Uint8Array(bundle.tokenEpochRoot),
      tokenSchedule: { ...bundle.tokenSchedule },
      ...(bundle.bucketSeconds === undefined ? {} : { bucketSeconds: bundle.bucketSeconds }),
    });
    return Promise.resolve();
  }
}

/**
 * Trust on first use: import `text`, and pin it if this board onion is new; if it was pinned
 * before, every key must match exactly or KeyBundleChangedError is thrown (a relay that
 * changes its key schedule or moves its token service is a different relay to its groups;
 * the epoch keys themselves change on schedule, each proven against the pinned root). One
 * change is let through: a pin from before bucketed fetch is replaced by the same board's
 * bundle that adds a bucket length and keeps every token key (the relay was upgraded). The
 * same board's bundle from before the upgrade is still accepted and leaves the pin as it is:
 * members keep handing out invites with the bundle their group was made with. A bucket length
 * changed is refused like any other change.
 */
export async function trustKeyBundle(text: string, pins: KeyBundlePins): Promise<SignedKeyBundle> {
  const bundle = importKeyBundle(text);
  const pinned = await pins.get(bundle.boardOnion);
  if (pinned === undefined) await pins.set(bundle);
  else if (addsBuckets(pinned, bundle)) await pins.set(bundle);
  else if (!sameKeys(pinned, bundle) && !addsBuckets(bundle, pinned)) throw new KeyBundleChangedError();
  return bundle;
}

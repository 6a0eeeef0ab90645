import { randomBytes } from 'node:crypto';
import { concatBytes, equalBytes, sha256 } from '@pursuance/crypto';
import {
  DEFAULT_TOKEN_EPOCH_COUNT,
  DEFAULT_TOKEN_EPOCH_SECONDS,
  DEFAULT_TOKEN_GRACE_SECONDS,
  MAX_TOKEN_EPOCH_COUNT,
  MIN_TOKEN_EPOCH_SECONDS,
  TOKEN_EPOCH_SKEW_MS,
  TOKEN_SPEND_MARGIN_MS,
} from './protocol-profile.js';
import { deriveVoprfKeyPair, type VoprfKeyPair } from './voprf.js';

/**
 * Token key epochs. The token service's VOPRF key changes every epoch, so the spent set of an
 * old epoch can be dropped once its tokens are no longer redeemed. The danger of changing keys
 * is tagging: a relay that hands each client its own key can tell whose token a post spends.
 * So the relay commits to every epoch's public key up front: the signed key bundle (which a
 * group invite carries, so all members hold the same one) names the root of a Merkle tree over
 * all `count` epoch keys, and each issuance comes with the path proving its key is the one in
 * the tree for that epoch. A key outside the tree, or an epoch other than now, is refused, so a
 * relay has one key per epoch for everybody or is caught.
 *
 * The keys are derived from one sealed seed with RFC 9497 DeriveKeyPair(seed, info=epoch), so
 * the relay keeps 32 secret bytes, not a key per epoch. (No forward secrecy for old epochs: a
 * seized seed re-derives every key, which unblinds nothing, since issuance is blind, but lets a
 * thief mint tokens for the epochs still redeemed; the seed is sealed under the relay password.)
 */
export interface TokenEpochSchedule {
  /** When epoch 0 begins, in seconds since the Unix epoch. */
  readonly startSeconds: number;
  readonly epochSeconds: number;
  /** How many epochs the bundle commits to: a power of two, 1 … MAX_TOKEN_EPOCH_COUNT. */
  readonly count: number;
  /** How long after its epoch ends a token is still redeemed. */
  readonly graceSeconds: number;
}

export class TokenEpochScheduleError extends RangeError {
  public readonly code = 'TOKEN_EPOCH_SCHEDULE_INVALID';
}

/** Throws TokenEpochScheduleError unless every field is in range. */
export function checkSchedule(schedule: TokenEpochSchedule): TokenEpochSchedule {
  const { startSeconds, epochSeconds, count, graceSeconds } = schedule;
  const integer = (n: number, min: number, max: number): boolean => Number.isSafeInteger(n) && n >= min && n <= max;
  if (!integer(startSeconds, 0, 2 ** 40)) throw new TokenEpochScheduleError('epoch start must be a whole number of seconds since 1970');
  if (!integer(epochSeconds, MIN_TOKEN_EPOCH_SECONDS, 2 ** 32)) throw new TokenEpochScheduleError('epoch length is out of range');
  if (!integer(graceSeconds, 0, 2 ** 32)) throw new TokenEpochScheduleError('grace is out of range');
  if (!integer(count, 1, MAX_TOKEN_EPOCH_COUNT) || (count & (count - 1)) !== 0) {
    throw new TokenEpochScheduleError(`epoch count must be a power of two up to ${MAX_TOKEN_EPOCH_COUNT}`);
  }
  return schedule;
}

/** A fresh schedule starting at the UTC day `nowMs` falls in, with the defaults. */
export function defaultSchedule(nowMs: number = Date.now(), overrides: Partial<Omit<TokenEpochSchedule, 'startSeconds'>> = {}): TokenEpochSchedule {
  return checkSchedule({
    startSeconds: Math.floor(nowMs / 86_400_000) * 86_400,
    epochSeconds: overrides.epochSeconds ?? DEFAULT_TOKEN_EPOCH_SECONDS,
    count: overrides.count ?? DEFAULT_TOKEN_EPOCH_COUNT,
    graceSeconds: overrides.graceSeconds ?? DEFAULT_TOKEN_GRACE_SECONDS,
  });
}

export const epochStartMs = (s: TokenEpochSchedule, epoch: number): number => (s.startSeconds + epoch * s.epochSeconds) * 1000;
export const epochEndMs = (s: TokenEpochSchedule, epoch: number): number => epochStartMs(s, epoch + 1);
/** The last moment (exclusive) a token of `epoch` is redeemed. */
export const redeemUntilMs = (s: TokenEpochSchedule, epoch: number): number => epochEndMs(s, epoch) + s.graceSeconds * 1000;

/** The epoch `nowMs` falls in, or undefined before the first or after the last. */
export function epochAt(s: TokenEpochSchedule, nowMs: number): number | undefined {
  const epoch = Math.floor((nowMs / 1000 - s.startSeconds) / s.epochSeconds);
  return epoch >= 0 && epoch < s.count ? epoch : undefined;
}

const isEpoch = (s: TokenEpochSchedule, epoch: number): boolean => Number.isSafeInteger(epoch) && epoch >= 0 && epoch < s.count;

/**
 * Relay side: does a token of `epoch` still post at `nowMs`? From the epoch's start (less the
 * clock skew a client may have) until its end plus the grace period.
 */
export function isRedeemable(s: TokenEpochSchedule, epoch: number, nowMs: number): boolean {
  return isEpoch(s, epoch) && nowMs >= epochStartMs(s, epoch) - TOKEN_EPOCH_SKEW_MS && nowMs < redeemUntilMs(s, epoch);
}

/** Relay side: every epoch below this one is past redemption, so its spent tokens may be dropped. */
export function oldestRedeemable(s: TokenEpochSchedule, nowMs: number): number {
  // The first epoch whose redemption has not ended: end(e) + grace > now.
  const epoch = Math.floor((nowMs / 1000 - s.graceSeconds - s.startSeconds) / s.epochSeconds);
  return Math.min(s.count, Math.max(0, epoch));
}

/**
 * Client side: may a batch be issued under `epoch` at `nowMs`? The current epoch, or a
 * neighbour while within the clock skew of their boundary. Anything else is a relay singling
 * this client out (an old or future key is a key few others hold).
 */
export function isIssuable(s: TokenEpochSchedule, epoch: number, nowMs: number): boolean {
  if (!isEpoch(s, epoch)) return false;
  return nowMs >= epochStartMs(s, epoch) - TOKEN_EPOCH_SKEW_MS && nowMs < epochEndMs(s, epoch) + TOKEN_EPOCH_SKEW_MS;
}

/** Client side: is a token of `epoch` still worth spending (redeemed, with margin for the trip)? */
export function isSpendable(s: TokenEpochSchedule, epoch: number, nowMs: number): boolean {
  return isEpoch(s, epoch) && nowMs < redeemUntilMs(s, epoch) - TOKEN_SPEND_MARGIN_MS;
}

// ---------------------------------------------------------------------------------------------
// The commitment: a Merkle tree over (epoch, public key) leaves.
// ---------------------------------------------------------------------------------------------

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** The epoch is in the leaf, so a proof for one epoch's key cannot be shown for another. */
export function epochLeaf(epoch: number, publicKey: Uint8Array): Uint8Array {
  return sha256(LEAF, u32(epoch), publicKey);
}

const node = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(NODE, left, right);

/** All levels of the tree, leaves first, root last (a level of one). */
function levels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [[...leaves]];
  while (out.at(-1)!.length > 1) {
    const below = out.at(-1)!;
    const level: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) level.push(node(below[i]!, below[i + 1]!));
    out.push(level);
  }
  return out;
}

/** The bundle's commitment to every epoch key (publicKeys[i] is epoch i's; a power-of-two count). */
export function epochRoot(publicKeys: readonly Uint8Array[]): Uint8Array {
  return levels(publicKeys.map((pk, i) => epochLeaf(i, pk))).at(-1)![0]!;
}

/**
 * Check that `publicKey` is the key committed for `epoch` under `root`: `path` holds the
 * sibling hashes from the leaf up, exactly log2(count) of them.
 */
export function verifyEpochKey(root: Uint8Array, count: number, epoch: number, publicKey: Uint8Array, path: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= count || path.length !== Math.log2(count)) return false;
  let hash = epochLeaf(epoch, publicKey);
  let index = epoch;
  for (const sibling of path) {
    if (sibling.length !== 32) return false;
    hash = index % 2 === 1 ? node(sibling, hash) : node(hash, sibling);
    index = Math.floor(index / 2);
  }
  return equalBytes(hash, root);
}

// ---------------------------------------------------------------------------------------------
// The relay's keyring.
// ---------------------------------------------------------------------------------------------

const INFO_PREFIX = new TextEncoder().encode('pursuance-relay/token-epoch/');

/** RFC 9497 DeriveKeyPair(seed, info = prefix ‖ u32(epoch)). */
export function deriveEpochKey(seed: Uint8Array, epoch: number): VoprfKeyPair {
  return deriveVoprfKeyPair(seed, concatBytes(INFO_PREFIX, u32(epoch)));
}

/** What the token service sends with a batch so the client can check its key. */
export interface EpochKeyProof {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly path: readonly Uint8Array[];
}

/**
 * The relay's epoch keys: the schedule, the seed they derive from, and the Merkle tree over
 * their public keys (computed once at start: about half a second for the default 1024 keys).
 */
export class TokenKeyring {
  public readonly schedule: TokenEpochSchedule;
  public readonly root: Uint8Array;
  readonly #seed: Uint8Array;
  readonly #levels: Uint8Array[][];
  readonly #publicKeys: Uint8Array[];
  /** Secret keys derived so far (only the few around now are ever asked for). */
  readonly #secrets = new Map<number, VoprfKeyPair>();

  private constructor(seed: Uint8Array, schedule: TokenEpochSchedule) {
    if (seed.length !== 32) throw new RangeError('a token key seed is 32 bytes');
    this.schedule = checkSchedule(schedule);
    this.#seed = new Uint8Array(seed);
    this.#publicKeys = Array.from({ length: schedule.count }, (_, epoch) => this.key(epoch).publicKey);
    this.#levels = levels(this.#publicKeys.map((pk, i) => epochLeaf(i, pk)));
    this.root = this.#levels.at(-1)![0]!;
  }

  public static fromSeed(seed: Uint8Array, schedule: TokenEpochSchedule): TokenKeyring {
    return new TokenKeyring(seed, schedule);
  }

  /** A throwaway keyring (tests, embedded relays): a random seed, a schedule starting the UTC day of `nowMs`. */
  public static generate(overrides: Partial<Omit<TokenEpochSchedule, 'startSeconds'>> = {}, nowMs: number = Date.now()): TokenKeyring {
    return new TokenKeyring(new Uint8Array(randomBytes(32)), defaultSchedule(nowMs, overrides));
  }

  /** Epoch `epoch`'s key pair. Its secret half never leaves the relay. */
  public key(epoch: number): VoprfKeyPair {
    let pair = this.#secrets.get(epoch);
    if (pair === undefined) {
      pair = deriveEpochKey(this.#seed, epoch);
      // Keep the cache small: the public keys are kept apart, secrets only for epochs in use.
      if (this.#secrets.size >= 8) this.#secrets.clear();
      this.#secrets.set(epoch, pair);
    }
    return pair;
  }

  public publicKey(epoch: number): Uint8Array {
    return this.#publicKeys[epoch]!;
  }

  /** The key and proof to issue under at `nowMs`, or undefined outside the schedule. */
  public issuing(nowMs: number): (EpochKeyProof & { readonly key: VoprfKeyPair }) | undefined {
    const epoch = epochAt(this.schedule, nowMs);
    if (epoch === undefined) return undefined;
    return { epoch, key: this.key(epoch), publicKey: this.#publicKeys[epoch]!, path: this.path(epoch) };
  }

  /** The key that redeems a token of `epoch` at `nowMs`, or undefined if such tokens are refused now. */
  public redeeming(epoch: number, nowMs: number): VoprfKeyPair | undefined {
    return isRedeemable(this.schedule, epoch, nowMs) ? this.key(epoch) : undefined;
  }

  /** Sibling hashes from epoch's leaf up to the root. */
  public path(epoch: number): Uint8Array[] {
    const path: Uint8Array[] = [];
    let index = epoch;
    for (const level of this.#levels.slice(0, -1)) {
      path.push(level[index ^ 1]!);
      index >>= 1;
    }
    return path;
  }

  /** Zero the seed and cached secrets (the daemon calls this at stop). */
  public wipe(): void {
    this.#seed.fill(0);
    for (const pair of this.#secrets.values()) pair.secretKey.fill(0);
    this.#secrets.clear();
  }
}

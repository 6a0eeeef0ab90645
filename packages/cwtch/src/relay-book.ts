import { KeyBundleChangedError, addsBuckets, importKeyBundle, legacyBundleOnion, sameKeys, type SignedKeyBundle } from '@pursuance/relay';
import { COLLECTIONS, RelayRecordSchema, decodeRecord, toCanonical, type RelayRecord } from './records.js';
import type { ProfileVault } from './vault.js';

/**
 * The relays a profile trusts, each pinned to the signed key bundle it was first seen with
 * (trust on first use): a relay that later presents other keys is refused, whoever hands us
 * its bundle — an invite from a member, or the user.
 */
export class RelayBook {
  readonly #vault: ProfileVault;
  readonly #relays = new Map<string, RelayRecord>();
  /** Bucket lengths of pinned bundles, by bundle text: verified once, not on every status read. */
  readonly #buckets = new Map<string, number | undefined>();

  public constructor(vault: ProfileVault) {
    this.#vault = vault;
  }

  public async load(): Promise<void> {
    for await (const r of this.#vault.all(COLLECTIONS.relays)) {
      const relay = decodeRecord(RelayRecordSchema, r.value, 'relay');
      this.#relays.set(relay.boardOnion, relay);
    }
  }

  public all(): RelayRecord[] {
    return [...this.#relays.values()];
  }

  public get(boardOnion: string): RelayRecord | undefined {
    return this.#relays.get(boardOnion);
  }

  /** The fetch bucket length of the pinned bundle (undefined: not pinned, or a relay from before buckets). */
  public bucketSeconds(boardOnion: string): number | undefined {
    const record = this.#relays.get(boardOnion);
    if (record === undefined) return undefined;
    if (!this.#buckets.has(record.bundle)) this.#buckets.set(record.bundle, importKeyBundle(record.bundle).bucketSeconds);
    return this.#buckets.get(record.bundle);
  }

  /**
   * Verify an exported bundle's signature and pin it on first use; KeyBundleChangedError if it
   * differs from the pinned one. A pin made before token key epochs (a bundle this version can
   * no longer read) is replaced once by the same board's new bundle: the board identity signs
   * both, and the new one commits to all of its future token keys. So is a pin from before
   * bucketed fetch, by the same board's bundle that adds a bucket length to the same token keys.
   */
  public async trust(bundleText: string): Promise<SignedKeyBundle> {
    const bundle = importKeyBundle(bundleText);
    const pinned = this.#relays.get(bundle.boardOnion);
    if (pinned !== undefined && legacyBundleOnion(pinned.bundle) !== bundle.boardOnion) {
      const current = importKeyBundle(pinned.bundle);
      if (!addsBuckets(current, bundle)) {
        // The same board's bundle from before the upgrade (an older invite) keeps the pin.
        if (!sameKeys(current, bundle) && !addsBuckets(bundle, current)) throw new KeyBundleChangedError();
        return bundle;
      }
    }
    const record: RelayRecord = { boardOnion: bundle.boardOnion, bundle: bundleText };
    await this.#vault.write([this.#vault.put(COLLECTIONS.relays, record.boardOnion, toCanonical(record))]);
    this.#relays.set(record.boardOnion, record);
    return bundle;
  }
}

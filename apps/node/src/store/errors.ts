/** The node database was sealed under another key: another profile's store, or a replaced profile. */
export class StoreKeyMismatchError extends Error {
  public readonly code = 'STORE_KEY_MISMATCH';
  public constructor(path: string) {
    super(`${path} was sealed by another profile's key; this profile cannot open it (move it aside to start with an empty store)`);
    this.name = 'StoreKeyMismatchError';
  }
}

/** A row that does not open under the store key, does not decode, or is not where it belongs. */
export class StoreCorruptError extends Error {
  public readonly code = 'STORE_CORRUPT';
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreCorruptError';
  }
}

/**
 * A read-model row in the layout before parts were bucketed: not damage, only an older layout.
 * Start-up's read leaves such a pursuance's read model out (the replay writes it again); any other
 * read reports it as the unreadable row it is to this layout.
 */
export class LegacyProjectionLayoutError extends StoreCorruptError {
  public constructor(public readonly pursuanceId: string) {
    super(`pursuance ${pursuanceId}: the stored read model is in an older layout`);
    this.name = 'LegacyProjectionLayoutError';
  }
}

/**
 * An author asked for more new role keys than the vault holds at rest. Nothing was signed:
 * the action fails rather than create a key that would not survive a restart.
 */
export class KeyVaultEmptyError extends Error {
  public readonly code = 'KEY_VAULT_EMPTY';
  public constructor() {
    super('no persisted key secret is left for a new role key; retry the action');
    this.name = 'KeyVaultEmptyError';
  }
}

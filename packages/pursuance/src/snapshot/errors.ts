/** Why a snapshot cannot be started from: its bytes, its parts, or its attestation. */
export const SnapshotProblem = {
  /** The bytes are not a snapshot document, or its parts do not hang together. */
  INVALID: 'SNAPSHOT_INVALID',
  /** The document's hash is not the one the attestations sign. */
  HASH_MISMATCH: 'SNAPSHOT_HASH_MISMATCH',
  /** Fewer distinct eligible members attest it than the rules require. */
  UNDER_ATTESTED: 'SNAPSHOT_UNDER_ATTESTED',
  /** The frontier is not stable in the log that was asked to capture it. */
  UNSTABLE: 'SNAPSHOT_UNSTABLE',
} as const;
export type SnapshotProblem = (typeof SnapshotProblem)[keyof typeof SnapshotProblem];

export class SnapshotError extends Error {
  public constructor(
    public readonly code: SnapshotProblem,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** The snapshot's bytes or parts are malformed or inconsistent. */
export class SnapshotInvalidError extends SnapshotError {
  public constructor(message: string) {
    super(SnapshotProblem.INVALID, message);
    this.name = 'SnapshotInvalidError';
  }
}

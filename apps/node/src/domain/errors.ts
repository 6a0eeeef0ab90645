/** Typed errors of the node's domain layer; the HTTP layer maps them to status codes. */
export class UnknownPursuanceError extends Error {
  public readonly code = 'UNKNOWN_PURSUANCE';
  public constructor(id: string) {
    super(`no pursuance ${id} on this node`);
    this.name = 'UnknownPursuanceError';
  }
}

export class UnknownTaskError extends Error {
  public readonly code = 'UNKNOWN_TASK';
  public constructor(id: string) {
    super(`no task ${id} in this pursuance`);
    this.name = 'UnknownTaskError';
  }
}

export class InvalidRequestError extends Error {
  public readonly code = 'INVALID_REQUEST';
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestError';
  }
}

/**
 * A pursuance this node could not rebuild from its store at start-up (or on rebuild): it is
 * set aside so the node and its other pursuances keep working. The reason says what failed.
 */
export class PursuanceQuarantinedError extends Error {
  public readonly code = 'PURSUANCE_QUARANTINED';
  public constructor(
    public readonly pursuanceId: string,
    public readonly reason: string,
  ) {
    super(`pursuance ${pursuanceId} is quarantined on this node: ${reason}`);
    this.name = 'PursuanceQuarantinedError';
  }
}

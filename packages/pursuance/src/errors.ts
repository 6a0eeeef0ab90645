/**
 * Why an event was rejected. Codes are stable (the node stores them, the dashboard shows
 * them); `reason` is the human-readable sentence, naming the rule that denied where one did.
 */
export const RejectionCode = {
  /** Bytes are not a canonical signed event. */
  INVALID_ENCODING: 'INVALID_ENCODING',
  /** The event or its body does not match the schema for its kind (unknown fields included). */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** The signature does not verify under the author's key. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** The event names another pursuance. */
  WRONG_PURSUANCE: 'WRONG_PURSUANCE',
  /** Two different events with one author and sequence number: both are rejected. */
  EQUIVOCATION: 'EQUIVOCATION',
  /** The author's previous event is not among this event's ancestors, or the sequence skips. */
  SEQUENCE_GAP: 'SEQUENCE_GAP',
  /** The author is not a member at this point in the log. */
  NOT_A_MEMBER: 'NOT_A_MEMBER',
  /** The rules do not let the author do this; the reason names the deciding rule. */
  DENIED: 'DENIED',
  /** A rule change or grant would give capabilities the author does not hold. */
  ESCALATION: 'ESCALATION',
  /** Content encrypted to a key the author knew had been superseded. */
  STALE_EPOCH: 'STALE_EPOCH',
  /** A key id that no valid rotation introduced for that role. */
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  /** A lockbox to someone who may not hold the key, or a malformed key set. */
  LOCKBOX_INVALID: 'LOCKBOX_INVALID',
  /** The event refers to a task, member, role or nomination that does not exist (here). */
  UNKNOWN_TARGET: 'UNKNOWN_TARGET',
  /** The action does not fit the target's current state (closing a closed task, a cycle…). */
  INVALID_STATE: 'INVALID_STATE',
  /** A genesis that is not the pursuance's first event, or a malformed one. */
  INVALID_GENESIS: 'INVALID_GENESIS',
  /** New rules that fail validation. */
  INVALID_RULES: 'INVALID_RULES',
  /**
   * Judging the event threw (a bug the event found): the event is rejected, identically on
   * every replica, instead of crashing the fold.
   */
  JUDGEMENT_FAILED: 'JUDGEMENT_FAILED',
  /**
   * Not kept: the event waits for ancestors this log lacks, and its author is nobody known as a
   * member, or already has too many events waiting. Offer it again once more is known.
   */
  PENDING_REFUSED: 'PENDING_REFUSED',
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

export interface Rejection {
  readonly eventId: string;
  readonly code: RejectionCode;
  readonly reason: string;
  /** The rule that denied, when a rule did (CASL rule reason). */
  readonly rule?: string;
}

/** Thrown where an event cannot even be parsed or verified (before it reaches the fold). */
export class EventRejectedError extends Error {
  public constructor(
    public readonly code: RejectionCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EventRejectedError';
  }
}

/** A local action the author's current abilities do not allow: refused before signing. */
export class ActionNotAllowedError extends Error {
  public constructor(
    public readonly code: RejectionCode,
    message: string,
    public readonly rule?: string,
  ) {
    super(message);
    this.name = 'ActionNotAllowedError';
  }
}

/** Content could not be decrypted with the keys this member holds. */
export class ContentUnreadableError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ContentUnreadableError';
  }
}

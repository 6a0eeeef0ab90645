/**
 * Typed errors of the relay package, each with a stable `code`. Messages never carry
 * ciphertexts, tokens, keys or identities, so an error can be logged as is (logs still use
 * the code only).
 */
export type RelayErrorCode =
  | 'MALFORMED_REQUEST'
  | 'MALFORMED_RESPONSE'
  | 'TOKEN_INVALID'
  | 'TOKEN_SPENT'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_KEY_UNPROVEN'
  | 'TOKEN_SCHEDULE_ENDED'
  | 'TOKEN_PROOF_INVALID'
  | 'TOKEN_BATCH_INVALID'
  | 'TOKENS_UNAVAILABLE'
  | 'KEY_BUNDLE_INVALID'
  | 'KEY_BUNDLE_CHANGED'
  | 'POST_REJECTED'
  | 'STORE_FAILED'
  | 'STORE_CLOSED'
  | 'REPLAY_INTERRUPTED'
  | 'SLOW_CONSUMER'
  | 'TOO_MANY_FAILED_SPENDS'
  | 'SESSION_CLOSED'
  | 'SESSION_UNRESPONSIVE'
  | 'RENEWAL_REFUSED'
  | 'ABORTED'
  | 'VOPRF_NOT_LOADED';

export class RelayError extends Error {
  public readonly code: RelayErrorCode;
  public constructor(code: RelayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A board or token-service request failed to parse or validate (the connection is closed). */
export class MalformedRequestError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_REQUEST', message, options);
  }
}

/** The relay sent the client something that is not a valid response. */
export class MalformedResponseError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_RESPONSE', message, options);
  }
}

/** A spent token's MAC does not check out: forged, bound to another post, or to another relay. */
export class TokenInvalidError extends RelayError {
  public constructor(message = 'token does not authorise this post on this relay') {
    super('TOKEN_INVALID', message);
  }
}

/** The token was spent before. */
export class TokenSpentError extends RelayError {
  public constructor() {
    super('TOKEN_SPENT', 'token already spent');
  }
}

/** The token service's DLEQ proof does not verify against the pinned public key. */
export class TokenProofInvalidError extends RelayError {
  public constructor(message = 'token batch proof does not verify against the relay key', options?: { cause?: unknown }) {
    super('TOKEN_PROOF_INVALID', message, options);
  }
}

/**
 * The token service answered with a key it did not commit to in the pinned bundle, or for an
 * epoch other than now: a relay trying to single this client out. No token is kept.
 */
export class TokenKeyUnprovenError extends RelayError {
  public constructor(message: string) {
    super('TOKEN_KEY_UNPROVEN', message);
  }
}

/** The relay's token key schedule has not begun or has run out: it must publish a new bundle. */
export class TokenScheduleEndedError extends RelayError {
  public constructor() {
    super('TOKEN_SCHEDULE_ENDED', "the relay's token key schedule does not cover the present: its operator must publish a new key bundle");
  }
}

/** A blinded batch is empty, too large, or holds an invalid element. */
export class TokenBatchInvalidError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('TOKEN_BATCH_INVALID', message, options);
  }
}

/** The client could not obtain tokens (token service unreachable, refused, or lying). */
export class TokensUnavailableError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('TOKENS_UNAVAILABLE', message, options);
  }
}

/** A key bundle string is malformed, incomplete, or its signature does not verify. */
export class KeyBundleInvalidError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('KEY_BUNDLE_INVALID', message, options);
  }
}

/** A relay presented a bundle that differs from the one pinned on first use. */
export class KeyBundleChangedError extends RelayError {
  public constructor() {
    super('KEY_BUNDLE_CHANGED', 'the relay key bundle differs from the pinned one');
  }
}

/** The board refused a post; `reason` is the relay's failure code. */
export class PostRejectedError extends RelayError {
  public constructor(public readonly reason: string) {
    super('POST_REJECTED', `post rejected: ${reason}`);
  }
}

/** The store could not complete an operation; nothing was acknowledged. */
export class StoreFailedError extends RelayError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_FAILED', message, options);
  }
}

/** The store was closed. */
export class StoreClosedError extends RelayError {
  public constructor() {
    super('STORE_CLOSED', 'store is closed');
  }
}

/** Messages announced for a replay disappeared (pruned) before they could be sent. */
export class ReplayInterruptedError extends RelayError {
  public constructor() {
    super('REPLAY_INTERRUPTED', 'messages were pruned during the replay; replay again');
  }
}

/** A session did not read its pushes fast enough and was dropped to bound memory. */
export class SlowConsumerError extends RelayError {
  public constructor() {
    super('SLOW_CONSUMER', 'session fell too far behind its pushes');
  }
}

/** A session kept presenting invalid or spent tokens. */
export class TooManyFailedSpendsError extends RelayError {
  public constructor() {
    super('TOO_MANY_FAILED_SPENDS', 'too many rejected tokens on this session');
  }
}

/** The board session is closed. */
export class SessionClosedError extends RelayError {
  public constructor(message = 'relay session closed', options?: { cause?: unknown }) {
    super('SESSION_CLOSED', message, options);
  }
}

/** The relay stopped answering on an open session (keepalive): the client closed it. */
export class SessionUnresponsiveError extends RelayError {
  public constructor(public readonly timeoutMs: number) {
    super('SESSION_UNRESPONSIVE', `relay session silent for ${timeoutMs} ms while an answer was due`);
  }
}

/**
 * The board refused a session renewal (`reason`: its RenewResult code, e.g. RENEWAL_INVALID for
 * work that does not meet its challenge), or asked for more work than the client accepts
 * (RENEWAL_TOO_HARD). Unrenewed, the session is closed at the board's idle timeout.
 */
export class RenewalRefusedError extends RelayError {
  public constructor(public readonly reason: string) {
    super('RENEWAL_REFUSED', `session renewal refused: ${reason}`);
  }
}

/** The caller aborted the operation (its AbortSignal fired, or the client was closed). */
export class OperationAbortedError extends RelayError {
  public constructor(message = 'relay operation aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/** A token operation ran before loadVoprf() had instantiated libsodium (a program's start-up skipped it). */
export class VoprfNotLoadedError extends RelayError {
  public constructor() {
    super('VOPRF_NOT_LOADED', 'the VOPRF library is not loaded yet: await loadVoprf() before the first token operation');
  }
}

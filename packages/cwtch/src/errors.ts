/**
 * Typed errors of the cwtch package, each with a stable `code` so callers, tests and logs can
 * match on it. Messages name the defect only: never keys, message contents or passwords.
 */
export type CwtchErrorCode =
  | 'PROFILE_EXISTS'
  | 'PROFILE_NOT_FOUND'
  | 'WRONG_PASSWORD'
  | 'PROFILE_CORRUPT'
  | 'STORE_CLOSED'
  | 'STORE_INVALID_OPERATION'
  | 'STORE_FAILED'
  | 'PEER_MESSAGE_INVALID'
  | 'OVERLAY_INVALID'
  | 'INVITE_INVALID'
  | 'INVITE_REJECTED'
  | 'GROUP_MESSAGE_INVALID'
  | 'FRAGMENT_INVALID'
  | 'SIGNATURE_INVALID'
  | 'NOT_A_MEMBER'
  | 'NOT_DECRYPTABLE'
  | 'GROUP_UNKNOWN'
  | 'CONTACT_UNKNOWN'
  | 'CONTACT_BLOCKED'
  | 'PAYLOAD_TOO_LARGE'
  | 'PEER_UNREACHABLE'
  | 'REQUEST_TIMEOUT'
  | 'PEER_STOPPED'
  | 'MOVE_NOT_AUTHORISED'
  | 'RELAY_UNKNOWN';

export class CwtchError extends Error {
  public readonly code: CwtchErrorCode;
  public constructor(code: CwtchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A profile already exists in this store; creating another would overwrite it. */
export class ProfileExistsError extends CwtchError {
  public constructor() {
    super('PROFILE_EXISTS', 'a profile already exists in this store');
  }
}

/** The store holds no profile. */
export class ProfileNotFoundError extends CwtchError {
  public constructor() {
    super('PROFILE_NOT_FOUND', 'no profile in this store');
  }
}

/** The password does not open the profile (or its header was altered). Nothing was written. */
export class WrongPasswordError extends CwtchError {
  public constructor(options?: { cause?: unknown }) {
    super('WRONG_PASSWORD', 'wrong password, or the profile header was altered', options);
  }
}

/** A stored record does not open under the profile key or does not decode: tampering or damage. */
export class ProfileCorruptError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('PROFILE_CORRUPT', message, options);
  }
}

export class StoreClosedError extends CwtchError {
  public constructor() {
    super('STORE_CLOSED', 'profile store is closed');
  }
}

/** A write names an empty or oversized collection/key or value; nothing of the batch was written. */
export class StoreInvalidOperationError extends CwtchError {
  public constructor(message: string) {
    super('STORE_INVALID_OPERATION', message);
  }
}

/** The backing database failed; the batch was rolled back. */
export class StoreFailedError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_FAILED', message, options);
  }
}

/** A peer-to-peer payload (PeerMessage, attribute request, repair request…) is malformed. */
export class PeerMessageInvalidError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('PEER_MESSAGE_INVALID', message, options);
  }
}

/** An overlay ({"o": …, "d": …}) is malformed. */
export class OverlayInvalidError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('OVERLAY_INVALID', message, options);
  }
}

/** A group invite does not parse, its bundle does not verify, or its group id does not match. */
export class InviteInvalidError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('INVITE_INVALID', message, options);
  }
}

/** A well-formed invite we refuse (its relay's keys changed since we pinned them, …). */
export class InviteRejectedError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('INVITE_REJECTED', message, options);
  }
}

/** A group plaintext decrypted but is not a valid envelope. */
export class GroupMessageInvalidError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('GROUP_MESSAGE_INVALID', message, options);
  }
}

/** A fragment header is inconsistent (index ≥ count, impossible length, …). */
export class FragmentInvalidError extends CwtchError {
  public constructor(message: string) {
    super('FRAGMENT_INVALID', message);
  }
}

/** The sender's signature does not verify: a forged sender or a modified message. */
export class SignatureInvalidError extends CwtchError {
  public constructor() {
    super('SIGNATURE_INVALID', 'group message signature does not verify against its claimed sender');
  }
}

/** A validly signed message from a key that is not on the group's member list. */
export class NotAMemberError extends CwtchError {
  public constructor() {
    super('NOT_A_MEMBER', 'group message sender is not a member of the group');
  }
}

/** The ciphertext does not open under the group key (another group's, or modified). */
export class NotDecryptableError extends CwtchError {
  public constructor() {
    super('NOT_DECRYPTABLE', 'ciphertext does not open under the group key');
  }
}

export class GroupUnknownError extends CwtchError {
  public constructor() {
    super('GROUP_UNKNOWN', 'no such group in this profile');
  }
}

export class ContactUnknownError extends CwtchError {
  public constructor() {
    super('CONTACT_UNKNOWN', 'no such contact in this profile');
  }
}

export class ContactBlockedError extends CwtchError {
  public constructor() {
    super('CONTACT_BLOCKED', 'contact is blocked');
  }
}

export class PayloadTooLargeError extends CwtchError {
  public constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

export class PeerUnreachableError extends CwtchError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('PEER_UNREACHABLE', message, options);
  }
}

export class RequestTimeoutError extends CwtchError {
  public constructor(message: string) {
    super('REQUEST_TIMEOUT', message);
  }
}

/** The peer was stopped while an operation was under way. */
export class PeerStoppedError extends CwtchError {
  public constructor() {
    super('PEER_STOPPED', 'the cwtch peer is stopped');
  }
}

/** A group-move message from someone other than the group's owner. */
export class MoveNotAuthorisedError extends CwtchError {
  public constructor() {
    super('MOVE_NOT_AUTHORISED', 'only the group owner may move the group');
  }
}

/** A group names a relay whose bundle this profile has not imported. */
export class RelayUnknownError extends CwtchError {
  public constructor() {
    super('RELAY_UNKNOWN', 'no key bundle for this relay in the profile');
  }
}

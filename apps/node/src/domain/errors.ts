/**
 * Typed errors of the node's domain layer. Each has a stable `code` (what clients and tests
 * match on) and a message in plain words meant for the person who made the request; the HTTP
 * layer maps each class to a status in one table (http/error-table.ts).
 */
/** A stable code for an error (its string `code`, else its class name), never its message: what logs may show. */
export function errorCode(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err.name;
}

export abstract class NodeError extends Error {
  public abstract readonly code: string;
  /** The request field the error concerns, when one does (so a form can show it beside that field). */
  public readonly field: string | undefined;
  public constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.field = options?.field;
    this.name = new.target.name;
  }
}

export class UnknownPursuanceError extends NodeError {
  public readonly code = 'UNKNOWN_PURSUANCE';
  public constructor(id: string) {
    super(`There is no pursuance ${id} on this node.`);
  }
}

export class UnknownTaskError extends NodeError {
  public readonly code = 'UNKNOWN_TASK';
  public constructor(id: string) {
    super(`There is no task ${id} in this pursuance (or it has not reached this node yet).`);
  }
}

/** A request that is well-formed JSON but asks for something that cannot be done as asked. */
export class InvalidRequestError extends NodeError {
  public readonly code = 'INVALID_REQUEST';
  public constructor(message: string, field?: string) {
    super(message, field === undefined ? undefined : { field });
  }
}

/**
 * A pursuance this node could not rebuild from its store at start-up (or on rebuild): it is
 * set aside so the node and its other pursuances keep working. The reason says what failed.
 */
export class PursuanceQuarantinedError extends NodeError {
  public readonly code = 'PURSUANCE_QUARANTINED';
  public constructor(
    public readonly pursuanceId: string,
    public readonly reason: string,
  ) {
    super(`Pursuance ${pursuanceId} is set aside on this node because it could not be rebuilt from its store (${reason}).`);
  }
}

/**
 * The node is still rebuilding this pursuance from its store (start-up, or a rebuild): its
 * persisted read model answers the read routes meanwhile; anything else is to be retried.
 */
export class PursuanceLoadingError extends NodeError {
  public readonly code = 'PURSUANCE_LOADING';
  /** Seconds after which a retry is worth it (the Retry-After header). */
  public readonly retryAfter = 1;
  public constructor(public readonly pursuanceId: string) {
    super(`This node is still loading the history of pursuance ${pursuanceId}. You can read it meanwhile; try this again in a moment.`);
  }
}

/** The node's API listens before start-up is over; this route answers once it is (retry). */
export class NodeStartingError extends NodeError {
  public readonly code = 'NODE_STARTING';
  public readonly retryAfter = 1;
  public constructor() {
    super('This node is still starting. You can read your pursuances meanwhile; try this again in a moment.');
  }
}

/** Invites, invitations and relay moves need the pursuance's Cwtch group, which attaching to a relay creates. */
export class NotAttachedError extends NodeError {
  public readonly code = 'NOT_ATTACHED';
  public constructor(public readonly pursuanceId: string) {
    super('This pursuance is not on a relay yet, so nobody can join or receive it. Attach it to a relay first (Health → Attach).');
  }
}

/**
 * No snapshot can be taken yet: no point of the history is stable (someone has not written
 * since, or writes beside it), or this node itself started from a snapshot.
 */
export class NoStableFrontierError extends NodeError {
  public readonly code = 'NO_STABLE_FRONTIER';
  public constructor(reason: string) {
    super(`No snapshot can be taken yet: ${reason}. A snapshot needs a point in the history that every member has written after.`);
  }
}

/** A snapshot bundle a member sent that this node will not start from (the reason names what failed). */
export class SnapshotRefusedError extends NodeError {
  public readonly code = 'SNAPSHOT_REFUSED';
  public constructor(
    public readonly problem: string,
    reason: string,
  ) {
    super(`This snapshot cannot be started from: ${reason}`);
  }
}

/** Pasted text that is not a usable invite to a pursuance (garbage, cut short, or for another kind of group). */
export class InvalidInviteError extends NodeError {
  public readonly code = 'INVALID_INVITE';
  public constructor(
    message = 'This is not a valid pursuance invite. Check that you pasted the whole invite, exactly as you received it.',
    options?: { cause?: unknown },
  ) {
    super(message, { ...options, field: 'invite' });
  }
}

/** Pasted text that is not a relay's signed key bundle (garbage, cut short, or its signature does not check). */
export class InvalidBundleError extends NodeError {
  public readonly code = 'INVALID_BUNDLE';
  /** `field`: the request field that carried the bundle (`bundle`, `relay` on creation, `invite` in a join link). */
  public constructor(options?: { cause?: unknown; field?: string }) {
    super("This is not a valid relay bundle. Paste the relay's whole bundle, exactly as its operator printed it.", {
      ...options,
      field: options?.field ?? 'bundle',
    });
  }
}

/**
 * The relay named (by a bundle or an invite's bundle) presents other keys than the ones this
 * node pinned for it the first time: someone may be impersonating it. Nothing was changed.
 */
export class RelayKeysChangedError extends NodeError {
  public readonly code = 'RELAY_KEYS_CHANGED';
  public constructor(field: 'bundle' | 'relay' | 'invite', options?: { cause?: unknown }) {
    super(
      'This relay now presents different keys from the ones this node saw first. It may be an impostor: ask its operator before going on. Nothing was changed.',
      { ...options, field },
    );
  }
}

/**
 * The safety number the user confirmed is not the one for this contact now (a screen left open
 * across a key change, or a typo): nothing is recorded, so a stale comparison never counts.
 */
export class SafetyNumberMismatchError extends NodeError {
  public readonly code = 'SAFETY_NUMBER_MISMATCH';
  public constructor() {
    super('This safety number is not the current one for this contact. Reopen the comparison and compare again.', { field: 'safetyNumber' });
  }
}

/** A join link past its expiry: the newcomer needs a new one. */
export class InviteExpiredError extends NodeError {
  public readonly code = 'INVITE_EXPIRED';
  public constructor() {
    super('This invite link has expired. Ask whoever invited you for a new one.', { field: 'invite' });
  }
}

/** No join invite with this id on this node (never made here, or pruned long after it closed). */
export class UnknownInviteError extends NodeError {
  public readonly code = 'UNKNOWN_INVITE';
  public constructor() {
    super('There is no such invite on this node.', { field: 'inviteId' });
  }
}

/** The invite is not waiting for a decision (already approved, refused, revoked or expired, or nobody asked yet). */
export class InviteClosedError extends NodeError {
  public readonly code = 'INVITE_CLOSED';
  public constructor(state: string) {
    super(`This invite is ${state}: there is no request waiting on it.`, { field: 'inviteId' });
  }
}

/** A pasted pursuance profile that does not parse or verify (or has expired). */
export class InvalidProfileError extends NodeError {
  public readonly code = 'INVALID_PROFILE';
  public constructor(detail: string) {
    super(`This is not a valid pursuance profile: ${detail}`, { field: 'profile' });
  }
}

/** The pursuance publishes no profile (none yet, or withdrawn), so nobody can ask to join it. */
export class NoProfileError extends NodeError {
  public readonly code = 'NO_PROFILE';
  public constructor() {
    super('This pursuance has no public profile: publish one first.');
  }
}

/** No join request with this id in this node's review inbox. */
export class UnknownJoinRequestError extends NodeError {
  public readonly code = 'UNKNOWN_JOIN_REQUEST';
  public constructor() {
    super('There is no such join request here.', { field: 'requestId' });
  }
}

/** The join request was already decided (admitted or declined). */
export class JoinRequestClosedError extends NodeError {
  public readonly code = 'JOIN_REQUEST_CLOSED';
  public constructor(status: string) {
    super(`This request is already ${status}.`, { field: 'requestId' });
  }
}

/** A pasted link offer that does not parse or verify, is for another pursuance, or has expired. */
export class InvalidLinkOfferError extends NodeError {
  public readonly code = 'INVALID_LINK_OFFER';
  public constructor(detail: string) {
    super(`This is not a link offer this pursuance can take: ${detail}`, { field: 'offer' });
  }
}

/**
 * Opening a link needs our own offer to them first: it names the inbox their nodes post to,
 * which our link must name too.
 */
export class NoLinkOfferError extends NodeError {
  public readonly code = 'NO_LINK_OFFER';
  public constructor() {
    super('Make your own offer to that pursuance first (and send it to them): your link names the inbox in it.', { field: 'offer' });
  }
}

/** No open link to that pursuance here. */
export class UnknownLinkError extends NodeError {
  public readonly code = 'UNKNOWN_LINK';
  public constructor() {
    super('There is no link to that pursuance.', { field: 'peer' });
  }
}

import { HttpException } from '@nestjs/common';
import { ZodError } from 'zod';
import {
  ContactBlockedError,
  CwtchError,
  InviteInvalidError,
  InviteRejectedError,
  PayloadTooLargeError,
  PeerStoppedError,
  PeerUnreachableError,
  RequestTimeoutError,
} from '@pursuance/cwtch';
import { CryptoError, type CryptoErrorCode } from '@pursuance/crypto';
import { ActionNotAllowedError, EventRejectedError, RejectionCode } from '@pursuance/pursuance';
import { TapirError } from '@pursuance/tapir';
import {
  InvalidBundleError,
  InvalidInviteError,
  InvalidRequestError,
  InvalidProfileError,
  InvalidLinkOfferError,
  NoLinkOfferError,
  UnknownLinkError,
  InviteClosedError,
  JoinRequestClosedError,
  NoProfileError,
  UnknownJoinRequestError,
  InviteExpiredError,
  NodeError,
  NoStableFrontierError,
  SafetyNumberMismatchError,
  SnapshotRefusedError,
  NotAttachedError,
  NodeStartingError,
  PursuanceLoadingError,
  PursuanceQuarantinedError,
  RelayKeysChangedError,
  UnknownPursuanceError,
  UnknownInviteError,
  UnknownTaskError,
} from '../domain/errors.js';
import { RequestValidationError } from './validation.js';

/**
 * What the client is told: an HTTP status, a stable `code` to match on, a `message` in plain
 * words for the person, and, where they help, `field` (the input it concerns), `rule` (the
 * rule that refused) and `detail` (the engine's own wording).
 */
export interface ErrorAnswer {
  readonly status: number;
  /** Response headers the answer needs (Retry-After on a 503 worth retrying). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: { readonly code: string; readonly message: string } & Readonly<Record<string, unknown>>;
}

/**
 * The statuses, in one place:
 *   400 invalid input — a body, path or query that does not fit, an invite or relay bundle that
 *       does not parse or verify, events that are not signed events of this pursuance;
 *   403 denied — you may not act here at all (not a member any more; wrong Host or Origin);
 *   404 unknown — the pursuance, task, member or role named does not exist here (a malformed
 *       id is a 400, not a 404: it could never exist);
 *   409 conflict — with the state as it is: not attached to a relay, a relay's keys changed,
 *       quarantined, a task's current state, a key not held yet, a concurrent change;
 *   413 too large; 422 refused by the pursuance's rules, with the rule's name in `rule`;
 *   503 the network is not there right now, or the node is still starting or loading the
 *       pursuance (PURSUANCE_LOADING, NODE_STARTING: with Retry-After; retry later).
 * Anything not in this table is unexpected: a bare 500, details in the log only.
 */
const NODE_STATUS: readonly (readonly [abstract new (...args: never[]) => NodeError, number])[] = [
  [RequestValidationError, 400],
  [InvalidRequestError, 400],
  [InvalidInviteError, 400],
  [InvalidBundleError, 400],
  [InvalidProfileError, 400],
  [InvalidLinkOfferError, 400],
  [NoLinkOfferError, 409],
  [UnknownLinkError, 404],
  [UnknownJoinRequestError, 404],
  [JoinRequestClosedError, 409],
  [NoProfileError, 409],
  [UnknownPursuanceError, 404],
  [UnknownTaskError, 404],
  [UnknownInviteError, 404],
  [InviteExpiredError, 409],
  [InviteClosedError, 409],
  [NotAttachedError, 409],
  [RelayKeysChangedError, 409],
  [PursuanceQuarantinedError, 409],
  [SafetyNumberMismatchError, 409],
  [NoStableFrontierError, 409],
  [SnapshotRefusedError, 409],
  [PursuanceLoadingError, 503],
  [NodeStartingError, 503],
];

/** An action the author refused before signing, by its rejection code (exhaustive: a new code must be placed). */
const ACTION_STATUS: Record<RejectionCode, number> = {
  [RejectionCode.DENIED]: 422,
  [RejectionCode.ESCALATION]: 422,
  [RejectionCode.LOCKBOX_INVALID]: 422,
  [RejectionCode.JUDGEMENT_FAILED]: 422,
  [RejectionCode.NOT_A_MEMBER]: 403,
  [RejectionCode.UNKNOWN_TARGET]: 404,
  [RejectionCode.INVALID_STATE]: 409,
  [RejectionCode.SEQUENCE_GAP]: 409,
  [RejectionCode.EQUIVOCATION]: 409,
  [RejectionCode.STALE_EPOCH]: 409,
  [RejectionCode.UNKNOWN_KEY]: 409,
  [RejectionCode.PENDING_REFUSED]: 409,
  [RejectionCode.INVALID_SCHEMA]: 400,
  [RejectionCode.INVALID_RULES]: 400,
  [RejectionCode.INVALID_ENCODING]: 400,
  [RejectionCode.BAD_SIGNATURE]: 400,
  [RejectionCode.WRONG_PURSUANCE]: 400,
  [RejectionCode.INVALID_GENESIS]: 400,
};

/** Where the engine's own sentence is jargon, what the person is told instead (the sentence stays in `detail`). */
const ACTION_MESSAGE: Partial<Record<RejectionCode, (e: ActionNotAllowedError) => string>> = {
  [RejectionCode.DENIED]: (e) => `The rules of this pursuance do not let you do this${e.rule ? ` (rule: "${e.rule}")` : ''}.`,
  [RejectionCode.NOT_A_MEMBER]: () => 'You are not a member of this pursuance (any more), so you cannot act in it.',
  [RejectionCode.SEQUENCE_GAP]: () => 'This pursuance changed while your action was being prepared. Try again.',
  [RejectionCode.JUDGEMENT_FAILED]: () => 'This action could not be checked against the rules, so it was refused.',
};

/** Errors of the crypto package a user's input can cause (a malformed key or encoding); the rest are faults. */
const CRYPTO_INPUT: ReadonlySet<CryptoErrorCode> = new Set([
  'INVALID_KEY',
  'INVALID_ONION_ADDRESS',
  'INVALID_ENCODING',
  'NON_CANONICAL_ENCODING',
  'INVALID_SIGNATURE_FORMAT',
]);

/** Cwtch errors that can follow from what the user asked; other cwtch errors are faults (500). */
function cwtchAnswer(error: CwtchError): ErrorAnswer | null {
  if (error instanceof InviteInvalidError) return answer(400, 'INVALID_INVITE', new InvalidInviteError().message, { field: 'invite', detail: error.message });
  if (error instanceof InviteRejectedError) return answer(409, 'RELAY_KEYS_CHANGED', new RelayKeysChangedError('invite').message, { field: 'invite' });
  if (error instanceof ContactBlockedError) return answer(409, error.code, 'You have blocked this person. Unblock them first.');
  if (error instanceof PayloadTooLargeError) return answer(413, error.code, 'This is too large to send.');
  if (error instanceof PeerUnreachableError || error instanceof RequestTimeoutError)
    return answer(503, error.code, 'The other side cannot be reached right now. Try again later.');
  if (error instanceof PeerStoppedError) return answer(503, error.code, 'This node is shutting down.');
  return null;
}

/** The answer for `error`, or null when it is unexpected (a server fault: 500, logged). */
export function answerFor(error: unknown): ErrorAnswer | null {
  if (error instanceof NodeError) {
    const status = NODE_STATUS.find(([type]) => error instanceof type)?.[1];
    if (status === undefined) return null;
    const extra: Record<string, unknown> = {};
    if (error.field !== undefined && error.field !== '') extra.field = error.field;
    if (error instanceof RequestValidationError) extra.issues = error.issues;
    if (error instanceof PursuanceQuarantinedError || error instanceof PursuanceLoadingError) extra.pursuanceId = error.pursuanceId;
    const found = answer(status, error.code, error.message, extra);
    const retry = error instanceof PursuanceLoadingError || error instanceof NodeStartingError ? error.retryAfter : undefined;
    return retry === undefined ? found : { ...found, headers: { 'Retry-After': String(retry) } };
  }
  if (error instanceof ActionNotAllowedError) {
    const plain = ACTION_MESSAGE[error.code]?.(error);
    return answer(ACTION_STATUS[error.code], error.code, plain ?? error.message, {
      ...(error.rule ? { rule: error.rule } : {}),
      ...(plain ? { detail: error.message } : {}),
    });
  }
  if (error instanceof EventRejectedError) return answer(400, error.code, 'This is not a valid signed pursuance event.', { detail: error.message });
  // Schemas are checked by the validation pipe; one parsed deeper down still means bad input.
  if (error instanceof ZodError)
    return answer(400, 'INVALID_REQUEST', 'Something in this request is not valid.', { field: error.issues[0]?.path.join('.') ?? '' });
  if (error instanceof CryptoError)
    return CRYPTO_INPUT.has(error.code) ? answer(400, 'INVALID_REQUEST', 'Something in this request is not validly encoded.', { detail: error.code }) : null;
  if (error instanceof CwtchError) return cwtchAnswer(error);
  // The network itself (a drop box's relay, dialled directly, is gone): answered as for a peer (same codes), try later.
  if (error instanceof TapirError && (error.code === 'ACN_UNREACHABLE' || error.code === 'ACN_TIMEOUT'))
    return answer(
      503,
      error.code === 'ACN_UNREACHABLE' ? 'PEER_UNREACHABLE' : 'REQUEST_TIMEOUT',
      'The other side cannot be reached right now. Try again later.',
    );
  if (error instanceof HttpException) return httpAnswer(error);
  return null;
}

/** Nest's own exceptions (the guard's, unknown routes, body-parser's JSON and size errors) get a code too. */
function httpAnswer(error: HttpException): ErrorAnswer | null {
  const status = error.getStatus();
  if (status >= 500) return null;
  const r = error.getResponse();
  if (typeof r === 'object' && r !== null && typeof (r as { code?: unknown }).code === 'string' && typeof (r as { message?: unknown }).message === 'string') {
    return { status, body: r as ErrorAnswer['body'] };
  }
  if (error.cause instanceof SyntaxError) return answer(400, 'INVALID_JSON', 'The request body is not valid JSON.');
  if (status === 404) return answer(404, 'NOT_FOUND', 'There is no such API route.');
  if (status === 413) return answer(413, 'PAYLOAD_TOO_LARGE', 'The request body is too large.');
  if (status === 415) return answer(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the request body as JSON (content-type: application/json, UTF-8).');
  return answer(status, `HTTP_${status}`, typeof r === 'string' ? r : 'The request was refused.');
}

function answer(status: number, code: string, message: string, extra: Record<string, unknown> = {}): ErrorAnswer {
  return { status, body: { code, message, ...extra } };
}

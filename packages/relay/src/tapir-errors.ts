import { ProtocolViolationError, TapirError } from '@pursuance/tapir';
import { RelayError } from './errors.js';

/**
 * Tapir closes connections with TapirErrors only. A relay-level failure travels as a
 * PROTOCOL_VIOLATION whose `cause` is the RelayError, so operators see both codes and
 * clients can recover the relay's reason with `relayCause`.
 */
export function toTapirError(err: unknown): TapirError {
  if (err instanceof TapirError) return err;
  if (err instanceof RelayError) return new ProtocolViolationError(`${err.code}: ${err.message}`, { cause: err });
  return new ProtocolViolationError(`relay application failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** The RelayError behind a TapirError (or the error itself), if any. */
export function relayCause(err: unknown): RelayError | undefined {
  if (err instanceof RelayError) return err;
  if (err instanceof Error && err.cause instanceof RelayError) return err.cause;
  return undefined;
}

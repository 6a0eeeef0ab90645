import { randomBytes } from 'node:crypto';
import { FragmentInvalidError, PayloadTooLargeError } from './errors.js';
import { FRAGMENT_ID_SIZE, MAX_FRAGMENTS, MAX_GROUP_PAYLOAD, MAX_GROUP_PAYLOAD_PER_MESSAGE } from './protocol-profile.js';

/**
 * Payloads larger than one group message travel as 2..MAX_FRAGMENTS fragments, each a fully
 * signed group message of its own, sharing a random fragment id. Each carries the count and
 * the total length, so a receiver can tell a complete set from a truncated or inconsistent one
 * and never delivers half a payload.
 */
export interface FragmentHeader {
  readonly id: Uint8Array;
  readonly index: number;
  readonly count: number;
  /** Length of the whole reassembled payload. */
  readonly length: number;
}

export interface PayloadPart {
  readonly data: Uint8Array;
  readonly fragment: FragmentHeader | undefined;
}

/** Split a payload into the parts to post (one part, no header, if it fits one message). */
export function splitPayload(payload: Uint8Array, id: Uint8Array = new Uint8Array(randomBytes(FRAGMENT_ID_SIZE))): PayloadPart[] {
  if (payload.length <= MAX_GROUP_PAYLOAD_PER_MESSAGE) return [{ data: payload, fragment: undefined }];
  if (payload.length > MAX_GROUP_PAYLOAD) throw new PayloadTooLargeError(`a group payload is at most ${MAX_GROUP_PAYLOAD} bytes`);
  const count = Math.ceil(payload.length / MAX_GROUP_PAYLOAD_PER_MESSAGE);
  return Array.from({ length: count }, (_, index) => ({
    data: payload.subarray(index * MAX_GROUP_PAYLOAD_PER_MESSAGE, (index + 1) * MAX_GROUP_PAYLOAD_PER_MESSAGE),
    fragment: { id, index, count, length: payload.length },
  }));
}

/**
 * Check one fragment's header against its own data. Throws FragmentInvalidError for anything a
 * correct sender could not have produced: every fragment but the last is full, the last holds
 * exactly the remainder.
 */
export function checkFragment(header: FragmentHeader, dataLength: number): void {
  const { id, index, count, length } = header;
  if (id.length !== FRAGMENT_ID_SIZE) throw new FragmentInvalidError('fragment id has the wrong size');
  if (!Number.isSafeInteger(count) || count < 2 || count > MAX_FRAGMENTS) throw new FragmentInvalidError(`fragment count must be 2..${MAX_FRAGMENTS}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new FragmentInvalidError('fragment index out of range');
  const min = (count - 1) * MAX_GROUP_PAYLOAD_PER_MESSAGE + 1;
  const max = count * MAX_GROUP_PAYLOAD_PER_MESSAGE;
  if (!Number.isSafeInteger(length) || length < min || length > max) throw new FragmentInvalidError('fragment total length does not match its count');
  const expected = index < count - 1 ? MAX_GROUP_PAYLOAD_PER_MESSAGE : length - (count - 1) * MAX_GROUP_PAYLOAD_PER_MESSAGE;
  if (dataLength !== expected) throw new FragmentInvalidError('fragment data has the wrong length (truncated?)');
}

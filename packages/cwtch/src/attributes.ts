import { decodeJSON, encodeJSON } from '@pursuance/codec';
import { z } from 'zod';
import { PeerMessageInvalidError } from './errors.js';
import { GET_VAL_FIELDS as G, MAX_ATTRIBUTE_PATH_LENGTH, MAX_ATTRIBUTE_VALUE_LENGTH, RET_VAL_FIELDS as R } from './protocol-profile.js';

/** Public profile attributes by request/response: Cwtch's peerGetVal / peerRetVal. */
export interface AttributeRequest {
  readonly scope: string;
  readonly path: string;
}

export interface AttributeResponse {
  readonly exists: boolean;
  readonly value: string;
}

const GetValSchema = z.strictObject({
  [G.scope]: z.string().max(MAX_ATTRIBUTE_PATH_LENGTH),
  [G.path]: z.string().max(MAX_ATTRIBUTE_PATH_LENGTH),
});
const RetValSchema = z.strictObject({ [R.value]: z.string().max(MAX_ATTRIBUTE_VALUE_LENGTH), [R.exists]: z.boolean() });
const fail = (reason: string, cause?: unknown) => new PeerMessageInvalidError(`attribute message: ${reason}`, { cause });
const MAX_BYTES = 4 * MAX_ATTRIBUTE_VALUE_LENGTH + 64;

export function encodeAttributeRequest(request: AttributeRequest): Uint8Array {
  return encodeJSON({ [G.scope]: request.scope, [G.path]: request.path });
}

export function parseAttributeRequest(bytes: Uint8Array): AttributeRequest {
  const r = decodeJSON(bytes, GetValSchema, fail, { maxBytes: MAX_BYTES });
  return { scope: r[G.scope], path: r[G.path] };
}

export function encodeAttributeResponse(response: AttributeResponse): Uint8Array {
  return encodeJSON({ [R.value]: response.value, [R.exists]: response.exists });
}

export function parseAttributeResponse(bytes: Uint8Array): AttributeResponse {
  const r = decodeJSON(bytes, RetValSchema, fail, { maxBytes: MAX_BYTES });
  return { value: r[R.value], exists: r[R.exists] };
}

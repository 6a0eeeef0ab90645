import { toBase64 } from '@pursuance/crypto';
import { z } from 'zod';
import { MalformedRequestError, MalformedResponseError } from './errors.js';
import { MAX_TOKEN_BATCH_SIZE, VOPRF_ELEMENT_SIZE, VOPRF_PROOF_SIZE } from './protocol-profile.js';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';

/**
 * Codec of the token service, one JSON object per packet after proof of work:
 *   client → `{"BlindedTokens": [b64, …]}`   (1…MAX_TOKEN_BATCH_SIZE elements)
 *   server → `{"EvaluatedTokens": [b64, …], "Proof": b64}`
 * [R/O]: Cwtch's field names for this exchange are a recollection; ours are in the profile.
 */
const element = base64Bytes(VOPRF_ELEMENT_SIZE);

const TokenRequestSchema = z.strictObject({ BlindedTokens: z.array(element).min(1).max(MAX_TOKEN_BATCH_SIZE) });
const TokenResponseSchema = z.strictObject({
  EvaluatedTokens: z.array(element).min(1).max(MAX_TOKEN_BATCH_SIZE),
  Proof: base64Bytes(VOPRF_PROOF_SIZE),
});

export function encodeTokenRequest(blinded: readonly Uint8Array[]): Uint8Array {
  return encodeJSON({ BlindedTokens: blinded.map((b) => toBase64(b)) });
}

export function parseTokenRequest(payload: Uint8Array): Uint8Array[] {
  return decodeJSON(payload, TokenRequestSchema, (reason, cause) => new MalformedRequestError(reason, { cause })).BlindedTokens;
}

export function encodeTokenResponse(evaluated: readonly Uint8Array[], proof: Uint8Array): Uint8Array {
  return encodeJSON({ EvaluatedTokens: evaluated.map((e) => toBase64(e)), Proof: toBase64(proof) });
}

export function parseTokenResponse(payload: Uint8Array): { evaluated: Uint8Array[]; proof: Uint8Array } {
  const r = decodeJSON(payload, TokenResponseSchema, (reason, cause) => new MalformedResponseError(reason, { cause }));
  return { evaluated: r.EvaluatedTokens, proof: r.Proof };
}

import { toBase64 } from '@pursuance/crypto';
import { z } from 'zod';
import { MalformedRequestError, MalformedResponseError } from './errors.js';
import { MAX_TOKEN_BATCH_SIZE, MAX_TOKEN_EPOCH_COUNT, VOPRF_ELEMENT_SIZE, VOPRF_PROOF_SIZE } from './protocol-profile.js';
import type { EpochKeyProof } from './token-epochs.js';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';

/**
 * Codec of the token service, one JSON object per packet after proof of work:
 *   client → `{"BlindedTokens": [b64, …]}`   (1…MAX_TOKEN_BATCH_SIZE elements)
 *   server → `{"EvaluatedTokens": [b64, …], "Proof": b64, "Epoch": n, "EpochKey": b64, "EpochPath": [b64, …]}`
 * The epoch fields say which epoch key evaluated the batch and prove (a Merkle path to the
 * bundle's root) that it is the key every client gets for that epoch.
 * [R/O]: Cwtch's field names for this exchange are a recollection; ours are in the profile.
 */
const element = base64Bytes(VOPRF_ELEMENT_SIZE);

const TokenRequestSchema = z.strictObject({ BlindedTokens: z.array(element).min(1).max(MAX_TOKEN_BATCH_SIZE) });
const TokenResponseSchema = z.strictObject({
  EvaluatedTokens: z.array(element).min(1).max(MAX_TOKEN_BATCH_SIZE),
  Proof: base64Bytes(VOPRF_PROOF_SIZE),
  Epoch: z
    .number()
    .int()
    .min(0)
    .max(MAX_TOKEN_EPOCH_COUNT - 1),
  EpochKey: element,
  EpochPath: z.array(base64Bytes(32)).max(Math.log2(MAX_TOKEN_EPOCH_COUNT)),
});

export interface TokenResponse {
  readonly evaluated: Uint8Array[];
  readonly proof: Uint8Array;
  readonly epoch: EpochKeyProof;
}

export function encodeTokenRequest(blinded: readonly Uint8Array[]): Uint8Array {
  return encodeJSON({ BlindedTokens: blinded.map((b) => toBase64(b)) });
}

export function parseTokenRequest(payload: Uint8Array): Uint8Array[] {
  return decodeJSON(payload, TokenRequestSchema, (reason, cause) => new MalformedRequestError(reason, { cause })).BlindedTokens;
}

export function encodeTokenResponse(response: TokenResponse): Uint8Array {
  return encodeJSON({
    EvaluatedTokens: response.evaluated.map((e) => toBase64(e)),
    Proof: toBase64(response.proof),
    Epoch: response.epoch.epoch,
    EpochKey: toBase64(response.epoch.publicKey),
    EpochPath: response.epoch.path.map((h) => toBase64(h)),
  });
}

export function parseTokenResponse(payload: Uint8Array): TokenResponse {
  const r = decodeJSON(payload, TokenResponseSchema, (reason, cause) => new MalformedResponseError(reason, { cause }));
  return { evaluated: r.EvaluatedTokens, proof: r.Proof, epoch: { epoch: r.Epoch, publicKey: r.EpochKey, path: r.EpochPath } };
}

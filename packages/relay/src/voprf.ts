import { ristretto255, ristretto255_hasher, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { concatBytes, sha512 } from '@pursuance/crypto';
import { TokenBatchInvalidError, TokenProofInvalidError } from './errors.js';
import { VOPRF_ELEMENT_SIZE, VOPRF_PROOF_SIZE, VOPRF_SCALAR_SIZE, VOPRF_SUITE } from './protocol-profile.js';

/**
 * VOPRF(ristretto255, SHA-512), RFC 9497 mode 0x01, from @noble/curves (audited, and it
 * passes the RFC's appendix vectors in our tests). This module only narrows its API to what
 * the token protocol needs and turns its plain `Error`s into typed ones.
 *
 * The one function noble does not declare is the server-side `Evaluate` (RFC 9497 §3.3.2),
 * which the relay needs to check a spent token without a blinding round trip; it is written
 * here from the RFC's definition and pinned to the same vectors.
 */
const voprf = ristretto255_oprf.voprf;
const { Point } = ristretto255;
const encoder = new TextEncoder();

/** RFC 9497 §3.1: contextString = "OPRFV1-" ‖ I2OSP(mode, 1) ‖ "-" ‖ identifier. */
const CONTEXT_VOPRF = concatBytes(encoder.encode('OPRFV1-'), Uint8Array.of(0x01), encoder.encode(`-${VOPRF_SUITE}`));
const HASH_TO_GROUP_DST = concatBytes(encoder.encode('HashToGroup-'), CONTEXT_VOPRF);
const FINALIZE_LABEL = encoder.encode('Finalize');

/** A random-bytes source; tests pass a fixed one to reproduce the RFC vectors. */
export type RandomSource = (length?: number) => Uint8Array;

export interface VoprfKeyPair {
  /** Scalar, 32 bytes little-endian. Never logged, sealed at rest by the daemon. */
  readonly secretKey: Uint8Array;
  /** Element pkS = skS·G, 32 bytes; published in the relay's key bundle. */
  readonly publicKey: Uint8Array;
}

export function generateVoprfKeyPair(): VoprfKeyPair {
  return voprf.generateKeyPair();
}

/** RFC 9497 §3.2.1 DeriveKeyPair (used for the test vectors). */
export function deriveVoprfKeyPair(seed: Uint8Array, info: Uint8Array): VoprfKeyPair {
  return voprf.deriveKeyPair(seed, info);
}

/** Rebuild a key pair from a stored secret, checking it is a canonical, non-zero scalar. */
export function voprfKeyPairFromSecret(secretKey: Uint8Array): VoprfKeyPair {
  if (secretKey.length !== VOPRF_SCALAR_SIZE) throw new RangeError('a VOPRF secret key is 32 bytes');
  const scalar = Point.Fn.fromBytes(secretKey);
  if (Point.Fn.is0(scalar)) throw new RangeError('the VOPRF secret key is zero');
  return { secretKey: new Uint8Array(secretKey), publicKey: Point.BASE.multiply(scalar).toBytes() };
}

/** True when `bytes` is the canonical encoding of a ristretto255 element other than the identity. */
export function isValidElement(bytes: Uint8Array): boolean {
  if (bytes.length !== VOPRF_ELEMENT_SIZE) return false;
  try {
    return !Point.fromBytes(bytes).equals(Point.ZERO);
  } catch {
    return false;
  }
}

export interface BlindedInput {
  readonly input: Uint8Array;
  /** The client's secret blinding scalar for this input. */
  readonly blind: Uint8Array;
  /** What is sent to the token service. */
  readonly blinded: Uint8Array;
}

export function blindInputs(inputs: readonly Uint8Array[], rng?: RandomSource): BlindedInput[] {
  return inputs.map((input) => {
    const { blind, blinded } = rng === undefined ? voprf.blind(input) : voprf.blind(input, rng);
    return { input, blind, blinded };
  });
}

export interface EvaluatedBatch {
  readonly evaluated: Uint8Array[];
  /** One DLEQ proof (c ‖ s) that every element was evaluated under the published key. */
  readonly proof: Uint8Array;
}

/** Server side: evaluate a blinded batch and prove it (RFC 9497 BlindEvaluateBatch). */
export function evaluateBlindedBatch(key: VoprfKeyPair, blinded: readonly Uint8Array[], rng?: RandomSource): EvaluatedBatch {
  if (blinded.length === 0) throw new TokenBatchInvalidError('empty batch');
  for (const element of blinded) {
    if (!isValidElement(element)) throw new TokenBatchInvalidError('batch holds an invalid or identity element');
  }
  const result =
    rng === undefined
      ? voprf.blindEvaluateBatch(key.secretKey, key.publicKey, [...blinded])
      : voprf.blindEvaluateBatch(key.secretKey, key.publicKey, [...blinded], rng);
  return { evaluated: result.evaluated, proof: result.proof };
}

/**
 * Client side: verify the batch proof against the pinned public key, then unblind. Any
 * failure (bad proof, wrong key, invalid element, count mismatch) is a TokenProofInvalidError,
 * and no output is returned, so a lying token service cannot hand out tagged tokens.
 */
export function finalizeBatch(items: readonly BlindedInput[], evaluated: readonly Uint8Array[], publicKey: Uint8Array, proof: Uint8Array): Uint8Array[] {
  if (evaluated.length !== items.length) throw new TokenProofInvalidError('evaluated batch has the wrong size');
  if (proof.length !== VOPRF_PROOF_SIZE) throw new TokenProofInvalidError('proof has the wrong size');
  try {
    return voprf.finalizeBatch(
      items.map((item, i) => ({ input: item.input, blind: item.blind, blinded: item.blinded, evaluated: evaluated[i]! })),
      publicKey,
      proof,
    );
  } catch (cause) {
    throw new TokenProofInvalidError(undefined, { cause });
  }
}

/**
 * RFC 9497 §3.3.2 Evaluate: the PRF output for `input` computed with the secret key directly,
 *   Hash(I2OSP(len(input), 2) ‖ input ‖ I2OSP(len(E), 2) ‖ E ‖ "Finalize"),  E = skS·HashToGroup(input).
 * Equal to what the client's Finalize produced for the same input, which is how a spend is checked.
 */
export function evaluateInput(secretKey: Uint8Array, input: Uint8Array): Uint8Array {
  if (input.length > 0xffff) throw new RangeError('VOPRF input longer than 65535 bytes');
  const element = ristretto255_hasher.hashToCurve(input, { DST: HASH_TO_GROUP_DST });
  const issued = element.multiply(Point.Fn.fromBytes(secretKey)).toBytes();
  return sha512(u16(input.length), input, u16(issued.length), issued, FINALIZE_LABEL);
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}

import { randomBytes } from 'node:crypto';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { mapHashToField } from '@noble/curves/abstract/modular.js';
import { sha512 as sha512Hasher } from '@noble/hashes/sha2.js';
import sodium from 'libsodium-wrappers-sumo';
import { concatBytes, equalBytes, sha512 } from '@pursuance/crypto';
import { TokenBatchInvalidError, TokenProofInvalidError, VoprfNotLoadedError } from './errors.js';
import { VOPRF_ELEMENT_SIZE, VOPRF_PROOF_SIZE, VOPRF_SCALAR_SIZE, VOPRF_SUITE } from './protocol-profile.js';

/**
 * VOPRF(ristretto255, SHA-512), RFC 9497 mode 0x01.
 *
 * The group arithmetic is libsodium's ristretto255 (the WASM build, libsodium-wrappers-sumo):
 * a scalar multiplication there costs ~85 µs against ~870 µs in pure-JS @noble/curves, and a
 * token redemption is one hash-to-group plus one multiplication, so posting was bound by it.
 * The protocol around it (transcripts, composites, DLEQ proof, RandomScalar) follows the RFC
 * step for step; expand_message_xmd and the RandomScalar mapping are @noble's own functions.
 * @noble's `ristretto255_oprf` stays the reference: the tests pin the RFC appendix vectors and
 * check every function here against it on random inputs.
 *
 * libsodium's WASM instantiates asynchronously, and nothing here waits for it at import: a
 * top-level await would keep this module out of the CLI's single-file bundle (apps/cli/bundle.mjs),
 * and a node that starts without posting to a relay never needs it. Each program awaits
 * loadVoprf() before its first token operation (the token flows do it themselves); until then
 * every group operation throws VoprfNotLoadedError rather than reach an uninitialised library.
 */
let loaded: Promise<void> | undefined;
let ready = false;

/** Instantiate libsodium (once; later calls share the first). */
export function loadVoprf(): Promise<void> {
  loaded ??= sodium.ready.then(() => {
    ready = true;
  });
  return loaded;
}

function lib(): typeof sodium {
  if (!ready) throw new VoprfNotLoadedError();
  return sodium;
}

const { Fn } = ristretto255.Point;
const encoder = new TextEncoder();

/** RFC 9497 §3.1: contextString = "OPRFV1-" ‖ I2OSP(mode, 1) ‖ "-" ‖ identifier. */
const CONTEXT_VOPRF = concatBytes(encoder.encode('OPRFV1-'), Uint8Array.of(0x01), encoder.encode(`-${VOPRF_SUITE}`));
const HASH_TO_GROUP_DST = concatBytes(encoder.encode('HashToGroup-'), CONTEXT_VOPRF);
const HASH_TO_SCALAR_DST = concatBytes(encoder.encode('HashToScalar-'), CONTEXT_VOPRF);
const DERIVE_KEY_PAIR_DST = concatBytes(encoder.encode('DeriveKeyPair'), CONTEXT_VOPRF);
const SEED_DST = concatBytes(encoder.encode('Seed-'), CONTEXT_VOPRF);
const FINALIZE_LABEL = encoder.encode('Finalize');
const COMPOSITE_LABEL = encoder.encode('Composite');
const CHALLENGE_LABEL = encoder.encode('Challenge');
/** Uniform bytes for hash-to-group and hash-to-scalar (ristretto255's one-way map and reduction take 64). */
const UNIFORM_BYTES = 64;
/** Random bytes per RandomScalar: ⌈1.5 · 253 bits⌉, as @noble draws them (the RFC vectors' RNG hook relies on it). */
const RANDOM_SCALAR_BYTES = 48;
const IDENTITY = new Uint8Array(VOPRF_ELEMENT_SIZE);

/** A random-bytes source; tests pass a fixed one to reproduce the RFC vectors. */
export type RandomSource = (length?: number) => Uint8Array;

export interface VoprfKeyPair {
  /** Scalar, 32 bytes little-endian. Never logged, sealed at rest by the daemon. */
  readonly secretKey: Uint8Array;
  /** Element pkS = skS·G, 32 bytes; published in the relay's key bundle. */
  readonly publicKey: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Group and scalar primitives (libsodium), each total over what the protocol can hand it.
// ---------------------------------------------------------------------------------------------

function isZero(bytes: Uint8Array): boolean {
  return equalBytes(bytes, IDENTITY);
}

/** s·P. libsodium refuses an identity result; in a prime-order group that means s = 0 or P = identity. */
function mul(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  if (isZero(scalar) || isZero(point)) return new Uint8Array(IDENTITY);
  return lib().crypto_scalarmult_ristretto255(scalar, point);
}

function mulBase(scalar: Uint8Array): Uint8Array {
  if (isZero(scalar)) return new Uint8Array(IDENTITY);
  return lib().crypto_scalarmult_ristretto255_base(scalar);
}

function add(p: Uint8Array, q: Uint8Array): Uint8Array {
  return lib().crypto_core_ristretto255_add(p, q);
}

/** Σ sᵢ·Pᵢ (every input public: the composites' weights and wire elements). */
function sumOfProducts(scalars: readonly Uint8Array[], points: readonly Uint8Array[]): Uint8Array {
  let acc: Uint8Array = new Uint8Array(IDENTITY);
  for (let i = 0; i < points.length; i++) acc = add(acc, mul(scalars[i]!, points[i]!));
  return acc;
}

/** A scalar's bytes are canonical when they encode a value below the group order. */
function isCanonicalScalar(bytes: Uint8Array): boolean {
  if (bytes.length !== VOPRF_SCALAR_SIZE) return false;
  const wide = new Uint8Array(UNIFORM_BYTES);
  wide.set(bytes);
  return equalBytes(lib().crypto_core_ristretto255_scalar_reduce(wide), bytes);
}

/** RFC 9497 §4.1.1 HashToGroup: expand_message_xmd(SHA-512) to 64 bytes, then the one-way map. */
function hashToGroup(input: Uint8Array): Uint8Array {
  return lib().crypto_core_ristretto255_from_hash(expand_message_xmd(input, HASH_TO_GROUP_DST, UNIFORM_BYTES, sha512Hasher));
}

/** RFC 9497 §4.1.1 HashToScalar: expand_message_xmd(SHA-512) to 64 bytes, reduced mod the group order. */
function hashToScalar(message: Uint8Array, dst: Uint8Array = HASH_TO_SCALAR_DST): Uint8Array {
  return lib().crypto_core_ristretto255_scalar_reduce(expand_message_xmd(message, dst, UNIFORM_BYTES, sha512Hasher));
}

/** RFC 9497 §2.1 RandomScalar, in [1, n−1], mapped from the RNG's bytes exactly as @noble does. */
function randomScalar(rng: RandomSource | undefined): Uint8Array {
  const bytes = rng === undefined ? randomBytes(RANDOM_SCALAR_BYTES) : rng(RANDOM_SCALAR_BYTES);
  return mapHashToField(bytes, Fn.ORDER, true);
}

/** The RFC's length-prefixed encoding: byte strings get I2OSP(len, 2), numbers are I2OSP(n, 2), labels are bare. */
function lengthPrefixed(...parts: (Uint8Array | number | { label: Uint8Array })[]): Uint8Array {
  return concatBytes(...parts.flatMap((p) => (typeof p === 'number' ? [u16(p)] : p instanceof Uint8Array ? [u16(p.length), p] : [p.label])));
}

function finalizeHash(input: Uint8Array, element: Uint8Array): Uint8Array {
  return sha512(lengthPrefixed(input, element, { label: FINALIZE_LABEL }));
}

function checkInput(input: Uint8Array): void {
  if (input.length > 0xffff) throw new RangeError('VOPRF input longer than 65535 bytes');
}

// ---------------------------------------------------------------------------------------------
// The batch DLEQ proof (RFC 9497 §2.2).
// ---------------------------------------------------------------------------------------------

/** ComputeComposites' weights dᵢ = HashToScalar(seed ‖ I2OSP(i, 2) ‖ Cᵢ ‖ Dᵢ ‖ "Composite"). */
function compositeWeights(publicKey: Uint8Array, c: readonly Uint8Array[], d: readonly Uint8Array[]): Uint8Array[] {
  const seed = sha512(lengthPrefixed(publicKey, SEED_DST));
  return c.map((ci, i) => hashToScalar(lengthPrefixed(seed, i, ci, d[i]!, { label: COMPOSITE_LABEL })));
}

function challenge(publicKey: Uint8Array, m: Uint8Array, z: Uint8Array, t2: Uint8Array, t3: Uint8Array): Uint8Array {
  return hashToScalar(lengthPrefixed(publicKey, m, z, t2, t3, { label: CHALLENGE_LABEL }));
}

/** GenerateProof with ComputeCompositesFast (the server knows k, so Z = k·M). */
function generateProof(key: VoprfKeyPair, c: readonly Uint8Array[], d: readonly Uint8Array[], rng: RandomSource | undefined): Uint8Array {
  const m = sumOfProducts(compositeWeights(key.publicKey, c, d), c);
  const z = mul(key.secretKey, m);
  const r = randomScalar(rng);
  const cScalar = challenge(key.publicKey, m, z, mulBase(r), mul(r, m));
  const s = lib().crypto_core_ristretto255_scalar_sub(r, lib().crypto_core_ristretto255_scalar_mul(cScalar, key.secretKey));
  return concatBytes(cScalar, s);
}

function verifyProof(publicKey: Uint8Array, c: readonly Uint8Array[], d: readonly Uint8Array[], proof: Uint8Array): boolean {
  const cScalar = proof.subarray(0, VOPRF_SCALAR_SIZE);
  const s = proof.subarray(VOPRF_SCALAR_SIZE);
  if (!isCanonicalScalar(cScalar) || !isCanonicalScalar(s)) return false;
  const weights = compositeWeights(publicKey, c, d);
  const m = sumOfProducts(weights, c);
  const z = sumOfProducts(weights, d);
  const t2 = add(mulBase(s), mul(cScalar, publicKey));
  const t3 = add(mul(s, m), mul(cScalar, z));
  return equalBytes(challenge(publicKey, m, z, t2, t3), cScalar);
}

// ---------------------------------------------------------------------------------------------
// The protocol.
// ---------------------------------------------------------------------------------------------

export function generateVoprfKeyPair(): VoprfKeyPair {
  return keyPair(randomScalar(undefined));
}

/** RFC 9497 §3.2.1 DeriveKeyPair. */
export function deriveVoprfKeyPair(seed: Uint8Array, info: Uint8Array): VoprfKeyPair {
  if (seed.length !== 32) throw new RangeError('a VOPRF key seed is 32 bytes');
  checkInput(info);
  const message = concatBytes(seed, lengthPrefixed(info), Uint8Array.of(0));
  for (let counter = 0; counter <= 255; counter++) {
    message[message.length - 1] = counter;
    const secretKey = hashToScalar(message, DERIVE_KEY_PAIR_DST);
    if (!isZero(secretKey)) return keyPair(secretKey);
  }
  throw new RangeError('DeriveKeyPair found no non-zero scalar');
}

function keyPair(secretKey: Uint8Array): VoprfKeyPair {
  return { secretKey, publicKey: mulBase(secretKey) };
}

/** Rebuild a key pair from a stored secret, checking it is a canonical, non-zero scalar. */
export function voprfKeyPairFromSecret(secretKey: Uint8Array): VoprfKeyPair {
  if (secretKey.length !== VOPRF_SCALAR_SIZE) throw new RangeError('a VOPRF secret key is 32 bytes');
  if (!isCanonicalScalar(secretKey)) throw new RangeError('the VOPRF secret key is not a canonical scalar');
  if (isZero(secretKey)) throw new RangeError('the VOPRF secret key is zero');
  return keyPair(new Uint8Array(secretKey));
}

/** True when `bytes` is the canonical encoding of a ristretto255 element other than the identity. */
export function isValidElement(bytes: Uint8Array): boolean {
  if (bytes.length !== VOPRF_ELEMENT_SIZE || isZero(bytes)) return false;
  return lib().crypto_core_ristretto255_is_valid_point(bytes);
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
    checkInput(input);
    // Drawn before hashing, as @noble does, so a fixed RNG reproduces the RFC vectors.
    const blind = randomScalar(rng);
    const element = hashToGroup(input);
    if (isZero(element)) throw new RangeError('VOPRF input hashes to the identity');
    return { input, blind, blinded: mul(blind, element) };
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
  const evaluated = blinded.map((element) => mul(key.secretKey, element));
  return { evaluated, proof: generateProof(key, blinded, evaluated, rng) };
}

/**
 * Client side: verify the batch proof against the pinned public key, then unblind. Any
 * failure (bad proof, wrong key, invalid element, count mismatch) is a TokenProofInvalidError,
 * and no output is returned, so a lying token service cannot hand out tagged tokens.
 */
export function finalizeBatch(items: readonly BlindedInput[], evaluated: readonly Uint8Array[], publicKey: Uint8Array, proof: Uint8Array): Uint8Array[] {
  if (evaluated.length !== items.length) throw new TokenProofInvalidError('evaluated batch has the wrong size');
  if (proof.length !== VOPRF_PROOF_SIZE) throw new TokenProofInvalidError('proof has the wrong size');
  if (!isValidElement(publicKey)) throw new TokenProofInvalidError('the public key is not a valid element');
  const blinded = items.map((item) => item.blinded);
  if (![...blinded, ...evaluated].every(isValidElement)) throw new TokenProofInvalidError('batch holds an invalid or identity element');
  if (!verifyProof(publicKey, blinded, evaluated, proof)) throw new TokenProofInvalidError();
  return items.map((item, i) => {
    if (!isCanonicalScalar(item.blind) || isZero(item.blind)) throw new TokenProofInvalidError('a blind is not a non-zero canonical scalar');
    return finalizeHash(item.input, mul(lib().crypto_core_ristretto255_scalar_invert(item.blind), evaluated[i]!));
  });
}

/**
 * RFC 9497 §3.3.2 Evaluate: the PRF output for `input` computed with the secret key directly,
 *   Hash(I2OSP(len(input), 2) ‖ input ‖ I2OSP(len(E), 2) ‖ E ‖ "Finalize"),  E = skS·HashToGroup(input).
 * Equal to what the client's Finalize produced for the same input, which is how a spend is checked.
 */
export function evaluateInput(secretKey: Uint8Array, input: Uint8Array): Uint8Array {
  checkInput(input);
  return finalizeHash(input, mul(secretKey, hashToGroup(input)));
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}

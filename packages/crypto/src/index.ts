/**
 * @packageDocumentation
 * The only package that touches key bytes and primitives: ed25519 identities and their Tor v3
 * onion names, X25519, NaCl secretbox/box, the password KDF, fixed-size padding and the
 * canonical encoding used for everything signed.
 *
 * @example
 * ```ts
 * const alice = Identity.generate();
 * const sig = alice.sign(canonicalEncode({ hello: 'world' }));
 * verifySignature(canonicalEncode({ hello: 'world' }), sig, publicKeyFromOnion(alice.onion)); // true
 * ```
 */

export {
  CryptoError,
  type CryptoErrorCode,
  DecryptionError,
  InvalidEncodingError,
  InvalidKeyError,
  InvalidOnionAddressError,
  InvalidSignatureFormatError,
  KdfParametersError,
  NonCanonicalEncodingError,
  PaddingError,
  WeakSharedSecretError,
  WrongPasswordError,
} from './errors.js';
export { concatBytes, decodeStrictBase64, equalBytes, fromBase64, fromHex, toBase64, toHex, wipe } from './bytes.js';
export { hkdfSha256, hmacSha256, hmacSha256Hex, sha256, sha256Stream, sha3_256, sha512, type Sha256Stream } from './hash.js';
export { type OnionName, isOnionName, onionFromPublicKey, parseOnionName, publicKeyFromOnion } from './onion.js';
export { type SignatureVerifier, defaultVerifier, verifySignature } from './ed25519.js';
export { x25519, x25519PublicFromEd25519, x25519SecretFromEd25519Seed } from './x25519.js';
export { randomKey, secretboxOpen, secretboxSeal } from './nacl.js';
export { DEFAULT_SCRYPT_PARAMS, type PasswordSealed, type ScryptParams, TEST_SCRYPT_PARAMS, openWithPassword, sealWithPassword } from './kdf.js';
export { padToSize, unpad } from './padding.js';
export { type CanonicalValue, CanonicalMemo, canonicalDecode, canonicalEncode, canonicalPieces, isCanonicalMap, strictDecode } from './canonical.js';
export { Identity } from './identity.js';
export { ANONYMOUS_BOX_OVERHEAD, openFromIdentity, sealToIdentity } from './anonymous-box.js';
export { ROLE_BOX_OVERHEAD, RoleKeyPair, type RolePublicKeys, isUsableBoxKey, isUsableSigningKey, sealToRole } from './role-keys.js';
export { SAFETY_NUMBER_PATTERN, safetyNumber } from './safety-number.js';

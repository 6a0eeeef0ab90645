/**
 * Typed errors of the crypto package. Each carries a stable `code` so callers (and logs) can
 * match on it without parsing messages; messages never include key material.
 */
export type CryptoErrorCode =
  | 'INVALID_KEY'
  | 'INVALID_SIGNATURE_FORMAT'
  | 'INVALID_ONION_ADDRESS'
  | 'DECRYPTION_FAILED'
  | 'INVALID_PADDING'
  | 'NON_CANONICAL_ENCODING'
  | 'INVALID_ENCODING'
  | 'KDF_PARAMETERS'
  | 'WRONG_PASSWORD'
  | 'WEAK_SHARED_SECRET';

export class CryptoError extends Error {
  public readonly code: CryptoErrorCode;
  public constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A key has the wrong length or does not decode to a valid curve point. */
export class InvalidKeyError extends CryptoError {
  public constructor(message: string) {
    super('INVALID_KEY', message);
  }
}

/** A signature is not 64 bytes. (A well-formed but wrong signature is just `false`.) */
export class InvalidSignatureFormatError extends CryptoError {
  public constructor(message: string) {
    super('INVALID_SIGNATURE_FORMAT', message);
  }
}

/** A string is not a valid Tor v3 onion name (length, alphabet, version or checksum). */
export class InvalidOnionAddressError extends CryptoError {
  public constructor(message: string) {
    super('INVALID_ONION_ADDRESS', message);
  }
}

/** Authenticated decryption failed: wrong key, tampered or truncated ciphertext. */
export class DecryptionError extends CryptoError {
  public constructor(message = 'authenticated decryption failed') {
    super('DECRYPTION_FAILED', message);
  }
}

/** A padded buffer is malformed (bad length header or non-zero padding). */
export class PaddingError extends CryptoError {
  public constructor(message: string) {
    super('INVALID_PADDING', message);
  }
}

/** Bytes decode, but are not the one canonical encoding of their value. */
export class NonCanonicalEncodingError extends CryptoError {
  public constructor(message: string) {
    super('NON_CANONICAL_ENCODING', message);
  }
}

/** Bytes do not decode at all, or hold a type the canonical encoding does not allow. */
export class InvalidEncodingError extends CryptoError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ENCODING', message, options);
  }
}

/** KDF parameters outside the accepted range (too weak or absurdly expensive). */
export class KdfParametersError extends CryptoError {
  public constructor(message: string) {
    super('KDF_PARAMETERS', message);
  }
}

/** A password-sealed blob did not open: the password is wrong or the blob was altered. */
export class WrongPasswordError extends CryptoError {
  public constructor() {
    super('WRONG_PASSWORD', 'wrong password, or the sealed data was altered');
  }
}

/** An X25519 exchange produced the all-zero secret: the peer sent a low-order point. */
export class WeakSharedSecretError extends CryptoError {
  public constructor() {
    super('WEAK_SHARED_SECRET', 'X25519 produced an all-zero shared secret (low-order public key)');
  }
}

import { randomBytes } from 'node:crypto';
import { fromBase64, toBase64 } from './bytes.js';
import { DecryptionError, InvalidEncodingError, KdfParametersError, WrongPasswordError } from './errors.js';
import { secretboxOpen, secretboxSeal } from './nacl.js';
import { deriveScrypt, type ScryptParams } from './scrypt.js';

export type { ScryptParams } from './scrypt.js';

/**
 * Password KDF: scrypt (RFC 7914) from node:crypto.
 * Default parameters N = 2^17, r = 8, p = 1 (128 MiB, OWASP's current recommendation; about
 * 0.6 s on this project's 2-core machines; see scrypt.ts for starting it early). Parameters are stored with every sealed blob so
 * they can be raised later without breaking old profiles. Tests may use cheaper parameters,
 * but never below N = 2^10.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** Only for tests and benchmarks, where a fast KDF keeps suites quick. */
export const TEST_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });

export const KDF_SALT_LENGTH = 16;

export async function deriveKeyFromPassword(
  password: string,
  salt: Uint8Array,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  length = 32,
): Promise<Uint8Array> {
  return deriveScrypt(password, salt, params, length);
}

/** A blob sealed under a password, as stored on disk (JSON-friendly). */
export interface PasswordSealed {
  readonly v: 1;
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly box: string;
}

export async function sealWithPassword(password: string, plaintext: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<PasswordSealed> {
  const salt = new Uint8Array(randomBytes(KDF_SALT_LENGTH));
  const key = await deriveKeyFromPassword(password, salt, params);
  try {
    return { v: 1, kdf: 'scrypt', N: params.N, r: params.r, p: params.p, salt: toBase64(salt), box: toBase64(secretboxSeal(key, plaintext)) };
  } finally {
    key.fill(0);
  }
}

export async function openWithPassword(password: string, sealed: PasswordSealed): Promise<Uint8Array> {
  if (sealed.v !== 1 || sealed.kdf !== 'scrypt') throw new KdfParametersError('unsupported sealed-blob version');
  let salt: Uint8Array;
  let box: Uint8Array;
  try {
    salt = fromBase64(sealed.salt);
    box = fromBase64(sealed.box);
  } catch (cause) {
    throw new InvalidEncodingError('sealed blob is not valid base64', { cause });
  }
  const key = await deriveKeyFromPassword(password, salt, { N: sealed.N, r: sealed.r, p: sealed.p });
  try {
    return secretboxOpen(key, box);
  } catch (err) {
    if (err instanceof DecryptionError) throw new WrongPasswordError();
    throw err;
  } finally {
    key.fill(0);
  }
}

import { randomBytes, scrypt } from 'node:crypto';
import { fromBase64, toBase64 } from './bytes.js';
import { DecryptionError, InvalidEncodingError, KdfParametersError, WrongPasswordError } from './errors.js';
import { secretboxOpen, secretboxSeal } from './nacl.js';

/**
 * Password KDF: scrypt (RFC 7914) from node:crypto.
 * Default parameters N = 2^17, r = 8, p = 1 (128 MiB, OWASP's current recommendation; about
 * 0.3–0.5 s on this project's 2-core machines). Parameters are stored with every sealed blob so
 * they can be raised later without breaking old profiles. Tests may use cheaper parameters,
 * but never below N = 2^10.
 */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** Only for tests and benchmarks, where a fast KDF keeps suites quick. */
export const TEST_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });

export const KDF_SALT_LENGTH = 16;

function checkParams(params: ScryptParams): void {
  const { N, r, p } = params;
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N < 2 ** 10 || N > 2 ** 20) throw new KdfParametersError('scrypt N must be a power of two in [2^10, 2^20]');
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) throw new KdfParametersError('scrypt r must be in [1, 32]');
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) throw new KdfParametersError('scrypt p must be in [1, 16]');
}

export async function deriveKeyFromPassword(
  password: string,
  salt: Uint8Array,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  length = 32,
): Promise<Uint8Array> {
  checkParams(params);
  const maxmem = 256 * params.N * params.r * params.p;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(new KdfParametersError(`scrypt failed: ${err.message}`));
      else resolve(new Uint8Array(key));
    });
  });
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

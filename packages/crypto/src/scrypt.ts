import { createHash, scrypt } from 'node:crypto';
import { KdfParametersError } from './errors.js';

/**
 * scrypt on the thread pool, and derivations started before anyone asks for them. A profile's
 * unlock is the node's slowest single step (about 0.6 s at the default parameters), and the CLI
 * knows the password and can read the header's salt long before the code that opens the
 * profile has even loaded: it primes the derivation, and the unlock takes the result.
 *
 * This module imports nothing heavy on purpose: the CLI loads it (as @pursuance/crypto/scrypt)
 * before the rest of the node.
 */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** A primed key nobody took within this long is wiped (a start that failed before its unlock). */
export const PRIMED_KEY_TTL_MS = 60_000;

export function checkScryptParams(params: ScryptParams): void {
  const { N, r, p } = params;
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N < 2 ** 10 || N > 2 ** 20) throw new KdfParametersError('scrypt N must be a power of two in [2^10, 2^20]');
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) throw new KdfParametersError('scrypt r must be in [1, 32]');
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) throw new KdfParametersError('scrypt p must be in [1, 16]');
}

function runScrypt(password: string, salt: Uint8Array, params: ScryptParams, length: number): Promise<Uint8Array> {
  checkScryptParams(params);
  const maxmem = 256 * params.N * params.r * params.p;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(new KdfParametersError(`scrypt failed: ${err.message}`));
      else resolve(new Uint8Array(key));
    });
  });
}

interface Primed {
  readonly key: Promise<Uint8Array>;
  readonly timer: NodeJS.Timeout;
}

/**
 * Keyed by a digest of everything the derivation depends on, so a prime for another password,
 * salt or parameter set is never handed out; the digest, not the password, is what stays here.
 */
const primed = new Map<string, Primed>();

function primeId(password: string, salt: Uint8Array, params: ScryptParams, length: number): string {
  return createHash('sha256')
    .update(JSON.stringify([password.normalize('NFKC'), Buffer.from(salt).toString('base64'), params.N, params.r, params.p, length]))
    .digest('hex');
}

/**
 * Start deriving this key now, for a later deriveScrypt with the same inputs to take. Each
 * prime is taken at most once (the taker wipes its key after use); one not taken within
 * PRIMED_KEY_TTL_MS is wiped. Bad parameters are a KdfParametersError here, as they would be later.
 */
export function primeScrypt(password: string, salt: Uint8Array, params: ScryptParams, length = 32): void {
  const id = primeId(password, salt, params, length);
  if (primed.has(id)) return;
  const key = runScrypt(password, salt, params, length);
  // A failure is the taker's to report; an untaken one must not be an unhandled rejection.
  key.catch(() => undefined);
  // Taking the prime clears this timer, so when it fires the entry is still this one.
  const timer = setTimeout(() => {
    primed.delete(id);
    void key.then(
      (k) => k.fill(0),
      () => undefined,
    );
  }, PRIMED_KEY_TTL_MS);
  timer.unref();
  primed.set(id, { key, timer });
}

/** The key for these inputs: a primed derivation when there is one (taken, so only once), else a new one. */
export function deriveScrypt(password: string, salt: Uint8Array, params: ScryptParams, length: number): Promise<Uint8Array> {
  checkScryptParams(params);
  const id = primeId(password, salt, params, length);
  const waiting = primed.get(id);
  if (waiting === undefined) return runScrypt(password, salt, params, length);
  primed.delete(id);
  clearTimeout(waiting.timer);
  return waiting.key;
}

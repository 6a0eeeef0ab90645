import { primeScrypt } from '@pursuance/crypto/scrypt';

/**
 * Start the password's scrypt for a profile header before the vault (and everything it brings
 * in) has loaded: ProfileVault.unlock then takes the derived key instead of waiting for it.
 *
 * Only a head start, never a decision: anything unexpected in the header means no prime (false),
 * and the unlock reads, checks and reports the header itself. It reads just the fields scrypt
 * needs, with no schema library, because it runs before any heavy module is loaded.
 */
export function primeVaultUnlock(header: Uint8Array, password: string): boolean {
  let sealed: unknown;
  try {
    sealed = (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header)) as { sealed?: unknown } | null)?.sealed;
  } catch {
    return false;
  }
  if (typeof sealed !== 'object' || sealed === null) return false;
  const { kdf, N, r, p, salt } = sealed as Record<string, unknown>;
  if (kdf !== 'scrypt' || typeof N !== 'number' || typeof r !== 'number' || typeof p !== 'number') return false;
  if (typeof salt !== 'string' || salt.length > 64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(salt)) return false;
  try {
    primeScrypt(password, new Uint8Array(Buffer.from(salt, 'base64')), { N, r, p });
    return true;
  } catch {
    return false;
  }
}

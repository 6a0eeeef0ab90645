import sqlite3 from 'sqlite3';
import { primeVaultUnlock } from '@pursuance/cwtch/vault-prime';

/**
 * The profile header as stored, read without TypeORM (which costs a quarter of a second to load)
 * and without ever creating or changing the file: undefined when there is no file, no header,
 * or anything goes wrong. The profile store's own open reads and checks the header again.
 */
export function peekProfileHeader(path: string): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (openErr) => {
      if (openErr) return resolve(undefined);
      db.get('SELECT header FROM cwtch_profile_header WHERE id = 1', (err, row: { header?: unknown } | undefined) => {
        db.close(() => resolve(!err && row?.header instanceof Buffer ? new Uint8Array(row.header) : undefined));
      });
    });
  });
}

/**
 * Start the password's scrypt for the profile at `path` now, so that its unlock (after the node
 * has loaded) takes the key instead of deriving it. Whether it could (false: no profile, or a
 * header the unlock will judge); it never throws and never touches the file.
 */
export async function primeProfileUnlock(path: string, password: string): Promise<boolean> {
  const header = await peekProfileHeader(path);
  return header !== undefined && primeVaultUnlock(header, password);
}

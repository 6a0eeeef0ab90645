/**
 * Cookie authentication on tor's control port (control-spec §3.24 AUTHCHALLENGE, §5.1): reading
 * the cookie file safely and the SAFECOOKIE proofs, in which tor must show it knows the cookie
 * before we send anything derived from it.
 */
import { createHmac } from 'node:crypto';
import { equalBytes } from '@pursuance/crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { AcnControlError } from '../errors.js';
import { parseReplyArgs } from './tor-control-args.js';

const SAFECOOKIE_SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash';
const SAFECOOKIE_CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash';
const COOKIE_LENGTH = 32;
/** Length of the client's and tor's AUTHCHALLENGE nonces. */
export const SAFECOOKIE_NONCE_LENGTH = 32;

function hexValue(value: string | undefined, bytes: number): Buffer | undefined {
  if (value === undefined || value.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(value)) return undefined;
  return Buffer.from(value, 'hex');
}

function hmac(key: string, cookie: Uint8Array, clientNonce: Uint8Array, serverNonce: Uint8Array): Buffer {
  return createHmac('sha256', key).update(cookie).update(clientNonce).update(serverNonce).digest();
}

/**
 * Check tor's AUTHCHALLENGE answer (its proof that it knows the cookie) and return the hash we
 * then send with AUTHENTICATE. Throws AcnControlError on a malformed answer or a wrong proof.
 */
export function answerSafeCookieChallenge(cookie: Uint8Array, clientNonce: Uint8Array, replyText: string): Buffer {
  const args = parseReplyArgs(replyText);
  const serverHash = hexValue(args.values.get('SERVERHASH'), 32);
  const serverNonce = hexValue(args.values.get('SERVERNONCE'), SAFECOOKIE_NONCE_LENGTH);
  if (args.words[0] !== 'AUTHCHALLENGE' || serverHash === undefined || serverNonce === undefined) {
    throw new AcnControlError('malformed tor control reply: bad AUTHCHALLENGE answer');
  }
  const expected = hmac(SAFECOOKIE_SERVER_KEY, cookie, clientNonce, serverNonce);
  // tor proves it knows the cookie first; otherwise this is not our tor (or not our cookie).
  if (!equalBytes(expected, serverHash)) {
    throw new AcnControlError('tor control port failed the SAFECOOKIE server check (wrong cookie file or not tor)');
  }
  return hmac(SAFECOOKIE_CLIENT_KEY, cookie, clientNonce, serverNonce);
}

/**
 * Read exactly COOKIE_LENGTH bytes, refusing anything else (never slurp an arbitrary file).
 * On failure pushes the reason (without the path's contents) and returns undefined.
 */
export async function readCookie(path: string, reasons: string[]): Promise<Uint8Array | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) {
      reasons.push('the cookie file is not a regular file');
      return undefined;
    }
    const buf = Buffer.alloc(COOKIE_LENGTH + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead !== COOKIE_LENGTH) {
      buf.fill(0);
      reasons.push(`the cookie file is not ${COOKIE_LENGTH} bytes`);
      return undefined;
    }
    const cookie = new Uint8Array(buf.subarray(0, COOKIE_LENGTH));
    buf.fill(0);
    return cookie;
  } catch (err) {
    reasons.push(`cannot read the cookie file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  } finally {
    await handle?.close();
  }
}

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Identity,
  WrongPasswordError,
  canonicalDecode,
  canonicalEncode,
  equalBytes,
  fromBase64,
  openWithPassword,
  sealWithPassword,
  toBase64,
  type OnionName,
  type ScryptParams,
} from '@pursuance/crypto';
import { generateVoprfKeyPair, voprfKeyPairFromSecret, type VoprfKeyPair } from '@pursuance/relay';
import { z } from 'zod';
import { DaemonError, ExitCode } from './errors.js';
import { WeakPasswordError, checkNewPassword } from '@pursuance/password';

/**
 * The relay's long-term secrets: the board identity seed, the token-service identity seed and
 * the VOPRF secret key. They live in `relay-keys.json` in the data dir, sealed together under
 * the relay password (scrypt + secretbox, one KDF run per start); the public half (both onions
 * and the token public key) is stored beside the blob so it can be shown and cross-checked.
 */
export interface RelayKeys {
  readonly boardIdentity: Identity;
  readonly tokenIdentity: Identity;
  readonly tokenKey: VoprfKeyPair;
}

const KeysFileSchema = z.strictObject({
  v: z.literal(1),
  boardOnion: z.string(),
  tokenOnion: z.string(),
  tokenPublicKey: z.string(),
  sealed: z.strictObject({ v: z.literal(1), kdf: z.literal('scrypt'), N: z.number(), r: z.number(), p: z.number(), salt: z.string(), box: z.string() }),
});

export function keysPath(dataDir: string): string {
  return join(dataDir, 'relay-keys.json');
}

/** Load the relay keys, creating (and sealing) fresh ones on first start. */
export async function loadOrCreateRelayKeys(dataDir: string, password: string, params?: ScryptParams): Promise<{ keys: RelayKeys; created: boolean }> {
  const path = keysPath(dataDir);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DaemonError(`cannot read ${path}`, ExitCode.failure, { cause: err });
  }
  if (text === undefined) return { keys: await createKeys(dataDir, password, params), created: true };
  return { keys: await openKeys(path, text, password), created: false };
}

async function createKeys(dataDir: string, password: string, params?: ScryptParams): Promise<RelayKeys> {
  try {
    checkNewPassword(password, 'relay');
  } catch (err) {
    if (err instanceof WeakPasswordError) throw new DaemonError(err.message, ExitCode.usage, { cause: err });
    throw err;
  }
  const boardSeed = new Uint8Array(randomBytes(32));
  const tokenSeed = new Uint8Array(randomBytes(32));
  const tokenKey = generateVoprfKeyPair();
  const secrets = canonicalEncode({ board: boardSeed, token: tokenSeed, voprf: tokenKey.secretKey });
  const keys: RelayKeys = { boardIdentity: Identity.fromSeed(boardSeed), tokenIdentity: Identity.fromSeed(tokenSeed), tokenKey };
  const file = {
    v: 1,
    boardOnion: keys.boardIdentity.onion,
    tokenOnion: keys.tokenIdentity.onion,
    tokenPublicKey: toBase64(tokenKey.publicKey),
    sealed: await sealWithPassword(password, secrets, params),
  };
  for (const secret of [boardSeed, tokenSeed, secrets]) secret.fill(0);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const path = keysPath(dataDir);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return keys;
}

async function openKeys(path: string, text: string, password: string): Promise<RelayKeys> {
  let file: z.infer<typeof KeysFileSchema>;
  try {
    file = KeysFileSchema.parse(JSON.parse(text));
  } catch (cause) {
    throw new DaemonError(`${path} is not a relay key file`, ExitCode.failure, { cause });
  }
  let secrets: Uint8Array;
  try {
    secrets = await openWithPassword(password, file.sealed);
  } catch (err) {
    if (err instanceof WrongPasswordError) throw new DaemonError('wrong password for the relay keys', ExitCode.wrongPassword);
    throw new DaemonError(`cannot open ${path}`, ExitCode.failure, { cause: err });
  }
  try {
    const decoded = canonicalDecode(secrets) as { board?: unknown; token?: unknown; voprf?: unknown };
    if (!(decoded.board instanceof Uint8Array && decoded.token instanceof Uint8Array && decoded.voprf instanceof Uint8Array)) {
      throw new TypeError('sealed secrets are incomplete');
    }
    const keys: RelayKeys = {
      boardIdentity: Identity.fromSeed(decoded.board),
      tokenIdentity: Identity.fromSeed(decoded.token),
      tokenKey: voprfKeyPairFromSecret(decoded.voprf),
    };
    for (const secret of [decoded.board, decoded.token, decoded.voprf]) secret.fill(0);
    // The public half on disk must be what the secrets derive (a swapped file is refused).
    if (
      keys.boardIdentity.onion !== (file.boardOnion as OnionName) ||
      keys.tokenIdentity.onion !== (file.tokenOnion as OnionName) ||
      !equalBytes(keys.tokenKey.publicKey, fromBase64(file.tokenPublicKey))
    ) {
      throw new TypeError('public keys do not match the sealed secrets');
    }
    return keys;
  } catch (cause) {
    throw new DaemonError(`${path} is inconsistent: ${(cause as Error).message}`, ExitCode.failure, { cause });
  } finally {
    secrets.fill(0);
  }
}

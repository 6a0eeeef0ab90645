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
import { TokenKeyring, checkSchedule, defaultSchedule, loadVoprf, type TokenEpochSchedule } from '@pursuance/relay';
import { z } from 'zod';
import { DaemonError, ExitCode } from './errors.js';
import { WeakPasswordError, checkNewPassword } from '@pursuance/password';

/**
 * The relay's long-term secrets: the board identity seed, the token-service identity seed and
 * the seed of the token epoch keys. They live in `relay-keys.json` in the data dir, sealed
 * together under the relay password (scrypt + secretbox, one KDF run per start); the public
 * half (both onions, the token key schedule and the root committing to its keys) is stored
 * beside the blob so it can be shown and cross-checked.
 *
 * Version 1 files (one token key for the relay's life) are upgraded on open: a new epoch seed
 * and a schedule starting that day replace the old key, and the file is rewritten as version 2.
 * The relay's key bundle changes with it, so its operator must share the new one.
 */
export interface RelayKeys {
  readonly boardIdentity: Identity;
  readonly tokenIdentity: Identity;
  readonly tokenKeys: TokenKeyring;
}

const SealedSchema = z.strictObject({
  v: z.literal(1),
  kdf: z.literal('scrypt'),
  N: z.number(),
  r: z.number(),
  p: z.number(),
  salt: z.string(),
  box: z.string(),
});
const KeysFileV1Schema = z.strictObject({ v: z.literal(1), boardOnion: z.string(), tokenOnion: z.string(), tokenPublicKey: z.string(), sealed: SealedSchema });
const KeysFileSchema = z.strictObject({
  v: z.literal(2),
  boardOnion: z.string(),
  tokenOnion: z.string(),
  tokenEpochRoot: z.string(),
  tokenSchedule: z.strictObject({ startSeconds: z.number(), epochSeconds: z.number(), count: z.number(), graceSeconds: z.number() }),
  sealed: SealedSchema,
});
const AnyKeysFileSchema = z.discriminatedUnion('v', [KeysFileV1Schema, KeysFileSchema]);

export function keysPath(dataDir: string): string {
  return join(dataDir, 'relay-keys.json');
}

/** Load the relay keys, creating (and sealing) fresh ones on first start. */
export async function loadOrCreateRelayKeys(
  dataDir: string,
  password: string,
  params?: ScryptParams,
  now: () => number = Date.now,
): Promise<{ keys: RelayKeys; created: boolean; upgraded: boolean }> {
  // The token keyring derives every epoch's public key as it is built.
  await loadVoprf();
  const path = keysPath(dataDir);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DaemonError(`cannot read ${path}`, ExitCode.failure, { cause: err });
  }
  if (text === undefined) return { keys: await createKeys(dataDir, password, params, now), created: true, upgraded: false };
  return { ...(await openKeys(dataDir, text, password, params, now)), created: false };
}

async function createKeys(dataDir: string, password: string, params: ScryptParams | undefined, now: () => number): Promise<RelayKeys> {
  try {
    checkNewPassword(password, 'relay');
  } catch (err) {
    if (err instanceof WeakPasswordError) throw new DaemonError(err.message, ExitCode.usage, { cause: err });
    throw err;
  }
  return writeKeys(dataDir, password, params, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)), defaultSchedule(now()));
}

/** Seal the secrets, write the file (atomically, 0600) and return the keys; zeroes the seeds it was given. */
async function writeKeys(
  dataDir: string,
  password: string,
  params: ScryptParams | undefined,
  boardSeed: Uint8Array,
  tokenSeed: Uint8Array,
  schedule: TokenEpochSchedule,
): Promise<RelayKeys> {
  const epochSeed = new Uint8Array(randomBytes(32));
  const secrets = canonicalEncode({ board: boardSeed, token: tokenSeed, epochs: epochSeed });
  const keys: RelayKeys = {
    boardIdentity: Identity.fromSeed(boardSeed),
    tokenIdentity: Identity.fromSeed(tokenSeed),
    tokenKeys: TokenKeyring.fromSeed(epochSeed, schedule),
  };
  const file: z.infer<typeof KeysFileSchema> = {
    v: 2,
    boardOnion: keys.boardIdentity.onion,
    tokenOnion: keys.tokenIdentity.onion,
    tokenEpochRoot: toBase64(keys.tokenKeys.root),
    tokenSchedule: { ...schedule },
    sealed: await sealWithPassword(password, secrets, params),
  };
  for (const secret of [boardSeed, tokenSeed, epochSeed, secrets]) secret.fill(0);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const path = keysPath(dataDir);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return keys;
}

async function openKeys(
  dataDir: string,
  text: string,
  password: string,
  params: ScryptParams | undefined,
  now: () => number,
): Promise<{ keys: RelayKeys; upgraded: boolean }> {
  const path = keysPath(dataDir);
  let file: z.infer<typeof AnyKeysFileSchema>;
  try {
    file = AnyKeysFileSchema.parse(JSON.parse(text));
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
  let decoded: { board?: unknown; token?: unknown; epochs?: unknown; voprf?: unknown } = {};
  try {
    decoded = canonicalDecode(secrets) as typeof decoded;
    if (!(decoded.board instanceof Uint8Array && decoded.token instanceof Uint8Array)) throw new TypeError('sealed secrets are incomplete');
    const boardOnion = Identity.fromSeed(decoded.board).onion;
    const tokenOnion = Identity.fromSeed(decoded.token).onion;
    // The public half on disk must be what the secrets derive (a swapped file is refused).
    if (boardOnion !== (file.boardOnion as OnionName) || tokenOnion !== (file.tokenOnion as OnionName)) {
      throw new TypeError('public keys do not match the sealed secrets');
    }
    if (file.v === 1) {
      // The single token key retires: its tokens are refused from now on (clients buy new ones).
      if (decoded.voprf instanceof Uint8Array) decoded.voprf.fill(0);
      const keys = await writeKeys(dataDir, password, params, decoded.board, decoded.token, defaultSchedule(now()));
      return { keys, upgraded: true };
    }
    if (!(decoded.epochs instanceof Uint8Array)) throw new TypeError('sealed secrets are incomplete');
    const keys: RelayKeys = {
      boardIdentity: Identity.fromSeed(decoded.board),
      tokenIdentity: Identity.fromSeed(decoded.token),
      tokenKeys: TokenKeyring.fromSeed(decoded.epochs, checkSchedule(file.tokenSchedule)),
    };
    if (!equalBytes(keys.tokenKeys.root, fromBase64(file.tokenEpochRoot))) throw new TypeError('the token key root does not match the sealed seed');
    return { keys, upgraded: false };
  } catch (cause) {
    throw new DaemonError(`${path} is inconsistent: ${(cause as Error).message}`, ExitCode.failure, { cause });
  } finally {
    for (const secret of [decoded.board, decoded.token, decoded.epochs]) if (secret instanceof Uint8Array) secret.fill(0);
    secrets.fill(0);
  }
}

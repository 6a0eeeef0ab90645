import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Identity, WrongPasswordError, parseOnionName, type PasswordSealed, type ScryptParams } from '@pursuance/crypto';
import { ownerOnly } from '@pursuance/migrations';
import { checkNewPassword } from '@pursuance/password';

/**
 * A profile's long-term identity on disk: `identity.json` in the data dir holds the onion name
 * (public, for display) and the seed sealed under the profile password (scrypt + secretbox).
 * Written atomically, readable by its owner only; never overwritten.
 */
interface IdentityFile {
  readonly onion: string;
  readonly sealed: PasswordSealed;
}

export class IdentityExistsError extends Error {
  public readonly code = 'IDENTITY_EXISTS';
  public constructor(dir: string) {
    super(`an identity already exists in ${dir}; refusing to overwrite it`);
    this.name = 'IdentityExistsError';
  }
}

export class IdentityMissingError extends Error {
  public readonly code = 'IDENTITY_MISSING';
  public constructor(dir: string) {
    super(`no identity in ${dir}`);
    this.name = 'IdentityMissingError';
  }
}

export class ProfilePasswordError extends Error {
  public readonly code = 'WRONG_PASSWORD';
  public constructor() {
    super('wrong password for this profile');
    this.name = 'ProfilePasswordError';
  }
}

export function identityPath(dataDir: string): string {
  return join(dataDir, 'identity.json');
}

export async function hasIdentity(dataDir: string): Promise<boolean> {
  return readFile(identityPath(dataDir)).then(
    () => true,
    () => false,
  );
}

export async function createIdentity(dataDir: string, password: string, params?: ScryptParams): Promise<Identity> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (await hasIdentity(dataDir)) throw new IdentityExistsError(dataDir);
  checkNewPassword(password);
  const identity = Identity.generate();
  const file: IdentityFile = { onion: identity.onion, sealed: await identity.sealWithPassword(password, params) };
  const path = identityPath(dataDir);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return identity;
}

export async function loadIdentity(dataDir: string, password: string): Promise<Identity> {
  let file: IdentityFile;
  try {
    file = JSON.parse(await readFile(identityPath(dataDir), 'utf8')) as IdentityFile;
  } catch {
    throw new IdentityMissingError(dataDir);
  }
  await ownerOnly(identityPath(dataDir));
  let identity: Identity;
  try {
    identity = await Identity.openWithPassword(password, file.sealed);
  } catch (err) {
    if (err instanceof WrongPasswordError) throw new ProfilePasswordError();
    throw err;
  }
  if (identity.onion !== parseOnionName(file.onion)) throw new Error('identity file is inconsistent (onion does not match key)');
  return identity;
}

export async function readPublicOnion(dataDir: string): Promise<string> {
  try {
    const file = JSON.parse(await readFile(identityPath(dataDir), 'utf8')) as IdentityFile;
    return parseOnionName(file.onion);
  } catch {
    throw new IdentityMissingError(dataDir);
  }
}

/** Unlock the profile identity, creating it on first start. */
export async function openOrCreateIdentity(dataDir: string, password: string, params?: ScryptParams): Promise<Identity> {
  return (await hasIdentity(dataDir)) ? loadIdentity(dataDir, password) : createIdentity(dataDir, password, params);
}

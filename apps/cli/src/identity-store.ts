import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Identity, WrongPasswordError, parseOnionName, type PasswordSealed, type ScryptParams } from '@pursuance/crypto';
import { CliError, ExitCode } from './errors.js';

/**
 * The profile's long-term identity on disk: `identity.json` in the data dir holds the onion
 * name (public, for display) and the seed sealed under the profile password (scrypt +
 * secretbox). The file is written atomically and readable by its owner only.
 */
interface IdentityFile {
  readonly onion: string;
  readonly sealed: PasswordSealed;
}

export function identityPath(dataDir: string): string {
  return join(dataDir, 'identity.json');
}

export async function createIdentity(dataDir: string, password: string, params?: ScryptParams): Promise<Identity> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const path = identityPath(dataDir);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined) throw new CliError(`an identity already exists in ${dataDir}; refusing to overwrite it`, ExitCode.usage);
  const identity = Identity.generate();
  const file: IdentityFile = { onion: identity.onion, sealed: await identity.sealWithPassword(password, params) };
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
    throw new CliError(`no identity in ${dataDir}: run \`pursuance identity create --data-dir ${dataDir}\``, ExitCode.usage);
  }
  let identity: Identity;
  try {
    identity = await Identity.openWithPassword(password, file.sealed);
  } catch (err) {
    if (err instanceof WrongPasswordError) throw new CliError('wrong password for this profile', ExitCode.wrongPassword);
    throw err;
  }
  if (identity.onion !== parseOnionName(file.onion)) throw new CliError('identity file is inconsistent (onion does not match key)');
  return identity;
}

export async function readPublicOnion(dataDir: string): Promise<string> {
  try {
    const file = JSON.parse(await readFile(identityPath(dataDir), 'utf8')) as IdentityFile;
    return parseOnionName(file.onion);
  } catch {
    throw new CliError(`no identity in ${dataDir}`, ExitCode.usage);
  }
}

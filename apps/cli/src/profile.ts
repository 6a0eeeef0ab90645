import { IdentityExistsError, IdentityMissingError, ProfilePasswordError, createIdentity, loadIdentity, readPublicOnion } from '@pursuance/node/identity';
import type { Identity } from '@pursuance/crypto';
import { CliError, ExitCode } from './errors.js';

/** The node's identity store, with its typed errors turned into CLI exit codes. */
async function cli<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ProfilePasswordError) throw new CliError(err.message, ExitCode.wrongPassword);
    if (err instanceof IdentityExistsError) throw new CliError(err.message, ExitCode.usage);
    if (err instanceof IdentityMissingError) throw new CliError(`${err.message}: run \`pursuance identity create\` first`, ExitCode.usage);
    throw err;
  }
}

export const createProfileIdentity = (dataDir: string, password: string): Promise<Identity> => cli(() => createIdentity(dataDir, password));
export const loadProfileIdentity = (dataDir: string, password: string): Promise<Identity> => cli(() => loadIdentity(dataDir, password));
export const readProfileOnion = (dataDir: string): Promise<string> => cli(() => readPublicOnion(dataDir));

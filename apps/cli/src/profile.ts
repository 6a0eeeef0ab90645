import type { Identity } from '@pursuance/crypto';
import type * as IdentityStore from '@pursuance/node/identity';
import { CliError, ExitCode } from './errors.js';

/**
 * The profile's identity (its Cwtch profile, the one `node start` opens), with the node's typed
 * errors turned into CLI exit codes. Loaded on use: the profile store brings in SQLite and
 * TypeORM, which the other commands do without.
 */
async function cli<T>(action: (store: typeof IdentityStore) => Promise<T>): Promise<T> {
  const store = await import('@pursuance/node/identity');
  const { WeakPasswordError } = await import('@pursuance/password');
  try {
    return await action(store);
  } catch (err) {
    if (err instanceof store.ProfilePasswordError) throw new CliError(err.message, ExitCode.wrongPassword);
    if (err instanceof store.IdentityExistsError) throw new CliError(err.message, ExitCode.usage);
    if (err instanceof store.IdentityMissingError)
      throw new CliError(`${err.message}: run \`pursuance identity create\` (or \`pursuance node start\`) first`, ExitCode.usage);
    if (err instanceof WeakPasswordError) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

export const createProfileIdentity = (dataDir: string, password: string, displayName?: string): Promise<Identity> =>
  cli((s) => s.createIdentity(dataDir, password, displayName === undefined ? {} : { displayName }));
export const loadProfileIdentity = (dataDir: string, password: string): Promise<Identity> => cli((s) => s.loadIdentity(dataDir, password));

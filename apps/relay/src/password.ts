import { readFile } from 'node:fs/promises';
import { DaemonError, ExitCode } from './errors.js';

export const PASSWORD_ENV = 'PURSUANCE_RELAY_PASSWORD';
export const MIN_PASSWORD_LENGTH = 8;

/**
 * The password sealing the relay keys: from --password-file, else PURSUANCE_RELAY_PASSWORD.
 * Never a flag (command lines are visible to other users) and never prompted (a daemon has no
 * terminal). One trailing newline in the file is ignored.
 */
export async function readRelayPassword(passwordFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let value: string | undefined;
  if (passwordFile !== undefined) {
    try {
      value = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (cause) {
      throw new DaemonError(`cannot read the password file ${passwordFile}`, ExitCode.usage, { cause });
    }
  } else {
    value = env[PASSWORD_ENV];
  }
  if (value === undefined || value.length === 0) {
    throw new DaemonError(`no password: use --password-file or ${PASSWORD_ENV}`, ExitCode.usage);
  }
  return value;
}

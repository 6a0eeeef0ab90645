import { readFile } from 'node:fs/promises';
import password from '@inquirer/password';
import { WeakPasswordError, checkNewPassword } from '@pursuance/node/identity';
import { CliError, ExitCode } from './errors.js';

export interface PasswordOptions {
  readonly passwordFile?: string;
}

function refuseWeak(value: string): void {
  try {
    checkNewPassword(value);
  } catch (err) {
    if (err instanceof WeakPasswordError) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

/**
 * The profile password, from (in order) --password-file, PURSUANCE_PASSWORD, or an interactive
 * prompt on a terminal. Never from a plain flag: command lines are visible to other users.
 * For a new profile ('create') an empty or short password is refused whatever its source (the
 * node refuses it too: WeakPasswordError), and the prompt asks for it twice.
 */
export async function readPassword(options: PasswordOptions, purpose: 'unlock' | 'create'): Promise<string> {
  let value: string | undefined;
  if (options.passwordFile !== undefined) {
    value = (await readFile(options.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  } else if (process.env.PURSUANCE_PASSWORD !== undefined) {
    value = process.env.PURSUANCE_PASSWORD;
  } else if (process.stdin.isTTY) {
    value = await password({ message: purpose === 'create' ? 'Choose a profile password:' : 'Profile password:', mask: '*' });
    if (purpose === 'create') {
      refuseWeak(value);
      const again = await password({ message: 'Repeat the password:', mask: '*' });
      if (again !== value) throw new CliError('the passwords differ', ExitCode.usage);
    }
  }
  if (value === undefined) {
    throw new CliError('no password: use --password-file, PURSUANCE_PASSWORD, or run on a terminal', ExitCode.usage);
  }
  if (purpose === 'create') refuseWeak(value);
  return value;
}

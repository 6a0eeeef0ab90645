import { readFile } from 'node:fs/promises';
import prompt from '@inquirer/password';
import { NoPasswordError, PasswordFileError, PasswordMismatchError } from './errors.js';
import { checkNewPassword, type PasswordSubject } from './policy.js';

export interface PasswordSources {
  /** --password-file: the file's text, one trailing newline ignored (editors add one). */
  readonly file?: string | undefined;
  /** The flag that names `file`, for messages (default `--password-file`). */
  readonly fileFlag?: string;
  /** The environment variable consulted when no file is given. */
  readonly envName: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Ask on the terminal when neither gave one (never for a daemon: it has no terminal). */
  readonly interactive: boolean;
  readonly subject?: PasswordSubject;
}

/**
 * A password from (in order) a file, an environment variable, or an interactive prompt. Never
 * from a plain flag: command lines are visible to other users of the machine. For a new store
 * ('create') a weak password is refused whatever its source, and the prompt asks twice.
 */
export async function readPassword(sources: PasswordSources, purpose: 'unlock' | 'create'): Promise<string> {
  const subject = sources.subject ?? 'profile';
  const env = sources.env ?? process.env;
  let value: string | undefined;
  if (sources.file !== undefined) {
    value = await readPasswordFile(sources.file);
  } else if (env[sources.envName] !== undefined) {
    value = env[sources.envName];
  } else if (sources.interactive && process.stdin.isTTY) {
    value = await prompt({ message: purpose === 'create' ? `Choose a ${subject} password:` : `${capitalised(subject)} password:`, mask: '*' });
    if (purpose === 'create') {
      checkNewPassword(value, subject);
      const again = await prompt({ message: 'Repeat the password:', mask: '*' });
      if (again !== value) throw new PasswordMismatchError();
    }
  }
  if (value === undefined || (purpose === 'unlock' && value.length === 0)) {
    throw new NoPasswordError(
      `${sources.fileFlag ?? '--password-file'}${sources.interactive ? ', ' : ' or '}${sources.envName}${sources.interactive ? ', or run on a terminal' : ''}`,
    );
  }
  if (purpose === 'create') checkNewPassword(value, subject);
  return value;
}

/**
 * A secret that may be absent (an external tor's control password): undefined when neither the
 * file nor the environment variable is given; otherwise read as readPassword does. Never prompts.
 */
export async function readOptionalPassword(sources: Omit<PasswordSources, 'interactive'>): Promise<string | undefined> {
  const env = sources.env ?? process.env;
  if (sources.file === undefined && env[sources.envName] === undefined) return undefined;
  return readPassword({ ...sources, interactive: false }, 'unlock');
}

async function readPasswordFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new PasswordFileError(path, { cause });
  }
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

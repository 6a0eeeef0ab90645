import { readFile } from 'node:fs/promises';
import prompt from '@inquirer/password';
import { NoPasswordError, PasswordFileError, PasswordMismatchError, PromptClosedError } from './errors.js';
import { MIN_PASSWORD_LENGTH, checkNewPassword, newPasswordProblem, type PasswordSubject } from './policy.js';

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
 * ('create') a weak password is refused whatever its source, and the prompt asks twice. An empty
 * password is never taken.
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
    value = purpose === 'create' ? await askNewPassword(subject) : await askPassword(subject);
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

/** How many times a confirmation that differs starts the new password over before giving up. */
const CONFIRM_ATTEMPTS = 3;

/**
 * A new password at the terminal: a weak one is refused on the spot and asked again (the prompt
 * shows why), then it is typed a second time, since nothing can recover what was sealed under a
 * mistyped password. A confirmation that differs starts over, a few times at most.
 */
async function askNewPassword(subject: PasswordSubject): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const value = await ask({
      message: `Choose a ${subject} password (at least ${MIN_PASSWORD_LENGTH} characters):`,
      mask: '*',
      validate: (v) => newPasswordProblem(v, subject)?.message ?? true,
    });
    const again = await ask({ message: 'Repeat the password:', mask: '*' });
    if (again === value) return value;
    if (attempt === CONFIRM_ATTEMPTS) throw new PasswordMismatchError();
    process.stderr.write('The two passwords differ; choose it again.\n');
  }
}

/** An existing store's password: asked until something is typed (Ctrl-C stops). */
function askPassword(subject: PasswordSubject): Promise<string> {
  return ask({
    message: `${capitalised(subject)} password:`,
    mask: '*',
    validate: (v) => v.length > 0 || 'the password is empty; type it, or press Ctrl-C to stop',
  });
}

async function ask(config: Parameters<typeof prompt>[0]): Promise<string> {
  try {
    return await prompt(config);
  } catch (err) {
    // Ctrl-C (or a closed terminal) at the prompt: inquirer's ExitPromptError, matched by name
    // because @inquirer/core, which defines it, is not a dependency of ours.
    if (err instanceof Error && err.name === 'ExitPromptError') throw new PromptClosedError({ cause: err });
    throw err;
  }
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

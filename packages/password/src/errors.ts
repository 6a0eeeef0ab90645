import { WeakPasswordError } from './policy.js';

/** None of the allowed sources gave a password. The message lists the sources, never a value. */
export class NoPasswordError extends Error {
  public readonly code = 'NO_PASSWORD';
  public constructor(sources: string) {
    super(`no password: use ${sources}`);
    this.name = 'NoPasswordError';
  }
}

export class PasswordFileError extends Error {
  public readonly code = 'PASSWORD_FILE_UNREADABLE';
  public constructor(path: string, options?: ErrorOptions) {
    super(`cannot read the password file ${path}`, options);
    this.name = 'PasswordFileError';
  }
}

/** The two entries of a new password at the prompt differ. */
export class PasswordMismatchError extends Error {
  public readonly code = 'PASSWORD_MISMATCH';
  public constructor() {
    super('the passwords differ');
    this.name = 'PasswordMismatchError';
  }
}

/** The user closed the password prompt (Ctrl-C): no password, and no one to tell but the user. */
export class PromptClosedError extends Error {
  public readonly code = 'PROMPT_CLOSED';
  public constructor(options?: ErrorOptions) {
    super('stopped at the password prompt', options);
    this.name = 'PromptClosedError';
  }
}

export type PasswordError = WeakPasswordError | NoPasswordError | PasswordFileError | PasswordMismatchError;

export function isPasswordError(err: unknown): err is PasswordError {
  return err instanceof WeakPasswordError || err instanceof NoPasswordError || err instanceof PasswordFileError || err instanceof PasswordMismatchError;
}

/** The shortest new password (counted in characters, not bytes). */
export const MIN_PASSWORD_LENGTH = 8;

/** What a password protects, for messages only ("the relay password is empty"). */
export type PasswordSubject = 'profile' | 'relay';

/** A new password is empty or too short: refused before anything is sealed under it. */
export class WeakPasswordError extends Error {
  public readonly code = 'WEAK_PASSWORD';
  public constructor(
    public readonly empty: boolean,
    subject: PasswordSubject = 'profile',
  ) {
    super(
      empty
        ? `the ${subject} password is empty; choose one of at least ${MIN_PASSWORD_LENGTH} characters`
        : `choose a ${subject} password of at least ${MIN_PASSWORD_LENGTH} characters`,
    );
    this.name = 'WeakPasswordError';
  }
}

/**
 * Why a new password is refused, or undefined when it is acceptable: empty (or all blank) or
 * shorter than MIN_PASSWORD_LENGTH characters. Everything at rest is only as safe as this password.
 */
export function newPasswordProblem(password: string, subject: PasswordSubject = 'profile'): WeakPasswordError | undefined {
  if (password.trim().length === 0) return new WeakPasswordError(true, subject);
  if ([...password].length < MIN_PASSWORD_LENGTH) return new WeakPasswordError(false, subject);
  return undefined;
}

/**
 * Refuse an empty (or all-blank) or short new password. Existing stores open with whatever they
 * were sealed with, so only creation checks.
 */
export function checkNewPassword(password: string, subject: PasswordSubject = 'profile'): void {
  const problem = newPasswordProblem(password, subject);
  if (problem) throw problem;
}

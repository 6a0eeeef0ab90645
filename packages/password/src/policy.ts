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
 * Refuse an empty (or all-blank) or short new password: everything at rest is only as safe as
 * this password. Existing stores open with whatever they were sealed with, so only creation checks.
 */
export function checkNewPassword(password: string, subject: PasswordSubject = 'profile'): void {
  if (password.trim().length === 0) throw new WeakPasswordError(true, subject);
  if ([...password].length < MIN_PASSWORD_LENGTH) throw new WeakPasswordError(false, subject);
}

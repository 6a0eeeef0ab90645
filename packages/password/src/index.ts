export { NoPasswordError, PasswordFileError, PasswordMismatchError, PromptClosedError, isPasswordError, type PasswordError } from './errors.js';
export { MIN_PASSWORD_LENGTH, WeakPasswordError, checkNewPassword, type PasswordSubject } from './policy.js';
export { readOptionalPassword, readPassword, type PasswordSources } from './sources.js';

export { NoPasswordError, PasswordFileError, PasswordMismatchError, isPasswordError, type PasswordError } from './errors.js';
export { MIN_PASSWORD_LENGTH, WeakPasswordError, checkNewPassword, type PasswordSubject } from './policy.js';
export { readPassword, type PasswordSources } from './sources.js';

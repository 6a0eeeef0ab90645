import { CliError, ExitCode } from './errors.js';

export interface PasswordOptions {
  readonly passwordFile?: string;
}

/**
 * The profile password from --password-file, PURSUANCE_PASSWORD or the terminal (the shared
 * rules of @pursuance/password); its refusals are usage errors of the command; Ctrl-C at the
 * prompt stops it with one line and exit code 130.
 */
export async function readPassword(options: PasswordOptions, purpose: 'unlock' | 'create'): Promise<string> {
  // Loaded on use, like every library a command needs: the CLI's entry stays commander and the command definitions.
  const { PromptClosedError, isPasswordError, readPassword: readFromSources } = await import('@pursuance/password');
  try {
    return await readFromSources({ file: options.passwordFile, envName: 'PURSUANCE_PASSWORD', interactive: true, subject: 'profile' }, purpose);
  } catch (err) {
    if (err instanceof PromptClosedError) throw new CliError(err.message, ExitCode.interrupted);
    if (isPasswordError(err)) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

import { isPasswordError, readPassword } from '@pursuance/password';
import { DaemonError, ExitCode } from './errors.js';

export const PASSWORD_ENV = 'PURSUANCE_RELAY_PASSWORD';

/**
 * The password sealing the relay keys: from --password-file, else PURSUANCE_RELAY_PASSWORD
 * (the shared rules of @pursuance/password). Never prompted: a daemon has no terminal.
 * Whether it is strong enough is judged where the keys are first sealed (keystore).
 */
export async function readRelayPassword(passwordFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    return await readPassword({ file: passwordFile, envName: PASSWORD_ENV, env, interactive: false, subject: 'relay' }, 'unlock');
  } catch (err) {
    if (isPasswordError(err)) throw new DaemonError(err.message, ExitCode.usage, { cause: err });
    throw err;
  }
}

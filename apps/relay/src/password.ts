import { isPasswordError, readOptionalPassword, readPassword } from '@pursuance/password';
import { TOR_CONTROL_PASSWORD_ENV } from '@pursuance/tapir';
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

/** An external tor's control password, if one is given (--tor-control-password-file, else its environment variable). */
export async function readTorControlPassword(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    return await readOptionalPassword({ file, fileFlag: '--tor-control-password-file', envName: TOR_CONTROL_PASSWORD_ENV, env });
  } catch (err) {
    if (isPasswordError(err)) throw new DaemonError(err.message, ExitCode.usage, { cause: err });
    throw err;
  }
}

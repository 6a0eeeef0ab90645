/**
 * Exit codes of `pursuance-relay`, stable for scripts and service managers:
 *   0 ok (including a graceful stop on SIGINT/SIGTERM)
 *   1 unexpected failure
 *   2 usage: bad flag, bad config file, missing or too short password
 *   3 wrong password for the relay keys in the data dir
 *   4 network: the ACN could not publish the services (tor control refused, registry unwritable)
 *   5 storage: the database could not be opened or migrated
 *   6 the data dir is in use by another running relay
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  wrongPassword: 3,
  network: 4,
  storage: 5,
  dataDirInUse: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the daemon reports as one line and a specific exit code. */
export class DaemonError extends Error {
  public constructor(
    message: string,
    public readonly exitCode: ExitCode = ExitCode.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DaemonError';
  }
}

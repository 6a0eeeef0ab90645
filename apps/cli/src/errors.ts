/** Exit codes of the `pursuance` CLI, stable for scripts. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  wrongPassword: 3,
  unreachable: 4,
} as const;

/** An error the CLI reports as one line and a specific exit code (no stack trace). */
export class CliError extends Error {
  public constructor(
    message: string,
    public readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

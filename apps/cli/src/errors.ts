/** Exit codes of the `pursuance` CLI, stable for scripts. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  wrongPassword: 3,
  unreachable: 4,
  /** Ctrl-C at a prompt: 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C. */
  interrupted: 130,
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

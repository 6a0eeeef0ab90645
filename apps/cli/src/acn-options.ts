import { Option, type Command } from 'commander';
import type { ACN, AcnConfig, TorBootstrapProgress } from '@pursuance/tapir';
import { CliError, ExitCode } from './errors.js';

/** The parsed network flags of a command (named after the flags; see tapir's flagAttribute). */
export type AcnFlags = Readonly<Record<string, unknown>> & { readonly torControlPasswordFile?: string };

/** Commands that talk to peers, still waiting for their network flags (addAcnOptions). */
const awaitingFlags = new WeakSet<Command>();

/**
 * Marks `command` as one that talks to peers: addAcnOptions gives it the network flags every
 * such command shares (tapir's ACN_SETTINGS) before it parses its arguments.
 */
export function withAcnOptions(command: Command): Command {
  awaitingFlags.add(command);
  return command;
}

/**
 * Adds the network flags to `command` and to the marked commands under it. main.ts calls it as
 * it dispatches a top-level command: the flag table comes from tapir's light entry
 * (@pursuance/tapir/acn-settings), and `--help`, `identity`, `relay` or `demo` do not load even that.
 * The rest of tapir (zod, the curves, the SOCKS client: about 0.15 s) loads only when a network opens.
 */
export async function addAcnOptions(command: Command): Promise<void> {
  const marked = [...commandTree(command)].filter((c) => awaitingFlags.has(c));
  if (marked.length === 0) return;
  const { ACN_SETTINGS, TOR_CONTROL_PASSWORD_ENV, TOR_CONTROL_PASSWORD_FILE_FLAG } = await import('@pursuance/tapir/acn-settings');
  for (const c of marked) {
    awaitingFlags.delete(c);
    for (const setting of ACN_SETTINGS) {
      const option = new Option(setting.flag, setting.description).env(setting.env);
      if (setting.kind === 'list') option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
      c.addOption(option);
    }
    c.addOption(new Option(TOR_CONTROL_PASSWORD_FILE_FLAG, `control password of a tor you run, read from a file (or set ${TOR_CONTROL_PASSWORD_ENV})`));
  }
}

function* commandTree(command: Command): Generator<Command> {
  yield command;
  for (const sub of command.commands) yield* commandTree(sub);
}

export interface OpenNetworkOptions {
  /** The command's data dir: a tor we start keeps its state in `<dataDir>/tor` unless --tor-data-dir says otherwise. */
  readonly dataDir?: string;
  readonly signal?: AbortSignal;
  /** Where bootstrap progress is reported (default: stderr, one line per change). */
  readonly onProgress?: (progress: TorBootstrapProgress) => void;
}

/**
 * Open the network the flags ask for: loopback, a tor the user runs, or a tor of our own
 * (started, bootstrapped with progress on stderr, stopped again by the ACN's close()). Failures
 * become the CLI's documented exit codes: bad settings 2, tor missing or failing to start 1,
 * tor not reaching the network in time 4.
 */
export async function openNetwork(flags: AcnFlags, options: OpenNetworkOptions = {}): Promise<ACN> {
  const { AcnConfigError, TorAbortedError, TorBootstrapTimeoutError, TorLaunchError, TorNotFoundError, acnConfigFromFlags, openAcn } =
    await import('@pursuance/tapir');
  const config: AcnConfig = { ...acnConfigFromFlags(flags), torControlPassword: await controlPassword(flags) };
  const onProgress =
    options.onProgress ??
    ((p: TorBootstrapProgress) => process.stderr.write(`tor: bootstrapped ${p.progress} % (${p.summary})${p.warning ? `: ${p.warning}` : ''}\n`));
  try {
    return await openAcn(config, {
      programDataDir: options.dataDir,
      onProgress,
      signal: options.signal,
      // Our own tor died: it is started again on the same ports; one line each way on stderr.
      onRelaunch: (e) => {
        if (e.kind === 'exited') process.stderr.write(`tor: exited unexpectedly; starting it again in ${Math.round(e.delayMs / 1000)} s\n`);
        else if (e.kind === 'relaunched') process.stderr.write(`tor: running again (down ${Math.round(e.downMs / 1000)} s)\n`);
        else process.stderr.write(`tor: restart attempt ${e.attempt} failed (${e.code})\n`);
      },
    });
  } catch (err) {
    if (err instanceof AcnConfigError) throw new CliError(err.message, ExitCode.usage);
    if (err instanceof TorNotFoundError || err instanceof TorLaunchError) throw new CliError(err.message, ExitCode.failure);
    if (err instanceof TorBootstrapTimeoutError) throw new CliError(err.message, ExitCode.unreachable);
    if (err instanceof TorAbortedError) throw new CliError('stopped while tor was starting', ExitCode.failure);
    throw err;
  }
}

/** An external tor's control password: from --tor-control-password-file or its environment variable, never a flag value. */
async function controlPassword(flags: AcnFlags): Promise<string | undefined> {
  const { isPasswordError, readOptionalPassword } = await import('@pursuance/password');
  const { TOR_CONTROL_PASSWORD_ENV } = await import('@pursuance/tapir/acn-settings');
  try {
    return await readOptionalPassword({ file: flags.torControlPasswordFile, fileFlag: '--tor-control-password-file', envName: TOR_CONTROL_PASSWORD_ENV });
  } catch (err) {
    if (isPasswordError(err)) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

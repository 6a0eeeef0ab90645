import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PortOutcome, StablePort } from '@pursuance/node';
import { openNetwork, withAcnOptions, type AcnFlags } from '../acn-options.js';
import { dataDirNotices, dataDirOption, writeNotices } from '../data-dir.js';
import { CliError, ExitCode } from '../errors.js';
import { readPassword } from '../password.js';
import { stopWithin, untilSignal } from '../signals.js';

/** From this many stored events on, start-up says that reads are served while the history loads. */
const BIG_HISTORY = 10_000;

/**
 * How long a stop may take before the process exits anyway: everything acknowledged is already
 * durable in SQLite, so a network that will not let go (an unreachable relay, a hung tor) must
 * not keep a stopped node alive.
 */
const SHUTDOWN_BUDGET_MS = 4_000;

/** The dashboard's port on a data dir's first start, when --port does not say otherwise. */
export const DEFAULT_PORT = 7878;

/**
 * --port as StartNodeOptions.port: left out, the data dir's own port (DEFAULT_PORT the first
 * time, if free); 0, the data dir's own port too, but any free one the first time; any other
 * number, exactly that port for this run.
 */
export function portChoice(flag: string | undefined): number | StablePort {
  if (flag === undefined) return { stable: true, firstChoice: DEFAULT_PORT };
  const port = /^\d{1,5}$/.test(flag) ? Number(flag) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new CliError('--port must be 0–65535', ExitCode.usage);
  return port === 0 ? { stable: true } : port;
}

/** One line on stderr when the dashboard is not where this data dir's bookmarks point. */
export function portNotice(outcome: PortOutcome, port: number): string | undefined {
  if (outcome.kind === 'moved') return `dashboard: port ${outcome.remembered}, this data dir's, is in use; serving on ${port} for this run only`;
  if (outcome.kind === 'chosen' && outcome.busy !== undefined) return `dashboard: port ${outcome.busy} is in use; this data dir's dashboard is now on ${port}`;
  return undefined;
}

/** --name checked as the pursuance core checks a display name (a usage error, before any password is asked). */
export async function nameFlag(flag: string | undefined): Promise<string | undefined> {
  const name = flag?.trim();
  if (name === undefined) return undefined;
  const { displayNameProblem } = await import('@pursuance/pursuance');
  const problem = displayNameProblem(name);
  if (problem !== null) throw new CliError(`--name ${problem}`, ExitCode.usage);
  return name;
}

export function nodeCommand(): Command {
  const cmd = new Command('node').description('run your local pursuance node');
  withAcnOptions(
    cmd
      .command('start')
      .description('unlock your profile, replay your pursuances, sync them over Cwtch and serve the dashboard on 127.0.0.1')
      .addOption(dataDirOption('profile and event store directory'))
      .addOption(
        new Option(
          '--port <port>',
          `dashboard port on 127.0.0.1 (default: the one this data dir used before, ${DEFAULT_PORT} the first time; 0: any free one the first time)`,
        ).env('PURSUANCE_PORT'),
      )
      .addOption(
        new Option('--dashboard-dir <dir>', 'serve the dashboard from this built folder (default: the one shipped with the node)').env(
          'PURSUANCE_DASHBOARD_DIR',
        ),
      )
      .option(
        '--relay <bundle>',
        "a relay's key bundle to pin now, so the dashboard offers it when a pursuance is created (repeatable)",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option('--name <name>', 'your display name (sets it on a new profile, changes it on an existing one)')
      .option('--password-file <file>', 'read the password from this file'),
  ).action(async function (
    this: Command,
    opts: AcnFlags & { dataDir: string; port?: string; name?: string; passwordFile?: string; dashboardDir?: string; relay?: string[] },
  ) {
    const port = portChoice(opts.port);
    const name = await nameFlag(opts.name);
    writeNotices(dataDirNotices(this, opts.dataDir));
    // A new profile's password is chosen here: asked twice on a terminal, and too short is refused.
    const fresh = !existsSync(join(opts.dataDir, 'profile.sqlite'));
    const password = await readPassword(opts, fresh ? 'create' : 'unlock');
    // The unlock's scrypt (about 0.5 s) starts now, on the thread pool, while the node's modules
    // load on this thread: the profile's open then takes the key ready-made. Awaited (the header's
    // read, milliseconds): the node's modules then evaluate without a break in which the read's
    // callback could start the scrypt, so the scrypt would start only after them.
    if (!fresh) {
      const { primeProfileUnlock } = await import('@pursuance/cwtch-store-sqlite/early-unlock');
      await primeProfileUnlock(join(opts.dataDir, 'profile.sqlite'), password);
    }
    // NestJS loads only for this command, keeping the rest of the CLI quick to start.
    const { startNode, PortInUseError, ProfilePasswordError, StartAbortedError, relayBundleText } = await import('@pursuance/node');
    const { WeakPasswordError } = await import('@pursuance/password');
    // Ctrl-C while tor bootstraps stops tor too (the launch is aborted, no tor is left running).
    const starting = new AbortController();
    void untilSignal().then(() => starting.abort());
    const acn = await openNetwork(opts, { dataDir: opts.dataDir, signal: starting.signal });
    let node;
    try {
      node = await startNode({
        dataDir: opts.dataDir,
        password,
        port,
        acn,
        ...(name ? { displayName: name, renameProfile: true } : {}),
        ...(opts.dashboardDir ? { dashboardDir: opts.dashboardDir } : {}),
        logger: false,
        // Ctrl-C while the logs load ends the load at once, not when it would have finished.
        signal: starting.signal,
        onReplayProgress: (p) => process.stderr.write(`${p.stage === 'read' ? 'replay' : 'fold'} ${p.pursuanceId.slice(0, 12)}… ${p.done}/${p.total}\n`),
        // Only worth a line when loading takes a while: a quiet start stays quiet.
        onListening: (url, loading) => {
          if (loading.events >= BIG_HISTORY) process.stderr.write(`reads served at ${url}/ while ${loading.events} events load\n`);
        },
      });
    } catch (err) {
      await acn.close();
      // Stopped as asked (Ctrl-C): startNode closed what it opened; a clean exit.
      if (err instanceof StartAbortedError) return;
      if (err instanceof ProfilePasswordError) throw new CliError(err.message, ExitCode.wrongPassword);
      if (err instanceof WeakPasswordError) throw new CliError(err.message, ExitCode.usage);
      if (err instanceof PortInUseError)
        throw new CliError(`${err.message}: choose another --port, or leave --port out for this data dir's own`, ExitCode.failure);
      throw err;
    }
    // Relays named at start are pinned (first use) before the dashboard is announced; a garbage
    // bundle or one whose keys changed stops the start with the node's own plain message.
    for (const bundle of opts.relay ?? []) {
      try {
        await node.sync.trustRelay(relayBundleText(bundle));
      } catch (err) {
        await node.close().catch(() => undefined);
        await acn.close();
        const code = (err as { code?: unknown }).code;
        if (code === 'INVALID_BUNDLE' || code === 'RELAY_KEYS_CHANGED') throw new CliError(`--relay: ${(err as Error).message}`, ExitCode.usage);
        throw err;
      }
    }
    // Listen for signals before announcing readiness: whoever reads the line may stop us at once.
    // A Ctrl-C that came while the node was starting stops it now.
    const stopped = starting.signal.aborted ? Promise.resolve() : untilSignal();
    const notice = portNotice(node.portOutcome, node.port);
    if (notice) process.stderr.write(`${notice}\n`);
    process.stdout.write(`node ${node.identity.onion}\ndashboard ${node.url}/\ntoken ${node.token}\nsign-in ${node.signInUrl}\n`);
    await stopped;
    const running = node;
    await stopWithin(SHUTDOWN_BUDGET_MS, async () => {
      await running.close();
      await acn.close();
    });
  });
  return cmd;
}

import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProfilePasswordError } from '@pursuance/node/identity';
import { WeakPasswordError } from '@pursuance/password';
import { openNetwork, withAcnOptions, type AcnFlags } from '../acn-options.js';
import { CliError, ExitCode } from '../errors.js';
import { readPassword } from '../password.js';
import { stopWithin, untilSignal } from '../signals.js';

/**
 * How long a stop may take before the process exits anyway: everything acknowledged is already
 * durable in SQLite, so a network that will not let go (an unreachable relay, a hung tor) must
 * not keep a stopped node alive.
 */
const SHUTDOWN_BUDGET_MS = 4_000;

export function nodeCommand(): Command {
  const cmd = new Command('node').description('run your local pursuance node');
  withAcnOptions(
    cmd
      .command('start')
      .description('unlock your profile, replay your pursuances, sync them over Cwtch and serve the dashboard on 127.0.0.1')
      .addOption(new Option('--data-dir <dir>', 'profile and event store directory').default('.data/node').env('PURSUANCE_DATA_DIR'))
      .addOption(new Option('--port <port>', 'HTTP port on 127.0.0.1 (0 = any free port)').default('7878').env('PURSUANCE_PORT'))
      .option('--name <name>', 'display name for a new profile')
      .option('--password-file <file>', 'read the password from this file'),
  ).action(async (opts: AcnFlags & { dataDir: string; port: string; name?: string; passwordFile?: string }) => {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port must be 0–65535', ExitCode.usage);
    // A new profile's password is chosen here: asked twice on a terminal, and too short is refused.
    const fresh = !existsSync(join(opts.dataDir, 'profile.sqlite'));
    const password = await readPassword(opts, fresh ? 'create' : 'unlock');
    // NestJS loads only for this command, keeping the rest of the CLI quick to start.
    const { startNode } = await import('@pursuance/node');
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
        ...(opts.name ? { displayName: opts.name } : {}),
        logger: false,
        onReplayProgress: (p) => process.stderr.write(`replay ${p.pursuanceId.slice(0, 12)}… ${p.done}/${p.total}\n`),
      });
    } catch (err) {
      await acn.close();
      if (err instanceof ProfilePasswordError) throw new CliError(err.message, ExitCode.wrongPassword);
      if (err instanceof WeakPasswordError) throw new CliError(err.message, ExitCode.usage);
      throw err;
    }
    // Listen for signals before announcing readiness: whoever reads the line may stop us at once.
    const stopped = untilSignal();
    process.stdout.write(`node ${node.identity.onion}\ndashboard ${node.url}/\ntoken ${node.token}\n`);
    await stopped;
    const running = node;
    await stopWithin(SHUTDOWN_BUDGET_MS, async () => {
      await running.close();
      await acn.close();
    });
  });
  return cmd;
}

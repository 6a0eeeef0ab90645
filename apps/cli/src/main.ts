#!/usr/bin/env node
// Only commander and the command definitions load before a command runs: each command imports
// what it needs (tapir, the node and Nest, the profile store…) in its action, so `--help` or
// `relay start` load none of it, and `node start` can begin unlocking the profile while the node
// loads. test/system/cli-bundle.test.ts checks the bundled entry imports nothing else.
import { Command, CommanderError } from 'commander';
import { addAcnOptions } from './acn-options.js';
import { demoCommand } from './commands/demo.js';
import { echoCommand } from './commands/echo.js';
import { identityCommand } from './commands/identity.js';
import { nodeCommand } from './commands/node.js';
import { relayCommand } from './commands/relay.js';
import { CliError, ExitCode } from './errors.js';

const program = new Command('pursuance')
  .description('Pursuance over Cwtch: task coordination for groups that cannot trust a server')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();
program.addCommand(identityCommand()).addCommand(nodeCommand()).addCommand(relayCommand()).addCommand(echoCommand()).addCommand(demoCommand());
// The network flags (`node start`, `echo`) come from tapir: loaded once one of those is chosen.
program.hook('preSubcommand', (_program, command) => addAcnOptions(command));

// Not a top-level await: the bundle everyone runs is a CommonJS script (apps/cli/bundle.mjs).
async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    } else if (err instanceof CliError) {
      process.stderr.write(`pursuance: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`pursuance: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = ExitCode.failure;
    }
  }
  // Every command closes what it opened, in order, before it returns; a stray handle (a socket's
  // linger timer, a peer's retry timer) must not keep a finished command alive after Ctrl-C.
  // stdout/stderr are synchronous for files, pipes and terminals on Linux: nothing written is lost.
  process.exit();
}

void main();

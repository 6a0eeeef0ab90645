import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { relayDaemonMain } from '../relay-daemon.js';

/**
 * `pursuance relay start …` runs the relay daemon (`pursuance-relay`) with the same arguments,
 * stdio and signals, so the daemon's options, help text and exit codes stay its own.
 */
export function relayCommand(): Command {
  const cmd = new Command('relay').description('run an untrusted relay (token service + message board)');
  cmd
    .command('start')
    .description('start a relay; `pursuance relay start --help` lists its options')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'passed to pursuance-relay')
    .action(async (args: string[]) => {
      const main = relayDaemonMain();
      const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals): void => {
        child.kill(signal);
      };
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1))));
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      process.exitCode = code;
    });
  return cmd;
}

import { Option, type Command } from 'commander';
import { AcnConfigError, DEFAULT_TOR_CONTROL, DEFAULT_TOR_SOCKS, acnFromConfig, type ACN, type AcnConfig } from '@pursuance/tapir';
import { CliError, ExitCode } from './errors.js';

/** The network flags every peer-facing command takes (the shared ACN configuration). */
export type AcnFlags = AcnConfig;

/** Adds the network flags shared by every command that talks to peers. */
export function withAcnOptions(command: Command): Command {
  return command
    .addOption(new Option('--tor', 'use a tor daemon instead of the loopback network'))
    .addOption(new Option('--tor-control <host:port>', 'tor control port').default(DEFAULT_TOR_CONTROL).env('PURSUANCE_TOR_CONTROL'))
    .addOption(new Option('--tor-socks <host:port>', 'tor SOCKS port').default(DEFAULT_TOR_SOCKS).env('PURSUANCE_TOR_SOCKS'))
    .addOption(new Option('--tor-cookie <path>', 'tor control auth cookie file (default: what tor announces)').env('PURSUANCE_TOR_COOKIE'))
    .addOption(new Option('--loopback-registry <dir>', 'directory shared by loopback peers on this machine').env('PURSUANCE_LOOPBACK_REGISTRY'));
}

/** The ACN the flags ask for; a malformed port is a usage error. */
export function makeAcn(flags: AcnFlags): ACN {
  try {
    return acnFromConfig(flags);
  } catch (err) {
    if (err instanceof AcnConfigError) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

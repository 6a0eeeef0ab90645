import { Option, type Command } from 'commander';
import { LoopbackACN, TorACN, type ACN } from '@pursuance/tapir';
import { CliError, ExitCode } from './errors.js';

export interface AcnFlags {
  readonly tor?: boolean;
  readonly torControl?: string;
  readonly torSocks?: string;
  readonly torCookie?: string;
  readonly loopbackRegistry?: string;
}

/** Adds the network flags shared by every command that talks to peers. */
export function withAcnOptions(command: Command): Command {
  return command
    .addOption(new Option('--tor', 'use a tor daemon instead of the loopback network'))
    .addOption(new Option('--tor-control <host:port>', 'tor control port').default('127.0.0.1:9051').env('PURSUANCE_TOR_CONTROL'))
    .addOption(new Option('--tor-socks <host:port>', 'tor SOCKS port').default('127.0.0.1:9050').env('PURSUANCE_TOR_SOCKS'))
    .addOption(new Option('--tor-cookie <path>', 'tor control auth cookie file (default: what tor announces)').env('PURSUANCE_TOR_COOKIE'))
    .addOption(
      new Option('--loopback-registry <dir>', 'directory shared by loopback peers on this machine').env('PURSUANCE_LOOPBACK_REGISTRY'),
    );
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^([^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new CliError(`${flag} must be host:port, got ${value}`, ExitCode.usage);
  return { host: match[1]!, port };
}

export function makeAcn(flags: AcnFlags): ACN {
  if (!flags.tor) return new LoopbackACN(flags.loopbackRegistry !== undefined ? { registryDir: flags.loopbackRegistry } : {});
  const control = hostPort(flags.torControl ?? '127.0.0.1:9051', '--tor-control');
  const socks = hostPort(flags.torSocks ?? '127.0.0.1:9050', '--tor-socks');
  return new TorACN({
    controlHost: control.host,
    controlPort: control.port,
    socksHost: socks.host,
    socksPort: socks.port,
    ...(flags.torCookie !== undefined ? { cookieFile: flags.torCookie } : {}),
  });
}

import { LoopbackACN, TorACN, type ACN } from '@pursuance/tapir';
import { DaemonError, ExitCode } from './errors.js';

export interface AcnConfig {
  readonly tor: boolean;
  readonly torControl: string;
  readonly torSocks: string;
  readonly torCookie?: string | undefined;
  readonly loopbackRegistry?: string | undefined;
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^([^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new DaemonError(`${flag} must be host:port, got ${value}`, ExitCode.usage);
  return { host: match[1]!, port };
}

/** LoopbackACN unless `tor` is set, then a tor daemon's control and SOCKS ports (as the CLI does). */
export function makeAcn(config: AcnConfig): ACN {
  if (!config.tor) return new LoopbackACN(config.loopbackRegistry !== undefined ? { registryDir: config.loopbackRegistry } : {});
  const control = hostPort(config.torControl, '--tor-control');
  const socks = hostPort(config.torSocks, '--tor-socks');
  return new TorACN({
    controlHost: control.host,
    controlPort: control.port,
    socksHost: socks.host,
    socksPort: socks.port,
    ...(config.torCookie !== undefined ? { cookieFile: config.torCookie } : {}),
  });
}

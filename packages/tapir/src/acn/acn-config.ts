import { AcnConfigError } from '../errors.js';
import type { ACN } from './acn.js';
import { LoopbackACN } from './loopback-acn.js';
import { TorACN } from './tor-acn.js';

/** Where a tor daemon listens unless told otherwise (the system tor's defaults). */
export const DEFAULT_TOR_CONTROL = '127.0.0.1:9051';
export const DEFAULT_TOR_SOCKS = '127.0.0.1:9050';

/**
 * How a program reaches the network, as its user configures it (flags, env, a config file):
 * the loopback network for development, or a tor daemon's control and SOCKS ports. One shape
 * for every program, so the CLI and the relay daemon accept the same settings.
 */
export interface AcnConfig {
  readonly tor?: boolean | undefined;
  /** host:port of tor's control port (default DEFAULT_TOR_CONTROL). */
  readonly torControl?: string | undefined;
  /** host:port of tor's SOCKS port (default DEFAULT_TOR_SOCKS). */
  readonly torSocks?: string | undefined;
  /** The control port's auth cookie file (default: the one tor announces). */
  readonly torCookie?: string | undefined;
  /** Directory shared by loopback peers on this machine. */
  readonly loopbackRegistry?: string | undefined;
}

/** `host:port` with a port in 1…65535; `setting` names the flag or key in the error. */
export function parseHostPort(value: string, setting: string): { host: string; port: number } {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new AcnConfigError(`${setting} must be host:port, got ${JSON.stringify(value)}`);
  return { host: match[1]!, port };
}

/** The ACN a configuration asks for. Throws AcnConfigError (nothing is opened) on a bad setting. */
export function acnFromConfig(config: AcnConfig): ACN {
  if (config.tor !== true) return new LoopbackACN(config.loopbackRegistry !== undefined ? { registryDir: config.loopbackRegistry } : {});
  const control = parseHostPort(config.torControl ?? DEFAULT_TOR_CONTROL, '--tor-control');
  const socks = parseHostPort(config.torSocks ?? DEFAULT_TOR_SOCKS, '--tor-socks');
  return new TorACN({
    controlHost: control.host,
    controlPort: control.port,
    socksHost: socks.host,
    socksPort: socks.port,
    ...(config.torCookie !== undefined ? { cookieFile: config.torCookie } : {}),
  });
}

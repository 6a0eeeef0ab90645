import type { AcnConfig } from './acn-config.js';

/**
 * Every network setting a program accepts, once: its AcnConfig key, command-line flag,
 * environment variable and help text. The CLI and the relay daemon build their options from
 * this table (each with its own CLI library glue), and the relay's config file accepts the same
 * keys (AcnConfigFileSchema), so a setting cannot exist in one program and not the other.
 *
 * Nothing heavy is imported here (no zod): the CLI loads this module, as
 * @pursuance/tapir/acn-settings, to parse `node start` before the rest of tapir has loaded.
 */
export interface AcnSetting {
  readonly key: keyof AcnConfig;
  /** commander-style flag text: `--tor`, `--tor-control <host:port>`, `--bridge <line>`. */
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** switch: on/off; value: one string; list: repeatable flag (env: one value). */
  readonly kind: 'switch' | 'value' | 'list';
}

export const ACN_SETTINGS: readonly AcnSetting[] = [
  {
    key: 'tor',
    flag: '--tor',
    env: 'PURSUANCE_TOR',
    kind: 'switch',
    description: 'reach peers over Tor: starts a tor of our own unless --tor-control or --tor-preset names one you run',
  },
  {
    key: 'torPreset',
    flag: '--tor-preset <name>',
    env: 'PURSUANCE_TOR_PRESET',
    kind: 'value',
    description: "use a tor you already run: 'system' (Debian's tor, 9050/9051) or 'tor-browser' (9150/9151)",
  },
  { key: 'torControl', flag: '--tor-control <host:port>', env: 'PURSUANCE_TOR_CONTROL', kind: 'value', description: 'control port of a tor you run' },
  { key: 'torSocks', flag: '--tor-socks <host:port>', env: 'PURSUANCE_TOR_SOCKS', kind: 'value', description: 'SOCKS port of a tor you run (default 9050)' },
  {
    key: 'torCookie',
    flag: '--tor-cookie <path>',
    env: 'PURSUANCE_TOR_COOKIE',
    kind: 'value',
    description: 'control cookie file of a tor you run (default: the one it announces)',
  },
  {
    key: 'torDataDir',
    flag: '--tor-data-dir <dir>',
    env: 'PURSUANCE_TOR_DATA_DIR',
    kind: 'value',
    description: "our own tor's DataDirectory (default: <data dir>/tor)",
  },
  { key: 'torBinary', flag: '--tor-binary <path>', env: 'PURSUANCE_TOR_BINARY', kind: 'value', description: 'tor program to start (default: tor on PATH)' },
  { key: 'torrcLines', flag: '--torrc-line <line>', env: 'PURSUANCE_TORRC_LINE', kind: 'list', description: 'extra torrc line for our own tor (repeatable)' },
  { key: 'torrcFile', flag: '--torrc-file <file>', env: 'PURSUANCE_TORRC_FILE', kind: 'value', description: 'file of extra torrc lines for our own tor' },
  {
    key: 'bridges',
    flag: '--bridge <line>',
    env: 'PURSUANCE_TOR_BRIDGE',
    kind: 'list',
    description: 'reach Tor only through this bridge (repeatable; e.g. "obfs4 1.2.3.4:443 FINGERPRINT cert=… iat-mode=0")',
  },
  {
    key: 'transportPlugin',
    flag: '--tor-transport-plugin <plugin>',
    env: 'PURSUANCE_TOR_TRANSPORT_PLUGIN',
    kind: 'value',
    description: 'pluggable transport for the bridges (path or name on PATH; default: lyrebird or obfs4proxy if installed)',
  },
  {
    key: 'loopbackRegistry',
    flag: '--loopback-registry <dir>',
    env: 'PURSUANCE_LOOPBACK_REGISTRY',
    kind: 'value',
    description: 'directory shared by loopback peers on this machine (without --tor)',
  },
];

/** The camelCase name CLI libraries give a flag's value: `--tor-data-dir <dir>` → `torDataDir`. */
export function flagAttribute(flag: string): string {
  const long = flag.split(' ')[0]!.replace(/^--/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The network settings among a program's parsed flags (named after the flags, see
 * flagAttribute), as an AcnConfig. Absent flags stay absent, so a config file can fill them.
 */
export function acnConfigFromFlags(values: Readonly<Record<string, unknown>>): AcnConfig {
  const config: Record<string, unknown> = {};
  for (const setting of ACN_SETTINGS) {
    const attribute = flagAttribute(setting.flag);
    if (Object.hasOwn(values, attribute) && values[attribute] !== undefined) config[setting.key] = values[attribute];
  }
  return config;
}

/**
 * The control password of a tor you run is a secret: never a flag (command lines are visible to
 * other users), only this environment variable, a file, or a config file's `torControlPassword`.
 */
export const TOR_CONTROL_PASSWORD_ENV = 'PURSUANCE_TOR_CONTROL_PASSWORD';
export const TOR_CONTROL_PASSWORD_FILE_FLAG = '--tor-control-password-file <file>';

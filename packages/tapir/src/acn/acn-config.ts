import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AcnConfigError, TorConfigError } from '../errors.js';
import type { ACN } from './acn.js';
import { LoopbackACN } from './loopback-acn.js';
import { launchTor, type TorBootstrapProgress } from './managed-tor.js';
import { ManagedTorACN, type RelaunchEvent } from './managed-tor-acn.js';
import { TorACN, type TorACNOptions } from './tor-acn.js';
import { parseBridgeLine, parseTorrcLine, parseTorrcText, parseTransportPlugin } from './torrc.js';

/** Where a tor daemon listens unless told otherwise (the system tor's defaults). */
export const DEFAULT_TOR_CONTROL = '127.0.0.1:9051';
export const DEFAULT_TOR_SOCKS = '127.0.0.1:9050';

export type TorPresetName = 'system' | 'tor-browser';

export interface TorPreset {
  readonly control: string;
  readonly socks: string;
  /** undefined: the cookie file tor announces (SAFECOOKIE). */
  readonly cookie: string | undefined;
}

/**
 * Ports of the tors users already run. Debian's system tor (tor.service) has no ControlPort
 * until `ControlPort 9051` is added to /etc/tor/torrc; its cookie is readable by the
 * debian-tor group. Tor Browser listens on 9150/9151 while it runs.
 */
export function torPreset(name: TorPresetName): TorPreset {
  switch (name) {
    case 'system':
      return { control: DEFAULT_TOR_CONTROL, socks: DEFAULT_TOR_SOCKS, cookie: '/run/tor/control.authcookie' };
    case 'tor-browser':
      return { control: '127.0.0.1:9151', socks: '127.0.0.1:9150', cookie: undefined };
  }
}

/**
 * How a program reaches the network, as its user configures it (flags, env, a config file):
 * the loopback network for development, or tor. With tor, a control address (`torControl`) or a
 * preset means an EXTERNAL tor the user runs; without either, openAcn() launches a MANAGED tor
 * of our own (`torDataDir`, bridges, extra torrc lines). One shape for every program, so the
 * CLI, the node and the relay daemon accept the same settings. Error messages name settings by
 * their flag (`--tor-control` …) and never quote a password or a bridge line.
 */
export interface AcnConfig {
  readonly tor?: boolean | undefined;
  /** host:port of an external tor's control port (default: the preset's, else DEFAULT_TOR_CONTROL). */
  readonly torControl?: string | undefined;
  /** host:port of an external tor's SOCKS port (default: the preset's, else DEFAULT_TOR_SOCKS). */
  readonly torSocks?: string | undefined;
  /** An external tor's control-port cookie file (default: the preset's, else the one tor announces). */
  readonly torCookie?: string | undefined;
  /** An external tor's control password (HashedControlPassword). Never logged. */
  readonly torControlPassword?: string | undefined;
  /** Ports (and cookie) of a tor the user already runs: Debian's system tor or Tor Browser. */
  readonly torPreset?: TorPresetName | undefined;
  /** Managed tor: its DataDirectory (apps default it to `<data dir>/tor`). */
  readonly torDataDir?: string | undefined;
  /** Managed tor: the tor binary (name on PATH or path; default `tor`). */
  readonly torBinary?: string | undefined;
  /** Managed tor: extra torrc lines (e.g. to join a private network). */
  readonly torrcLines?: readonly string[] | undefined;
  /** Managed tor: a file of extra torrc lines (blank lines and # comments skipped). */
  readonly torrcFile?: string | undefined;
  /** Managed tor: bridge lines; with any, tor reaches the network only through them. */
  readonly bridges?: readonly string[] | undefined;
  /** Managed tor: the pluggable-transport client (path or name, or `obfs4 exec /path`). */
  readonly transportPlugin?: string | undefined;
  /** Directory shared by loopback peers on this machine. */
  readonly loopbackRegistry?: string | undefined;
}

/** What the program using the configuration supplies itself. */
export interface PlanDefaults {
  /** The program's own data dir: a managed tor without --tor-data-dir keeps its state in `<programDataDir>/tor`. */
  readonly programDataDir?: string | undefined;
}

/** What a configuration asks for, fully validated, before anything is opened or started. */
export type AcnPlan =
  | { readonly kind: 'loopback'; readonly registryDir: string | undefined }
  | { readonly kind: 'external'; readonly options: TorACNOptions }
  | { readonly kind: 'managed'; readonly launch: ManagedTorPlan };

export interface ManagedTorPlan {
  readonly dataDir: string;
  readonly torBinary: string | undefined;
  readonly bridges: readonly string[];
  readonly transportPlugin: string | undefined;
  readonly torrcLines: readonly string[];
  /** Read by openAcn (its lines go before torrcLines). */
  readonly torrcFile: string | undefined;
}

/** `host:port` with a port in 1…65535; `setting` names the flag or key in the error. */
export function parseHostPort(value: string, setting: string): { host: string; port: number } {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new AcnConfigError(`${setting} must be host:port, got ${JSON.stringify(value)}`);
  return { host: match[1]!, port };
}

const TOR_PRESET_NAMES: readonly string[] = ['system', 'tor-browser'];

function optionalString(value: unknown, setting: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new AcnConfigError(`${setting} must be a non-empty string`);
  if (/[\0\r\n]/.test(value)) throw new AcnConfigError(`${setting} must not contain line breaks or NUL`);
  return value;
}

function stringList(value: unknown, setting: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new AcnConfigError(`${setting} must be a list of strings`);
  return value;
}

/** A torrc parser's TorConfigError, re-raised as a setting error of this configuration. */
function asConfigError<T>(setting: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TorConfigError) throw new AcnConfigError(`${setting}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The first managed-only setting present (as its flag), if any. null counts as absent. */
function hasManagedSettings(config: AcnConfig): string | undefined {
  const given = (value: unknown): boolean => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
  if (given(config.torDataDir)) return '--tor-data-dir';
  if (given(config.torBinary)) return '--tor-binary';
  if (given(config.torrcLines)) return '--torrc-line';
  if (given(config.torrcFile)) return '--torrc-file';
  if (given(config.bridges)) return '--bridge';
  if (given(config.transportPlugin)) return '--tor-transport-plugin';
  return undefined;
}

/**
 * Validate a configuration and say what it asks for; throws AcnConfigError on any bad or
 * contradictory setting (a managed-only setting with an external tor, say). Pure and sync.
 */
export function planAcn(config: AcnConfig, defaults: PlanDefaults = {}): AcnPlan {
  if (config.tor !== true) return { kind: 'loopback', registryDir: config.loopbackRegistry };

  const presetName = config.torPreset;
  if (presetName !== undefined && (typeof presetName !== 'string' || !TOR_PRESET_NAMES.includes(presetName))) {
    throw new AcnConfigError(`--tor-preset must be one of ${TOR_PRESET_NAMES.join(', ')}`);
  }
  const torControl = optionalString(config.torControl, '--tor-control');
  const torSocks = optionalString(config.torSocks, '--tor-socks');
  // Malformed addresses are reported as such, before any question of which tor they are for.
  if (torControl !== undefined) parseHostPort(torControl, '--tor-control');
  if (torSocks !== undefined) parseHostPort(torSocks, '--tor-socks');
  const torCookie = optionalString(config.torCookie, '--tor-cookie');
  if (config.torControlPassword !== undefined && (typeof config.torControlPassword !== 'string' || config.torControlPassword.length === 0)) {
    throw new AcnConfigError('--tor-control-password must be a non-empty string');
  }
  const password = config.torControlPassword;

  if (torControl !== undefined || presetName !== undefined) {
    const managedOnly = hasManagedSettings(config);
    if (managedOnly !== undefined) {
      throw new AcnConfigError(
        `${managedOnly} applies to a tor we start ourselves; it cannot be combined with --tor-control or --tor-preset (an external tor)`,
      );
    }
    const preset = presetName === undefined ? undefined : torPreset(presetName);
    const control = parseHostPort(torControl ?? preset?.control ?? DEFAULT_TOR_CONTROL, '--tor-control');
    const socks = parseHostPort(torSocks ?? preset?.socks ?? DEFAULT_TOR_SOCKS, '--tor-socks');
    const cookieFile = torCookie ?? preset?.cookie;
    return {
      kind: 'external',
      options: {
        controlHost: control.host,
        controlPort: control.port,
        socksHost: socks.host,
        socksPort: socks.port,
        ...(cookieFile !== undefined ? { cookieFile } : {}),
        ...(password !== undefined ? { password } : {}),
      },
    };
  }

  // Managed: we pick the ports and the credentials.
  for (const [value, flag] of [
    [torSocks, '--tor-socks'],
    [torCookie, '--tor-cookie'],
    [password, '--tor-control-password'],
  ] as const) {
    if (value !== undefined)
      throw new AcnConfigError(`${flag} applies to an external tor; give --tor-control (or --tor-preset) too, or drop it to let us start tor`);
  }
  const dataDir =
    optionalString(config.torDataDir, '--tor-data-dir') ?? (defaults.programDataDir !== undefined ? join(defaults.programDataDir, 'tor') : undefined);
  if (dataDir === undefined) throw new AcnConfigError('--tor-data-dir is needed to start a managed tor');
  const torBinary = optionalString(config.torBinary, '--tor-binary');
  const torrcFile = optionalString(config.torrcFile, '--torrc-file');
  const bridges = stringList(config.bridges, '--bridge');
  bridges.forEach((line, i) => asConfigError('--bridge', () => parseBridgeLine(line, `bridge ${i + 1}`)));
  const torrcLines = stringList(config.torrcLines, '--torrc-line');
  torrcLines.forEach((line, i) => asConfigError('--torrc-line', () => parseTorrcLine(line, `line ${i + 1}`)));
  const transportPlugin = optionalString(config.transportPlugin, '--tor-transport-plugin');
  // A bare program name is looked up on PATH at launch; anything else must parse now.
  if (transportPlugin !== undefined && !/^[^\s/]+$/.test(transportPlugin.trim())) {
    asConfigError('--tor-transport-plugin', () => parseTransportPlugin(transportPlugin));
  }
  return {
    kind: 'managed',
    launch: { dataDir: resolve(dataDir), torBinary, bridges, transportPlugin, torrcLines, torrcFile: torrcFile === undefined ? undefined : resolve(torrcFile) },
  };
}

/**
 * The ACN a configuration asks for, for the cases that open nothing up front: loopback or an
 * external tor. Throws AcnConfigError on a bad setting, and for a managed tor (which has to be
 * started and awaited: use openAcn).
 */
export function acnFromConfig(config: AcnConfig): ACN {
  const plan = planAcn(config);
  if (plan.kind === 'managed') throw new AcnConfigError('tor without --tor-control or --tor-preset starts a managed tor, which needs openAcn()');
  return openPlanned(plan);
}

/** The ACN of a plan that starts nothing: the loopback network or an external tor. */
function openPlanned(plan: Exclude<AcnPlan, { kind: 'managed' }>, torAcn: Partial<TorACNOptions> = {}): ACN {
  return plan.kind === 'loopback'
    ? new LoopbackACN(plan.registryDir !== undefined ? { registryDir: plan.registryDir } : {})
    : new TorACN({ ...plan.options, ...torAcn });
}

export interface OpenAcnOptions {
  /** Managed tor: told each bootstrap change (progress never decreases). */
  readonly onProgress?: ((progress: TorBootstrapProgress) => void) | undefined;
  /** Managed tor: aborting stops the launch (and tor) with TorAbortedError. */
  readonly signal?: AbortSignal | undefined;
  /** Managed tor: longest wait for bootstrap (default 300 s). */
  readonly bootstrapTimeoutMs?: number | undefined;
  /** Extra TorACN options (timeouts, retry hooks) for both tor kinds. */
  readonly torAcn?: Partial<TorACNOptions> | undefined;
  /** The program's own data dir (see PlanDefaults). */
  readonly programDataDir?: string | undefined;
  /** Managed tor: told when tor died and when it was relaunched (for the program's log). */
  readonly onRelaunch?: ((event: RelaunchEvent) => void) | undefined;
}

const MAX_TORRC_FILE_BYTES = 64 * 1024;

/** The lines of a `--torrc-file`: a regular file of at most 64 KiB of UTF-8. */
export async function readTorrcFile(path: string): Promise<string[]> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new AcnConfigError(`--torrc-file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new AcnConfigError('--torrc-file is not a regular file');
    if (info.size > MAX_TORRC_FILE_BYTES) throw new AcnConfigError(`--torrc-file is larger than ${MAX_TORRC_FILE_BYTES} bytes`);
    const bytes = await handle.readFile();
    if (bytes.length > MAX_TORRC_FILE_BYTES) throw new AcnConfigError(`--torrc-file is larger than ${MAX_TORRC_FILE_BYTES} bytes`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      throw new AcnConfigError('--torrc-file is not UTF-8 text', { cause: err });
    }
    return asConfigError('--torrc-file', () => parseTorrcText(text, 'file')).map((l) => (l.value === '' ? l.keyword : `${l.keyword} ${l.value}`));
  } finally {
    await handle.close();
  }
}

/**
 * Open the ACN a configuration asks for: the loopback network, a TorACN on an external tor
 * (password passed through), or a managed tor, launched and bootstrapped, with a TorACN on it
 * whose close() also stops it (ManagedTorACN). Settings are checked before anything starts
 * (AcnConfigError); a managed launch can also fail with TorNotFoundError, TorLaunchError,
 * TorBootstrapTimeoutError or TorAbortedError, and then leaves no tor running.
 */
export async function openAcn(config: AcnConfig, options: OpenAcnOptions = {}): Promise<ACN> {
  const plan = planAcn(config, { programDataDir: options.programDataDir });
  if (plan.kind !== 'managed') return openPlanned(plan, options.torAcn);
  const fromFile = plan.launch.torrcFile === undefined ? [] : await readTorrcFile(plan.launch.torrcFile);
  try {
    const tor = await launchTor({
      dataDir: plan.launch.dataDir,
      torBinary: plan.launch.torBinary,
      bridges: plan.launch.bridges,
      transportPlugin: plan.launch.transportPlugin,
      torrcLines: [...fromFile, ...plan.launch.torrcLines],
      onProgress: options.onProgress,
      signal: options.signal,
      bootstrapTimeoutMs: options.bootstrapTimeoutMs,
    });
    return new ManagedTorACN(tor, options.torAcn, options.onRelaunch !== undefined ? { onRelaunch: options.onRelaunch } : {});
  } catch (err) {
    if (err instanceof TorConfigError) throw new AcnConfigError(err.message, { cause: err });
    throw err;
  }
}

import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_BUCKET_SECONDS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_RENEWAL_BITS, MAX_BUCKET_SECONDS, MIN_BUCKET_SECONDS } from '@pursuance/relay';
import {
  ACN_SETTINGS,
  AcnConfigFileSchema,
  DEFAULT_ADMISSION_BITS,
  DEFAULT_ADMISSION_MAX_BITS,
  DEFAULT_ADMISSION_THRESHOLD,
  DEFAULT_POW_DIFFICULTY,
  MAX_POW_DIFFICULTY,
  TOR_CONTROL_PASSWORD_ENV,
  TOR_CONTROL_PASSWORD_FILE_FLAG,
  acnConfigFromFlags,
  flagAttribute,
  type AcnConfig,
} from '@pursuance/tapir';
import { z } from 'zod';
import { DaemonError, ExitCode } from './errors.js';
import type { LogLevel } from './logger.js';
import { SQLITE_STORE, StoreUrlError, parseStoreChoice, type StoreChoice } from './store/store-url.js';

/**
 * The daemon's settings. Each comes from (highest first) a command-line flag, its environment
 * variable, the JSON config file (`--config`), or the default. The password is deliberately
 * not a setting: it comes from `--password-file` or PURSUANCE_RELAY_PASSWORD only.
 */
export interface RelayConfig {
  readonly dataDir: string;
  /** Where messages and spent tokens live: SQLite in the data dir (default) or a PostgreSQL database. */
  readonly store: StoreChoice;
  readonly passwordFile: string | undefined;
  readonly powDifficulty: number;
  /** 0 = unlimited. */
  readonly maxStorageMb: number;
  /** Messages stored longer ago than this are pruned; 0 = kept until the cap. */
  readonly retentionDays: number;
  /** The fetch bucket length, signed into the key bundle (members fetch whole buckets). */
  readonly bucketSeconds: number;
  readonly metrics: boolean;
  /** 0 = any free port (printed on start). */
  readonly metricsPort: number;
  readonly maxConnections: number;
  readonly maxPendingHandshakes: number;
  readonly handshakeTimeoutMs: number;
  /** A board session that sends no request for this long is closed; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Connections in setup (per service) from which proof of work is demanded before any handshake work. */
  readonly handshakePowThreshold: number;
  /** Bits demanded at the threshold, +1 per doubling of the load above it; 0 = never demand. */
  readonly handshakePowBits: number;
  /** Cap on the bits demanded however high the load. */
  readonly handshakePowMaxBits: number;
  /** Bits of proof of work a board session pays per renewal (pings do not renew); 0 = free renewals. */
  readonly renewalPowBits: number;
  readonly logLevel: LogLevel;
  /** The network: loopback, a tor the operator runs, or one we start (tapir's shared settings). */
  readonly acn: AcnConfig;
  /** --tor-control-password-file: read at start, never a flag value. */
  readonly torControlPasswordFile: string | undefined;
}

export const DEFAULTS = {
  dataDir: '.data/relay',
  powDifficulty: DEFAULT_POW_DIFFICULTY,
  // 256,000 messages: weeks of an honest group's traffic, about 1.2 GB of SQLite file, and a full
  // replay of a few minutes for a joining member; a flood at the default proof of work reaches
  // it in hours and from then on only churns the oldest messages.
  maxStorageMb: 1024,
  // A relay forwards; it is not an archive. Members offline longer catch up from each other.
  retentionDays: 30,
  bucketSeconds: DEFAULT_BUCKET_SECONDS,
  metrics: true,
  metricsPort: 9464,
  maxConnections: 512,
  maxPendingHandshakes: 64,
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  // A quarter of the pending-handshake limit: a busy relay asks work well before it has to evict.
  handshakePowThreshold: DEFAULT_ADMISSION_THRESHOLD,
  // 12 bits (~5 ms of JavaScript) at the threshold, ~14 at a full pool: an honest dial pays it
  // once per connection, a flood pays it for every connection it wants admitted.
  handshakePowBits: DEFAULT_ADMISSION_BITS,
  handshakePowMaxBits: DEFAULT_ADMISSION_MAX_BITS,
  renewalPowBits: DEFAULT_RENEWAL_BITS,
  logLevel: 'info' as LogLevel,
} as const;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const RANGES = {
  powDifficulty: [0, MAX_POW_DIFFICULTY],
  maxStorageMb: [0, 1_000_000],
  retentionDays: [0, 36_500],
  bucketSeconds: [MIN_BUCKET_SECONDS, MAX_BUCKET_SECONDS],
  metricsPort: [0, 65535],
  maxConnections: [1, 100_000],
  maxPendingHandshakes: [1, 100_000],
  handshakeTimeoutMs: [100, 600_000],
  idleTimeoutMs: [0, 86_400_000],
  handshakePowThreshold: [1, 100_000],
  handshakePowBits: [0, MAX_POW_DIFFICULTY],
  handshakePowMaxBits: [0, MAX_POW_DIFFICULTY],
  renewalPowBits: [0, MAX_POW_DIFFICULTY],
} as const;

/** The config file: a JSON object with any of these keys (unknown keys are an error). */
export const ConfigFileSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  powDifficulty: int(...RANGES.powDifficulty).optional(),
  maxStorageMb: int(...RANGES.maxStorageMb).optional(),
  retentionDays: int(...RANGES.retentionDays).optional(),
  bucketSeconds: int(...RANGES.bucketSeconds).optional(),
  metrics: z.boolean().optional(),
  metricsPort: int(...RANGES.metricsPort).optional(),
  maxConnections: int(...RANGES.maxConnections).optional(),
  maxPendingHandshakes: int(...RANGES.maxPendingHandshakes).optional(),
  handshakeTimeoutMs: int(...RANGES.handshakeTimeoutMs).optional(),
  idleTimeoutMs: int(...RANGES.idleTimeoutMs).optional(),
  handshakePowThreshold: int(...RANGES.handshakePowThreshold).optional(),
  handshakePowBits: int(...RANGES.handshakePowBits).optional(),
  handshakePowMaxBits: int(...RANGES.handshakePowMaxBits).optional(),
  renewalPowBits: int(...RANGES.renewalPowBits).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  torControlPasswordFile: z.string().min(1).optional(),
  // The network keys every program shares (tor, torControl, bridges, …; see tapir's ACN_SETTINGS).
  ...AcnConfigFileSchema.shape,
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

function integer(name: keyof typeof RANGES) {
  const [min, max] = RANGES[name];
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    }
    return n;
  };
}

/** The shared network flags (tapir's ACN_SETTINGS), as commander options. */
function withNetworkOptions(command: Command): Command {
  for (const setting of ACN_SETTINGS) {
    const option = new Option(setting.flag, setting.description).env(setting.env);
    if (setting.kind === 'list') option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    command.addOption(option);
  }
  return command.addOption(
    new Option(TOR_CONTROL_PASSWORD_FILE_FLAG, `control password of a tor you run, from a file (or ${TOR_CONTROL_PASSWORD_ENV})`).env(
      'PURSUANCE_TOR_CONTROL_PASSWORD_FILE',
    ),
  );
}

/** The commander definition of `pursuance-relay` (flags, env vars, help text). */
export function relayProgram(): Command {
  return withNetworkOptions(new Command('pursuance-relay'))
    .description(
      'Untrusted Cwtch-style relay: a token service (proof of work → blinded Privacy Pass tokens) and a message board ' +
        '(store-and-forward of fixed-size group ciphertexts), on two onion services. Prints its key bundle on start.',
    )
    .version('0.1.0')
    .addOption(new Option('--data-dir <dir>', 'relay keys and database').env('PURSUANCE_RELAY_DATA_DIR').default(DEFAULTS.dataDir))
    .addOption(
      new Option('--store <url>', 'where messages and spent tokens live: "sqlite" (in the data dir; the default) or postgres://user@host:port/database').env(
        'PURSUANCE_RELAY_STORE',
      ),
    )
    .addOption(new Option('--config <file>', 'JSON config file (flags and env vars override it)').env('PURSUANCE_RELAY_CONFIG'))
    .addOption(
      new Option('--password-file <file>', 'file holding the password that seals the relay keys (else PURSUANCE_RELAY_PASSWORD)').env(
        'PURSUANCE_RELAY_PASSWORD_FILE',
      ),
    )
    .addOption(
      new Option('--pow-difficulty <bits>', 'proof-of-work bits per token batch')
        .env('PURSUANCE_RELAY_POW_DIFFICULTY')
        .default(DEFAULTS.powDifficulty)
        .argParser(integer('powDifficulty')),
    )
    .addOption(
      new Option('--max-storage-mb <mb>', 'storage cap (250 messages per MB; oldest pruned first); 0 = unlimited')
        .env('PURSUANCE_RELAY_MAX_STORAGE_MB')
        .default(DEFAULTS.maxStorageMb)
        .argParser(integer('maxStorageMb')),
    )
    .addOption(
      new Option('--retention-days <days>', 'prune messages stored longer ago than this (oldest first); 0 = keep until the cap')
        .env('PURSUANCE_RELAY_RETENTION_DAYS')
        .default(DEFAULTS.retentionDays)
        .argParser(integer('retentionDays')),
    )
    .addOption(
      new Option(
        '--bucket-seconds <seconds>',
        'fetch bucket length, signed into the key bundle: members back after a while download whole buckets (longer = less a member reveals, more it downloads); changing it changes the bundle',
      )
        .env('PURSUANCE_RELAY_BUCKET_SECONDS')
        .default(DEFAULTS.bucketSeconds)
        .argParser(integer('bucketSeconds')),
    )
    .addOption(
      new Option('--metrics-port <port>', 'Prometheus metrics on 127.0.0.1:<port>/metrics; 0 = any free port')
        .env('PURSUANCE_RELAY_METRICS_PORT')
        .default(DEFAULTS.metricsPort)
        .argParser(integer('metricsPort')),
    )
    .addOption(new Option('--no-metrics', 'do not serve metrics'))
    .addOption(
      new Option('--max-connections <n>', 'open connections per service')
        .env('PURSUANCE_RELAY_MAX_CONNECTIONS')
        .default(DEFAULTS.maxConnections)
        .argParser(integer('maxConnections')),
    )
    .addOption(
      new Option('--max-pending-handshakes <n>', 'connections still in handshake per service (bounds half-open floods)')
        .env('PURSUANCE_RELAY_MAX_PENDING_HANDSHAKES')
        .default(DEFAULTS.maxPendingHandshakes)
        .argParser(integer('maxPendingHandshakes')),
    )
    .addOption(
      new Option('--handshake-timeout-ms <ms>', 'time a connection gets to finish auth / proof of work')
        .env('PURSUANCE_RELAY_HANDSHAKE_TIMEOUT_MS')
        .default(DEFAULTS.handshakeTimeoutMs)
        .argParser(integer('handshakeTimeoutMs')),
    )
    .addOption(
      new Option('--idle-timeout-ms <ms>', 'close a board session that sends no request (post, sync, ping) for this long; 0 = never')
        .env('PURSUANCE_RELAY_IDLE_TIMEOUT_MS')
        .default(DEFAULTS.idleTimeoutMs)
        .argParser(integer('idleTimeoutMs')),
    )
    .addOption(
      new Option('--handshake-pow-threshold <n>', 'connections in setup (per service) from which proof of work is demanded before any handshake work')
        .env('PURSUANCE_RELAY_HANDSHAKE_POW_THRESHOLD')
        .default(DEFAULTS.handshakePowThreshold)
        .argParser(integer('handshakePowThreshold')),
    )
    .addOption(
      new Option('--handshake-pow-bits <bits>', 'handshake proof of work at the threshold, +1 bit per doubling of the load; 0 = never')
        .env('PURSUANCE_RELAY_HANDSHAKE_POW_BITS')
        .default(DEFAULTS.handshakePowBits)
        .argParser(integer('handshakePowBits')),
    )
    .addOption(
      new Option('--handshake-pow-max-bits <bits>', 'cap on the handshake proof of work (at least --handshake-pow-bits)')
        .env('PURSUANCE_RELAY_HANDSHAKE_POW_MAX_BITS')
        .default(DEFAULTS.handshakePowMaxBits)
        .argParser(integer('handshakePowMaxBits')),
    )
    .addOption(
      new Option('--renewal-pow-bits <bits>', 'proof of work a board session pays to renew against the idle timeout; 0 = free')
        .env('PURSUANCE_RELAY_RENEWAL_POW_BITS')
        .default(DEFAULTS.renewalPowBits)
        .argParser(integer('renewalPowBits')),
    )
    .addOption(new Option('--log-level <level>', 'JSON log level on stderr').choices(LOG_LEVELS).env('PURSUANCE_RELAY_LOG_LEVEL').default(DEFAULTS.logLevel))
    .addHelpText(
      'after',
      `
Password: the relay's keys are sealed at rest (scrypt + secretbox) under a password read from
--password-file or PURSUANCE_RELAY_PASSWORD (at least 8 characters when the keys are created).

Exit codes: 0 ok, 1 failure, 2 usage/config, 3 wrong password, 4 network, 5 storage, 6 data dir or database in use.`,
    );
}

export type ValueSource = string | undefined;

/**
 * Merge parsed flags with the config file: a value from the command line or environment wins;
 * a default is replaced by the file's value when the file has one.
 */
export function resolveConfig(opts: Record<string, unknown>, sourceOf: (key: string) => ValueSource, file: ConfigFile = {}): RelayConfig {
  const pick = <K extends keyof ConfigFile & keyof RelayConfig>(key: K, fallback: RelayConfig[K]): RelayConfig[K] => {
    const source = sourceOf(key);
    const fromFlags = opts[key] as RelayConfig[K] | undefined;
    if ((source === 'cli' || source === 'env') && fromFlags !== undefined) return fromFlags;
    const fromFile = file[key] as RelayConfig[K] | undefined;
    if (fromFile !== undefined) return fromFile;
    return fromFlags ?? fallback;
  };
  return {
    dataDir: pick('dataDir', DEFAULTS.dataDir),
    store: resolveStore(opts, sourceOf, file),
    passwordFile: pick('passwordFile', undefined),
    powDifficulty: pick('powDifficulty', DEFAULTS.powDifficulty),
    maxStorageMb: pick('maxStorageMb', DEFAULTS.maxStorageMb),
    retentionDays: pick('retentionDays', DEFAULTS.retentionDays),
    bucketSeconds: pick('bucketSeconds', DEFAULTS.bucketSeconds),
    metrics: pick('metrics', DEFAULTS.metrics),
    metricsPort: pick('metricsPort', DEFAULTS.metricsPort),
    maxConnections: pick('maxConnections', DEFAULTS.maxConnections),
    maxPendingHandshakes: pick('maxPendingHandshakes', DEFAULTS.maxPendingHandshakes),
    handshakeTimeoutMs: pick('handshakeTimeoutMs', DEFAULTS.handshakeTimeoutMs),
    idleTimeoutMs: pick('idleTimeoutMs', DEFAULTS.idleTimeoutMs),
    ...handshakePow(pick),
    renewalPowBits: pick('renewalPowBits', DEFAULTS.renewalPowBits),
    logLevel: pick('logLevel', DEFAULTS.logLevel),
    torControlPasswordFile: pick('torControlPasswordFile', undefined),
    acn: resolveNetwork(opts, sourceOf, file),
  };
}

/**
 * --store, PURSUANCE_RELAY_STORE or the file's `store`. Checked here rather than by commander,
 * whose messages repeat the value as given, password included.
 */
function resolveStore(opts: Record<string, unknown>, sourceOf: (key: string) => ValueSource, file: ConfigFile): StoreChoice {
  const source = sourceOf('store');
  const value = (source === 'cli' || source === 'env') && typeof opts.store === 'string' ? opts.store : file.store;
  if (value === undefined) return SQLITE_STORE;
  try {
    return parseStoreChoice(value);
  } catch (cause) {
    if (cause instanceof StoreUrlError) throw new DaemonError(cause.message, ExitCode.usage, { cause });
    throw cause;
  }
}

/** The handshake proof-of-work settings; a cap below the base is a usage error (exit 2). */
function handshakePow(
  pick: <K extends keyof ConfigFile & keyof RelayConfig>(key: K, fallback: RelayConfig[K]) => RelayConfig[K],
): Pick<RelayConfig, 'handshakePowThreshold' | 'handshakePowBits' | 'handshakePowMaxBits'> {
  const handshakePowBits = pick('handshakePowBits', DEFAULTS.handshakePowBits);
  const handshakePowMaxBits = pick('handshakePowMaxBits', DEFAULTS.handshakePowMaxBits);
  if (handshakePowMaxBits < handshakePowBits) {
    throw new DaemonError(`--handshake-pow-max-bits (${handshakePowMaxBits}) is below --handshake-pow-bits (${handshakePowBits})`, ExitCode.usage);
  }
  return { handshakePowThreshold: pick('handshakePowThreshold', DEFAULTS.handshakePowThreshold), handshakePowBits, handshakePowMaxBits };
}

/**
 * The network settings: each from its flag or environment variable, else the config file. A
 * managed tor keeps its state in `<data dir>/tor` unless told otherwise.
 */
function resolveNetwork(opts: Record<string, unknown>, sourceOf: (key: string) => ValueSource, file: ConfigFile): AcnConfig {
  const fromFlags = acnConfigFromFlags(opts);
  const merged: Record<string, unknown> = {};
  for (const setting of ACN_SETTINGS) {
    const attribute = flagAttribute(setting.flag);
    const flagged = sourceOf(attribute) === 'cli' || sourceOf(attribute) === 'env';
    const value = flagged ? fromFlags[setting.key] : (file[setting.key] ?? fromFlags[setting.key]);
    if (value !== undefined) merged[setting.key] = value;
  }
  if (file.torControlPassword !== undefined) merged.torControlPassword = file.torControlPassword;
  return merged;
}

export async function readConfigFile(path: string): Promise<ConfigFile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new DaemonError(`cannot read config file ${path}: ${(cause as Error).message}`, ExitCode.usage, { cause });
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DaemonError(`config file ${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`, ExitCode.usage);
  }
  return parsed.data;
}

/**
 * The torrc of a tor that tapir launches and owns ("managed tor"), generated from options, and
 * strict parsers for everything a user may add to it: extra torrc lines, bridge lines and the
 * pluggable-transport plugin. Pure: no I/O, so the injection guarantees are property-tested.
 *
 * The threat is a value that smuggles in a directive nobody asked for. tor's torrc parser
 * (torrc_format.txt) ends a directive at a newline, joins a line ending in a backslash with the
 * next one, starts a comment at '#', reads C escapes inside a value that starts with '"',
 * expands `%include`, accepts `+Key`/`/Key` forms and resolves unique prefixes of option names
 * ("ControlP" is ControlPort). So: no control characters at all, no trailing backslash,
 * keywords limited to letters and digits, quoted values without escapes, and no keyword that is
 * (a prefix of) an option this module owns. Every accepted line is re-emitted in a canonical
 * `Keyword value` form, so what tor reads is what was validated.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { TorConfigError } from '../errors.js';

/** Every port of a managed tor listens here only. */
export const MANAGED_TOR_HOST = '127.0.0.1';

const MAX_LINE_LENGTH = 4096;
const MAX_EXTRA_LINES = 1000;
const MAX_BRIDGES = 100;

/**
 * Options the managed torrc sets and a user may not override: the ports and credentials we
 * depend on, no relaying or exiting, tor staying our child, and bridges only through the
 * validated `bridges` option. Compared case-insensitively, also as prefixes (tor's abbreviations).
 */
export const RESERVED_TORRC_OPTIONS: readonly string[] = [
  'DataDirectory',
  'ControlPort',
  'ControlPortWriteToFile',
  'ControlPortFileGroupReadable',
  'ControlSocket',
  'ControlSocketsGroupWritable',
  'CookieAuthentication',
  'CookieAuthFile',
  'CookieAuthFileGroupReadable',
  'HashedControlPassword',
  'SocksPort',
  'ClientOnly',
  'ORPort',
  'DirPort',
  'ExitRelay',
  'ExitPolicy',
  'BridgeRelay',
  'UseBridges',
  'Bridge',
  'ClientTransportPlugin',
  'ServerTransportPlugin',
  'RunAsDaemon',
  'PidFile',
  'User',
];
const RESERVED_LOWER = RESERVED_TORRC_OPTIONS.map((o) => o.toLowerCase());

/** Files a managed tor uses, all inside its DataDirectory. */
export interface ManagedTorPaths {
  readonly dataDirectory: string;
  readonly torrc: string;
  /** tor writes `PORT=127.0.0.1:<port>` here once the control port listens. */
  readonly controlPortFile: string;
  readonly cookieFile: string;
  /** tor's own notice-level log. */
  readonly logFile: string;
  /** tor's stdout and stderr (what it prints before the log file is open). */
  readonly stdoutFile: string;
}

export function managedTorPaths(dataDirectory: string): ManagedTorPaths {
  return {
    dataDirectory,
    torrc: join(dataDirectory, 'torrc'),
    controlPortFile: join(dataDirectory, 'control-port'),
    cookieFile: join(dataDirectory, 'control_auth_cookie'),
    logFile: join(dataDirectory, 'notice.log'),
    stdoutFile: join(dataDirectory, 'tor-output.log'),
  };
}

export interface ManagedTorrcOptions {
  /** Absolute path of tor's DataDirectory (the caller creates it, mode 0700). */
  readonly dataDirectory: string;
  /** tor exits when this process does (`__OwningControllerProcess`). */
  readonly owningPid: number;
  /** Bridge lines (`[transport] IP:port [fingerprint] [k=v …]`, an optional `Bridge ` prefix). */
  readonly bridges?: readonly string[] | undefined;
  /** The transport plugin: an absolute path, or `t1,t2 exec /path [args]`. */
  readonly transportPlugin?: string | undefined;
  /** Extra `Keyword value` lines, e.g. to join a private network; see parseTorrcLine. */
  readonly extraLines?: readonly string[] | undefined;
  /** A fixed control port instead of `auto`: a relaunched tor must come back where its
   * controller (TorACN) reconnects. */
  readonly controlPort?: number | undefined;
  /** A fixed SOCKS port instead of `auto`, for the same reason. */
  readonly socksPort?: number | undefined;
}

export interface TorrcLine {
  readonly keyword: string;
  readonly value: string;
}

export interface BridgeLine {
  readonly transport: string | undefined;
  /** `IPv4:port` or `[IPv6]:port`. */
  readonly address: string;
  readonly fingerprint: string | undefined;
  /** `key=value` arguments for the transport (an obfs4 `cert=…`, say). */
  readonly args: readonly string[];
}

export interface TransportPlugin {
  /** Transports the plugin serves; undefined: whichever the bridges use. */
  readonly transports: readonly string[] | undefined;
  readonly path: string;
  readonly args: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// character-level checks
// ---------------------------------------------------------------------------------------------

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and a BOM.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_CHAR = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function fail(what: string, why: string): never {
  throw new TorConfigError(`${what}: ${why}`);
}

/** A string without anything that can end or continue a torrc line. Never echoes the value. */
function assertCleanText(text: unknown, what: string, maxLength = MAX_LINE_LENGTH): asserts text is string {
  if (typeof text !== 'string') fail(what, 'must be a string');
  if (text.length > maxLength) fail(what, `longer than ${maxLength} characters`);
  const bad = FORBIDDEN_CHAR.exec(text);
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    fail(what, `contains a control or line-break character (U+${code}) at position ${bad.index}`);
  }
  if (LONE_SURROGATE.test(text)) fail(what, 'is not well-formed Unicode');
}

/** One word of a bridge line or plugin command: no spaces, quotes, comment or escape marks. */
const PLAIN_TOKEN = /^[^\s"#\\]+$/u;

function splitTokens(text: string): string[] {
  return text.split(' ').filter((t) => t.length > 0);
}

function isReservedKeyword(keyword: string): boolean {
  const lower = keyword.toLowerCase();
  return RESERVED_LOWER.some((reserved) => reserved.startsWith(lower));
}

// ---------------------------------------------------------------------------------------------
// parsers
// ---------------------------------------------------------------------------------------------

const KEYWORD = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * One extra torrc line, `Keyword value`. Refuses control characters (so no second line), a
 * trailing backslash (which would swallow the next line), keywords that are not plain
 * letters/digits (`%include`, `+Key`, `/Key`, `__Private`), options this module owns or their
 * prefixes, and quoted values with escapes. `what` names the line in errors.
 */
export function parseTorrcLine(text: unknown, what = 'torrc line'): TorrcLine {
  assertCleanText(text, what);
  const trimmed = text.trim();
  if (trimmed.length === 0) fail(what, 'is empty');
  const space = trimmed.indexOf(' ');
  const keyword = space < 0 ? trimmed : trimmed.slice(0, space);
  const value = space < 0 ? '' : trimmed.slice(space + 1).trim();
  if (!KEYWORD.test(keyword)) fail(what, 'must start with an option name made of letters and digits');
  if (isReservedKeyword(keyword)) {
    fail(what, `sets or abbreviates an option the managed tor owns (${RESERVED_TORRC_OPTIONS.join(', ')}); bridges go in the bridges setting`);
  }
  if (value.endsWith('\\')) fail(what, 'ends with a backslash (tor would join it with the next line)');
  if (value.startsWith('"') && !/^"[^"\\]*"$/u.test(value)) fail(what, 'has a quoted value with escapes or text after the closing quote');
  return { keyword, value };
}

/** Lines of a torrc-style file: blank lines and `#` comments are skipped, every other line must
 * pass parseTorrcLine. `what` names the file in errors ("line N" is added). */
export function parseTorrcText(text: unknown, what = 'torrc file'): TorrcLine[] {
  if (typeof text !== 'string') fail(what, 'must be text');
  const out: TorrcLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().length === 0 || line.trimStart().startsWith('#')) continue;
    out.push(parseTorrcLine(line, `${what} line ${i + 1}`));
    if (out.length > MAX_EXTRA_LINES) fail(what, `has more than ${MAX_EXTRA_LINES} lines`);
  }
  return out;
}

const TRANSPORT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const FINGERPRINT = /^[0-9A-Fa-f]{40}$/;
const TRANSPORT_ARG = /^[A-Za-z0-9_.-]+=[^\s"#\\]*$/u;

function parseBridgeAddress(token: string, what: string): string {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(token);
  const v4 = /^([0-9.]+):(\d{1,5})$/.exec(token);
  if (v6 !== null) {
    if (!isIPv6(v6[1]!)) fail(what, 'has an invalid IPv6 address');
  } else if (v4 === null || !isIPv4(v4[1]!)) {
    // A host name would make tor resolve it outside Tor; bridges are given by address.
    fail(what, 'needs an IP:port address (IPv4, or [IPv6]:port)');
  }
  const port = Number((v6 ?? v4)![2]);
  if (port < 1 || port > 65535) fail(what, 'has a port outside 1…65535');
  return token;
}

/**
 * A bridge line as Tor Browser and BridgeDB give them: `[transport] IP:port [fingerprint]
 * [key=value …]`, optionally starting with `Bridge `. Host names are refused (tor would resolve
 * them in the clear), and so are arguments on a bridge without a transport.
 */
export function parseBridgeLine(text: unknown, what = 'bridge'): BridgeLine {
  assertCleanText(text, what);
  let tokens = splitTokens(text.trim());
  if (tokens[0]?.toLowerCase() === 'bridge') tokens = tokens.slice(1);
  if (tokens.length === 0) fail(what, 'is empty');
  let transport: string | undefined;
  if (!tokens[0]!.includes(':')) {
    transport = tokens.shift()!;
    if (!TRANSPORT.test(transport)) fail(what, 'has an invalid transport name');
  }
  const addressToken = tokens.shift();
  if (addressToken === undefined) fail(what, 'has no address');
  const address = parseBridgeAddress(addressToken, what);
  let fingerprint: string | undefined;
  if (tokens[0] !== undefined && FINGERPRINT.test(tokens[0])) fingerprint = tokens.shift()!.toUpperCase();
  for (const arg of tokens) {
    if (!TRANSPORT_ARG.test(arg)) fail(what, 'has an argument that is not key=value (or a malformed fingerprint)');
  }
  if (transport === undefined && tokens.length > 0) fail(what, 'has transport arguments but no transport');
  return { transport, address, fingerprint, args: tokens };
}

/** The `Bridge` value tor reads, in canonical form. */
export function formatBridgeLine(bridge: BridgeLine): string {
  return [bridge.transport, bridge.address, bridge.fingerprint, ...bridge.args].filter((t) => t !== undefined).join(' ');
}

function parsePluginPath(token: string | undefined, what: string): string {
  if (token === undefined) fail(what, 'has no program path');
  if (!PLAIN_TOKEN.test(token)) fail(what, 'has a program path with spaces, quotes, # or backslashes');
  if (!isAbsolute(token)) fail(what, 'needs an absolute program path');
  return token;
}

/**
 * The pluggable-transport client: an absolute path (`/usr/bin/obfs4proxy`), serving whatever
 * transports the bridges use, or tor's own form `obfs4,snowflake exec /path [args]`, with an
 * optional `ClientTransportPlugin ` prefix.
 */
export function parseTransportPlugin(text: unknown, what = 'transport plugin'): TransportPlugin {
  assertCleanText(text, what);
  let tokens = splitTokens(text.trim());
  if (tokens[0]?.toLowerCase() === 'clienttransportplugin') tokens = tokens.slice(1);
  if (tokens.length === 0) fail(what, 'is empty');
  let transports: string[] | undefined;
  if (tokens[1] === 'exec') {
    transports = tokens[0]!.split(',');
    if (!transports.every((t) => TRANSPORT.test(t))) fail(what, 'has an invalid transport name');
    tokens = tokens.slice(2);
  }
  const path = parsePluginPath(tokens[0], what);
  const args = tokens.slice(1);
  if (!args.every((a) => PLAIN_TOKEN.test(a))) fail(what, 'has an argument with quotes, # or backslashes');
  return { transports, path, args };
}

// ---------------------------------------------------------------------------------------------
// generation
// ---------------------------------------------------------------------------------------------

/** A value as tor reads it back verbatim: quoted (escaping only \ and ") when it contains what
 * tor would otherwise treat as a comment, a quote or an escape, or has outer spaces. */
function torrcValue(value: string): string {
  if (!/[#"\\]|^ | $/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function portValue(port: number | undefined, what: string): string {
  if (port === undefined) return 'auto';
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(what, 'must be a port number (1…65535)');
  return String(port);
}

function checkPath(path: unknown, what: string): string {
  assertCleanText(path, what);
  if (!isAbsolute(path)) fail(what, 'must be an absolute path');
  return path;
}

/**
 * The managed torrc: private DataDirectory, control and SOCKS ports on random loopback ports
 * unless pinned (the control port written to a file, cookie auth), client only with no exit, tor tied to
 * `owningPid`, a notice log in the DataDirectory; then `UseBridges 1`, the bridges and the
 * transport plugin; then the extra lines. Throws TorConfigError (naming the offending entry).
 */
export function managedTorrc(options: ManagedTorrcOptions): string {
  const dataDirectory = checkPath(options.dataDirectory, 'tor data directory');
  if (!Number.isSafeInteger(options.owningPid) || options.owningPid < 1) fail('owning process', 'must be a process id');
  const paths = managedTorPaths(dataDirectory);
  const controlPort = portValue(options.controlPort, 'control port');
  const socksPort = portValue(options.socksPort, 'SOCKS port');
  if (controlPort !== 'auto' && controlPort === socksPort) fail('SOCKS port', 'must differ from the control port');

  const bridgeInput = options.bridges ?? [];
  if (!Array.isArray(bridgeInput)) fail('bridges', 'must be a list of bridge lines');
  if (bridgeInput.length > MAX_BRIDGES) fail('bridges', `more than ${MAX_BRIDGES} bridge lines`);
  const bridges = bridgeInput.map((b, i) => parseBridgeLine(b, `bridge ${i + 1}`));

  const extraInput = options.extraLines ?? [];
  if (!Array.isArray(extraInput)) fail('extra torrc lines', 'must be a list of lines');
  if (extraInput.length > MAX_EXTRA_LINES) fail('extra torrc lines', `more than ${MAX_EXTRA_LINES} lines`);
  const extra = extraInput.map((l, i) => parseTorrcLine(l, `torrc line ${i + 1}`));

  const needed = [...new Set(bridges.map((b) => b.transport).filter((t) => t !== undefined))];
  let pluginLine: string | undefined;
  if (options.transportPlugin !== undefined) {
    const plugin = parseTransportPlugin(options.transportPlugin);
    const transports = plugin.transports ?? needed;
    const missing = needed.filter((t) => !transports.includes(t));
    if (missing.length > 0) fail('transport plugin', `does not serve the transport the bridges use (${missing.join(', ')})`);
    if (transports.length > 0) pluginLine = ['ClientTransportPlugin', transports.join(','), 'exec', plugin.path, ...plugin.args].join(' ');
  } else if (needed.length > 0) {
    fail('bridges', `use the pluggable transport ${needed.join(', ')}, which needs a transport plugin (obfs4proxy or lyrebird)`);
  }

  const lines = [
    '# Written by tapir for a tor it launches and owns; rewritten on every start.',
    `DataDirectory ${torrcValue(dataDirectory)}`,
    `ControlPort ${MANAGED_TOR_HOST}:${controlPort}`,
    `ControlPortWriteToFile ${torrcValue(paths.controlPortFile)}`,
    'CookieAuthentication 1',
    `CookieAuthFile ${torrcValue(paths.cookieFile)}`,
    `SocksPort ${MANAGED_TOR_HOST}:${socksPort}`,
    'ClientOnly 1',
    'ExitRelay 0',
    'ExitPolicy reject *:*',
    'AvoidDiskWrites 1',
    `Log ${torrcValue(`notice file ${paths.logFile}`)}`,
    `__OwningControllerProcess ${options.owningPid}`,
  ];
  if (bridges.length > 0) {
    lines.push('UseBridges 1', ...bridges.map((b) => `Bridge ${formatBridgeLine(b)}`));
    if (pluginLine !== undefined) lines.push(pluginLine);
  }
  if (extra.length > 0) lines.push('# extra lines from the configuration', ...extra.map((l) => (l.value === '' ? l.keyword : `${l.keyword} ${l.value}`)));
  return `${lines.join('\n')}\n`;
}

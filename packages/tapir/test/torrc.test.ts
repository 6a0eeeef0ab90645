/**
 * The managed torrc generator and the parsers of user-supplied torrc text (torrc.ts): what is
 * accepted, what is refused, and — property-tested against a reader that follows tor's own
 * config-line parser — that no input can make tor read a directive the caller did not ask for.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TorConfigError } from '../src/errors.js';
import {
  RESERVED_TORRC_OPTIONS,
  formatBridgeLine,
  managedTorPaths,
  managedTorrc,
  parseBridgeLine,
  parseTorrcLine,
  parseTorrcText,
  parseTransportPlugin,
} from '../src/acn/torrc.js';

// ---------------------------------------------------------------------------------------------
// How tor reads a torrc (torrc_format.txt; parse_config_line_from_str_verbose and
// unescape_string re-implemented from their documented behaviour): comments from '#', a
// backslash before a newline joins lines, a value starting with '"' is a C string with escapes.
// ---------------------------------------------------------------------------------------------

interface TorrcDirective {
  readonly key: string;
  readonly value: string;
}

class TorrcSyntaxError extends Error {}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** The C-string value starting at text[start] (a '"'); returns it and the index after it. */
function readQuoted(text: string, start: number): { value: string; next: number } {
  let i = start + 1;
  let value = '';
  for (;;) {
    const c = text[i];
    if (c === undefined || c === '\n' || c === '\0') throw new TorrcSyntaxError('unterminated quoted string');
    if (c === '"') return { value, next: i + 1 };
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === 'x' || e === 'X') {
      if (!isHex(text[i + 2]) || !isHex(text[i + 3])) throw new TorrcSyntaxError('bad \\x escape');
      value += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (isOctal(e)) {
      let j = i + 1;
      let digits = '';
      while (digits.length < 3 && isOctal(text[j])) digits += text[j++];
      value += String.fromCharCode(Number.parseInt(digits, 8) & 0xff);
      i = j;
    } else if (e === 'n') {
      value += '\n';
      i += 2;
    } else if (e === 'r') {
      value += '\r';
      i += 2;
    } else if (e === 't') {
      value += '\t';
      i += 2;
    } else if (e === '"' || e === '\\' || e === "'") {
      value += e;
      i += 2;
    } else {
      throw new TorrcSyntaxError('bad escape');
    }
  }
}

/** Every directive tor would read from `text`, in order. Throws TorrcSyntaxError where tor would fail. */
function readTorrc(text: string): TorrcDirective[] {
  // tor reads a C string: nothing after a NUL exists for it.
  const nul = text.indexOf('\0');
  const src = nul < 0 ? text : text.slice(0, nul);
  const out: TorrcDirective[] = [];
  let i = 0;
  for (;;) {
    for (;;) {
      while (isSpace(src[i])) i++;
      if (src[i] !== '#') break;
      while (i < src.length && src[i] !== '\n') i++;
    }
    if (i >= src.length) return out;
    const keyStart = i;
    while (i < src.length && !isSpace(src[i]) && src[i] !== '#' && !(src[i] === '\\' && src[i + 1] === '\n')) i++;
    const key = src.slice(keyStart, i);
    while (src[i] === ' ' || src[i] === '\t') i++;
    let value: string;
    if (src[i] === '"') {
      const quoted = readQuoted(src, i);
      value = quoted.value;
      i = quoted.next;
      while (src[i] === ' ' || src[i] === '\t') i++;
      if (src[i] === '\r' && src[i + 1] === '\n') i++;
      if (i < src.length && src[i] !== '#' && src[i] !== '\n') throw new TorrcSyntaxError('excess data after quoted string');
    } else {
      const valueStart = i;
      let continuation = false;
      while (i < src.length && src[i] !== '\n' && (src[i] !== '#' || continuation)) {
        if (src[i] === '\\' && src[i + 1] === '\n') {
          continuation = true;
          i += 2;
        } else if (src[i] === '#') {
          while (i < src.length && src[i] !== '\n') i++;
          if (src[i] === '\n') i++;
        } else {
          i++;
        }
      }
      let end = i;
      if (src[i] === '\n') i++;
      while (end > valueStart && isSpace(src[end - 1])) end--;
      value = src.slice(valueStart, end);
      if (continuation) value = value.replace(/#[^\n]*\n?/g, '').replace(/\\\n/g, '');
    }
    if (src[i] === '#') while (i < src.length && src[i] !== '\n') i++;
    while (isSpace(src[i])) i++;
    out.push({ key, value });
  }
}

// ---------------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------------

const DATA_DIR = '/var/lib/pursuance/tor';
const PID = 4242;
const FP = 'A'.repeat(40);
const CERT = 'cert=p4Rk1yFnLCZDeU0+HQq1F5l5gGXhN1iOnKjA8ZrbK+k2ZTVb8mqiRn1mRyLOG3l7Bq4TCQ';
const OBFS4 = `obfs4 192.0.2.7:443 ${FP} ${CERT} iat-mode=0`;

function refused(run: () => unknown): TorConfigError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TorConfigError);
  expect((caught as TorConfigError).code).toBe('TOR_CONFIG');
  return caught as TorConfigError;
}

/** The directives our generator always writes, in order, as tor reads them. */
function baseDirectives(dataDirectory: string, pid: number): TorrcDirective[] {
  const paths = managedTorPaths(dataDirectory);
  return [
    { key: 'DataDirectory', value: dataDirectory },
    { key: 'ControlPort', value: '127.0.0.1:auto' },
    { key: 'ControlPortWriteToFile', value: paths.controlPortFile },
    { key: 'CookieAuthentication', value: '1' },
    { key: 'CookieAuthFile', value: paths.cookieFile },
    { key: 'SocksPort', value: '127.0.0.1:auto' },
    { key: 'ClientOnly', value: '1' },
    { key: 'ExitRelay', value: '0' },
    { key: 'ExitPolicy', value: 'reject *:*' },
    { key: 'AvoidDiskWrites', value: '1' },
    { key: 'Log', value: `notice file ${paths.logFile}` },
    { key: '__OwningControllerProcess', value: String(pid) },
  ];
}

// ---------------------------------------------------------------------------------------------
// the generated torrc
// ---------------------------------------------------------------------------------------------

describe('managedTorrc', () => {
  it('writes exactly the managed settings: private data dir, loopback auto ports with cookie auth, client only, no exit, owned by the pid', () => {
    const text = managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID });
    expect(readTorrc(text)).toEqual(baseDirectives(DATA_DIR, PID));
    expect(text).not.toMatch(/ORPort|UseBridges|Bridge /);
  });

  it('pins the control and SOCKS ports when given (a relaunch), and refuses ports that are not ports', () => {
    const text = managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, controlPort: 40123, socksPort: 40124 });
    const pinned = baseDirectives(DATA_DIR, PID).map((d) =>
      d.key === 'ControlPort' ? { ...d, value: '127.0.0.1:40123' } : d.key === 'SocksPort' ? { ...d, value: '127.0.0.1:40124' } : d,
    );
    expect(readTorrc(text)).toEqual(pinned);
    for (const bad of [{ controlPort: 0 }, { socksPort: 65536 }, { controlPort: 1.5 }, { controlPort: 9000, socksPort: 9000 }]) {
      expect(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, ...bad })).toThrow(TorConfigError);
    }
  });

  it('adds UseBridges, the bridge lines and the transport plugin, then the extra lines, in canonical form', () => {
    const text = managedTorrc({
      dataDirectory: DATA_DIR,
      owningPid: PID,
      bridges: [`Bridge   ${OBFS4}  `, `192.0.2.8:9001 ${'b'.repeat(40)}`],
      transportPlugin: '/usr/bin/obfs4proxy',
      extraLines: ['  TestingTorNetwork   1 ', 'GeoIPFile ""', 'DirAuthority auth0 orport=5000 no-v2 v3ident=AB 127.0.0.1:5001 CD'],
    });
    expect(readTorrc(text).slice(12)).toEqual([
      { key: 'UseBridges', value: '1' },
      { key: 'Bridge', value: OBFS4 },
      { key: 'Bridge', value: `192.0.2.8:9001 ${'B'.repeat(40)}` },
      { key: 'ClientTransportPlugin', value: 'obfs4 exec /usr/bin/obfs4proxy' },
      { key: 'TestingTorNetwork', value: '1' },
      { key: 'GeoIPFile', value: '' },
      { key: 'DirAuthority', value: 'auth0 orport=5000 no-v2 v3ident=AB 127.0.0.1:5001 CD' },
    ]);
  });

  it('quotes paths that tor would otherwise cut at # or unescape, and tor reads them back verbatim', () => {
    for (const dir of ['/srv/my tor', '/srv/#tor', '/srv/a"b', '/srv/back\\slash', '/srv/naïve/тор', '/srv/trailing ']) {
      expect(readTorrc(managedTorrc({ dataDirectory: dir, owningPid: PID }))).toEqual(baseDirectives(dir, PID));
    }
  });

  it('refuses a relative or hostile data directory and a bad owner pid', () => {
    refused(() => managedTorrc({ dataDirectory: 'tor', owningPid: PID }));
    refused(() => managedTorrc({ dataDirectory: '/srv/tor\nControlPort 9051', owningPid: PID }));
    for (const pid of [0, -1, 1.5, Number.NaN, 2 ** 60]) refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: pid }));
  });

  it('refuses bridges that need a transport with no plugin, and a plugin that serves other transports', () => {
    expect(refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: [OBFS4] })).message).toMatch(/transport plugin/);
    refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: [OBFS4], transportPlugin: 'snowflake exec /usr/bin/snowflake-client' }));
    const both = managedTorrc({
      dataDirectory: DATA_DIR,
      owningPid: PID,
      bridges: [OBFS4],
      transportPlugin: 'obfs4,meek_lite exec /usr/bin/lyrebird -enableLogging',
    });
    expect(readTorrc(both)).toContainEqual({ key: 'ClientTransportPlugin', value: 'obfs4,meek_lite exec /usr/bin/lyrebird -enableLogging' });
  });

  it('refuses more than 100 bridges or 1000 extra lines, and non-list inputs', () => {
    refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: Array.from({ length: 101 }, () => `192.0.2.1:1 ${FP}`) }));
    refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, extraLines: Array.from({ length: 1001 }, () => 'TestingTorNetwork 1') }));
    refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: 'x' as unknown as string[] }));
    refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, extraLines: [42 as unknown as string] }));
  });
});

// ---------------------------------------------------------------------------------------------
// extra lines
// ---------------------------------------------------------------------------------------------

describe('parseTorrcLine', () => {
  it('takes plain option lines, an empty quoted value, and option names that are Object.prototype members', () => {
    expect(parseTorrcLine('TestingTorNetwork 1')).toEqual({ keyword: 'TestingTorNetwork', value: '1' });
    expect(parseTorrcLine('GeoIPFile ""')).toEqual({ keyword: 'GeoIPFile', value: '""' });
    expect(parseTorrcLine('  PathsNeededToBuildCircuits    0.67  ')).toEqual({ keyword: 'PathsNeededToBuildCircuits', value: '0.67' });
    expect(parseTorrcLine('HiddenServiceStatistics 0 # no stats')).toEqual({ keyword: 'HiddenServiceStatistics', value: '0 # no stats' });
    expect(parseTorrcLine('SafeLogging')).toEqual({ keyword: 'SafeLogging', value: '' });
    // Keywords are checked against a list, never looked up on an object.
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
      expect(parseTorrcLine(`${name} 1`)).toEqual({ keyword: name, value: '1' });
    }
  });

  it('refuses line breaks, NUL, tabs and other control characters anywhere, Unicode line separators, a BOM and lone surrogates', () => {
    for (const bad of ['\n', '\r', '\r\n', '\0', '\t', '\v', '\f', '\u0085', '\u001b', '\u007f', '\u2028', '\u2029', '\ufeff', '\ud800', '\udc00']) {
      refused(() => parseTorrcLine(`TestingTorNetwork 1${bad}ControlPort 9051`));
      refused(() => parseTorrcLine(`${bad}TestingTorNetwork 1`));
    }
  });

  it('refuses a trailing backslash, which would join the next (our) line into this one', () => {
    refused(() => parseTorrcLine('Nickname x\\'));
    refused(() => parseTorrcLine('Nickname x\\   '));
    expect(parseTorrcLine('Nickname a\\b').value).toBe('a\\b');
  });

  it('refuses quoted values with escapes or trailing text', () => {
    refused(() => parseTorrcLine('GeoIPFile "a\\nControlPort 1"'));
    refused(() => parseTorrcLine('GeoIPFile "a\\x0a"'));
    refused(() => parseTorrcLine('GeoIPFile "a" b'));
    refused(() => parseTorrcLine('GeoIPFile "unterminated'));
  });

  it('refuses %include, +/ prefixed forms, private __ options, and every reserved option in any case or abbreviation', () => {
    for (const bad of ['%include /etc/tor/torrc.d', '+SocksPort 9150', '/ControlPort', '__OwningControllerProcess 1', '_HSLayer2Nodes x', '1Option x', '=x']) {
      refused(() => parseTorrcLine(bad));
    }
    for (const reserved of RESERVED_TORRC_OPTIONS) {
      refused(() => parseTorrcLine(`${reserved} 1`));
      refused(() => parseTorrcLine(`${reserved.toUpperCase()} 1`));
      refused(() => parseTorrcLine(`${reserved.toLowerCase().slice(0, Math.max(1, reserved.length - 2))} 1`));
    }
    refused(() => parseTorrcLine('ControlP 9051'));
    refused(() => parseTorrcLine('dataDir /tmp/other'));
    refused(() => parseTorrcLine('Bridge 192.0.2.1:443'));
  });

  it('refuses empty lines, non-strings and overlong lines', () => {
    for (const bad of ['', '   ', undefined, null, 7, {}, ['TestingTorNetwork 1']]) refused(() => parseTorrcLine(bad));
    refused(() => parseTorrcLine(`Nickname ${'x'.repeat(4096)}`));
    expect(parseTorrcLine(`Nickname ${'x'.repeat(4087)}`).value).toHaveLength(4087);
  });

  it('names the line in its error but never quotes the value', () => {
    const err = refused(() => parseTorrcLine('Nickname secret-value\nControlPort 1', 'torrc line 3'));
    expect(err.message).toContain('torrc line 3');
    expect(err.message).not.toContain('secret-value');
  });
});

describe('parseTorrcText', () => {
  it('skips blank lines and comments, accepts CRLF, and numbers lines in errors', () => {
    expect(parseTorrcText('# network\r\n\r\nTestingTorNetwork 1\r\n  # indented comment\nGeoIPFile ""\n')).toEqual([
      { keyword: 'TestingTorNetwork', value: '1' },
      { keyword: 'GeoIPFile', value: '""' },
    ]);
    expect(refused(() => parseTorrcText('TestingTorNetwork 1\n\nControlPort 1\n', 'torrc.extra')).message).toContain('torrc.extra line 3');
    refused(() => parseTorrcText('TestingTorNetwork 1\rControlPort 9051\n'));
    refused(() => parseTorrcText(undefined));
  });
});

// ---------------------------------------------------------------------------------------------
// bridges and the transport plugin
// ---------------------------------------------------------------------------------------------

describe('parseBridgeLine', () => {
  it('parses plain, obfs4, snowflake-style and IPv6 bridge lines, with or without the Bridge prefix', () => {
    expect(parseBridgeLine(`192.0.2.1:443 ${FP.toLowerCase()}`)).toEqual({ transport: undefined, address: '192.0.2.1:443', fingerprint: FP, args: [] });
    expect(parseBridgeLine('192.0.2.1:443')).toEqual({ transport: undefined, address: '192.0.2.1:443', fingerprint: undefined, args: [] });
    expect(parseBridgeLine(`bridge ${OBFS4}`)).toEqual({ transport: 'obfs4', address: '192.0.2.7:443', fingerprint: FP, args: [CERT, 'iat-mode=0'] });
    const snowflake = `snowflake 192.0.2.3:80 ${FP} fingerprint=${FP} url=https://snowflake-broker.example/ fronts=a.example,b.example ice=stun:stun.example:3478 utls-imitate=hellorandomizedalpn`;
    expect(formatBridgeLine(parseBridgeLine(snowflake))).toBe(snowflake);
    expect(parseBridgeLine(`[2001:db8::1]:443 ${FP}`).address).toBe('[2001:db8::1]:443');
    // Transport names are C identifiers; Object.prototype names are just names.
    expect(parseBridgeLine('__proto__ 192.0.2.1:1 k=v').transport).toBe('__proto__');
    expect(parseBridgeLine('constructor 192.0.2.1:1').transport).toBe('constructor');
  });

  it('refuses host names, bad addresses and ports, junk tokens, arguments without a transport, and hostile characters', () => {
    for (const bad of [
      'bridge.example:443',
      'obfs4 bridge.example:443 cert=x',
      '192.0.2.1',
      '192.0.2.1:0',
      '192.0.2.1:65536',
      '256.0.2.1:443',
      '[::g]:443',
      '[2001:db8::1]',
      `192.0.2.1:443 ${FP} cert=x`,
      `obfs4 192.0.2.1:443 ${FP} not-key-value`,
      `obfs4 192.0.2.1:443 ${FP} cert="x"`,
      `obfs4 192.0.2.1:443 ${FP} cert=x#y`,
      `obfs4 192.0.2.1:443 ${FP} cert=x\\`,
      `obfs4 192.0.2.1:443 ${FP} cert=x\nControlPort 9051`,
      `ob-fs4 192.0.2.1:443`,
      '',
      'Bridge',
      'obfs4',
    ]) {
      refused(() => parseBridgeLine(bad));
    }
  });

  it('never quotes the line (a bridge certificate is semi-secret) in its error', () => {
    expect(refused(() => parseBridgeLine(`obfs4 192.0.2.1:443 ${FP} cert=SECRETCERT#x`, 'bridge 2')).message).not.toContain('SECRETCERT');
  });
});

describe('parseTransportPlugin', () => {
  it('takes an absolute path or tor’s `transports exec path args` form', () => {
    expect(parseTransportPlugin('/usr/bin/obfs4proxy')).toEqual({ transports: undefined, path: '/usr/bin/obfs4proxy', args: [] });
    expect(parseTransportPlugin('ClientTransportPlugin obfs4,webtunnel exec /usr/bin/lyrebird -enableLogging')).toEqual({
      transports: ['obfs4', 'webtunnel'],
      path: '/usr/bin/lyrebird',
      args: ['-enableLogging'],
    });
  });

  it('refuses relative paths, hostile characters and bad transport names', () => {
    for (const bad of [
      'obfs4proxy',
      './obfs4proxy',
      'obfs4 exec obfs4proxy',
      'ob-fs4 exec /usr/bin/x',
      '/usr/bin/x#y',
      '/usr/bin/"x"',
      '/usr/bin/x a\\b',
      '/usr/bin/x\nControlPort 1',
      '',
      'obfs4 exec',
    ]) {
      refused(() => parseTransportPlugin(bad));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// properties: no injected directive, whatever the input
// ---------------------------------------------------------------------------------------------

// Mostly harmless characters with the dangerous ones mixed in, so that many generated inputs
// are accepted (and checked against tor's reading) and many are one character from an attack.
const SPECIAL = ['\n', '\r', '\0', '\t', '\\', '#', '"', '%', '+', '_', '\u2028', '\u0085', '\ufeff', '\ud800', '\u00a0'];
const SAFE = 'abcXYZ0129 .:=,/-+é'.split('');
const char = fc.oneof(
  { weight: 60, arbitrary: fc.constantFrom(...SAFE) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const text = fc.string({ unit: char, maxLength: 20 });
const GOOD_KEYWORDS = ['TestingTorNetwork', 'DirAuthority', 'Log', 'HiddenServiceDir', 'Nickname', 'constructor', 'hasOwnProperty'];
const BAD_KEYWORDS = [
  'ControlPort',
  'controlp',
  'SOCKSPORT',
  '%include',
  '__OwningControllerProcess',
  '+SocksPort',
  '/Bridge',
  '__proto__',
  'UseBridges',
  'DataDirectory',
];
const keyword = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...GOOD_KEYWORDS) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_KEYWORDS) });
const keywordLine = fc.tuple(keyword, fc.constantFrom(' ', ' ', '  ', '', '\t'), text).map(([k, sep, v]) => `${k}${sep}${v}`);
// A trailing backslash would join the next line into this one: generate it often.
const extraLine = fc.oneof({ weight: 6, arbitrary: keywordLine }, { weight: 1, arbitrary: keywordLine.map((l) => `${l}\\`) }, { weight: 1, arbitrary: text });
// Base64 with, now and then, what ends a torrc value early (#) or starts quoting/escaping.
const certText = fc.string({
  unit: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...'AZaz09+/='.split('')) }, { weight: 1, arbitrary: fc.constantFrom('#', '"', '\\') }),
  maxLength: 24,
});
const ip = fc.constantFrom('192.0.2.1:443', '192.0.2.9:80', '[2001:db8::1]:9001', 'host.example:1', '192.0.2.1:0');
const bridgeLine = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('', 'Bridge '), ip, fc.constantFrom('', ` ${FP}`)).map(([p, a, f]) => `${p}${a}${f}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('obfs4 ', 'Bridge obfs4 '), ip, certText).map(([t, a, v]) => `${t}${a} ${FP} cert=${v} iat-mode=0`) },
  { weight: 1, arbitrary: text },
);
const plugin = fc.option(
  fc.oneof(
    fc.constant('/usr/bin/obfs4proxy'),
    fc.constant('/usr/bin/obfs4proxy'),
    text.map((t) => `/usr/bin/${t}`),
    text.map((t) => `obfs4,snowflake exec /usr/bin/obfs4proxy ${t}`),
    text,
  ),
  { nil: undefined },
);
const dataDirectory = fc.oneof({ weight: 3, arbitrary: fc.constant(DATA_DIR) }, { weight: 1, arbitrary: text.map((t) => `/srv/${t}`) });

/** A keyword tor would map onto one of the options the generator owns (exact or abbreviated). */
function ownedBy(key: string): boolean {
  const lower = key.replace(/^[+/]/, '').toLowerCase();
  return lower.startsWith('%') || lower.startsWith('__') || RESERVED_TORRC_OPTIONS.some((o) => o.toLowerCase().startsWith(lower));
}

describe('injection properties', () => {
  it('tor reads exactly the generated directives plus one per accepted extra line and bridge — or the input is refused', () => {
    fc.assert(
      fc.property(
        dataDirectory,
        fc.array(extraLine, { maxLength: 4 }),
        fc.array(bridgeLine, { maxLength: 2 }),
        plugin,
        (dir, extraLines, bridges, transportPlugin) => {
          let generated: string;
          try {
            generated = managedTorrc({ dataDirectory: dir, owningPid: PID, extraLines, bridges, transportPlugin });
          } catch (err) {
            expect(err).toBeInstanceOf(TorConfigError);
            return;
          }
          const read = readTorrc(generated);
          const keys = read.map((d) => d.key);
          const expectedKeys = [...baseDirectives(dir, PID).map((d) => d.key), ...(bridges.length > 0 ? ['UseBridges', ...bridges.map(() => 'Bridge')] : [])];
          expect(read.slice(0, 12)).toEqual(baseDirectives(dir, PID));
          const rest = keys.slice(expectedKeys.length);
          expect(keys.slice(0, expectedKeys.length)).toEqual(expectedKeys);
          // After the bridges: at most one ClientTransportPlugin (ours), then one directive per extra
          // line, each with the keyword the caller wrote, none owned by the generator.
          const afterPlugin = rest[0] === 'ClientTransportPlugin' && bridges.length > 0 ? rest.slice(1) : rest;
          expect(afterPlugin).toEqual(extraLines.map((l) => l.trim().split(' ')[0]));
          for (const key of afterPlugin) expect(ownedBy(key)).toBe(false);
          // Every bridge tor reads is one the caller gave, in canonical form.
          const bridgeValues = read.filter((d) => d.key === 'Bridge').map((d) => d.value);
          expect(bridgeValues).toEqual(bridges.map((b) => formatBridgeLine(parseBridgeLine(b))));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a valid line with a line break and a directive spliced in anywhere is always refused', () => {
    const valid = fc.constantFrom('TestingTorNetwork 1', `obfs4 192.0.2.1:443 ${FP} ${CERT} iat-mode=0`, '/usr/bin/obfs4proxy', 'GeoIPFile ""');
    fc.assert(
      fc.property(
        valid,
        fc.nat(),
        fc.constantFrom('\n', '\r', '\r\n', '\0', '\u2028', '\\\n'),
        fc.constantFrom('ControlPort 9051', '%include /etc', 'ExitRelay 1'),
        (line, at, brk, injected) => {
          const pos = at % (line.length + 1);
          const hostile = `${line.slice(0, pos)}${brk}${injected}${line.slice(pos)}`;
          refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, extraLines: [hostile] }));
          refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: [hostile], transportPlugin: '/usr/bin/obfs4proxy' }));
          refused(() => managedTorrc({ dataDirectory: DATA_DIR, owningPid: PID, bridges: [OBFS4], transportPlugin: hostile }));
        },
      ),
    );
  });

  it('parsers throw nothing but TorConfigError, and never echo the input, on arbitrary text', () => {
    fc.assert(
      fc.property(text, (t) => {
        const input = `SECRETMARK${t}`;
        for (const parse of [parseTorrcLine, parseBridgeLine, parseTransportPlugin, parseTorrcText]) {
          try {
            parse(input);
          } catch (err) {
            expect(err).toBeInstanceOf(TorConfigError);
            expect((err as Error).message).not.toContain('SECRETMARK');
          }
        }
      }),
    );
  });
});

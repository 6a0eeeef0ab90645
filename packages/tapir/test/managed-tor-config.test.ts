/**
 * The ACN settings (acn-config.ts) for external and managed tor: presets, passwords, bridges,
 * extra torrc lines and files, what contradicts what, and that openAcn checks everything before
 * it starts anything. Launching a managed tor for real is in test/system/managed-tor.test.ts.
 */
import fc from 'fast-check';
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcnConfigError, TorNotFoundError } from '../src/errors.js';
import { LoopbackACN } from '../src/acn/loopback-acn.js';
import { TorACN } from '../src/acn/tor-acn.js';
import { acnFromConfig, openAcn, planAcn, readTorrcFile, torPreset, type AcnConfig, type AcnPlan } from '../src/acn/acn-config.js';

const FP = 'C'.repeat(40);
const PASSWORD = 'correct horse battery staple';
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'acn-config-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function configError(run: () => unknown): AcnConfigError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AcnConfigError);
  expect((caught as AcnConfigError).code).toBe('ACN_CONFIG');
  return caught as AcnConfigError;
}

function external(plan: AcnPlan): Extract<AcnPlan, { kind: 'external' }>['options'] {
  if (plan.kind !== 'external') throw new Error(`expected an external tor, got ${plan.kind}`);
  return plan.options;
}

function managed(plan: AcnPlan): Extract<AcnPlan, { kind: 'managed' }>['launch'] {
  if (plan.kind !== 'managed') throw new Error(`expected a managed tor, got ${plan.kind}`);
  return plan.launch;
}

describe('planAcn', () => {
  it('is loopback unless tor is asked for, whatever tor settings are also present', () => {
    expect(planAcn({})).toEqual({ kind: 'loopback', registryDir: undefined });
    expect(planAcn({ tor: false, torControl: 'junk', bridges: ['junk'], loopbackRegistry: '/tmp/reg' })).toEqual({ kind: 'loopback', registryDir: '/tmp/reg' });
  });

  it('is an external tor when a control address or a preset is given, with the password passed through', () => {
    expect(external(planAcn({ tor: true, torControl: '127.0.0.1:9151', torSocks: '127.0.0.1:9150', torControlPassword: PASSWORD }))).toEqual({
      controlHost: '127.0.0.1',
      controlPort: 9151,
      socksHost: '127.0.0.1',
      socksPort: 9150,
      password: PASSWORD,
    });
    // The SOCKS port defaults to the system tor's when only the control port is given.
    expect(external(planAcn({ tor: true, torControl: '10.0.0.2:9051', torCookie: '/tmp/cookie' }))).toMatchObject({
      socksPort: 9050,
      cookieFile: '/tmp/cookie',
    });
  });

  it('knows the Debian system tor and Tor Browser presets, and explicit settings override them', () => {
    expect(external(planAcn({ tor: true, torPreset: 'system' }))).toEqual({
      controlHost: '127.0.0.1',
      controlPort: 9051,
      socksHost: '127.0.0.1',
      socksPort: 9050,
      cookieFile: '/run/tor/control.authcookie',
    });
    expect(external(planAcn({ tor: true, torPreset: 'tor-browser' }))).toEqual({
      controlHost: '127.0.0.1',
      controlPort: 9151,
      socksHost: '127.0.0.1',
      socksPort: 9150,
    });
    expect(external(planAcn({ tor: true, torPreset: 'tor-browser', torSocks: '127.0.0.1:19150', torCookie: '/tb/cookie' }))).toMatchObject({
      controlPort: 9151,
      socksPort: 19150,
      cookieFile: '/tb/cookie',
    });
    expect(torPreset('system').cookie).toBe('/run/tor/control.authcookie');
  });

  it('refuses preset names that are not presets, including Object.prototype members', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'System', 'tor browser', '', 7]) {
      configError(() => planAcn({ tor: true, torPreset: name as AcnConfig['torPreset'] }));
    }
  });

  it('is a managed tor when tor is asked for without a control address, with everything resolved', () => {
    expect(
      managed(
        planAcn({
          tor: true,
          torDataDir: 'rel/tor',
          torBinary: '/opt/tor/bin/tor',
          bridges: [`Bridge obfs4 192.0.2.1:443 ${FP} cert=abc iat-mode=0`],
          transportPlugin: 'obfs4proxy',
          torrcLines: ['TestingTorNetwork 1'],
          torrcFile: 'extra.torrc',
        }),
      ),
    ).toEqual({
      dataDir: resolve('rel/tor'),
      torBinary: '/opt/tor/bin/tor',
      bridges: [`Bridge obfs4 192.0.2.1:443 ${FP} cert=abc iat-mode=0`],
      transportPlugin: 'obfs4proxy',
      torrcLines: ['TestingTorNetwork 1'],
      torrcFile: resolve('extra.torrc'),
    });
  });

  it('needs a data directory for a managed tor', () => {
    expect(configError(() => planAcn({ tor: true })).message).toContain('--tor-data-dir');
  });

  it('refuses managed-only settings with an external tor, and external-only settings with a managed one, naming the flag', () => {
    for (const extra of [
      { torDataDir: '/d' },
      { torBinary: 'tor' },
      { torrcLines: ['TestingTorNetwork 1'] },
      { torrcFile: '/f' },
      { bridges: [`192.0.2.1:1 ${FP}`] },
      { transportPlugin: '/usr/bin/obfs4proxy' },
    ]) {
      configError(() => planAcn({ tor: true, torControl: '127.0.0.1:9051', ...extra }));
      configError(() => planAcn({ tor: true, torPreset: 'system', ...extra }));
    }
    // Empty lists are no setting at all.
    expect(planAcn({ tor: true, torPreset: 'system', bridges: [], torrcLines: [] }).kind).toBe('external');
    for (const [extra, flag] of [
      [{ torSocks: '127.0.0.1:9050' }, '--tor-socks'],
      [{ torCookie: '/c' }, '--tor-cookie'],
      [{ torControlPassword: PASSWORD }, '--tor-control-password'],
    ] as const) {
      expect(configError(() => planAcn({ tor: true, torDataDir: '/d', ...extra })).message).toContain(flag);
    }
  });

  it('never puts the control password or a bridge line in an error', () => {
    const errors = [
      configError(() => planAcn({ tor: true, torDataDir: '/d', torControlPassword: PASSWORD })),
      configError(() => planAcn({ tor: true, torControl: 'bad', torControlPassword: PASSWORD })),
      configError(() => planAcn({ tor: true, torDataDir: '/d', bridges: ['obfs4 192.0.2.1:443 cert=SECRETCERT#'] })),
    ];
    for (const err of errors) {
      expect(err.message).not.toContain('horse');
      expect(err.message).not.toContain('SECRETCERT');
    }
  });

  it('reports malformed addresses as such, and bad bridges, torrc lines and plugins as AcnConfigError naming the setting', () => {
    expect(configError(() => planAcn({ tor: true, torSocks: '127.0.0.1:70000' })).message).toContain('--tor-socks must be host:port');
    expect(configError(() => planAcn({ tor: true, torControl: 'localhost' })).message).toContain('--tor-control must be host:port');
    expect(configError(() => planAcn({ tor: true, torDataDir: '/d', bridges: ['bridge.example:443'] })).message).toMatch(/^--bridge: bridge 1/);
    expect(configError(() => planAcn({ tor: true, torDataDir: '/d', torrcLines: ['TestingTorNetwork 1', 'SocksPort 9050'] })).message).toMatch(
      /^--torrc-line: line 2/,
    );
    expect(configError(() => planAcn({ tor: true, torDataDir: '/d', transportPlugin: 'obfs4 exec ./x' })).message).toMatch(/^--tor-transport-plugin/);
    configError(() => planAcn({ tor: true, torDataDir: '/d\nx' }));
    configError(() => planAcn({ tor: true, torDataDir: '' }));
    configError(() => planAcn({ tor: true, torControl: '127.0.0.1:9051', torControlPassword: '' }));
    configError(() => planAcn({ tor: true, torDataDir: '/d', bridges: 'x' as unknown as string[] }));
    configError(() => planAcn({ tor: true, torDataDir: '/d', torrcLines: [1] as unknown as string[] }));
    configError(() => planAcn({ tor: true, torDataDir: null as unknown as string }));
  });

  it('throws nothing but AcnConfigError on arbitrary settings', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('__proto__', 'constructor', '127.0.0.1:9051', '/tmp/x', 'system'),
      fc.constant(undefined),
    );
    const list = fc.option(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constant(`192.0.2.1:443 ${FP}`)), { maxLength: 3 }), { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          torControl: value,
          torSocks: value,
          torCookie: value,
          torControlPassword: value,
          torPreset: value,
          torDataDir: value,
          torBinary: value,
          torrcFile: value,
          transportPlugin: value,
          bridges: list,
          torrcLines: list,
        }),
        (settings) => {
          try {
            expect(['external', 'managed']).toContain(planAcn({ tor: true, ...(settings as AcnConfig) }).kind);
          } catch (err) {
            expect(err).toBeInstanceOf(AcnConfigError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('acnFromConfig', () => {
  it('opens loopback and external tor synchronously, with the password, and refuses a managed tor', async () => {
    const loop = acnFromConfig({});
    expect(loop).toBeInstanceOf(LoopbackACN);
    await loop.close();
    const tor = acnFromConfig({ tor: true, torPreset: 'tor-browser', torControlPassword: PASSWORD });
    expect(tor).toBeInstanceOf(TorACN);
    await tor.close();
    expect(configError(() => acnFromConfig({ tor: true, torDataDir: '/d' })).message).toContain('openAcn');
  });
});

describe('readTorrcFile', () => {
  it('returns the lines of a torrc file without comments and blank lines', async () => {
    const file = join(root, 'extra.torrc');
    await writeFile(file, '# join the test network\nTestingTorNetwork 1\r\n\n   \nDirAuthority a orport=1 no-v2 v3ident=AB 127.0.0.1:2 CD\nSafeLogging\n');
    expect(await readTorrcFile(file)).toEqual(['TestingTorNetwork 1', 'DirAuthority a orport=1 no-v2 v3ident=AB 127.0.0.1:2 CD', 'SafeLogging']);
  });

  it('refuses a missing file, a directory, a file over 64 KiB, invalid UTF-8, and a bad line (with its number)', async () => {
    await expect(readTorrcFile(join(root, 'missing'))).rejects.toThrow(AcnConfigError);
    await mkdir(join(root, 'a-dir'), { recursive: true });
    await expect(readTorrcFile(join(root, 'a-dir'))).rejects.toThrow(/not a regular file/);
    await writeFile(join(root, 'big'), `# ${'x'.repeat(64 * 1024)}\n`);
    await expect(readTorrcFile(join(root, 'big'))).rejects.toThrow(/larger than/);
    await writeFile(join(root, 'latin1'), Buffer.from([0x4e, 0x69, 0x63, 0x6b, 0x6e, 0x61, 0x6d, 0x65, 0x20, 0xe9, 0x0a]));
    await expect(readTorrcFile(join(root, 'latin1'))).rejects.toThrow(/UTF-8/);
    await writeFile(join(root, 'bad-line'), 'TestingTorNetwork 1\n# ok\n__OwningControllerProcess 1\n');
    await expect(readTorrcFile(join(root, 'bad-line'))).rejects.toThrow(/--torrc-file: file line 3/);
  });
});

describe('openAcn', () => {
  it('opens loopback and an external tor without starting anything', async () => {
    const loop = await openAcn({ loopbackRegistry: join(root, 'registry') });
    expect(loop).toBeInstanceOf(LoopbackACN);
    await loop.close();
    const tor = await openAcn({ tor: true, torControl: '127.0.0.1:9051', torControlPassword: PASSWORD });
    expect(tor).toBeInstanceOf(TorACN);
    await tor.close();
  });

  it('refuses bad managed settings, an unreadable torrc file or a missing tor before creating the data directory', async () => {
    const dataDir = join(root, 'managed-never');
    await expect(openAcn({ tor: true, torDataDir: dataDir, torrcLines: ['ControlPort 1'] })).rejects.toThrow(AcnConfigError);
    await expect(openAcn({ tor: true, torDataDir: dataDir, torrcFile: join(root, 'missing') })).rejects.toThrow(AcnConfigError);
    // Transport needed, plugin named but nowhere on PATH.
    await expect(
      openAcn({ tor: true, torDataDir: dataDir, bridges: [`obfs4 192.0.2.1:443 ${FP} cert=x`], transportPlugin: 'no-such-transport-plugin' }),
    ).rejects.toThrow(AcnConfigError);
    await expect(openAcn({ tor: true, torDataDir: dataDir, torBinary: join(root, 'no-tor') })).rejects.toThrow(TorNotFoundError);
    await expect(stat(dataDir)).rejects.toThrow();
  });
});

describe('where a managed tor keeps its state', () => {
  it('defaults to <program data dir>/tor, an explicit --tor-data-dir wins, and an external tor gets neither', () => {
    const managed = (plan: ReturnType<typeof planAcn>) => (plan.kind === 'managed' ? plan.launch.dataDir : undefined);
    expect(managed(planAcn({ tor: true }, { programDataDir: '/home/a/.pursuance' }))).toBe('/home/a/.pursuance/tor');
    expect(managed(planAcn({ tor: true, torDataDir: '/elsewhere' }, { programDataDir: '/home/a/.pursuance' }))).toBe('/elsewhere');
    expect(() => planAcn({ tor: true })).toThrow(/--tor-data-dir is needed/);
    expect(planAcn({ tor: true, torPreset: 'system' }, { programDataDir: '/home/a/.pursuance' }).kind).toBe('external');
  });
});

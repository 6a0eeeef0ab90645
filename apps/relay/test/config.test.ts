import { describe, expect, it } from 'vitest';
import { ACN_SETTINGS } from '@pursuance/tapir';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonError } from '../src/errors.js';
import { DEFAULTS, readConfigFile, relayProgram, resolveConfig, type ConfigFile } from '../src/config.js';

/** Parse argv + env with the real commander definition, then merge the config file. */
function configFrom(argv: string[], env: Record<string, string> = {}, file: ConfigFile = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const program = relayProgram()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    program.parse(argv, { from: 'user' });
    return resolveConfig(program.opts(), (key) => program.getOptionValueSource(key), file);
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('relay configuration', () => {
  it('uses the defaults when nothing is given', () => {
    expect(configFrom([])).toMatchObject({
      dataDir: DEFAULTS.dataDir,
      powDifficulty: 16,
      maxStorageMb: 0,
      metrics: true,
      metricsPort: 9464,
      acn: {},
      logLevel: 'info',
    });
  });

  it('takes the config file over defaults, env over the file, and flags over env', () => {
    const file: ConfigFile = { powDifficulty: 20, maxStorageMb: 5, metricsPort: 9000, logLevel: 'warn', tor: true };
    expect(configFrom([], {}, file)).toMatchObject({ powDifficulty: 20, maxStorageMb: 5, metricsPort: 9000, logLevel: 'warn', acn: { tor: true } });
    expect(configFrom([], { PURSUANCE_RELAY_POW_DIFFICULTY: '12' }, file)).toMatchObject({ powDifficulty: 12, maxStorageMb: 5 });
    expect(configFrom(['--pow-difficulty', '8'], { PURSUANCE_RELAY_POW_DIFFICULTY: '12' }, file)).toMatchObject({ powDifficulty: 8 });
    expect(configFrom(['--no-metrics'], {}, { metrics: true })).toMatchObject({ metrics: false });
    expect(configFrom(['--max-storage-mb', '0'], {}, file)).toMatchObject({ maxStorageMb: 0 });
  });

  it('takes every shared network setting (tapir ACN_SETTINGS) from flags, env or the file, flags first', () => {
    const flags = relayProgram().options.map((o) => o.long);
    for (const s of ACN_SETTINGS) expect(flags).toContain(s.flag.split(' ')[0]);
    const file: ConfigFile = { tor: true, bridges: ['from file'], torrcLines: ['A 1'], torControlPassword: 'in the file' };
    expect(configFrom([], {}, file).acn).toEqual({ tor: true, bridges: ['from file'], torrcLines: ['A 1'], torControlPassword: 'in the file' });
    expect(configFrom(['--bridge', 'x', '--bridge', 'y'], {}, file).acn).toMatchObject({ bridges: ['x', 'y'], torrcLines: ['A 1'] });
    expect(configFrom([], { PURSUANCE_TOR_PRESET: 'tor-browser' }, file).acn).toMatchObject({ torPreset: 'tor-browser', tor: true });
  });

  it('refuses out-of-range and non-numeric values', () => {
    expect(() => configFrom(['--pow-difficulty', '33'])).toThrow(/integer in \[0, 32\]/);
    expect(() => configFrom(['--metrics-port', '-1'])).toThrow();
    expect(() => configFrom(['--max-connections', '1e3'])).toThrow(/integer/);
    expect(() => configFrom([], { PURSUANCE_RELAY_HANDSHAKE_TIMEOUT_MS: 'soon' })).toThrow(/integer/);
    expect(() => configFrom(['--log-level', 'chatty'])).toThrow();
  });

  it('refuses a config file whose network keys are hostile: prototype names, wrong types, absurd lists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-config-'));
    try {
      const cases = [
        '{"__proto__": {"tor": true}}',
        '{"constructor": "x"}',
        '{"tor": "yes"}',
        '{"torPreset": "__proto__"}',
        '{"bridges": "obfs4 1.2.3.4:443 AAAA"}',
        '{"bridges": [""]}',
        `{"torrcLines": ${JSON.stringify(Array.from({ length: 257 }, (_, i) => `Opt${i} 1`))}}`,
        '{"torControlPassword": ""}',
      ];
      for (const [i, text] of cases.entries()) {
        const path = join(dir, `c${i}.json`);
        await writeFile(path, text);
        const err = await readConfigFile(path).catch((e: unknown) => e);
        expect(err, text.slice(0, 40)).toBeInstanceOf(DaemonError);
        expect((err as DaemonError).exitCode, text.slice(0, 40)).toBe(2);
      }
      expect(({} as Record<string, unknown>).tor).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

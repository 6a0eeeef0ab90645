import { describe, expect, it } from 'vitest';
import { ACN_SETTINGS } from '@pursuance/tapir';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonError, ExitCode } from '../src/errors.js';
import { DEFAULTS, readConfigFile, relayProgram, type ConfigFile } from '../src/config.js';
import { configFrom } from './support/config-from.js';

describe('relay configuration', () => {
  it('uses the defaults when nothing is given', () => {
    expect(configFrom([])).toMatchObject({
      dataDir: DEFAULTS.dataDir,
      powDifficulty: 16,
      maxStorageMb: 1024,
      retentionDays: 30,
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

  it('bounds storage by default and takes the cap and the retention window from the file, env or flags', () => {
    // Bounded unless the operator says otherwise: 1024 MB (256,000 messages) and 30 days.
    expect(DEFAULTS).toMatchObject({ maxStorageMb: 1024, retentionDays: 30 });
    const file: ConfigFile = { maxStorageMb: 64, retentionDays: 7 };
    expect(configFrom([], {}, file)).toMatchObject({ maxStorageMb: 64, retentionDays: 7 });
    expect(configFrom([], { PURSUANCE_RELAY_RETENTION_DAYS: '3', PURSUANCE_RELAY_MAX_STORAGE_MB: '10' }, file)).toMatchObject({
      maxStorageMb: 10,
      retentionDays: 3,
    });
    expect(configFrom(['--retention-days', '1', '--max-storage-mb', '2'], { PURSUANCE_RELAY_RETENTION_DAYS: '3' }, file)).toMatchObject({
      maxStorageMb: 2,
      retentionDays: 1,
    });
    // 0 is the explicit opt-out of each (unlimited size, kept until the cap).
    expect(configFrom(['--retention-days', '0', '--max-storage-mb', '0'])).toMatchObject({ maxStorageMb: 0, retentionDays: 0 });
    expect(configFrom([], {}, { retentionDays: 0 })).toMatchObject({ retentionDays: 0 });
    expect(relayProgram().helpInformation()).toContain('--retention-days');
  });

  it('takes the fetch bucket length (an hour by default) from the file, env or flags, within a minute and a week', () => {
    expect(configFrom([]).bucketSeconds).toBe(3600);
    expect(configFrom([], {}, { bucketSeconds: 86_400 }).bucketSeconds).toBe(86_400);
    expect(configFrom([], { PURSUANCE_RELAY_BUCKET_SECONDS: '600' }, { bucketSeconds: 86_400 }).bucketSeconds).toBe(600);
    expect(configFrom(['--bucket-seconds', '60'], { PURSUANCE_RELAY_BUCKET_SECONDS: '600' }).bucketSeconds).toBe(60);
    expect(configFrom(['--bucket-seconds', '604800']).bucketSeconds).toBe(604_800);
    for (const bad of ['59', '604801', '0', '-60', '1.5', 'hourly', '']) {
      expect(() => configFrom(['--bucket-seconds', bad]), bad).toThrow(/integer in \[60, 604800\]/);
    }
    expect(relayProgram().helpInformation()).toContain('--bucket-seconds');
  });

  it('refuses negative, huge and non-numeric storage settings from flags, env and the file (exit 2)', async () => {
    for (const flag of ['--max-storage-mb', '--retention-days']) {
      for (const bad of ['-1', '1000001', '99999999999999999999', 'lots', '1.5', '1e3', '0x10', '']) {
        expect(() => configFrom([flag, bad]), `${flag} ${bad}`).toThrow(/integer in \[0, /);
      }
    }
    expect(() => configFrom([], { PURSUANCE_RELAY_RETENTION_DAYS: 'forever' })).toThrow(/integer in \[0, 36500\]/);
    expect(() => configFrom([], { PURSUANCE_RELAY_RETENTION_DAYS: '36501' })).toThrow(/integer/);
    expect(() => configFrom([], { PURSUANCE_RELAY_MAX_STORAGE_MB: '-5' })).toThrow(/integer in \[0, 1000000\]/);
    const dir = await mkdtemp(join(tmpdir(), 'relay-config-'));
    try {
      const cases = [
        { maxStorageMb: -1 },
        { maxStorageMb: 1_000_001 },
        { maxStorageMb: 1.5 },
        { maxStorageMb: '1024' },
        { maxStorageMb: null },
        { retentionDays: -30 },
        { retentionDays: 1e9 },
        { retentionDays: 'a month' },
        { retentionDays: Number.MAX_SAFE_INTEGER + 2 },
      ];
      for (const [i, value] of cases.entries()) {
        const path = join(dir, `s${i}.json`);
        await writeFile(path, JSON.stringify(value));
        const err = await readConfigFile(path).catch((e: unknown) => e);
        expect(err, JSON.stringify(value)).toBeInstanceOf(DaemonError);
        expect((err as DaemonError).exitCode, JSON.stringify(value)).toBe(ExitCode.usage);
        expect((err as DaemonError).message).toMatch(/maxStorageMb|retentionDays/);
      }
      await writeFile(join(dir, 'ok.json'), JSON.stringify({ maxStorageMb: 1, retentionDays: 36_500 }));
      expect(await readConfigFile(join(dir, 'ok.json'))).toEqual({ maxStorageMb: 1, retentionDays: 36_500 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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

describe('proof-of-work settings (issue 15: handshake admission and session renewal)', () => {
  it('default to a 16-connection threshold, 12 bits rising to at most 20, and 14 bits per renewal', () => {
    expect(configFrom([])).toMatchObject({ handshakePowThreshold: 16, handshakePowBits: 12, handshakePowMaxBits: 20, renewalPowBits: 14 });
    // The threshold sits below the pending-handshake limit, so work is asked before the pool is full.
    expect(DEFAULTS.handshakePowThreshold).toBeLessThan(DEFAULTS.maxPendingHandshakes);
  });

  it('come from the file, env over the file, flags over env', () => {
    const file: ConfigFile = { handshakePowThreshold: 8, handshakePowBits: 10, handshakePowMaxBits: 18, renewalPowBits: 12 };
    expect(configFrom([], {}, file)).toMatchObject(file);
    expect(
      configFrom([], { PURSUANCE_RELAY_HANDSHAKE_POW_BITS: '11', PURSUANCE_RELAY_RENEWAL_POW_BITS: '0', PURSUANCE_RELAY_HANDSHAKE_POW_THRESHOLD: '4' }, file),
    ).toMatchObject({ handshakePowThreshold: 4, handshakePowBits: 11, handshakePowMaxBits: 18, renewalPowBits: 0 });
    expect(
      configFrom(
        ['--handshake-pow-bits', '0', '--handshake-pow-max-bits', '24', '--renewal-pow-bits', '16', '--handshake-pow-threshold', '32'],
        { PURSUANCE_RELAY_HANDSHAKE_POW_BITS: '11', PURSUANCE_RELAY_RENEWAL_POW_BITS: '0' },
        file,
      ),
    ).toMatchObject({ handshakePowThreshold: 32, handshakePowBits: 0, handshakePowMaxBits: 24, renewalPowBits: 16 });
  });

  it('refuse out-of-range values and a cap below the base (exit 2)', async () => {
    for (const flag of ['--handshake-pow-bits', '--handshake-pow-max-bits', '--renewal-pow-bits']) {
      for (const bad of ['33', '-1', 'many', '1.5']) expect(() => configFrom([flag, bad]), `${flag} ${bad}`).toThrow(/integer in \[0, 32\]/);
    }
    expect(() => configFrom(['--handshake-pow-threshold', '0'])).toThrow(/integer in \[1, 100000\]/);
    expect(() => configFrom([], { PURSUANCE_RELAY_RENEWAL_POW_BITS: 'lots' })).toThrow(/integer/);
    const capped = (() => {
      try {
        return configFrom(['--handshake-pow-bits', '16', '--handshake-pow-max-bits', '12']);
      } catch (e) {
        return e;
      }
    })();
    expect(capped).toBeInstanceOf(DaemonError);
    expect((capped as DaemonError).exitCode).toBe(ExitCode.usage);
    const dir = await mkdtemp(join(tmpdir(), 'relay-config-'));
    try {
      const path = join(dir, 'c.json');
      await writeFile(path, '{"renewalPowBits": 40}');
      const err = await readConfigFile(path).catch((e: unknown) => e);
      expect((err as DaemonError).exitCode).toBe(ExitCode.usage);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULTS, relayProgram, resolveConfig, type ConfigFile } from '../src/config.js';

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
      tor: false,
      logLevel: 'info',
    });
  });

  it('takes the config file over defaults, env over the file, and flags over env', () => {
    const file: ConfigFile = { powDifficulty: 20, maxStorageMb: 5, metricsPort: 9000, logLevel: 'warn', tor: true };
    expect(configFrom([], {}, file)).toMatchObject({ powDifficulty: 20, maxStorageMb: 5, metricsPort: 9000, logLevel: 'warn', tor: true });
    expect(configFrom([], { PURSUANCE_RELAY_POW_DIFFICULTY: '12' }, file)).toMatchObject({ powDifficulty: 12, maxStorageMb: 5 });
    expect(configFrom(['--pow-difficulty', '8'], { PURSUANCE_RELAY_POW_DIFFICULTY: '12' }, file)).toMatchObject({ powDifficulty: 8 });
    expect(configFrom(['--no-metrics'], {}, { metrics: true })).toMatchObject({ metrics: false });
    expect(configFrom(['--max-storage-mb', '0'], {}, file)).toMatchObject({ maxStorageMb: 0 });
  });

  it('refuses out-of-range and non-numeric values', () => {
    expect(() => configFrom(['--pow-difficulty', '33'])).toThrow(/integer in \[0, 32\]/);
    expect(() => configFrom(['--metrics-port', '-1'])).toThrow();
    expect(() => configFrom(['--max-connections', '1e3'])).toThrow(/integer/);
    expect(() => configFrom([], { PURSUANCE_RELAY_HANDSHAKE_TIMEOUT_MS: 'soon' })).toThrow(/integer/);
    expect(() => configFrom(['--log-level', 'chatty'])).toThrow();
  });
});

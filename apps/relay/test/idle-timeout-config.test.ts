import { describe, expect, it } from 'vitest';
import { DEFAULT_IDLE_TIMEOUT_MS } from '@pursuance/relay';
import { ConfigFileSchema, DEFAULTS, relayProgram, resolveConfig, type ConfigFile } from '../src/config.js';

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
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('the board idle timeout setting', () => {
  it('defaults to the relay library default and is set from the file, env and flag in that order', () => {
    expect(DEFAULTS.idleTimeoutMs).toBe(DEFAULT_IDLE_TIMEOUT_MS);
    expect(configFrom([]).idleTimeoutMs).toBe(DEFAULT_IDLE_TIMEOUT_MS);
    expect(configFrom([], {}, { idleTimeoutMs: 5_000 }).idleTimeoutMs).toBe(5_000);
    expect(configFrom([], { PURSUANCE_RELAY_IDLE_TIMEOUT_MS: '7000' }, { idleTimeoutMs: 5_000 }).idleTimeoutMs).toBe(7_000);
    expect(configFrom(['--idle-timeout-ms', '0'], { PURSUANCE_RELAY_IDLE_TIMEOUT_MS: '7000' }).idleTimeoutMs).toBe(0);
  });

  it('refuses values outside its range', () => {
    expect(() => configFrom(['--idle-timeout-ms', '-1'])).toThrow(/integer/);
    expect(() => configFrom(['--idle-timeout-ms', '1.5'])).toThrow(/integer/);
    expect(() => configFrom(['--idle-timeout-ms', String(86_400_001)])).toThrow(/integer/);
    expect(ConfigFileSchema.safeParse({ idleTimeoutMs: -1 }).success).toBe(false);
    expect(ConfigFileSchema.safeParse({ idleTimeoutMs: 60_000 }).success).toBe(true);
  });
});

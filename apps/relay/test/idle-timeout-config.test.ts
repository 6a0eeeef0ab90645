import { describe, expect, it } from 'vitest';
import { DEFAULT_IDLE_TIMEOUT_MS } from '@pursuance/relay';
import { ConfigFileSchema, DEFAULTS } from '../src/config.js';
import { configFrom } from './support/config-from.js';

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

import { describe, expect, it } from 'vitest';
import { ACN_SETTINGS, AcnConfigFileSchema, acnConfigFromFlags, flagAttribute } from '../src/index.js';

describe('the shared network settings table', () => {
  it('names each value as CLI libraries do', () => {
    expect(flagAttribute('--tor')).toBe('tor');
    expect(flagAttribute('--tor-data-dir <dir>')).toBe('torDataDir');
    expect(flagAttribute('--tor-transport-plugin <plugin>')).toBe('torTransportPlugin');
  });

  it('covers every config-file network key but the password (which is never a flag), each once', () => {
    const keys = ACN_SETTINGS.map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(ACN_SETTINGS.map((s) => s.env)).size).toBe(keys.length);
    expect([...keys, 'torControlPassword'].sort()).toEqual(Object.keys(AcnConfigFileSchema.shape).sort());
  });

  it('maps parsed flags onto AcnConfig keys, leaving absent and foreign values out', () => {
    const flags = { tor: true, bridge: ['a'], torrcLine: ['X 1'], torTransportPlugin: 'obfs4proxy', torDataDir: undefined, port: '7878' };
    expect(acnConfigFromFlags(flags)).toEqual({ tor: true, bridges: ['a'], torrcLines: ['X 1'], transportPlugin: 'obfs4proxy' });
  });

  it('reads only own properties: prototype names in parsed input add nothing', () => {
    const hostile = JSON.parse('{"__proto__": {"tor": true}, "constructor": "x"}') as Record<string, unknown>;
    expect(acnConfigFromFlags(hostile)).toEqual({});
    expect(acnConfigFromFlags(Object.create({ tor: true }) as Record<string, unknown>)).toEqual({});
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeNetwork } from '../src/lib/network.js';
import type { NetworkStatus } from '../src/lib/types.js';

const up: NetworkStatus = {
  state: 'up',
  bootstrap: { progress: 100, summary: 'Done' },
  version: '0.4.9.11',
  circuitsOk: true,
  outages: 0,
  lastDownAt: null,
  lastUpAt: 1,
  lastError: null,
};

describe('describeNetwork', () => {
  it('names the network and tor state in words', () => {
    expect(describeNetwork('tor', up)).toEqual({ headline: 'Tor 0.4.9.11: connected', details: ['circuits established'] });
    expect(describeNetwork('tor', { ...up, circuitsOk: false }).details).toEqual(['no circuit yet: peers may be unreachable']);
    expect(describeNetwork('tor', { ...up, state: 'connecting', version: null, bootstrap: { progress: 45, summary: 'Loading relay descriptors' } })).toEqual({
      headline: 'Tor: connecting',
      details: ['bootstrapping 45 %: Loading relay descriptors'],
    });
    expect(describeNetwork('tor', { ...up, state: 'closed' }).headline).toBe('Tor 0.4.9.11: stopped');
    expect(describeNetwork('tor', null).headline).toBe('Tor (no status reported)');
    expect(describeNetwork('loopback', up).headline).toMatch(/^loopback network/);
  });

  it('counts outages in the singular and plural, and says when tor came back', () => {
    expect(describeNetwork('tor', { ...up, outages: 1, lastDownAt: 10, lastUpAt: 20 }).details[1]).toMatch(/^1 outage since start, last lost .+, back since /);
    const down = describeNetwork('tor', { ...up, state: 'down', outages: 2, lastDownAt: 10 }).details;
    expect(down).toHaveLength(1);
    expect(down[0]).toMatch(/^2 outages since start, last lost /);
    expect(down[0]).not.toContain('back since');
  });

  it('gives one non-empty headline for any status a node could send (property)', () => {
    const status = fc.record({
      state: fc.constantFrom('connecting', 'up', 'down', 'closed'),
      bootstrap: fc.option(fc.record({ progress: fc.integer({ min: 0, max: 100 }), summary: fc.string() })),
      version: fc.option(fc.string()),
      circuitsOk: fc.boolean(),
      outages: fc.nat(),
      lastDownAt: fc.option(fc.nat()),
      lastUpAt: fc.option(fc.nat()),
      lastError: fc.option(fc.constantFrom('ACN_CONTROL', 'ACN_CLOSED', '__proto__', 'constructor')),
    }) as fc.Arbitrary<NetworkStatus>;
    fc.assert(
      fc.property(status, (s) => {
        const d = describeNetwork('tor', s);
        expect(d.headline.length).toBeGreaterThan(0);
        expect(d.details.every((x) => x.length > 0)).toBe(true);
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcnConfigError, LoopbackACN, acnFromConfig } from '../src/index.js';
import { TorACN } from '../src/acn/tor-acn.js';
import { parseHostPort } from '../src/acn/acn-config.js';

describe('parseHostPort', () => {
  it('takes every host:port with a port in 1…65535 and gives both back', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.-]{1,30}$/), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(parseHostPort(`${host}:${port}`, '--x')).toEqual({ host, port });
      }),
    );
  });

  it('refuses port 0, ports above 65535, a missing port or host, spaces and extra colons as AcnConfigError naming the setting', () => {
    for (const bad of [
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '127.0.0.1:999999',
      '127.0.0.1',
      ':9050',
      '127.0.0.1:',
      ' 127.0.0.1:9050',
      'a:b:9050',
      '[::1]:9050',
      'host:-1',
      '',
    ]) {
      let caught: unknown;
      try {
        parseHostPort(bad, '--tor-socks');
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(AcnConfigError);
      expect((caught as AcnConfigError).code).toBe('ACN_CONFIG');
      expect((caught as Error).message).toContain('--tor-socks must be host:port');
    }
  });

  it('never throws anything but AcnConfigError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const { port } = parseHostPort(text, '--x');
          expect(port).toBeGreaterThanOrEqual(1);
          expect(port).toBeLessThanOrEqual(65535);
        } catch (err) {
          expect(err).toBeInstanceOf(AcnConfigError);
        }
      }),
    );
  });
});

describe('acnFromConfig', () => {
  it('is the loopback network unless tor is asked for, and a tor daemon when it is', async () => {
    const loop = acnFromConfig({});
    expect(loop).toBeInstanceOf(LoopbackACN);
    await loop.close();
    const tor = acnFromConfig({ tor: true, torControl: '127.0.0.1:9151', torSocks: '127.0.0.1:9150' });
    expect(tor).toBeInstanceOf(TorACN);
    await tor.close();
  });

  it('checks the tor settings before opening anything', () => {
    expect(() => acnFromConfig({ tor: true, torControl: 'localhost' })).toThrow(AcnConfigError);
    expect(() => acnFromConfig({ tor: true, torSocks: '127.0.0.1:70000' })).toThrow(/--tor-socks/);
  });
});

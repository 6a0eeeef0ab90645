import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORT, portChoice, portNotice } from '../src/commands/node.js';
import { CliError, ExitCode } from '../src/errors.js';

describe('--port', () => {
  it('left out: the data dir’s own port, 7878 the first time; 0: its own port, any free one the first time', () => {
    expect(DEFAULT_PORT).toBe(7878);
    expect(portChoice(undefined)).toEqual({ stable: true, firstChoice: 7878 });
    expect(portChoice('0')).toEqual({ stable: true });
  });

  it('any other port is exactly that port; anything else is a usage error (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), (port) => {
        expect(portChoice(String(port))).toBe(port);
      }),
    );
    for (const bad of ['', '-1', '65536', '80.5', '0x50', ' 80', '1e3', 'http']) {
      let err: unknown;
      try {
        portChoice(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(ExitCode.usage);
    }
  });

  it('says so only when the dashboard is not where the data dir’s bookmarks point', () => {
    expect(portNotice({ kind: 'given' }, 9000)).toBeUndefined();
    expect(portNotice({ kind: 'remembered' }, 9000)).toBeUndefined();
    expect(portNotice({ kind: 'chosen' }, 9000)).toBeUndefined();
    expect(portNotice({ kind: 'chosen', busy: 7878 }, 9000)).toBe("dashboard: port 7878 is in use; this data dir's dashboard is now on 9000");
    expect(portNotice({ kind: 'moved', remembered: 7878 }, 9000)).toBe("dashboard: port 7878, this data dir's, is in use; serving on 9000 for this run only");
  });
});

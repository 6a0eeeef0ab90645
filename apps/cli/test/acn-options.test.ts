import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { LoopbackACN } from '@pursuance/tapir';
import { makeAcn, withAcnOptions } from '../src/acn-options.js';
import { CliError, ExitCode } from '../src/errors.js';

describe('the CLI network flags', () => {
  it('default to the system tor ports and map onto the shared ACN configuration', async () => {
    const cmd = withAcnOptions(new Command('x')).exitOverride();
    cmd.parse(['--tor-socks', '127.0.0.1:9150'], { from: 'user' });
    expect(cmd.opts()).toMatchObject({ torControl: '127.0.0.1:9051', torSocks: '127.0.0.1:9150' });
    const acn = makeAcn({});
    expect(acn).toBeInstanceOf(LoopbackACN);
    await acn.close();
  });

  it('turn a malformed tor port into a usage error (exit 2) naming the flag', () => {
    let caught: unknown;
    try {
      makeAcn({ tor: true, torControl: '127.0.0.1:0' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as CliError).exitCode).toBe(ExitCode.usage);
    expect((caught as Error).message).toMatch(/^--tor-control must be host:port/);
  });
});

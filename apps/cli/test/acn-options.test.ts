import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACN_SETTINGS, LoopbackACN, acnConfigFromFlags } from '@pursuance/tapir';
import { addAcnOptions, openNetwork, withAcnOptions, type AcnFlags } from '../src/acn-options.js';
import { CliError, ExitCode } from '../src/errors.js';

/** A command marked as talking to peers, once main.ts's dispatch has given it the network flags. */
async function networkCommand(): Promise<Command> {
  const command = withAcnOptions(new Command('x')).exitOverride();
  await addAcnOptions(command);
  return command;
}
const parse = async (args: string[]): Promise<AcnFlags> => (await networkCommand()).parse(args, { from: 'user' }).opts();

async function refusal(p: Promise<unknown>): Promise<CliError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-acn-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the CLI network flags', () => {
  it('offer every shared network setting, with no tor address defaulted (so --tor alone means a tor of our own)', async () => {
    expect(withAcnOptions(new Command('x')).options, 'added on dispatch, not when the command is defined').toEqual([]);
    const flags = (await networkCommand()).options.map((o) => o.long);
    for (const s of ACN_SETTINGS) expect(flags).toContain(s.flag.split(' ')[0]);
    const opts = await parse(['--tor', '--bridge', 'a', '--bridge', 'b', '--torrc-line', 'x 1']);
    expect(acnConfigFromFlags(opts)).toEqual({ tor: true, bridges: ['a', 'b'], torrcLines: ['x 1'] });
    expect(opts.torControl).toBeUndefined();
    expect(opts.torSocks).toBeUndefined();
  });

  it('open the loopback network without --tor', async () => {
    const opened = await openNetwork(await parse([]), { dataDir: dir });
    expect(opened).toBeInstanceOf(LoopbackACN);
    await opened.close();
  });

  it('turn bad or contradictory settings into usage errors (exit 2) naming the flag, before any tor starts', async () => {
    const badPort = await refusal(openNetwork(await parse(['--tor', '--tor-control', '127.0.0.1:0'])));
    expect(badPort.exitCode).toBe(ExitCode.usage);
    expect(badPort.message).toMatch(/^--tor-control must be host:port/);
    const contradictory = await refusal(
      openNetwork(await parse(['--tor', '--tor-control', '127.0.0.1:9051', '--bridge', 'obfs4 1.2.3.4:443 AAAA']), { dataDir: dir }),
    );
    expect(contradictory.exitCode).toBe(ExitCode.usage);
    expect(contradictory.message).toMatch(/--bridge/);
    const injected = await refusal(openNetwork(await parse(['--tor', '--torrc-line', 'ControlPort 9999']), { dataDir: dir }));
    expect(injected.exitCode).toBe(ExitCode.usage);
    const noDir = await refusal(openNetwork(await parse(['--tor'])));
    expect(noDir.message).toMatch(/--tor-data-dir/);
  });

  it('read an external tor control password from a file, never echoing it in an error', async () => {
    await writeFile(join(dir, 'pw'), 'hunter2-control\n');
    const missing = await refusal(openNetwork(await parse(['--tor', '--tor-control', '127.0.0.1:9051', '--tor-control-password-file', join(dir, 'nope')])));
    expect(missing.exitCode).toBe(ExitCode.usage);
    // With a password but no tor control address, the password has no tor to go to.
    const stray = await refusal(openNetwork(await parse(['--tor', '--tor-control-password-file', join(dir, 'pw')]), { dataDir: dir }));
    expect(stray.message).toMatch(/--tor-control-password/);
    expect(stray.message).not.toContain('hunter2');
  });
});

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { openNetwork, withAcnOptions, type AcnFlags } from '../acn-options.js';
import { dataDirOption } from '../data-dir.js';
import { CliError, ExitCode } from '../errors.js';
import { loadProfileIdentity as loadIdentity } from '../profile.js';
import { readPassword } from '../password.js';
import { untilSignal } from '../signals.js';

export function echoCommand(): Command {
  const cmd = new Command('echo').description('an authenticated tapir echo service, for checking connectivity');
  withAcnOptions(
    cmd
      .command('serve')
      .description('publish this profile’s identity and echo back whatever authenticated peers send')
      .addOption(dataDirOption())
      .option('--password-file <file>', 'read the password from this file'),
  ).action(async (opts: AcnFlags & { dataDir: string; passwordFile?: string }) => {
    const identity = await loadIdentity(opts.dataDir, await readPassword(opts, 'unlock'));
    const { TapirService } = await import('@pursuance/tapir');
    const { echoServiceApp } = await import('../echo-app.js');
    const acn = await openNetwork(opts, { dataDir: opts.dataDir });
    const service = new TapirService(acn, identity);
    service.on('established', (conn) => process.stderr.write(`peer connected: ${conn.remoteOnion ?? '?'}\n`));
    service.on('connectionError', (_conn, error) => process.stderr.write(`connection refused: ${error.code}\n`));
    await service.listen(echoServiceApp);
    const stopped = untilSignal();
    process.stdout.write(`listening ${identity.onion}\n`);
    await stopped;
    await service.close();
    await acn.close();
  });
  withAcnOptions(
    cmd
      .command('send')
      .description('connect with a throwaway identity, authenticate the service, send a message, print the reply')
      .argument('<onion>', 'the service’s onion address')
      .argument('<message>', 'text to send'),
  ).action(async (onionArg: string, message: string, opts: AcnFlags) => {
    const { Identity, InvalidOnionAddressError, parseOnionName } = await import('@pursuance/crypto');
    const { TapirError, TapirService } = await import('@pursuance/tapir');
    const { authOnly } = await import('../echo-app.js');
    let onion;
    try {
      onion = parseOnionName(onionArg);
    } catch (err) {
      if (err instanceof InvalidOnionAddressError) throw new CliError(`not an onion address: ${err.message}`, ExitCode.usage);
      throw err;
    }
    // A throwaway identity has no data dir: a tor we start for it keeps its cache under tmp.
    const acn = await openNetwork(opts, { dataDir: join(tmpdir(), 'pursuance-echo-send') });
    const client = new TapirService(acn, Identity.generate());
    try {
      const conn = await client.connect(onion, authOnly());
      await conn.send(new TextEncoder().encode(message));
      const reply = new TextDecoder().decode(await conn.expect());
      process.stdout.write(`${reply}\n`);
      conn.close();
    } catch (err) {
      if (err instanceof TapirError) throw new CliError(`${err.code}: ${err.message}`, ExitCode.unreachable);
      throw err;
    } finally {
      await client.close();
      await acn.close();
    }
  });
  return cmd;
}

import { Command, Option } from 'commander';
import { createProfileIdentity as createIdentity, loadProfileIdentity as loadIdentity, readProfileOnion as readPublicOnion } from '../profile.js';
import { readPassword } from '../password.js';

export function identityCommand(): Command {
  const cmd = new Command('identity').description('create or show this profile’s onion identity');
  cmd
    .command('create')
    .description('generate an ed25519 identity, seal it under a password, and print its onion address')
    .addOption(new Option('--data-dir <dir>', 'profile directory').default('.data/profile').env('PURSUANCE_DATA_DIR'))
    .option('--password-file <file>', 'read the password from this file')
    .action(async (opts: { dataDir: string; passwordFile?: string }) => {
      const password = await readPassword(opts, 'create');
      const identity = await createIdentity(opts.dataDir, password);
      process.stdout.write(`${identity.onion}\n`);
    });
  cmd
    .command('show')
    .description('print the onion address (add --verify to unlock the key and check it)')
    .addOption(new Option('--data-dir <dir>', 'profile directory').default('.data/profile').env('PURSUANCE_DATA_DIR'))
    .option('--verify', 'unlock the sealed key with the password and check it matches')
    .option('--password-file <file>', 'read the password from this file')
    .action(async (opts: { dataDir: string; verify?: boolean; passwordFile?: string }) => {
      if (opts.verify) {
        const identity = await loadIdentity(opts.dataDir, await readPassword(opts, 'unlock'));
        process.stdout.write(`${identity.onion}\n`);
      } else {
        process.stdout.write(`${await readPublicOnion(opts.dataDir)}\n`);
      }
    });
  return cmd;
}

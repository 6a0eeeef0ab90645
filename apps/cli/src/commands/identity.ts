import { Command, Option } from 'commander';
import { dataDirNotices, dataDirOption, writeNotices } from '../data-dir.js';
import { createProfileIdentity, loadProfileIdentity } from '../profile.js';
import { readPassword } from '../password.js';
import { nameFlag } from './node.js';

/**
 * The profile's identity is its Cwtch profile in the data dir: `identity create` makes the
 * profile `node start` opens (or would make on its first start), so both show one onion.
 */
export function identityCommand(): Command {
  const cmd = new Command('identity').description('create or show this profile’s onion identity (the one `node start` uses)');
  cmd
    .command('create')
    .description('create this profile: an ed25519 identity sealed under a password; prints its onion address')
    .addOption(dataDirOption())
    .option('--name <name>', 'your display name')
    .option('--password-file <file>', 'read the password from this file')
    .action(async function (this: Command, opts: { dataDir: string; name?: string; passwordFile?: string }) {
      const name = await nameFlag(opts.name);
      writeNotices(dataDirNotices(this, opts.dataDir));
      const password = await readPassword(opts, 'create');
      const identity = await createProfileIdentity(opts.dataDir, password, name);
      process.stdout.write(`${identity.onion}\n`);
    });
  cmd
    .command('show')
    .description('unlock this profile with its password and print its onion address')
    .addOption(dataDirOption())
    // Once needed to check the key; the password is always checked now (nothing names the
    // identity in the clear). Still accepted for scripts that pass it.
    .addOption(new Option('--verify').hideHelp())
    .option('--password-file <file>', 'read the password from this file')
    .action(async function (this: Command, opts: { dataDir: string; passwordFile?: string }) {
      writeNotices(dataDirNotices(this, opts.dataDir));
      const identity = await loadProfileIdentity(opts.dataDir, await readPassword(opts, 'unlock'));
      process.stdout.write(`${identity.onion}\n`);
    });
  return cmd;
}

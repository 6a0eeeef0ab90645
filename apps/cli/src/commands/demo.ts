import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { Identity } from '@pursuance/crypto';
import { LoopbackACN, TapirService } from '@pursuance/tapir';
import { authOnly, echoServiceApp } from '../echo-app.js';
import { identityPath } from '@pursuance/node/identity';
import { createProfileIdentity as createIdentity, loadProfileIdentity as loadIdentity } from '../profile.js';
import { readPassword } from '../password.js';
import { untilSignal } from '../signals.js';
import { access } from 'node:fs/promises';

/**
 * What `npm start` runs at this stage of the project: create (or unlock) the profile identity,
 * publish it on a private loopback network, and prove an authenticated, encrypted round trip
 * from a second identity. Later milestones grow this into the relay + three-node demo.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('create or unlock a profile identity and run an authenticated echo over the loopback network')
    .addOption(new Option('--data-dir <dir>', 'profile directory').default('.data/demo').env('PURSUANCE_DATA_DIR'))
    .option('--password-file <file>', 'read the password from this file')
    .option('--serve', 'keep serving after the round trip until Ctrl-C')
    .action(async (opts: { dataDir: string; passwordFile?: string; serve?: boolean }) => {
      const exists = await access(identityPath(opts.dataDir)).then(() => true, () => false);
      const password = await readPassword(opts, exists ? 'unlock' : 'create');
      const identity = exists ? await loadIdentity(opts.dataDir, password) : await createIdentity(opts.dataDir, password);
      process.stdout.write(`${exists ? 'unlocked' : 'created'} identity ${identity.onion} in ${opts.dataDir}\n`);

      const registryDir = await mkdtemp(join(tmpdir(), 'pursuance-demo-'));
      const acn = new LoopbackACN({ registryDir });
      const service = new TapirService(acn, identity);
      const visitor = new TapirService(acn, Identity.generate());
      try {
        await service.listen(echoServiceApp);
        process.stdout.write(`listening on the loopback network as ${identity.onion}.onion\n`);
        const started = performance.now();
        const conn = await visitor.connect(identity.onion, authOnly());
        const message = `hello from ${visitor.onion.slice(0, 8)}…`;
        await conn.send(new TextEncoder().encode(message));
        const reply = new TextDecoder().decode(await conn.expect());
        const ms = (performance.now() - started).toFixed(1);
        process.stdout.write(`3DH-authenticated ${conn.remoteOnion} from ${visitor.onion}; echo "${reply}" in ${ms} ms\n`);
        conn.close();
        if (opts.serve) {
          process.stdout.write('serving; press Ctrl-C to stop\n');
          await untilSignal();
        }
      } finally {
        await visitor.close();
        await service.close();
        await acn.close();
        await rm(registryDir, { recursive: true, force: true });
      }
    });
}

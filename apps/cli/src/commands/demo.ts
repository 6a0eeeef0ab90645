import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { publicKeyFromOnion } from '@pursuance/crypto';
import { LoopbackACN } from '@pursuance/tapir';
import type { startNode as startNodeFn } from '@pursuance/node';
import { CliError, ExitCode } from '../errors.js';
import { readPassword } from '../password.js';
import { untilSignal } from '../signals.js';

type RunningNode = Awaited<ReturnType<typeof startNodeFn>>;

const MEMBERS = [
  { name: 'founder', roles: [] as string[] },
  { name: 'alice', roles: ['member'] },
  { name: 'bob', roles: ['member', 'organizer'] },
] as const;

/** Start the relay daemon as a child process and read its key bundle from its stdout. */
async function startRelay(dataDir: string, registryDir: string, password: string): Promise<{ child: ChildProcess; bundle: string }> {
  const main = fileURLToPath(new URL('./main.js', import.meta.resolve('@pursuance/relay-daemon')));
  const child = spawn(process.execPath, [main, '--data-dir', dataDir, '--loopback-registry', registryDir, '--pow-difficulty', '8', '--no-metrics'], {
    env: { ...process.env, PURSUANCE_RELAY_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout });
  let bundle: string | undefined;
  for await (const line of lines) {
    if (line.startsWith('key-bundle ')) bundle = line.slice('key-bundle '.length);
    if (line === 'ready') break;
  }
  if (!bundle) throw new CliError('the relay did not start (see `pursuance relay start --help`)', ExitCode.failure);
  return { child, bundle };
}

/** Resolve once `predicate` holds on this node (re-checked on every change it takes in). */
function until(node: RunningNode, predicate: () => boolean): Promise<void> {
  return new Promise((done) => {
    const check = (): boolean => {
      try {
        return predicate();
      } catch {
        return false;
      }
    };
    if (check()) return done();
    const off = node.registry.onChange(() => {
      if (check()) {
        off();
        done();
      }
    });
  });
}

/**
 * A first run sets up a sample pursuance: the founder creates it from the activist-cell
 * template on the relay, adds alice (member) and bob (member + organizer), invites them,
 * they join from the invite; then tasks for members and one sealed to organizers only.
 */
async function seed(nodes: RunningNode[], bundle: string): Promise<string> {
  const [founder, alice, bob] = nodes as [RunningNode, RunningNode, RunningNode];
  const { RulesSchema } = await import('@pursuance/pursuance');
  const { loadTemplates, DEFAULT_TEMPLATES_DIR } = await import('@pursuance/node');
  const template = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!;
  const entry = await founder.registry.create({
    name: 'Demo cell',
    description: 'A sample pursuance made by `pursuance demo`.',
    rules: RulesSchema.parse(template.rules),
  });
  const id = entry.id;
  await founder.sync.attach(id, bundle);
  for (const [i, member] of MEMBERS.entries()) {
    if (i === 0) continue;
    await founder.registry.act(id, (a) => a.addMember(publicKeyFromOnion(nodes[i]!.identity.onion), { name: member.name, roles: member.roles }));
  }
  const invite = founder.sync.invite(id);
  for (const joiner of [alice, bob]) {
    await joiner.sync.accept(invite);
    await until(joiner, () => joiner.registry.get(id).log.stateHash() === founder.registry.get(id).log.stateHash());
  }
  const banner = await founder.registry.act(id, (a) =>
    a.createTask({ audience: ['member'], title: 'Paint the banner', body: 'Big letters, bright colours.', labels: ['art'] }),
  );
  await founder.registry.act(id, (a) => a.createTask({ audience: ['member'], title: 'Buy paint', parent: banner.id, labels: ['art', 'errand'] }));
  await founder.registry.act(id, (a) => a.createTask({ audience: ['member'], title: 'Flyers for Saturday', labels: ['outreach'] }));
  await founder.registry.act(id, (a) =>
    a.createTask({ audience: ['organizer'], title: 'Meet the lawyer (organizers only)', body: 'Sealed to the organizer role key.' }),
  );
  await until(alice, () => alice.registry.get(id).log.state().tasks.has(banner.id));
  await alice.registry.act(id, (a) => a.setStatus(banner.id, 'in-progress'));
  await alice.registry.act(id, (a) => a.comment(banner.id, 'I have the sheets and brushes.'));
  await until(bob, () => bob.registry.get(id).log.stateHash() === alice.registry.get(id).log.stateHash());
  return id;
}

/**
 * What `npm start` runs: a relay and three nodes (a founder and two members) on one loopback
 * network, each with its own data dir under --data-dir, a sample pursuance on the first run,
 * and each node's dashboard address and token. Ctrl-C stops everything.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run a demo network on this machine: a relay and three nodes with a sample pursuance')
    .addOption(new Option('--data-dir <dir>', 'where the demo keeps its relay and nodes').default('.data/demo').env('PURSUANCE_DEMO_DIR'))
    .option('--password-file <file>', 'read the password (used for every demo profile) from this file')
    .option('--once', 'set up, print the addresses, and exit (for scripts and tests)')
    .action(async (opts: { dataDir: string; passwordFile?: string; once?: boolean }) => {
      const root = resolve(opts.dataDir);
      const fresh = !existsSync(join(root, MEMBERS[0].name, 'profile.sqlite'));
      await mkdir(root, { recursive: true, mode: 0o700 });
      const password = await readPassword(opts, fresh ? 'create' : 'unlock');
      const registryDir = join(root, 'registry');
      const relay = await startRelay(join(root, 'relay'), registryDir, password);
      const { startNode } = await import('@pursuance/node');
      const nodes: RunningNode[] = [];
      const acns: LoopbackACN[] = [];
      try {
        for (const member of MEMBERS) {
          const acn = new LoopbackACN({ registryDir });
          acns.push(acn);
          nodes.push(await startNode({ dataDir: join(root, member.name), password, displayName: member.name, acn, logger: false, port: 0 }));
        }
        let id = nodes[0]!.registry.list()[0]?.id;
        if (id === undefined) {
          process.stdout.write('first run: creating the sample pursuance "Demo cell"…\n');
          id = await seed(nodes, relay.bundle);
        }
        for (const [i, member] of MEMBERS.entries()) {
          const n = nodes[i]!;
          const tasks = n.registry.has(id) ? [...n.registry.view(id).tasks.values()] : [];
          const readable = tasks.filter((t) => t.readable).length;
          process.stdout.write(`${member.name.padEnd(8)} ${n.url}/  token ${n.token}  (${n.identity.onion}; reads ${readable} of ${tasks.length} tasks)\n`);
        }
        process.stdout.write(`pursuance ${id}\n`);
        if (!opts.once) {
          const stopped = untilSignal();
          process.stdout.write('demo network running; press Ctrl-C to stop\n');
          await stopped;
        }
      } finally {
        for (const n of nodes) await n.close().catch(() => undefined);
        for (const a of acns) await a.close().catch(() => undefined);
        relay.child.kill('SIGTERM');
        await new Promise((done) => relay.child.once('exit', done));
      }
    });
}

import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import type { startNode as startNodeFn } from '@pursuance/node';
import type { LoopbackACN } from '@pursuance/tapir';
import { CliError, ExitCode } from '../errors.js';
import { relayDaemonMain } from '../relay-daemon.js';
import { readPassword } from '../password.js';
import { stopWithin } from '../signals.js';
import { portNotice } from './node.js';

type RunningNode = Awaited<ReturnType<typeof startNodeFn>>;

const MEMBERS = [
  { name: 'founder', roles: [] as string[] },
  { name: 'alice', roles: ['member'] },
  { name: 'bob', roles: ['member', 'organizer'] },
] as const;

/** The demo's relay daemon, a child process. */
interface RelayChild {
  readonly child: ChildProcess;
  readonly bundle: string;
  /** Resolves once it has exited and its output has been read: why it ended, and the exit code to pass on. */
  readonly closed: Promise<RelayEnd>;
  /** Its last one-line complaint (`pursuance-relay: <why>` on stderr), if any. */
  complaint(): string | undefined;
}

/**
 * Start the relay daemon as a child process and read its key bundle from its stdout. A relay
 * that does not start (a wrong password, its data dir in use…) fails the demo with the relay's
 * own message and exit code.
 */
async function startRelay(dataDir: string, registryDir: string, password: string): Promise<RelayChild> {
  const main = relayDaemonMain();
  const child = spawn(process.execPath, [main, '--data-dir', dataDir, '--loopback-registry', registryDir, '--pow-difficulty', '8', '--no-metrics'], {
    env: { ...process.env, PURSUANCE_RELAY_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C at the terminal reaches the demo alone, which stops the
    // relay once, in order (a second signal would make the relay skip its graceful stop).
    detached: true,
  });
  const closed = new Promise<RelayEnd>((resolve) =>
    child.once('close', (code, signal) =>
      resolve({
        exitCode: code !== null && code > 0 ? code : ExitCode.failure,
        why: code === null ? `it was killed (${signal ?? 'signal'})` : `it exited with code ${code}`,
      }),
    ),
  );
  // Never left behind: if the demo exits any other way (its stop budget, an uncaught error).
  const orphanGuard = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', orphanGuard);
  void closed.then(() => process.off('exit', orphanGuard));
  // stderr carries its JSON logs (read and dropped: a pipe nobody reads would stall the relay
  // once full) and, when it fails, one line saying why.
  let complaint: string | undefined;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith(RELAY_COMPLAINT)) complaint = line.slice(RELAY_COMPLAINT.length);
  });
  const bundle = await new Promise<string | undefined>((resolve) => {
    let announced: string | undefined;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('key-bundle ')) announced = line.slice('key-bundle '.length);
      if (line === 'ready') resolve(announced);
    });
    lines.on('close', () => resolve(undefined));
  });
  if (bundle === undefined) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const end = await closed;
    throw new CliError(`the demo's relay did not start: ${complaint ?? end.why}`, end.exitCode);
  }
  return { child, bundle, closed, complaint: () => complaint };
}

const RELAY_COMPLAINT = 'pursuance-relay: ';

/** In the demo's data dir: the relay's key bundle, as printed on the `relay bundle` line. */
const RELAY_BUNDLE_FILE = 'relay-bundle.txt';
/** The id of the sample pursuance the first run made: the one later runs report on. */
const PURSUANCE_ID_FILE = 'pursuance-id.txt';

/**
 * The demo's own sample pursuance on a later run. The founder may have made others in the
 * dashboard since, and the node lists them in no meaningful order, so the first run records
 * the id. A data dir from before that record: the oldest "Demo cell" the founder has (then
 * recorded). Undefined when the sample is gone: the caller seeds a new one.
 */
async function demoPursuance(root: string, founder: RunningNode): Promise<string | undefined> {
  const file = join(root, PURSUANCE_ID_FILE);
  const recorded = existsSync(file) ? (await readFile(file, 'utf8')).trim() : '';
  if (recorded && founder.registry.has(recorded)) return recorded;
  const sample = founder.registry
    .list()
    .filter((e) => e.log.state().name === 'Demo cell')
    .sort((a, b) => a.log.genesis.header.time - b.log.genesis.header.time || (a.id < b.id ? -1 : 1))[0];
  if (sample) await writeFile(file, `${sample.id}\n`, { mode: 0o600 });
  return sample?.id;
}

interface RelayEnd {
  readonly exitCode: number;
  readonly why: string;
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
  const { publicKeyFromOnion } = await import('@pursuance/crypto');
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
 * How long the demo's stop may take before it exits anyway (code 1): three nodes and the relay
 * close in parallel, well within this; what was acknowledged is already durable.
 */
const STOP_BUDGET_MS = 4_000;

/**
 * What `npm start` runs: a relay and three nodes (a founder and two members) on one loopback
 * network, each with its own data dir under --data-dir, a sample pursuance on the first run,
 * and each node's dashboard address, token and sign-in link (each node keeps its port from run
 * to run). Ctrl-C stops everything; a relay that fails stops the demo with the relay's message
 * and exit code.
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
      const signals = demoSignals();
      const nodes: RunningNode[] = [];
      const acns: LoopbackACN[] = [];
      let relay: RelayChild | undefined;
      let relayFailed: CliError | undefined;
      try {
        relay = await startRelay(join(root, 'relay'), registryDir, password);
        const { startNode, ProfilePasswordError } = await import('@pursuance/node');
        const { WeakPasswordError } = await import('@pursuance/password');
        const { LoopbackACN } = await import('@pursuance/tapir');
        for (const member of MEMBERS) {
          if (signals.requested()) break;
          const acn = new LoopbackACN({ registryDir });
          acns.push(acn);
          const node = await startNode({
            dataDir: join(root, member.name),
            password,
            displayName: member.name,
            acn,
            logger: false,
            port: { stable: true },
          }).catch((err: unknown) => {
            if (err instanceof ProfilePasswordError) throw new CliError(`${member.name}: ${err.message}`, ExitCode.wrongPassword);
            if (err instanceof WeakPasswordError) throw new CliError(err.message, ExitCode.usage);
            throw err;
          });
          nodes.push(node);
          const notice = portNotice(node.portOutcome, node.port);
          if (notice) process.stderr.write(`${member.name}: ${notice}\n`);
        }
        let id = signals.requested() ? undefined : await demoPursuance(root, nodes[0]!);
        if (id === undefined && !signals.requested()) {
          process.stdout.write('first run: creating the sample pursuance "Demo cell"…\n');
          id = await seed(nodes, relay.bundle);
          await writeFile(join(root, PURSUANCE_ID_FILE), `${id}\n`, { mode: 0o600 });
        }
        if (id !== undefined && !signals.requested()) {
          for (const [i, member] of MEMBERS.entries()) {
            const n = nodes[i]!;
            const tasks = n.registry.has(id) ? [...n.registry.view(id).tasks.values()] : [];
            const readable = tasks.filter((t) => t.readable).length;
            process.stdout.write(`${member.name.padEnd(8)} ${n.url}/  token ${n.token}  (${n.identity.onion}; reads ${readable} of ${tasks.length} tasks)\n`);
            process.stdout.write(`${''.padEnd(8)} sign-in ${n.signInUrl}\n`);
          }
          // The relay's key bundle, for putting another pursuance (made in a dashboard) on it.
          const bundleFile = join(root, RELAY_BUNDLE_FILE);
          await writeFile(bundleFile, `${relay.bundle}\n`, { mode: 0o600 });
          process.stdout.write(`relay bundle ${relay.bundle}\n`);
          process.stdout.write(`${''.padEnd(8)} (also in ${bundleFile}: paste it in a pursuance's Health → Attach to a relay)\n`);
          process.stdout.write(`pursuance ${id}\n`);
        }
        if (!opts.once && !signals.requested()) {
          process.stdout.write('demo network running; press Ctrl-C to stop\n');
          // The relay ending on its own (killed, crashed) ends the demo too, saying why.
          const running = relay;
          const ended = await Promise.race([signals.stop.then(() => undefined), running.closed]);
          if (ended !== undefined) relayFailed = new CliError(`the demo's relay stopped: ${running.complaint() ?? ended.why}`, ended.exitCode);
        }
      } finally {
        signals.stopping();
        const child = relay?.child;
        await stopWithin(STOP_BUDGET_MS, async () => {
          if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
          await Promise.all(acns.map((a) => a.close().catch(() => undefined)));
          await relay?.closed;
        });
        signals.release();
      }
      if (relayFailed) throw relayFailed;
    });
}

/**
 * SIGINT/SIGTERM for the demo's whole run. The first asks it to stop: at once when it is
 * running, after the step in progress while it starts. A second one before the stop has begun
 * exits at once; once it has begun, stopWithin answers it. Either way the relay goes too (the
 * exit hook in startRelay): it runs in its own process group, out of the terminal's reach.
 */
function demoSignals(): { stop: Promise<void>; requested(): boolean; stopping(): void; release(): void } {
  let requested = false;
  let stopping = false;
  let resolveStop!: () => void;
  const stop = new Promise<void>((resolve) => (resolveStop = resolve));
  const onSignal = (): void => {
    if (!requested) {
      requested = true;
      resolveStop();
    } else if (!stopping) {
      process.stderr.write('pursuance: second signal; exiting without waiting\n');
      process.exit(ExitCode.failure);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stop,
    requested: () => requested,
    stopping: () => {
      stopping = true;
    },
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Pursuance core benchmarks (figures printed, never asserted):
 *  - cold replay of a generated 100,000-event log (50 members, 6 roles, tasks, comments,
 *    20 rotations, a quarter of task traffic sealed to restricted roles) beside the same run's
 *    raw ed25519 verification rate; the goal is at least half that rate;
 *  - building a member's decrypted view of that log;
 *  - rotating a role held by 1,000 members: time and event size.
 */
import { Identity, verifySignature } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, buildMemberView, type EventId, type Rules } from '@pursuance/pursuance';
import { fmt, printTable, rateOf } from './measure.js';

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROLES = ['everyone', 'organizers', 'editors', 'legal', 'comms', 'finance'] as const;

function benchRules(): Rules {
  const all = { subject: 'task', audience: '*' } as const;
  return {
    format: 'pursuance-rules/1',
    title: 'bench',
    description: '',
    roles: Object.fromEntries(
      ROLES.map((r, i) => [
        r,
        {
          title: r,
          description: '',
          rank: 100 + i,
          history: 'all' as const,
          can: [
            ...(['create', 'edit', 'assign', 'comment', 'transition', 'close'] as const).map((action) => ({ ...all, action })),
            { subject: 'keys' as const, action: 'rotate' as const, roles: '*' as const },
          ],
          cannot: [],
        },
      ]),
    ),
    workflow: {
      states: ['open', 'doing', 'done'],
      initial: 'open',
      closed: ['done'],
      transitions: [
        { from: 'open', to: 'doing' },
        { from: 'doing', to: 'open' },
      ],
    },
    succession: { quorum: 1, inactivityDays: null },
  };
}

/** A seeded PRNG, so the generated log has the same shape every run. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function generate(): { log: PursuanceLog; members: Identity[]; seconds: number } {
  const started = performance.now();
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const rand = prng(42);
  const founderId = Identity.generate();
  const founder = PursuanceAuthor.create(founderId, { name: 'bench', rules: benchRules() }, now);
  const log = founder.log;
  const members: Identity[] = [founderId];
  for (let i = 0; i < 49; i++) {
    const id = Identity.generate();
    const extra = ROLES.slice(1).filter(() => rand() < 0.3);
    founder.addMember(id.publicKey, { roles: ['everyone', ...extra] });
    members.push(id);
  }
  // Every member acts on the shared log (each with its own keyring).
  const authors = members.map((id) => (id === founderId ? founder : new PursuanceAuthor(id, log, undefined, now)));
  const tasks: EventId[] = [];
  let rotations = 0;
  while (log.size < TARGET_EVENTS) {
    const a = authors[Math.floor(rand() * authors.length)]!;
    const roles = [...(log.state().members.get(a.identity.onion)?.roles ?? [])];
    const r = rand();
    if (rotations < 20 && log.size > (rotations + 1) * (TARGET_EVENTS / 21)) {
      founder.rotateKeys([ROLES[rotations % ROLES.length]!]);
      for (const x of authors) x.refreshKeys();
      rotations++;
    } else if (r < 0.1 || tasks.length < 10) {
      // A quarter of the task traffic is sealed to a restricted role, the rest to everyone.
      const restricted = roles.filter((x) => x !== 'everyone');
      const audience = rand() < 0.25 && restricted.length ? [restricted[Math.floor(rand() * restricted.length)]!] : ['everyone'];
      tasks.push(a.createTask({ audience, title: `task ${tasks.length}`, body: 'x'.repeat(Math.floor(rand() * 400)) }).id);
    } else {
      const task = tasks[Math.floor(rand() * tasks.length)]!;
      const audience = log.state().tasks.get(task)!.audience;
      if (!audience.every((role) => roles.includes(role))) continue;
      const state = log.state().tasks.get(task)!;
      if (state.closed) {
        a.reopenTask(task);
      } else if (r < 0.7) {
        a.comment(task, `comment ${log.size}`);
      } else if (r < 0.85) {
        a.setStatus(task, rand() < 0.5 ? 'doing' : 'open');
      } else if (r < 0.95) {
        a.assignTask(task, { add: { members: [a.identity.onion] } });
      } else {
        a.closeTask(task);
      }
    }
  }
  return { log, members, seconds: (performance.now() - started) / 1000 };
}

function rotationOf1000(): [string, string][] {
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'big', rules: benchRules() }, now);
  for (let i = 0; i < 999; i++) founder.addMember(Identity.generate().publicKey, { roles: ['everyone'] });
  const holders = founder.log.state().roles.get('everyone')!.holders.size;
  const started = performance.now();
  const event = founder.rotateKeys(['everyone']);
  const ms = performance.now() - started;
  const replica = new PursuanceLog(founder.log.genesis.bytes);
  const others = [...founder.log.events()].filter((e) => e.id !== event.id).map((e) => e.bytes);
  replica.addAll(others);
  replica.state();
  const applyStart = performance.now();
  replica.add(event.bytes);
  replica.state();
  const applyMs = performance.now() - applyStart;
  return [
    [`rotate "everyone" held by ${fmt(holders)} members (sign, 1,000 lockboxes, validate)`, `${fmt(ms, 1)} ms`],
    ['rotation event size', `${fmt(event.bytes.length)} bytes (${fmt(event.bytes.length / holders, 1)} B per holder)`],
    ['a replica verifying and applying it', `${fmt(applyMs, 1)} ms`],
  ];
}

function main(): void {
  process.stdout.write(`pursuance benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  const { log, members, seconds } = generate();
  const bytes = [...log.events()].map((e) => e.bytes);
  const totalBytes = bytes.reduce((n, b) => n + b.length, 0);
  const kinds = new Map<string, number>();
  for (const e of log.events()) kinds.set(e.header.kind, (kinds.get(e.header.kind) ?? 0) + 1);

  // Baseline: raw node:crypto ed25519 verification of a message the size of a typical event.
  const sample = [...log.events()].find((e) => e.header.kind === 'task.comment')!;
  const id = Identity.generate();
  const msg = sample.bytes.subarray(0, sample.bytes.length - 70);
  const sig = id.sign(msg);
  const verify = rateOf('raw ed25519 verify', () => verifySignature(msg, sig, id.publicKey), 2);

  // Cold replay: parse + verify every event, then fold the DAG from scratch.
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const cold = new PursuanceLog(log.genesis.bytes);
  cold.addAll(bytes);
  const t1 = performance.now();
  const hash = cold.stateHash();
  const t2 = performance.now();
  const rssAfter = process.memoryUsage().rss;
  const replayRate = bytes.length / ((t2 - t0) / 1000);
  if (hash !== log.stateHash()) throw new Error('cold replay reached a different state hash');

  const v0 = performance.now();
  const view = buildMemberView(cold, members[1]!);
  const v1 = performance.now();
  const readable = [...view.tasks.values()].filter((t) => t.readable).length;

  printTable(`generated log (${fmt(seconds, 1)} s to generate)`, [
    ['events', fmt(bytes.length)],
    ['bytes', `${fmt(totalBytes / 1e6, 1)} MB (${fmt(totalBytes / bytes.length)} B/event)`],
    ...[...kinds].sort().map(([k, n]) => [`  ${k}`, fmt(n)] as [string, string]),
    ['rejections', fmt(cold.rejections().length)],
  ]);
  printTable('cold replay', [
    ['baseline: raw ed25519 verify (node:crypto, same run)', `${fmt(verify.perSecond)} /s`],
    ['parse + verify + schema-check all events', `${fmt((t1 - t0) / 1000, 2)} s`],
    ['deterministic fold (DAG linearisation + rules)', `${fmt((t2 - t1) / 1000, 2)} s`],
    ['cold replay rate', `${fmt(replayRate)} events/s = ${fmt((replayRate / verify.perSecond) * 100, 1)} % of raw verify (goal ≥ 50 %)`],
    ['RSS growth during replay', `${fmt((rssAfter - rssBefore) / 1e6)} MB`],
    [`member view (decrypt, ${fmt(readable)} of ${fmt(view.tasks.size)} tasks readable)`, `${fmt((v1 - v0) / 1000, 2)} s`],
  ]);
  printTable('rotation', rotationOf1000());
}

main();

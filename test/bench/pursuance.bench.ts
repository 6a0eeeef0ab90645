/**
 * Pursuance core benchmarks (figures printed, never asserted):
 *  - cold replay of a generated 100,000-event log (50 members, 6 roles, tasks, comments,
 *    20 rotations, a quarter of task traffic sealed to restricted roles) beside the same run's
 *    raw ed25519 verification rate; the goal is at least half that rate;
 *  - building a member's decrypted view of that log;
 *  - rotating a role held by 1,000 members: time and event size;
 *  - tips: sending, folding and reading 1,000 write-only submissions, beside raw X25519.
 */
import { Identity, verifySignature } from '@pursuance/crypto';
import { readFileSync } from 'node:fs';
import { PursuanceAuthor, PursuanceLog, RulesSchema, buildMemberView } from '@pursuance/pursuance';
import { backlogRules, generateBacklog } from '../support/backlog.js';
import { fmt, printTable, rateOf } from './measure.js';

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
function generate(): { log: PursuanceLog; members: Identity[]; seconds: number } {
  const started = performance.now();
  const backlog = generateBacklog(TARGET_EVENTS, { members: 50, roles: 6, rotations: 20, seed: 42, bodyLength: 400 });
  return { log: backlog.log, members: backlog.members, seconds: (performance.now() - started) / 1000 };
}

function rotationOf1000(): [string, string][] {
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'big', rules: backlogRules() }, now);
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

/**
 * Tips (write-only submissions) on the newsroom template: a source sealing 1,000 tips (sealed
 * twice, signed, judged by the author's dry run), a replica folding them, an editor reading them
 * all; beside the same run's raw X25519 rate (each tip costs two ephemeral key pairs and two
 * exchanges to seal, one exchange to open).
 */
function tips(): [string, string][] {
  const { $schema: _schema, ...template } = JSON.parse(readFileSync(new URL('../../rules/templates/newsroom.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  const rules = RulesSchema.parse(template);
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const [editor, source] = [Identity.generate(), Identity.generate()];
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'desk', rules }, now);
  founder.addMember(editor.publicKey, { roles: ['editor', 'tips'] });
  founder.addMember(source.publicKey, { roles: ['source'] });
  const sender = new PursuanceAuthor(source, founder.log, undefined, now);
  const peerKey = Identity.generate().x25519PublicKey();
  const dh = rateOf('raw X25519', () => source.diffieHellman(peerKey), 1);
  const n = 1000;
  const s0 = performance.now();
  for (let i = 0; i < n; i++) sender.submit('tips', { title: `tip ${i}`, body: 'x'.repeat(200) });
  const s1 = performance.now();
  const replica = new PursuanceLog(founder.log.genesis.bytes);
  const f0 = performance.now();
  replica.addAll([...founder.log.events()].map((e) => e.bytes));
  replica.state();
  const f1 = performance.now();
  const v0 = performance.now();
  const view = buildMemberView(replica, editor);
  const v1 = performance.now();
  const read = [...view.tasks.values()].filter((x) => x.submission && x.readable).length;
  if (read !== n) throw new Error(`the editor read ${read} of ${n} tips`);
  return [
    ['baseline: raw X25519 exchange (node:crypto, same run)', `${fmt(dh.perSecond)} /s`],
    [`a source sending ${fmt(n)} tips (seal twice, sign, dry run)`, `${fmt((n / (s1 - s0)) * 1000)} tips/s`],
    [`a replica verifying and folding them (with ${fmt(replica.size - n)} other events)`, `${fmt((f1 - f0) / 1000, 2)} s`],
    [`the editor reading all ${fmt(n)} (open, check binding, parse)`, `${fmt(((v1 - v0) / n) * 1000, 1)} µs per tip`],
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
  const heapBefore = process.memoryUsage();
  const t0 = performance.now();
  const cold = new PursuanceLog(log.genesis.bytes);
  cold.addAll(bytes);
  const t1 = performance.now();
  const hash = cold.stateHash();
  const t2 = performance.now();
  const rssAfter = process.memoryUsage().rss;
  // Resident bytes the replayed log holds, per event (needs --expose-gc for a clean figure).
  global.gc?.();
  const heapAfter = process.memoryUsage();
  const heldPerEvent = (heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers) / bytes.length;
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
    [
      `heap held by the replayed log${global.gc ? '' : ' (run with --expose-gc for a clean figure)'}`,
      `${fmt(heldPerEvent)} B/event (event bytes alone: ${fmt(totalBytes / bytes.length)} B/event)`,
    ],
    ['causal clocks the fold keeps (heads only)', `${fmt(cold.retainedClocks())} of ${fmt(bytes.length)} events`],
    [`member view (decrypt, ${fmt(readable)} of ${fmt(view.tasks.size)} tasks readable)`, `${fmt((v1 - v0) / 1000, 2)} s`],
  ]);
  printTable('rotation', rotationOf1000());
  printTable('tips (write-only submissions)', tips());
}

main();

/**
 * Snapshot join benchmark (figures printed, never asserted): a new member joins a generated
 * pursuance of BENCH_SNAPSHOT_EVENTS events (default 100,000; the pursuance core benchmark's
 * shape) either from an attested snapshot or by replaying the whole history, in the same run.
 *
 *  - the publisher's side: capturing the snapshot at a stable frontier (a fold of everything
 *    before it) and the document's size;
 *  - the joiner's side: read and check the document, check its attestation, fold the ~1,000
 *    events after the frontier and reach a state hash ("usable"), then its own decrypted view;
 *  - the baseline: a full replay of every event from the genesis; the goal is a join usable in
 *    under 10 s and at least 20× faster than that replay;
 *  - the background verification the joiner runs once it has fetched the older history.
 *
 * The joiner's state hash must equal the full replay's: a mismatch throws.
 */
import { Identity } from '@pursuance/crypto';
import {
  PursuanceAuthor,
  PursuanceLog,
  buildMemberView,
  captureSnapshot,
  checkAttestations,
  decodeEvent,
  instability,
  membershipProof,
  readSnapshot,
  verifyFullHistory,
  verifyFullHistoryInSlices,
  type EventId,
  type SignedEvent,
} from '@pursuance/pursuance';
import { generateBacklog } from '../support/backlog.js';
import { fmt, printTable } from './measure.js';

const TARGET_EVENTS = Number(process.env.BENCH_SNAPSHOT_EVENTS ?? 100_000);
const TAIL_EVENTS = 1_000;

interface Scenario {
  readonly log: PursuanceLog;
  readonly frontier: EventId[];
  /** Every event before the snapshot (ancestors of the frontier), the genesis among them. */
  readonly prior: Set<EventId>;
  readonly founder: PursuanceAuthor;
  readonly joiner: Identity;
  readonly seconds: number;
}

/**
 * A generated backlog does not end stable: not every member has spoken since any narrow
 * frontier. Every member speaking once after the backlog's heads makes those heads stable; the
 * joiner's member.add and an ordinary tail follow, as they would while a snapshot circulates.
 */
function scenario(): Scenario {
  const started = performance.now();
  const backlog = generateBacklog(TARGET_EVENTS, { members: 50, roles: 6, rotations: 20, seed: 42, bodyLength: 400 });
  const log = backlog.log;
  const frontier = log.heads();
  const prior = new Set([...log.events()].map((e) => e.id));
  // Not Math.max(...times): spreading a few hundred thousand arguments overflows the stack.
  let t = [...log.events()].reduce((latest, e) => Math.max(latest, e.header.time), 0);
  const now = (): number => (t += 1000);
  const members = backlog.members.filter((id) => log.state().members.has(id.onion));
  const authors = members.map((id) => new PursuanceAuthor(id, log, undefined, now));
  authors.forEach((a, i) => a.rename(`member ${i}`));
  const founder = authors[0]!;
  const joiner = Identity.generate();
  founder.addMember(joiner.publicKey, { roles: ['everyone'] });
  // A member who never speaks after the frontier would make it unstable again.
  new PursuanceAuthor(joiner, log, undefined, now).rename('newcomer');
  const open = (): EventId[] =>
    [...log.state().tasks.values()].filter((task) => !task.closed && task.audience.length === 1 && task.audience[0] === 'everyone').map((task) => task.id);
  let tasks = open();
  const tailFrom = log.size;
  for (let i = 0; log.size - tailFrom < TAIL_EVENTS; i++) {
    const a = authors[i % authors.length]!;
    if (i % 10 === 0 || tasks.length === 0) {
      a.createTask({ audience: ['everyone'], title: `tail task ${i}`, body: 'y'.repeat(200) });
      tasks = open();
    } else a.comment(tasks[(i * 7919) % tasks.length]!, `tail comment ${i}`);
  }
  const why = instability(log, frontier);
  if (why !== null) throw new Error(`the benchmark's frontier is not stable: ${why}`);
  return { log, frontier, prior, founder, joiner, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  process.stdout.write(`snapshot benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  const { log, frontier, prior, founder, joiner, seconds } = scenario();

  const c0 = performance.now();
  const snapshot = captureSnapshot(log, frontier);
  const captureMs = performance.now() - c0;
  if (snapshot.base.events !== prior.size) throw new Error(`the snapshot counts ${snapshot.base.events} events before it, not ${prior.size}`);
  const attestation = founder.attestSnapshot(snapshot);
  const proofs = membershipProof(log.state(), founder.identity.onion, (id) => log.event(id));

  // What travels to the joiner: bytes only, so the join pays for decoding and signature checks.
  const genesisBytes = log.genesis.bytes;
  const all = [...log.events()].filter((e) => e.id !== log.genesis.id);
  const priorBytes = all.filter((e) => prior.has(e.id)).map((e) => e.bytes);
  const tailBytes = all.filter((e) => !prior.has(e.id)).map((e) => e.bytes);
  const allBytes = all.map((e) => e.bytes);
  const attestationBytes = [attestation.bytes];
  const proofBytes = proofs.map((e) => e.bytes);
  const joinerView = (target: PursuanceLog): { ms: number; readable: number; tasks: number } => {
    const v0 = performance.now();
    const view = buildMemberView(target, joiner);
    const ms = performance.now() - v0;
    return { ms, readable: [...view.tasks.values()].filter((task) => task.readable).length, tasks: view.tasks.size };
  };

  // The join runs first, on a colder JIT than the replay after it: the ratio errs against it.
  global.gc?.();
  const j0 = performance.now();
  const genesis = decodeEvent(genesisBytes) as SignedEvent<'genesis'>;
  const read = readSnapshot(snapshot.bytes, snapshot.hash, genesis.id);
  const j1 = performance.now();
  const attested = checkAttestations(
    genesis,
    read,
    attestationBytes.map((b) => decodeEvent(b)),
    proofBytes.map((b) => decodeEvent(b)),
  );
  const j2 = performance.now();
  const joined = new PursuanceLog(genesis, { snapshot: read });
  const statuses = joined.addAll(tailBytes);
  const j3 = performance.now();
  const joinedHash = joined.stateHash();
  const j4 = performance.now();
  // Anything but folding (waiting, beside the snapshot, refused) would make the join a different workload.
  const odd = statuses.filter((s) => s.status !== 'accepted' && s.status !== 'queued');
  if (odd.length > 0) throw new Error(`the joiner did not fold ${odd.length} events after the frontier (first: ${odd[0]!.status})`);
  const refused = joined.rejections().length;
  const joinedView = joinerView(joined);
  const historyToFetch = joined.historyMissing().length;

  global.gc?.();
  const r0 = performance.now();
  const replay = new PursuanceLog(genesisBytes);
  replay.addAll(allBytes);
  const r1 = performance.now();
  const replayHash = replay.stateHash();
  const r2 = performance.now();
  if (joinedHash !== replayHash) throw new Error(`the snapshot join reached state ${joinedHash}, the full replay ${replayHash}`);
  if (replayHash !== log.stateHash()) throw new Error('the full replay reached a different state hash than the publisher');
  const replayView = joinerView(replay);

  // The joiner fetches the older history afterwards; verification folds it all from the genesis.
  joined.addAll(priorBytes);
  const f0 = performance.now();
  const verified = verifyFullHistory(joined);
  const f1 = performance.now();
  if (verified.check.outcome !== 'agrees') throw new Error(`full-history verification did not agree: ${JSON.stringify(verified.check)}`);
  // The same verification as the node runs it: in slices, giving the event loop a turn between them.
  let slices = 0;
  let longest = 0;
  let sliceStart = performance.now();
  const s0 = performance.now();
  const sliced = await verifyFullHistoryInSlices(joined, async () => {
    longest = Math.max(longest, performance.now() - sliceStart);
    slices++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  });
  longest = Math.max(longest, performance.now() - sliceStart);
  const s1 = performance.now();
  if (sliced.check.outcome !== 'agrees' || sliced.full!.stateHash() !== verified.full!.stateHash()) throw new Error('verifying in slices found otherwise');

  const joinMs = j4 - j0;
  const replayMs = r2 - r0;
  printTable(`generated log (${fmt(seconds, 1)} s to generate)`, [
    ['events before the frontier (genesis included)', fmt(prior.size)],
    ['events after it (renames, the joiner, tail, attestation)', fmt(tailBytes.length)],
    ['frontier width', `${fmt(frontier.length)} events`],
  ]);
  printTable('snapshot (publisher)', [
    ['capture (fold up to the frontier, encode)', `${fmt(captureMs / 1000, 2)} s`],
    ['document size', `${fmt(snapshot.bytes.length / 1e6, 2)} MB (${fmt(snapshot.bytes.length / prior.size, 1)} B per event before the frontier)`],
    ['  of which the history ids (32 B each)', `${fmt(snapshot.base.history.length)} ids = ${fmt((snapshot.base.history.length * 32) / 1e6, 2)} MB`],
    ['attesters required / counted', `${fmt(attested.required)} / ${fmt(attested.attesters.length)} (${fmt(proofs.length)} membership-proof events)`],
  ]);
  printTable('joining', [
    ['snapshot: read (hash, schema, state-hash consistency)', `${fmt(j1 - j0, 1)} ms`],
    ['snapshot: check attestations', `${fmt(j2 - j1, 1)} ms`],
    [`snapshot: add the ${fmt(tailBytes.length)} events after the frontier`, `${fmt(j3 - j2, 1)} ms`],
    [`snapshot: fold to the state hash (${fmt(refused)} refused)`, `${fmt(j4 - j3, 1)} ms`],
    ['snapshot join, usable (goal < 10 s)', `${fmt(joinMs / 1000, 2)} s`],
    [
      `snapshot: joiner's view (${fmt(joinedView.readable)} of ${fmt(joinedView.tasks)} tasks readable; ${fmt(historyToFetch)} older task events to fetch)`,
      `${fmt(joinedView.ms, 1)} ms`,
    ],
    [`baseline: full replay, parse + verify ${fmt(allBytes.length)} events`, `${fmt((r1 - r0) / 1000, 2)} s`],
    ['baseline: full replay, fold', `${fmt((r2 - r1) / 1000, 2)} s`],
    ['baseline: full replay, usable', `${fmt(replayMs / 1000, 2)} s`],
    [`baseline: joiner's view (${fmt(replayView.readable)} of ${fmt(replayView.tasks)} tasks readable)`, `${fmt(replayView.ms / 1000, 2)} s`],
    ['full replay / snapshot join (goal ≥ 20×)', `${fmt(replayMs / joinMs, 1)}×`],
    ['state hashes', 'equal'],
  ]);
  printTable('background verification', [
    [
      `verifyFullHistory over ${fmt(joined.size)} events (decoded, fold from the genesis): the thread held throughout`,
      `${fmt((f1 - f0) / 1000, 2)} s (${verified.check.outcome})`,
    ],
    ['the same in slices (as the node runs it): total', `${fmt((s1 - s0) / 1000, 2)} s (${fmt(slices)} turns given to the event loop)`],
    ['  longest stretch without a turn', `${fmt(longest, 1)} ms`],
  ]);
}

await main();

/**
 * A late honest race on a big pursuance (issue 16): a member who went offline early comes back
 * and signs an event on their old replica. It is concurrent with the whole history and the fold
 * takes it near the start (a rename goes before tasks), so the node folds everything again and
 * its member view reads (decrypts) every task again. The node does both in slices inside its
 * writer's turn (registry.ts #catchUpInSlices); this measures how long its event loop goes
 * without a turn meanwhile, beside the same work done at once on the same log in the same run
 * (what the node did before: the next read refolded and rebuilt the view in one go).
 *
 *   npx tsx test/bench/late-race.bench.ts          (BENCH_LATE_RACE_EVENTS, default 100,000)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, buildMemberView, decodeEvent } from '@pursuance/pursuance';
import { PursuanceRegistry, openNodeStore } from '@pursuance/node';
import { backlogChunks } from '../support/backlog.js';
import { fmt, printTable } from './measure.js';

const EVENTS = Number(process.env.BENCH_LATE_RACE_EVENTS ?? 100_000);
const PASSWORD = 'late race bench';
/** The genesis, the founder's 49 member.adds and the two quiet members' adds: what the away member's replica holds. */
const MEMBERS = 50;

/** Runs `work` while a turn-by-turn ticker notes the longest time the event loop went without one. */
async function withTicker<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number; longestMs: number; turns: number }> {
  let running = true;
  let last = performance.now();
  let longest = 0;
  let turns = 0;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    turns += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const start = performance.now();
  const value = await work();
  const seconds = (performance.now() - start) / 1000;
  running = false;
  longest = Math.max(longest, performance.now() - last);
  return { value, seconds, longestMs: longest, turns };
}

const dir = await mkdtemp(join(tmpdir(), 'late-race-bench-'));
try {
  const opened = await openNodeStore({ dataDir: join(dir, 'node'), password: PASSWORD, scrypt: TEST_SCRYPT_PARAMS });
  try {
    const away = Identity.generate();
    const chunks = backlogChunks(EVENTS, { members: MEMBERS, rotations: 20, seed: 42, quiet: [opened.identity, away] }, 20_000);
    let replica: PursuanceLog | undefined;
    let written = 0;
    const generating = performance.now();
    for (let next = chunks.next(); !next.done; next = chunks.next()) {
      if (!replica) {
        replica = new PursuanceLog(next.value[0]!);
        replica.addAll(next.value.slice(1, MEMBERS + 2));
      }
      for (let i = 0; i < next.value.length; i += 5_000) {
        await opened.store.append(
          next.value.slice(i, i + 5_000).map((x) => decodeEvent(x)),
          'import',
        );
      }
      written += next.value.length;
    }
    const generated = (performance.now() - generating) / 1000;
    const registry = new PursuanceRegistry(opened.store, opened.identity);
    registry.warn = () => undefined;
    await registry.open();
    const loading = performance.now();
    await registry.load();
    const loaded = (performance.now() - loading) / 1000;
    const id = replica!.id;
    const tasksBefore = registry.view(id).tasks.size;

    const late = new PursuanceAuthor(away, replica!, undefined, () => 1_800_000_000_000 + 10 ** 9).rename('back online');
    const sliced = await withTicker(() => registry.ingest(id, [late.bytes], 'peer'));
    if (sliced.value.accepted !== 1) throw new Error(`the late event was not accepted: ${JSON.stringify(sliced.value)}`);
    const entry = registry.get(id);
    const position = entry.log.order().indexOf(late.id);

    // The same work at once, on the same log: the fold from the genesis and the view read from nothing.
    const foldStart = performance.now();
    entry.log.replay();
    const foldMs = performance.now() - foldStart;
    const viewStart = performance.now();
    const view = buildMemberView(entry.log, opened.identity, entry.author.keyring);
    const viewMs = performance.now() - viewStart;
    await registry.idle();

    printTable(`Late honest race at ${fmt(written)} events (one event concurrent with all of them)`, [
      [
        'history',
        `${fmt(written)} events, ${fmt(tasksBefore)} tasks this node reads (generated and stored in ${fmt(generated, 1)} s, loaded in ${fmt(loaded, 1)} s)`,
      ],
      ['the late event', `taken at position ${fmt(position)} of ${fmt(entry.log.order().length)} by the fold`],
      [
        'baseline: the same work at once',
        `${fmt(foldMs + viewMs)} ms without a turn (fold ${fmt(foldMs)} ms + view ${fmt(viewMs)} ms, ${fmt(view.tasks.size)} tasks read)`,
      ],
      ['node: ingest in slices', `${fmt(sliced.seconds * 1000)} ms in all, ${fmt(sliced.turns)} turns of the event loop`],
      ['node: longest stretch without a turn', `${fmt(sliced.longestMs, 1)} ms (${fmt((100 * sliced.longestMs) / (foldMs + viewMs), 1)} % of the baseline)`],
    ]);
  } finally {
    await opened.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

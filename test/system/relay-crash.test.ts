import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '@pursuance/crypto';
import { MemoryKeyBundlePins, RelayClient, spendToken, trustKeyBundle, type EncryptedGroupMessage, type SpentToken } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { startPostgresCluster, type PostgresCluster } from '../../apps/relay/test/support/postgres-cluster.js';
import { startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { randomMessage } from '../../packages/relay/test/support/fixtures.js';

/**
 * Crash safety, on each store: several rounds of SIGKILL while four clients post as fast as
 * they can, then restart on the same data dir (and database). Every acknowledged post must be
 * there, no token may be spendable twice, and a post that was in flight at the kill is either
 * fully committed (message present AND token spent) or not at all (message absent AND token
 * still spendable).
 */
const ROUNDS = 3;
const CLIENTS = 4;
const ACKS_PER_ROUND = 40;

interface Attempt {
  readonly message: EncryptedGroupMessage;
  readonly spent: SpentToken;
}

/** A loaded 2-core machine: three rounds of start, flood and kill, then a full check. */
const CRASH_TEST_LIMIT_MS = 240_000;

/**
 * Run the crash scenario against a relay started with `storeArgs` (none: SQLite in the data
 * dir). Resolves with the stderr of every relay process it started.
 */
async function crashScenario(storeArgs: readonly string[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-crash-'));
  const acn = new LoopbackACN({ registryDir: join(dir, 'registry') });
  const pins = new MemoryKeyBundlePins();
  const started: RelayProcess[] = [];
  const startRelay = async (): Promise<{ relay: RelayProcess; bundle: Awaited<ReturnType<typeof trustKeyBundle>> }> => {
    const relay = await startRelayProcess({ dataDir: join(dir, 'data'), registryDir: join(dir, 'registry'), args: ['--no-metrics', ...storeArgs] });
    started.push(relay);
    // The same pins across restarts: a crash must not change the relay's keys.
    return { relay, bundle: await trustKeyBundle(relay.bundle, pins) };
  };
  try {
    const acked: Attempt[] = [];
    const unknown: Attempt[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { relay: process, bundle } = await startRelay();
      let roundAcks = 0;
      let reached!: () => void;
      const enough = new Promise<void>((resolve) => (reached = resolve));
      const rejected: string[] = [];
      const posters = Array.from({ length: CLIENTS }, async () => {
        const client = new RelayClient({ acn, bundle, batchSize: 20 });
        try {
          const session = await client.openSession();
          for (;;) {
            const message = randomMessage();
            let attempt: Attempt;
            try {
              attempt = { message, spent: spendToken(await client.takeToken(), message, bundle.boardOnion) };
            } catch {
              return; // the relay died during a token purchase
            }
            try {
              const reply = await session.postSpent(attempt.message, attempt.spent);
              if (reply.ok) acked.push(attempt);
              else rejected.push(reply.code);
              if (++roundAcks === ACKS_PER_ROUND) reached();
            } catch {
              unknown.push(attempt); // in flight when the relay died: outcome unknown
              return;
            }
          }
        } catch {
          return; // could not even open a session: the relay is already gone
        } finally {
          await client.close();
        }
      });
      await enough;
      process.child.kill('SIGKILL');
      expect(await process.exited).toBeNull();
      await Promise.all(posters);
      expect(rejected).toEqual([]);
    }

    const { relay: final, bundle } = await startRelay();
    const client = new RelayClient({ acn, bundle });
    const session = await client.openSession();
    const stored = new Set((await session.replay()).map((m) => toHex(m.signature)));
    expect(acked.length).toBeGreaterThanOrEqual(ROUNDS * ACKS_PER_ROUND);
    const lost = acked.filter((a) => !stored.has(toHex(a.message.signature)));
    expect(lost.length).toBe(0);

    // The board drops a session after a few refused tokens, so re-spend attempts rotate sessions.
    let checker = session;
    let refusals = 0;
    const respend = async (a: Attempt) => {
      if (refusals === 5) {
        checker.close();
        checker = await client.openSession();
        refusals = 0;
      }
      const reply = await checker.postSpent(a.message, a.spent);
      if (!reply.ok) refusals++;
      return reply;
    };
    // Every acknowledged token is spent: presenting the identical post again is refused.
    for (const a of acked) expect(await respend(a)).toEqual({ ok: false, code: 'TOKEN_SPENT' });
    // In-flight posts: all or nothing.
    let committed = 0;
    for (const a of unknown) {
      if (stored.has(toHex(a.message.signature))) {
        committed++;
        expect(await respend(a)).toEqual({ ok: false, code: 'TOKEN_SPENT' });
      } else {
        expect(await respend(a)).toEqual({ ok: true });
        expect(await respend(a)).toEqual({ ok: false, code: 'TOKEN_SPENT' });
      }
    }
    process.stdout.write(
      `crash test (${storeArgs.length === 0 ? 'sqlite' : 'postgres'}): ${acked.length} acknowledged, ${unknown.length} in flight at kills (${committed} had committed)\n`,
    );
    await client.close();
    expect(await final.stop()).toBe(0);
    return started.map((r) => r.stderr());
  } finally {
    for (const relay of started) await relay.stop('SIGKILL');
    await acn.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('relay crash safety (kill -9 under load), SQLite', () => {
  it(
    `keeps every acknowledged post and never lets a token be spent twice, over ${ROUNDS} crashes`,
    async () => {
      const logs = await crashScenario([]);
      expect(logs[0]).toMatch(/"event":"relay.started".*"store":"sqlite"/);
    },
    CRASH_TEST_LIMIT_MS,
  );
});

describe('relay crash safety (kill -9 under load), PostgreSQL', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it(
    `keeps every acknowledged post and never lets a token be spent twice, over ${ROUNDS} crashes`,
    async () => {
      // The password is in the URL on purpose: it must reach no log line.
      const logs = await crashScenario(['--store', cluster.url(await cluster.createDatabase())]);
      expect(logs[0]).toMatch(/"event":"relay.started".*"store":"postgres"/);
      for (const log of logs) expect(log).not.toContain(cluster.password);
    },
    CRASH_TEST_LIMIT_MS,
  );
});

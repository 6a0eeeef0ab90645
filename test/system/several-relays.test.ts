import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OnionName } from '@pursuance/crypto';
import { LoopbackACN, type ACN } from '@pursuance/tapir';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import type { SyncStatus } from '../../apps/node/src/sync/sync.service.js';
import { http } from '../../apps/node/test/support/http.js';
import { AdversarialRelay, honest, type Policy } from '../../packages/cwtch/test/support/adversarial-relay.js';
import { repairerOf } from '../../apps/node/src/sync/relay-links.js';
import { startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilChange } from '../support/until-change.js';

/**
 * A pursuance on two relays at once (issue 17 item 2): its group on a relay daemon process
 * (A), and a mirror on a second relay (B, in this process, so the test can make it withhold).
 * Three member nodes post every event to both and read from both. A is killed mid-run: work
 * goes on through B. A comes back and B starts withholding everything from one member (its
 * network reaches B through a front of its own): that member goes on through A, and sees B
 * lacking what A delivered. Then B loses the founder's posts and the founder goes offline: the
 * other members post their share of them to B again. Nobody moves the pursuance.
 */
let dir: string;
let registryDir: string;
let relayA: RelayProcess;
let bundleA: string;
/** Relay A as a daemon process of its own (killed with SIGKILL, it is gone at once). */
const startA = (): Promise<RelayProcess> => startRelayProcess({ dataDir: join(dir, 'relay-a'), registryDir, args: ['--pow-difficulty', '1', '--no-metrics'] });
let relayB: AdversarialRelay;
/** The front of B that the third member's network reaches; the others reach B itself. */
let frontB: AdversarialRelay;
const acns: LoopbackACN[] = [];
const nodes: RunningNode[] = [];

/** An ACN that reaches `onion` on another loopback network (where a front of that relay listens). */
function routed(main: LoopbackACN, onion: OnionName, other: LoopbackACN): ACN {
  return {
    kind: 'loopback',
    listen: (identity, port, onConnection) => main.listen(identity, port, onConnection),
    open: (to, port, options) => (to === onion ? other.open(to, port, options) : main.open(to, port, options)),
    bootstrapStatus: () => main.bootstrapStatus(),
    close: async () => {
      await main.close();
      await other.close();
    },
  };
}

const loopback = (registry: string): LoopbackACN => {
  const acn = new LoopbackACN({ registryDir: registry });
  acns.push(acn);
  return acn;
};

async function node(name: string, acn?: ACN): Promise<RunningNode> {
  const n = await startNode({ ...testNodeOptions(dir, name, registryDir), ...(acn === undefined ? {} : { acn }) });
  n.sync.lackingAfterMs = 0;
  nodes.push(n);
  return n;
}

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

/** Resolve once `check` holds, re-checking on every change of the node's log and every relay event of its peer. */
function untilSync(n: RunningNode, check: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const test = (): boolean => {
      try {
        return check();
      } catch {
        return false;
      }
    };
    if (test()) return resolve();
    const events = ['relaySynced', 'relayDown', 'groupMessage', 'groupMessagePosted'] as const;
    const on = (): void => {
      if (!test()) return;
      done();
      resolve();
    };
    const offChange = n.registry.onChange(on);
    for (const e of events) n.peer.on(e, on);
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      offChange();
      for (const e of events) n.peer.off(e, on);
    }
  });
}

const withholdAll: Policy = { replay: () => [], push: () => [] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'several-relays-'));
  registryDir = join(dir, 'registry');
  relayA = await startA();
  bundleA = relayA.bundle;
  relayB = await AdversarialRelay.start(loopback(registryDir));
  frontB = await relayB.front(loopback(join(dir, 'registry-b')));
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relayA?.stop();
  await frontB?.close();
  await relayB?.close();
  for (const a of acns) await a.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('a pursuance on two relays', () => {
  let founder: RunningNode;
  let ana: RunningNode;
  let cai: RunningNode;
  let pursuanceId: string;
  const all = (): RunningNode[] => [founder, ana, cai];
  const hash = (n: RunningNode): string => n.registry.get(pursuanceId).log.stateHash();
  const converged = (): boolean => all().every((n) => n.registry.has(pursuanceId) && hash(n) === hash(founder));
  const status = (n: RunningNode): SyncStatus => n.sync.status(pursuanceId);
  const relayOf = (n: RunningNode, onion: string) => status(n).relays.find((r) => r.relay === onion);
  const task = async (n: RunningNode, title: string): Promise<string> =>
    ((await api(n, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title })).body as { id: string }).id;
  const shows = (n: RunningNode, id: string): boolean => n.registry.projections.tasks(pursuanceId).some((t) => t.id === id);

  it('three members on relay A; a governed relay.add mirrors the group on B for everyone, without invites', { timeout: 180_000 }, async () => {
    founder = await node('founder');
    ana = await node('ana');
    cai = await node('cai', routed(loopback(registryDir), relayB.onion, loopback(join(dir, 'registry-b'))));
    pursuanceId = ((await api(founder, 'POST', '/api/pursuances', { name: 'Two relays', template: 'activist-cell' })).body as { id: string }).id;
    expect((await api(founder, 'POST', `/api/pursuances/${pursuanceId}/relay/attach`, { bundle: bundleA })).status).toBe(200);
    for (const [member, name] of [
      [ana, 'ana'],
      [cai, 'cai'],
    ] as const) {
      await api(founder, 'POST', `/api/pursuances/${pursuanceId}/members`, { onion: member.identity.onion, name, roles: ['member'] });
    }
    const invite = ((await api(founder, 'GET', `/api/pursuances/${pursuanceId}/invite`)).body as { invite: string }).invite;
    for (const member of [ana, cai]) expect((await api(member, 'POST', '/api/invites/accept', { invite })).body).toMatchObject({ status: 'joined' });
    await untilChange(all(), converged, 'both members to catch up', 120_000);

    const added = await api(founder, 'POST', `/api/pursuances/${pursuanceId}/relay/mirrors`, { bundle: relayB.bundle });
    expect(added.status).toBe(200);
    expect(founder.registry.get(pursuanceId).log.state().relay.mirrors).toEqual([relayB.bundle]);
    for (const n of all()) {
      await untilSync(n, () => relayOf(n, relayB.onion)?.synced === true, `${n.identity.onion} to follow the mirror on B`);
      const [own, mirror] = status(n).relays;
      expect(own).toMatchObject({ mirror: false });
      expect(mirror).toMatchObject({ mirror: true, relay: relayB.onion });
      // Every member derived the same mirror group from the key it holds.
      expect(mirror!.groupId).toBe(status(founder).relays[1]!.groupId);
    }
    // The mirror got the whole log (the one who added it posted it there).
    const first = await task(founder, 'Flyers');
    for (const n of [ana, cai]) await untilChange(n, () => shows(n, first), 'the first task');
    await untilSync(founder, () => relayB.stored.length > 0 && founder.peer.groupHistory(status(founder).relays[1]!.groupId).length > 0, 'B to hold the log');
  });

  it('relay A dies mid-run: events keep flowing through B, nobody moves the pursuance', { timeout: 180_000 }, async () => {
    const groupBefore = founder.sync.groupOf(pursuanceId);
    expect(await relayA.stop('SIGKILL')).toBeNull();
    for (const n of all()) await untilSync(n, () => relayOf(n, relayA.boardOnion)?.synced === false, 'A to be seen down');
    const during = await task(founder, 'While A is down');
    for (const n of [ana, cai]) await untilChange(n, () => shows(n, during), 'the task posted while A is down');
    expect((await api(ana, 'POST', `/api/pursuances/${pursuanceId}/tasks/${during}/changes`, { op: 'comment', body: 'seen through B' })).status).toBeLessThan(
      300,
    );
    await untilChange(all(), converged, 'everyone to converge through B alone', 120_000);
    expect(founder.sync.groupOf(pursuanceId)).toBe(groupBefore);
  });

  it('A comes back and B withholds everything from one member: that member goes on through A and sees B lacking', { timeout: 180_000 }, async () => {
    relayA = await startA();
    expect(relayA.bundle).toBe(bundleA);
    for (const n of all()) await untilSync(n, () => relayOf(n, relayA.boardOnion)?.synced === true, 'A to be back');
    frontB.policy = withholdAll;
    const later = await task(founder, 'After A is back');
    await untilChange(cai, () => shows(cai, later), 'the later task to reach cai through A');
    await untilChange(all(), converged, 'everyone to converge', 120_000);
    // Cai's node compares its relays: B never delivered what A did.
    await untilSync(cai, () => (relayOf(cai, relayB.onion)?.lacking ?? 0) > 0, 'cai to see B lacking events');
    // A lacks nothing B delivered once the posts queued while A was down have reached it.
    await untilSync(cai, () => relayOf(cai, relayA.boardOnion)?.lacking === 0, 'A to hold what B delivered before withholding');
    expect(relayOf(cai, relayB.onion)!.lacking).toBeGreaterThan(0);
    // The others got everything through B as well.
    await untilSync(ana, () => relayOf(ana, relayB.onion)?.lacking === 0, 'ana to hold everything through B');
    expect(founder.sync.groupOf(pursuanceId)).toBe(ana.sync.groupOf(pursuanceId));
  });

  it('B loses the founder’s posts: once the founder is offline, the member each event falls to posts it to B again', { timeout: 180_000 }, async () => {
    frontB.policy = honest;
    relayB.losePosts = true;
    const lostBefore = relayB.lost;
    const members = [founder, ana, cai].map((n) => n.identity.onion);
    // Enough tasks that some fall to members other than the founder (rendezvous hashing).
    const tasks: string[] = [];
    while (tasks.length < 3 || tasks.every((id) => repairerOf(id, members) === founder.identity.onion))
      tasks.push(await task(founder, `Lost on B ${tasks.length}`));
    for (const n of [ana, cai]) await untilChange(n, () => tasks.every((id) => shows(n, id)), 'the tasks to arrive through A');
    await untilSync(founder, () => relayB.lost > lostBefore, 'B to lose the founder’s posts');
    await founder.close();
    nodes.splice(nodes.indexOf(founder), 1);
    relayB.losePosts = false;
    // What B still lacks, as ana sees it, is what falls to the founder, who is gone.
    const toFounder = tasks.filter((id) => repairerOf(id, members) === founder.identity.onion).length;
    await untilSync(ana, () => relayOf(ana, relayB.onion)?.lacking === toFounder, 'the others to post their share again to B');
    expect(toFounder).toBeLessThan(tasks.length);
  });
});

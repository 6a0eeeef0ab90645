/**
 * What a node's sync status (the dashboard's Health) reports when the relay misbehaves: a
 * founder and a member on a hostile relay (built from the relay package's own pieces, see
 * packages/cwtch/test/support/adversarial-relay.ts) that drops one live message for the member only.
 * The member's node must see the gap in the signed chain, repair it from the founder over p2p,
 * and say so; when the relay goes away, the status says the connection was lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackACN } from '@pursuance/tapir';
import { startNode, type RunningNode, type SyncStatus } from '../../apps/node/src/index.js';
import { http, nextSse } from '../../apps/node/test/support/http.js';
import { AdversarialRelay, honest, type RelaySession } from '../../packages/cwtch/test/support/adversarial-relay.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilChange } from '../support/until-change.js';

let dir: string;
let relay: AdversarialRelay;
let founder: RunningNode;
let member: RunningNode;
let pursuanceId: string;

const api = async <T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
};
const status = (n: RunningNode) => api<SyncStatus>(n, 'GET', `/api/pursuances/${pursuanceId}/sync`);
/** Resolve once `holds()` is true, re-checking on each of the peer's relay events (no polling). */
function untilRelay(n: RunningNode, holds: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const events = ['relaySynced', 'relayDown'] as const;
    const check = () => {
      if (!holds()) return;
      clearTimeout(timer);
      for (const e of events) n.peer.off(e, check);
      resolve();
    };
    const timer = setTimeout(() => {
      for (const e of events) n.peer.off(e, check);
      reject(new Error(`timed out waiting for ${what}`));
    }, 30_000);
    for (const e of events) n.peer.on(e, check);
    check();
  });
}
const sameState = () =>
  member.registry.has(pursuanceId) && member.registry.get(pursuanceId).log.stateHash() === founder.registry.get(pursuanceId).log.stateHash();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-health-'));
  const registryDir = join(dir, 'registry');
  relay = await AdversarialRelay.start(new LoopbackACN({ registryDir }));
  founder = await startNode(testNodeOptions(dir, 'founder', registryDir));
  member = await startNode(testNodeOptions(dir, 'member', registryDir));
}, 60_000);

afterAll(async () => {
  for (const n of [member, founder]) await n?.close().catch(() => undefined);
  await relay?.close().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sync health under a relay that drops a message for one member', () => {
  let memberSession: number;

  it('starts healthy: connected, in sync, no gaps', { timeout: 120_000 }, async () => {
    ({ id: pursuanceId } = await api<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Health', template: 'activist-cell' }));
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/relay/attach`, { bundle: relay.bundle });
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/members`, { onion: member.identity.onion, name: 'member', roles: ['member'] });
    const { invite } = await api<{ invite: string }>(founder, 'GET', `/api/pursuances/${pursuanceId}/invite`);
    // The member's relay session is the one that opens when it accepts the invite.
    const session = new Promise<RelaySession>((resolve) => relay.once('session', resolve));
    await api(member, 'POST', '/api/invites/accept', { invite });
    memberSession = (await session).n;
    await untilChange(member, sameState, 'the member to join and catch up', 90_000);
    await untilRelay(member, () => member.peer.isRelaySynced(relay.onion), 'the member to be live on the relay');

    const s = await status(member);
    expect(s).toMatchObject({ relaySynced: true, gaps: [], withheld: [], gapsDetected: 0, gapsRepaired: 0, lastDown: null });
    expect(s.lastSyncAt).toEqual(expect.any(Number));
    // The next catch-up fetches whole hours from the one the relay last named to this node.
    // (This hour, or the one before if the test ran across the hour.)
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    expect(s.catchUp?.bucketSeconds).toBe(3600);
    expect([hour, hour - 3_600_000]).toContain(s.catchUp?.from);
  });

  it('detects the dropped message as a gap, repairs it from the founder, and counts both', { timeout: 120_000 }, async () => {
    // The member's dashboard hears of the repair over SSE (`sync`), though no new event says so.
    const heard = nextSse(member.port, member.token, 'sync', (d) => d['pursuanceId'] === pursuanceId && member.sync.status(pursuanceId).gapsRepaired > 0);
    await heard.ready;
    let dropped = 0;
    relay.policy = {
      replay: honest.replay,
      push: (s, m) => (s.n === memberSession && dropped++ === 0 ? [] : [m]),
    };
    // Two tasks: the first one's message never reaches the member; the second references it.
    const first = await api<{ id: string }>(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Dropped by the relay' });
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Arrives' });
    await untilChange(member, sameState, 'the member to repair the gap and catch up', 90_000);
    relay.policy = honest;

    expect(dropped).toBeGreaterThanOrEqual(2);
    expect(
      member.registry
        .get(pursuanceId)
        .log.state()
        .tasks.has(first.id as never),
    ).toBe(true);
    const s = await status(member);
    expect(s.gapsDetected).toBeGreaterThanOrEqual(1);
    expect(s.gapsRepaired).toBeGreaterThanOrEqual(1);
    expect(s.gaps).toEqual([]);
    expect(s.withheld).toEqual([]);
    await heard.event;
    // The founder's own view of the relay was untouched.
    expect(await status(founder)).toMatchObject({ gapsDetected: 0, gapsRepaired: 0 });
  });

  it('says when the relay connection was lost', { timeout: 60_000 }, async () => {
    const before = Date.now();
    const heard = nextSse(member.port, member.token, 'sync', (d) => d['pursuanceId'] === pursuanceId);
    await heard.ready;
    await relay.close();
    await heard.event;
    await untilRelay(
      member,
      () => !member.peer.isRelaySynced(relay.onion) && member.sync.status(pursuanceId).lastDown !== null,
      'the member to notice the relay is gone',
    );
    const s = await status(member);
    expect(s.relaySynced).toBe(false);
    expect(s.lastDown?.at).toBeGreaterThanOrEqual(before);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '@pursuance/crypto';
import { signEvent, type EventId } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilChange } from '../support/until-change.js';

/**
 * Three member nodes and a relay daemon process on one loopback network: a pursuance created
 * on one node reaches the others only through the relay (Cwtch group, sealed fixed-size
 * ciphertexts), and each node shows exactly what its member's roles allow.
 */
let dir: string;
let registryDir: string;
let relay: Spawned;
let bundle: string;
const nodes: RunningNode[] = [];
async function node(name: string): Promise<RunningNode> {
  const n = await startNode(testNodeOptions(dir, name, registryDir));
  nodes.push(n);
  return n;
}

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-sync-'));
  registryDir = join(dir, 'registry');
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir));
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('nodes sync a pursuance through an untrusted relay', () => {
  let founder: RunningNode;
  let alice: RunningNode;
  let bob: RunningNode;
  let pursuanceId: string;

  /**
   * Whether the node's read model (what its API serves) lists the task. Waiting on the log is not
   * enough: an event is in the log before its read-model change is stored, so a wait woken by an
   * earlier event's notice could see the log ahead of what GET …/tasks answers.
   */
  const shows = (n: RunningNode, taskId: string): boolean => n.registry.projections.tasks(pursuanceId).some((t) => t.id === taskId);

  it('invites two members who join from the invite and reach the founder’s state', { timeout: 120_000 }, async () => {
    [founder, alice, bob] = [await node('founder'), await node('alice'), await node('bob')];
    const created = await api(founder, 'POST', '/api/pursuances', { name: 'Synced cell', template: 'activist-cell' });
    pursuanceId = (created.body as { id: string }).id;
    expect((await api(founder, 'POST', `/api/pursuances/${pursuanceId}/relay/attach`, { bundle })).status).toBe(200);
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/members`, { onion: alice.identity.onion, name: 'alice', roles: ['member'] });
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/members`, { onion: bob.identity.onion, name: 'bob', roles: ['member', 'organizer'] });
    const invite = ((await api(founder, 'GET', `/api/pursuances/${pursuanceId}/invite`)).body as { invite: string }).invite;

    for (const member of [alice, bob]) {
      const accepted = await api(member, 'POST', '/api/invites/accept', { invite });
      expect(accepted.body).toEqual({ pursuanceId, status: 'joined' });
    }
    const hash = () => founder.registry.get(pursuanceId).log.stateHash();
    await untilChange([alice, founder], () => alice.registry.get(pursuanceId).log.stateHash() === hash(), 'alice to catch up');
    await untilChange([bob, founder], () => bob.registry.get(pursuanceId).log.stateHash() === hash(), 'bob to catch up');
    const status = (await api(alice, 'GET', `/api/pursuances/${pursuanceId}/sync`)).body as { relaySynced: boolean; gaps: string[] };
    expect(status.gaps).toEqual([]);
  });

  it('each node shows exactly the tasks its roles allow, and events flow both ways', { timeout: 120_000 }, async () => {
    const open = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Flyers' })).body as { id: string };
    const secret = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['organizer'], title: 'Lawyer' })).body as { id: string };
    for (const n of [alice, bob]) await untilChange(n, () => shows(n, secret.id), 'tasks to arrive');

    const seen = async (n: RunningNode) =>
      (await api(n, 'GET', `/api/pursuances/${pursuanceId}/tasks`)).body as { id: string; title: string | null; readable: boolean }[];
    const aliceTasks = await seen(alice);
    expect(aliceTasks.find((t) => t.id === open.id)?.title).toBe('Flyers');
    expect(aliceTasks.find((t) => t.id === secret.id)).toMatchObject({ readable: false, title: null });
    expect((await seen(bob)).find((t) => t.id === secret.id)?.title).toBe('Lawyer');

    // Alice acts; the founder receives it through the relay.
    await api(alice, 'POST', `/api/pursuances/${pursuanceId}/tasks/${open.id}/changes`, { op: 'comment', body: 'printing now' });
    await untilChange(
      [founder, alice],
      () => founder.registry.get(pursuanceId).log.stateHash() === alice.registry.get(pursuanceId).log.stateHash(),
      'alice’s comment',
    );
    const detail = (await api(founder, 'GET', `/api/pursuances/${pursuanceId}/tasks/${open.id}`)).body as { comments: { body: string }[] };
    expect(detail.comments.map((c) => c.body)).toEqual(['printing now']);
  });

  it('after a removal the group is re-keyed: the removed member receives nothing later, and its later events reach no one', { timeout: 120_000 }, async () => {
    const oldGroup = founder.sync.groupOf(pursuanceId)!;
    const removal = (await api(founder, 'DELETE', `/api/pursuances/${pursuanceId}/members/${alice.identity.onion}`, { reason: 'left' })).body as { id: string };
    const newGroup = founder.sync.groupOf(pursuanceId)!;
    expect(newGroup).not.toBe(oldGroup);
    await untilChange(alice, () => alice.registry.get(pursuanceId).log.isAccepted(removal.id as EventId), 'alice to learn of her removal');
    const later = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'After alice' })).body as { id: string };
    await untilChange(bob, () => shows(bob, later.id), 'the later task to reach bob');
    const roles = (await api(bob, 'GET', `/api/pursuances/${pursuanceId}/roles`)).body as { id: string; epoch: number; iHoldKey: boolean }[];
    expect(roles.find((r) => r.id === 'member')).toMatchObject({ epoch: 1, iHoldKey: true });
    // A message in the old group, after the task on the same relay: once alice's peer has it, it
    // has been shown everything before it — and could not open the new group's messages.
    const barrier = await founder.peer.postToGroup(oldGroup, new TextEncoder().encode('barrier'));
    await new Promise<void>((resolve) => {
      const check = () =>
        alice.peer.groupMessages(oldGroup).some((m) => m.signature === barrier.signature) && (alice.peer.off('groupMessage', check), resolve());
      alice.peer.on('groupMessage', check);
      check();
    });
    expect(alice.peer.groups().map((g) => g.id)).not.toContain(newGroup);
    expect(alice.registry.get(pursuanceId).log.event(later.id as EventId)).toBeUndefined();
    expect((await api(alice, 'GET', `/api/pursuances/${pursuanceId}/tasks/${later.id}`)).status).toBe(404);

    // Alice's node now refuses her locally (she is not a member)…
    const refused = await api(alice, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'sneaky' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'NOT_A_MEMBER' });

    // …a modified client posting one into the group she still knows reaches no one (the others'
    // peers refuse her there)…
    const log = alice.registry.get(pursuanceId).log;
    const forged = signEvent(alice.identity, {
      pursuance: fromHex(pursuanceId),
      seq: log.lastSeq(alice.identity.onion) + 1,
      parents: log.heads().map((h) => fromHex(h)),
      time: Date.now(),
      kind: 'member.leave',
      audience: [],
      body: {},
    });
    const refusedByFounder = new Promise<string>((resolve) => founder.peer.once('groupMessageRejected', (r) => resolve(r.code)));
    await alice.peer.postToGroup(oldGroup, forged.bytes);
    expect(await refusedByFounder).toBe('NOT_A_MEMBER');
    expect(founder.registry.get(pursuanceId).log.event(forged.id)).toBeUndefined();
    // …and handed to a member some other way, the fold rejects it with the reason.
    await api(founder, 'POST', `/api/pursuances/${pursuanceId}/events`, { events: [Buffer.from(forged.bytes).toString('base64')] });
    const rejections = (await api(founder, 'GET', `/api/pursuances/${pursuanceId}/rejections`)).body as { eventId: string; code: string; reason: string }[];
    expect(rejections.find((r) => r.eventId === forged.id)).toMatchObject({ code: 'NOT_A_MEMBER', reason: expect.stringContaining('not a member') });
  });

  it('moves to a second relay; a member offline during the move follows; the first relay can then stop', { timeout: 180_000 }, async () => {
    const { relay: relay2, bundle: bundle2 } = await startRelayProcess(join(dir, 'relay2'), registryDir);
    const board2 = /board ([a-z2-7]{56})/.exec(relay2.stdout())![1]!;
    try {
      // Bob goes offline; the founder moves the pursuance and keeps working.
      await bob.close();
      nodes.splice(nodes.indexOf(bob), 1);
      const moved = await api(founder, 'POST', `/api/pursuances/${pursuanceId}/relay/move`, { bundle: bundle2 });
      expect(moved.status).toBe(200);
      const afterMove = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'On the new relay' })).body as {
        id: string;
      };
      expect(((await api(founder, 'GET', `/api/pursuances/${pursuanceId}/sync`)).body as { relay: string }).relay).toBe(board2);

      // Bob returns: the old relay still holds the move, which he follows to the new one.
      bob = await node('bob');
      await untilChange(bob, () => shows(bob, afterMove.id), 'bob to follow the move');
      expect(((await api(bob, 'GET', `/api/pursuances/${pursuanceId}/sync`)).body as { relay: string }).relay).toBe(board2);

      // The first relay goes away; nothing is lost and work continues on the second.
      await relay.stop();
      const last = (await api(bob, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Only relay 2 now' })).body as { id: string };
      await untilChange(founder, () => shows(founder, last.id), 'bob’s task on relay 2');
      await untilChange(
        [bob, founder],
        () => bob.registry.get(pursuanceId).log.stateHash() === founder.registry.get(pursuanceId).log.stateHash(),
        'equal state',
      );
      expect(founder.registry.get(pursuanceId).log.state().relay.bundle).toBe(bundle2);
    } finally {
      await relay2.stop();
    }
  });
});

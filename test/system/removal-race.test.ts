import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, type EventId } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilChange } from '../support/until-change.js';

/**
 * A removal must not be undone by someone leaving at the same moment. The founder's node
 * removes Xan and re-keys the group (a new group, its invite sealed to every member it knows
 * of), while Yul — a member colluding with Xan, say — leaves in an event the founder has not
 * seen. The fold orders the leaving first, so the removal names a non-member in its invite and
 * is refused on every replica. The founder's node sees its removal lost and signs it again, on
 * the state it now has, with a new group: Xan is out.
 */
let dir: string;
let relay: Spawned;
let bundle: string;
let founder: RunningNode;

const api = (method: string, path: string, body?: unknown) =>
  http(founder.port, method, path, { token: founder.token, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'removal-race-'));
  const registryDir = join(dir, 'registry');
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir));
  founder = await startNode(testNodeOptions(dir, 'founder', registryDir));
}, 120_000);

afterAll(async () => {
  await founder?.close().catch(() => undefined);
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a removal racing a member who leaves', () => {
  it('is refused, then signed again by the remover’s node with a new group: the removed member is out', { timeout: 120_000 }, async () => {
    const created = await api('POST', '/api/pursuances', { name: 'Race cell', template: 'activist-cell' });
    const id = (created.body as { id: string }).id;
    const p = (path: string) => `/api/pursuances/${id}${path}`;
    expect((await api('POST', p('/relay/attach'), { bundle })).status).toBe(200);
    const [xan, yul] = [Identity.generate(), Identity.generate()];
    for (const [who, name] of [
      [xan, 'xan'],
      [yul, 'yul'],
    ] as const)
      expect((await api('POST', p('/members'), { onion: who.onion, name, roles: ['member'] })).status).toBe(201);

    // Yul leaves, on a replica of what the founder holds now; the founder does not see it yet.
    const { events } = (await api('GET', p('/events'))).body as { events: string[] };
    const replica = new PursuanceLog(Buffer.from(events[0]!, 'base64'));
    replica.addAll(events.slice(1).map((e) => Buffer.from(e, 'base64')));
    const leave = new PursuanceAuthor(yul, replica).leave();

    // The founder acts first (so the leaving is ready before the removal in every replica's
    // fold), then removes Xan, inviting Yul to the new group.
    expect((await api('POST', p('/tasks'), { audience: ['member'], title: 'before the race' })).status).toBe(201);
    const removal = await api('DELETE', p(`/members/${xan.onion}`), { reason: 'race' });
    expect(removal.status).toBe(200);
    const removalId = (removal.body as { id: string }).id as EventId;
    const groupBefore = founder.sync.groupOf(id);

    expect((await api('POST', p('/events'), { events: [Buffer.from(leave.bytes).toString('base64')] })).status).toBe(200);
    const log = () => founder.registry.get(id).log;
    expect(log().rejectionOf(removalId)?.reason).toContain(`${yul.onion} may not receive the re-keyed group invite`);

    const resent = () => founder.registry.ownRejections(id).find((l) => l.eventId === removalId)?.outcome.status === 'resent';
    await untilChange(founder, resent, 'the removal to be signed again');
    expect(log().state().members.has(xan.onion)).toBe(false);
    const losses = (await api('GET', p('/own-rejections'))).body as { eventId: string; kind: string; outcome: { status: string; eventId?: string } }[];
    const lost = losses.find((l) => l.eventId === removalId)!;
    expect(lost).toMatchObject({ kind: 'member.remove', outcome: { status: 'resent' } });
    const again = lost.outcome.eventId! as EventId;
    expect(log().isAccepted(again)).toBe(true);
    expect(log().state().members.has(yul.onion)).toBe(false);
    // The re-sent removal re-keyed again: a group neither Xan nor Yul was handed.
    await untilChange(founder, () => founder.sync.groupOf(id) !== groupBefore, 'the founder to follow the new group');
    const invited = (log().event(again)!.header.body as { invites?: { to: Uint8Array }[] }).invites ?? [];
    const names = invited.map((lb) => Buffer.from(lb.to).toString('hex'));
    for (const gone of [xan, yul]) expect(names).not.toContain(Buffer.from(gone.publicKey).toString('hex'));
    expect(names).toHaveLength(1); // the founder alone stays
  });
});

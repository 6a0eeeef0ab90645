import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyFromOnion } from '@pursuance/crypto';
import { decodeEvent, type EventId } from '@pursuance/pursuance';
import type { RunningNode } from '../../apps/node/src/index.js';
import { untilStream } from '../support/change-stream.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { api, relayNetwork, type Api, type RelayNetwork, type StreamedProcess } from '../support/relay-network.js';
import { untilAsync, untilChange } from '../support/until-change.js';

/**
 * Links between pursuances across processes and relays (issue 18's test of links). Pursuance A
 * ("Port Watch") starts on relay 1, pursuance B ("Harbour Desk") on relay 2; both link inboxes
 * are drop boxes on relay 2. A's editor (an organizer, its own `pursuance node start` process)
 * sends tasks to B's members; B's founder is a process too, the two members are in-process.
 *
 * - A links B both ways; A's organizer sends a task, B's members read it with its origin, and a
 *   B member's reply reaches A's organizers the same way.
 * - A's member, without the organizer role, is refused with the reason; nothing leaves A.
 * - A task sent while B's inbox relay is down waits in A's outbox; A rotates its organizer key
 *   meanwhile. When the relay is back, A's node posts the new anchor key and then the task: B
 *   adopts the key and refuses the task signed by the old one, with the reason.
 * - A moves to relay 3 and relay 1 stops: the link still works both ways (B rotates its member
 *   key, A adopts it, and A's next task is sealed to it).
 * Waits are on changes the nodes report (and, for processes, their API re-read each second).
 */
let net: RelayNetwork;
let relay2: { relay: Spawned; bundle: string } | undefined;
let relay3: { relay: Spawned; bundle: string } | undefined;

interface TaskJson {
  readonly id: string;
  readonly title: string | null;
  readonly body: string | null;
  readonly readable: boolean;
  readonly createdBy: string;
  readonly origin?: { peer: string; name: string | null; role: string };
}
interface LinkJson {
  readonly peer: string;
  readonly keys: { role: string; n: number; keyId: string }[];
  readonly waiting: number;
  readonly refused: { kind: string; code: string; reason: string }[];
  readonly sent: { id: string; status: string; code: string | null; reason: string | null }[];
}

async function ok<T>(n: Api, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}
const at = (pursuance: string, path = '') => `/api/pursuances/${pursuance}${path}`;

beforeAll(async () => {
  net = await relayNetwork('links-');
  relay2 = await startRelayProcess(join(net.dir, 'relay2'), net.registryDir);
  relay3 = await startRelayProcess(join(net.dir, 'relay3'), net.registryDir);
}, 120_000);

afterAll(async () => {
  await net?.close();
  await relay2?.relay.stop();
  await relay3?.relay.stop();
});

/** A pursuance founded by `founder` (a process) on `bundle`, with `member` (in-process) in it as a member. */
async function pursuance(founder: StreamedProcess, member: RunningNode, name: string, bundle: string): Promise<string> {
  const id = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name, template: 'activist-cell', relay: bundle })).id;
  await ok(founder, 'POST', at(id, '/members'), { onion: member.identity.onion, name: `${name} member`, roles: ['member'] });
  const { invite } = await ok<{ invite: string }>(founder, 'GET', at(id, '/invite'));
  expect(await ok(member, 'POST', '/api/invites/accept', { invite })).toEqual({ pursuanceId: id, status: 'joined' });
  const founderHash = async () => (await ok<{ stateHash: string }>(founder, 'GET', at(id))).stateHash;
  await untilStream(
    founder,
    async () => member.registry.has(id) && (await founderHash()) === member.registry.get(id).log.stateHash(),
    `${name}: the member to join`,
  );
  return id;
}

describe('links between pursuances, across processes and relays', () => {
  it(
    'A’s organizer sends tasks to B’s members; a member without the role cannot; a credential of a rotated key is refused; the link outlives A’s relay move',
    { timeout: 600_000 },
    async () => {
      const aEditor = await net.process('a-editor');
      const aMember = await net.node('a-member');
      const bFounder = await net.process('b-founder');
      const bMember = await net.node('b-member');
      const A = await pursuance(aEditor, aMember, 'Port Watch', net.bundle);
      const B = await pursuance(bFounder, bMember, 'Harbour Desk', relay2!.bundle);
      const linkAt = (n: RunningNode, id: string, peer: string) =>
        n.registry
          .get(id)
          .log.state()
          .links?.get(peer as EventId);
      const linksOf = (n: Api, id: string) => ok<LinkJson[]>(n, 'GET', at(id, '/links'));
      const tasksOf = (n: Api, id: string) => ok<TaskJson[]>(n, 'GET', at(id, '/tasks'));

      // Each side offers; A's inbox is on relay 2 too, so A's main relay is nowhere in the link.
      const offerA = await ok<{ text: string; keyId: string }>(aEditor, 'POST', at(A, '/links/offers'), { to: B, anchor: 'organizer', relay: relay2!.bundle });
      const offerB = await ok<{ text: string; keyId: string }>(bFounder, 'POST', at(B, '/links/offers'), { to: A, anchor: 'organizer' });
      // B's founder checks the anchor key id with A's editor (out of band), then opens.
      expect(await ok(bFounder, 'POST', at(B, '/links/preview'), { offer: offerA.text })).toMatchObject({ peer: A, name: 'Port Watch', keyId: offerA.keyId });
      // A's organizers may send to B's members, and B's members reply to A's organizers.
      await ok(bFounder, 'POST', at(B, '/links'), {
        offer: offerA.text,
        theyMay: [{ theirRole: 'organizer', on: 'member' }],
        weSend: [{ ours: 'member', theirs: 'organizer' }],
      });
      await ok(aEditor, 'POST', at(A, '/links'), {
        offer: offerB.text,
        theyMay: [{ theirRole: 'member', on: 'organizer' }],
        weSend: [{ ours: 'organizer', theirs: 'member' }],
      });
      await untilChange([aMember], () => linkAt(aMember, A, B)?.keys.has('member') === true, 'B’s member key to reach A', 120_000);

      // 1. The honest flow.
      const first = await ok<{ id: string; posted: boolean }>(aEditor, 'POST', at(A, `/links/${B}/tasks`), {
        ours: 'organizer',
        theirs: 'member',
        title: 'Check berth 7',
        body: 'The March manifests do not match the crane logs.',
      });
      expect(first.posted).toBe(true);
      const fromA = async (n: Api) => (await tasksOf(n, B)).filter((t) => t.origin !== undefined);
      await untilAsync([bMember.registry], async () => (await fromA(bMember)).length === 1, 'the task to reach B', 120_000);
      const [task] = await fromA(bMember);
      expect(task).toMatchObject({ title: 'Check berth 7', body: 'The March manifests do not match the crane logs.', readable: true });
      expect(task!.origin).toEqual({ peer: A, name: 'Port Watch', role: 'organizer' });
      expect(JSON.stringify(task)).not.toContain(aEditor.onion);
      // B's receipt tells A's editor it was taken in.
      const statusOf = async (id: string) => (await linksOf(aEditor, A))[0]!.sent.find((x) => x.id === id);
      await untilStream(aEditor, async () => (await statusOf(first.id))?.status === 'accepted', 'B’s receipt to reach A');
      // L11: nothing in B's log names the member of A who sent it (neither its key nor its onion).
      const editorKey = Buffer.from(publicKeyFromOnion(aEditor.onion));
      const bEvents = (await ok<{ events: string[] }>(bFounder, 'GET', at(B, '/events'))).events.map((e) => Buffer.from(e, 'base64'));
      expect(bEvents.map((b) => decodeEvent(new Uint8Array(b)).header.kind)).toContain('link.task');
      for (const bytes of bEvents) {
        expect(bytes.includes(editorKey)).toBe(false);
        expect(bytes.includes(Buffer.from(aEditor.onion))).toBe(false);
      }

      // The reply travels back the same way: a task for A's organizers, from B's members.
      const reply = await ok<{ posted: boolean }>(bMember, 'POST', at(B, `/links/${A}/tasks`), {
        ours: 'member',
        theirs: 'organizer',
        title: 'Re: Check berth 7',
        body: 'Berth 7 logs attached; the crane was idle on the 12th.',
      });
      expect(reply.posted).toBe(true);
      const replies = async () => (await tasksOf(aEditor, A)).filter((t) => t.origin !== undefined);
      await untilStream(aEditor, async () => (await replies()).length === 1, 'the reply to reach A', 1_000, 120_000);
      expect((await replies())[0]).toMatchObject({
        title: 'Re: Check berth 7',
        body: 'Berth 7 logs attached; the crane was idle on the 12th.',
        readable: true,
        origin: { peer: B, name: 'Harbour Desk', role: 'member' },
      });
      // A's member holds no organizer key: the reply is sealed from them.
      await untilAsync([aMember.registry], async () => (await tasksOf(aMember, A)).some((t) => t.origin !== undefined), 'the reply to sync to A’s member');
      expect((await tasksOf(aMember, A)).find((t) => t.origin !== undefined)).toMatchObject({ readable: false, title: null });

      // 2. A member without the role: refused with the reason, nothing signed.
      const before = aMember.registry.get(A).log.size;
      const denied = await api(aMember, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: 'Let me in' });
      expect(denied.status, denied.text).toBe(409);
      expect(denied.body).toMatchObject({ code: 'UNKNOWN_KEY' });
      expect((denied.body as { message: string }).message).toMatch(/only its holders send/);
      expect(aMember.registry.get(A).log.size).toBe(before);

      // 3. Revocation: a task waits for B's inbox relay; meanwhile A rotates the key that signed it.
      await relay2!.relay.stop();
      const waiting = await ok<{ id: string; posted: boolean }>(aEditor, 'POST', at(A, `/links/${B}/tasks`), {
        ours: 'organizer',
        theirs: 'member',
        title: 'Signed by the old key',
      });
      expect(waiting.posted).toBe(false);
      expect((await linksOf(aEditor, A))[0]!.waiting).toBe(1);
      await ok(aEditor, 'POST', at(A, '/keys/rotate'), { roles: ['organizer'] });
      relay2 = await startRelayProcess(join(net.dir, 'relay2'), net.registryDir);
      await untilChange([bMember], () => linkAt(bMember, B, A)?.keys.get('organizer')?.n === 2, 'B to adopt A’s new organizer key', 240_000);
      await untilStream(
        bFounder,
        async () => (await linksOf(bFounder, B))[0]!.refused.some((r) => r.code === 'STALE_EPOCH'),
        'B to refuse the old key’s task',
        1_000,
        240_000,
      );
      const stale = (await linksOf(bFounder, B))[0]!.refused.find((r) => r.code === 'STALE_EPOCH')!;
      expect(stale).toMatchObject({ kind: 'task' });
      expect(stale.reason).toMatch(/signed by key 1 of their "organizer"; key 2 is current/);
      // The sender learns it too, with the same reason: send it again with the new key.
      await untilStream(aEditor, async () => (await statusOf(waiting.id))?.status === 'refused', 'B’s refusal to reach A');
      expect(await statusOf(waiting.id)).toMatchObject({ code: 'STALE_EPOCH', reason: stale.reason });
      await untilStream(aEditor, async () => (await linksOf(aEditor, A))[0]!.waiting === 0, 'A’s outbox to empty');
      expect((await fromA(bMember)).map((t) => t.title)).toEqual(['Check berth 7']);

      // 4. A moves to relay 3 and relay 1 stops; B rotates its member key; the link carries on both ways.
      expect((await api(aEditor, 'POST', at(A, '/relay/move'), { bundle: relay3!.bundle })).status).toBe(200);
      // A task posted after the move reaches A's member only through relay 3.
      const marker = await ok<{ id: string }>(aEditor, 'POST', at(A, '/tasks'), { audience: ['member'], title: 'On relay 3' });
      await untilChange([aMember], () => aMember.registry.get(A).log.isAccepted(marker.id as EventId), 'A’s member to follow the move', 120_000);
      await net.relay.stop();
      await ok(bFounder, 'POST', at(B, '/keys/rotate'), { roles: ['member'] });
      const newMemberKey = () => bMember.registry.get(B).log.state().roles.get('member')!.epochs.at(-1)!.keyIdHex;
      await untilChange(
        [bMember],
        () => bMember.registry.get(B).log.state().roles.get('member')!.epochs.length === 2,
        'B’s member to get the new key',
        120_000,
      );
      await untilChange([aMember], () => linkAt(aMember, A, B)?.keys.get('member')?.n === 2, 'A to adopt B’s new member key', 240_000);
      await untilStream(
        aEditor,
        async () => (await linksOf(aEditor, A))[0]!.keys.find((k) => k.role === 'member')?.keyId === newMemberKey(),
        'A’s editor to have it',
      );
      const after = await ok<{ posted: boolean }>(aEditor, 'POST', at(A, `/links/${B}/tasks`), {
        ours: 'organizer',
        theirs: 'member',
        title: 'After the move',
      });
      expect(after.posted).toBe(true);
      await untilAsync([bMember.registry], async () => (await fromA(bMember)).length === 2, 'the task after the move to reach B', 240_000);
      const titles = (await fromA(bMember)).map((t) => [t.title, t.readable]);
      expect(titles).toContainEqual(['After the move', true]);
      expect(titles).toHaveLength(2);
    },
  );
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../../apps/node/test/support/http.js';
import { watchChanges } from '../support/change-stream.js';
import { spawnNodeProcess } from '../support/node-process.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';

/**
 * The whole system as separate processes: one relay daemon and three `pursuance node start`
 * processes (real sockets, real SQLite files), driven only through their HTTP APIs. Waiting
 * is on each node's server-sent `changed` events, never on timers.
 */
interface NodeProc {
  readonly proc: Spawned;
  readonly port: number;
  readonly token: string;
  readonly onion: string;
  /** Count of `changed` events seen so far, and a way to wait for the next one. */
  changes(): number;
  after(seen: number): Promise<void>;
  closeStream(): void;
}

let dir: string;
let registry: string;
let relay: Spawned;
let bundle: string;
const procs: NodeProc[] = [];

async function startNodeProcess(name: string): Promise<NodeProc> {
  const n = await spawnNodeProcess(name, join(dir, name), registry);
  const w = watchChanges(n.port, n.token);
  const node: NodeProc = { ...n, changes: w.count, after: w.after, closeStream: w.close };
  procs.push(node);
  return node;
}

const api = (n: NodeProc, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

/** Wait until `check` (an API read) holds, re-checking after every change the node reports. */
async function until(n: NodeProc, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const seen = n.changes();
    if (await check()) return;
    await n.after(seen);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-procs-'));
  registry = join(dir, 'registry');
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registry));
});

afterAll(async () => {
  for (const p of procs) {
    p.closeStream();
    await p.proc.stop('SIGTERM');
  }
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('three node processes and a relay process', () => {
  it('invite, join, tasks per audience, removal, and a relay move with an offline member all travel through the relays', { timeout: 240_000 }, async () => {
    const [founder, alice, bob] = [await startNodeProcess('founder'), await startNodeProcess('alice'), await startNodeProcess('bob')];
    const { id } = (await api(founder, 'POST', '/api/pursuances', { name: 'Processes', template: 'activist-cell' })).body as { id: string };
    expect((await api(founder, 'POST', `/api/pursuances/${id}/relay/attach`, { bundle })).status).toBe(200);
    await api(founder, 'POST', `/api/pursuances/${id}/members`, { onion: alice.onion, name: 'alice', roles: ['member'] });
    await api(founder, 'POST', `/api/pursuances/${id}/members`, { onion: bob.onion, name: 'bob', roles: ['member', 'organizer'] });
    const { invite } = (await api(founder, 'GET', `/api/pursuances/${id}/invite`)).body as { invite: string };
    const hashOf = async (n: NodeProc) => ((await api(n, 'GET', `/api/pursuances/${id}`)).body as { stateHash?: string }).stateHash;
    for (const member of [alice, bob]) {
      expect((await api(member, 'POST', '/api/invites/accept', { invite })).body).toEqual({ pursuanceId: id, status: 'joined' });
      const target = await hashOf(founder);
      await until(member, async () => (await hashOf(member)) === target);
    }

    const open = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Visible to members' })).body as { id: string };
    const sealed = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['organizer'], title: 'Organizers only' })).body as { id: string };
    const taskOf = async (n: NodeProc, t: string) =>
      (await api(n, 'GET', `/api/pursuances/${id}/tasks/${t}`)).body as { title?: string | null; readable?: boolean };
    for (const n of [alice, bob]) await until(n, async () => (await taskOf(n, sealed.id)).readable !== undefined);
    expect(await taskOf(alice, open.id)).toMatchObject({ title: 'Visible to members', readable: true });
    expect(await taskOf(alice, sealed.id)).toMatchObject({ title: null, readable: false });
    expect(await taskOf(bob, sealed.id)).toMatchObject({ title: 'Organizers only', readable: true });

    // Removal rotates the member key and re-keys the group: alice's node learns of its removal
    // and receives nothing later (not even the task's sealed structure).
    const removal = (await api(founder, 'DELETE', `/api/pursuances/${id}/members/${alice.onion}`, { reason: 'left' })).body as { id: string };
    await until(
      alice,
      async () => !((await api(alice, 'GET', `/api/pursuances/${id}/members`)).body as { onion: string }[]).some((m) => m.onion === alice.onion),
    );
    const later = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'After alice' })).body as { id: string };
    await until(bob, async () => (await taskOf(bob, later.id)).readable === true);
    expect((await api(alice, 'GET', `/api/pursuances/${id}/tasks/${later.id}`)).status).toBe(404);
    expect(removal).toMatchObject({ kind: 'member.remove' });
    const roles = (await api(bob, 'GET', `/api/pursuances/${id}/roles`)).body as { id: string; epoch: number; iHoldKey: boolean }[];
    expect(roles.find((r) => r.id === 'member')).toMatchObject({ epoch: 1, iHoldKey: true });
    const refused = await api(alice, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'not any more' });
    expect(refused.body).toMatchObject({ code: 'NOT_A_MEMBER' });

    // Relay move while bob's node is down; bob follows on restart; then the first relay stops.
    const { relay: relay2, bundle: bundle2 } = await startRelayProcess(join(dir, 'relay2'), registry);
    try {
      const board2 = /board ([a-z2-7]{56})/.exec(relay2.stdout())![1]!;
      bob.closeStream();
      expect(await bob.proc.stop('SIGTERM')).toBe(0);
      procs.splice(procs.indexOf(bob), 1);
      expect((await api(founder, 'POST', `/api/pursuances/${id}/relay/move`, { bundle: bundle2 })).status).toBe(200);
      const moved = (await api(founder, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'On relay 2' })).body as { id: string };
      const bob2 = await startNodeProcess('bob');
      await until(bob2, async () => (await taskOf(bob2, moved.id)).readable === true);
      expect(((await api(bob2, 'GET', `/api/pursuances/${id}/sync`)).body as { relay: string }).relay).toBe(board2);
      await relay.stop();
      const last = (await api(bob2, 'POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Only relay 2' })).body as { id: string };
      await until(founder, async () => (await taskOf(founder, last.id)).readable === true);
      const target = await hashOf(founder);
      await until(bob2, async () => (await hashOf(bob2)) === target);
    } finally {
      await relay2.stop();
    }
  });
});

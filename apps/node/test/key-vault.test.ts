import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { http } from './support/http.js';

let dir: string;
let node: RunningNode | undefined;
const start = async (): Promise<RunningNode> =>
  (node = await startNode({ dataDir: dir, password: 'key vault test password', scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null }));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-key-vault-'));
});
afterEach(async () => {
  await node?.close();
  node = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('keys this node creates survive a restart (finding 5)', () => {
  it('a member key rotated to recipients that exclude the node still reads and seals after a restart', async () => {
    let n = await start();
    const created = await http(n.port, 'POST', '/api/pursuances', { token: n.token, body: { name: 'Cell 5', template: 'activist-cell' } });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    // Another member keeps the role, so the rotation has recipients, none of them this node.
    const other = Identity.generate();
    expect(
      (await http(n.port, 'POST', `/api/pursuances/${id}/members`, { token: n.token, body: { onion: other.onion, name: 'mo', roles: ['member'] } })).status,
    ).toBe(201);
    const dropped = await http(n.port, 'DELETE', `/api/pursuances/${id}/members/${n.identity.onion}/roles/member`, { token: n.token });
    expect(dropped.status).toBe(200);
    const roles = (await http(n.port, 'GET', `/api/pursuances/${id}/roles`, { token: n.token })).body as { id: string; epoch: number }[];
    expect(roles.find((r) => r.id === 'member')?.epoch).toBe(1); // the member key rotated without us

    const createMemberTask = (title: string) => http(n.port, 'POST', `/api/pursuances/${id}/tasks`, { token: n.token, body: { audience: ['member'], title } });
    const first = await createMemberTask('Flyers');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ title: 'Flyers', readable: true });
    const taskId = (first.body as { id: string }).id;
    const before = (await http(n.port, 'GET', `/api/pursuances/${id}`, { token: n.token })).body as { stateHash: string };

    await n.close();
    node = undefined;
    n = await start();

    const task = await http(n.port, 'GET', `/api/pursuances/${id}/tasks/${taskId}`, { token: n.token });
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ title: 'Flyers', readable: true });
    const after = (await http(n.port, 'GET', `/api/pursuances/${id}`, { token: n.token })).body as { stateHash: string };
    expect(after.stateHash).toBe(before.stateHash);
    const again = await createMemberTask('Posters');
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ title: 'Posters', readable: true });
  });
});

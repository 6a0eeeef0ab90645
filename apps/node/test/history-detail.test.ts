import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { http } from './support/http.js';

let dir: string;
let node: RunningNode;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-history-'));
  node = await startNode({ dataDir: dir, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false });
});
afterAll(async () => {
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Entry {
  kind: string;
  authorName: string | null;
  change?: Record<string, unknown>;
}

describe('task history over the API', () => {
  it('lists each change with its old and new values', async () => {
    const p = node.port;
    const token = node.token;
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await http(p, method, path, { token, body });
      expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(300);
      return res.body as { id: string };
    };
    const mo = Identity.generate();
    const { id } = await ok('POST', '/api/pursuances', { name: 'Cell 9', template: 'activist-cell' });
    await ok('POST', `/api/pursuances/${id}/members`, { onion: mo.onion, name: 'mo', roles: ['member'] });
    const parent = await ok('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Saturday' });
    const task = await ok('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'A', labels: ['art'], assignees: { roles: ['organizer'] } });
    const change = (body: unknown) => ok('POST', `/api/pursuances/${id}/tasks/${task.id}/changes`, body);
    await change({ op: 'status', to: 'in-progress' });
    await change({ op: 'edit', title: 'B', body: 'Big letters', labels: ['outreach'] });
    await change({ op: 'assign', add: { members: [mo.onion] }, remove: { roles: ['organizer'] } });
    await change({ op: 'move', parent: parent.id });
    await change({ op: 'close', to: 'done', note: 'hung on the bridge' });
    await change({ op: 'comment', body: 'well done' });

    const detail = (await http(p, 'GET', `/api/pursuances/${id}/tasks/${task.id}`, { token })).body as { history: Entry[] };
    expect(detail.history.map((h) => [h.kind, h.change])).toEqual([
      ['task.create', undefined],
      ['task.status', { status: { from: 'open', to: 'in-progress' } }],
      ['task.edit', { title: { from: 'A', to: 'B' }, body: { fromLength: 0, toLength: 11 }, labels: { added: ['outreach'], removed: ['art'] } }],
      ['task.assign', { assigned: { members: [mo.onion], roles: [] }, unassigned: { members: [], roles: ['organizer'] } }],
      ['task.move', { parent: { from: null, to: parent.id } }],
      ['task.close', { status: { from: 'in-progress', to: 'done' }, note: 'hung on the bridge' }],
      ['task.comment', undefined],
    ]);
    expect(detail.history.every((h) => h.authorName === null || typeof h.authorName === 'string')).toBe(true);
    // An entry with no change is the held event in memory: what is served names only what a history tells.
    expect(detail.history.map((h) => Object.keys(h).join())).toEqual([
      'id,kind,author,time,authorName',
      ...Array.from({ length: 5 }, () => 'id,kind,author,time,change,authorName'),
      'id,kind,author,time,authorName',
    ]);
  });
});

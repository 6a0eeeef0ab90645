import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Write-only submissions through the node's API: the route, its validation and its typed
 * refusals, the task it answers with, the roles' public-key fields, and a restart that keeps
 * the submission readable to its sender (the copy sealed to them, read back from the store).
 * Reading across members is in test/system/tip-line.test.ts.
 */
let root: string;
let node: RunningNode;
let id: string;
const options = () => testNodeOptions(root, 'desk', join(root, 'loopback'));
const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-submissions-'));
  node = await startNode(options());
  id = ((await call('POST', '/api/pursuances', { name: 'Desk', template: 'newsroom' })).body as { id: string }).id;
});
afterAll(async () => {
  await node?.close();
  await rm(root, { recursive: true, force: true });
});

describe('POST /api/pursuances/:id/submissions', () => {
  let tip: string;

  it('seals a tip to the audience and answers with its task, marked as a submission', async () => {
    const res = await call('POST', `/api/pursuances/${id}/submissions`, { audience: 'tips', title: 'A ledger', body: 'Page four.' });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ audience: ['tips'], title: 'A ledger', body: 'Page four.', readable: true, submission: true, parent: null });
    tip = (res.body as { id: string }).id;
    const feed = (await call('GET', `/api/pursuances/${id}/feed`)).body as { id: string; kind: string }[];
    expect(feed[0]).toMatchObject({ id: tip, kind: 'submission.create' });
    // An ordinary task is no submission.
    const task = (await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['desk'], title: 'A story' })).body as Record<string, unknown>;
    expect(task).not.toHaveProperty('submission');
  });

  it('lists whether each role takes submissions (public key) and flags no planted key', async () => {
    const roles = (await call('GET', `/api/pursuances/${id}/roles`)).body as { id: string; publicKey: boolean; plantedKey: boolean }[];
    expect(roles.length).toBeGreaterThan(3);
    for (const r of roles) expect([r.id, r.publicKey, r.plantedKey]).toEqual([r.id, true, false]);
  });

  it('refuses bad bodies and unknown or prototype-named audiences with a typed error, storing nothing', async () => {
    const before = ((await call('GET', `/api/pursuances/${id}`)).body as { events: number }).events;
    const cases: [unknown, number, string][] = [
      [{ audience: 'tips' }, 400, 'INVALID_REQUEST'],
      [{ audience: 'tips', title: '' }, 400, 'INVALID_REQUEST'],
      [{ audience: 'tips', title: 'x'.repeat(301) }, 400, 'INVALID_REQUEST'],
      [{ audience: ['tips'], title: 'x' }, 400, 'INVALID_REQUEST'],
      [{ audience: 'tips', title: 'x', labels: ['a'] }, 400, 'INVALID_REQUEST'],
      [{ audience: 'Tips!', title: 'x' }, 400, 'INVALID_REQUEST'],
      [{ audience: 'nope', title: 'x' }, 404, 'UNKNOWN_TARGET'],
      [{ audience: 'constructor', title: 'x' }, 404, 'UNKNOWN_TARGET'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call('POST', `/api/pursuances/${id}/submissions`, body);
      expect([res.status, (res.body as { code?: string }).code], JSON.stringify(body)).toEqual([status, code]);
    }
    // An own "__proto__" key (JSON.parse makes one, and JSON.stringify sends it) is an unknown field.
    const proto = await call('POST', `/api/pursuances/${id}/submissions`, JSON.parse('{"audience":"tips","title":"x","__proto__":{"admin":true}}'));
    expect(proto.status).toBe(400);
    expect(((await call('GET', `/api/pursuances/${id}`)).body as { events: number }).events).toBe(before);
  });

  it('a restarted node still reads the tip it sent', async () => {
    await node.close();
    node = await startNode(options());
    const read = (await call('GET', `/api/pursuances/${id}/tasks/${tip}`)).body as Record<string, unknown>;
    expect(read).toMatchObject({ title: 'A ledger', body: 'Page four.', submission: true, readable: true });
  });
});

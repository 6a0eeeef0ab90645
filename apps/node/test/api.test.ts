import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { http, nextSse } from './support/http.js';
import { settled } from './support/settled.js';

let dir: string;
let node: RunningNode;
const password = 'node test password';
const start = () => startNode({ dataDir: dir, password, scrypt: TEST_SCRYPT_PARAMS, logger: false });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-api-'));
  node = await start();
});
afterAll(async () => {
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('API security', () => {
  it('binds 127.0.0.1 and keeps the token owner-only in the data dir', async () => {
    expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await stat(join(dir, 'api-token'))).mode & 0o077).toBe(0);
  });

  it('refuses a missing or wrong token, a foreign Host (DNS rebinding) and a foreign Origin', async () => {
    const p = node.port;
    expect((await http(p, 'GET', '/api/pursuances')).status).toBe(401);
    expect((await http(p, 'GET', '/api/pursuances', { token: 'x'.repeat(43) })).status).toBe(401);
    expect((await http(p, 'GET', '/api/pursuances', { token: node.token, headers: { host: `evil.example:${p}` } })).status).toBe(403);
    expect((await http(p, 'GET', '/api/pursuances', { token: node.token, headers: { host: `127.0.0.1:${p + 1}` } })).status).toBe(403);
    const foreign = await http(p, 'POST', '/api/pursuances', {
      token: node.token,
      headers: { origin: 'http://evil.example' },
      body: { name: 'x', template: 'activist-cell' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ code: 'BAD_ORIGIN' });
    expect((await http(p, 'GET', '/api/pursuances', { token: node.token, headers: { origin: `http://localhost:${p}`, host: `localhost:${p}` } })).status).toBe(
      200,
    );
    // Nothing was created by the refused requests.
    expect((await http(p, 'GET', '/api/pursuances', { token: node.token })).body).toEqual([]);
  });
});

describe('responses', () => {
  it('tells the browser to keep no API answer (no-store, no ETag); the dashboard is not an API answer', async () => {
    for (const path of ['/api/pursuances', '/api/nothing-here', '/api/__proto__']) {
      const r = await http(node.port, 'GET', path, { token: node.token });
      expect(r.headers['cache-control'], path).toBe('no-store');
      expect(r.headers.etag, path).toBeUndefined();
    }
    // Refused before any route: still not to be stored.
    expect((await http(node.port, 'GET', '/api/pursuances')).headers['cache-control']).toBe('no-store');
    expect((await http(node.port, 'GET', '/p/x/board')).headers['cache-control']).not.toBe('no-store');
  });

  it('does not hold start-up’s background load for an open live stream', async () => {
    const stream = nextSse(node.port, node.token, 'none', () => false);
    await stream.ready;
    try {
      // The load waits between pages for responses being sent; the stream never ends.
      expect(await settled(node.registry.betweenPages())).toBe(true);
    } finally {
      stream.close();
    }
  });
});

describe('commands and queries over HTTP', () => {
  let pursuanceId: string;
  const member = Identity.generate();

  it('creates a pursuance from a template and acts in it', async () => {
    const p = node.port;
    const t = node.token;
    const created = await http(p, 'POST', '/api/pursuances', { token: t, body: { name: 'Cell 9', template: 'activist-cell' } });
    expect(created.status).toBe(201);
    pursuanceId = (created.body as { id: string }).id;
    expect(created.body).toMatchObject({ name: 'Cell 9', amFounder: true, rulesTitle: 'Small activist cell' });

    expect(
      (await http(p, 'POST', `/api/pursuances/${pursuanceId}/members`, { token: t, body: { onion: member.onion, name: 'mo', roles: ['member'] } })).status,
    ).toBe(201);
    const task = await http(p, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { token: t, body: { audience: ['member'], title: 'Banner', labels: ['art'] } });
    expect(task.body).toMatchObject({ title: 'Banner', status: 'open', readable: true, audience: ['member'] });
    const taskId = (task.body as { id: string }).id;
    const change = async (body: unknown) => http(p, 'POST', `/api/pursuances/${pursuanceId}/tasks/${taskId}/changes`, { token: t, body });
    expect((await change({ op: 'status', to: 'in-progress' })).status).toBe(201);
    expect((await change({ op: 'comment', body: 'paint bought' })).status).toBe(201);
    const detail = (await http(p, 'GET', `/api/pursuances/${pursuanceId}/tasks/${taskId}`, { token: t })).body as {
      status: string;
      comments: { body: string }[];
    };
    expect(detail.status).toBe('in-progress');
    expect(detail.comments.map((c) => c.body)).toEqual(['paint bought']);

    const members = (await http(p, 'GET', `/api/pursuances/${pursuanceId}/members`, { token: t })).body as { onion: string; roles: string[] }[];
    expect(members.find((m) => m.onion === member.onion)?.roles).toEqual(['member']);
    const roles = (await http(p, 'GET', `/api/pursuances/${pursuanceId}/roles`, { token: t })).body as { id: string; epoch: number; iHoldKey: boolean }[];
    expect(roles.map((r) => [r.id, r.epoch, r.iHoldKey])).toEqual([
      ['member', 0, true],
      ['organizer', 0, true],
    ]);
    const feed = (await http(p, 'GET', `/api/pursuances/${pursuanceId}/feed`, { token: t })).body as { kind: string }[];
    expect(feed.map((f) => f.kind)).toEqual(['task.comment', 'task.status', 'task.create', 'member.add', 'genesis']);
  });

  it('answers bad input with 400 and a reason, leaving state untouched', async () => {
    const before = (await http(node.port, 'GET', `/api/pursuances/${pursuanceId}`, { token: node.token })).body as { stateHash: string };
    const bad = await http(node.port, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { token: node.token, body: { audience: [], title: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_REQUEST' });
    const unknownRole = await http(node.port, 'POST', `/api/pursuances/${pursuanceId}/tasks`, {
      token: node.token,
      body: { audience: ['nobody'], title: 'x' },
    });
    // A role that does not exist is unknown (404); an id that could never exist is malformed (400).
    expect(unknownRole.status).toBe(404);
    expect(unknownRole.body).toMatchObject({ code: 'UNKNOWN_TARGET' });
    expect((await http(node.port, 'GET', `/api/pursuances/nope`, { token: node.token })).status).toBe(400);
    expect((await http(node.port, 'GET', `/api/pursuances/${'f'.repeat(64)}`, { token: node.token })).status).toBe(404);
    const after = (await http(node.port, 'GET', `/api/pursuances/${pursuanceId}`, { token: node.token })).body as { stateHash: string };
    expect(after.stateHash).toBe(before.stateHash);
  });

  it('pushes a server-sent event when the pursuance changes', async () => {
    const sse = nextSse(node.port, node.token, 'changed', (d) => d.pursuanceId === pursuanceId);
    await sse.ready;
    await http(node.port, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { token: node.token, body: { audience: ['organizer'], title: 'Secret' } });
    const data = await sse.event;
    expect(data).toMatchObject({ pursuanceId, origin: 'local' });
  });

  it('describes itself in OpenAPI', async () => {
    const doc = (await http(node.port, 'GET', '/api/openapi.json', { token: node.token })).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/pursuances', '/api/pursuances/{id}/tasks', '/api/stream']));
  });

  it('rebuilds the same state by replay, after a rebuild command and after a restart', async () => {
    const hash = ((await http(node.port, 'GET', `/api/pursuances/${pursuanceId}`, { token: node.token })).body as { stateHash: string }).stateHash;
    const rebuilt = await http(node.port, 'POST', '/api/admin/rebuild', { token: node.token });
    expect(rebuilt.body).toMatchObject({ pursuances: 1 });
    expect(((await http(node.port, 'GET', `/api/pursuances/${pursuanceId}`, { token: node.token })).body as { stateHash: string }).stateHash).toBe(hash);
    await node.close();
    node = await start();
    const again = (await http(node.port, 'GET', `/api/pursuances/${pursuanceId}`, { token: node.token })).body as { stateHash: string; events: number };
    expect(again.stateHash).toBe(hash);
    expect(again.events).toBe(6);
  });
});

describe('request size', () => {
  it('accepts an event import larger than Express’s 100 kB default', async () => {
    const list = (await http(node.port, 'GET', '/api/pursuances', { token: node.token })).body as { id: string }[];
    const id = list[0]!.id;
    const exported = (await http(node.port, 'GET', `/api/pursuances/${id}/events`, { token: node.token })).body as { events: string[] };
    // The same events many times over: idempotent, but a body of several hundred kB.
    const events = Array.from({ length: 200 }, () => exported.events).flat();
    const r = await http(node.port, 'POST', `/api/pursuances/${id}/events`, { token: node.token, body: { events } });
    expect(JSON.stringify({ events }).length).toBeGreaterThan(200_000);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stored: 0 });
  });
});

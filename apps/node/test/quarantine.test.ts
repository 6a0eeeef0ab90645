import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Identity, sha256, toBase64, toHex } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RulesSchema, signEvent } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../src/index.js';
import { EventStore } from '../src/store/event-store.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Finding 2: a stored event that makes rebuilding a pursuance throw must not keep the node
 * from starting. The pursuance (or the one event) is quarantined and reported; every other
 * pursuance works; routes for the quarantined one answer 409, never 500.
 */
let root: string;
let node: RunningNode | undefined;
let good: string;
let goodTask: string;
let bad: string;
let plantedBytes: Uint8Array;
let identity: Identity;
const options = () => testNodeOptions(root, 'n', join(root, 'loopback'));
const storePath = () => join(root, 'n', 'node.sqlite');
const get = (path: string) => http(node!.port, 'GET', path, { token: node!.token });

/** A genesis signed by someone who is not among its founders: INVALID_GENESIS for any replica. */
async function invalidGenesis() {
  const { $schema: _schema, ...template } = JSON.parse(
    await readFile(new URL('../../../rules/templates/activist-cell.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Planted', rules: RulesSchema.parse(template) });
  const { v: _v, author: _author, ...header } = founder.log.genesis.header;
  return signEvent(Identity.generate(), header);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-quarantine-'));
  node = await startNode(options());
  const created = await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Good cell', template: 'activist-cell' } });
  good = (created.body as { id: string }).id;
  identity = node.identity;
  const task = await http(node.port, 'POST', `/api/pursuances/${good}/tasks`, { token: node.token, body: { audience: ['member'], title: 'Leaflets' } });
  expect(task.status).toBe(201);
  goodTask = (task.body as { id: string }).id;
  await node.close();
  node = undefined;

  const planted = await invalidGenesis();
  expect(() => new PursuanceLog(planted.bytes)).toThrow(/founders/);
  bad = planted.id;
  plantedBytes = planted.bytes;
  const store = await EventStore.open(storePath(), identity);
  await store.append([planted], 'group');
  await store.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await node?.close();
  await rm(root, { recursive: true, force: true });
});

describe('quarantine at start', () => {
  it('starts with an invalid stored genesis, reports it, and serves the other pursuance', async () => {
    const warnings: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (String(chunk).includes('quarantined')) warnings.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    node = await startNode(options());

    const list = (await get('/api/pursuances')).body as { id: string }[];
    expect(list.map((p) => p.id)).toEqual([good]);
    const q = (await get('/api/quarantine')).body as { pursuances: { pursuanceId: string; code: string; reason: string }[] };
    expect(q.pursuances).toEqual([expect.objectContaining({ pursuanceId: bad, code: 'INVALID_GENESIS', reason: expect.stringMatching(/founders/) })]);
    expect(warnings.join('')).toContain(bad);
    expect(warnings.join('')).not.toContain(options().password);

    for (const path of ['', '/tasks', '/members', '/roles', '/rules', '/feed', '/rejections', '/own-rejections', '/events', '/sync']) {
      const r = await get(`/api/pursuances/${bad}${path}`);
      expect(r.status, path).toBe(409);
      expect(r.body).toMatchObject({ code: 'PURSUANCE_QUARANTINED', pursuanceId: bad });
    }
    const act = await http(node.port, 'POST', `/api/pursuances/${bad}/tasks`, { token: node.token, body: { audience: ['member'], title: 'x' } });
    expect(act.status).toBe(409);
    const imported = await http(node.port, 'POST', `/api/pursuances/${bad}/events`, { token: node.token, body: { events: [toBase64(plantedBytes)] } });
    expect(imported.status).toBe(409);

    expect((await get(`/api/pursuances/${good}/tasks/${goodTask}`)).body).toMatchObject({ title: 'Leaflets', readable: true });
    const more = await http(node.port, 'POST', `/api/pursuances/${good}/tasks`, { token: node.token, body: { audience: ['member'], title: 'Posters' } });
    expect(more.status).toBe(201);

    // A rebuild judges the store again, with the same outcome.
    expect((await http(node.port, 'POST', '/api/admin/rebuild', { token: node.token })).status).toBe(200);
    expect(((await get('/api/quarantine')).body as { pursuances: unknown[] }).pursuances).toHaveLength(1);
    expect((await get(`/api/pursuances/${good}/tasks`)).status).toBe(200);
    await node.close();
    node = undefined;
  });

  it('sets aside one stored event that makes the log throw, keeps its bytes, and takes it back once it no longer does', async () => {
    const add = PursuanceLog.prototype.add;
    vi.spyOn(PursuanceLog.prototype, 'add').mockImplementation(function (this: PursuanceLog, input) {
      const id = input instanceof Uint8Array ? toHex(sha256(input)) : input.id;
      if (id === goodTask) throw new TypeError('something in this event breaks the fold');
      return add.call(this, input);
    });
    node = await startNode(options());

    const q = (await get('/api/quarantine')).body as { events: { pursuanceId: string; eventId: string; code: string; reason: string }[] };
    expect(q.events).toEqual([
      expect.objectContaining({ pursuanceId: good, eventId: goodTask, code: 'QUARANTINED', reason: expect.stringMatching(/TypeError/) }),
    ]);
    expect((await get(`/api/pursuances/${good}`)).status).toBe(200);
    expect((await get(`/api/pursuances/${good}/tasks/${goodTask}`)).status).toBe(404);
    const rejections = (await get(`/api/pursuances/${good}/rejections`)).body as { eventId: string; code: string }[];
    expect(rejections).toContainEqual(expect.objectContaining({ eventId: goodTask, code: 'QUARANTINED' }));
    await node.close();
    node = undefined;

    vi.restoreAllMocks();
    node = await startNode(options());
    expect((await get(`/api/pursuances/${good}/tasks/${goodTask}`)).body).toMatchObject({ title: 'Leaflets' });
    expect(((await get('/api/quarantine')).body as { events: unknown[] }).events).toEqual([]);
  });
});

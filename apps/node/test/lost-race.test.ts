import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http, nextSse } from './support/http.js';

/**
 * Findings 4 and 9: an event this node acknowledged can lose a race afterwards (here a
 * role.assign whose lockbox is for the member key that another organizer rotated at the same
 * time). The node must tell its user (own-rejections, SSE) and, where safe, re-sign it once.
 *
 * Two in-process nodes with no relay: events move by export/import, so each race is made by
 * hand and every step is a plain request (no waiting on timing).
 */
interface OwnRejection {
  eventId: string;
  kind: string;
  code: string;
  reason: string;
  retryOf: string | null;
  outcome: { status: 'resent'; eventId: string; kind: string } | { status: 'not-resent' | 'earlier'; reason: string };
}

let root: string;
let a: RunningNode; // founder
let b: RunningNode; // organizer
let pid: string;

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, `/api/pursuances/${pid}${path}`, { token: n.token, ...(body === undefined ? {} : { body }) });
const ok = async (n: RunningNode, method: string, path: string, body?: unknown) => {
  const r = await api(n, method, path, body);
  expect(r.status, `${method} ${path}: ${r.text}`).toBeLessThan(300);
  return r.body as Record<string, unknown>;
};
/** Hand every event `from` holds to `to` (as a member would paste an export). */
const ship = async (from: RunningNode, to: RunningNode) => {
  const { events } = (await api(from, 'GET', '/events')).body as { events: string[] };
  const r = await api(to, 'POST', '/events', { events });
  expect(r.status).toBe(200);
  return r.body as { stored: number; accepted: number };
};
const ownRejections = async (n: RunningNode) => (await ok(n, 'GET', '/own-rejections')) as unknown as OwnRejection[];
const summary = async (n: RunningNode) => (await ok(n, 'GET', '')) as { stateHash: string; events: number; pending: number };
const rolesOf = async (n: RunningNode, onion: string) =>
  ((await ok(n, 'GET', '/members')) as unknown as { onion: string; roles: string[] }[]).find((m) => m.onion === onion)?.roles;
const feedItem = async (n: RunningNode, id: string) =>
  ((await api(n, 'GET', '/feed?limit=5000')).body as { id: string; accepted: boolean; rejection: { code: string } | null }[]).find((f) => f.id === id);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-lost-race-'));
  a = await startNode(testNodeOptions(root, 'a', join(root, 'loopback')));
  b = await startNode(testNodeOptions(root, 'b', join(root, 'loopback')));
  const created = await http(a.port, 'POST', '/api/pursuances', { token: a.token, body: { name: 'Race cell', template: 'activist-cell' } });
  expect(created.status).toBe(201);
  pid = (created.body as { id: string }).id;
  // Named as B's node names itself ("b"): a different name would have B sign a rename on import, an
  // event of B's before its rotation that would change the race below.
  await ok(a, 'POST', '/members', { onion: b.identity.onion, name: 'b', roles: ['organizer', 'member'] });
  await ship(a, b);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await rm(root, { recursive: true, force: true });
});

describe('a lost race of our own event', () => {
  it('is shown to its author with the reason and re-sent once, and the re-send is accepted everywhere', async () => {
    const x = Identity.generate();
    await ok(a, 'POST', '/members', { onion: x.onion, name: 'xan', roles: [] });
    await ship(a, b);

    // Concurrently: A gives X the since-join `member` role (a lockbox for the current member
    // key), while B rotates that key. The rotation is ordered first, so A's lockbox is stale.
    const assign = await ok(a, 'POST', `/members/${x.onion}/roles`, { role: 'member' });
    await ok(b, 'POST', '/keys/rotate', { roles: ['member'] });
    expect(await rolesOf(a, x.onion)).toEqual(['member']); // acknowledged (201) on A
    expect(await ownRejections(a)).toEqual([]);

    const heard: { events: string[]; origin: string }[] = [];
    const off = a.registry.onChange((c) => heard.push({ events: c.events.map((e) => e.id), origin: c.origin }));
    const sse = nextSse(a.port, a.token, 'changed', (d) => d.pursuanceId === pid && d.origin === 'local');
    await sse.ready;
    await ship(b, a);
    off();

    const [loss, ...others] = await ownRejections(a);
    expect(others).toEqual([]);
    expect(loss).toMatchObject({
      eventId: assign.id,
      kind: 'role.assign',
      code: 'LOCKBOX_INVALID',
      retryOf: null,
      outcome: { status: 'resent', kind: 'role.assign' },
    });
    expect(loss!.reason).toMatch(/key epoch 0 of "member"/);
    const resent = (loss!.outcome as { eventId: string }).eventId;
    expect(resent).not.toBe(assign.id);
    expect((await feedItem(a, assign.id as string))?.rejection?.code).toBe('LOCKBOX_INVALID');
    expect((await feedItem(a, resent))?.accepted).toBe(true);
    // Published like any local event, so the sync service posts it; SSE clients hear of it.
    expect(heard).toContainEqual({ events: [resent], origin: 'local' });
    expect((await sse.event).events).toEqual([resent]);

    const toB = await ship(a, b);
    expect(toB.stored).toBe(2); // the lost assign and its re-send
    for (const n of [a, b]) {
      expect(await rolesOf(n, x.onion)).toEqual(['member']);
      expect((await feedItem(n, resent))?.accepted).toBe(true);
      const member = ((await ok(n, 'GET', '/roles')) as unknown as { id: string; epoch: number; holdersWithoutKey: string[] }[]).find(
        (r) => r.id === 'member',
      )!;
      expect(member.epoch).toBe(1);
      expect(member.holdersWithoutKey).toEqual([]); // X got the current key this time
    }
    expect((await summary(a)).stateHash).toBe((await summary(b)).stateHash);
    expect(await ownRejections(b)).toEqual([]);
  });

  it('reports a re-send that loses again, and does not re-send it a second time', async () => {
    const y = Identity.generate();
    await ok(a, 'POST', '/members', { onion: y.onion, name: 'yun', roles: [] });
    await ship(a, b);
    const assign = await ok(a, 'POST', `/members/${y.onion}/roles`, { role: 'member' });
    await ok(b, 'POST', '/keys/rotate', { roles: ['member'] });
    await ship(b, a); // A re-sends the assign on B's rotation…
    const first = (await ownRejections(a)).find((r) => r.eventId === assign.id)!;
    expect(first.outcome.status).toBe('resent');
    const retry = (first.outcome as { eventId: string }).eventId;

    await ok(b, 'POST', '/keys/rotate', { roles: ['member'] }); // …and B rotates again before seeing it.
    const eventsBefore = (await summary(a)).events;
    await ship(b, a);
    const list = await ownRejections(a);
    const second = list.find((r) => r.eventId === retry);
    expect(second).toMatchObject({ kind: 'role.assign', code: 'LOCKBOX_INVALID', retryOf: assign.id, outcome: { status: 'not-resent' } });
    expect(list[0]!.eventId).toBe(retry); // newest first
    // Only B's rotation was added: no third assign was signed.
    expect((await summary(a)).events).toBe(eventsBefore + 1);
    expect(await rolesOf(a, y.onion)).toEqual([]);

    await ship(a, b);
    expect((await summary(a)).stateHash).toBe((await summary(b)).stateHash);
    expect(await rolesOf(b, y.onion)).toEqual([]);
  });

  it('a removal racing a role removal of another holder is not lost; the node that made the key the departed may know rotates it once', async () => {
    const [y, z] = [Identity.generate(), Identity.generate()];
    for (const [who, name] of [
      [y, 'yara'],
      [z, 'zeno'],
    ] as const)
      await ok(a, 'POST', '/members', { onion: who.onion, name, roles: ['member'] });
    await ship(a, b);
    const rejectedBefore = (await ownRejections(a)).length;
    const rotations = async (n: RunningNode) =>
      ((await api(n, 'GET', '/feed?limit=5000')).body as { kind: string }[]).filter((f) => f.kind === 'keys.rotate').length;
    const rotationsBefore = await rotations(a);

    // Concurrently: A expels Y (its new member key still goes to Z), B takes Z's member role
    // away (its new member key still goes to Y). Before, the fold refused whichever came second.
    const expel = await ok(a, 'DELETE', `/members/${y.onion}`, { reason: 'race' });
    const demote = await ok(b, 'DELETE', `/members/${z.onion}/roles/member`);
    await ship(b, a);
    await ship(a, b);
    await ship(b, a); // the rotation B may have made on seeing A's removal
    for (const n of [a, b]) {
      expect((await feedItem(n, expel.id as string))?.accepted).toBe(true);
      expect((await feedItem(n, demote.id as string))?.accepted).toBe(true);
      expect(await rolesOf(n, y.onion)).toBeUndefined();
      expect(await rolesOf(n, z.onion)).toEqual([]);
    }
    expect((await ownRejections(a)).length, 'the removal lost no race').toBe(rejectedBefore);
    const member = async (n: RunningNode) =>
      ((await ok(n, 'GET', '/roles')) as unknown as { id: string; rotationDue: boolean }[]).find((r) => r.id === 'member')!;
    // Whichever rotation the fold put second reached a departed member; its maker rotated, once.
    expect((await rotations(a)) - rotationsBefore, 'one automatic rotation').toBe(1);
    for (const n of [a, b]) expect((await member(n)).rotationDue, 'nothing left due').toBe(false);
    expect((await summary(a)).stateHash).toBe((await summary(b)).stateHash);
    // What is created now is sealed to a key neither Y nor Z holds.
    const task = await ok(a, 'POST', '/tasks', { audience: ['member'], title: 'after the race' });
    const fold = a.registry.get(pid).log;
    const current = fold.state().roles.get('member')!.epochs.at(-1)!;
    for (const gone of [y, z]) expect(current.recipients.has(gone.onion), gone.onion).toBe(false);
    expect(fold.isAccepted(task.id as never)).toBe(true);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await http(a.port, 'GET', '/api/openapi.json', { token: a.token })).body as {
      paths: Record<
        string,
        {
          get?: {
            summary?: string;
            responses?: Record<string, { content?: Record<string, { schema?: { items?: { properties?: Record<string, unknown> } } }> }>;
          };
        }
      >;
    };
    const route = doc.paths['/api/pursuances/{id}/own-rejections']?.get;
    expect(route?.summary).toBe('Your own events refused after a race');
    expect(Object.keys(route?.responses?.['200']?.content?.['application/json']?.schema?.items?.properties ?? {})).toEqual(
      expect.arrayContaining(['eventId', 'kind', 'code', 'reason', 'outcome', 'retryOf']),
    );
    expect(route?.responses?.['409']).toBeDefined();
    expect(doc.paths['/api/quarantine']?.get).toBeDefined();
  });

  it('after a restart lists earlier losses without re-sending them', async () => {
    const before = await ownRejections(a);
    const { events, stateHash } = await summary(a);
    await a.close();
    a = await startNode(testNodeOptions(root, 'a', join(root, 'loopback')));
    const after = await ownRejections(a);
    expect(after.map((r) => r.eventId).sort()).toEqual(before.map((r) => r.eventId).sort());
    for (const r of after) expect(r.outcome.status).toBe('earlier');
    // A later ingest does not take the old losses for new ones.
    await ship(b, a);
    expect(await summary(a)).toMatchObject({ events, stateHash });
    expect((await ownRejections(a)).every((r) => r.outcome.status === 'earlier')).toBe(true);
  });
});

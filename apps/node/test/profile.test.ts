import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Identity } from '@pursuance/crypto';
import type { RelayServer } from '@pursuance/relay';
import type { LoopbackACN } from '@pursuance/tapir';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { untilChange } from '../../../test/support/until-change.js';
import { http } from './support/http.js';
import { startMemoryRelay } from './support/memory-relay.js';

/**
 * Names (issue 14, item 3): the node's display name is its Cwtch profile's; the founder's goes
 * into the genesis, a member's reaches each pursuance as a signed member.rename — when it
 * changes (PUT /api/profile), and once on joining, when the name the adder typed (or none)
 * differs. Two nodes and a relay on one loopback network; every change crosses the relay.
 */
let root: string;
let registryDir: string;
let relayAcn: LoopbackACN;
let relay: RelayServer;
let bundle: string;
const nodes = new Map<string, RunningNode>();

async function start(name: string, displayName: string): Promise<RunningNode> {
  const n = await startNode({ ...testNodeOptions(root, name, registryDir), displayName });
  nodes.set(name, n);
  return n;
}

async function restart(name: string): Promise<RunningNode> {
  await nodes.get(name)!.close();
  // The display name option only names a NEW profile: a restart keeps the stored one.
  return start(name, 'ignored on an existing profile');
}

const api = async (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });
const ok = async (n: RunningNode, method: string, path: string, body?: unknown) => {
  const r = await api(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as never;
};

interface Member {
  onion: string;
  name: string | null;
}
const nameIn = (n: RunningNode, pursuanceId: string, onion: string) =>
  n.registry
    .get(pursuanceId)
    .log.state()
    .members.get(onion as never)?.name;
const renamesBy = (n: RunningNode, pursuanceId: string, onion: string) =>
  [...n.registry.get(pursuanceId).log.events()].filter((e) => e.header.kind === 'member.rename' && e.author === onion);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-profile-'));
  registryDir = join(root, 'loopback');
  ({ relay, acn: relayAcn } = await startMemoryRelay(registryDir, Identity.generate()));
  bundle = relay.exportedBundle;
});

afterAll(async () => {
  for (const n of nodes.values()) await n.close().catch(() => undefined);
  await relay?.close();
  await relayAcn?.close();
  await rm(root, { recursive: true, force: true });
});

describe('the node’s name', () => {
  let fran: RunningNode;
  let bea: RunningNode;
  let pursuanceId: string;

  it('GET /api/profile gives the onion and the name the profile was created with', { timeout: 60_000 }, async () => {
    fran = await start('fran', 'Fran');
    expect(await ok(fran, 'GET', '/api/profile')).toEqual({ onion: fran.identity.onion, name: 'Fran' });
  });

  it('is the founder’s name in a pursuance the node creates (carried in the genesis)', { timeout: 60_000 }, async () => {
    pursuanceId = ((await ok(fran, 'POST', '/api/pursuances', { name: 'Cell', template: 'activist-cell' })) as { id: string }).id;
    const members = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/members`)) as Member[];
    expect(members).toEqual([expect.objectContaining({ onion: fran.identity.onion, name: 'Fran', founder: true })]);
    expect(fran.registry.get(pursuanceId).log.genesis.header.body.members[0]).toMatchObject({ name: 'Fran' });
    expect(await ok(fran, 'GET', `/api/pursuances/${pursuanceId}`)).toMatchObject({ myName: 'Fran' });
  });

  it('reaches a member who joins, who names themself once on joining, over the relay', { timeout: 120_000 }, async () => {
    bea = await start('bea', 'Bea');
    await ok(fran, 'POST', `/api/pursuances/${pursuanceId}/relay/attach`, { bundle });
    // Fran types another name for her: Bea's own replaces it once Bea's node is caught up.
    await ok(fran, 'POST', `/api/pursuances/${pursuanceId}/members`, { onion: bea.identity.onion, name: 'B. from the meeting', roles: ['member'] });
    const { invite } = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/invite`)) as { invite: string };
    await ok(bea, 'POST', '/api/invites/accept', { invite });
    await untilChange(fran, () => nameIn(fran, pursuanceId, bea.identity.onion) === 'Bea', "Bea's rename to reach Fran");
    await untilChange([bea, fran], () => bea.registry.get(pursuanceId).log.stateHash() === fran.registry.get(pursuanceId).log.stateHash(), 'Bea to agree');
    expect(nameIn(bea, pursuanceId, fran.identity.onion)).toBe('Fran');
    expect(renamesBy(bea, pursuanceId, bea.identity.onion)).toHaveLength(1);
    const members = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/members`)) as Member[];
    expect(members.map((m) => [m.onion, m.name]).sort()).toEqual(
      [
        [fran.identity.onion, 'Fran'],
        [bea.identity.onion, 'Bea'],
      ].sort(),
    );
    // The feed names authors beside their onions.
    const feed = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/feed`)) as { kind: string; author: string; authorName: string | null }[];
    expect(feed.find((f) => f.kind === 'member.rename')).toMatchObject({ author: bea.identity.onion, authorName: 'Bea' });
    expect(feed.find((f) => f.kind === 'genesis')).toMatchObject({ author: fran.identity.onion, authorName: 'Fran' });
  });

  it('does not rename again after a restart when the name there is already right', { timeout: 120_000 }, async () => {
    bea = await restart('bea');
    expect(await ok(bea, 'GET', '/api/profile')).toEqual({ onion: bea.identity.onion, name: 'Bea' });
    // A change Fran makes reaches Bea (so Bea is caught up again) without a second rename.
    const task = (await ok(fran, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Flyers' })) as { id: string };
    await untilChange(
      bea,
      () =>
        bea.registry
          .get(pursuanceId)
          .log.state()
          .tasks.has(task.id as never),
      'the task to reach Bea',
    );
    await vi.waitFor(() => expect(bea.sync.status(pursuanceId).relaySynced).toBe(true), { timeout: 60_000, interval: 20 });
    await bea.registry.idle();
    expect(renamesBy(bea, pursuanceId, bea.identity.onion)).toHaveLength(1);
  });

  it('PUT /api/profile stores the new name and signs a rename in each pursuance; the others see it', { timeout: 120_000 }, async () => {
    const update = (await ok(bea, 'PUT', '/api/profile', { name: '  Bea Q.  ' })) as { onion: string; name: string; pursuances: unknown[] };
    expect(update).toEqual({
      onion: bea.identity.onion,
      name: 'Bea Q.',
      pursuances: [{ pursuanceId, status: 'renamed', eventId: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(bea.peer.displayName).toBe('Bea Q.');
    expect(nameIn(bea, pursuanceId, bea.identity.onion)).toBe('Bea Q.');
    await untilChange(fran, () => nameIn(fran, pursuanceId, bea.identity.onion) === 'Bea Q.', 'the new name to reach Fran');
    // The same name again signs nothing.
    expect(await ok(bea, 'PUT', '/api/profile', { name: 'Bea Q.' })).toMatchObject({ name: 'Bea Q.', pursuances: [] });
    expect(renamesBy(bea, pursuanceId, bea.identity.onion)).toHaveLength(2);
    // Kept in the profile across a restart.
    bea = await restart('bea');
    expect(await ok(bea, 'GET', '/api/profile')).toMatchObject({ name: 'Bea Q.' });
  });

  it('names task authors, commenters and history entries', { timeout: 120_000 }, async () => {
    const task = (await ok(fran, 'POST', `/api/pursuances/${pursuanceId}/tasks`, { audience: ['member'], title: 'Banner' })) as { id: string };
    await untilChange(
      bea,
      () =>
        bea.registry
          .get(pursuanceId)
          .log.state()
          .tasks.has(task.id as never),
      'the task to reach Bea',
    );
    await ok(bea, 'POST', `/api/pursuances/${pursuanceId}/tasks/${task.id}/changes`, { op: 'comment', body: 'I can paint it' });
    const seen = (await ok(bea, 'GET', `/api/pursuances/${pursuanceId}/tasks/${task.id}`)) as {
      createdBy: string;
      createdByName: string | null;
      comments: { author: string; authorName: string | null }[];
      history: { kind: string; author: string; authorName: string | null }[];
    };
    expect(seen).toMatchObject({ createdBy: fran.identity.onion, createdByName: 'Fran' });
    expect(seen.comments).toEqual([expect.objectContaining({ author: bea.identity.onion, authorName: 'Bea Q.' })]);
    expect(seen.history.map((h) => [h.kind, h.authorName])).toEqual([
      ['task.create', 'Fran'],
      ['task.comment', 'Bea Q.'],
    ]);
  });

  it('a removed member keeps the last name they had in the feed, and renames nowhere any more', { timeout: 120_000 }, async () => {
    await ok(fran, 'DELETE', `/api/pursuances/${pursuanceId}/members/${bea.identity.onion}`, {});
    const feed = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/feed`)) as { author: string; authorName: string | null }[];
    expect(feed.filter((f) => f.author === bea.identity.onion).map((f) => f.authorName)).toContain('Bea Q.');
    await untilChange(bea, () => !bea.registry.get(pursuanceId).log.state().members.has(bea.identity.onion), 'the removal to reach Bea');
    expect(await ok(bea, 'PUT', '/api/profile', { name: 'Bea R.' })).toMatchObject({ name: 'Bea R.', pursuances: [] });
    expect(renamesBy(bea, pursuanceId, bea.identity.onion)).toHaveLength(2);
  });

  it('refuses names that are empty, too long, or hold line breaks, controls or direction overrides: 400, profile unchanged', { timeout: 60_000 }, async () => {
    const before = (await ok(fran, 'GET', '/api/profile')) as { name: string };
    const events = fran.registry.get(pursuanceId).log.size;
    for (const name of ['', '   ', 'x'.repeat(121), 'Fran\nAdmin', 'Fr\ran', 'Fran\u0000', '\u202Enarf', 'Fran\u2066', 'Fran\u2028x', 42, null, ['Fran']]) {
      const r = await api(fran, 'PUT', '/api/profile', { name });
      expect(r.status, JSON.stringify(name)).toBe(400);
      expect(r.body, JSON.stringify(name)).toMatchObject({ code: 'INVALID_REQUEST', field: 'name', message: expect.stringContaining('"name"') });
    }
    for (const body of [{}, { name: 'Fran', extra: 1 }, 'Fran']) expect((await api(fran, 'PUT', '/api/profile', body)).status).toBe(400);
    expect(await ok(fran, 'GET', '/api/profile')).toEqual(before);
    expect(fran.peer.displayName).toBe(before.name);
    expect(fran.registry.get(pursuanceId).log.size).toBe(events);
  });

  it('accepts names in any script and prototype names, stored as plain values', { timeout: 60_000 }, async () => {
    for (const name of ['__proto__', 'constructor', 'أليس', 'Zoë 🌻']) {
      expect(await ok(fran, 'PUT', '/api/profile', { name })).toMatchObject({ name });
      const members = (await ok(fran, 'GET', `/api/pursuances/${pursuanceId}/members`)) as Member[];
      expect(members.find((m) => m.onion === fran.identity.onion)?.name).toBe(name);
    }
  });
});

describe('a node without a display name', () => {
  it('creates pursuances without a founder name and answers name: null', { timeout: 60_000 }, async () => {
    const anon = await start('anon', '');
    expect(await ok(anon, 'GET', '/api/profile')).toEqual({ onion: anon.identity.onion, name: null });
    const { id } = (await ok(anon, 'POST', '/api/pursuances', { name: 'Quiet', template: 'activist-cell' })) as { id: string };
    expect(((await ok(anon, 'GET', `/api/pursuances/${id}/members`)) as Member[])[0]!.name).toBeNull();
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, RulesSchema, type Rules, type SignedEvent } from '@pursuance/pursuance';
import { ChangeFeed } from '../src/domain/changes.js';
import { tasksOf } from '../src/domain/read-models.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { startNode, type RunningNode } from '../src/index.js';
import { EventStore } from '../src/store/event-store.js';
import { commandArbitrary, runCommand } from './support/commands.js';
import { http, nextSse } from './support/http.js';

/**
 * GET /api/pursuances/:id/changes: what changed in a pursuance's read model since a version,
 * and the version on the live stream's `changed` events. A client that keeps the lists and
 * applies each change set must hold exactly what a full refetch gives, whatever happened in
 * between — including tasks this member may not read, and tasks that become readable.
 */
let dir: string;
let node: RunningNode;
let rules: Rules;

interface Task {
  id: string;
  createdAt: number;
  readable: boolean;
  title: string | null;
  parent: string | null;
  children: string[];
}
interface Feed {
  id: string;
}
interface Changes {
  version: number;
  reset: boolean;
  tasks: { upserted: Task[]; removed: string[] };
  members: unknown[] | null;
  roles: unknown[] | null;
  feed: { items: Feed[]; full: boolean };
}

const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
const get = async <T>(path: string): Promise<T> => {
  const r = await call('GET', path);
  expect(r.status, `GET ${path}: ${r.text}`).toBe(200);
  return r.body as T;
};
const changes = (id: string, since?: number) => get<Changes>(`/api/pursuances/${id}/changes${since === undefined ? '' : `?since=${since}`}`);
const byNodeOrder = (a: Task, b: Task) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

/** A client's copy of the lists: fetched whole once, then kept by change sets alone. */
class Mirror {
  version = 0;
  tasks: Task[] = [];
  members: unknown[] = [];
  roles: unknown[] = [];
  feed: Feed[] = [];
  resets = 0;
  public constructor(private readonly id: string) {}

  public async fetchWhole(): Promise<void> {
    this.version = (await changes(this.id)).version;
    this.tasks = await get(`/api/pursuances/${this.id}/tasks`);
    this.members = await get(`/api/pursuances/${this.id}/members`);
    this.roles = await get(`/api/pursuances/${this.id}/roles`);
    this.feed = await get(`/api/pursuances/${this.id}/feed?limit=200`);
  }

  public async catchUp(): Promise<Changes> {
    const c = await changes(this.id, this.version);
    if (c.reset) {
      this.resets += 1;
      await this.fetchWhole();
      return c;
    }
    const byId = new Map(this.tasks.map((t) => [t.id, t]));
    for (const id of c.tasks.removed) byId.delete(id);
    for (const t of c.tasks.upserted) byId.set(t.id, t);
    this.tasks = [...byId.values()].sort(byNodeOrder);
    if (c.members) this.members = c.members;
    if (c.roles) this.roles = c.roles;
    const fresh = new Set(c.feed.items.map((f) => f.id));
    this.feed = c.feed.full ? c.feed.items : [...c.feed.items, ...this.feed.filter((f) => !fresh.has(f.id))].slice(0, 200);
    this.version = c.version;
    return c;
  }

  public async expectCurrent(): Promise<void> {
    expect(this.tasks).toEqual(await get(`/api/pursuances/${this.id}/tasks`));
    expect(this.members).toEqual(await get(`/api/pursuances/${this.id}/members`));
    expect(this.roles).toEqual(await get(`/api/pursuances/${this.id}/roles`));
    expect(this.feed).toEqual(await get(`/api/pursuances/${this.id}/feed?limit=200`));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-changes-'));
  node = await startNode({ dataDir: dir, password: 'node test password', scrypt: TEST_SCRYPT_PARAMS, logger: false });
  const templates = (await call('GET', '/api/templates')).body as { id: string; rules: unknown }[];
  rules = RulesSchema.parse(templates.find((t) => t.id === 'activist-cell')!.rules);
});
afterAll(async () => {
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

async function newPursuance(name: string): Promise<string> {
  const r = await call('POST', '/api/pursuances', { name, template: 'activist-cell' });
  expect(r.status, r.text).toBe(201);
  return (r.body as { id: string }).id;
}

describe('GET …/changes', () => {
  it('refuses a hostile `since` with a 400 naming the field, and never crashes', async () => {
    const id = await newPursuance('Hostile since');
    const hostile = [
      '-1',
      '1.5',
      '1e3',
      '0x10',
      'abc',
      '',
      '01',
      '+1',
      '%201',
      '9007199254740993',
      '99999999999999999999',
      '1'.repeat(5000),
      'NaN',
      'Infinity',
      '1&since=2',
      '%00',
    ];
    for (const since of hostile) {
      const r = await call('GET', `/api/pursuances/${id}/changes?since=${since}`);
      expect(r.status, `since=${since}: ${r.text}`).toBe(400);
      expect(r.body, `since=${since}`).toMatchObject({ code: 'INVALID_REQUEST', field: 'since' });
    }
    // A well-formed version the node never handed out is no error: the client starts over.
    for (const since of ['0', '1', '9007199254740991']) {
      const r = await call('GET', `/api/pursuances/${id}/changes?since=${since}`);
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ reset: true, tasks: { upserted: [], removed: [] } });
    }
    expect((await call('GET', `/api/pursuances/${'f'.repeat(64)}/changes?since=1`)).body).toMatchObject({ code: 'UNKNOWN_PURSUANCE' });
    expect((await call('GET', `/api/pursuances/nope/changes?since=1`)).status).toBe(400);
    expect((await http(node.port, 'GET', `/api/pursuances/${id}/changes?since=1`)).status).toBe(401);
    // The node still answers after all that.
    expect((await changes(id)).reset).toBe(true);
  });

  it("carries the new version on the stream's `changed` event, and only what changed since", async () => {
    const id = await newPursuance('Versions');
    const first = await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'First' });
    const second = await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Second' });
    const secondId = (second.body as { id: string }).id;
    const before = await changes(id);
    expect(before.reset).toBe(true);
    expect(await changes(id, before.version)).toMatchObject({
      version: before.version,
      reset: false,
      tasks: { upserted: [], removed: [] },
      members: null,
      roles: null,
    });

    const sse = nextSse(node.port, node.token, 'changed', (d) => d.pursuanceId === id);
    await sse.ready;
    const changed = await call('POST', `/api/pursuances/${id}/tasks/${secondId}/changes`, { op: 'comment', body: 'on it' });
    expect(changed.status, changed.text).toBe(201);
    const event = await sse.event;
    expect(typeof event.version).toBe('number');
    expect(event.version as number).toBeGreaterThan(before.version);

    const after = await changes(id, before.version);
    expect(after.version).toBe(event.version);
    expect(after.tasks.upserted.map((t) => t.title)).toEqual(['Second']);
    // The task as the list holds it: all of GET …/tasks/:taskId but its history.
    const { history, ...item } = await get<{ history: unknown[] }>(`/api/pursuances/${id}/tasks/${secondId}`);
    expect(history.length).toBeGreaterThan(0);
    expect(after.tasks.upserted).toEqual([item]);
    expect(after.tasks.removed).toEqual([]);
    expect(after.members).toBeNull();
    expect(after.feed).toEqual({ items: [expect.objectContaining({ id: (changed.body as { id: string }).id, kind: 'task.comment' })], full: false });
    expect(first.status).toBe(201);
  });

  it('answers `reset` for a version from before a rebuild, then counts on from above it', async () => {
    const id = await newPursuance('Rebuilt');
    await call('POST', `/api/pursuances/${id}/tasks`, { audience: ['member'], title: 'Kept' });
    const before = (await changes(id)).version;
    expect((await call('POST', '/api/admin/rebuild')).status).toBe(200);
    const after = await changes(id, before);
    expect(after.reset).toBe(true);
    expect(after.version).toBeGreaterThan(before);
    expect((await changes(id, after.version)).reset).toBe(false);
  });

  it('applying each change set gives what a full refetch gives, whatever the commands (property)', async () => {
    const command = commandArbitrary(rules.workflow.states, fc.string({ minLength: 1, maxLength: 20 }));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ command, catchUp: fc.boolean() }), { minLength: 4, maxLength: 24 }), async (steps) => {
        const id = await newPursuance(`Property ${run++}`);
        const tasks: string[] = [];
        const mirror = new Mirror(id);
        await mirror.fetchWhole();
        for (const { command: c, catchUp } of steps) {
          await runCommand(call, id, tasks, c);
          if (catchUp) {
            await mirror.catchUp();
            await mirror.expectCurrent();
          }
        }
        await mirror.catchUp();
        await mirror.expectCurrent();
        expect(mirror.resets).toBe(0);
      }),
      { numRuns: 30 },
    );
  }, 240_000);

  it('serves a member only what their roles may read: sealed tasks stay sealed, and open up when a key arrives', async () => {
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Someone else’s cell', rules });
    const me = node.registry.identity;
    const post = async (events: readonly SignedEvent[]) => {
      const r = await call('POST', `/api/pursuances/${founder.log.id}/events`, { events: events.map((e) => toBase64(e.bytes)) });
      expect(r.status, r.text).toBe(200);
    };
    await post([founder.log.genesis, founder.addMember(me.publicKey, { name: 'me', roles: ['member'] })]);
    const id = founder.log.id;
    const mirror = new Mirror(id);
    await mirror.fetchWhole();

    const open = founder.createTask({ audience: ['member'], title: 'For members' });
    const sealed = founder.createTask({ audience: ['organizer'], title: 'Organizers only', body: 'the address' });
    await post([open, sealed]);
    const c = await mirror.catchUp();
    expect(c.reset).toBe(false);
    const seen = new Map(c.tasks.upserted.map((t) => [t.id, t]));
    expect(seen.get(open.id)).toMatchObject({ readable: true, title: 'For members' });
    expect(seen.get(sealed.id)).toMatchObject({ readable: false, title: null, body: null });
    expect(JSON.stringify(c)).not.toContain('Organizers only');
    expect(JSON.stringify(c)).not.toContain('the address');
    await mirror.expectCurrent();

    // A comment on the sealed task: it changed for this member too (its public part), still sealed.
    await post([founder.comment(sealed.id, 'the hall is booked')]);
    const sealedComment = await mirror.catchUp();
    expect(JSON.stringify(sealedComment)).not.toContain('the hall is booked');
    // Only its history changed (the list item, sealed, reads the same): it is listed all the same,
    // so a client showing the task fetches it, and its history, again.
    expect(sealedComment.tasks.upserted).toEqual([seen.get(sealed.id)]);
    const detail = (await call('GET', `/api/pursuances/${id}/tasks/${sealed.id}`)).body as { history: { kind: string }[] };
    expect(detail.history.map((h) => h.kind)).toEqual(['task.create', 'task.comment']);
    await mirror.expectCurrent();

    // Made an organizer: the key comes with the role, and the sealed task opens up in the next change set.
    await post([founder.assignRole(me.onion, 'organizer')]);
    const opened = await mirror.catchUp();
    expect(opened.tasks.upserted.find((t) => t.id === sealed.id)).toMatchObject({ readable: true, title: 'Organizers only' });
    expect(opened.members).not.toBeNull();
    await mirror.expectCurrent();
    expect(mirror.resets).toBe(0);
  });
});

describe('a change being stored while a client asks', () => {
  /** A registry whose store holds appends at a gate, so a client can ask while a change is in flight. */
  async function gatedRegistry() {
    const root = await mkdtemp(join(tmpdir(), 'node-changes-gate-'));
    const identity = Identity.generate();
    const store = await EventStore.open(join(root, 'node.sqlite'), identity);
    const registry = new PursuanceRegistry(store, identity);
    const append = store.append.bind(store);
    let gate: Promise<void> | null = null;
    let open = (): void => undefined;
    store.append = async (...args) => {
      if (gate) await gate;
      return append(...args);
    };
    return {
      registry,
      hold: (): void => {
        gate = new Promise<void>((resolve) => (open = resolve));
      },
      release: () => {
        gate = null;
        open();
      },
      async close() {
        await registry.idle();
        await store.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  }

  /** Wait (on the condition, not a clock) until the held action's event is in the log. */
  async function untilInLog(registry: PursuanceRegistry, id: string, size: number): Promise<void> {
    for (let i = 0; i < 100_000 && registry.get(id).log.size < size; i++) await new Promise((r) => setImmediate(r));
    expect(registry.get(id).log.size).toBe(size);
  }

  it('answers as of the last published change meanwhile, and the next change set holds the rest', async () => {
    const g = await gatedRegistry();
    try {
      const feed = new ChangeFeed(g.registry);
      const { id } = await g.registry.create({ name: 'In flight', rules });
      const v0 = feed.changesSince(id, undefined).version;
      expect(tasksOf(g.registry.get(id), g.registry.view(id))).toEqual([]);
      g.hold();
      const acting = g.registry.act(id, (a) => a.createTask({ audience: ['member'], title: 'Held' }));
      await untilInLog(g.registry, id, 2);
      expect(feed.changesSince(id, v0)).toMatchObject({ version: v0, reset: false, tasks: { upserted: [], removed: [] } });
      g.release();
      const held = await acting;
      const after = feed.changesSince(id, v0);
      expect(after.tasks.upserted.map((t) => t.id)).toEqual([held.id]);
      expect(after.tasks.upserted).toEqual(tasksOf(g.registry.get(id), g.registry.view(id)));
    } finally {
      g.release();
      await g.close();
    }
  });

  it('misses nothing when its first question comes while a change is in flight', async () => {
    const g = await gatedRegistry();
    try {
      const { id } = await g.registry.create({ name: 'First ask in flight', rules });
      // Someone read this member's view already (GET …/tasks): the registry keeps it until the pursuance changes.
      expect(tasksOf(g.registry.get(id), g.registry.view(id))).toEqual([]);
      g.hold();
      const acting = g.registry.act(id, (a) => a.createTask({ audience: ['member'], title: 'Held' }));
      await untilInLog(g.registry, id, 2);
      // A client's first question, and its lists, while the task is in the log but not yet in this member's view.
      const feed = new ChangeFeed(g.registry);
      const start = feed.changesSince(id, undefined);
      const listed = tasksOf(g.registry.get(id), g.registry.view(id));
      g.release();
      const held = await acting;
      const next = feed.changesSince(id, start.version);
      expect(next.reset).toBe(false);
      const byId = new Map(listed.map((t) => [t.id, t]));
      for (const t of next.tasks.upserted) byId.set(t.id, t);
      for (const gone of next.tasks.removed) byId.delete(gone);
      expect([...byId.values()].map((t) => t.id)).toContain(held.id);
      expect([...byId.values()]).toEqual(tasksOf(g.registry.get(id), g.registry.view(id)));
    } finally {
      g.release();
      await g.close();
    }
  });
});

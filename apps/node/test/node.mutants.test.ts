// Tests added because a mutation run (npm run mutate -- node) showed these checks could be
// removed or weakened with every other test still passing.
import 'reflect-metadata';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, randomKey } from '@pursuance/crypto';
import { NodeEventStore1763856000000 } from '@pursuance/migrations';
import { PursuanceAuthor, RejectionCode, type Rules, type SignedEvent } from '@pursuance/pursuance';
import { loadTemplates } from '../src/domain/templates.js';
import { DEFAULT_TEMPLATES_DIR, startNode, type RunningNode } from '../src/start.js';
import { StoreCorruptError } from '../src/store/errors.js';
import { EventStore, KEY_SECRETS_PER_ACTION } from '../src/store/event-store.js';
import { StoreKeys } from '../src/store/store-keys.js';
import { http } from './support/http.js';

describe('the API guard, on a real node', () => {
  let dir: string;
  let node: RunningNode;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-guard-'));
    node = await startNode({ dataDir: dir, password: 'guard test password', scrypt: TEST_SCRYPT_PARAMS, logger: false });
  });
  afterAll(async () => {
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a foreign Host with 403 and the stable code BAD_HOST, even with the right token', async () => {
    for (const host of ['evil.example:80', `localhost.evil.example:${node.port}`, `127.0.0.1:${node.port + 1}`]) {
      const result = await http(node.port, 'GET', '/api/pursuances', { token: node.token, headers: { host } });
      expect(result.status, host).toBe(403);
      expect(result.body, host).toMatchObject({ code: 'BAD_HOST' });
    }
  });

  it('takes the token only after the exact scheme "Bearer ": another scheme of the same length is refused', async () => {
    // "Digest " is as long as "Bearer ": a guard that only cut the first 7 characters would accept it.
    for (const scheme of ['Digest ', 'bearer ', 'BEARER ', 'Bearer:']) {
      const result = await http(node.port, 'GET', '/api/pursuances', { headers: { authorization: `${scheme}${node.token}` } });
      expect(result.status, scheme).toBe(401);
      expect(result.body, scheme).toMatchObject({ code: 'BAD_TOKEN' });
    }
  });

  it('takes a query token only as one string: a repeated parameter is refused, even one spelling the token byte by byte', async () => {
    const bytes = [...Buffer.from(node.token)].map((b) => `token=${b}`).join('&');
    for (const query of [bytes, `token=${node.token}&token=${node.token}`]) {
      const result = await http(node.port, 'GET', `/api/pursuances?${query}`);
      expect(result.status).toBe(401);
      expect(result.body).toMatchObject({ code: 'BAD_TOKEN' });
    }
    expect((await http(node.port, 'GET', `/api/pursuances?token=${node.token}`)).status).toBe(200);
  });
});

describe('the node event store', () => {
  let dir: string;
  let rules: Rules;
  const me = Identity.generate();
  const keys = StoreKeys.forIdentity(me);

  beforeAll(async () => {
    rules = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules;
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-store-mutants-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const path = (): string => join(dir, 'node.sqlite');
  async function withStore<T>(run: (store: EventStore) => Promise<T>): Promise<T> {
    const store = await EventStore.open(path(), me);
    try {
      return await run(store);
    } finally {
      await store.close();
    }
  }
  const unusedAtRest = async (store: EventStore): Promise<number> =>
    (await store.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_key_vault WHERE used = 0`))[0]!.n;
  /** Events of a real pursuance: genesis, then `extra` member additions. */
  function pursuance(extra: number): SignedEvent[] {
    const author = PursuanceAuthor.create(me, { name: 'Mutant cell', rules });
    const events: SignedEvent[] = [author.log.genesis];
    for (let i = 0; i < extra; i++) events.push(author.addMember(Identity.generate().publicKey, { name: `m${i}`, roles: ['member'] }));
    return events;
  }

  it('keeps its key check under the name "key-check", which stores written by earlier versions carry', async () => {
    await withStore(async (store) => {
      const rows = await store.dataSource.query<{ name: string }[]>(`SELECT name FROM node_store_meta`);
      expect(rows.map((r) => r.name)).toEqual(['key-check']);
    });
  });

  it('lists pursuance ids sorted, whatever order their rows are in', async () => {
    const ids: string[] = [];
    await withStore(async (store) => {
      for (let i = 0; i < 6; i++) {
        const [genesis] = pursuance(0);
        ids.push(genesis!.id);
        await store.append([genesis!], 'local');
      }
      expect(await store.pursuanceIds()).toEqual([...ids].sort());
    });
  });

  it('refuses kept inputs whose sealed rows were swapped or moved to another pursuance', async () => {
    const [a] = pursuance(0);
    const [b] = pursuance(0);
    const reject = (n: number) => ({ eventId: n.toString(16).padStart(64, '0'), code: RejectionCode.INVALID_ENCODING, reason: `junk ${n}` });
    await withStore(async (store) => {
      await store.recordInvalid(reject(1), Buffer.from('one'), 'peer', a!.id);
      await store.recordInvalid(reject(2), Buffer.from('two'), 'peer', a!.id);
      await store.recordInvalid(reject(3), Buffer.from('three'), 'peer', b!.id);
      expect((await store.rejectedInputs(a!.id)).map((r) => r.reason)).toEqual(['junk 1', 'junk 2']);
      // Swapped: row 2 now holds row 1's sealed record under its own input tag.
      await store.dataSource.query(`UPDATE node_sealed_rejects SET sealed = (SELECT sealed FROM node_sealed_rejects WHERE seq = 1) WHERE seq = 2`);
      await expect(store.rejectedInputs(a!.id)).rejects.toThrow(StoreCorruptError);
    });
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await withStore(async (store) => {
      await store.recordInvalid(reject(3), Buffer.from('three'), 'peer', b!.id);
      // Moved: b's kept input re-tagged as a's (its input tag still matches its hash).
      await store.dataSource.query(`UPDATE node_sealed_rejects SET pursuance_tag = ?`, [keys.tag('pursuance', a!.id)]);
      await expect(store.rejectedInputs(a!.id)).rejects.toThrow(StoreCorruptError);
    });
  });

  it('seals a store from before sealing whatever its number of rows (odd counts included)', async () => {
    const events = pursuance(2);
    await mkdir(dir, { recursive: true });
    const legacy = new DataSource({ type: 'sqlite', database: path(), migrations: [NodeEventStore1763856000000], enableWAL: true });
    await legacy.initialize();
    await legacy.runMigrations();
    for (const e of events) {
      await legacy.query(`INSERT INTO node_events (id, pursuance_id, kind, author, origin, received_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
        e.id,
        events[0]!.id,
        e.header.kind,
        e.author,
        'group',
        1,
        Buffer.from(e.bytes),
      ]);
    }
    await legacy.destroy();
    await withStore(async (store) => {
      const read: string[] = [];
      for await (const page of store.stream(events[0]!.id)) read.push(...page.map((e) => e.id));
      expect(read).toEqual(events.map((e) => e.id));
    });
  });

  it('hands out the unused secrets kept at rest after a restart, without writing new ones', async () => {
    await withStore((store) => store.ensureKeySecrets(2));
    await withStore(async (store) => {
      const before = await unusedAtRest(store);
      expect(before).toBe(2 + 48);
      expect(() => store.takeKeySecret()).not.toThrow();
      await store.ensureKeySecrets(2);
      expect(await unusedAtRest(store)).toBe(before);
    });
  });

  it('tops the vault up to the minimum plus 48, and writes nothing while the minimum is there', async () => {
    await withStore(async (store) => {
      await store.ensureKeySecrets();
      expect(await unusedAtRest(store)).toBe(KEY_SECRETS_PER_ACTION + 48);
      // Exactly the minimum left in the pool: nothing to write.
      for (let i = 0; i < 48; i++) store.takeKeySecret();
      await store.ensureKeySecrets();
      expect(await unusedAtRest(store)).toBe(KEY_SECRETS_PER_ACTION + 48);
      // Below the minimum: filled back to minimum + 48 in the pool (the drawn ones stay at rest
      // until an append marks them used).
      for (let i = 0; i < 10; i++) store.takeKeySecret();
      await store.ensureKeySecrets();
      expect(await unusedAtRest(store)).toBe(KEY_SECRETS_PER_ACTION + 48 + 58);
    });
  });

  it('refuses to open a vault row whose secret is not 32 bytes (sealed under the right key)', async () => {
    await withStore(async (store) => {
      await store.dataSource.query(`INSERT INTO node_key_vault (used, sealed) VALUES (0, ?)`, [keys.seal({ t: 'key', s: randomKey().subarray(0, 16) })]);
    });
    await expect(EventStore.open(path(), me)).rejects.toThrow(StoreCorruptError);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await withStore(async (store) => {
      await store.dataSource.query(`INSERT INTO node_key_vault (used, sealed) VALUES (1, ?)`, [keys.seal({ t: 'key', s: 'not bytes' })]);
      await expect(store.usedKeySecrets()).rejects.toThrow(StoreCorruptError);
    });
  });

  it('closes twice without error', async () => {
    const store = await EventStore.open(path(), me);
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});

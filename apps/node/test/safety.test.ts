import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, SAFETY_NUMBER_PATTERN, publicKeyFromOnion, safetyNumber } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { SafetyService } from '../src/domain/safety.js';
import { EventStore } from '../src/store/event-store.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Issue 14, item 3: the "compare this code in person" check. Both sides compute the same
 * safety number from the two keys; confirming it is recorded per contact in the node's sealed
 * store, only for the number as it is now, and survives a restart.
 */
let root: string;
let registryDir: string;
const nodes = new Map<string, RunningNode>();

async function start(name: string): Promise<RunningNode> {
  const n = await startNode(testNodeOptions(root, name, registryDir));
  nodes.set(name, n);
  return n;
}

const api = async (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

interface Safety {
  onion: string;
  name: string | null;
  safetyNumber: string;
  verifiedAt: number | null;
}
const safety = async (n: RunningNode, onion: string): Promise<Safety> => {
  const r = await api(n, 'GET', `/api/contacts/${onion}/safety`);
  expect(r.status, r.text).toBe(200);
  return r.body as Safety;
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-safety-'));
  registryDir = join(root, 'loopback');
});

afterAll(async () => {
  for (const n of nodes.values()) await n.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('safety numbers', () => {
  let ann: RunningNode;
  let ben: RunningNode;

  it('is the same number on both sides, computed from the two keys, and unverified at first', { timeout: 60_000 }, async () => {
    ann = await start('ann');
    ben = await start('ben');
    const fromAnn = await safety(ann, ben.identity.onion);
    const fromBen = await safety(ben, ann.identity.onion);
    expect(fromAnn.safetyNumber).toMatch(SAFETY_NUMBER_PATTERN);
    expect(fromAnn.safetyNumber).toBe(fromBen.safetyNumber);
    expect(fromAnn.safetyNumber).toBe(safetyNumber(publicKeyFromOnion(ann.identity.onion), publicKeyFromOnion(ben.identity.onion)));
    expect(fromAnn).toMatchObject({ onion: ben.identity.onion, verifiedAt: null });
  });

  it('carries the name the contact has in a pursuance', { timeout: 60_000 }, async () => {
    const created = await api(ann, 'POST', '/api/pursuances', { name: 'Cell', template: 'activist-cell' });
    expect(created.status, created.text).toBeLessThan(300);
    const id = (created.body as { id: string }).id;
    const added = await api(ann, 'POST', `/api/pursuances/${id}/members`, { onion: ben.identity.onion, name: 'Ben' });
    expect(added.status, added.text).toBeLessThan(300);
    expect((await safety(ann, ben.identity.onion)).name).toBe('Ben');
    expect((await safety(ann, Identity.generate().onion)).name).toBeNull();
  });

  it('refuses a number that is not the current one and records nothing', { timeout: 60_000 }, async () => {
    const current = (await safety(ann, ben.identity.onion)).safetyNumber;
    const other = safetyNumber(publicKeyFromOnion(ann.identity.onion), publicKeyFromOnion(Identity.generate().onion));
    expect(other).not.toBe(current);
    const r = await api(ann, 'POST', `/api/contacts/${ben.identity.onion}/safety/verify`, { safetyNumber: other });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'SAFETY_NUMBER_MISMATCH', field: 'safetyNumber' });
    expect((await safety(ann, ben.identity.onion)).verifiedAt).toBeNull();
  });

  it('records a match, keeps it across a restart, sealed in the store', { timeout: 120_000 }, async () => {
    const current = (await safety(ann, ben.identity.onion)).safetyNumber;
    const before = Date.now();
    const r = await api(ann, 'POST', `/api/contacts/${ben.identity.onion}/safety/verify`, { safetyNumber: current });
    expect(r.status, r.text).toBe(200);
    const verifiedAt = (r.body as Safety).verifiedAt;
    expect(verifiedAt).toBeGreaterThanOrEqual(before);
    expect(await safety(ann, ben.identity.onion)).toMatchObject({ safetyNumber: current, verifiedAt });
    // One read for a member list's badges.
    expect((await api(ann, 'GET', '/api/contacts/safety')).body).toEqual([{ onion: ben.identity.onion, verifiedAt }]);
    // Another contact is not verified by it.
    expect((await safety(ann, Identity.generate().onion)).verifiedAt).toBeNull();

    await ann.close();
    ann = await start('ann');
    expect(await safety(ann, ben.identity.onion)).toMatchObject({ safetyNumber: current, verifiedAt });

    // At rest the store names nobody: neither the contact's onion nor the digits appear in its files.
    const dir = join(root, 'ann');
    for (const f of (await readdir(dir)).filter((f) => f.startsWith('node.sqlite'))) {
      const bytes = await readFile(join(dir, f));
      expect(bytes.includes(Buffer.from(ben.identity.onion)), f).toBe(false);
      expect(bytes.includes(Buffer.from(current)), f).toBe(false);
    }
  });

  it('un-verifies, and that too survives a restart', { timeout: 120_000 }, async () => {
    const r = await api(ann, 'DELETE', `/api/contacts/${ben.identity.onion}/safety/verify`);
    expect(r.status, r.text).toBe(200);
    expect((r.body as Safety).verifiedAt).toBeNull();
    await ann.close();
    ann = await start('ann');
    expect((await safety(ann, ben.identity.onion)).verifiedAt).toBeNull();
    expect((await api(ann, 'GET', '/api/contacts/safety')).body).toEqual([]);
  });

  it('lists only verifications of the current number: one made before a key change (or of garbage) is left out', async () => {
    const me = Identity.generate();
    const [a, b, c] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const number = (o: Identity) => safetyNumber(me.publicKey, o.publicKey);
    const rows = new Map([
      [a.onion, { safetyNumber: number(a), verifiedAt: 5 }],
      [b.onion, { safetyNumber: number(c), verifiedAt: 6 }],
      [me.onion, { safetyNumber: '0', verifiedAt: 7 }],
      ['__proto__', { safetyNumber: '0', verifiedAt: 8 }],
    ]);
    const service = new SafetyService(
      { identity: me, list: () => [] } as unknown as ConstructorParameters<typeof SafetyService>[0],
      { safetyVerifications: () => Promise.resolve(rows) } as unknown as ConstructorParameters<typeof SafetyService>[1],
      { contact: () => undefined },
    );
    expect(await service.verified()).toEqual([{ onion: a.onion, verifiedAt: 5 }]);
  });

  it('refuses a garbage onion and your own onion with 400', { timeout: 60_000 }, async () => {
    const flipped = ben.identity.onion.slice(0, 40) + (ben.identity.onion[40] === 'a' ? 'b' : 'a') + ben.identity.onion.slice(41);
    for (const bad of ['nope', flipped, ben.identity.onion.toUpperCase()]) {
      const r = await api(ann, 'GET', `/api/contacts/${bad}/safety`);
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatchObject({ code: 'INVALID_REQUEST' });
    }
    const self = await api(ann, 'GET', `/api/contacts/${ann.identity.onion}/safety`);
    expect(self.status).toBe(400);
    expect(self.body).toMatchObject({ code: 'INVALID_REQUEST', field: 'onion' });
    const badBody = await api(ann, 'POST', `/api/contacts/${ben.identity.onion}/safety/verify`, { safetyNumber: '12345' });
    expect(badBody.status).toBe(400);
  });
});

describe('the store’s record of compared safety numbers', () => {
  it('keeps concurrent changes for different contacts (none overwrites another)', { timeout: 60_000 }, async () => {
    const identity = Identity.generate();
    const path = join(root, 'store-only.sqlite');
    let store = await EventStore.open(path, identity);
    const onions = Array.from({ length: 8 }, () => Identity.generate().onion);
    await Promise.all(onions.map((o, i) => store.setSafetyVerification(o, { safetyNumber: `n${i}`, verifiedAt: i })));
    await Promise.all([store.setSafetyVerification(onions[0]!, null), store.setSafetyVerification(onions[1]!, { safetyNumber: 'again', verifiedAt: 99 })]);
    await store.close();
    store = await EventStore.open(path, identity);
    const got = await store.safetyVerifications();
    await store.close();
    expect(new Map([...got].sort())).toEqual(
      new Map(
        onions
          .slice(1)
          .map((o, i) => [o, i === 0 ? { safetyNumber: 'again', verifiedAt: 99 } : { safetyNumber: `n${i + 1}`, verifiedAt: i + 1 }] as const)
          .sort(),
      ),
    );
  });
});

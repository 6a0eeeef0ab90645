import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import {
  PursuanceAuthor,
  PursuanceLog,
  captureSnapshot,
  eventsAfter,
  makeSnapshot,
  snapshotAt,
  type EventId,
  type Rules,
  type Snapshot,
} from '@pursuance/pursuance';
import { SnapshotRefusedError } from '../src/domain/errors.js';
import type { SnapshotsModel } from '../src/domain/snapshots.js';
import { startNode, type RunningNode } from '../src/index.js';
import { decodeState, encodeState } from '../../../packages/pursuance/src/snapshot/state-codec.js';
import { baseStateHash } from '../../../packages/pursuance/src/snapshot/base.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Snapshots over the API (issue 16, item 3): members vouch for a snapshot of the history
 * (POST /snapshots), and every node lists what was vouched for with its own check against its
 * history (GET /snapshots). Ada and Bea are nodes sharing one pursuance by handing signed events
 * over (no relay: nothing waits on the network); Cy is a member whose events the test signs.
 * The rules ask two attesters drawn from all members.
 */
let root: string;
let ada: RunningNode;
let bea: RunningNode;
let pursuanceId: string;
const cy = Identity.generate();

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, `/api/pursuances/${pursuanceId}${path}`, { token: n.token, ...(body === undefined ? {} : { body }) });
async function ok<T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}
const snapshots = (n: RunningNode) => ok<SnapshotsModel>(n, 'GET', '/snapshots');
const summary = (n: RunningNode) => ok<{ stateHash: string; events: number }>(n, 'GET', '');

async function handOver(from: RunningNode, to: RunningNode): Promise<void> {
  const { events } = await ok<{ events: string[] }>(from, 'GET', '/events');
  await ok(to, 'POST', '/events', { events });
}

async function authorFor(identity: Identity, from: RunningNode): Promise<PursuanceAuthor> {
  const { events } = await ok<{ events: string[] }>(from, 'GET', '/events');
  const log = new PursuanceLog(fromBase64(events[0]!));
  log.addAll(events.slice(1).map((e) => fromBase64(e)));
  return new PursuanceAuthor(identity, log);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-snapshots-'));
  const registry = join(root, 'loopback');
  ada = await startNode(testNodeOptions(root, 'ada', registry));
  bea = await startNode(testNodeOptions(root, 'bea', registry));
  const templates = (await http(ada.port, 'GET', '/api/templates', { token: ada.token })).body as { id: string; rules: Rules }[];
  const rules: Rules = { ...templates.find((t) => t.id === 'activist-cell')!.rules, snapshots: { attesters: 2, from: 'members' } };
  const created = await http(ada.port, 'POST', '/api/pursuances', { token: ada.token, body: { name: 'Cell', rules } });
  expect(created.status).toBe(201);
  pursuanceId = (created.body as { id: string }).id;
  await ok(ada, 'POST', '/members', { onion: bea.identity.onion, name: 'bea', roles: ['member'] });
  await ok(ada, 'POST', '/tasks', { audience: ['member'], title: 'before the snapshot' });
  await handOver(ada, bea);
}, 120_000);

afterAll(async () => {
  await Promise.all([ada?.close(), bea?.close()]);
  await rm(root, { recursive: true, force: true });
});

describe('snapshots over the API', () => {
  it('refuses to vouch while a member has not written after any point, naming them, and changes nothing', async () => {
    const before = await summary(ada);
    const r = await api(ada, 'POST', '/snapshots');
    expect(r.status, r.text).toBe(409);
    expect(r.body).toMatchObject({ code: 'NO_STABLE_FRONTIER', message: expect.stringContaining(bea.identity.onion) });
    expect(await summary(ada)).toEqual(before);
    expect((await snapshots(ada)).snapshots).toEqual([]);
  });

  it('two members vouching for the same point add up; each node checks the claim against its own history', async () => {
    await ok(bea, 'POST', '/tasks', { audience: ['member'], title: 'bea writes' });
    await handOver(bea, ada);
    const first = await ok<{ id: string }>(ada, 'POST', '/snapshots');
    // Asking again signs nothing new.
    expect((await ok<{ id: string }>(ada, 'POST', '/snapshots')).id).toBe(first.id);
    const one = await snapshots(ada);
    expect(one).toMatchObject({ required: 2, from: 'members' });
    expect(one.snapshots).toHaveLength(1);
    expect(one.snapshots[0]).toMatchObject({ counted: 1, enough: false, check: { outcome: 'agrees', reason: null } });
    expect(one.snapshots[0]!.attesters.map((a) => a.onion)).toEqual([ada.identity.onion]);

    // Bea co-signs Ada's snapshot (not a newer one of her own): attestations add up only on one document.
    await handOver(ada, bea);
    await ok(bea, 'POST', '/snapshots');
    await handOver(bea, ada);
    const both = await snapshots(ada);
    expect(both.snapshots).toHaveLength(1);
    expect(both.snapshots[0]).toMatchObject({ hash: one.snapshots[0]!.hash, counted: 2, enough: true, check: { outcome: 'agrees' } });
    expect(both.snapshots[0]!.attesters.map((a) => a.onion).sort()).toEqual([ada.identity.onion, bea.identity.onion].sort());
    expect(await snapshots(bea)).toEqual(both);
  });

  it('a member vouching for a state that never happened is shown as disagreeing with the history, with the reason', async () => {
    await ok(ada, 'POST', '/members', { onion: cy.onion, name: 'cy', roles: ['member'] });
    const mallory = await authorFor(cy, ada);
    const honest = snapshotAt(mallory.log, (await snapshots(ada)).snapshots[0]!.frontier as EventId[]);
    const state = decodeState(honest.base.state);
    state.name = 'Not the cell you think';
    const lieBase = { ...honest.base, state: encodeState(state) };
    const lie = makeSnapshot(honest.pursuance, { ...lieBase, stateHash: baseStateHash(lieBase) });
    const forged = mallory.attestSnapshot(lie);
    await ok(ada, 'POST', '/events', { events: [toBase64(forged.bytes)] });
    const listed = (await snapshots(ada)).snapshots.find((s) => s.hash === lie.hash)!;
    expect(listed).toMatchObject({ counted: 1, enough: false, check: { outcome: 'disagrees', reason: expect.stringMatching(/hashes to/) } });
    expect(listed.attesters).toEqual([{ onion: cy.onion, name: 'cy', at: forged.header.time, eventId: forged.id }]);
  });

  it('answers typed errors for pursuances that are not here', async () => {
    const unknown = await http(ada.port, 'GET', `/api/pursuances/${'0'.repeat(64)}/snapshots`, { token: ada.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'UNKNOWN_PURSUANCE' });
    for (const name of ['constructor', '__proto__']) {
      const r = await http(ada.port, 'POST', `/api/pursuances/${name}/snapshots`, { token: ada.token });
      expect(r.status).toBe(400);
    }
  });
});

describe('starting from a snapshot a member sent (the joiner’s side)', () => {
  /** A pursuance made outside any node: founders, a few tasks, everyone writes after a frontier. */
  function history(rules: Rules, cofounder?: Identity, tasks = 5) {
    let t = 1_900_000_000_000;
    const now = () => (t += 1000);
    const f1 = Identity.generate();
    const a = PursuanceAuthor.create(f1, { name: 'Elsewhere', rules, ...(cofounder ? { cofounders: [cofounder.publicKey] } : {}) }, now);
    for (let i = 0; i < tasks; i++) a.createTask({ audience: ['member'], title: `task ${i}` });
    const frontier = a.log.heads();
    a.rename('after');
    const b = cofounder ? new PursuanceAuthor(cofounder, copyOf(a.log), undefined, now) : null;
    if (b) {
      b.rename('also after');
      a.log.add(b.log.event(b.log.heads()[0] as EventId)!.bytes);
    }
    return { a, b, frontier };
  }
  const copyOf = (log: PursuanceLog) => {
    const out = new PursuanceLog(log.genesis.bytes);
    out.addAll([...log.events()].map((e) => e.bytes));
    return out;
  };
  const bundleOf = (log: PursuanceLog, snapshot: Snapshot, attestations: Uint8Array[]) => ({
    genesis: log.genesis.bytes,
    snapshot: snapshot.bytes,
    hash: snapshot.hash,
    attestations,
    proofs: [],
    after: eventsAfter(log, snapshot.base.frontier).map((e) => e.bytes),
  });
  async function refusedWith(bundle: Parameters<RunningNode['registry']['startFromSnapshot']>[0], problem: string, reason: RegExp) {
    const err = await ada.registry.startFromSnapshot(bundle).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotRefusedError);
    expect((err as SnapshotRefusedError).problem).toBe(problem);
    expect((err as Error).message).toMatch(reason);
  }

  it('refuses an under-attested, mismatched or malformed bundle with the reason, storing nothing', async () => {
    const cell = (await http(ada.port, 'GET', '/api/templates', { token: ada.token })).body as { id: string; rules: Rules }[];
    const rules = cell.find((t) => t.id === 'activist-cell')!.rules;
    const f2 = Identity.generate();
    const { a, frontier } = history(rules, f2);
    const snapshot = captureSnapshot(a.log, frontier);
    const one = a.attestSnapshot(snapshot);
    // Two founders: one attestation is not enough.
    await refusedWith(bundleOf(a.log, snapshot, [one.bytes]), 'SNAPSHOT_UNDER_ATTESTED', /attested by 1 eligible member; its rules require 2/);
    // A document other than the one attested.
    const state = decodeState(snapshot.base.state);
    state.name = 'forged';
    const forgedBase = { ...snapshot.base, state: encodeState(state) };
    const forged = makeSnapshot(snapshot.pursuance, { ...forgedBase, stateHash: baseStateHash(forgedBase) });
    await refusedWith(
      { ...bundleOf(a.log, forged, [one.bytes]), hash: snapshot.hash },
      'SNAPSHOT_HASH_MISMATCH',
      /does not hash to what its attestations sign/,
    );
    await refusedWith({ ...bundleOf(a.log, snapshot, [one.bytes]), genesis: new Uint8Array([1, 2, 3]) }, 'SNAPSHOT_INVALID', /not a signed genesis/);
    expect(ada.registry.has(a.log.id)).toBe(false);
  });

  it('the full history is verified in slices: reads are answered from the snapshot-based log between them', async () => {
    const cell = (await http(ada.port, 'GET', '/api/templates', { token: ada.token })).body as { id: string; rules: Rules }[];
    const rules: Rules = { ...cell.find((t) => t.id === 'activist-cell')!.rules, snapshots: { attesters: 1, from: 'founders' } };
    const { a, frontier } = history(rules, undefined, 600);
    const snapshot = captureSnapshot(a.log, frontier);
    const vouched = a.attestSnapshot(snapshot);
    await ada.registry.startFromSnapshot(bundleOf(a.log, snapshot, [vouched.bytes]));
    const id = a.log.id;
    const betweenSlices = ada.registry.betweenSlices;
    // Turns the node gave its read routes while the snapshot-based log was still the one in use, unverified.
    const turns: number[] = [];
    ada.registry.betweenSlices = async () => {
      const pending = ada.registry.startedFrom(id)?.verified.outcome === 'pending' && ada.registry.get(id).log.base !== undefined;
      if (!pending) return;
      if (turns.length === 0) {
        const read = await http(ada.port, 'GET', `/api/pursuances/${id}`, { token: ada.token });
        turns.push(read.status);
      } else turns.push(0);
    };
    try {
      await ada.registry.ingest(
        id,
        [...a.log.events()].map((e) => e.bytes),
        'group',
      );
    } finally {
      ada.registry.betweenSlices = betweenSlices;
    }
    expect(ada.registry.startedFrom(id)?.verified.outcome).toBe('agrees');
    expect(ada.registry.get(id).log.base).toBeUndefined();
    // A read answered in the first turn; at least one turn per slice of the full fold of ~600 events.
    expect(turns[0]).toBe(200);
    expect(turns.length).toBeGreaterThanOrEqual(Math.floor(a.log.size / 256)); // the core's REFOLD_SLICE
  });

  it('a snapshot its attesters forged is used until the full history arrives; then the alarm is raised and the history wins', async () => {
    const cell = (await http(ada.port, 'GET', '/api/templates', { token: ada.token })).body as { id: string; rules: Rules }[];
    const rules: Rules = { ...cell.find((t) => t.id === 'activist-cell')!.rules, snapshots: { attesters: 1, from: 'founders' } };
    const { a, frontier } = history(rules);
    const honest = captureSnapshot(a.log, frontier);
    const state = decodeState(honest.base.state);
    state.name = 'What the attester wants you to see';
    const lieBase = { ...honest.base, state: encodeState(state) };
    const lie = makeSnapshot(honest.pursuance, { ...lieBase, stateHash: baseStateHash(lieBase) });
    const vouched = a.attestSnapshot(lie);
    const warnings: string[] = [];
    const warn = ada.registry.warn;
    ada.registry.warn = (line) => void warnings.push(line);
    try {
      await ada.registry.startFromSnapshot(bundleOf(a.log, lie, [vouched.bytes]));
      const id = a.log.id;
      expect(ada.registry.get(id).log.state().name).toBe('What the attester wants you to see');
      expect(ada.registry.startedFrom(id)?.verified.outcome).toBe('pending');
      // The relay's replay brings the whole history.
      await ada.registry.ingest(
        id,
        [...a.log.events()].map((e) => e.bytes),
        'group',
      );
      const listed = (await http(ada.port, 'GET', `/api/pursuances/${id}/snapshots`, { token: ada.token })).body as SnapshotsModel;
      expect(listed.startedFrom).toMatchObject({
        hash: lie.hash,
        attesters: [a.identity.onion],
        verified: { outcome: 'disagrees', reason: expect.stringMatching(/the history gives state/) },
      });
      expect(warnings.some((w) => w.includes('DISAGREES with the snapshot'))).toBe(true);
      expect(ada.registry.get(id).log.base).toBeUndefined();
      expect(ada.registry.get(id).log.stateHash()).toBe(a.log.stateHash());
      // The lie shows as disagreeing with the history here too.
      expect(listed.snapshots.find((s) => s.hash === lie.hash)?.check.outcome).toBe('disagrees');
    } finally {
      ada.registry.warn = warn;
    }
  });
});

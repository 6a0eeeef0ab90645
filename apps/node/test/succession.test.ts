import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RejectionCode, type Rules } from '@pursuance/pursuance';
import type { SuccessionModel } from '../src/domain/succession.js';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Founder succession over the API (issue 14, item 4). Two nodes — Ada, the founder, and Bea, a
 * member — share one pursuance by exporting and importing signed events (no relay: each hand-over
 * is explicit, so nothing here waits on the network). Cy and Di are members whose events the
 * test signs itself: they are the witnesses an inactivity claim needs. Every node signs with one
 * test clock, so "a day later" is a step of the clock, not a wait.
 *
 * The rules ask two founders to endorse (so a nomination stays open) and allow a claim after one
 * quiet day. Bea becomes a founder by claiming; then Cy by Ada's nomination and Bea's endorsement.
 */
const DAY = 86_400_000;
let now = Date.UTC(2026, 0, 5, 12);
const clock = () => now;

let root: string;
let ada: RunningNode;
let bea: RunningNode;
let pursuanceId: string;
const cy = Identity.generate();
const di = Identity.generate();
const stranger = Identity.generate();

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, `/api/pursuances/${pursuanceId}${path}`, { token: n.token, ...(body === undefined ? {} : { body }) });
async function ok<T>(n: RunningNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}
const succession = (n: RunningNode) => ok<SuccessionModel>(n, 'GET', '/succession');
const summary = (n: RunningNode) => ok<{ amFounder: boolean; founders: string[]; stateHash: string; events: number }>(n, 'GET', '');

/** Hand every event `from` holds to `to`, as a member would before group sync. */
async function handOver(from: RunningNode, to: RunningNode): Promise<void> {
  const { events } = await ok<{ events: string[] }>(from, 'GET', '/events');
  await ok(to, 'POST', '/events', { events });
}

/** A member acting outside any node: their log is the founder's, taken from an export. */
async function memberAuthor(identity: Identity): Promise<PursuanceAuthor> {
  const { events } = await ok<{ events: string[] }>(ada, 'GET', '/events');
  const log = new PursuanceLog(fromBase64(events[0]!));
  log.addAll(events.slice(1).map((e) => fromBase64(e)));
  return new PursuanceAuthor(identity, log, undefined, clock);
}

/** The answer must be a refusal with this status and code, and leave the pursuance as it was. */
async function refused(n: RunningNode, method: string, path: string, status: number, code: string, body?: unknown): Promise<void> {
  const before = await summary(n);
  const r = await api(n, method, path, body);
  expect({ status: r.status, code: (r.body as { code?: string }).code }, `${method} ${path}: ${r.text}`).toEqual({ status, code });
  expect(typeof (r.body as { message?: unknown }).message).toBe('string');
  const after = await summary(n);
  expect({ events: after.events, stateHash: after.stateHash }).toEqual({ events: before.events, stateHash: before.stateHash });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-succession-'));
  const registry = join(root, 'loopback');
  ada = await startNode({ ...testNodeOptions(root, 'ada', registry), clock });
  bea = await startNode({ ...testNodeOptions(root, 'bea', registry), clock });
  const templates = (await http(ada.port, 'GET', '/api/templates', { token: ada.token })).body as { id: string; rules: Rules }[];
  const cell = templates.find((t) => t.id === 'activist-cell')!.rules;
  const rules: Rules = { ...cell, succession: { quorum: 2, inactivityDays: 1 } };
  const created = await http(ada.port, 'POST', '/api/pursuances', { token: ada.token, body: { name: 'Cell', rules } });
  expect(created.status).toBe(201);
  pursuanceId = (created.body as { id: string }).id;
  // Each added with the name their node already has, so no node renames itself on joining.
  await ok(ada, 'POST', '/members', { onion: bea.identity.onion, name: 'bea', roles: ['member'] });
  await ok(ada, 'POST', '/members', { onion: cy.onion, name: 'Cy', roles: ['member'] });
  await ok(ada, 'POST', '/members', { onion: di.onion, name: 'Di', roles: ['member'] });
  await handOver(ada, bea);
});

afterAll(async () => {
  await ada?.close();
  await bea?.close();
  await rm(root, { recursive: true, force: true });
});

describe('founder succession over the API', () => {
  let nomination: string;

  it('lets only a founder nominate, and only a member who is not a founder yet', async () => {
    const start = await succession(bea);
    expect(start).toEqual({ quorum: 2, inactivityDays: 1, amFounder: false, nominees: [], nominations: [] });
    await refused(bea, 'POST', '/succession/nominations', 422, RejectionCode.DENIED, { candidate: cy.onion });
    await refused(ada, 'POST', '/succession/nominations', 404, RejectionCode.UNKNOWN_TARGET, { candidate: stranger.onion });
    await refused(ada, 'POST', '/succession/nominations', 409, RejectionCode.INVALID_STATE, { candidate: ada.identity.onion });
    expect((await succession(ada)).nominees.map((m) => m.name).sort()).toEqual(['Cy', 'Di', 'bea']);
  });

  it('lists an open nomination with its endorsements and when it may be claimed', async () => {
    const nominatedAt = now;
    const r = await api(ada, 'POST', '/succession/nominations', { candidate: bea.identity.onion });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: 'founder.nominate' });
    nomination = (r.body as { id: string }).id;
    const s = await succession(ada);
    expect(s.nominees.map((m) => m.name).sort()).toEqual(['Cy', 'Di']);
    expect(s.nominations).toEqual([
      {
        id: nomination,
        candidate: bea.identity.onion,
        candidateName: 'bea',
        nominatedBy: ada.identity.onion,
        nominatedByName: 'ada',
        nominatedAt,
        endorsers: [{ onion: ada.identity.onion, name: 'ada' }],
        endorsements: 1,
        needed: 2,
        claimableFrom: nominatedAt + DAY,
        // The nominator's nomination counts as their endorsement; only the nominee claims.
        endorse: { allowed: false, refusal: { code: RejectionCode.INVALID_STATE, reason: 'already endorsed' } },
        claim: { allowed: false, refusal: { code: RejectionCode.DENIED, reason: 'only the nominee claims a nomination' } },
      },
    ]);
    await refused(ada, 'POST', `/succession/nominations/${nomination}/endorse`, 409, RejectionCode.INVALID_STATE);
    await refused(ada, 'POST', `/succession/nominations/${nomination}/claim`, 422, RejectionCode.DENIED);
  });

  it('refuses the nominee’s claim while the founders are active, and a non-founder’s endorsement', async () => {
    await handOver(ada, bea);
    const [n] = (await succession(bea)).nominations;
    expect(n).toMatchObject({ id: nomination, endorse: { allowed: false }, claim: { allowed: false, refusal: { code: RejectionCode.INVALID_STATE } } });
    await refused(bea, 'POST', `/succession/nominations/${nomination}/claim`, 409, RejectionCode.INVALID_STATE);
    await refused(bea, 'POST', `/succession/nominations/${nomination}/endorse`, 422, RejectionCode.DENIED);
    await refused(bea, 'POST', `/succession/nominations/${'f'.repeat(64)}/claim`, 404, RejectionCode.UNKNOWN_TARGET);
    // A quiet day alone is not enough: nobody has yet shown the founders were away.
    now += DAY + 60_000;
    expect((await succession(bea)).nominations[0]!.claim.allowed).toBe(false);
    await refused(bea, 'POST', `/succession/nominations/${nomination}/claim`, 409, RejectionCode.INVALID_STATE);
  });

  it('accepts the nominee’s claim once two other members were active after the quiet day', async () => {
    for (const [who, name] of [
      [cy, 'Cy Q'],
      [di, 'Di Q'],
    ] as const) {
      const author = await memberAuthor(who);
      const e = author.rename(name);
      await ok(bea, 'POST', '/events', { events: [toBase64(e.bytes)] });
    }
    const [n] = (await succession(bea)).nominations;
    expect(n).toMatchObject({ id: nomination, claim: { allowed: true, refusal: null } });
    const r = await api(bea, 'POST', `/succession/nominations/${nomination}/claim`);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: 'founder.claim' });
    expect(await summary(bea)).toMatchObject({ amFounder: true });
    expect((await succession(bea)).nominations).toEqual([]);
    await refused(bea, 'POST', `/succession/nominations/${nomination}/claim`, 404, RejectionCode.UNKNOWN_TARGET);
  });

  it('promotes a nominee once a second founder endorses, and refuses endorsing a closed nomination', async () => {
    await handOver(bea, ada);
    expect((await summary(ada)).founders).toContain(bea.identity.onion);
    const r = await api(ada, 'POST', '/succession/nominations', { candidate: cy.onion });
    expect(r.status).toBe(201);
    const second = (r.body as { id: string }).id;
    await handOver(ada, bea);
    const [n] = (await succession(bea)).nominations;
    expect(n).toMatchObject({ id: second, candidateName: 'Cy Q', endorsements: 1, needed: 2, endorse: { allowed: true, refusal: null } });
    expect((await api(bea, 'POST', `/succession/nominations/${second}/endorse`)).status).toBe(201);
    expect((await summary(bea)).founders).toContain(cy.onion);
    expect((await succession(bea)).nominations).toEqual([]);
    await refused(bea, 'POST', `/succession/nominations/${second}/endorse`, 404, RejectionCode.UNKNOWN_TARGET);
  });
});

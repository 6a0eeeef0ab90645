import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { Identity, fromBase64, toBase64 } from '@pursuance/crypto';
import { deriveGroupId, encodeGroupInvite, parseGroupInvite } from '@pursuance/cwtch';
import { ActionNotAllowedError, EventRejectedError, RejectionCode, type Rules } from '@pursuance/pursuance';
import { type RelayServer, exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import type { LoopbackACN } from '@pursuance/tapir';
import { NotAttachedError } from '../src/domain/errors.js';
import { answerFor } from '../src/http/error-table.js';
import * as S from '../src/http/schemas.js';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http, type HttpResult } from './support/http.js';
import { startMemoryRelay } from './support/memory-relay.js';

/**
 * Issue 14, "no 500 for any input a user can type": every route of the API, found in the
 * node's own router (a route added without an entry here fails the first test), gets
 * malformed input — wrong types, missing and extra fields, huge strings and arrays, prototype
 * names, non-hex and wrong-length ids, garbage and truncated invites and relay bundles — and
 * must answer 4xx with a `code` and a `message`, leaving everything as it was: each
 * pursuance's state hash, event and rejection counts, the pursuance list, and the Cwtch
 * peer's groups, relays and contacts.
 */

let root: string;
let relayAcn: LoopbackACN;
let relay: RelayServer;
let node: RunningNode;
/** Attached to the relay, with a member and a task. */
let attached: string;
/** On no relay. */
let offline: string;
let taskId: string;
let invite: string;
let bundle: string;
let rules: Rules;
let exported: string[];
let offlineExport: string[];
const member = Identity.generate();
const stranger = Identity.generate();
const board = Identity.generate();

const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });

/** A request with a body sent exactly as given (invalid JSON, other content types). */
function raw(method: string, path: string, text: string, contentType = 'application/json'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: node.port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${node.port}`,
          authorization: `Bearer ${node.token}`,
          'content-type': contentType,
          'content-length': Buffer.byteLength(text),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          let parsed: unknown = body;
          try {
            parsed = JSON.parse(body);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text: body, headers: res.headers, receivedAt: performance.now() });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Everything a refused request must leave as it was. */
async function snapshot(): Promise<unknown> {
  const list = (await call('GET', '/api/pursuances')).body as { id: string; stateHash: string; events: number; rejected: number; pending: number }[];
  const pursuances = [];
  for (const p of list) {
    const rejections = (await call('GET', `/api/pursuances/${p.id}/rejections`)).body as unknown[];
    pursuances.push({ id: p.id, stateHash: p.stateHash, events: p.events, rejected: p.rejected, pending: p.pending, rejections: rejections.length });
  }
  return {
    profile: { name: node.peer.displayName, api: (await call('GET', '/api/profile')).body },
    safety: (await call('GET', `/api/contacts/${member.onion}/safety`)).body,
    joinInvites: await Promise.all(list.map(async (p) => (await call('GET', `/api/pursuances/${p.id}/join-invites`)).body)),
    joinRequests: (await call('GET', '/api/join-requests')).body,
    pursuances: pursuances.sort((a, b) => (a.id < b.id ? -1 : 1)),
    groups: node.peer
      .groups()
      .map((g) => `${g.id}:${g.retired === true}`)
      .sort(),
    relays: node.peer
      .relays()
      .map((r) => `${r.boardOnion}:${r.bundle}`)
      .sort(),
    contacts: node.peer
      .contacts()
      .map((c) => `${c.onion}:${c.state}`)
      .sort(),
  };
}

/** Collects every answer that is not a 4xx with a code and a message, so a failure lists them all. */
class Offenders {
  readonly list: string[] = [];
  public check(what: string, r: HttpResult, expected?: { status?: number; code?: string | readonly string[] }): void {
    const b = (typeof r.body === 'object' && r.body !== null ? r.body : {}) as { code?: unknown; message?: unknown };
    const codes = expected?.code === undefined ? undefined : typeof expected.code === 'string' ? [expected.code] : expected.code;
    const wrong =
      r.status < 400 ||
      r.status >= 500 ||
      typeof b.code !== 'string' ||
      typeof b.message !== 'string' ||
      (expected?.status !== undefined && r.status !== expected.status) ||
      (codes !== undefined && !codes.includes(b.code));
    if (wrong) this.list.push(`${what.slice(0, 300)} → ${r.status} ${r.text.slice(0, 300)}`);
  }
}

interface RouteInput {
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string>;
  /** Valid bodies (each a base for one-field mutations), and the schema that says what is valid. */
  readonly bodies?: readonly unknown[];
  readonly schema?: z.ZodType;
}

/** Every route that takes input, with valid input to mutate. Keys are the router's "METHOD path". */
const ROUTES: Record<string, () => RouteInput> = {
  'POST /api/pursuances': () => ({
    bodies: [
      { name: 'Cell', description: 'd', template: 'activist-cell' },
      { name: 'Cell', rules },
      { name: 'Cell', template: 'activist-cell', relay: bundle },
    ],
    schema: S.CreatePursuanceBody,
  }),
  'GET /api/pursuances/:id': () => ({ params: { id: attached } }),
  'GET /api/pursuances/:id/members': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/members': () => ({
    params: { id: attached },
    bodies: [{ onion: stranger.onion, name: 'Sam', roles: ['member'] }],
    schema: S.AddMemberBody,
  }),
  'DELETE /api/pursuances/:id/members/:onion': () => ({
    params: { id: attached, onion: member.onion },
    bodies: [{ reason: 'left town' }],
    schema: S.RemoveMemberBody,
  }),
  'POST /api/pursuances/:id/members/:onion/roles': () => ({
    params: { id: attached, onion: member.onion },
    bodies: [{ role: 'organizer' }],
    schema: S.AssignRoleBody,
  }),
  'DELETE /api/pursuances/:id/members/:onion/roles/:role': () => ({
    params: { id: attached, onion: member.onion, role: 'member' },
    bodies: [undefined],
    schema: S.NoBody,
  }),
  'POST /api/pursuances/:id/leave': () => ({ params: { id: attached }, bodies: [undefined], schema: S.NoBody }),
  'GET /api/pursuances/:id/roles': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/keys/rotate': () => ({ params: { id: attached }, bodies: [{ roles: ['member'] }], schema: S.RotateKeysBody }),
  'POST /api/pursuances/:id/keys/share': () => ({ params: { id: attached }, bodies: [undefined], schema: S.NoBody }),
  'GET /api/pursuances/:id/rules': () => ({ params: { id: attached } }),
  'PUT /api/pursuances/:id/rules': () => ({ params: { id: attached }, bodies: [{ rules }], schema: S.ChangeRulesBody }),
  'GET /api/pursuances/:id/tasks': () => ({ params: { id: attached }, query: { limit: '10', after: `1.${'a'.repeat(64)}` } }),
  'POST /api/pursuances/:id/tasks': () => ({
    params: { id: attached },
    bodies: [
      {
        audience: ['member'],
        parent: taskId,
        title: 'Leaflets',
        body: 'print 200',
        assignees: { members: [member.onion], roles: ['member'] },
        labels: ['print'],
        due: 1_900_000_000_000,
      },
    ],
    schema: S.CreateTaskBody,
  }),
  'POST /api/pursuances/:id/submissions': () => ({
    params: { id: attached },
    bodies: [{ audience: 'member', title: 'A tip', body: 'seen at the depot' }],
    schema: S.SubmitBody,
  }),
  'GET /api/pursuances/:id/tasks/:taskId': () => ({ params: { id: attached, taskId } }),
  'POST /api/pursuances/:id/tasks/:taskId/changes': () => ({
    params: { id: attached, taskId },
    bodies: [
      { op: 'edit', title: 'Posters', body: 'b', labels: ['x'], due: null },
      { op: 'assign', add: { members: [member.onion], roles: ['member'] }, remove: { roles: ['organizer'] } },
      { op: 'status', to: 'in-progress' },
      { op: 'close', to: 'done', note: 'n' },
      { op: 'reopen', to: 'open', note: 'n' },
      { op: 'comment', body: 'c' },
      { op: 'move', parent: null },
    ],
    schema: S.TaskChangeBody,
  }),
  'GET /api/pursuances/:id/feed': () => ({ params: { id: attached }, query: { limit: '10' } }),
  'GET /api/pursuances/:id/changes': () => ({ params: { id: attached }, query: { since: '1' } }),
  'GET /api/pursuances/:id/rejections': () => ({ params: { id: attached } }),
  'GET /api/pursuances/:id/own-rejections': () => ({ params: { id: attached } }),
  'GET /api/pursuances/:id/events': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/events': () => ({ params: { id: attached }, bodies: [{ events: exported.slice(0, 2) }], schema: S.EventsBody }),
  'POST /api/admin/rebuild': () => ({ bodies: [undefined], schema: S.NoBody }),
  'POST /api/pursuances/:id/relay/attach': () => ({ params: { id: attached }, bodies: [{ bundle }], schema: S.RelayBundleBody }),
  'POST /api/pursuances/:id/relay/move': () => ({ params: { id: attached }, bodies: [{ bundle }], schema: S.RelayBundleBody }),
  'POST /api/pursuances/:id/relay/mirrors': () => ({ params: { id: attached }, bodies: [{ bundle }], schema: S.RelayBundleBody }),
  'POST /api/pursuances/:id/relay/mirrors/drop': () => ({ params: { id: attached }, bodies: [{ bundle }], schema: S.RelayBundleBody }),
  'GET /api/pursuances/:id/invite': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/invites': () => ({ params: { id: attached }, bodies: [{ onion: stranger.onion }], schema: S.InviteContactBody }),
  'POST /api/invites/accept': () => ({ bodies: [{ invite }], schema: S.AcceptInviteBody }),
  'GET /api/pursuances/:id/sync': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/join-invites': () => ({
    params: { id: attached },
    bodies: [{ roles: ['member'], preApproved: true, expiresInHours: 24 }],
    schema: S.JoinInviteBody,
  }),
  'GET /api/pursuances/:id/join-invites': () => ({ params: { id: attached } }),
  // A well-formed id of no invite: even with valid input, nothing is revoked, approved or refused.
  'DELETE /api/pursuances/:id/join-invites/:inviteId': () => ({ params: { id: attached, inviteId: '0'.repeat(32) }, bodies: [undefined], schema: S.NoBody }),
  'POST /api/pursuances/:id/join-invites/:inviteId/approve': () => ({
    params: { id: attached, inviteId: '0'.repeat(32) },
    bodies: [{ roles: ['member'] }],
    schema: S.ApproveJoinBody,
  }),
  'POST /api/pursuances/:id/join-invites/:inviteId/refuse': () => ({
    params: { id: attached, inviteId: '0'.repeat(32) },
    bodies: [undefined],
    schema: S.NoBody,
  }),
  'PUT /api/profile': () => ({ bodies: [{ name: 'Sam' }], schema: S.ProfileBody }),
  'POST /api/pursuances/:id/profile': () => ({
    params: { id: attached },
    bodies: [{ role: 'organizer', about: 'a', asks: ['Why?'], effort: 8, days: 3 }],
    schema: S.PublishProfileBody,
  }),
  'GET /api/pursuances/:id/profile': () => ({ params: { id: attached } }),
  'DELETE /api/pursuances/:id/profile': () => ({ params: { id: attached }, bodies: [undefined], schema: S.NoBody }),
  'GET /api/pursuances/:id/join-requests': () => ({ params: { id: attached } }),
  // A well-formed id of no request: even with a valid body, nobody is admitted or declined.
  'POST /api/pursuances/:id/join-requests/:requestId/admit': () => ({
    params: { id: attached, requestId: '0'.repeat(64) },
    bodies: [{ roles: ['member'] }],
    schema: S.AdmitBody,
  }),
  'POST /api/pursuances/:id/join-requests/:requestId/decline': () => ({
    params: { id: attached, requestId: '0'.repeat(64) },
    bodies: [{ note: 'n', block: true }],
    schema: S.DeclineBody,
  }),
  'POST /api/join-profile/preview': () => ({ bodies: [{ profile: 'pursuance-profile:1:AAAA' }], schema: S.ProfileTextBody }),
  'POST /api/join-profile/requests': () => ({
    bodies: [{ profile: 'pursuance-profile:1:AAAA', name: 'Sam', answers: ['a'], vouch: 'pursuance-vouch:1:AAAA' }],
    schema: S.SendJoinRequestBody,
  }),
  'GET /api/pursuances/:id/links': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/links/offers': () => ({
    params: { id: attached },
    bodies: [{ to: 'e'.repeat(64), anchor: 'organizer', days: 3 }],
    schema: S.LinkOfferBody,
  }),
  'GET /api/pursuances/:id/links/offers': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/links/preview': () => ({ params: { id: attached }, bodies: [{ offer: 'pursuance-link:1:AAAA' }], schema: S.LinkOfferTextBody }),
  'POST /api/pursuances/:id/links': () => ({
    params: { id: attached },
    bodies: [
      {
        offer: 'pursuance-link:1:AAAA',
        name: 'Docks',
        theyMay: [{ theirRole: 'organizer', action: 'create', on: 'member' }],
        weSend: [{ ours: 'organizer', theirs: 'member' }],
      },
    ],
    schema: S.OpenLinkBody,
  }),
  // A well-formed id of no linked pursuance: even with valid input, nothing is closed or sent.
  'DELETE /api/pursuances/:id/links/:peer': () => ({ params: { id: attached, peer: 'e'.repeat(64) }, bodies: [undefined], schema: S.NoBody }),
  'POST /api/pursuances/:id/links/:peer/tasks': () => ({
    params: { id: attached, peer: 'e'.repeat(64) },
    bodies: [{ ours: 'organizer', theirs: 'member', title: 'Check berth 7', body: 'b' }],
    schema: S.LinkTaskBody,
  }),
  'POST /api/pursuances/:id/links/:peer/vouches': () => ({
    params: { id: attached, peer: 'e'.repeat(64) },
    bodies: [{ role: 'member', applicant: member.onion }],
    schema: S.VouchBody,
  }),
  'GET /api/pursuances/:id/succession': () => ({ params: { id: attached } }),
  'GET /api/pursuances/:id/snapshots': () => ({ params: { id: attached } }),
  'POST /api/pursuances/:id/snapshots': () => ({ params: { id: attached }, bodies: [undefined], schema: S.NoBody }),
  'GET /api/contacts/:onion/safety': () => ({ params: { onion: member.onion } }),
  // Well-formed, but not the number for this pair (that is 1 in 10^60): refused 409, nothing recorded.
  'POST /api/contacts/:onion/safety/verify': () => ({
    params: { onion: member.onion },
    bodies: [{ safetyNumber: Array(12).fill('00000').join(' ') }],
    schema: S.SafetyVerifyBody,
  }),
  'DELETE /api/contacts/:onion/safety/verify': () => ({ params: { onion: member.onion }, bodies: [undefined], schema: S.NoBody }),
  'POST /api/pursuances/:id/succession/nominations': () => ({ params: { id: attached }, bodies: [{ candidate: member.onion }], schema: S.NominateBody }),
  // A real event id that is no nomination: even well-formed, nothing here is endorsed or claimed.
  'POST /api/pursuances/:id/succession/nominations/:eventId/endorse': () => ({
    params: { id: attached, eventId: taskId },
    bodies: [undefined],
    schema: S.NoBody,
  }),
  'POST /api/pursuances/:id/succession/nominations/:eventId/claim': () => ({
    params: { id: attached, eventId: taskId },
    bodies: [undefined],
    schema: S.NoBody,
  }),
};

/** Routes that take no input at all (no path parameters, no body, no query): nothing to get wrong. */
const NO_INPUT = [
  'GET /api/node',
  'GET /api/profile',
  'GET /api/templates',
  'GET /api/pursuances',
  'GET /api/quarantine',
  'GET /api/openapi.json',
  'GET /api/network',
  'GET /api/stream',
  'GET /api/relays',
  'GET /api/join-requests',
  'GET /api/join-profile/requests',
  'GET /api/contacts/safety',
];
/** Served by the framework outside the API document. */
const UNDOCUMENTED = ['GET /api/openapi.json'];

function routerRoutes(): string[] {
  const app = node.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
  return app.router.stack.flatMap((layer) =>
    layer.route
      ? Object.entries(layer.route.methods)
          .filter(([, on]) => on)
          .map(([m]) => `${m.toUpperCase()} ${layer.route!.path}`)
      : [],
  );
}

const split = (route: string) => {
  const [method, path] = route.split(' ') as [string, string];
  return { method, path };
};
const fill = (path: string, params: Record<string, string>, raw: Record<string, string> = {}) =>
  path.replace(/:(\w+)/g, (_, k: string) => raw[k] ?? encodeURIComponent(params[k]!));
const withQuery = (path: string, query?: Record<string, string>) => (query ? `${path}?${new URLSearchParams(query).toString()}` : path);

// --- malformed values ------------------------------------------------------------------------

const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const HUGE = 'x'.repeat(100_001);
const BAD_HEX = [
  'nope',
  '0'.repeat(63),
  '0'.repeat(65),
  'A'.repeat(64),
  'g'.repeat(64),
  ` ${'0'.repeat(63)}`,
  '..',
  '\u0000',
  '😀',
  'x'.repeat(3000),
  ...PROTO,
];
const badOnions = () => {
  const o = member.onion;
  const flipped = o.slice(0, 40) + (o[40] === 'a' ? 'b' : 'a') + o.slice(41);
  return ['nope', o.toUpperCase(), o.slice(0, 55), `${o}a`, flipped, `${o}.onion`, 'x'.repeat(3000), ...PROTO];
};
const BAD_ROLES = ['Member', '1abc', '-a', 'a'.repeat(33), 'has space', 'nobody', ...PROTO];
/** Path segments sent as they are: bad percent-encoding. */
const RAW_SEGMENTS = ['%', '%E0%A4%A', '%ZZ'];

function badParams(name: string): string[] {
  if (name === 'onion') return badOnions();
  if (name === 'role') return BAD_ROLES;
  // A well-formed id that names nothing here is unknown (404), not malformed, but refused all the same.
  return [...BAD_HEX, 'f'.repeat(64)];
}

const clone = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** Paths to every value inside `v` (objects and arrays), the root included. */
function paths(v: unknown, at: (string | number)[] = [], depth = 0): (string | number)[][] {
  const out = [at];
  if (depth >= 6 || typeof v !== 'object' || v === null) return out;
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  for (const [k, x] of entries) out.push(...paths(x, [...at, k], depth + 1));
  return out;
}

function get(v: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
}

/** `base` with the value at `path` changed by `change` (which may delete it: returns undefined). */
function edit(base: unknown, path: readonly (string | number)[], change: (parent: Record<string | number, unknown>, key: string | number) => void): unknown {
  if (path.length === 0) throw new Error('edit the root directly');
  const copy = clone(base);
  change(get(copy, path.slice(0, -1)) as Record<string | number, unknown>, path.at(-1)!);
  return copy;
}

/** An own, enumerable property, whatever its name (so "__proto__" is sent as a field). */
function put(o: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const WRONG: readonly unknown[] = [123, -1, 1.5, true, null, '', [], {}, [1], HUGE, ...PROTO];

/** One-field mutations of a valid body: wrong types, missing, extra and prototype-named fields, huge values. */
function mutations(base: unknown): { what: string; body: unknown }[] {
  const out: { what: string; body: unknown }[] = [];
  for (const w of WRONG) out.push({ what: `body = ${JSON.stringify(w).slice(0, 30)}`, body: w });
  // A route that takes no body still refuses one with fields in it.
  if (base === undefined) for (const key of ['extra', ...PROTO]) out.push({ what: `body + "${key}"`, body: JSON.parse(`{${JSON.stringify(key)}:1}`) });
  for (const path of paths(base)) {
    const node = get(base, path);
    const where = path.join('.') || '(body)';
    if (path.length > 0) {
      for (const w of WRONG) out.push({ what: `${where} = ${JSON.stringify(w).slice(0, 30)}`, body: edit(base, path, (p, k) => put(p, k, w)) });
      if (!Array.isArray(get(base, path.slice(0, -1)))) out.push({ what: `${where} missing`, body: edit(base, path, (p, k) => delete p[k]) });
    }
    if (Array.isArray(node) && node.length > 0 && JSON.stringify(node[0]).length <= 64) {
      const many = Array.from({ length: 10_001 }, () => node[0] as unknown);
      out.push({ what: `${where} × 10001`, body: path.length === 0 ? many : edit(base, path, (p, k) => put(p, k, many)) });
    }
    if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
      for (const key of ['extra', ...PROTO]) {
        const body = clone(base);
        put((path.length === 0 ? body : get(body, path)) as Record<string, unknown>, key, 1);
        out.push({ what: `${where} + "${key}"`, body });
      }
    }
  }
  return out;
}

// --- setup -----------------------------------------------------------------------------------

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-malformed-'));
  const registry = join(root, 'loopback');
  ({ relay, acn: relayAcn } = await startMemoryRelay(registry, board));
  bundle = relay.exportedBundle;
  node = await startNode(testNodeOptions(root, 'n', registry));
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await call(method, path, body);
    if (r.status >= 300) throw new Error(`setup: ${method} ${path} → ${r.status} ${r.text}`);
    return r.body as Record<string, unknown>;
  };
  rules = ((await ok('GET', '/api/templates')) as unknown as { id: string; rules: Rules }[]).find((t) => t.id === 'activist-cell')!.rules;
  attached = (await ok('POST', '/api/pursuances', { name: 'Attached', template: 'activist-cell' })).id as string;
  offline = (await ok('POST', '/api/pursuances', { name: 'Offline', template: 'activist-cell' })).id as string;
  await ok('POST', `/api/pursuances/${attached}/relay/attach`, { bundle });
  await ok('POST', `/api/pursuances/${attached}/members`, { onion: member.onion, name: 'Mo', roles: ['member'] });
  taskId = (await ok('POST', `/api/pursuances/${attached}/tasks`, { audience: ['member'], title: 'Banner' })).id as string;
  invite = (await ok('GET', `/api/pursuances/${attached}/invite`)).invite as string;
  exported = (await ok('GET', `/api/pursuances/${attached}/events`)).events as string[];
  offlineExport = (await ok('GET', `/api/pursuances/${offline}/events`)).events as string[];
});

afterAll(async () => {
  await node?.close();
  await relay?.close();
  await relayAcn?.close();
  await rm(root, { recursive: true, force: true });
});

// --- tests -----------------------------------------------------------------------------------

describe('the routes under test', () => {
  it('are every route of the node, each documented in OpenAPI with the parameters and body it validates', { timeout: 60_000 }, async () => {
    const routes = routerRoutes();
    expect(routes.length).toBeGreaterThan(20);
    expect([...routes].sort()).toEqual([...Object.keys(ROUTES), ...NO_INPUT].sort());
    for (const r of NO_INPUT) expect(r).not.toContain(':');
    const doc = (await call('GET', '/api/openapi.json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
    };
    const missing: string[] = [];
    for (const route of routes) {
      if (UNDOCUMENTED.includes(route)) continue;
      const { method, path } = split(route);
      const op = doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      if (!op) {
        missing.push(`${route}: not documented`);
        continue;
      }
      const input = ROUTES[route]?.() ?? {};
      const documented = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const inPath = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      if (documented.sort().join() !== inPath.sort().join()) missing.push(`${route}: path parameters ${documented.join()} documented`);
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const queried = Object.keys(input.query ?? {});
      if (query.sort().join() !== queried.sort().join()) missing.push(`${route}: query ${query.join()} documented`);
      if ((op.requestBody !== undefined) !== (input.schema !== undefined)) missing.push(`${route}: request body documented: ${op.requestBody !== undefined}`);
    }
    expect(missing).toEqual([]);
  });
});

/** Per query field, values its schema must refuse (with 400, never a 200 or a 500). */
const BAD_QUERY: Record<string, string[]> = {
  limit: ['abc', '0', '5001', '1.5', '-1', '', '1e999'],
  after: [
    '',
    '__proto__',
    'constructor',
    `1.${'a'.repeat(63)}`,
    `1.${'a'.repeat(65)}`,
    `1.${'A'.repeat(64)}`,
    `01.${'a'.repeat(64)}`,
    `-1.${'a'.repeat(64)}`,
    `1e3.${'a'.repeat(64)}`,
    `9007199254740992.${'a'.repeat(64)}`,
    `1.${'a'.repeat(64)}.`,
    'a'.repeat(64),
  ],
  since: ['abc', '1.5', '-1', '', '1e999', '01', '+1', '0x10', '9007199254740993', '99999999999999999999', '__proto__', 'constructor'],
};

describe('malformed path parameters and query strings', () => {
  it.each(Object.keys(ROUTES).filter((r) => r.includes(':')))('%s', { timeout: 120_000 }, async (route) => {
    const { method, path } = split(route);
    const input = ROUTES[route]!();
    const before = await snapshot();
    const offenders = new Offenders();
    const body = input.bodies?.[0];
    for (const name of Object.keys(input.params ?? {})) {
      for (const bad of badParams(name)) {
        const target = withQuery(fill(path, { ...input.params, [name]: bad }), input.query);
        offenders.check(`${method} ${target}`, await call(method, target, body));
      }
      for (const seg of RAW_SEGMENTS) {
        const target = fill(path, input.params!, { [name]: seg });
        offenders.check(`${method} ${target}`, await call(method, target, body));
      }
    }
    // Each query field, with values that must be refused for it (the others valid), and given twice.
    for (const field of Object.keys(input.query ?? {})) {
      for (const bad of BAD_QUERY[field]!) {
        const target = withQuery(fill(path, input.params ?? {}), { ...input.query, [field]: bad });
        offenders.check(`${method} ${target}`, await call(method, target, body));
      }
      const twice = `${withQuery(fill(path, input.params ?? {}), input.query)}&${field}=${encodeURIComponent(input.query![field]!)}`;
      offenders.check(`${field} twice`, await call(method, twice, body));
    }
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses generated garbage in every path parameter', { timeout: 300_000 }, async () => {
    const withParams = Object.keys(ROUTES).filter((r) => r.includes(':'));
    const before = await snapshot();
    const offenders = new Offenders();
    const segment = fc.string({ unit: 'binary', minLength: 1, maxLength: 80 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...withParams), segment, fc.nat(), async (route, garbage, pick) => {
        const { method, path } = split(route);
        const input = ROUTES[route]!();
        const names = Object.keys(input.params!);
        const name = names[pick % names.length]!;
        fc.pre(garbage !== input.params![name]);
        const target = fill(path, { ...input.params, [name]: garbage });
        offenders.check(`${method} ${target}`, await call(method, target, input.bodies?.[0]));
      }),
      { numRuns: 150 },
    );
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});

describe('malformed bodies', () => {
  const withBody = Object.keys(ROUTES).filter((r) => r.startsWith('POST') || r.startsWith('PUT') || r.startsWith('DELETE'));

  it.each(withBody)('%s: wrong types, missing, extra and prototype-named fields, huge values', { timeout: 300_000 }, async (route) => {
    const { method, path } = split(route);
    const input = ROUTES[route]!();
    expect(input.schema, `${route} has a body schema here`).toBeDefined();
    const target = fill(path, input.params ?? {});
    const cases = new Map<string, { what: string; body: unknown }>();
    for (const base of input.bodies!) {
      expect(input.schema!.safeParse(base).success, `the base body of ${route} is valid`).toBe(true);
      for (const m of mutations(base)) if (!input.schema!.safeParse(m.body).success) cases.set(JSON.stringify(m.body) ?? 'undefined', m);
    }
    expect(cases.size).toBeGreaterThan(0);
    const before = await snapshot();
    const offenders = new Offenders();
    for (const m of cases.values())
      offenders.check(`${route} ${m.what}`, await call(method, target, m.body), { status: 400, code: ['INVALID_REQUEST', 'INVALID_JSON'] });
    for (const text of ['{', '{"a":', 'nul', '[1,]', '{"__proto__":', '\u0000'])
      offenders.check(`${route} ${JSON.stringify(text)}`, await raw(method, target, text), { status: 400, code: 'INVALID_JSON' });
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it.each(withBody)('%s: generated garbage', { timeout: 120_000 }, async (route) => {
    const { method, path } = split(route);
    const input = ROUTES[route]!();
    const target = fill(path, input.params ?? {});
    const base = input.bodies![0];
    const fields = typeof base === 'object' && base !== null ? Object.keys(base) : [];
    // Near misses (the route's own field names, and prototype names, with garbage values) and anything at all.
    const key = fc.constantFrom(...fields, ...PROTO, 'extra');
    const body = fc.oneof(fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 }), fc.jsonValue({ maxDepth: 4 }));
    const before = await snapshot();
    const offenders = new Offenders();
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        fc.pre(!input.schema!.safeParse(b).success);
        offenders.check(`${route} ${JSON.stringify(b)}`, await call(method, target, b));
      }),
      { numRuns: 40 },
    );
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a body over the size limit with 413', { timeout: 120_000 }, async () => {
    const before = await snapshot();
    const offenders = new Offenders();
    const big = JSON.stringify({ invite: 'x'.repeat(33 * 1024 * 1024) });
    offenders.check('33 MB invite', await raw('POST', '/api/invites/accept', big), { status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});

describe('well-formed input that is no good', () => {
  it('answers garbage and truncated invites, wrong bundles and the lack of a relay with their own codes', { timeout: 300_000 }, async () => {
    const before = await snapshot();
    const offenders = new Offenders();
    const expectAnswer = async (what: string, method: string, path: string, body: unknown, status: number, code: string | readonly string[]) =>
      offenders.check(`${what}: ${method} ${path}`, await call(method, path, body), { status, code });
    const p = (id: string, rest = '') => `/api/pursuances/${id}${rest}`;

    // Invites: garbage, cut short anywhere, not a pursuance's group, a relay whose keys changed.
    for (const garbage of ['garbage', 'tofubundle:', `tofubundle:${bundle}`, `tofubundle:${bundle}||torv3`, `${invite}x`, invite.replace('||', '|'), ...PROTO])
      await expectAnswer('invite', 'POST', '/api/invites/accept', { invite: garbage }, 400, 'INVALID_INVITE');
    for (let n = 1; n < invite.length; n += 29)
      await expectAnswer(`invite cut at ${n}`, 'POST', '/api/invites/accept', { invite: invite.slice(0, n) }, 400, 'INVALID_INVITE');
    const parsed = parseGroupInvite(invite);
    // Any 32 bytes make a group key: a group nobody created.
    const key = Identity.generate().publicKey;
    const crew = encodeGroupInvite(
      { ...parsed.invite, groupId: deriveGroupId(key, parsed.invite.relay), key, name: 'crew', owner: stranger.onion, members: null },
      parsed.bundleText,
    );
    await expectAnswer('a Cwtch group that is no pursuance', 'POST', '/api/invites/accept', { invite: crew }, 400, 'INVALID_INVITE');
    const changed = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    await expectAnswer(
      'invite naming the relay with other keys',
      'POST',
      '/api/invites/accept',
      { invite: encodeGroupInvite(parsed.invite, changed) },
      409,
      'RELAY_KEYS_CHANGED',
    );

    // Relay bundles: on attach (with and without a group already) and on move.
    for (const id of [offline, attached]) {
      for (const garbage of ['garbage', 'server:', 'server:!!!', `${bundle}x`, ...PROTO])
        await expectAnswer('bundle', 'POST', p(id, '/relay/attach'), { bundle: garbage }, 400, 'INVALID_BUNDLE');
      for (let n = 1; n < bundle.length; n += 13)
        await expectAnswer(`bundle cut at ${n}`, 'POST', p(id, '/relay/attach'), { bundle: bundle.slice(0, n) }, 400, 'INVALID_BUNDLE');
      await expectAnswer('the relay with other keys', 'POST', p(id, '/relay/attach'), { bundle: changed }, 409, 'RELAY_KEYS_CHANGED');
    }
    await expectAnswer('move, garbage bundle', 'POST', p(attached, '/relay/move'), { bundle: bundle.slice(0, 40) }, 400, 'INVALID_BUNDLE');
    await expectAnswer('move to the relay with other keys', 'POST', p(attached, '/relay/move'), { bundle: changed }, 409, 'RELAY_KEYS_CHANGED');
    // Mirrors: a garbage bundle, a relay whose keys changed, the pursuance's own relay, and dropping what is no mirror.
    await expectAnswer('mirror, garbage bundle', 'POST', p(attached, '/relay/mirrors'), { bundle: bundle.slice(0, 40) }, 400, 'INVALID_BUNDLE');
    await expectAnswer('mirror on the relay with other keys', 'POST', p(attached, '/relay/mirrors'), { bundle: changed }, 409, 'RELAY_KEYS_CHANGED');
    await expectAnswer('mirror on its own relay', 'POST', p(attached, '/relay/mirrors'), { bundle }, 400, 'INVALID_REQUEST');
    await expectAnswer('mirror, no relay', 'POST', p(offline, '/relay/mirrors'), { bundle }, 409, 'NOT_ATTACHED');
    for (const garbage of [bundle, bundle.slice(0, 40), ...PROTO])
      await expectAnswer('drop what is no mirror', 'POST', p(attached, '/relay/mirrors/drop'), { bundle: garbage }, 404, RejectionCode.UNKNOWN_TARGET);

    // Creating on a relay: the bundle is checked before anything is created.
    await expectAnswer(
      'create on a garbage relay',
      'POST',
      '/api/pursuances',
      { name: 'x', template: 'activist-cell', relay: bundle.slice(0, 50) },
      400,
      'INVALID_BUNDLE',
    );
    await expectAnswer(
      'create on the relay with other keys',
      'POST',
      '/api/pursuances',
      { name: 'x', template: 'activist-cell', relay: changed },
      409,
      'RELAY_KEYS_CHANGED',
    );
    await expectAnswer(
      'create on a relay, unknown template',
      'POST',
      '/api/pursuances',
      { name: 'x', template: 'nope', relay: bundle },
      400,
      'INVALID_REQUEST',
    );

    // Succession: nominating someone who is no member, or a founder; endorsing or claiming what is no open nomination.
    await expectAnswer('nominate a stranger', 'POST', p(attached, '/succession/nominations'), { candidate: stranger.onion }, 404, RejectionCode.UNKNOWN_TARGET);
    await expectAnswer(
      'nominate a founder',
      'POST',
      p(attached, '/succession/nominations'),
      { candidate: node.identity.onion },
      409,
      RejectionCode.INVALID_STATE,
    );
    for (const step of ['endorse', 'claim'])
      await expectAnswer(
        `${step} a task, not a nomination`,
        'POST',
        p(attached, `/succession/nominations/${taskId}/${step}`),
        undefined,
        404,
        RejectionCode.UNKNOWN_TARGET,
      );

    // No relay yet: invite, invites and move say so.
    await expectAnswer('invite, no relay', 'GET', p(offline, '/invite'), undefined, 409, 'NOT_ATTACHED');
    await expectAnswer('invites, no relay', 'POST', p(offline, '/invites'), { onion: stranger.onion }, 409, 'NOT_ATTACHED');
    await expectAnswer('move, no relay', 'POST', p(offline, '/relay/move'), { bundle }, 409, 'NOT_ATTACHED');
    await expectAnswer('inviting oneself', 'POST', p(attached, '/invites'), { onion: node.identity.onion }, 400, 'INVALID_REQUEST');

    // Names that are well-formed but name nothing here.
    for (const role of ['nobody', 'constructor']) {
      await expectAnswer('rotate an unknown role', 'POST', p(attached, '/keys/rotate'), { roles: [role] }, 404, RejectionCode.UNKNOWN_TARGET);
      await expectAnswer('task for an unknown role', 'POST', p(attached, '/tasks'), { audience: [role], title: 'x' }, 404, RejectionCode.UNKNOWN_TARGET);
    }
    await expectAnswer('task change, non-hex task id', 'POST', p(attached, '/tasks/constructor/changes'), { op: 'comment', body: 'x' }, 400, 'INVALID_REQUEST');
    await expectAnswer('task change, unknown task', 'POST', p(attached, `/tasks/${'f'.repeat(64)}/changes`), { op: 'comment', body: 'x' }, 404, [
      RejectionCode.UNKNOWN_TARGET,
      'UNKNOWN_TASK',
    ]);
    await expectAnswer(
      'status not in the workflow',
      'POST',
      p(attached, `/tasks/${taskId}/changes`),
      { op: 'status', to: 'constructor' },
      409,
      RejectionCode.INVALID_STATE,
    );
    await expectAnswer('unknown template', 'POST', '/api/pursuances', { name: 'x', template: 'constructor' }, 400, 'INVALID_REQUEST');
    await expectAnswer('neither template nor rules', 'POST', '/api/pursuances', { name: 'x' }, 400, 'INVALID_REQUEST');
    await expectAnswer('unknown pursuance', 'GET', p('f'.repeat(64)), undefined, 404, 'UNKNOWN_PURSUANCE');
    await expectAnswer('malformed pursuance id', 'GET', p('nope'), undefined, 400, 'INVALID_REQUEST');
    await expectAnswer('no such route', 'GET', '/api/no-such-route', undefined, 404, 'NOT_FOUND');

    // Event imports: not base64, base64 of garbage, cut short, another pursuance's.
    const events = (list: string[]) => ({ events: list });
    const genesis = fromBase64(exported[0]!);
    for (const bad of [
      ['!!!'],
      ['QQ'],
      [toBase64(new TextEncoder().encode('not an event'))],
      [toBase64(genesis.subarray(0, genesis.length - 1))],
      [exported[0]!, toBase64(genesis.subarray(0, 40))],
      offlineExport,
      [...exported.slice(0, 2), offlineExport[0]!],
    ])
      await expectAnswer('import', 'POST', p(attached, '/events'), events(bad), 400, 'INVALID_REQUEST');
    await expectAnswer(
      'import of events without their genesis into an unknown pursuance',
      'POST',
      p('f'.repeat(64), '/events'),
      events(exported.slice(1, 2)),
      400,
      'INVALID_REQUEST',
    );

    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
    // The refused invites joined nothing, the refused bundles pinned nothing.
    expect(node.peer.groups()).toHaveLength(1);
    expect(node.peer.relays().map((r) => r.bundle)).toEqual([bundle]);
  });

  it('refuses generated garbage invites and bundles', { timeout: 300_000 }, async () => {
    const before = await snapshot();
    const offenders = new Offenders();
    const text = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
      fc.base64String({ minLength: 1, maxLength: 300 }).map((s) => `server:${s}`),
      fc.tuple(fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 200 })).map(([a, b]) => `tofubundle:server:${a}||torv3${b}`),
      fc.nat({ max: invite.length - 1 }).map((n) => invite.slice(0, n + 1)),
    );
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        fc.pre(t !== invite && t !== bundle);
        offenders.check(`invite ${JSON.stringify(t)}`, await call('POST', '/api/invites/accept', { invite: t }), { status: 400, code: 'INVALID_INVITE' });
        offenders.check(`bundle ${JSON.stringify(t)}`, await call('POST', `/api/pursuances/${offline}/relay/attach`, { bundle: t }), {
          status: 400,
          code: 'INVALID_BUNDLE',
        });
      }),
      { numRuns: 120 },
    );
    expect(offenders.list).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('ignores stray query parameters on the routes that take no input', async () => {
    const before = await snapshot();
    for (const route of NO_INPUT.filter((r) => r !== 'GET /api/stream')) {
      const { method, path } = split(route);
      const r = await call(method, `${path}?limit=abc&__proto__=1&constructor=x&toString[a]=1`);
      expect(r.status, route).toBe(200);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('the error table', () => {
  it('places every rejection code at a 4xx status', () => {
    for (const code of Object.values(RejectionCode)) {
      const a = answerFor(new ActionNotAllowedError(code, 'x'));
      expect(a?.status, code).toBeGreaterThanOrEqual(400);
      expect(a?.status, code).toBeLessThan(500);
      expect(a?.body.code).toBe(code);
    }
  });

  it('says in plain words what the rules refused, keeping the engine wording and the rule apart', () => {
    const engine = 'no rule grants close on tasks for audience "member" to roles member';
    const denied = answerFor(new ActionNotAllowedError(RejectionCode.DENIED, engine))!;
    expect(denied.status).toBe(422);
    expect(denied.body.message).not.toContain('no rule grants');
    expect(denied.body.detail).toBe(engine);
    const named = answerFor(new ActionNotAllowedError(RejectionCode.DENIED, 'denied by rule: quiet hours', 'quiet hours'))!;
    expect(named).toMatchObject({ status: 422, body: { code: 'DENIED', rule: 'quiet hours' } });
    expect(named.body.message).toContain('quiet hours');
    expect(answerFor(new ActionNotAllowedError(RejectionCode.NOT_A_MEMBER, 'x'))?.status).toBe(403);
    expect(answerFor(new NotAttachedError('p'))).toMatchObject({ status: 409, body: { code: 'NOT_ATTACHED' } });
    expect(answerFor(new EventRejectedError(RejectionCode.BAD_SIGNATURE, 'x'))?.status).toBe(400);
  });

  it('leaves anything else to the bare 500', () => {
    for (const e of [new TypeError('x'), new RangeError('x'), new Error('x'), 'a string', null]) expect(answerFor(e)).toBeNull();
  });
});

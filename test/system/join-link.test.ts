import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../apps/node/src/index.js';
import { http } from '../../apps/node/test/support/http.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';
import { testNodeOptions } from '../support/test-node.js';
import { untilAsync, untilChange } from '../support/until-change.js';

/**
 * Joining by link, end to end: a relay daemon process and in-process nodes on one loopback
 * network. The founder makes a link; a newcomer pastes it (or the dashboard address holding it);
 * the newcomer's node asks the founder's node over p2p; a person approves (or the invite was
 * pre-approved); the group follows and the relay replays the history. The paths the honest flow
 * never takes are here too: a second holder of a spent link, a revoked link, a refusal.
 */
let dir: string;
let registryDir: string;
let relay: Spawned;
let bundle: string;
const nodes: RunningNode[] = [];
async function node(name: string): Promise<RunningNode> {
  const n = await startNode(testNodeOptions(dir, name, registryDir));
  nodes.push(n);
  return n;
}

const api = (n: RunningNode, method: string, path: string, body?: unknown) =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

interface Invite {
  id: string;
  state: string;
  roles: string[];
  preApproved: boolean;
  requester: { onion: string; name: string | null } | null;
  note: string | null;
}
interface Request {
  pursuanceId: string;
  inviter: string;
  status: string;
  code: string | null;
}

const invitesOf = async (n: RunningNode, id: string) => (await api(n, 'GET', `/api/pursuances/${id}/join-invites`)).body as Invite[];
const requestsOf = async (n: RunningNode) => (await api(n, 'GET', '/api/join-requests')).body as Request[];
/** Wait on the join notices of these nodes until `predicate` holds. */
const untilJoins = (ns: readonly RunningNode[], predicate: () => Promise<boolean>, what: string) =>
  untilAsync(
    ns.flatMap((n) => [n.joins, { onChange: (l: () => void) => n.registry.onChange(l) }]),
    predicate,
    what,
    90_000,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'join-link-'));
  registryDir = join(dir, 'registry');
  ({ relay, bundle } = await startRelayProcess(join(dir, 'relay'), registryDir));
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  await relay?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('joining a pursuance by a one-step link', () => {
  let founder: RunningNode;
  let noor: RunningNode;
  let pursuanceId: string;
  let link: string;
  let inviteId: string;

  it('a newcomer pastes the link, the founder approves, and both see each other by name', { timeout: 180_000 }, async () => {
    [founder, noor] = [await node('Fatima'), await node('Noor')];
    const created = await api(founder, 'POST', '/api/pursuances', { name: 'Tenants union', template: 'activist-cell', relay: bundle });
    expect(created.status).toBe(201);
    pursuanceId = (created.body as { id: string }).id;

    const made = await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites`, { roles: ['member'], expiresInHours: 24 });
    expect(made.status).toBe(201);
    const answer = made.body as { invite: Invite; link: string; url: string };
    ({ link } = answer);
    inviteId = answer.invite.id;
    expect(answer.invite).toMatchObject({ state: 'open', roles: ['member'], preApproved: false, requester: null });
    expect(answer.url).toBe(`http://127.0.0.1:7878/join#invite=${link}`);
    // The link carries no group key: a holder can only ask.
    expect(Buffer.from(link.split(':')[2]!, 'base64url').toString()).not.toContain('"k"');

    // Pasting the whole dashboard address works as well as the bare link.
    const asked = await api(noor, 'POST', '/api/invites/accept', { invite: `Join us: ${answer.url}` });
    expect(asked.status).toBe(200);
    expect(asked.body).toEqual({ pursuanceId, status: 'requested' });

    await untilJoins([founder, noor], async () => (await invitesOf(founder, pursuanceId))[0]?.state === 'requested', 'the request to reach the founder');
    const [waiting] = await invitesOf(founder, pursuanceId);
    expect(waiting!.requester).toMatchObject({ onion: noor.identity.onion, name: 'Noor' });
    await untilJoins([noor], async () => (await requestsOf(noor))[0]?.status === 'pending', "the founder's 'pending' to reach Noor");
    // Not in yet: nothing of the pursuance on Noor's node.
    expect(noor.registry.has(pursuanceId)).toBe(false);

    const approved = await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites/${inviteId}/approve`, {});
    expect(approved.status).toBe(200);
    expect((approved.body as Invite).state).toBe('approved');

    const hash = () => founder.registry.get(pursuanceId).log.stateHash();
    await untilChange([noor, founder], () => noor.registry.has(pursuanceId) && noor.registry.get(pursuanceId).log.stateHash() === hash(), 'Noor to catch up');
    const state = noor.registry.get(pursuanceId).log.state();
    expect([...state.members.get(noor.identity.onion)!.roles]).toEqual(['member']);
    expect(state.members.get(founder.identity.onion)!.name).toBe('Fatima');
    expect(founder.registry.get(pursuanceId).log.state().members.get(noor.identity.onion)!.name).toBe('Noor');
    expect((await requestsOf(noor))[0]).toMatchObject({ pursuanceId, inviter: founder.identity.onion, status: 'joined', code: null });
  });

  it('a spent link is refused to anyone else, and a decided invite cannot be decided again', { timeout: 120_000 }, async () => {
    const eve = await node('Eve');
    expect((await api(eve, 'POST', '/api/invites/accept', { invite: link })).body).toEqual({ pursuanceId, status: 'requested' });
    await untilJoins([eve], async () => (await requestsOf(eve))[0]?.status === 'refused', 'the refusal to reach Eve');
    expect((await requestsOf(eve))[0]!.code).toBe('INVITE_USED');
    expect(eve.registry.has(pursuanceId)).toBe(false);
    const again = await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites/${inviteId}/approve`, {});
    expect(again.status).toBe(409);
    expect((again.body as { code: string }).code).toBe('INVITE_CLOSED');
    // Eve never became a member anywhere.
    expect(founder.registry.get(pursuanceId).log.state().members.has(eve.identity.onion)).toBe(false);
  });

  it('a pre-approved link lets its first holder in with its roles, no person needed', { timeout: 180_000 }, async () => {
    const omar = await node('Omar');
    const made = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites`, { roles: ['member', 'organizer'], preApproved: true })).body as {
      link: string;
    };
    expect((await api(omar, 'POST', '/api/invites/accept', { invite: made.link })).status).toBe(200);
    const hash = () => founder.registry.get(pursuanceId).log.stateHash();
    await untilChange([omar, founder], () => omar.registry.has(pursuanceId) && omar.registry.get(pursuanceId).log.stateHash() === hash(), 'Omar to catch up');
    expect([...omar.registry.get(pursuanceId).log.state().members.get(omar.identity.onion)!.roles].sort()).toEqual(['member', 'organizer']);
    const invite = (await invitesOf(founder, pursuanceId)).find((i) => i.preApproved)!;
    expect(invite).toMatchObject({ state: 'approved', requester: { onion: omar.identity.onion, name: 'Omar' } });
  });

  it('a revoked link and a refused request leave the holder outside, and say why', { timeout: 180_000 }, async () => {
    const [rosa, sam] = [await node('Rosa'), await node('Sam')];
    const revoked = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites`, {})).body as { link: string; invite: Invite };
    expect((await api(founder, 'DELETE', `/api/pursuances/${pursuanceId}/join-invites/${revoked.invite.id}`)).status).toBe(200);
    await api(rosa, 'POST', '/api/invites/accept', { invite: revoked.link });
    await untilJoins([rosa], async () => (await requestsOf(rosa))[0]?.status === 'refused', 'the refusal to reach Rosa');
    expect((await requestsOf(rosa))[0]!.code).toBe('INVITE_REVOKED');

    const asked = (await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites`, {})).body as { link: string; invite: Invite };
    await api(sam, 'POST', '/api/invites/accept', { invite: asked.link });
    await untilJoins(
      [founder],
      async () => (await invitesOf(founder, pursuanceId)).find((i) => i.id === asked.invite.id)?.state === 'requested',
      "Sam's request to reach the founder",
    );
    expect((await api(founder, 'POST', `/api/pursuances/${pursuanceId}/join-invites/${asked.invite.id}/refuse`)).status).toBe(200);
    await untilJoins([sam], async () => (await requestsOf(sam))[0]?.status === 'refused', 'the refusal to reach Sam');
    expect((await requestsOf(sam))[0]!.code).toBe('REFUSED');
    for (const n of [rosa, sam]) {
      expect(n.registry.has(pursuanceId)).toBe(false);
      expect(founder.registry.get(pursuanceId).log.state().members.has(n.identity.onion)).toBe(false);
    }
  });

  it('refuses what cannot work, with a code, and changes nothing', { timeout: 60_000 }, async () => {
    const before = await invitesOf(founder, pursuanceId);
    const noRelay = (await api(founder, 'POST', '/api/pursuances', { name: 'Offline', template: 'activist-cell' })).body as { id: string };
    const cases: [string, RunningNode, string, unknown, number, string][] = [
      ['a pursuance on no relay', founder, `/api/pursuances/${noRelay.id}/join-invites`, {}, 409, 'NOT_ATTACHED'],
      ['a role that does not exist', founder, `/api/pursuances/${pursuanceId}/join-invites`, { roles: ['ghost'] }, 404, 'UNKNOWN_TARGET'],
      ['a role id shaped like a prototype name', founder, `/api/pursuances/${pursuanceId}/join-invites`, { roles: ['__proto__'] }, 400, 'INVALID_REQUEST'],
      ['zero hours', founder, `/api/pursuances/${pursuanceId}/join-invites`, { expiresInHours: 0 }, 400, 'INVALID_REQUEST'],
      ['a year', founder, `/api/pursuances/${pursuanceId}/join-invites`, { expiresInHours: 24 * 365 }, 400, 'INVALID_REQUEST'],
      ['a member who may not add anyone', noor, `/api/pursuances/${pursuanceId}/join-invites`, {}, 422, 'DENIED'],
      ['your own link', founder, '/api/invites/accept', { invite: link }, 400, 'INVALID_REQUEST'],
      ['a link cut short', noor, '/api/invites/accept', { invite: link.slice(0, -20) }, 400, 'INVALID_INVITE'],
      ['two links', noor, '/api/invites/accept', { invite: `${link} ${link}` }, 400, 'INVALID_INVITE'],
      ['an unknown invite id', founder, `/api/pursuances/${pursuanceId}/join-invites/${'0'.repeat(32)}/approve`, {}, 404, 'UNKNOWN_INVITE'],
      ['a malformed invite id', founder, `/api/pursuances/${pursuanceId}/join-invites/constructor/refuse`, undefined, 400, 'INVALID_REQUEST'],
    ];
    for (const [what, n, path, body, status, code] of cases) {
      const r = await api(n, path.endsWith('/refuse') || path.endsWith('/approve') || body !== undefined ? 'POST' : 'GET', path, body);
      expect({ what, status: r.status, code: (r.body as { code?: string }).code }).toEqual({ what, status, code });
    }
    expect(await invitesOf(founder, pursuanceId)).toEqual(before);
  });
});

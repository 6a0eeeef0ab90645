import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OVERLAY, deriveGroupId, encodeGroupInvite } from '@pursuance/cwtch';
import { FakeNet as Net, FakePeer } from './support/fake-join-peer.js';
import { Identity, type OnionName } from '@pursuance/crypto';
import { ActionNotAllowedError, type Rules } from '@pursuance/pursuance';
import { exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { InvalidRequestError, InviteClosedError, UnknownInviteError } from '../src/domain/errors.js';
import { parseJoinLink } from '../src/domain/join-link.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { loadTemplates } from '../src/domain/templates.js';
import { EventStore } from '../src/store/event-store.js';
import { encodeJoinReply, encodeJoinRequest, parseJoinReply } from '../src/sync/join-messages.js';
import { JoinService, OPEN_INVITES_MAX, prune, type JoinSync } from '../src/sync/join.service.js';
import type { StoredInvite } from '../src/sync/join-store.js';
import { GROUP_NAME_PREFIX } from '../src/sync/rekey.js';

/**
 * Joining by link between two nodes, over a scripted p2p network (no sockets, no relay): the
 * inviter's decisions — approve with other roles, refuse, revoke, a second holder of a spent
 * link, the same newcomer asking again, pre-approval the rules no longer allow — and what the
 * newcomer's node makes of each answer. Each service uses its own real registry and sealed store.
 */
const T0 = Date.UTC(2026, 11, 1);
const board = Identity.generate();
const BUNDLE = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));

/** A real Cwtch group invite to this pursuance's group (the key is fake; the names are what matter). */
function groupInvite(pursuanceId: string, owner: string): string {
  const key = new Uint8Array(32).fill(7);
  return encodeGroupInvite(
    {
      groupId: deriveGroupId(key, board.onion),
      name: GROUP_NAME_PREFIX + pursuanceId,
      key,
      relay: board.onion,
      owner: owner as OnionName,
      members: null,
      timestamp: 1,
    },
    BUNDLE,
  );
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let templateRules: Rules | undefined;
async function cellRules(): Promise<Rules> {
  templateRules ??= (await loadTemplates(join(import.meta.dirname, '../../../rules/templates'))).find((t) => t.id === 'activist-cell')!.rules;
  return templateRules;
}

interface Side {
  readonly identity: Identity;
  readonly registry: PursuanceRegistry;
  readonly peer: FakePeer;
  readonly service: JoinService;
  /** Group invites this side's node accepted (the newcomer's). */
  readonly accepted: string[];
}

async function side(net: Net, name: string, clock: () => number): Promise<Side> {
  const dir = await mkdtemp(join(tmpdir(), `join-${name}-`));
  const identity = Identity.generate();
  const store = await EventStore.open(join(dir, 'node.sqlite'), identity);
  const registry = new PursuanceRegistry(store, identity, clock);
  const peer = new FakePeer(identity.onion, net);
  const accepted: string[] = [];
  const sync: JoinSync = {
    linkOf: (id) => (registry.has(id) ? { groupId: 'g', relay: board.onion, bundle: BUNDLE } : null),
    // Handing the group over: the real service sends the group invite as a direct message.
    inviteContact: async (id, onion) => void (await peer.sendOverlay(onion, { o: OVERLAY.groupInvite, d: groupInvite(id, identity.onion) })),
    accept: (text) => {
      accepted.push(text);
      return Promise.resolve('');
    },
    trustRelay: () => Promise.resolve(board.onion),
  };
  const service = new JoinService(peer, registry, sync, store, () => name, clock);
  await service.start();
  cleanup.push(async () => {
    service.stop();
    await registry.idle();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { identity, registry, peer, service, accepted };
}

async function world() {
  const net = new Net();
  let now = T0;
  const clock = () => now;
  const [ada, noor, omar] = [await side(net, 'Ada', clock), await side(net, 'Noor', clock), await side(net, 'Omar', clock)];
  const entry = await ada.registry.create({ name: 'Cell', rules: await cellRules(), founderName: 'Ada' });
  // A message one service handles may make another send (a request, its answer, the group): idle
  // every service until a whole round puts nothing new on the wire.
  const settle = async () => {
    for (let seen = -1; seen !== net.wire.length;) {
      seen = net.wire.length;
      await Promise.all([ada, noor, omar].map((s) => s.service.idle()));
    }
  };
  const requestOf = async (s: Side) => (await s.service.requests()).find((r) => r.pursuanceId === entry.id);
  const inviteOf = async (id: string) => (await ada.service.invites(entry.id)).find((i) => i.id === id)!;
  return { net, ada, noor, omar, id: entry.id, settle, requestOf, inviteOf, advance: (ms: number) => (now += ms) };
}

describe('the inviter decides', () => {
  it('approves with other roles than the link named: member.add signed with them, the group handed over and joined', async () => {
    const w = await world();
    const { link, invite } = await w.ada.service.createInvite(w.id, { roles: ['member', 'member'], preApproved: false, expiresInHours: 24 });
    expect(invite.roles).toEqual(['member']);
    expect(await w.noor.service.request(link)).toEqual({ pursuanceId: w.id, status: 'requested' });
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'pending', inviter: w.ada.identity.onion, inviterName: 'Ada', pursuanceName: 'Cell' });
    expect(await w.inviteOf(invite.id)).toMatchObject({ state: 'requested', requester: { onion: w.noor.identity.onion, name: 'Noor' } });
    // Nothing handed over before a decision.
    expect(w.noor.accepted).toEqual([]);
    expect(w.ada.peer.contact(w.noor.identity.onion)?.state).toBe('pending');

    const approved = await w.ada.service.approve(w.id, invite.id, ['organizer', 'member', 'member']);
    expect(approved).toMatchObject({ state: 'approved', roles: ['member', 'organizer'], decidedAt: T0 });
    await w.settle();
    const member = w.ada.registry.get(w.id).log.state().members.get(w.noor.identity.onion)!;
    expect({ name: member.name, roles: [...member.roles].sort() }).toEqual({ name: 'Noor', roles: ['member', 'organizer'] });
    expect(w.ada.peer.contact(w.noor.identity.onion)?.state).toBe('accepted');
    expect(w.noor.accepted).toEqual([groupInvite(w.id, w.ada.identity.onion)]);
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'joined', code: null });
    await expect(w.ada.service.approve(w.id, invite.id)).rejects.toThrow(InviteClosedError);
    await expect(w.ada.service.refuse(w.id, invite.id)).rejects.toThrow(InviteClosedError);
  });

  it('answers the same newcomer asking again with the standing answer, a second holder INVITE_USED, and adds nobody twice', async () => {
    const w = await world();
    const { link, invite } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: true, expiresInHours: 24 });
    await w.noor.service.request(link);
    await w.settle();
    expect(await w.inviteOf(invite.id)).toMatchObject({ state: 'approved', requester: { onion: w.noor.identity.onion } });
    const events = w.ada.registry.get(w.id).log.size;
    // Noor asks again (a lost answer): approved again, no second member.add; Omar is too late.
    const secret = parseJoinLink(link, T0).secret;
    await w.noor.peer.sendOverlay(w.ada.identity.onion, { o: OVERLAY.pursuanceJoinRequest, d: encodeJoinRequest({ pursuanceId: w.id, secret, name: 'Noor' }) });
    await w.omar.service.request(link);
    await w.settle();
    expect(w.ada.registry.get(w.id).log.size).toBe(events);
    const replies = (to: Side) =>
      w.net.wire.filter((m) => m.to === to.identity.onion && m.overlay.o === OVERLAY.pursuanceJoinReply).map((m) => parseJoinReply(m.overlay.d));
    expect(replies(w.noor)).toEqual([
      { pursuanceId: w.id, status: 'approved' },
      { pursuanceId: w.id, status: 'approved' },
    ]);
    expect(replies(w.omar)).toEqual([{ pursuanceId: w.id, status: 'refused', code: 'INVITE_USED' }]);
    expect(await w.requestOf(w.omar)).toMatchObject({ status: 'refused', code: 'INVITE_USED' });
    expect(w.omar.accepted).toEqual([]);
    expect(w.ada.registry.get(w.id).log.state().members.has(w.omar.identity.onion)).toBe(false);
  });

  it('refuses: the newcomer is told REFUSED, asking again gets the same, and nothing is handed over', async () => {
    const w = await world();
    const { link, invite } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: false, expiresInHours: 24 });
    await expect(w.ada.service.approve(w.id, invite.id)).rejects.toThrow(InviteClosedError);
    await w.noor.service.request(link);
    await w.settle();
    expect(await w.ada.service.refuse(w.id, invite.id)).toMatchObject({ state: 'refused' });
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'refused', code: 'REFUSED' });
    await w.noor.service.request(link);
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'refused', code: 'REFUSED' });
    expect(w.noor.accepted).toEqual([]);
    expect(w.ada.registry.get(w.id).log.state().members.has(w.noor.identity.onion)).toBe(false);
  });

  it('revokes an unused link (later holders hear INVITE_REVOKED) and a waiting request (its newcomer is told), once', async () => {
    const w = await world();
    const unused = await w.ada.service.createInvite(w.id, { roles: [], preApproved: true, expiresInHours: 1 });
    expect(await w.ada.service.revoke(w.id, unused.invite.id)).toMatchObject({ state: 'revoked', decidedAt: T0 });
    await expect(w.ada.service.revoke(w.id, unused.invite.id)).rejects.toThrow(InviteClosedError);
    await w.omar.service.request(unused.link);
    await w.settle();
    expect(await w.requestOf(w.omar)).toMatchObject({ status: 'refused', code: 'INVITE_REVOKED' });

    const asked = await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 });
    await w.noor.service.request(asked.link);
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'pending' });
    await w.ada.service.revoke(w.id, asked.invite.id);
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'refused', code: 'INVITE_REVOKED' });
    await expect(w.ada.service.approve(w.id, asked.invite.id)).rejects.toThrow(InviteClosedError);
    await expect(w.ada.service.revoke(w.id, 'f'.repeat(32))).rejects.toThrow(UnknownInviteError);
  });

  it('lets a person decide when the rules no longer allow a pre-approved admission', async () => {
    const w = await world();
    const { link, invite } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: true, expiresInHours: 24 });
    // The role the link grants is gone from the rules (a founder may do anything else).
    const rules = JSON.parse(JSON.stringify(await cellRules(), (k, v: unknown) => (Array.isArray(v) ? v.filter((x) => x !== 'member') : v))) as Rules;
    delete (rules.roles as Record<string, unknown>).member;
    for (const role of Object.values(rules.roles)) role.can = role.can.filter((c) => !('roles' in c && Array.isArray(c.roles) && c.roles.length === 0));
    await w.ada.registry.act(w.id, (a) => a.changeRules(rules));
    await w.noor.service.request(link);
    await w.settle();
    expect(await w.inviteOf(invite.id)).toMatchObject({ state: 'requested', requester: { onion: w.noor.identity.onion } });
    expect((await w.inviteOf(invite.id)).note).toMatch(/^UNKNOWN_TARGET: /);
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'pending' });
    // Approving by hand is refused by the same rules, and leaves the request waiting.
    await expect(w.ada.service.approve(w.id, invite.id)).rejects.toThrow(ActionNotAllowedError);
    expect((await w.inviteOf(invite.id)).state).toBe('requested');
  });
});

describe('asking again and asking twice', () => {
  it('a newcomer asking again while a request waits hears "pending" again; one who wrote first becomes a contact when asking', async () => {
    const w = await world();
    const { link } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: false, expiresInHours: 24 });
    // Ada wrote to Noor first (a pending contact on Noor's side): asking accepts her as a contact.
    w.noor.peer.deliver(w.ada.identity.onion, 'hello', 1, 'hi');
    expect(w.noor.peer.contact(w.ada.identity.onion)?.state).toBe('pending');
    await w.noor.service.request(link);
    expect(w.noor.peer.contact(w.ada.identity.onion)?.state).toBe('accepted');
    await w.settle();
    await w.noor.service.request(link);
    await w.settle();
    const replies = w.net.wire
      .filter((m) => m.to === w.noor.identity.onion && m.overlay.o === OVERLAY.pursuanceJoinReply)
      .map((m) => parseJoinReply(m.overlay.d));
    expect(replies).toEqual([
      { pursuanceId: w.id, status: 'pending' },
      { pursuanceId: w.id, status: 'pending' },
    ]);
  });

  it('keeps the requests to different pursuances apart, newest first', async () => {
    const w = await world();
    const other = await w.ada.registry.create({ name: 'Other', rules: await cellRules(), founderName: 'Ada' });
    const a = await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 24 });
    const b = await w.ada.service.createInvite(other.id, { roles: [], preApproved: false, expiresInHours: 24 });
    await w.noor.service.request(a.link);
    w.advance(1_000);
    await w.noor.service.request(b.link);
    w.advance(1_000);
    await w.noor.service.request(a.link);
    await w.settle();
    expect((await w.noor.service.requests()).map((r) => [r.pursuanceId, r.sentAt])).toEqual([
      [w.id, T0 + 2_000],
      [other.id, T0 + 1_000],
    ]);
  });
});

describe('making and listing invites', () => {
  it('checks the expiry, the roles and what this node may do, before anything is stored', async () => {
    const w = await world();
    for (const hours of [0, -1, 1.5, 30 * 24 + 1, Number.NaN]) {
      await expect(w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: hours })).rejects.toThrow(InvalidRequestError);
    }
    await expect(w.ada.service.createInvite(w.id, { roles: ['ghost'], preApproved: false, expiresInHours: 1 })).rejects.toThrow(ActionNotAllowedError);
    const made = await w.ada.service.createInvite(w.id, { roles: ['organizer', 'member'], preApproved: false, expiresInHours: 30 * 24 });
    expect(made.invite).toMatchObject({ roles: ['member', 'organizer'], expiresAt: T0 + 30 * 24 * 3_600_000, state: 'open', preApproved: false });
    expect(await w.ada.service.invites(w.id)).toHaveLength(1);
    // A node that holds no such pursuance, or is not on a relay there, makes none.
    await expect(w.noor.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 })).rejects.toThrow();
    expect(await w.noor.service.invites(w.id).catch(() => 'refused')).toBe('refused');
  });

  it(`caps open invites at ${OPEN_INVITES_MAX} per pursuance; expired, revoked and other pursuances' do not count`, async () => {
    const w = await world();
    const other = await w.ada.registry.create({ name: 'Other', rules: await cellRules(), founderName: 'Ada' });
    const first = await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 });
    for (let i = 1; i < OPEN_INVITES_MAX; i++) await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 2 });
    await expect(w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 })).rejects.toThrow(/already has 100 open invites/);
    await w.ada.service.createInvite(other.id, { roles: [], preApproved: false, expiresInHours: 1 });
    await w.ada.service.revoke(w.id, first.invite.id);
    await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 });
    w.advance(3_600_001);
    await w.ada.service.createInvite(w.id, { roles: [], preApproved: false, expiresInHours: 1 });
    const list = await w.ada.service.invites(w.id);
    expect(list).toHaveLength(OPEN_INVITES_MAX + 2);
    expect(list.every((i) => i.pursuanceId === w.id)).toBe(true);
    expect(list.map((i) => i.createdAt)).toEqual([...list.map((i) => i.createdAt)].sort((a, b) => b - a));
    expect(list.filter((i) => i.state === 'expired')).toHaveLength(1);
    expect(await w.ada.service.invites(other.id)).toHaveLength(1);
  });

  it('keeps at most 500 invites, dropping the oldest nobody can use or decide any more', () => {
    const inv = (i: number, state: StoredInvite['state'], expiresAt = T0 + 1): StoredInvite => ({
      id: String(i).padStart(32, '0'),
      hash: '',
      pursuanceId: 'p',
      createdAt: i,
      expiresAt,
      roles: [],
      preApproved: false,
      state,
      requester: null,
      decidedAt: null,
      note: null,
    });
    const live = [inv(0, 'requested', 0), inv(1, 'open')];
    const closed = Array.from({ length: 500 }, (_, i) => inv(i + 2, i % 2 ? 'revoked' : 'open', 0));
    // Handed over in no particular order: "oldest" is by creation time, not by position.
    const kept = prune([...live, ...[...closed].reverse()], T0).sort((a, b) => a.createdAt - b.createdAt);
    expect(kept).toHaveLength(500);
    expect(kept.slice(0, 2)).toEqual(live);
    expect(kept.map((i) => i.createdAt).slice(2)).toEqual(closed.slice(2).map((i) => i.createdAt));
    expect(prune(closed.slice(0, 500), T0)).toHaveLength(500);
  });
});

describe('the newcomer’s side', () => {
  it('refuses its own link, answers "joined" when already a member, and keeps one request per pursuance and inviter', async () => {
    const w = await world();
    const { link } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: false, expiresInHours: 24 });
    await expect(w.ada.service.request(link)).rejects.toThrow(InvalidRequestError);
    await w.noor.service.request(link);
    w.advance(1000);
    await w.noor.service.request(link);
    await w.settle();
    expect(await w.noor.service.requests()).toHaveLength(1);
    expect((await w.requestOf(w.noor))!.sentAt).toBe(T0 + 1000);
    // Once in (the history imported, as the relay would replay it), asking again sends nothing.
    const approved = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: true, expiresInHours: 24 });
    const omarLink = approved.link;
    await w.omar.service.request(omarLink);
    await w.settle();
    const log = w.ada.registry.get(w.id).log;
    await w.omar.registry.ingest(
      w.id,
      log.order().map((e) => log.event(e)!.bytes),
      'import',
    );
    const onWire = w.net.wire.length;
    expect(await w.omar.service.request(omarLink)).toEqual({ pursuanceId: w.id, status: 'joined' });
    expect(w.net.wire.length).toBe(onWire);
    // A member who uses a fresh link anyway (another node of theirs asking by hand) is handed the
    // group again without a second member.add.
    const fresh = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: true, expiresInHours: 24 });
    const events = w.ada.registry.get(w.id).log.size;
    await w.omar.peer.sendOverlay(w.ada.identity.onion, {
      o: OVERLAY.pursuanceJoinRequest,
      d: encodeJoinRequest({ pursuanceId: w.id, secret: parseJoinLink(fresh.link, T0).secret, name: 'Omar' }),
    });
    await w.settle();
    expect(await w.inviteOf(fresh.invite.id)).toMatchObject({ state: 'approved', note: null });
    expect(w.ada.registry.get(w.id).log.size).toBe(events);
  });

  it('ignores answers from anyone but the inviter asked, and garbage, and its own messages', async () => {
    const w = await world();
    const { link } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: false, expiresInHours: 24 });
    await w.noor.service.request(link);
    await w.settle();
    expect((await w.requestOf(w.noor))!.status).toBe('pending');
    await w.omar.peer.sendOverlay(w.noor.identity.onion, {
      o: OVERLAY.pursuanceJoinReply,
      d: encodeJoinReply({ pursuanceId: w.id, status: 'refused', code: 'REFUSED' }),
    });
    await w.omar.peer.sendOverlay(w.noor.identity.onion, { o: OVERLAY.groupInvite, d: groupInvite(w.id, w.omar.identity.onion) });
    await w.ada.peer.sendOverlay(w.noor.identity.onion, { o: OVERLAY.pursuanceJoinReply, d: '{"v":1,"status":"approved"}' });
    await w.settle();
    expect(await w.requestOf(w.noor)).toMatchObject({ status: 'pending', code: null });
    expect(w.noor.accepted).toEqual([]);
    // A request to a pursuance the inviter does not hold, and one from the inviter itself: no answer at all.
    const before = w.net.wire.length;
    w.ada.peer.deliver(
      w.omar.identity.onion,
      'x',
      OVERLAY.pursuanceJoinRequest,
      encodeJoinRequest({ pursuanceId: 'e'.repeat(64), secret: 'A'.repeat(43), name: null }),
    );
    w.ada.peer.deliver(
      w.ada.identity.onion,
      'y',
      OVERLAY.pursuanceJoinRequest,
      encodeJoinRequest({ pursuanceId: w.id, secret: parseJoinLink(link, T0).secret, name: null }),
    );
    await w.settle();
    expect(w.net.wire.length).toBe(before);
  });

  it('stops listening when stopped', async () => {
    const w = await world();
    const { link } = await w.ada.service.createInvite(w.id, { roles: ['member'], preApproved: false, expiresInHours: 24 });
    w.ada.service.stop();
    await w.noor.service.request(link);
    await w.settle();
    expect(w.ada.peer.listenerCount('message')).toBe(0);
    expect((await w.ada.service.invites(w.id))[0]!.state).toBe('open');
  });
});

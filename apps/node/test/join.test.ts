import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { OVERLAY, deriveGroupId, encodeGroupInvite } from '@pursuance/cwtch';
import { FakePeer } from './support/fake-join-peer.js';
import { exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { Identity, type OnionName } from '@pursuance/crypto';
import { displayNameProblem } from '@pursuance/pursuance';
import { InvalidInviteError, InviteExpiredError } from '../src/domain/errors.js';
import { JOIN_LINK_PREFIX, encodeJoinLink, parseJoinLink, secretDigest, secretMatches } from '../src/domain/join-link.js';
import { PursuanceRegistry } from '../src/domain/registry.js';
import { loadTemplates } from '../src/domain/templates.js';
import { EventStore } from '../src/store/event-store.js';
import { encodeJoinReply, encodeJoinRequest, parseJoinReply, parseJoinRequest } from '../src/sync/join-messages.js';
import { ANY_MEMBER, JoinService, type JoinSync } from '../src/sync/join.service.js';
import { GROUP_NAME_PREFIX } from '../src/sync/rekey.js';

/**
 * Joining by link without a network: the link and message parsers (bytes from strangers,
 * fuzzed), and the join service over a scripted peer — the paths the honest flow never takes:
 * group invites nobody asked for, wrong secrets, garbage, expiry, and messages that arrived
 * before a crash.
 */
const T0 = Date.UTC(2026, 11, 1);
const onion = () => Identity.generate().onion;
const linkArb = fc.record({
  pursuanceId: fc.stringMatching(/^[0-9a-f]{64}$/),
  pursuanceName: fc.string({ maxLength: 200 }),
  inviter: fc.constant(null).map(onion),
  inviterName: fc.option(fc.constantFrom('Ada', 'constructor', '__proto__', 'Zoë Ñ', 'toString'), { nil: null }),
  relayBundle: fc.string({ minLength: 1, maxLength: 1000 }),
  groupId: fc.string({ minLength: 1, maxLength: 128 }),
  expiresAt: fc.integer({ min: T0 + 1, max: T0 + 10 ** 12 }),
  secret: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')),
});

describe('join links', () => {
  it('read back exactly what was written, wherever they sit in the pasted text', () => {
    fc.assert(
      fc.property(linkArb, fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (link, before, after) => {
        const text = encodeJoinLink(link);
        // Words around the link (a label, a URL) that do not themselves hold a link.
        fc.pre(!`${before}${after}`.includes(JOIN_LINK_PREFIX) && !/^[A-Za-z0-9_-]/.test(after));
        expect(parseJoinLink(`${before}${text}${after}`, T0)).toEqual(link);
      }),
    );
  });

  it('refuse anything else with InvalidInviteError, and an expired one with InviteExpiredError — never another error', () => {
    const valid = encodeJoinLink({ ...fc.sample(linkArb, 1)[0]!, expiresAt: T0 + 1000 });
    const mutated = fc
      .tuple(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }))
      .map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1));
    const cut = fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n));
    const forged = fc.jsonValue().map((j) => JOIN_LINK_PREFIX + Buffer.from(JSON.stringify(j)).toString('base64url'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutated, cut, forged), fc.integer({ min: 0, max: T0 + 2000 }), (text, now) => {
        try {
          parseJoinLink(text, now);
        } catch (err) {
          expect(err instanceof InvalidInviteError || err instanceof InviteExpiredError).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
    expect(() => parseJoinLink(valid, T0 + 1000)).toThrow(InviteExpiredError);
    expect(() => parseJoinLink(`${valid}\n${valid}`, T0)).toThrow(InvalidInviteError);
    expect(() => parseJoinLink(valid.padEnd(9000, 'x'), T0)).toThrow(InvalidInviteError);
  });

  it('keep only a digest of the secret: an id to find it by, a hash that only the secret matches', () => {
    fc.assert(
      fc.property(linkArb, linkArb, (a, b) => {
        const d = secretDigest(a.secret);
        expect(d.id).toMatch(/^[0-9a-f]{32}$/);
        expect(d.hash).not.toContain(d.id);
        expect(secretMatches(a.secret, d.hash)).toBe(true);
        if (a.secret !== b.secret) expect(secretMatches(b.secret, d.hash)).toBe(false);
        expect(secretMatches(a.secret, '')).toBe(false);
        expect(secretMatches(a.secret, d.hash.slice(0, 32))).toBe(false);
      }),
    );
  });
});

describe('join messages from the network', () => {
  it('parse to a request or a reply, or to null — never throw, never keep a name a signed event could not carry', () => {
    const request = fc.record({
      pursuanceId: fc.stringMatching(/^[0-9a-f]{64}$/),
      secret: linkArb.map((l) => l.secret),
      name: fc.option(fc.string({ maxLength: 300 }), { nil: null }),
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((j) => JSON.stringify(j)),
          request.map(encodeJoinRequest),
        ),
        (text) => {
          const r = parseJoinRequest(text);
          if (r !== null) {
            expect(r.pursuanceId).toMatch(/^[0-9a-f]{64}$/);
            if (r.name !== null) expect(r.name.length).toBeGreaterThan(0);
            expect(displayNameProblem(r.name ?? 'x')).toBeNull();
          }
          parseJoinReply(text);
        },
      ),
      { numRuns: 2000 },
    );
    const p = 'a'.repeat(64);
    expect(parseJoinReply(encodeJoinReply({ pursuanceId: p, status: 'refused', code: 'INVITE_USED' }))).toEqual({
      pursuanceId: p,
      status: 'refused',
      code: 'INVITE_USED',
    });
    expect(parseJoinReply(JSON.stringify({ v: 1, p, status: 'refused', code: 'constructor' }))).toBeNull();
    expect(parseJoinReply(JSON.stringify({ v: 1, p, status: 'approved', __proto__: { x: 1 } }))).toEqual({ pursuanceId: p, status: 'approved' });
    expect(parseJoinRequest(JSON.stringify({ v: 1, p, s: 'A'.repeat(43), n: 'bad\u202ename' }))).toEqual({
      pursuanceId: p,
      secret: 'A'.repeat(43),
      name: null,
    });
  });
});

// --- the service over a scripted peer ------------------------------------------------------

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'join-'));
  const identity = Identity.generate();
  let now = T0;
  const store = await EventStore.open(join(dir, 'node.sqlite'), identity);
  const registry = new PursuanceRegistry(store, identity, () => now);
  const [template] = (await loadTemplates(join(import.meta.dirname, '../../../rules/templates'))).filter((t) => t.id === 'activist-cell');
  const entry = await registry.create({ name: 'Cell', rules: template!.rules, founderName: 'Ada' });
  const accepted: string[] = [];
  const handed: string[] = [];
  const sync: JoinSync = {
    linkOf: () => ({ groupId: 'g1', relay: 'r', bundle: 'tofubundle-of-the-relay' }),
    inviteContact: (_p, o) => {
      handed.push(o);
      return Promise.resolve();
    },
    accept: (text) => {
      accepted.push(text);
      return Promise.resolve(entry.id);
    },
    trustRelay: () => Promise.resolve('r'),
  };
  const peer = new FakePeer();
  const make = () => {
    const s = new JoinService(
      peer,
      registry,
      sync,
      store,
      () => 'Ada',
      () => now,
    );
    cleanup.push(() => {
      s.stop();
      return Promise.resolve();
    });
    return s;
  };
  cleanup.push(async () => {
    await registry.idle();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { registry, peer, make, accepted, handed, id: entry.id, advance: (ms: number) => (now += ms), store };
}

const settle = (s: JoinService) => s.idle();

describe('the join service', () => {
  it('answers a wrong secret INVITE_UNKNOWN, an expired link INVITE_EXPIRED, and garbage not at all', async () => {
    const { peer, make, id, advance } = await setup();
    const s = make();
    await s.start();
    const { link, invite } = await s.createInvite(id, { roles: ['member'], preApproved: false, expiresInHours: 1 });
    const secret = parseJoinLink(link, T0).secret;
    const stranger = onion();
    peer.deliver(stranger, 'x1', OVERLAY.pursuanceJoinRequest, encodeJoinRequest({ pursuanceId: id, secret: 'B'.repeat(43), name: 'Mallory' }));
    peer.deliver(stranger, 'x2', OVERLAY.pursuanceJoinRequest, '{"v":1,"p":"constructor"}');
    peer.deliver(stranger, 'x3', OVERLAY.pursuanceJoinRequest, 'not json at all');
    await settle(s);
    expect(peer.replies(stranger)).toEqual([{ pursuanceId: id, status: 'refused', code: 'INVITE_UNKNOWN' }]);
    expect((await s.invites(id))[0]).toMatchObject({ id: invite.id, state: 'open', requester: null });

    advance(3_600_000);
    const late = onion();
    peer.deliver(late, 'x4', OVERLAY.pursuanceJoinRequest, encodeJoinRequest({ pursuanceId: id, secret, name: null }));
    await settle(s);
    expect(peer.replies(late)).toEqual([{ pursuanceId: id, status: 'refused', code: 'INVITE_EXPIRED' }]);
    expect((await s.invites(id))[0]!.state).toBe('expired');
  });

  it('joins only the group it asked this very inviter for', async () => {
    const { peer, make, accepted } = await setup();
    const s = make();
    await s.start();
    const wanted = 'c'.repeat(64);
    const inviter = onion();
    const board = Identity.generate();
    const bundle = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const groupInvite = (pursuanceId: string, owner: string) => {
      const key = new Uint8Array(32).fill(pursuanceId.charCodeAt(0));
      const relay = board.onion;
      return encodeGroupInvite(
        { groupId: deriveGroupId(key, relay), name: GROUP_NAME_PREFIX + pursuanceId, key, relay, owner: owner as OnionName, members: null, timestamp: 1 },
        bundle,
      );
    };
    const link = encodeJoinLink({
      pursuanceId: wanted,
      pursuanceName: 'Theirs',
      inviter,
      inviterName: null,
      relayBundle: bundle,
      groupId: 'g',
      expiresAt: T0 + 1000,
      secret: 'C'.repeat(43),
    });
    expect(await s.request(link)).toEqual({ pursuanceId: wanted, status: 'requested' });
    expect(peer.sent.at(-1)).toMatchObject({ to: inviter, overlay: { o: OVERLAY.pursuanceJoinRequest } });
    const stranger = onion();
    // A stranger's invite to the very pursuance asked for, and the inviter's to another one: never joined.
    peer.deliver(stranger, 'g1', OVERLAY.groupInvite, groupInvite(wanted, stranger));
    peer.deliver(inviter, 'g2', OVERLAY.groupInvite, groupInvite('d'.repeat(64), inviter));
    peer.deliver(inviter, 'g3', OVERLAY.groupInvite, 'garbage');
    await settle(s);
    expect(accepted).toEqual([]);
    expect((await s.requests())[0]).toMatchObject({ status: 'sent', inviter });
    // The inviter's invite to it: joined, once, however often it is delivered.
    peer.deliver(inviter, 'g4', OVERLAY.groupInvite, groupInvite(wanted, inviter));
    peer.deliver(inviter, 'g4', OVERLAY.groupInvite, groupInvite(wanted, inviter));
    await settle(s);
    expect(accepted).toEqual([groupInvite(wanted, inviter)]);
    expect((await s.requests())[0]).toMatchObject({ status: 'joined', code: null });
  });

  it('after a request through a profile, takes that pursuance from any member until the profile expires, and nothing else', async () => {
    const { peer, make, accepted, advance } = await setup();
    const s = make();
    await s.start();
    const wanted = 'e'.repeat(64);
    const board = Identity.generate();
    const bundle = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const groupInvite = (pursuanceId: string, owner: string) => {
      const key = new Uint8Array(32).fill(pursuanceId.charCodeAt(0));
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
        bundle,
      );
    };
    await s.expectAdmission(wanted, 'Theirs', T0 + 1000);
    // Another pursuance, even from someone who sends ours later: never joined.
    peer.deliver(onion(), 'p1', OVERLAY.groupInvite, groupInvite('f'.repeat(64), onion()));
    // Past the profile's expiry, the very pursuance asked for is not taken either.
    advance(2000);
    peer.deliver(onion(), 'p2', OVERLAY.groupInvite, groupInvite(wanted, onion()));
    await settle(s);
    expect(accepted).toEqual([]);
    // Asked again (a new request), a member's invite to it is joined, whoever sends it.
    await s.expectAdmission(wanted, 'Theirs', T0 + 1_000_000);
    const member = onion();
    peer.deliver(member, 'p3', OVERLAY.groupInvite, groupInvite(wanted, member));
    await settle(s);
    expect(accepted).toEqual([groupInvite(wanted, member)]);
    expect((await s.requests()).find((r) => r.pursuanceId === wanted)).toMatchObject({ status: 'joined', inviter: ANY_MEMBER });
  });

  it('handles a request that arrived before a crash at the next start, exactly once', async () => {
    const { peer, make, id, registry } = await setup();
    const first = make();
    await first.start();
    const { link } = await first.createInvite(id, { roles: ['member'], preApproved: true, expiresInHours: 24 });
    first.stop();
    const newcomer = Identity.generate().onion;
    // Stored and acknowledged by the peer, never announced to a running service.
    peer.deliver(
      newcomer,
      'r1',
      OVERLAY.pursuanceJoinRequest,
      encodeJoinRequest({ pursuanceId: id, secret: parseJoinLink(link, T0).secret, name: 'constructor' }),
      false,
    );
    // Not for the join service: a blocked contact's request, and a message this node sent.
    const blocked = Identity.generate().onion;
    peer.deliver(blocked, 'b1', OVERLAY.pursuanceJoinRequest, encodeJoinRequest({ pursuanceId: id, secret: 'B'.repeat(43), name: null }), false);
    peer.book.set(blocked, { ...peer.book.get(blocked)!, state: 'blocked' });
    const outgoing = Identity.generate().onion;
    peer.deliver(outgoing, 'o1', OVERLAY.pursuanceJoinRequest, encodeJoinRequest({ pursuanceId: id, secret: 'B'.repeat(43), name: null }), false);
    (peer.inbox.get(outgoing)![0] as { direction: string }).direction = 'out';
    const second = make();
    await second.start();
    expect(peer.replies(newcomer)).toEqual([{ pursuanceId: id, status: 'approved' }]);
    expect([...peer.replies(blocked), ...peer.replies(outgoing)]).toEqual([]);
    const member = registry.get(id).log.state().members.get(newcomer);
    expect(member?.name).toBe('constructor');
    expect([...member!.roles]).toEqual(['member']);
    second.stop();
    const third = make();
    await third.start();
    expect(peer.replies(newcomer)).toHaveLength(1);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('join links and messages, field by field', () => {
  const base = {
    pursuanceId: 'a'.repeat(64),
    pursuanceName: 'Cell',
    inviter: Identity.generate().onion,
    inviterName: 'Ada',
    relayBundle: 'bundle',
    groupId: 'g',
    expiresAt: T0 + 1000,
    secret: 'S'.repeat(43),
  };
  const forge = (json: Record<string, unknown>) => JOIN_LINK_PREFIX + Buffer.from(JSON.stringify(json)).toString('base64url');
  const fields = { p: base.pursuanceId, n: 'Cell', i: base.inviter, b: 'Ada', r: 'bundle', g: 'g', x: T0 + 1000, s: base.secret };

  it('accept exactly the well-formed fields, and say which kind of wrong it is', () => {
    expect(parseJoinLink(forge(fields), T0)).toEqual(base);
    for (const bad of [
      { p: `z${base.pursuanceId}` },
      { p: `${base.pursuanceId}z` },
      { s: `!${'S'.repeat(42)}` },
      { s: `${'S'.repeat(42)}=` },
      { b: 'Ada\u202e' },
      { x: 1.5 },
      { extra: 1 },
    ]) {
      expect(() => parseJoinLink(forge({ ...fields, ...bad }), T0), JSON.stringify(bad)).toThrow('damaged or cut short');
    }
    expect(() => parseJoinLink(`${JOIN_LINK_PREFIX}${Buffer.from('{"p":').toString('base64url')}`, T0)).toThrow('damaged or cut short');
    expect(() => parseJoinLink('hello', T0)).toThrow('not a valid pursuance invite');
    expect(() => parseJoinLink(`${forge(fields)} ${forge(fields)}`, T0)).toThrow('more than one invite link');
    // The longest text taken is 8,192 characters, words around the link included.
    const link = forge(fields);
    expect(parseJoinLink(link.padEnd(8_192, ' '), T0)).toEqual(base);
    expect(() => parseJoinLink(link.padEnd(8_193, ' '), T0)).toThrow('far longer than any invite link');
  });

  it('compare a secret only with a well-formed hash, never throwing', () => {
    const { hash } = secretDigest(base.secret);
    expect(secretMatches(base.secret, hash.toUpperCase())).toBe(false);
    expect(secretMatches(base.secret, `${hash}0`)).toBe(false);
    expect(secretMatches(base.secret, `x${hash.slice(1)}`)).toBe(false);
    expect(secretMatches(base.secret, 'z'.repeat(64))).toBe(false);
  });

  it('read messages field by field: anchored ids and secrets, a trimmed name, and nothing past 2,048 characters', () => {
    const p = 'a'.repeat(64);
    const request = { v: 1, p, s: 'S'.repeat(43), n: '  Noor  ' };
    expect(parseJoinRequest(JSON.stringify(request))).toEqual({ pursuanceId: p, secret: 'S'.repeat(43), name: 'Noor' });
    for (const bad of [{ p: `z${p}` }, { p: `${p}z` }, { s: `!${'S'.repeat(42)}` }, { s: `${'S'.repeat(42)}!` }, { v: 2 }]) {
      expect(parseJoinRequest(JSON.stringify({ ...request, ...bad })), JSON.stringify(bad)).toBeNull();
    }
    expect(parseJoinRequest(JSON.stringify(request).padEnd(2_048, ' '))).not.toBeNull();
    expect(parseJoinRequest(JSON.stringify(request).padEnd(2_049, ' '))).toBeNull();
    expect(parseJoinReply(JSON.stringify({ v: 1, p, status: 'pending' }))).toEqual({ pursuanceId: p, status: 'pending' });
    expect(parseJoinReply(JSON.stringify({ v: 1, p: `${p}z`, status: 'pending' }))).toBeNull();
    expect(parseJoinReply(JSON.stringify({ v: 1, p, status: 'pending', code: 'REFUSED' }))).toBeNull();
    expect(encodeJoinReply({ pursuanceId: p, status: 'pending' })).toBe(JSON.stringify({ v: 1, p, status: 'pending' }));
  });
});

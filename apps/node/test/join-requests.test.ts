import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, canonicalDecode, toHex } from '@pursuance/crypto';
import { groupGenesis, newDropBoxInvite, parseGroupInvite, postToDropBox, sealGroupMessage } from '@pursuance/cwtch';
import { leadingZeroBits, parseProfileText, profileText, sealJoinRequest, signProfile, workDigest, type Profile } from '@pursuance/pursuance';
import { RelayClient, type RelayServer } from '@pursuance/relay';
import { LoopbackACN } from '@pursuance/tapir';
import { newRoleKey } from '../../../packages/pursuance/src/keys.js';
import { REVIEW_MAX } from '../src/sync/admission.service.js';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { untilAsync, untilChange } from '../../../test/support/until-change.js';
import { at, call, ok } from './support/node-api.js';
import { startMemoryRelay } from './support/memory-relay.js';

/**
 * Joining by request through the node's API, on the paths the honest flow never takes (that
 * flow, over a relay process, is test/system/join-by-request.test.ts): bodies the schemas
 * refuse, members the rules refuse, pasted texts that are no profile, decisions on requests that
 * do not exist or were already taken, a restart in the middle, a review queue at its bound, and
 * a fuzz of the preview route. In-process nodes and an in-process relay on a loopback network;
 * every wait is on a change a node reports.
 */
const DAY = 86_400_000;

let root: string;
let registryDir: string;
let relay: RelayServer;
let relayAcn: LoopbackACN;
let bundle: string;
/** The test's own loopback ACN: posting into inboxes as a stranger would, bypassing any node. */
let acn: LoopbackACN;
const acns: LoopbackACN[] = [];
const running = new Set<RunningNode>();

/** Founder (organizer and member) and Mia (a member: no right to invite) share `id`; the stranger is in nothing. */
let founder: RunningNode;
let mia: RunningNode;
let stranger: RunningNode;
let id: string;

interface ProfileJson {
  readonly text: string;
  readonly id: string;
  readonly name: string;
  readonly about: string;
  readonly asks: string[];
  readonly role: string;
  readonly effort: number;
  readonly validUntil: number;
  readonly publishedBy: string;
  readonly stale: boolean;
  readonly reading: boolean;
}
interface RequestJson {
  readonly id: string;
  readonly onion: string;
  readonly name: string;
  readonly answers: string[];
  readonly asks: string[];
  readonly status: string;
  readonly work: number;
  readonly decidedAt: number | null;
}
interface InboxJson {
  readonly requests: RequestJson[];
  readonly dropped: Record<string, number>;
  readonly waiting: number;
  readonly capacity: number;
}
interface SentJson {
  readonly id: string;
  readonly pursuanceId: string;
  readonly status: string;
}

const events = async (n: RunningNode, pursuance = id) => (await ok<{ events: number }>(n, 'GET', at(pursuance))).events;
const profileOf = async (n: RunningNode, pursuance = id) => (await ok<{ profile: ProfileJson | null }>(n, 'GET', at(pursuance, '/profile'))).profile;
const inboxOf = (n: RunningNode, pursuance = id) => ok<InboxJson>(n, 'GET', at(pursuance, '/join-requests'));
const sentBy = (n: RunningNode) => ok<SentJson[]>(n, 'GET', '/api/join-profile/requests');
const dropBoxes = (n: RunningNode) => n.peer.groups().filter((g) => g.name === 'drop-box').length;
const inboxGroup = (text: string) => parseGroupInvite(parseProfileText(text, Date.now()).inbox).invite.groupId;

async function start(name: string, extra: { clock?: () => number } = {}): Promise<RunningNode> {
  const options = testNodeOptions(root, name, registryDir);
  acns.push(options.acn);
  const n = await startNode({ ...options, ...extra });
  running.add(n);
  return n;
}
async function stop(n: RunningNode): Promise<void> {
  running.delete(n);
  await n.close();
}

/** Expect a refusal with this status and code (and field, when given), worded for a person. */
function refusal(r: { status: number; body: unknown; text: string }, status: number, code: string, field?: string, what = ''): void {
  const body = r.body as { code?: string; field?: string; message?: unknown };
  const got = { status: r.status, code: body.code, ...(field === undefined ? {} : { field: body.field }) };
  expect(got, `${what} ${r.text}`).toEqual({ status, code, ...(field === undefined ? {} : { field }) });
  expect(typeof body.message).toBe('string');
}

/** Post raw payloads into an inbox as throwaway identities, over one relay session, in order. */
async function postAll(inboxText: string, payloads: readonly Uint8Array[]): Promise<void> {
  const { invite, bundle: inboxBundle } = parseGroupInvite(inboxText);
  const client = new RelayClient({ acn, bundle: inboxBundle, batchSize: 50 });
  const session = await client.openSession();
  try {
    for (const payload of payloads) {
      await session.post(
        sealGroupMessage({ id: invite.groupId, key: invite.key, relay: invite.relay, members: null }, Identity.generate(), {
          timestamp: Date.now(),
          previous: groupGenesis(invite.groupId),
          payload,
          fragment: undefined,
        }),
      );
    }
  } finally {
    session.close();
    await client.close();
  }
}

/** The proof of work a sealed request carries (leading zero bits), as a gatekeeper measures it. */
function workOf(bytes: Uint8Array): number {
  const m = canonicalDecode(bytes) as { p: Uint8Array; h: number; n: Uint8Array; ct: Uint8Array };
  return leadingZeroBits(workDigest(m.p, m.h, m.n, m.ct));
}

/** A request from `who` carrying exactly `work` bits (sealed again until it does: a lucky nonce gives more). */
function requestWithWork(p: Profile, who: Identity, work: number, name = 'Applicant'): { bytes: Uint8Array; id: string } {
  for (;;) {
    const sealed = sealJoinRequest({ ...p, effort: work }, who, { name, answers: p.asks.map(() => 'yes') }, Date.now());
    if (workOf(sealed.bytes) === work) return { bytes: sealed.bytes, id: toHex(sealed.digest) };
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-join-requests-'));
  registryDir = join(root, 'loopback');
  ({ relay, acn: relayAcn } = await startMemoryRelay(registryDir));
  bundle = relay.exportedBundle;
  acn = new LoopbackACN({ registryDir });
  [founder, mia, stranger] = [await start('founder'), await start('mia'), await start('stranger')];
  id = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Tenants', template: 'activist-cell', relay: bundle })).id;
  // Added under the name her node already goes by, so joining adds no rename.
  await ok(founder, 'POST', at(id, '/members'), { onion: mia.identity.onion, name: 'mia', roles: ['member'] });
  const { invite } = await ok<{ invite: string }>(founder, 'GET', at(id, '/invite'));
  await ok(mia, 'POST', '/api/invites/accept', { invite });
  const hash = (n: RunningNode) => n.registry.get(id).log.stateHash();
  await untilChange([mia, founder], () => hash(mia) === hash(founder), 'Mia to join');
});

afterAll(async () => {
  for (const n of running) await n.close().catch(() => undefined);
  for (const a of [acn, ...acns]) await a?.close().catch(() => undefined);
  await relay?.close();
  await relayAcn?.close();
  await rm(root, { recursive: true, force: true });
});

describe('publishing the public profile', () => {
  it('refuses bodies the schema does not take with INVALID_REQUEST, and a role nobody holds a key of, storing nothing', async () => {
    expect(await profileOf(founder)).toBeNull();
    const before = await events(founder);
    const base = { role: 'organizer', about: 'Renters of the north district.', asks: ['Which building?'], effort: 8 };
    const bad: [string, unknown][] = [
      ['effort 7', { ...base, effort: 7 }],
      ['effort 29', { ...base, effort: 29 }],
      ['effort 8.5', { ...base, effort: 8.5 }],
      ['days 0', { ...base, days: 0 }],
      ['days 15', { ...base, days: 15 }],
      ['nine asks', { ...base, asks: Array.from({ length: 9 }, (_, i) => `Question ${i}?`) }],
      ['an empty ask', { ...base, asks: [''] }],
      ['an ask of 301', { ...base, asks: ['x'.repeat(301)] }],
      ['about of 2001', { ...base, about: 'x'.repeat(2001) }],
      ['role __proto__', { ...base, role: '__proto__' }],
      ['role Bad!', { ...base, role: 'Bad!' }],
      ['no role', { about: 'x' }],
      ['an unknown field', { ...base, admin: true }],
      ['a name with a line break', { ...base, name: 'Ten\nants' }],
    ];
    for (const [what, body] of bad) {
      const r = await call(founder, 'POST', at(id, '/profile'), body);
      expect([r.status, (r.body as { code?: string }).code], `${what}: ${r.text}`).toEqual([400, 'INVALID_REQUEST']);
    }
    // An own "__proto__" key (JSON.parse makes one) is an unknown field, not a prototype.
    refusal(await call(founder, 'POST', at(id, '/profile'), JSON.parse('{"role":"organizer","__proto__":{"effort":8}}')), 400, 'INVALID_REQUEST');
    // A well-formed role id the pursuance does not have: no key of it to sign with.
    refusal(await call(founder, 'POST', at(id, '/profile'), { ...base, role: 'constructor' }), 409, 'UNKNOWN_KEY');
    // Nothing to withdraw yet.
    refusal(await call(founder, 'DELETE', at(id, '/profile')), 409, 'NO_PROFILE');
    expect(await events(founder)).toBe(before);
    expect(await profileOf(founder)).toBeNull();
    expect(dropBoxes(founder)).toBe(0);
  });

  it('refuses a pursuance on no relay (its inbox would be nowhere)', async () => {
    const offline = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Offline', template: 'activist-cell' })).id;
    const before = await events(founder, offline);
    refusal(await call(founder, 'POST', at(offline, '/profile'), { role: 'organizer', effort: 8 }), 409, 'NOT_ATTACHED');
    expect(await events(founder, offline)).toBe(before);
    expect(await profileOf(founder, offline)).toBeNull();
  });

  let first: ProfileJson;

  it('publishes: its text, read on this node, current; the event is in the log and the node follows the inbox', async () => {
    const before = await events(founder);
    const r = await call(founder, 'POST', at(id, '/profile'), {
      role: 'organizer',
      about: 'Renters of the north district.',
      asks: ['Which building?'],
      effort: 8,
    });
    expect(r.status, r.text).toBe(200);
    first = r.body as ProfileJson;
    expect(first).toMatchObject({ name: 'Tenants', role: 'organizer', asks: ['Which building?'], effort: 8, reading: true, stale: false });
    expect(first.text.startsWith('pursuance-profile:1:')).toBe(true);
    // Seven days by default, to a UTC midnight.
    expect(first.validUntil % DAY).toBe(0);
    expect(first.validUntil).toBe((Math.floor(Date.now() / DAY) + 7) * DAY);
    expect(await events(founder)).toBe(before + 1);
    expect(await profileOf(founder)).toEqual(first);
    expect(founder.peer.groups().map((g) => g.id)).toContain(inboxGroup(first.text));
    // The publisher's own node sees it is a member of what the profile names.
    expect(await ok(founder, 'POST', '/api/join-profile/preview', { profile: first.text })).toMatchObject({ pursuanceId: id, member: true });
  });

  it('refuses a member without the right to invite (422), and a role the publisher holds no key of (409), storing nothing', async () => {
    await untilChange([mia], () => mia.registry.get(id).log.state().profile !== undefined, 'Mia to see the profile');
    // Taken into the log before it is stored: the counts below are of what the nodes have stored.
    await Promise.all([mia.registry.idle(), founder.registry.idle()]);
    const before = [await events(mia), await events(founder)];
    // Mia holds "member" (and its key) but may not invite: a profile is a standing invitation.
    const denied = await call(mia, 'POST', at(id, '/profile'), { role: 'member', about: 'Mine now.', effort: 8 });
    refusal(denied, 422, 'DENIED');
    refusal(await call(mia, 'POST', at(id, '/profile'), { role: 'organizer', about: 'Mine now.', effort: 8 }), 409, 'UNKNOWN_KEY');
    // Nor may she withdraw the founder's.
    refusal(await call(mia, 'DELETE', at(id, '/profile')), 422, 'DENIED');
    expect([await events(mia), await events(founder)]).toEqual(before);
    expect(await profileOf(mia)).toMatchObject({ id: first.id, text: first.text, reading: false });
  });

  it('keeps the profile id and inbox when published again, and makes a new inbox only when a relay is named', async () => {
    const again = await ok<ProfileJson>(founder, 'POST', at(id, '/profile'), {
      role: 'organizer',
      about: 'Renters, north and east.',
      asks: ['Which building?'],
      effort: 8,
    });
    expect(again.about).toBe('Renters, north and east.');
    expect(again.text).not.toBe(first.text);
    expect(again.id).toBe(first.id);
    expect(parseProfileText(again.text, Date.now()).inbox).toBe(parseProfileText(first.text, Date.now()).inbox);
    const moved = await ok<ProfileJson>(founder, 'POST', at(id, '/profile'), {
      role: 'organizer',
      about: 'Renters, north and east.',
      asks: ['Which building?'],
      effort: 8,
      relay: bundle,
    });
    expect(moved.id).not.toBe(first.id);
    expect(inboxGroup(moved.text)).not.toBe(inboxGroup(first.text));
    expect(founder.peer.groups().map((g) => g.id)).toContain(inboxGroup(moved.text));
    // A relay bundle that is not one: refused before anything is signed.
    const before = await events(founder);
    const garbage = await call(founder, 'POST', at(id, '/profile'), { role: 'organizer', effort: 8, relay: bundle.slice(0, 60) });
    expect(garbage.status, garbage.text).toBe(400);
    expect(await events(founder)).toBe(before);
    expect((await profileOf(founder))!.id).toBe(moved.id);
  });

  it('is signed again under the new key, same id and inbox, when an organizer leaves and the role is re-keyed', async () => {
    const was = (await profileOf(founder))!;
    const epochs = founder.registry.get(id).log.state().roles.get('organizer')!.epochs.length;
    const olu = Identity.generate();
    await ok(founder, 'POST', at(id, '/members'), { onion: olu.onion, name: 'Olu', roles: ['organizer'] });
    await ok(founder, 'DELETE', at(id, `/members/${olu.onion}`));
    const state = () => founder.registry.get(id).log.state();
    const current = () => state().roles.get('organizer')!.epochs.at(-1)!.keyIdHex;
    // Olu held the key the profile was signed with: requests sealed to it must stop.
    await untilChange([founder], () => toHex(state().profile!.profile.keyId) === current(), 'the profile to be signed again');
    expect(state().roles.get('organizer')!.epochs.length).toBeGreaterThan(epochs);
    const now = (await profileOf(founder))!;
    expect(now).toMatchObject({ id: was.id, stale: false, reading: true, about: was.about, validUntil: was.validUntil });
    expect(now.publishedBy).not.toBe(was.publishedBy);
    expect(inboxGroup(now.text)).toBe(inboxGroup(was.text));
    expect(toHex(parseProfileText(now.text, Date.now()).keyId)).not.toBe(toHex(parseProfileText(was.text, Date.now()).keyId));
  });

  it('shows as stale when its publisher no longer holds the role, is refused to them, and is withdrawn once', async () => {
    const quiet = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Quiet', template: 'activist-cell', relay: bundle })).id;
    await ok(founder, 'POST', at(quiet, '/profile'), { role: 'member', about: 'Members read requests.', effort: 8 });
    expect(await profileOf(founder, quiet)).toMatchObject({ role: 'member', stale: false, reading: true });
    // The founder gives up "member": the role is re-keyed, and its holder-only profile cannot follow.
    await ok(founder, 'DELETE', at(quiet, `/members/${founder.identity.onion}/roles/member`));
    await untilChange([founder], () => founder.registry.get(quiet).log.state().roles.get('member')!.epochs.length === 2, 'the member key to be rotated');
    await founder.admission.idle();
    expect(await profileOf(founder, quiet)).toMatchObject({ role: 'member', stale: true, reading: true });
    const before = await events(founder, quiet);
    const refused = await call(founder, 'POST', at(quiet, '/profile'), { role: 'member', about: 'Members read requests.', effort: 8 });
    // Its node made the new key (it rotated), so the key is not what stops it: holding the role is.
    refusal(refused, 422, 'DENIED');
    expect((refused.body as { detail: string }).detail).toMatch(/only a holder of "member"/);
    expect(await events(founder, quiet)).toBe(before);
    expect(await ok(founder, 'DELETE', at(quiet, '/profile'))).toEqual({ profile: null });
    expect(await profileOf(founder, quiet)).toBeNull();
    expect(await events(founder, quiet)).toBe(before + 1);
    refusal(await call(founder, 'DELETE', at(quiet, '/profile')), 409, 'NO_PROFILE');
    expect(await events(founder, quiet)).toBe(before + 1);
  });
});

describe('asking to join (the applicant’s side)', () => {
  let text: string;

  beforeAll(async () => {
    text = (await profileOf(founder))!.text;
  });

  it('refuses what is no profile, or no longer one, with INVALID_PROFILE, sending and following nothing', async () => {
    const token = text.slice('pursuance-profile:1:'.length);
    const mid = Math.floor(token.length / 2);
    const swapped = token[mid] === 'A' ? 'B' : 'A';
    const cases: [string, string][] = [
      ['garbage', 'hello, please let me in'],
      ['the prefix alone', 'pursuance-profile:1:'],
      ['a truncated text', text.slice(0, text.length - 7)],
      ['a text cut in half', text.slice(0, Math.floor(text.length / 2))],
      ['two profiles', `${text}\n${text}`],
      ['one character changed', `pursuance-profile:1:${token.slice(0, mid)}${swapped}${token.slice(mid + 1)}`],
      ['a foreign base64 alphabet', text.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/'))],
    ];
    for (const [what, profile] of cases) {
      // A base64 change that leaves a valid profile is impossible without the role key: every one is refused.
      refusal(await call(stranger, 'POST', '/api/join-profile/preview', { profile }), 400, 'INVALID_PROFILE', 'profile', what);
      refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile, name: 'Rosa', answers: ['C12'] }), 400, 'INVALID_PROFILE', 'profile', what);
    }
    expect(await sentBy(stranger)).toEqual([]);
    expect(dropBoxes(stranger)).toBe(0);
    // The very same text, with words around it, is read.
    expect(await ok(stranger, 'POST', '/api/join-profile/preview', { profile: `Join us! ${text} (share freely)` })).toMatchObject({
      pursuanceId: id,
      name: 'Tenants',
      asks: ['Which building?'],
      effort: 8,
      member: false,
    });
  });

  it('refuses an expired profile: one published by a node whose clock is three weeks behind', async () => {
    // The node signs with its own clock (startNode's `clock`): a week's profile it publishes today ran out two weeks ago.
    const behind = Date.now() - 21 * DAY;
    const old = await start('old-clock', { clock: () => behind });
    const oldId = (await ok<{ id: string }>(old, 'POST', '/api/pursuances', { name: 'Old', template: 'activist-cell', relay: bundle })).id;
    const published = await call(old, 'POST', at(oldId, '/profile'), { role: 'organizer', effort: 8 });
    expect(published.status, published.text).toBe(200);
    const p = published.body as ProfileJson;
    expect(p.validUntil).toBe((Math.floor(behind / DAY) + 7) * DAY);
    // Its own node, three weeks behind, still reads it; the stranger's, on time, does not.
    expect(await ok(old, 'POST', '/api/join-profile/preview', { profile: p.text })).toMatchObject({ pursuanceId: oldId, member: true });
    const expired = await call(stranger, 'POST', '/api/join-profile/preview', { profile: p.text });
    refusal(expired, 400, 'INVALID_PROFILE', 'profile');
    expect((expired.body as { message: string }).message).toMatch(/expired/);
    refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile: p.text, answers: [] }), 400, 'INVALID_PROFILE', 'profile');
    expect(await sentBy(stranger)).toEqual([]);
    await stop(old);
  });

  it('renews a profile it published before it expires (same id and inbox, a new term), and not sooner', async () => {
    let t = Date.now();
    const renewer = await start('renewer', { clock: () => t });
    const pid = (await ok<{ id: string }>(renewer, 'POST', '/api/pursuances', { name: 'Renewing', template: 'activist-cell', relay: bundle })).id;
    const first = await ok<ProfileJson>(renewer, 'POST', at(pid, '/profile'), { role: 'organizer', effort: 8, days: 7 });
    const before = await events(renewer, pid);
    // Four days on, three are left: nothing is due.
    t += 4 * DAY;
    await renewer.admission.renewDue();
    expect(await events(renewer, pid)).toBe(before);
    expect((await profileOf(renewer, pid))!.validUntil).toBe(first.validUntil);
    // Two more, one day is left: it is signed again for a full term, with the same id and inbox.
    t += 2 * DAY;
    await renewer.admission.renewDue();
    expect(await events(renewer, pid)).toBe(before + 1);
    const renewed = (await profileOf(renewer, pid))!;
    expect(renewed.validUntil).toBe((Math.floor(t / DAY) + 7) * DAY);
    expect(renewed.id).toBe(first.id);
    expect(renewed.publishedBy).not.toBe(first.publishedBy);
    expect(parseProfileText(renewed.text, t).inbox).toBe(parseProfileText(first.text, t - 6 * DAY).inbox);
    await stop(renewer);
  });

  it('retires the inbox of a withdrawn profile: nothing posted there is kept any more', async () => {
    const n = await start('tidy');
    const pid = (await ok<{ id: string }>(n, 'POST', '/api/pursuances', { name: 'Tidy', template: 'activist-cell', relay: bundle })).id;
    const first = await ok<ProfileJson>(n, 'POST', at(pid, '/profile'), { role: 'organizer', effort: 8 });
    const inboxId = inboxGroup(first.text);
    const group = () => n.peer.groups().find((g) => g.id === inboxId)!;
    expect(group().retired ?? false).toBe(false);
    await ok(n, 'DELETE', at(pid, '/profile'));
    expect(group().retired).toBe(true);
    // A post into the retired inbox reaches the node and is refused there: the peer keeps nothing of it.
    const held = n.peer.groupMessages(inboxId).length;
    const refused = new Promise<void>((resolve) => {
      const on = (r: { groupId: string }) => {
        if (r.groupId !== inboxId) return;
        n.peer.off('groupMessageRejected', on);
        resolve();
      };
      n.peer.on('groupMessageRejected', on);
    });
    await postAll(parseProfileText(first.text, Date.now()).inbox, [new Uint8Array([1, 2, 3])]);
    await refused;
    expect(n.peer.groupMessages(inboxId).length).toBe(held);
    // Published again after the withdrawal: a new inbox, read; the old one stays retired.
    const second = await ok<ProfileJson>(n, 'POST', at(pid, '/profile'), { role: 'organizer', effort: 8 });
    expect(inboxGroup(second.text)).not.toBe(inboxId);
    expect(n.peer.groups().find((g) => g.id === inboxGroup(second.text))!.retired ?? false).toBe(false);
    expect(group().retired).toBe(true);
    await stop(n);
  });

  it('refuses a member asking to join its own pursuance, and too few answers, sending nothing', async () => {
    expect(await ok(founder, 'POST', '/api/join-profile/preview', { profile: text })).toMatchObject({ member: true });
    refusal(await call(founder, 'POST', '/api/join-profile/requests', { profile: text, answers: ['Mine'] }), 400, 'INVALID_REQUEST', 'profile');
    refusal(await call(mia, 'POST', '/api/join-profile/requests', { profile: text, answers: ['Mine'] }), 400, 'INVALID_REQUEST', 'profile');
    expect(await sentBy(founder)).toEqual([]);
    refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile: text, name: 'Rosa', answers: [] }), 400, 'INVALID_REQUEST', 'answers');
    // More answers than the schema takes, or one too long.
    refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile: text, answers: Array(9).fill('a') }), 400, 'INVALID_REQUEST');
    refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile: text, answers: ['x'.repeat(1001)] }), 400, 'INVALID_REQUEST');
    expect(await sentBy(stranger)).toEqual([]);
    expect(dropBoxes(stranger)).toBe(0);
  });

  it('refuses a forged profile whose inbox is no group invite, and one whose inbox relay is down, recording nothing as sent', async () => {
    // Signed by a role key of no pursuance: a stranger cannot tell (only the log could), so it previews.
    const k = newRoleKey('organizer');
    const spec = { pursuance: 'ab'.repeat(32), name: 'Forged', about: '', asks: [], effort: 8, now: Date.now(), days: 3 };
    const noInvite = profileText(signProfile({ ...spec, inbox: 'not an invite' }, k));
    expect((await call(stranger, 'POST', '/api/join-profile/preview', { profile: noInvite })).status).toBe(200);
    refusal(await call(stranger, 'POST', '/api/join-profile/requests', { profile: noInvite, answers: [] }), 400, 'INVALID_INVITE');
    // A relay that was there once and is gone: the post cannot be made.
    const gone = await startMemoryRelay(registryDir);
    const goneBundle = gone.relay.exportedBundle;
    await gone.relay.close();
    await gone.acn.close();
    const deadInbox = profileText(signProfile({ ...spec, inbox: newDropBoxInvite(goneBundle, Date.now()) }, k));
    const r = await call(stranger, 'POST', '/api/join-profile/requests', { profile: deadInbox, answers: [] });
    refusal(r, 503, 'PEER_UNREACHABLE');
    expect(await sentBy(stranger)).toEqual([]);
  });

  it('carries prototype names as plain text: they reach the reviewer intact', async () => {
    const sent = await call(stranger, 'POST', '/api/join-profile/requests', { profile: text, name: '__proto__', answers: ['constructor', 'toString'] });
    expect(sent.status, sent.text).toBe(201);
    expect(sent.body).toMatchObject({ pursuanceId: id, pursuanceName: 'Tenants', status: 'sent' });
    await untilAsync([founder.admission], async () => (await inboxOf(founder)).waiting === 1, 'the request to reach the founder');
    const [r] = (await inboxOf(founder)).requests;
    expect(r).toMatchObject({
      id: (sent.body as SentJson).id,
      onion: stranger.identity.onion,
      name: '__proto__',
      answers: ['constructor', 'toString'],
      asks: ['Which building?'],
      status: 'pending',
    });
    expect((await sentBy(stranger)).map((s) => s.id)).toEqual([(sent.body as SentJson).id]);
  });
});

describe('reviewing requests', () => {
  let requestId: string;

  beforeAll(async () => {
    requestId = (await inboxOf(founder)).requests[0]!.id;
  });

  it('refuses decisions on requests that do not exist here (404) or ids that could not exist (400)', async () => {
    const unknown = 'f'.repeat(64);
    for (const action of ['admit', 'decline']) {
      refusal(await call(founder, 'POST', at(id, `/join-requests/${unknown}/${action}`), {}), 404, 'UNKNOWN_JOIN_REQUEST', 'requestId');
      for (const bad of ['xyz', requestId.toUpperCase(), requestId.slice(1), `${requestId}0`, '__proto__']) {
        refusal(await call(founder, 'POST', at(id, `/join-requests/${bad}/${action}`), {}), 400, 'INVALID_REQUEST');
      }
      // A request of this pursuance is no request of another one.
      const other = (await ok<{ id: string }[]>(founder, 'GET', '/api/pursuances')).find((p) => p.id !== id)!.id;
      refusal(await call(founder, 'POST', at(other, `/join-requests/${requestId}/${action}`), {}), 404, 'UNKNOWN_JOIN_REQUEST');
    }
    refusal(await call(founder, 'POST', at(id, `/join-requests/${requestId}/admit`), { roles: ['Bad!'] }), 400, 'INVALID_REQUEST');
    refusal(await call(founder, 'POST', at(id, `/join-requests/${requestId}/decline`), { note: 'x'.repeat(301) }), 400, 'INVALID_REQUEST');
    // Mia does not hold the organizer key: the request was never hers to read.
    refusal(await call(mia, 'POST', at(id, `/join-requests/${requestId}/decline`), {}), 404, 'UNKNOWN_JOIN_REQUEST');
    expect((await inboxOf(founder)).requests[0]).toMatchObject({ id: requestId, status: 'pending', decidedAt: null });
  });

  it('decides once: a second decision either way is JOIN_REQUEST_CLOSED', async () => {
    const declined = await call(founder, 'POST', at(id, `/join-requests/${requestId}/decline`), { note: 'Tenants only.' });
    expect(declined.status, declined.text).toBe(200);
    expect(declined.body).toMatchObject({ id: requestId, status: 'declined' });
    const before = await events(founder);
    refusal(await call(founder, 'POST', at(id, `/join-requests/${requestId}/admit`), { roles: ['member'] }), 409, 'JOIN_REQUEST_CLOSED', 'requestId');
    refusal(await call(founder, 'POST', at(id, `/join-requests/${requestId}/decline`), {}), 409, 'JOIN_REQUEST_CLOSED', 'requestId');
    expect(await events(founder)).toBe(before);
    expect(founder.registry.get(id).log.state().members.has(stranger.identity.onion)).toBe(false);
    await untilAsync([stranger.admission], async () => (await sentBy(stranger))[0]!.status === 'declined', 'the answer to reach the stranger');
  });

  it('refuses an admission by a reader without the right to invite (422); the request stays pending', async () => {
    // Requests now go to "member": Mia holds its key, so she reads them, but may not let anyone in.
    const p = await ok<ProfileJson>(founder, 'POST', at(id, '/profile'), {
      role: 'member',
      about: 'Members read requests.',
      asks: ['Which building?'],
      effort: 8,
    });
    await untilChange([mia], () => mia.registry.get(id).log.state().profile?.profile.role === 'member', 'Mia to see the member profile');
    const sent = await call(stranger, 'POST', '/api/join-profile/requests', { profile: p.text, name: 'Rosa', answers: ['Block C'] });
    expect(sent.status, sent.text).toBe(201);
    const rid = (sent.body as SentJson).id;
    await untilAsync([mia.admission], async () => (await inboxOf(mia)).requests.some((r) => r.id === rid), 'the request to reach Mia');
    const before = await events(mia);
    refusal(await call(mia, 'POST', at(id, `/join-requests/${rid}/admit`), { roles: ['member'] }), 422, 'DENIED');
    expect(await events(mia)).toBe(before);
    expect((await inboxOf(mia)).requests.find((r) => r.id === rid)).toMatchObject({ status: 'pending', decidedAt: null, name: 'Rosa', answers: ['Block C'] });
    expect(mia.registry.get(id).log.state().members.has(stranger.identity.onion)).toBe(false);
  });

  it('keeps the review inbox across a restart, and counts nothing it handled before again', async () => {
    const { text } = (await profileOf(founder))!;
    await untilAsync([founder.admission], async () => (await inboxOf(founder)).waiting === 1, 'Rosa’s request to reach the founder');
    // Something to count as dropped: garbage, and a request without the work.
    const dropped0 = (await inboxOf(founder)).dropped;
    const p = parseProfileText(text, Date.now());
    const lazy = requestWithWork(p, Identity.generate(), 3, 'Lazy');
    await postToDropBox(p.inbox, new Uint8Array(64).fill(7), { acn });
    await postToDropBox(p.inbox, lazy.bytes, { acn });
    await untilAsync(
      [founder.admission],
      async () => {
        const d = (await inboxOf(founder)).dropped;
        return d.malformed === dropped0.malformed! + 1 && d.work === dropped0.work! + 1;
      },
      'the garbage to be counted',
    );
    const before = await inboxOf(founder);
    expect(before.requests.map((r) => [r.name, r.status]).sort()).toEqual([
      ['Rosa', 'pending'],
      ['__proto__', 'declined'],
    ]);
    const history = founder.peer.groupHistory(inboxGroup(text)).length;
    expect(history).toBeGreaterThanOrEqual(4);
    await stop(founder);
    founder = await start('founder');
    // Start-up queued every message the inbox holds again (the two requests among them): all were handled before.
    expect(founder.peer.groupHistory(inboxGroup(text)).length).toBeGreaterThanOrEqual(history);
    await founder.admission.idle();
    expect(await inboxOf(founder)).toEqual(before);
  });

  it('takes a request posted again after a restart (its proof forgotten) as a replay: a declined one is not reopened', async () => {
    const { text } = (await profileOf(founder))!;
    const rosa = (await inboxOf(founder)).requests.find((r) => r.name === 'Rosa')!;
    expect((await call(founder, 'POST', at(id, `/join-requests/${rosa.id}/decline`), {})).status).toBe(200);
    const before = await inboxOf(founder);
    // Anyone who reads the inbox can post its messages again, each under a new throwaway signature.
    const payloads = founder.peer.groupHistory(inboxGroup(text)).map((m) => m.payload);
    await postAll(parseProfileText(text, Date.now()).inbox, payloads);
    await untilAsync(
      [founder.admission],
      async () => (await inboxOf(founder)).dropped.replay === before.dropped.replay! + 2,
      'the two requests to be taken as replays',
    );
    const after = await inboxOf(founder);
    expect(after.requests).toEqual(before.requests);
    expect(after.waiting).toBe(0);
  });
});

describe('the review queue', () => {
  let queue: string;
  let p: Profile;
  let inbox: string;
  const all = async () => inboxOf(founder, queue);

  beforeAll(async () => {
    queue = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name: 'Queue', template: 'activist-cell', relay: bundle })).id;
    const { text } = await ok<ProfileJson>(founder, 'POST', at(queue, '/profile'), { role: 'organizer', effort: 8 });
    p = parseProfileText(text, Date.now());
    inbox = p.inbox;
  });

  it('keeps one waiting request per applicant: a newer one replaces the older', async () => {
    const ana = Identity.generate();
    const first = requestWithWork(p, ana, 8, 'Ana');
    await postAll(inbox, [first.bytes]);
    await untilAsync([founder.admission], async () => (await all()).waiting === 1, 'Ana’s first request');
    const second = requestWithWork(p, ana, 8, 'Ana again');
    await postAll(inbox, [second.bytes]);
    await untilAsync([founder.admission], async () => (await all()).requests.some((r) => r.id === second.id), 'Ana’s second request');
    const now = await all();
    expect(now.requests.map((r) => [r.id, r.name, r.status])).toEqual([[second.id, 'Ana again', 'pending']]);
    expect(Object.values(now.dropped).every((n) => n === 0)).toBe(true);
  });

  it(
    `holds at most ${REVIEW_MAX} waiting: a newcomer with no more work than the least is dropped as full, one with more takes its place`,
    { timeout: 240_000 },
    async () => {
      const [ana] = (await all()).requests;
      expect((await all()).capacity).toBe(REVIEW_MAX);
      const applicants = Array.from({ length: REVIEW_MAX - 1 }, () => Identity.generate());
      const fill = applicants.map((who, i) => requestWithWork(p, who, 8, `Applicant ${i}`));
      await postAll(
        inbox,
        fill.map((r) => r.bytes),
      );
      await untilAsync([founder.admission], async () => (await all()).waiting === REVIEW_MAX, 'the queue to fill', 180_000);
      expect((await all()).dropped.full).toBe(0);
      // No more work than the least waiting: no place for it.
      const late = requestWithWork(p, Identity.generate(), 8, 'Late');
      await postAll(inbox, [late.bytes]);
      await untilAsync([founder.admission], async () => (await all()).dropped.full === 1, 'the late request to be dropped');
      expect((await all()).requests.some((r) => r.id === late.id)).toBe(false);
      // More work: it takes the place of one of the least (counted as dropped for the queue being full).
      const eager = requestWithWork(p, Identity.generate(), 11, 'Eager');
      await postAll(inbox, [eager.bytes]);
      await untilAsync([founder.admission], async () => (await all()).dropped.full === 2, 'the eager request to take a place');
      const after = await all();
      expect(after.waiting).toBe(REVIEW_MAX);
      expect(after.requests[0]).toMatchObject({ id: eager.id, name: 'Eager', work: 11, status: 'pending' });
      const kept = new Set(after.requests.map((r) => r.id));
      const displaced = [ana!.id, ...fill.map((r) => r.id)].filter((x) => !kept.has(x));
      expect(displaced).toHaveLength(1);
      // An applicant already waiting replaces their own request, full queue or not.
      const stays = fill.findIndex((r) => kept.has(r.id));
      const newer = requestWithWork(p, applicants[stays]!, 8, 'Second thoughts');
      await postAll(inbox, [newer.bytes]);
      await untilAsync([founder.admission], async () => (await all()).requests.some((r) => r.id === newer.id), 'the newer request to replace the older');
      const last = await all();
      expect(last.waiting).toBe(REVIEW_MAX);
      expect(last.dropped.full).toBe(2);
      expect(last.requests.some((r) => r.id === fill[stays]!.id)).toBe(false);
      expect(last.requests.filter((r) => r.onion === applicants[stays]!.onion)).toHaveLength(1);
    },
  );
});

describe('previewing pasted text', () => {
  it('answers 200 with the one profile, or 400 INVALID_PROFILE / INVALID_REQUEST, for any text — never a 500', { timeout: 120_000 }, async () => {
    const { text } = (await profileOf(founder))!;
    const prefix = 'pursuance-profile:1:';
    const bytes = Buffer.from(text.slice(prefix.length), 'base64url');
    const asText = (b: Uint8Array) => prefix + Buffer.from(b).toString('base64url');
    const anyText = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom('', prefix, `${prefix}=`, 'x'.repeat(16_385)),
    );
    const charSwap = fc
      .tuple(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }))
      .map(([i, c]) => text.slice(0, i) + c + text.slice(i + 1));
    const cut = fc.nat({ max: text.length }).map((n) => text.slice(0, n));
    const wrapped = fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 })).map(([a, b]) => `${a}${text}${b}`);
    // The signed bytes themselves: a byte changed, some cut off, some inserted — each still valid base64url.
    const byteFlip = fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = Uint8Array.from(bytes);
      b[i]! ^= x;
      return asText(b);
    });
    const byteCut = fc.nat({ max: bytes.length - 1 }).map((n) => asText(bytes.subarray(0, n)));
    const byteInsert = fc
      .tuple(fc.nat({ max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([i, extra]) => asText(Buffer.concat([bytes.subarray(0, i), extra, bytes.subarray(i)])));
    const forged = fc.uint8Array({ maxLength: 400 }).map(asText);
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyText, charSwap, cut, wrapped, byteFlip, byteCut, byteInsert, forged), async (profile) => {
        const r = await call(stranger, 'POST', '/api/join-profile/preview', { profile });
        if (r.status === 200) {
          // Only the profile the role key signed reads as one: any change that still reads is outside its token.
          expect(r.body, profile).toMatchObject({ pursuanceId: id, name: 'Tenants', member: false });
        } else {
          expect(r.status, r.text).toBe(400);
          expect(['INVALID_PROFILE', 'INVALID_REQUEST'], r.text).toContain((r.body as { code: string }).code);
        }
      }),
      { numRuns: 250 },
    );
  });
});

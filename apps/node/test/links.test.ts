import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, toHex } from '@pursuance/crypto';
import { parseGroupInvite, postToDropBox } from '@pursuance/cwtch';
import { HOUR_MS, encodeLinkPost, parseLinkOfferText, signAnnouncement, signCredential, signReceipt, type EventId } from '@pursuance/pursuance';
import { sealLinkTask } from '../../../packages/pursuance/src/link.js';
import { newRoleKey, rolePub } from '../../../packages/pursuance/src/keys.js';
import { openNodeStore, type RunningNode } from '../src/index.js';
import { RelayNodes } from './support/relay-nodes.js';
import { LinkStore } from '../src/sync/link-store.js';
import type { LinkModel, LinkOfferModel, LinkOfferPreview } from '../src/sync/link.service.js';
import { untilAsync, untilChange } from '../../../test/support/until-change.js';
import { at, call, ok, refusal } from './support/node-api.js';

/**
 * Links between pursuances through the node's API, in-process: pursuance A ("Port Watch", on
 * relay A) and pursuance B ("Harbour Desk", on relay B), each with a founder and a member. Each
 * side offers, the other opens with the role mapping; A's organizers may send tasks to B's
 * members. Covered: the honest flow (announcements carried both ways, a task carried in with its
 * origin), a member without the role, a role the link does not grant, a rotation that makes an
 * old key's credential worthless, posts that arrived while B's nodes were down, garbage in an
 * inbox, and bodies the schemas refuse. Every wait is on a change a node reports.
 */
let nodes: RelayNodes;

let fa: RunningNode;
let ma: RunningNode;
let fb: RunningNode;
let mb: RunningNode;
let A: string;
let B: string;
let offerA: LinkOfferModel;
let offerB: LinkOfferModel;

interface TaskJson {
  readonly id: string;
  readonly title: string | null;
  readonly body: string | null;
  readonly readable: boolean;
  readonly createdBy: string;
  readonly origin?: { peer: string; name: string | null; role: string };
}

const events = (n: RunningNode, pursuance: string) => n.registry.get(pursuance).log.size;
const linkOf = (n: RunningNode, pursuance: string, peer: string) =>
  n.registry
    .get(pursuance)
    .log.state()
    .links?.get(peer as EventId);
const linksOf = (n: RunningNode, pursuance: string) => ok<LinkModel[]>(n, 'GET', at(pursuance, '/links'));
const tasksOf = (n: RunningNode, pursuance: string) => ok<TaskJson[]>(n, 'GET', at(pursuance, '/tasks'));

const start = (name: string): Promise<RunningNode> => nodes.start(name);
const stop = (n: RunningNode): Promise<void> => nodes.stop(n);

/** A pursuance on its own relay, founded by `founder`, with `member` in it as a member. */
async function pursuance(founder: RunningNode, member: RunningNode, name: string, bundle: string): Promise<string> {
  const id = (await ok<{ id: string }>(founder, 'POST', '/api/pursuances', { name, template: 'activist-cell', relay: bundle })).id;
  await ok(founder, 'POST', at(id, '/members'), { onion: member.identity.onion, name: member === ma ? 'ma' : 'mb', roles: ['member'] });
  const { invite } = await ok<{ invite: string }>(founder, 'GET', at(id, '/invite'));
  await ok(member, 'POST', '/api/invites/accept', { invite });
  const hash = (n: RunningNode) => n.registry.get(id).log.stateHash();
  await untilChange([member, founder], () => hash(member) === hash(founder), `${name}: the member to join`);
  return id;
}

beforeAll(async () => {
  nodes = await RelayNodes.open('node-links-', 2);
  [fa, ma, fb, mb] = [await start('fa'), await start('ma'), await start('fb'), await start('mb')];
  A = await pursuance(fa, ma, 'Port Watch', nodes.relays[0]!.relay.exportedBundle);
  B = await pursuance(fb, mb, 'Harbour Desk', nodes.relays[1]!.relay.exportedBundle);
}, 120_000);

afterAll(async () => {
  await nodes.close();
});

describe('offers', () => {
  it('refuses bodies the schemas do not take, a link to itself, a role nobody here holds a key of, and a pursuance on no relay; nothing is signed', async () => {
    const before = events(fa, A);
    const base = { to: B, anchor: 'organizer' };
    const bad: [string, unknown][] = [
      ['to not an id', { ...base, to: 'B' }],
      ['to in capitals', { ...base, to: B.toUpperCase() }],
      ['anchor __proto__', { ...base, anchor: '__proto__' }],
      ['anchor Bad!', { ...base, anchor: 'Bad!' }],
      ['days 0', { ...base, days: 0 }],
      ['days 8', { ...base, days: 8 }],
      ['days 1.5', { ...base, days: 1.5 }],
      ['an unknown field', { ...base, admin: true }],
      ['no anchor', { to: B }],
    ];
    for (const [what, body] of bad) refusal(await call(fa, 'POST', at(A, '/links/offers'), body), 400, 'INVALID_REQUEST', what);
    refusal(await call(fa, 'POST', at(A, '/links/offers'), JSON.parse(`{"to":"${B}","anchor":"organizer","__proto__":{"days":7}}`)), 400, 'INVALID_REQUEST');
    refusal(await call(fa, 'POST', at(A, '/links/offers'), { ...base, to: A }), 400, 'INVALID_REQUEST', 'to itself');
    // A well-formed role id the pursuance does not have, and a role this member holds no key of.
    refusal(await call(fa, 'POST', at(A, '/links/offers'), { ...base, anchor: 'constructor' }), 409, 'UNKNOWN_KEY');
    refusal(await call(ma, 'POST', at(A, '/links/offers'), base), 409, 'UNKNOWN_KEY', 'a member offering for the organizers');
    const offline = (await ok<{ id: string }>(fa, 'POST', '/api/pursuances', { name: 'Offline', template: 'activist-cell' })).id;
    refusal(await call(fa, 'POST', at(offline, '/links/offers'), base), 409, 'NOT_ATTACHED');
    refusal(await call(fa, 'POST', at('0'.repeat(64), '/links/offers'), base), 404, 'UNKNOWN_PURSUANCE');
    expect(events(fa, A)).toBe(before);
    expect(await ok<LinkOfferModel[]>(fa, 'GET', at(A, '/links/offers'))).toEqual([]);
  });

  it('makes an offer per side: signed text naming the anchor key and a new inbox, kept here until the link opens', async () => {
    offerA = await ok<LinkOfferModel>(fa, 'POST', at(A, '/links/offers'), { to: B, anchor: 'organizer' });
    offerB = await ok<LinkOfferModel>(fb, 'POST', at(B, '/links/offers'), { to: A, anchor: 'organizer', days: 3 });
    expect(offerA).toMatchObject({ to: B, anchor: 'organizer', linked: false });
    expect(offerA.keyId).toBe(fa.registry.get(A).log.state().roles.get('organizer')!.epochs.at(-1)!.keyIdHex);
    expect(offerB.validUntil - Date.now()).toBeLessThanOrEqual(3 * 86_400_000);
    // The offer names no member: no onion of anyone in it.
    for (const n of [fa, ma, fb, mb]) expect(offerA.text).not.toContain(n.identity.onion);
    expect(await ok<LinkOfferModel[]>(fa, 'GET', at(A, '/links/offers'))).toEqual([offerA]);
    // Its inbox is followed already (their posts may come before our side opens).
    const inbox = parseGroupInvite(parseLinkOfferText(offerA.text, B, Date.now()).inbox).invite.groupId;
    expect(fa.peer.groups().find((g) => g.id === inbox)).toMatchObject({ name: 'drop-box' });
    expect(fa.peer.groups().find((g) => g.id === inbox)!.retired).not.toBe(true);
  });

  it('previews a pasted offer (key id to compare out of band); refuses garbage, an offer for someone else, and opening without an offer of our own', async () => {
    const preview = await ok<LinkOfferPreview>(fb, 'POST', at(B, '/links/preview'), { offer: `\n  ${offerA.text}  \n` });
    expect(preview).toEqual({
      peer: A,
      name: 'Port Watch',
      anchor: 'organizer',
      keyId: offerA.keyId,
      validUntil: offerA.validUntil,
      ourOffer: true,
      linked: false,
    });
    for (const offer of ['nonsense', 'pursuance-link:1:AAAA', `${offerA.text.slice(0, -4)}AAAA`, 'pursuance-link:1:' + 'A'.repeat(20_000)]) {
      const r = await call(fb, 'POST', at(B, '/links/preview'), { offer });
      expect([400].includes(r.status), r.text).toBe(true);
      expect(['INVALID_LINK_OFFER', 'INVALID_REQUEST']).toContain((r.body as { code: string }).code);
    }
    // Addressed to B: A cannot take its own offer, nor can an unrelated pursuance.
    refusal(await call(fa, 'POST', at(A, '/links/preview'), { offer: offerA.text }), 400, 'INVALID_LINK_OFFER');
    // mb made no offer to A: opening is refused before anything is signed.
    const before = events(mb, B);
    refusal(await call(mb, 'POST', at(B, '/links'), { offer: offerA.text, theyMay: [{ theirRole: 'organizer', on: 'member' }] }), 409, 'NO_LINK_OFFER');
    expect(events(mb, B)).toBe(before);
  });
});

describe('an open link', () => {
  it(
    'opens both ways; each side announces its keys and the other carries them in; A’s organizer sends a task that B’s members read, with its origin',
    { timeout: 180_000 },
    async () => {
      const atB = await ok<LinkModel>(fb, 'POST', at(B, '/links'), { offer: offerA.text, theyMay: [{ theirRole: 'organizer', on: 'member' }] });
      expect(atB).toMatchObject({
        peer: A,
        name: 'Port Watch',
        theirAnchor: 'organizer',
        ourAnchor: 'organizer',
        reading: true,
        announcing: true,
        frozen: null,
      });
      const atA = await ok<LinkModel>(fa, 'POST', at(A, '/links'), { offer: offerB.text, name: 'Harbour', weSend: [{ ours: 'organizer', theirs: 'member' }] });
      expect(atA).toMatchObject({ peer: B, name: 'Harbour', weSend: [{ ours: 'organizer', theirs: 'member' }] });
      // B's member key reaches A's log (announced by fb, carried by fa, synced to ma).
      await untilChange([fa, ma], () => linkOf(ma, A, B)?.keys.has('member') === true, 'B’s member key to reach A');
      expect(toHex(linkOf(fa, A, B)!.keys.get('member')!.keyId)).toBe(fb.registry.get(B).log.state().roles.get('member')!.epochs.at(-1)!.keyIdHex);
      expect((await ok<LinkOfferModel[]>(fa, 'GET', at(A, '/links/offers')))[0]!.linked).toBe(true);
      // ma holds no key the link concerns: it neither reads the inbox nor announces.
      expect((await linksOf(ma, A))[0]).toMatchObject({ reading: false, announcing: false });

      const sentBefore = events(fa, A);
      const sent = await ok<{ id: string; posted: boolean }>(fa, 'POST', at(A, `/links/${B}/tasks`), {
        ours: 'organizer',
        theirs: 'member',
        title: 'Check berth 7',
        body: 'The March manifests do not match the crane logs.',
      });
      expect(sent.posted).toBe(true);
      expect(events(fa, A)).toBe(sentBefore + 1);
      expect(fa.registry.get(A).log.event(sent.id as EventId)?.header.kind).toBe('link.send');
      const fromA = async (n: RunningNode) => (await tasksOf(n, B)).find((t) => t.origin !== undefined);
      await untilAsync([mb.registry, fb.registry], async () => (await fromA(mb)) !== undefined && (await fromA(fb)) !== undefined, 'the task to reach B');
      const task = (await fromA(mb))!;
      expect(task).toMatchObject({ title: 'Check berth 7', body: 'The March manifests do not match the crane logs.', readable: true });
      expect(task.origin).toEqual({ peer: A, name: 'Port Watch', role: 'organizer' });
      // The task names no A member: its author is the B member who carried it in.
      expect([fb.identity.onion, mb.identity.onion]).toContain(task.createdBy);
      expect(JSON.stringify(task)).not.toContain(fa.identity.onion);
      // Carried once, by one of B's nodes.
      expect((await tasksOf(fb, B)).filter((t) => t.origin).length).toBe(1);
      // B's carrier tells A it was taken in (a receipt signed by B's member key, which A checks).
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.sent[0]?.status === 'accepted', 'the receipt to reach A');
      expect((await linksOf(fa, A))[0]!.sent).toEqual([
        { id: sent.id, ours: 'organizer', theirs: 'member', by: fa.identity.onion, at: expect.any(Number), status: 'accepted', code: null, reason: null },
      ]);
      expect((await linksOf(fa, A))[0]!.unlogged).toEqual([]);
    },
  );

  it('a member of A without the sending role is refused before anything leaves A', { timeout: 180_000 }, async () => {
    await untilChange([ma], () => linkOf(ma, A, B)?.weSend.length === 1, 'ma to see the link');
    const before = events(ma, A);
    const r = await call(ma, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: 'Let me in' });
    refusal(r, 409, 'UNKNOWN_KEY');
    expect((r.body as { message: string }).message).toMatch(/only its holders send/);
    refusal(await call(ma, 'POST', at(A, `/links/${'0'.repeat(64)}/tasks`), { ours: 'member', theirs: 'member', title: 'Nowhere' }), 404, 'UNKNOWN_LINK');
    // Too long for one post: refused with the sizes, nothing signed.
    const long = await call(fa, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: 'Long', body: 'x'.repeat(8000) });
    refusal(long, 400, 'INVALID_SCHEMA');
    expect(events(ma, A)).toBe(before);
  });

  it('a task for a role B’s link does not grant is refused at B, with the reason, and never becomes a task', { timeout: 180_000 }, async () => {
    // A lets its members send too (B does not let them create anything): re-opened with both pairs, under a prototype name.
    await ok(fa, 'POST', at(A, '/links'), {
      offer: offerB.text,
      name: '__proto__',
      weSend: [
        { ours: 'organizer', theirs: 'member' },
        { ours: 'member', theirs: 'member' },
      ],
    });
    await untilChange([ma], () => linkOf(ma, A, B)?.weSend.length === 2 && linkOf(ma, A, B)?.keys.has('member') === true, 'ma to see the new mapping');
    const sent = await ok<{ posted: boolean }>(ma, 'POST', at(A, `/links/${B}/tasks`), { ours: 'member', theirs: 'member', title: 'From a member' });
    expect(sent.posted).toBe(true);
    await untilAsync([fb.links, mb.links], async () => (await linksOf(mb, B))[0]!.refused.some((r) => r.kind === 'task'), 'B to refuse it');
    const refused = (await linksOf(mb, B))[0]!.refused.find((r) => r.kind === 'task')!;
    expect(refused).toMatchObject({ code: 'DENIED', peer: A });
    expect(refused.reason).toMatch(/does not let their "member" create tasks for our "member"/);
    expect((await tasksOf(mb, B)).filter((t) => t.origin).map((t) => t.title)).toEqual(['Check berth 7']);
    // The sender, who now reads A's inbox for the receipts of what it sends, learns why.
    await untilAsync([ma.links], async () => (await linksOf(ma, A))[0]!.sent.some((x) => x.status === 'refused'), 'the refusal to reach the sender');
    const mine = (await linksOf(ma, A))[0]!.sent.find((x) => x.status === 'refused')!;
    expect(mine).toMatchObject({ by: ma.identity.onion, ours: 'member', code: 'DENIED' });
    expect(mine.reason).toMatch(/does not let their "member" create tasks for our "member"/);
    expect((await linksOf(fa, A))[0]!.name).toBe('__proto__');
  });

  it(
    'after A rotates its organizer key, B follows the anchor chain; a credential of the old key is refused, one of the new key accepted',
    { timeout: 180_000 },
    async () => {
      const oldEpoch = fa.registry.get(A).log.state().roles.get('organizer')!.epochs.at(-1)!;
      const oldKey = fa.registry.get(A).author.keyring.get(oldEpoch.keyIdHex)!;
      await ok(fa, 'POST', at(A, '/keys/rotate'), { roles: ['organizer'] });
      await untilChange([fb, mb], () => linkOf(mb, B, A)?.keys.get('organizer')?.n === 2, 'B to adopt A’s new organizer key');
      const current = fa.registry.get(A).log.state().roles.get('organizer')!.epochs.at(-1)!.keyIdHex;
      expect(toHex(linkOf(mb, B, A)!.keys.get('organizer')!.keyId)).toBe(current);
      expect((await linksOf(fa, A))[0]!.announcedAt).not.toBeNull();

      // Someone who kept the old key (a holder removed since) sends with it: well-formed, signed, refused.
      const theirs = linkOf(fa, A, B)!.keys.get('member')!;
      const box = sealLinkTask(B, 'member', theirs.keyId, theirs.box, { title: 'Old key', body: 'still here' });
      const credential = signCredential(
        { from: A, to: B, role: 'organizer', n: 1, action: 'create', on: 'member', digest: sha256(box), hour: Math.floor(Date.now() / HOUR_MS) },
        oldKey,
      );
      await postToDropBox(linkOf(fa, A, B)!.theirInbox, encodeLinkPost({ t: 'task', p: { credential, keyId: theirs.keyId, box } }), { acn: nodes.acn });
      await untilAsync([mb.links], async () => (await linksOf(mb, B))[0]!.refused.some((r) => r.code === 'STALE_EPOCH'), 'B to refuse the old key');
      expect((await linksOf(mb, B))[0]!.refused.find((r) => r.code === 'STALE_EPOCH')!.reason).toMatch(
        /signed by key 1 of their "organizer"; key 2 is current/,
      );
      // B's receipt for it reaches A, whose log holds no link.send of it: a send nobody recorded (L14).
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.unlogged.length === 1, 'A to see an unrecorded send');
      expect((await linksOf(fa, A))[0]!.unlogged[0]).toMatchObject({ digest: toHex(sha256(box)), verdict: 'refused' });
      // Taken in stands over a refusal (a B node that lost the race to carry it), never the reverse.
      const bMember = fb.registry.get(B).log.state().roles.get('member')!.epochs.at(-1)!;
      const receipt = (verdict: 'accepted' | 'refused') =>
        encodeLinkPost({
          t: 'receipt',
          r: signReceipt(
            { from: B, to: A, role: 'member', n: 1, digest: sha256(box), verdict, code: '', reason: '', hour: Math.floor(Date.now() / HOUR_MS) },
            fb.registry.get(B).author.keyring.get(bMember.keyIdHex)!,
          ),
        });
      await postToDropBox(linkOf(fb, B, A)!.theirInbox, receipt('accepted'), { acn: nodes.acn });
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.unlogged[0]?.verdict === 'accepted', 'the later acceptance to stand');
      await postToDropBox(linkOf(fb, B, A)!.theirInbox, receipt('refused'), { acn: nodes.acn });
      await postToDropBox(linkOf(fb, B, A)!.theirInbox, new Uint8Array([7]), { acn: nodes.acn });
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.refused.some((r) => r.kind === 'malformed'), 'A to read past the refusal');
      expect((await linksOf(fa, A))[0]!.unlogged).toEqual([expect.objectContaining({ digest: toHex(sha256(box)), verdict: 'accepted' })]);

      await ok(fa, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: 'New key' });
      await untilAsync([mb.registry], async () => (await tasksOf(mb, B)).some((t) => t.title === 'New key'), 'the new key’s task');
      expect(
        (await tasksOf(mb, B))
          .filter((t) => t.origin)
          .map((t) => t.title)
          .sort(),
      ).toEqual(['Check berth 7', 'New key']);
    },
  );

  it(
    'posts that arrive while B’s nodes are down are carried in when they start; garbage in the inbox is counted, never carried',
    { timeout: 180_000 },
    async () => {
      await stop(fb);
      await stop(mb);
      const inbox = linkOf(fa, A, B)!.theirInbox;
      await ok(fa, 'POST', at(A, `/links/${B}/tasks`), { ours: 'organizer', theirs: 'member', title: 'While you slept' });
      await postToDropBox(inbox, new Uint8Array([1, 2, 3]), { acn: nodes.acn });
      await postToDropBox(inbox, encodeLinkPost({ t: 'keys', a: [parseLinkOfferText(offerA.text, B, Date.now()).anchor] }).slice(0, 40), { acn: nodes.acn });
      fb = await start('fb');
      await untilAsync(
        [fb.registry, fb.links],
        async () => (await tasksOf(fb, B)).some((t) => t.title === 'While you slept'),
        'the task to be carried after the restart',
      );
      await untilAsync(
        [fb.links],
        async () => (await linksOf(fb, B))[0]!.refused.filter((r) => r.kind === 'malformed').length >= 2,
        'the garbage to be counted',
      );
      // A restart again carries nothing twice.
      const size = events(fb, B);
      await stop(fb);
      fb = await start('fb');
      await fb.links.idle();
      expect(events(fb, B)).toBe(size);
      expect((await tasksOf(fb, B)).filter((t) => t.title === 'While you slept')).toHaveLength(1);
      mb = await start('mb');
    },
  );

  it(
    'well-formed but hostile posts: a box that does not open, an announcement for another link, a forged receipt; each refused with its reason',
    { timeout: 180_000 },
    async () => {
      const size = events(fb, B);
      const theirs = linkOf(fa, A, B)!.keys.get('member')!;
      const organizer = fa.registry.get(A).log.state().roles.get('organizer')!;
      const key = fa.registry.get(A).author.keyring.get(organizer.epochs.at(-1)!.keyIdHex)!;
      const n = organizer.epochs.filter((ep) => ep.pub).length;
      // Signed by A's current organizer key over the box as sent, but the box is broken: B's holders cannot open it.
      const box = sealLinkTask(B, 'member', theirs.keyId, theirs.box, { title: 'Broken', body: '' });
      box[box.length - 1]! ^= 1;
      const credential = signCredential(
        { from: A, to: B, role: 'organizer', n, action: 'create', on: 'member', digest: sha256(box), hour: Math.floor(Date.now() / HOUR_MS) },
        key,
      );
      const inboxOfB = linkOf(fa, A, B)!.theirInbox;
      await postToDropBox(inboxOfB, encodeLinkPost({ t: 'task', p: { credential, keyId: theirs.keyId, box } }), { acn: nodes.acn });
      await untilAsync([fb.links], async () => (await linksOf(fb, B))[0]!.refused.some((r) => r.code === 'CONTENT_UNREADABLE'), 'B to refuse the broken box');
      // A's own announcement, but addressed to another pursuance: not for this link.
      const stray = { ...parseLinkOfferText(offerA.text, B, Date.now()).anchor };
      const other = signAnnouncement({ ...(({ signature: _s, ...rest }) => rest)(stray), to: 'c'.repeat(64) }, key);
      await postToDropBox(inboxOfB, encodeLinkPost({ t: 'keys', a: [other] }), { acn: nodes.acn });
      await untilAsync(
        [fb.links],
        async () => (await linksOf(fb, B))[0]!.refused.some((r) => r.code === 'WRONG_PURSUANCE'),
        'B to refuse the stray announcement',
      );
      expect(events(fb, B)).toBe(size);
      // A receipt signed by a key that is not B's: A sets it aside with the reason.
      const forged = signReceipt(
        { from: B, to: A, role: 'member', n: 1, digest: sha256(box), verdict: 'accepted', code: '', reason: '', hour: Math.floor(Date.now() / HOUR_MS) },
        key,
      );
      await postToDropBox(linkOf(fb, B, A)!.theirInbox, encodeLinkPost({ t: 'receipt', r: forged }), { acn: nodes.acn });
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.refused.some((r) => r.kind === 'receipt'), 'A to refuse the forged receipt');
      expect((await linksOf(fa, A))[0]!.refused.find((r) => r.kind === 'receipt')).toMatchObject({ code: 'INVALID_RECEIPT' });
      // B's real receipt for the broken box says refused; the forged "accepted" changed nothing.
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.unlogged.some((u) => u.digest === toHex(sha256(box))), 'B’s real receipt');
      expect((await linksOf(fa, A))[0]!.unlogged.find((u) => u.digest === toHex(sha256(box)))!.verdict).toBe('refused');
    },
  );

  it('garbage posted into an inbox never crashes the node nor enters the log (fuzz)', { timeout: 180_000 }, async () => {
    const inbox = linkOf(fa, A, B)!.theirInbox;
    const size = events(fb, B);
    const payloads = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 600 }), 20);
    for (const p of payloads) await postToDropBox(inbox, p, { acn: nodes.acn });
    await untilAsync(
      [fb.links],
      async () => (await linksOf(fb, B))[0]!.refused.filter((r) => r.kind === 'malformed').length >= 22,
      'every garbage post to be counted',
    );
    expect(events(fb, B)).toBe(size);
    expect((await call(fb, 'GET', at(B, '/links'))).status).toBe(200);
  });

  it(
    'an outbox entry whose send never reached the log (the node stopped between the two writes) is dropped at the next start, never posted',
    { timeout: 180_000 },
    async () => {
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.waiting === 0, 'A’s outbox to empty');
      await stop(fa);
      const opened = await openNodeStore(nodes.options('fa'));
      // An inbox no post can reach: had the entry been tried, it would stay, with its error.
      await new LinkStore(opened.store).update((doc) => {
        doc.outbox.push({
          kind: 'task',
          id: 'ab'.repeat(32),
          pursuanceId: A,
          peer: B,
          inbox: 'nowhere',
          post: 'AQID',
          createdAt: Date.now(),
          tries: 0,
          lastError: null,
        });
      });
      await opened.close();
      fa = await start('fa');
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.waiting === 0, 'the orphan to be dropped');
      expect(fa.registry.get(A).log.event('ab'.repeat(32) as EventId)).toBeUndefined();
    },
  );

  it(
    'a second key for A’s anchor, signed by A’s own key, freezes B’s link; B shows A the pair, and A sees its key signs for someone else (L7)',
    { timeout: 180_000 },
    async () => {
      const standing = linkOf(fb, B, A)!.keys.get('organizer')!;
      const aState = fa.registry.get(A).log.state();
      // Whoever holds the key that signed B's standing anchor key (a removed organizer, say) signs another.
      const signerEpoch = aState.roles
        .get('organizer')!
        .epochs.filter((ep) => ep.pub !== undefined)
        .find((ep) => toHex(ep.pub!.sig) === toHex(standing.signer))!;
      const signer = fa.registry.get(A).author.keyring.get(signerEpoch.keyIdHex)!;
      const genuine = fa.registry
        .get(A)
        .author.linkAnnouncements(B as EventId, 7)
        .find((x) => x.role === 'organizer' && x.n === standing.n)!;
      const planted = newRoleKey('organizer');
      const { signature: _sig, ...unsigned } = genuine;
      const { sig, box } = rolePub(planted, null);
      const forged = signAnnouncement({ ...unsigned, keyId: planted.keyId, pub: { sig, box } }, signer);
      await postToDropBox(linkOf(fa, A, B)!.theirInbox, encodeLinkPost({ t: 'keys', a: [genuine, forged] }), { acn: nodes.acn });
      await untilChange([fb], () => linkOf(fb, B, A)?.frozen !== null && linkOf(fb, B, A)?.frozen !== undefined, 'B to freeze the link');
      // B's node tells A: A checks the pair against its own keys and raises the alarm.
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.fork !== null, 'the report to reach A');
      const signerN =
        aState.roles
          .get('organizer')!
          .epochs.filter((ep) => ep.pub !== undefined)
          .indexOf(signerEpoch) + 1;
      expect((await linksOf(fa, A))[0]!.fork).toEqual({
        role: 'organizer',
        n: standing.n,
        signers: [signerN],
        ours: true,
        at: expect.any(Number),
        // The forged successor is key 2, signed by key 1, which A re-keyed away from already (the
        // rotation test above): the alarm says only a new offer is left to make.
        resolved: true,
      });
      expect([standing.n, signerN]).toEqual([2, 1]);
      // A report anyone could forge (a stranger's signature) is refused with its reason, and the alarm stands as it was.
      const strangers = signAnnouncement({ ...unsigned, keyId: planted.keyId, pub: { sig, box } }, newRoleKey('organizer'));
      await postToDropBox(linkOf(fb, B, A)!.theirInbox, encodeLinkPost({ t: 'fork', f: [genuine, strangers] }), { acn: nodes.acn });
      await untilAsync([fa.links], async () => (await linksOf(fa, A))[0]!.refused.some((r) => r.kind === 'fork'), 'A to refuse the forged report');
      expect((await linksOf(fa, A))[0]!.refused.find((r) => r.kind === 'fork')).toMatchObject({ code: 'INVALID_FORK' });
      expect((await linksOf(fa, A))[0]!.fork).toMatchObject({ signers: [signerN], resolved: true });
    },
  );

  it('closing the link: refused for a member without the right, then closed; a stranger’s close of an unknown link is 404', { timeout: 180_000 }, async () => {
    refusal(await call(mb, 'DELETE', at(B, `/links/${A}`)), 422, 'DENIED');
    refusal(await call(fb, 'DELETE', at(B, `/links/${'f'.repeat(64)}`)), 404, 'UNKNOWN_LINK');
    expect(await ok(fb, 'DELETE', at(B, `/links/${A}`))).toEqual({ closed: true });
    expect(await linksOf(fb, B)).toEqual([]);
    refusal(await call(fb, 'DELETE', at(B, `/links/${A}`)), 404, 'UNKNOWN_LINK');
  });

  it('a receipt that comes through one link from another linked pursuance, however well signed, is refused there', { timeout: 180_000 }, async () => {
    // A third pursuance, C, that A links too: A pins C's anchor from C's offer.
    const C = (
      await ok<{ id: string }>(fb, 'POST', '/api/pursuances', { name: 'Third Desk', template: 'activist-cell', relay: nodes.relays[1]!.relay.exportedBundle })
    ).id;
    const offerC = await ok<LinkOfferModel>(fb, 'POST', at(C, '/links/offers'), { to: A, anchor: 'organizer' });
    await ok(fa, 'POST', at(A, '/links/offers'), { to: C, anchor: 'organizer' });
    await ok(fa, 'POST', at(A, '/links'), { offer: offerC.text });
    const cOrganizer = fb.registry.get(C).log.state().roles.get('organizer')!.epochs.at(-1)!;
    const cKey = fb.registry.get(C).author.keyring.get(cOrganizer.keyIdHex)!;
    const receipt = signReceipt(
      {
        from: C,
        to: A,
        role: 'organizer',
        n: 1,
        digest: sha256(new Uint8Array([1])),
        verdict: 'accepted',
        code: '',
        reason: '',
        hour: Math.floor(Date.now() / HOUR_MS),
      },
      cKey,
    );
    // Posted into A's inbox for B: signed by C's standing key as A holds it, but not for this link.
    await postToDropBox(linkOf(fa, A, B)!.ourInbox, encodeLinkPost({ t: 'receipt', r: receipt }), { acn: nodes.acn });
    const linkTo = async (peer: string) => (await linksOf(fa, A)).find((l) => l.peer === peer)!;
    await untilAsync(
      [fa.links],
      async () => (await linkTo(B)).refused.some((r) => r.reason === 'a receipt from another link'),
      'A to refuse C’s receipt on B’s link',
    );
    expect((await linkTo(B)).refused.find((r) => r.reason === 'a receipt from another link')).toMatchObject({ kind: 'receipt', code: 'INVALID_RECEIPT' });
    expect((await linkTo(C)).unlogged).toEqual([]);
    expect((await linkTo(B)).unlogged.some((u) => u.digest === toHex(receipt.digest))).toBe(false);
  });
});

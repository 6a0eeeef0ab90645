// @vitest-environment happy-dom
/**
 * Links between pursuances in the dashboard. The list: each link's mapping in words, their keys
 * (an expired one marked), a frozen link's alarm, the alarm when they froze it over keys our own
 * anchor signed twice (with the next step, before and after our anchor is rotated), what waits to
 * be posted, what of theirs was refused with the node's reasons, and closing after a confirmation. Making an offer: a role held
 * with its key, the offer's text to copy and its key id to read out. Opening: the pasted offer
 * (even inside a message) is read by the node and previewed with its key id to compare; the
 * mapping is said in words before Open, and Open sends exactly it; the node's refusals of the
 * text (INVALID_LINK_OFFER) and of opening before our own offer (NO_LINK_OFFER) are shown with a
 * way forward. Sending a task: the pairs this node can send with, the body as typed, and what
 * the node answered (sent, or waiting and retried). Refetched on the pursuance's live notices.
 */
import axe from 'axe-core';
import { flushPromises } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDashboardI18n } from '../src/i18n/index.js';
import { ApiError } from '../src/lib/api.js';
import {
  createLinks,
  grantProblems,
  groupKeyId,
  isApplicantAddress,
  isPursuanceId,
  mappingOf,
  mappingWords,
  offerIn,
  openNotes,
  sendPairs,
  sendProblems,
} from '../src/lib/links.js';
import type { ChangedEvent, LinkModel, LinkOfferModel, LinkOfferPreview, SyncHealthEvent, VouchIssued } from '../src/lib/types.js';
import LinksView from '../src/views/LinksView.vue';
import { FOUNDER, FakeEventSource, PID, cellRules, roleModel, roles, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => {
  unmountAll();
  localStorage.clear();
  document.documentElement.lang = '';
});

const P = `/api/pursuances/${PID}`;
const PEER = 'ab12'.repeat(16);
const OTHER = '3'.repeat(64);
const KEY = '0123456789abcdef'.repeat(2);
const OFFER = `pursuance-link:1:${'QUJD'.repeat(40)}`;
const APPLICANT = 'k'.repeat(56);
const VOUCH = `pursuance-vouch:1:${'V09V'.repeat(30)}`;
const en = createDashboardI18n('en').global.t;

function link(over: Partial<LinkModel> = {}): LinkModel {
  return {
    peer: PEER,
    name: 'Harbour Desk',
    theirAnchor: 'organizer',
    ourAnchor: 'organizer',
    theyMay: [{ theirRole: 'editor', action: 'create', on: 'member' }],
    weSend: [{ ours: 'organizer', theirs: 'desk' }],
    keys: [
      { role: 'desk', n: 1, keyId: 'd'.repeat(32), validUntil: Date.UTC(2031, 0, 8), expired: false },
      { role: 'organizer', n: 1, keyId: KEY, validUntil: Date.UTC(2031, 0, 8), expired: false },
    ],
    frozen: null,
    fork: null,
    reading: true,
    announcing: true,
    announcedAt: Date.UTC(2031, 0, 1),
    waiting: 0,
    refused: [],
    vouchRoles: [],
    sent: [],
    unlogged: [],
    ...over,
  };
}

function offerModel(over: Partial<LinkOfferModel> = {}): LinkOfferModel {
  return { to: PEER, anchor: 'organizer', text: OFFER, keyId: KEY, validUntil: Date.now() + 86_400_000, createdAt: Date.now(), linked: false, ...over };
}

function preview(over: Partial<LinkOfferPreview> = {}): LinkOfferPreview {
  return { peer: PEER, name: 'Harbour Desk', anchor: 'editor', keyId: KEY, validUntil: Date.UTC(2031, 0, 8), ourOffer: true, linked: false, ...over };
}

/** The founder (may change the rules, holds both roles and their keys) with these links and offers. */
/** The node calls the links store makes, each a spy: a test gives those it answers, the rest answer nothing. */
function storeApi<T extends object>(answers: T) {
  return {
    links: vi.fn(),
    linkOffers: vi.fn(),
    makeLinkOffer: vi.fn(),
    openLink: vi.fn(),
    closeLink: vi.fn(),
    sendLinkTask: vi.fn(),
    vouch: vi.fn(),
    ...answers,
  };
}

async function linked(state: { links: LinkModel[]; offers: LinkOfferModel[] }, extra: Record<string, (c: Call) => unknown> = {}) {
  const app = await setupApp('founder', {
    [`GET ${P}/links`]: () => state.links,
    [`GET ${P}/links/offers`]: () => state.offers,
    ...extra,
  });
  const w = mountWith(LinksView, app.ctx, { store: app.store });
  await flushPromises();
  return { ...app, w };
}

const reads = (calls: readonly Call[]) => calls.filter((c) => c.method === 'GET' && c.path === `${P}/links`).length;

/** Paste into the offer box and wait for the node's reading of it (the box waits for the text to settle). */
async function paste(w: Awaited<ReturnType<typeof linked>>['w'], text: string, until: string) {
  await w.find('#link-offer-text').setValue(text);
  await vi.waitFor(() => expect(w.find(until).exists()).toBe(true), { timeout: 5_000, interval: 20 });
}

describe('offers, the mapping and sending pairs, in plain terms', () => {
  it('finds the offer in a pasted message, and groups a key id to read aloud', () => {
    expect(offerIn(`Here is ours:\n${OFFER}\nCall us.`)).toBe(OFFER);
    expect(offerIn(`  ${OFFER}  `)).toBe(OFFER);
    expect(offerIn('pursuance-profile:1:AAAA')).toBeNull();
    expect(groupKeyId('0123456789')).toBe('0123 4567 89');
    expect(groupKeyId(KEY).split(' ')).toHaveLength(KEY.length / 4);
    expect(isPursuanceId(PEER)).toBe(true);
    expect(isPursuanceId(PEER.toUpperCase())).toBe(false);
  });

  it('says the mapping in words: their role ids as theirs, our roles by their titles, and an empty side as such', () => {
    const rules = cellRules();
    const m = {
      theyMay: [
        { theirRole: 'editor', action: 'create' as const, on: 'member' },
        { theirRole: 'desk', action: 'create' as const, on: 'organizer' },
      ],
      weSend: [{ ours: 'organizer', theirs: 'researcher' }],
    };
    expect(mappingWords(m, rules, en)).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Their “desk” may create tasks for our Organizer.',
      'Our Organizer may send tasks to their “researcher”.',
    ]);
    expect(mappingWords({ theyMay: [], weSend: [] }, rules, en)).toEqual(['They may not create anything here.', 'We send them nothing.']);
    const es = createDashboardI18n('es').global.t;
    expect(mappingWords(m, rules, es)[0]).toBe('Su rol «editor» puede crear tareas para nuestro rol Member.');
  });

  it('notes what opening cannot do yet: a role of ours without a published key, a sending role nobody holds, and a mapping replaced', () => {
    const rules = cellRules();
    const rs = [roleModel('member', 'Member', { publicKey: false }), roleModel('organizer', 'Organizer', { holders: [] })];
    const m = { theyMay: [{ theirRole: 'editor', action: 'create' as const, on: 'member' }], weSend: [{ ours: 'organizer', theirs: 'desk' }] };
    expect(openNotes(m, true, rs, rules, en)).toEqual([
      'Our Member has no published key yet: their tasks for it cannot be sealed until its keys are rotated (under Keys).',
      'Nobody holds our Organizer: nobody here can send for it yet.',
      'A link to them is open already: this mapping replaces its present one.',
    ]);
    expect(
      openNotes(
        m,
        false,
        roles().map((r) => ({ ...r, holders: [FOUNDER] })),
        rules,
        en,
      ),
    ).toEqual([]);
  });

  it('checks the editor’s rows: their role ids, empty fields, and a row twice', () => {
    expect(
      grantProblems([
        { theirRole: 'editor', action: 'create', on: 'member' },
        { theirRole: 'Editor!', action: 'create', on: 'member' },
        { theirRole: '', action: 'create', on: 'member' },
        { theirRole: ' editor ', action: 'create', on: 'member' },
      ]),
    ).toEqual([null, 'roleInvalid', 'incomplete', 'duplicate']);
    expect(
      sendProblems([
        { ours: '', theirs: 'desk' },
        { ours: 'member', theirs: 'desk' },
      ]),
    ).toEqual(['incomplete', null]);
    expect(mappingOf([{ theirRole: ' editor ', action: 'create', on: 'member' }], [{ ours: 'organizer', theirs: ' desk' }])).toEqual({
      theyMay: [{ theirRole: 'editor', action: 'create', on: 'member' }],
      weSend: [{ ours: 'organizer', theirs: 'desk' }],
    });
  });

  it('tells a grant to vouch from one to create tasks on the same roles, carries each row’s action to the node, and says it in words', () => {
    expect(
      grantProblems([
        { theirRole: 'editor', action: 'create', on: 'member' },
        { theirRole: 'editor', action: 'vouch', on: 'member' },
        { theirRole: ' editor', action: 'vouch', on: 'member' },
      ]),
    ).toEqual([null, null, 'duplicate']);
    const rows = [
      { theirRole: 'editor', action: 'create' as const, on: 'member' },
      { theirRole: ' desk ', action: 'vouch' as const, on: 'organizer' },
    ];
    const m = mappingOf(rows, []);
    expect(m.theyMay).toEqual([
      { theirRole: 'editor', action: 'create', on: 'member' },
      { theirRole: 'desk', action: 'vouch', on: 'organizer' },
    ]);
    expect(mappingWords(m, cellRules(), en).slice(0, 2)).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Their “desk” may vouch for applicants reviewed by our Organizer.',
    ]);
    expect(mappingWords(m, cellRules(), createDashboardI18n('es').global.t)[1]).toBe(
      'Su rol «desk» puede avalar a solicitantes que revisa nuestro rol Organizer.',
    );
    // A vouch is sealed to the applicant: a vouching grant on a role without a published key is no problem.
    expect(openNotes(m, false, [roleModel('member', 'Member'), roleModel('organizer', 'Organizer', { publicKey: false })], cellRules(), en)).toEqual([]);
  });

  it('takes an applicant’s address as a v3 onion name, with or without “.onion”', () => {
    expect(isApplicantAddress(APPLICANT)).toBe(true);
    expect(isApplicantAddress(` ${APPLICANT.toUpperCase()}.onion `)).toBe(true);
    expect(isApplicantAddress(APPLICANT.slice(1))).toBe(false);
    expect(isApplicantAddress(`${APPLICANT.slice(1)}1`)).toBe(false);
    expect(isApplicantAddress(`${APPLICANT}.com`)).toBe(false);
  });

  it('offers a sending pair only with our current key held and a live key of theirs announced', () => {
    const l = link({
      weSend: [
        { ours: 'organizer', theirs: 'desk' },
        { ours: 'member', theirs: 'desk' },
        { ours: 'organizer', theirs: 'legal' },
        { ours: 'organizer', theirs: 'old' },
      ],
      keys: [
        { role: 'desk', n: 1, keyId: KEY, validUntil: 1, expired: false },
        { role: 'old', n: 2, keyId: KEY, validUntil: 1, expired: true },
      ],
    });
    const rs = [roleModel('organizer', 'Organizer'), roleModel('member', 'Member', { iHoldKey: false })];
    expect(sendPairs(l, rs).map((p) => p.problem)).toEqual([
      null,
      { key: 'notOurs', role: 'member' },
      { key: 'notTheirs', role: 'legal' },
      { key: 'expired', role: 'old' },
    ]);
  });
});

describe('the links store', () => {
  it('reads links and offers together, refetches on this pursuance’s `changed` and `sync` only, and hides itself on a node without the routes', async () => {
    const changed = new Set<(e: ChangedEvent) => void>();
    const sync = new Set<(e: SyncHealthEvent) => void>();
    const live = {
      onChanged: (l: (e: ChangedEvent) => void) => (changed.add(l), () => changed.delete(l)),
      onSync: (l: (e: SyncHealthEvent) => void) => (sync.add(l), () => sync.delete(l)),
    };
    const api = storeApi({
      links: vi.fn(() => Promise.resolve([link()])),
      linkOffers: vi.fn(() => Promise.resolve([offerModel()])),
    });
    const s = createLinks({ api, live }, PID);
    await s.load();
    expect(s.links.value.map((l) => l.name)).toEqual(['Harbour Desk']);
    expect(s.offers.value).toHaveLength(1);
    changed.forEach((l) => l({ pursuanceId: OTHER, events: ['e'], origin: 'sync' }));
    await flushPromises();
    expect(api.links).toHaveBeenCalledTimes(1);
    changed.forEach((l) => l({ pursuanceId: PID, events: ['e'], origin: 'sync' }));
    sync.forEach((l) => l({ pursuanceId: PID }));
    await flushPromises();
    // Two notices during one read ask for one more read, no more.
    expect(api.links).toHaveBeenCalledTimes(3);
    s.stop();
    expect(changed.size + sync.size).toBe(0);

    const old = createLinks({ api: { ...api, links: () => Promise.reject(new ApiError(404, 'NOT_FOUND', 'Cannot GET')) }, live }, PID);
    await old.load();
    expect(old.supported.value).toBe(false);
    expect(old.loadError.value).toBeNull();
  });
});

describe('the links store, making an offer', () => {
  it('shows a new offer once when a read started by a live notice brought it in before the answer to the offer', async () => {
    const changed = new Set<(e: ChangedEvent) => void>();
    const live = { onChanged: (l: (e: ChangedEvent) => void) => (changed.add(l), () => changed.delete(l)), onSync: () => () => undefined };
    const made = offerModel({ to: OTHER, text: `pursuance-link:1:${'TkVX'.repeat(40)}` });
    const older = offerModel();
    let stored: LinkOfferModel[] = [older];
    let answer: (o: LinkOfferModel) => void = () => undefined;
    const api = storeApi({
      links: vi.fn(() => Promise.resolve([])),
      linkOffers: vi.fn(() => Promise.resolve(stored)),
      // The node stores the offer (and tells the dashboard it changed) before its answer arrives.
      makeLinkOffer: vi.fn(() => {
        stored = [made, older];
        changed.forEach((l) => l({ pursuanceId: PID, events: [], origin: 'local' }));
        return new Promise<LinkOfferModel>((resolve) => (answer = resolve));
      }),
    });
    const s = createLinks({ api, live }, PID);
    await s.load();
    const offering = s.offer({ to: OTHER, anchor: 'organizer' });
    await flushPromises();
    expect(s.offers.value.map((o) => o.to)).toEqual([OTHER, PEER]);
    // The read after the answer is slow: until it comes, the list is what the store made of it.
    let reread: () => void = () => undefined;
    api.linkOffers.mockImplementationOnce(() => new Promise((resolve) => (reread = () => resolve(stored))));
    answer(made);
    await flushPromises();
    expect(s.offers.value.map((o) => o.to)).toEqual([OTHER, PEER]);
    reread();
    await offering;
    expect(s.offers.value.map((o) => o.to)).toEqual([OTHER, PEER]);
    s.stop();
  });
});

describe('the list of links', () => {
  it('shows each link’s mapping in words, their keys (an expired one marked), what waits, and what was refused with the node’s reasons', async () => {
    const refused = [
      { pursuanceId: PID, peer: PEER, kind: 'task' as const, code: 'STALE_EPOCH', reason: 'signed by key 1 of their "organizer"; key 2 is current', at: 3 },
      { pursuanceId: PID, peer: PEER, kind: 'fork' as const, code: 'INVALID_FORK', reason: 'not signed by our anchor', at: 2 },
      { pursuanceId: PID, peer: PEER, kind: 'malformed' as const, code: 'INVALID_ENCODING', reason: 'not a link post', at: 2 },
    ];
    const expired = { role: 'desk', n: 1, keyId: 'd'.repeat(32), validUntil: 5, expired: true };
    const { w } = await linked({ links: [link({ keys: [expired, ...link().keys.slice(1)], waiting: 2, refused })], offers: [] });
    const card = w.find(`[data-testid="link-${PEER}"]`);
    expect(card.find('h4').text()).toBe('Harbour Desk');
    expect(card.findAll('[data-testid="link-mapping"] li').map((li) => li.text())).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Our Organizer may send tasks to their “desk”.',
    ]);
    expect(card.find('[data-testid="link-anchors"]').text()).toBe('Anchored on our Organizer and their “organizer”.');
    const rows = card.findAll('[data-testid="link-keys"] tbody tr');
    expect(rows.map((r) => [r.attributes('data-role'), r.attributes('data-expired') ?? null])).toEqual([
      ['desk', 'true'],
      ['organizer', null],
    ]);
    expect(rows[0]!.text()).toContain('expired');
    expect(rows[1]!.text()).toContain('valid');
    expect(card.find('[data-testid="link-waiting"]').text()).toBe('2 tasks wait to be sent: their relay could not be reached. Your node keeps retrying.');
    const items = card.findAll('[data-testid="link-refused"] li');
    expect(items.map((li) => li.attributes('data-kind'))).toEqual(['task', 'fork', 'malformed']);
    expect(items[0]!.text()).toMatch(/^A task, .+: signed by key 1 of their "organizer"; key 2 is current STALE_EPOCH$/);
    // The node's reasons are English, and marked so for screen readers.
    expect(items[0]!.find('[data-testid="refusal-reason"]').attributes('lang')).toBe('en');
    expect(items[1]!.text()).toMatch(/^Their report of two keys signed for one of ours, .+: not signed by our anchor INVALID_FORK$/);
    expect(items[2]!.text()).toContain('Something unreadable');
    expect(card.find('[data-testid="link-frozen"]').exists()).toBe(false);
    expect(card.find('[data-testid="link-fork"]').exists()).toBe(false);
    expect(card.find('[data-testid="link-node"]').text()).toContain('Your node reads what they send over this link.');
  });

  it('raises the alarm on a frozen link, in words that say what to do', async () => {
    const { w } = await linked({ links: [link({ frozen: { role: 'desk', n: 3 } })], offers: [] });
    const alarm = w.find('[data-testid="link-frozen"]');
    expect(alarm.attributes('role')).toBe('alert');
    expect(alarm.text()).toContain('This link is frozen.');
    expect(alarm.text()).toContain('Their anchor signed two different keys for their “desk” (key 3)');
    expect(alarm.text()).toContain('open the link again from a new offer');
  });

  it('raises the alarm when they froze the link over two keys our anchor signed, and says to rotate the anchor, then make a new offer', async () => {
    const fork = { role: 'member', n: 2, signers: [1], ours: true, at: Date.UTC(2031, 0, 3), resolved: false };
    const { w } = await linked({ links: [link({ fork })], offers: [] });
    const alarm = w.find('[data-testid="link-fork"]');
    expect(alarm.attributes('role')).toBe('alert');
    expect(w.find(`#${alarm.attributes('aria-labelledby')!}`).text()).toBe('“Harbour Desk” froze this link.');
    expect(alarm.find('[data-testid="link-fork-what"]').text()).toBe(
      'They received two different keys for our Member (key 2), both signed with key 1 of our Organizer. Someone who holds that key — or held it, like a member who was removed — is signing for this pursuance.',
    );
    expect(alarm.text()).not.toContain('Neither key');
    expect(alarm.find('[data-testid="link-fork-next"]').text()).toMatch(
      /^Rotate the keys of our Organizer \(under Keys\) so that key signs nothing more, then make a new offer \(under “Make an offer”\) and send it to them: they open the link again\.\s+Go to the keys$/,
    );
    expect(alarm.find('[data-testid="link-fork-keys"]').attributes('href')).toBe(`/p/${PID}/keys`);
    expect(alarm.find('[data-testid="link-fork-at"]').text()).toMatch(/^Their report reached us .*2031.*\.$/);
  });

  it('says when neither key is ours, names every signer, and once the anchor is rotated leaves only the new offer', async () => {
    const fork = { role: 'organizer', n: 4, signers: [1, 2], ours: false, at: Date.UTC(2031, 0, 3), resolved: true };
    const { w } = await linked({ links: [link({ fork })], offers: [] });
    const alarm = w.find('[data-testid="link-fork"]');
    expect(alarm.find('[data-testid="link-fork-what"]').text()).toBe(
      'They received two different keys for our Organizer (key 4), both signed with keys 1 and 2 of our Organizer. Someone who holds one of those keys — or held it, like a member who was removed — is signing for this pursuance. Neither key is the one our pursuance holds.',
    );
    expect(alarm.find('[data-testid="link-fork-next"]').text()).toBe(
      'The keys of our Organizer have been rotated since. Make a new offer (under “Make an offer”) and send it to them: they open the link again.',
    );
    expect(alarm.find('[data-testid="link-fork-keys"]').exists()).toBe(false);
  });

  it('lists our recent sends with what their receipts said (the reason of a refusal beside it), and raises the alarm on receipts for sends our log never recorded', async () => {
    const at = Date.UTC(2031, 0, 2);
    const sent = [
      {
        id: 'e'.repeat(64),
        ours: 'organizer',
        theirs: 'desk',
        by: 'x'.repeat(56),
        at,
        status: 'refused' as const,
        code: 'DENIED',
        reason: 'the link does not let their "organizer" create tasks for our "desk"',
      },
      { id: 'f'.repeat(64), ours: 'organizer', theirs: 'desk', by: 'x'.repeat(56), at, status: 'accepted' as const, code: null, reason: null },
      { id: '1'.repeat(64), ours: 'organizer', theirs: 'desk', by: 'x'.repeat(56), at, status: 'waiting' as const, code: null, reason: null },
    ];
    const { w } = await linked({ links: [link({ sent, unlogged: [{ digest: '2'.repeat(64), verdict: 'refused', at }] })], offers: [] });
    const items = w.findAll('[data-testid="link-sends"] li');
    expect(items.map((i) => i.attributes('data-status'))).toEqual(['refused', 'accepted', 'waiting']);
    expect(items[0]!.text()).toContain('Our Organizer → their “desk”');
    expect(items[0]!.find('[data-testid="sent-status"]').text()).toBe('refused');
    expect(items[0]!.find('[data-testid="sent-reason"]').text()).toContain('does not let their "organizer" create tasks');
    expect(items[1]!.find('[data-testid="sent-status"]').text()).toBe('taken in');
    expect(items[1]!.find('[data-testid="sent-reason"]').exists()).toBe(false);
    expect(items[2]!.find('[data-testid="sent-status"]').text()).toBe('waiting to be sent');
    const alarm = w.find('[data-testid="link-unlogged"]');
    expect(alarm.attributes('role')).toBe('alert');
    expect(alarm.text()).toContain('They sent receipts for 1 task that our log never recorded sending');
    // Nothing sent, no alarm: neither section shows.
    w.unmount();
    const quiet = await linked({ links: [link()], offers: [] });
    expect(quiet.w.find('[data-testid="link-sends"]').exists()).toBe(false);
    expect(quiet.w.find('[data-testid="link-unlogged"]').exists()).toBe(false);
  });

  it('closes a link after saying what closing does, and reads the list again', async () => {
    const state = { links: [link()], offers: [] as LinkOfferModel[] };
    const { w, f, ctx } = await linked(state, {
      [`DELETE ${P}/links/${PEER}`]: () => {
        state.links = [];
        return { closed: true };
      },
    });
    const before = reads(f.calls);
    await w.find('[data-testid="close-link"]').trigger('click');
    const dialog = w.find('[data-testid="confirm-close-link"]');
    expect(dialog.find('h3').text()).toBe('Close the link to “Harbour Desk”?');
    expect(dialog.text()).toContain('Nothing more this link carries is taken in');
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([`${P}/links/${PEER}`]);
    expect(reads(f.calls)).toBeGreaterThan(before);
    expect(w.find(`[data-testid="link-${PEER}"]`).exists()).toBe(false);
    expect(w.find('[data-testid="no-links"]').text()).toBe('No links yet.');
    expect(ctx.announcer.assertive.value).toContain('The link to “Harbour Desk” is closed.');
  });

  it('reads the list again on this pursuance’s live notices', async () => {
    const state = { links: [] as LinkModel[], offers: [] as LinkOfferModel[] };
    const { w, f } = await linked(state);
    const before = reads(f.calls);
    FakeEventSource.last!.emit('sync', { pursuanceId: OTHER });
    await flushPromises();
    expect(reads(f.calls)).toBe(before);
    state.links = [link({ waiting: 1 })];
    FakeEventSource.last!.emit('sync', { pursuanceId: PID });
    await flushPromises();
    expect(reads(f.calls)).toBe(before + 1);
    expect(w.find('[data-testid="link-waiting"]').text()).toContain('1 task waits to be sent');
  });

  it('offers neither opening nor closing to a member without the right to change the rules', async () => {
    const app = await setupApp('member', { [`GET ${P}/links`]: () => [link()], [`GET ${P}/links/offers`]: () => [] });
    app.state.roles = roles().map((r) => (r.id === 'organizer' ? { ...r, iHoldKey: false } : r));
    await app.store.refresh();
    const w = mountWith(LinksView, app.ctx, { store: app.store });
    await flushPromises();
    expect(app.store.caps.value.plain('change').ok).toBe(false);
    expect(w.find('[data-testid="close-link"]').exists()).toBe(false);
    expect(w.find('[data-testid="open-form"]').exists()).toBe(false);
    expect(w.find('[data-testid="open-cannot"]').text()).toBe(en('links.open.cannot'));
    // Sending is a matter of keys, not of the rules: the member's pair needs the organizer key.
    expect(w.find('[data-testid="send-pair-problem"]').text()).toContain('you do not hold the current key of Organizer');
  });
});

describe('making an offer', () => {
  it('checks the id, anchors on a role held with its key, sends the offer and shows its text to copy and its key id', async () => {
    const state = { links: [] as LinkModel[], offers: [] as LinkOfferModel[] };
    const { w, f, ctx } = await linked(state, {
      [`POST ${P}/links/offers`]: (c) => {
        const body = c.body as { to: string; anchor: string };
        state.offers = [offerModel({ to: body.to, anchor: body.anchor })];
        return { status: 201, body: state.offers[0] };
      },
    });
    const form = w.find('[data-testid="offer-form"]');
    expect(
      w
        .find('#offer-anchor')
        .findAll('option')
        .map((o) => (o.element as HTMLOptionElement).value),
    ).toEqual(['', 'organizer', 'member']);
    const submit = form.find('button[type="submit"]');
    await w.find('#offer-to').setValue('not an id');
    expect(w.find('#offer-to-problem').text()).toBe('A pursuance id is 64 characters, digits and a to f.');
    expect(w.find('#offer-to').attributes('aria-invalid')).toBe('true');
    await w.find('#offer-to').setValue(PID);
    expect(w.find('#offer-to-problem').text()).toBe('That is this pursuance’s own id.');
    await w.find('#offer-to').setValue(` ${PEER.toUpperCase()} `);
    expect(w.find('#offer-to-problem').exists()).toBe(false);
    expect(submit.attributes('disabled')).toBeDefined();
    await w.find('#offer-anchor').setValue('organizer');
    await w.find('#offer-days').setValue('9');
    expect(w.find('#offer-days-range').text()).toBe('A whole number from 1 to 7.');
    await w.find('#offer-days').setValue('3');
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `${P}/links/offers`)?.body).toEqual({ to: PEER, anchor: 'organizer', days: 3 });
    const shown = w.find(`[data-testid="offer"][data-to="${PEER}"]`);
    expect((shown.find('textarea').element as HTMLTextAreaElement).value).toBe(OFFER);
    expect(shown.find('button').text()).toBe('Copy');
    expect(shown.find('[data-testid="offer-key-id"] code').text()).toBe(groupKeyId(KEY));
    expect(ctx.announcer.assertive.value).toContain('Offer made.');
    expect((w.find('#offer-to').element as HTMLInputElement).value).toBe('');
  });

  it('says which roles must be rotated first when none held can anchor a link', async () => {
    const app = await setupApp('founder', { [`GET ${P}/links`]: () => [], [`GET ${P}/links/offers`]: () => [] });
    app.state.roles = app.state.roles.map((r) => (r.id === 'organizer' ? { ...r, rotationDue: true } : { ...r, iHoldKey: false }));
    await app.store.refresh();
    const w = mountWith(LinksView, app.ctx, { store: app.store });
    await flushPromises();
    expect(w.find('[data-testid="no-anchor"]').text()).toContain('Rotate the keys of Organizer, Member under Keys first.');
    expect(w.find('#offer-anchor').exists()).toBe(false);
  });
});

describe('opening a link', () => {
  it('previews the pasted offer with its key id to compare, says the mapping in words, and opens with exactly it', async () => {
    const state = { links: [] as LinkModel[], offers: [offerModel()] };
    const { w, f, ctx } = await linked(state, {
      [`POST ${P}/links/preview`]: () => preview(),
      [`POST ${P}/links`]: (c) => {
        const body = c.body as Pick<LinkModel, 'theyMay' | 'weSend' | 'name'>;
        state.links = [link({ ...body })];
        return { status: 201, body: state.links[0] };
      },
    });
    await paste(w, `Our offer, as agreed:\n${OFFER}\n`, '[data-testid="offer-preview"]');
    expect(f.calls.filter((c) => c.path === `${P}/links/preview`).map((c) => c.body)).toEqual([{ offer: OFFER }]);
    const shown = w.find('[data-testid="offer-preview"]');
    expect(shown.find('h4').text()).toBe('Offer from “Harbour Desk”');
    expect(shown.find('[data-testid="preview-key-id"]').text()).toBe(groupKeyId(KEY));
    expect(shown.find('[data-testid="compare-key"]').text()).toContain('Compare this key id with them');
    expect(shown.find('[data-testid="no-own-offer"]').exists()).toBe(false);
    expect(w.findAll('[data-testid="open-words"] li').map((li) => li.text())).toEqual(['They may not create anything here.', 'We send them nothing.']);

    await w.find('[data-testid="add-they-may"]').trigger('click');
    await w.find('#they-may-0-first').setValue('Editor');
    expect(w.find('#they-may-0-problem').text()).toBe(en('links.open.roleInvalid'));
    await w.find('#they-may-0-first').setValue('editor');
    await w.find('#they-may-0-on').setValue('member');
    await w.find('[data-testid="add-we-send"]').trigger('click');
    await w.find('#we-send-0-first').setValue('organizer');
    const open = w.find('[data-testid="open-form"] button[type="submit"]');
    // An incomplete row is not sent.
    expect(open.attributes('disabled')).toBeDefined();
    await w.find('#we-send-0-theirs').setValue('desk');
    expect(w.findAll('[data-testid="open-words"] li').map((li) => li.text())).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Our Organizer may send tasks to their “desk”.',
    ]);
    expect(open.attributes('disabled')).toBeUndefined();
    await w.find('#link-name').setValue(' The Desk ');
    await w.find('[data-testid="open-form"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `${P}/links`)?.body).toEqual({
      offer: OFFER,
      name: 'The Desk',
      theyMay: [{ theirRole: 'editor', action: 'create', on: 'member' }],
      weSend: [{ ours: 'organizer', theirs: 'desk' }],
    });
    expect(ctx.announcer.assertive.value).toContain('The link to “The Desk” is open.');
    expect(w.find(`[data-testid="link-${PEER}"] [data-testid="link-mapping"]`).text()).toContain('Their “editor” may create tasks for our Member.');
    expect((w.find('#link-offer-text').element as HTMLTextAreaElement).value).toBe('');
    expect(w.find('[data-testid="offer-preview"]').exists()).toBe(false);
  });

  it('lets each “they may” row create tasks (the default) or vouch for applicants, tells the two apart, and opens with the action chosen', async () => {
    const state = { links: [] as LinkModel[], offers: [offerModel()] };
    const { w, f } = await linked(state, {
      [`POST ${P}/links/preview`]: () => preview(),
      [`POST ${P}/links`]: (c) => {
        state.links = [link({ ...(c.body as Pick<LinkModel, 'theyMay' | 'weSend'>) })];
        return { status: 201, body: state.links[0] };
      },
    });
    await paste(w, OFFER, '[data-testid="offer-preview"]');
    await w.find('[data-testid="add-they-may"]').trigger('click');
    const action = w.find('#they-may-0-action');
    expect(w.find('label[for="they-may-0-action"]').text()).toBe('may');
    expect(action.findAll('option').map((o) => [(o.element as HTMLOptionElement).value, o.text()])).toEqual([
      ['create', 'create tasks for'],
      ['vouch', 'vouch for applicants reviewed by'],
    ]);
    expect((action.element as HTMLSelectElement).value).toBe('create');
    expect(w.find('[data-testid="they-may"]').attributes('aria-describedby')).toContain('they-may-vouch-hint');
    await w.find('#they-may-0-first').setValue('editor');
    await w.find('#they-may-0-on').setValue('member');
    await w.find('[data-testid="add-they-may"]').trigger('click');
    await w.find('#they-may-1-first').setValue('editor');
    await w.find('#they-may-1-on').setValue('member');
    // The same roles twice with the same action is one grant named twice…
    expect(w.find('#they-may-1-problem').text()).toBe(en('links.open.duplicate'));
    const open = w.find('[data-testid="open-form"] button[type="submit"]');
    expect(open.attributes('disabled')).toBeDefined();
    // …and with another action, a second grant.
    await w.find('#they-may-1-action').setValue('vouch');
    expect(w.find('#they-may-1-problem').exists()).toBe(false);
    expect(open.attributes('disabled')).toBeUndefined();
    expect(w.findAll('[data-testid="open-words"] li').map((li) => li.text())).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Their “editor” may vouch for applicants reviewed by our Member.',
      'We send them nothing.',
    ]);
    await w.find('[data-testid="open-form"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `${P}/links`)?.body).toEqual({
      offer: OFFER,
      theyMay: [
        { theirRole: 'editor', action: 'create', on: 'member' },
        { theirRole: 'editor', action: 'vouch', on: 'member' },
      ],
      weSend: [],
    });
    // The open link says which action each grant is.
    expect(w.findAll(`[data-testid="link-${PEER}"] [data-testid="link-mapping"] li`).map((li) => li.text())).toEqual([
      'Their “editor” may create tasks for our Member.',
      'Their “editor” may vouch for applicants reviewed by our Member.',
      'We send them nothing.',
    ]);
  });

  it('shows the node’s reason beside the box when the offer is not one this pursuance can take', async () => {
    const message = 'This is not a link offer this pursuance can take: the offer is addressed to another pursuance';
    const { w, f, ctx } = await linked(
      { links: [], offers: [] },
      { [`POST ${P}/links/preview`]: () => ({ status: 400, body: { code: 'INVALID_LINK_OFFER', message, field: 'offer' } }) },
    );
    await w.find('#link-offer-text').setValue('hello');
    expect(w.find('#link-offer-missing').text()).toBe(en('links.open.notOffer'));
    await paste(w, OFFER, '#link-offer-error');
    const notice = w.find('#link-offer-error');
    expect(notice.attributes('role')).toBe('alert');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe(message);
    expect(notice.find('[data-testid="error-code"]').text()).toBe('INVALID_LINK_OFFER');
    const box = w.find('#link-offer-text');
    expect(box.attributes('aria-invalid')).toBe('true');
    expect(box.attributes('aria-describedby')).toContain('link-offer-error');
    expect(w.find('[data-testid="offer-preview"]').exists()).toBe(false);
    expect(f.calls.some((c) => c.method === 'POST' && c.path === `${P}/links`)).toBe(false);
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('#link-offer-error [data-testid="error-reason"]').text()).toContain('Esta no es una oferta de enlace');
    expect(w.find('#link-offer-error [data-testid="error-original"]').text()).toContain(message);
  });

  it('before our own offer to them: says so, shows NO_LINK_OFFER with its reason, and fills the offer form with their id', async () => {
    const message = 'Make your own offer to that pursuance first (and send it to them): your link names the inbox in it.';
    const { w } = await linked(
      { links: [], offers: [] },
      {
        [`POST ${P}/links/preview`]: () => preview({ ourOffer: false }),
        [`POST ${P}/links`]: () => ({ status: 409, body: { code: 'NO_LINK_OFFER', message, field: 'offer' } }),
      },
    );
    await paste(w, OFFER, '[data-testid="offer-preview"]');
    expect(w.find('[data-testid="no-own-offer"]').text()).toContain('You have made no offer to them yet');
    await w.find('[data-testid="open-form"]').trigger('submit');
    await flushPromises();
    const notice = w.find(`#error-open`);
    expect(notice.find('[data-testid="error-code"]').text()).toBe('NO_LINK_OFFER');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe(message);
    expect(notice.text()).toContain('Could not open the link to “Harbour Desk”');
    expect(w.find('#link-offer-text').attributes('aria-describedby')).toContain('error-open');
    await w.find('[data-testid="open-make-offer"] button').trigger('click');
    await flushPromises();
    expect((w.find('#offer-to').element as HTMLInputElement).value).toBe(PEER);
    expect(document.activeElement?.id).toBe('offer-to');
  });
});

describe('sending a task over a link', () => {
  it('sends as typed for the pair picked, says “waiting, will retry” when their relay is unreachable, and “sent” when it has it', async () => {
    let posted = false;
    const l = link({
      weSend: [
        { ours: 'organizer', theirs: 'legal' },
        { ours: 'organizer', theirs: 'desk' },
      ],
    });
    const { w, f, ctx } = await linked(
      { links: [l], offers: [] },
      { [`POST ${P}/links/${PEER}/tasks`]: () => ({ status: 201, body: { id: 'e'.repeat(64), posted } }) },
    );
    const form = w.find('[data-testid="link-send"]');
    const radios = form.findAll('input[type="radio"]');
    // Their "legal" announced no key: not offered; the first pair that can send is chosen.
    expect(radios.map((r) => [(r.element as HTMLInputElement).checked, r.attributes('disabled') !== undefined])).toEqual([
      [false, true],
      [true, false],
    ]);
    expect(form.find('[data-testid="send-pair-problem"]').text()).toContain('their “legal” has announced no key yet');
    expect(form.find('.hint').text()).toBe('It is sealed to the key of their “desk”: only its holders there can read it.');
    expect(form.findAll('[data-testid="char-count"]').map((c) => c.text())).toEqual(['up to 300 characters', 'up to 20,000 characters']);
    await form.find(`#send-${PEER}-task-title`).setValue(' Check berth 7 ');
    await form.find(`#send-${PEER}-task-body`).setValue('The March manifests do not match.');
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `${P}/links/${PEER}/tasks`)?.body).toEqual({
      ours: 'organizer',
      theirs: 'desk',
      title: 'Check berth 7',
      body: 'The March manifests do not match.',
    });
    const status = w.find('[data-testid="link-sent"]');
    expect(status.attributes('role')).toBe('status');
    expect(status.attributes('data-posted')).toBe('false');
    expect(status.text()).toMatch(/^Waiting, will retry: their relay could not be reached/);
    expect(ctx.announcer.assertive.value).toContain('Waiting, will retry');
    expect((form.find(`#send-${PEER}-task-title`).element as HTMLInputElement).value).toBe('');

    posted = true;
    await form.find(`#send-${PEER}-task-title`).setValue('Second');
    await form.trigger('submit');
    await flushPromises();
    expect(w.find('[data-testid="link-sent"]').text()).toBe('Sent: their relay has it.');
  });

  it('shows the node’s refusal (no current key of ours) beside the form', async () => {
    const message = 'you hold no current key of "organizer" with public halves: only its holders send for it';
    const { w } = await linked(
      { links: [link()], offers: [] },
      { [`POST ${P}/links/${PEER}/tasks`]: () => ({ status: 409, body: { code: 'UNKNOWN_KEY', message } }) },
    );
    const form = w.find('[data-testid="link-send"]');
    await form.find(`#send-${PEER}-task-title`).setValue('Check berth 7');
    await form.trigger('submit');
    await flushPromises();
    const notice = form.find('[data-testid="error"]');
    expect(notice.find('[data-testid="error-code"]').text()).toBe('UNKNOWN_KEY');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe(message);
    expect(w.find('[data-testid="link-sent"]').text()).toBe('');
  });
});

describe('vouching for an applicant to a linked pursuance', () => {
  const issued = (over: Partial<VouchIssued> = {}): VouchIssued => ({
    text: VOUCH,
    role: 'member',
    applicant: APPLICANT,
    validUntil: Date.UTC(2031, 0, 4, 12),
    ...over,
  });

  it('is not offered on a link this node may vouch as none of our roles over', async () => {
    const { w } = await linked({ links: [link({ theyMay: [{ theirRole: 'editor', action: 'vouch', on: 'member' }] })], offers: [] });
    expect(w.find(`[data-testid="link-${PEER}"]`).exists()).toBe(true);
    expect(w.find('[data-testid="link-vouch"]').exists()).toBe(false);
  });

  it('vouches as the role chosen for the address typed, then shows the vouch to copy, until when it is good, and who may use it', async () => {
    const { w, f, ctx } = await linked(
      { links: [link({ vouchRoles: ['organizer', 'member'] })], offers: [] },
      { [`POST ${P}/links/${PEER}/vouches`]: (c) => ({ status: 201, body: issued({ role: (c.body as { role: string }).role }) }) },
    );
    const form = w.find('[data-testid="link-vouch"]');
    expect(form.find('h5').text()).toBe('Vouch for an applicant');
    const role = form.find(`#vouch-${PEER}-role`);
    expect(role.findAll('option').map((o) => [(o.element as HTMLOptionElement).value, o.text()])).toEqual([
      ['organizer', 'Organizer'],
      ['member', 'Member'],
    ]);
    expect((role.element as HTMLSelectElement).value).toBe('organizer');
    expect(w.find(`label[for="vouch-${PEER}-role"]`).text()).toBe('Vouch as our role');
    const address = form.find(`#vouch-${PEER}-applicant`);
    expect(w.find(`label[for="vouch-${PEER}-applicant"]`).text()).toBe('Their node address');
    expect(address.attributes('aria-describedby')).toBe(`vouch-${PEER}-applicant-hint`);
    const submit = form.find('button[type="submit"]');
    expect(submit.attributes('disabled')).toBeDefined();
    await address.setValue('not an address');
    expect(form.find(`#vouch-${PEER}-applicant-problem`).text()).toBe(en('links.vouch.applicantInvalid'));
    expect(address.attributes('aria-invalid')).toBe('true');
    expect(address.attributes('aria-describedby')).toContain(`vouch-${PEER}-applicant-problem`);
    expect(submit.attributes('disabled')).toBeDefined();
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.some((c) => c.path === `${P}/links/${PEER}/vouches`)).toBe(false);

    await role.setValue('member');
    await address.setValue(` ${APPLICANT.toUpperCase()}.onion `);
    expect(address.attributes('aria-invalid')).toBeUndefined();
    expect(submit.attributes('disabled')).toBeUndefined();
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.filter((c) => c.method === 'POST' && c.path === `${P}/links/${PEER}/vouches`).map((c) => c.body)).toEqual([
      { role: 'member', applicant: `${APPLICANT}.onion` },
    ]);
    const shown = w.find('[data-testid="vouch-issued"]');
    expect((shown.find('textarea').element as HTMLTextAreaElement).value).toBe(VOUCH);
    expect(shown.find('label').text()).toBe('Vouch text');
    expect(shown.find('button').text()).toBe('Copy');
    expect(shown.find('[data-testid="vouch-valid"]').text()).toMatch(/^Good until .*2031.*\.$/);
    expect(shown.find('[data-testid="vouch-use"]').text()).toBe(
      `Only the node at ${APPLICANT} can use it, and only once: they paste it with their join request, under Join, in “Vouch (optional)”.`,
    );
    expect(ctx.announcer.assertive.value).toContain('Vouch made.');
    expect((address.element as HTMLInputElement).value).toBe('');
  });

  it('shows the node’s refusal beside the form, and marks the address when the node names it', async () => {
    let answer: { status: number; body: unknown } = {
      status: 400,
      body: { code: 'INVALID_REQUEST', message: 'applicant: not a node address', field: 'applicant' },
    };
    const { w } = await linked({ links: [link({ vouchRoles: ['member'] })], offers: [] }, { [`POST ${P}/links/${PEER}/vouches`]: () => answer });
    const form = w.find('[data-testid="link-vouch"]');
    const address = form.find(`#vouch-${PEER}-applicant`);
    await address.setValue(APPLICANT);
    await form.trigger('submit');
    await flushPromises();
    const notice = form.find(`#error-vouch-${PEER}`);
    expect(notice.find('[data-testid="error-code"]').text()).toBe('INVALID_REQUEST');
    expect(notice.text()).toContain('Could not vouch for the applicant to “Harbour Desk”');
    expect(address.attributes('aria-invalid')).toBe('true');
    expect(address.attributes('aria-describedby')).toBe(`vouch-${PEER}-applicant-hint error-vouch-${PEER}`);
    expect(w.find('[data-testid="vouch-issued"]').exists()).toBe(false);

    const message = 'you hold no current key of "member" with public halves: only its holders vouch for it';
    answer = { status: 409, body: { code: 'UNKNOWN_KEY', message } };
    await form.trigger('submit');
    await flushPromises();
    expect(form.find('[data-testid="error-reason"]').text()).toBe(message);
    expect(form.find('[data-testid="error-code"]').text()).toBe('UNKNOWN_KEY');
    // A refusal that names no field leaves the address unmarked.
    expect(address.attributes('aria-invalid')).toBeUndefined();
    expect(w.find('[data-testid="vouch-issued"]').exists()).toBe(false);
  });
});

describe('in Spanish, and for assistive technology', () => {
  /** Serious and critical axe violations in the page (contrast needs a real browser). */
  async function violations(): Promise<string[]> {
    const result = await axe.run(document.body, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      rules: { 'color-contrast': { enabled: false } },
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
  }

  it('words the vouch form and the vouch made in Spanish, and passes axe in both languages', async () => {
    const { w, ctx } = await linked(
      { links: [link({ vouchRoles: ['member'], theyMay: [{ theirRole: 'editor', action: 'vouch', on: 'member' }] })], offers: [] },
      {
        [`POST ${P}/links/${PEER}/vouches`]: () => ({
          status: 201,
          body: { text: VOUCH, role: 'member', applicant: APPLICANT, validUntil: Date.UTC(2031, 0, 4) },
        }),
      },
    );
    const form = w.find('[data-testid="link-vouch"]');
    await form.find(`#vouch-${PEER}-applicant`).setValue(APPLICANT);
    await form.trigger('submit');
    await flushPromises();
    await form.find(`#vouch-${PEER}-applicant`).setValue('nope');
    for (const lang of ['en', 'es'] as const) {
      ctx.setLocale(lang);
      await flushPromises();
      expect(await violations(), lang).toEqual([]);
    }
    expect(form.find('h5').text()).toBe('Avalar a un solicitante');
    expect(w.find('[data-testid="link-mapping"] li').text()).toBe('Su rol «editor» puede avalar a solicitantes que revisa nuestro rol Member.');
    expect(form.find('[data-testid="vouch-use"]').text()).toContain(`Solo el nodo ${APPLICANT} puede usarlo, y una sola vez`);
    expect(form.find(`#vouch-${PEER}-applicant-problem`).text()).toBe(createDashboardI18n('es').global.t('links.vouch.applicantInvalid'));
    for (const english of ['Vouch', 'vouch', 'Good until', 'applicant']) expect(form.text(), english).not.toContain(english);
  });

  it('words the whole view in Spanish and passes axe in both languages, with a preview and the mapping editor open', async () => {
    const refused = [
      { pursuanceId: PID, peer: PEER, kind: 'keys' as const, code: 'BAD_SIGNATURE', reason: 'the announced key is unusable', at: 1 },
      { pursuanceId: PID, peer: PEER, kind: 'fork' as const, code: 'INVALID_FORK', reason: 'not signed by our anchor', at: 1 },
    ];
    const fork = { role: 'member', n: 2, signers: [1, 3], ours: false, at: Date.UTC(2031, 0, 3), resolved: false };
    const { w, ctx } = await linked(
      { links: [link({ frozen: { role: 'desk', n: 2 }, fork, waiting: 1, refused })], offers: [offerModel()] },
      { [`POST ${P}/links/preview`]: () => preview({ ourOffer: false, linked: true }) },
    );
    await paste(w, OFFER, '[data-testid="offer-preview"]');
    await w.find('[data-testid="add-they-may"]').trigger('click');
    await w.find('[data-testid="add-we-send"]').trigger('click');
    await w.find('[data-testid="close-link"]').trigger('click');
    for (const lang of ['en', 'es'] as const) {
      ctx.setLocale(lang);
      await flushPromises();
      expect(await violations(), lang).toEqual([]);
    }
    expect(w.find('#links-title').text()).toBe('Enlaces');
    expect(w.find('[data-testid="link-mapping"]').text()).toContain('Su rol «editor» puede crear tareas para nuestro rol Member.');
    expect(w.find('[data-testid="open-note"]').text()).toBe('Ya hay un enlace abierto con ellos: esta correspondencia sustituye a la actual.');
    const alarm = w.find('[data-testid="link-fork"]');
    expect(alarm.find('[data-testid="link-fork-what"]').text()).toBe(
      'Recibieron dos claves distintas para nuestro rol Member (clave 2), ambas firmadas con las claves 1 y 3 de nuestro rol Organizer. Alguien que tiene una de esas claves —o la tuvo, como un miembro al que se expulsó— está firmando por este pursuance. Ninguna de las dos es la clave que tiene nuestro pursuance.',
    );
    expect(alarm.find('[data-testid="link-fork-next"]').text()).toContain(
      'Rota las claves de nuestro rol Organizer (en Claves) para que esas claves no firmen nada más',
    );
    expect(alarm.find('[data-testid="link-fork-keys"]').text()).toBe('Ir a las claves');
    expect(w.findAll('[data-testid="link-refused"] li')[1]!.text()).toContain('Su aviso de dos claves firmadas para uno de nuestros roles');
    const text = w.text();
    for (const english of [
      'Links',
      'Make an offer',
      'Open a link',
      'Their keys',
      'may create tasks',
      'Compare this',
      'Send the task',
      'frozen',
      'froze',
      'Rotate',
      'Their report',
      'waits to be sent',
    ])
      expect(text, english).not.toContain(english);
  });
});

// @vitest-environment happy-dom
/**
 * Joining by request. The applicant's side (Join): a pasted profile is read by the node and
 * previewed, with one answer field per question (labelled with it); sending shows the proof of
 * work running, then the request, and the list of requests sent follows live `invites` notices
 * (pursuanceId null); a profile the node refuses shows its reason beside the field. The
 * pursuance's side (Members → Join requests, only with the right to invite): the profile's form
 * and text, the review inbox in the node's order with answers beside their questions, admit and
 * decline with the right bodies, the dropped counters, and a refetch on the pursuance's
 * `invites` notices. People's own words (names, answers, questions) are text, whatever they say.
 */
import axe from 'axe-core';
import { flushPromises } from '@vue/test-utils';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import JoinRequestsPanel from '../src/components/JoinRequestsPanel.vue';
import { createApplication, createReview, droppedCounts, holdsProfile, profileRoles, vouchedEffort } from '../src/lib/admission.js';
import { ApiError } from '../src/lib/api.js';
import { createAppContext } from '../src/lib/context.js';
import { inviteKind } from '../src/lib/join.js';
import type { InvitesEvent } from '../src/lib/live.js';
import type { ChangedEvent, DropCounts, ProfilePreview, PursuanceProfile, ReviewInbox, ReviewRequest, SentJoinRequest } from '../src/lib/types.js';
import JoinPursuance from '../src/views/JoinPursuance.vue';
import MembersView from '../src/views/MembersView.vue';
import { FOUNDER, FakeEventSource, MemoryStorage, PID, fakeFetch, roleModel, type Call } from './support/fakes.js';
import { TOKEN, mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => {
  unmountAll();
  // A test that switches the language keeps it in storage: the next one starts in English.
  localStorage.clear();
  document.documentElement.lang = '';
});

const P = `/api/pursuances/${PID}`;
const PROFILE_TEXT = `pursuance-profile:1:${'QUJD'.repeat(30)}`;
const PASTED = `Ask to join us here: ${PROFILE_TEXT}\n`;
const OTHER_PID = '2'.repeat(64);
const RID = (c: string) => c.repeat(64);
const VOUCH = `pursuance-vouch:1:${'V09V'.repeat(30)}`;

const zero = (): DropCounts => ({ malformed: 0, foreign: 0, stale: 0, work: 0, vouch: 0, replay: 0, unreadable: 0, blocked: 0, full: 0 });

function preview(over: Partial<ProfilePreview> = {}): ProfilePreview {
  return {
    pursuanceId: PID,
    name: 'Cell 9',
    about: 'We fix bikes.\nOn Sundays.',
    asks: ['Who sent you?', 'What can you do?'],
    effort: 18,
    validUntil: Date.UTC(2031, 0, 8),
    member: false,
    ...over,
  };
}

function sentRequest(over: Partial<SentJoinRequest> = {}): SentJoinRequest {
  return {
    id: RID('d'),
    pursuanceId: PID,
    pursuanceName: 'Cell 9',
    sentAt: Date.UTC(2031, 0, 1),
    expiresAt: Date.UTC(2031, 0, 8),
    status: 'sent',
    note: null,
    ...over,
  };
}

function request(id: string, over: Partial<ReviewRequest> = {}): ReviewRequest {
  return {
    id,
    onion: 'e'.repeat(56),
    name: 'Zoe',
    answers: ['Ada', 'Repairs'],
    asks: ['Who sent you?', 'What can you do?'],
    work: 18,
    receivedAt: Date.UTC(2031, 0, 2),
    status: 'pending',
    decidedAt: null,
    roles: [],
    vouch: null,
    ...over,
  };
}

function inbox(requests: ReviewRequest[], dropped: Partial<DropCounts> = {}): ReviewInbox {
  return { requests, dropped: { ...zero(), ...dropped }, waiting: requests.filter((r) => r.status === 'pending').length, capacity: 200 };
}

function published(over: Partial<PursuanceProfile> = {}): PursuanceProfile {
  return {
    text: PROFILE_TEXT,
    id: 'f'.repeat(32),
    name: 'Cell 9',
    about: 'We fix bikes.',
    asks: ['Who sent you?'],
    role: 'organizer',
    effort: 20,
    validUntil: Date.UTC(2031, 0, 8),
    publishedBy: FOUNDER,
    stale: false,
    reading: true,
    ...over,
  };
}

describe('what was pasted, and who may sign a profile', () => {
  it('tells a profile (alone or among words) from a join link and the rest', () => {
    expect(holdsProfile(PASTED)).toBe(true);
    expect(inviteKind(PASTED)).toBe('profile');
    expect(inviteKind(PROFILE_TEXT)).toBe('profile');
    // The node says what is wrong with a broken one: it is still read as a profile.
    expect(inviteKind('pursuance-profile:1:')).toBe('profile');
    expect(inviteKind(`pursuance-join:1:${'eyJwIjoiYWJjIn0'.repeat(8)}`)).toBe('link');
    expect(inviteKind('hello')).toBe('unknown');
  });

  it('offers the roles held whose current key is held here, published, the holders’ own and not due for rotation; highest rank first', () => {
    const roles = [
      roleModel('member', 'Member', { rank: 100 }),
      roleModel('organizer', 'Organizer', { rank: 800 }),
      roleModel('tips', 'Tips', { rank: 300, iHoldKey: false }),
      roleModel('legal', 'Legal', { rank: 250, plantedKey: true }),
      roleModel('desk', 'Desk', { rank: 200, rotationDue: true }),
      roleModel('archive', 'Archive', { rank: 220, publicKey: false }),
      roleModel('other', 'Other', { rank: 900 }),
    ];
    expect(profileRoles(['member', 'organizer', 'tips', 'legal', 'desk', 'archive'], roles)).toEqual({
      ready: ['organizer', 'member'],
      waiting: ['tips', 'legal', 'archive', 'desk'],
    });
    expect(profileRoles([], roles)).toEqual({ ready: [], waiting: [] });
  });

  it('says only the dropped counters that are not zero, most likely first', () => {
    expect(droppedCounts({ ...zero(), replay: 1, work: 300, full: 2 })).toEqual([
      ['work', 300],
      ['full', 2],
      ['replay', 1],
    ]);
    expect(droppedCounts(zero())).toEqual([]);
    expect(droppedCounts(null)).toEqual([]);
  });

  it('says requests dropped for a vouch that did not hold right after those without enough work', () => {
    expect(droppedCounts({ ...zero(), full: 1, vouch: 4, work: 2 })).toEqual([
      ['work', 2],
      ['vouch', 4],
      ['full', 1],
    ]);
  });

  it('asks 6 bits less work of a request with a vouch, never less than a profile may ask', () => {
    expect(vouchedEffort(18)).toBe(12);
    expect(vouchedEffort(14)).toBe(8);
    expect(vouchedEffort(12)).toBe(8);
    expect(vouchedEffort(8)).toBe(8);
  });
});

/** A scripted live stream for the stores: notices are emitted by hand. */
function liveDouble() {
  const invites = new Set<(e: InvitesEvent) => void>();
  const changed = new Set<(e: ChangedEvent) => void>();
  return {
    live: {
      onInvites: (l: (e: InvitesEvent) => void) => (invites.add(l), () => invites.delete(l)),
      onChanged: (l: (e: ChangedEvent) => void) => (changed.add(l), () => changed.delete(l)),
    },
    invites: (pursuanceId: string | null) => invites.forEach((l) => l({ pursuanceId })),
    changed: (pursuanceId: string) => changed.forEach((l) => l({ pursuanceId, events: ['e'], origin: 'sync' })),
    listeners: () => invites.size + changed.size,
  };
}

describe('the stores', () => {
  it('application: drops a read overtaken by a newer one, sends the trimmed request, and follows answers on `invites` (null) and on the pursuance arriving', async () => {
    const l = liveDouble();
    let list: SentJoinRequest[] = [];
    const release: ((p: ProfilePreview) => void)[] = [];
    const api = {
      previewProfile: vi.fn(() => new Promise<ProfilePreview>((resolve) => release.push(resolve))),
      sendJoinRequest: vi.fn(() => Promise.resolve(sentRequest())),
      sentJoinRequests: vi.fn(() => Promise.resolve(list)),
    };
    const answers: SentJoinRequest[] = [];
    const a = createApplication({ api, live: l.live }, { onAnswer: (s) => answers.push(s) });
    const first = a.read('pursuance-profile:1:AAAA');
    const second = a.read(` ${PROFILE_TEXT} `);
    expect(api.previewProfile).toHaveBeenLastCalledWith(PROFILE_TEXT);
    release[1]!(preview({ name: 'newer' }));
    release[0]!(preview({ name: 'older' }));
    await Promise.all([first, second]);
    expect(a.preview.value?.name).toBe('newer');
    expect(a.reading.value).toBe(false);

    list = [sentRequest()];
    await a.send(PASTED, '  Zoe ', ['Ada', '']);
    expect(api.sendJoinRequest).toHaveBeenCalledWith({ profile: PASTED.trim(), name: 'Zoe', answers: ['Ada', ''] });
    await a.send(PASTED, '   ', []);
    expect(api.sendJoinRequest).toHaveBeenLastCalledWith({ profile: PASTED.trim(), answers: [] });
    expect(a.sent.value.map((s) => s.status)).toEqual(['sent']);

    // Notices for a pursuance's inbox are not about our own requests.
    const reads = api.sentJoinRequests.mock.calls.length;
    l.invites(PID);
    await flushPromises();
    expect(api.sentJoinRequests).toHaveBeenCalledTimes(reads);
    list = [sentRequest({ status: 'declined', note: 'Not now' })];
    l.invites(null);
    await flushPromises();
    expect(a.sent.value[0]).toMatchObject({ status: 'declined', note: 'Not now' });
    expect(answers.map((s) => s.status)).toEqual(['declined']);
    // Events of a pursuance asked (still waiting) may mean we are in: the list is read again.
    list = [sentRequest({ id: RID('c') }), sentRequest({ status: 'declined' })];
    await a.loadSent();
    list = [sentRequest({ id: RID('c'), status: 'joined' }), sentRequest({ status: 'declined' })];
    l.changed(PID);
    await flushPromises();
    expect(answers.map((s) => s.status)).toEqual(['declined', 'joined']);
    a.stop();
    expect(l.listeners()).toBe(0);
  });

  it('review: loads profile and inbox together, refetches on this pursuance’s `invites` only, and hides itself on a node without the routes', async () => {
    const l = liveDouble();
    const api = {
      pursuanceProfile: vi.fn(() => Promise.resolve({ profile: published() })),
      reviewInbox: vi.fn(() => Promise.resolve(inbox([request(RID('a'))]))),
      publishProfile: vi.fn(),
      withdrawProfile: vi.fn(),
      admitJoinRequest: vi.fn(() => Promise.resolve(request(RID('a'), { status: 'admitted' }))),
      declineJoinRequest: vi.fn(() => Promise.resolve(request(RID('a'), { status: 'declined' }))),
    };
    const r = createReview({ api, live: l.live }, PID);
    await r.load();
    expect(r.profile.value?.role).toBe('organizer');
    expect(r.inbox.value?.requests).toHaveLength(1);
    l.invites(OTHER_PID);
    l.invites(null);
    await flushPromises();
    expect(api.reviewInbox).toHaveBeenCalledTimes(1);
    l.invites(PID);
    await flushPromises();
    expect(api.reviewInbox).toHaveBeenCalledTimes(2);
    await r.decline(RID('a'), '   ', false);
    expect(api.declineJoinRequest).toHaveBeenLastCalledWith(PID, RID('a'), { block: false });
    await r.decline(RID('a'), ' Not now ', true);
    expect(api.declineJoinRequest).toHaveBeenLastCalledWith(PID, RID('a'), { note: 'Not now', block: true });
    r.stop();
    expect(l.listeners()).toBe(0);

    const old = createReview(
      {
        api: { ...api, pursuanceProfile: () => Promise.reject(new ApiError(404, 'NOT_FOUND', 'Cannot GET')) },
        live: l.live,
      },
      PID,
    );
    await old.load();
    expect(old.supported.value).toBe(false);
    expect(old.loadError.value).toBeNull();
  });
});

// --- the applicant's side (Join) -------------------------------------------------------------

async function joinApp(routes: Record<string, (c: Call) => unknown>) {
  const f = fakeFetch({
    'GET /api/node': () => ({ onion: 'b'.repeat(56) }),
    'GET /api/pursuances': () => [],
    'GET /api/profile': () => ({ onion: 'b'.repeat(56), name: 'mo' }),
    'GET /api/join-profile/requests': () => [],
    ...routes,
  });
  const ctx = createAppContext({
    fetch: f.fetch,
    eventSource: (url) => new FakeEventSource(url),
    storage: new MemoryStorage(),
    window,
    history: createMemoryHistory(),
  });
  await ctx.connect(TOKEN);
  await ctx.router.push('/join');
  return { ctx, f };
}

/** Paste into the Join box and wait for the node's reading of it (the box waits for the text to settle). */
async function paste(w: ReturnType<typeof mountWith>, text: string, until: string) {
  await w.find('#group-invite').setValue(text);
  await vi.waitFor(() => expect(w.find(until).exists()).toBe(true), { timeout: 5_000, interval: 20 });
}

describe('asking to join through a profile', () => {
  it('previews the profile, asks one answer per question (labelled with it), shows the work running, then the request, which follows live answers', async () => {
    let sent: SentJoinRequest[] = [];
    let release: (() => void) | null = null;
    const { ctx, f } = await joinApp({
      'POST /api/join-profile/preview': () => preview(),
      'POST /api/join-profile/requests': () =>
        new Promise((resolve) => {
          release = () => {
            sent = [sentRequest()];
            resolve({ status: 201, body: sent[0] });
          };
        }),
      'GET /api/join-profile/requests': () => sent,
    });
    const w = mountWith(JoinPursuance, ctx);
    await flushPromises();
    expect(w.find('[data-testid="sent-requests"]').exists()).toBe(false);
    await paste(w, PASTED, '[data-testid="profile-preview"]');
    expect(f.calls.filter((c) => c.path === '/api/join-profile/preview').map((c) => c.body)).toEqual([{ profile: PASTED.trim() }]);
    const shown = w.find('[data-testid="profile-preview"]');
    expect(shown.find('h3').text()).toBe('“Cell 9” takes requests to join');
    expect(shown.find('[data-testid="preview-about"]').text()).toBe('We fix bikes.\nOn Sundays.');
    expect(shown.findAll('[data-testid="preview-asks"] li').map((li) => li.text())).toEqual(['Who sent you?', 'What can you do?']);
    expect(shown.find('[data-testid="preview-work"]').text()).toContain('18 bits');
    expect(shown.find('[data-testid="preview-valid"]').text()).toContain('2031');
    // One answer field per question, each labelled with its question; the name is the node's own.
    const fields = w.findAll('textarea[data-testid="answer"]');
    expect(fields).toHaveLength(2);
    expect(fields.map((a) => w.find(`label[for="${a.attributes('id')}"]`).text())).toEqual(['Who sent you?', 'What can you do?']);
    expect((w.find('#request-name').element as HTMLInputElement).value).toBe('mo');
    const submit = w.find('[data-testid="join-by-invite"] button[type="submit"]');
    expect(submit.text()).toBe('Send request');

    await w.find('#request-name').setValue(' Zoe ');
    await fields[0]!.setValue('Ada ');
    await fields[1]!.setValue('Repairs');
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === '/api/join-profile/requests')?.body).toEqual({
      profile: PASTED.trim(),
      name: 'Zoe',
      answers: ['Ada', 'Repairs'],
    });
    // The proof of work runs: said, shown, and the form is locked meanwhile.
    const working = w.find('[data-testid="request-working"]');
    expect(working.find('[role="status"]').text()).toContain('doing the work the pursuance asks (18 bits)');
    expect(working.find('progress').attributes('aria-label')).toBe('Proof of work');
    expect(submit.text()).toBe('Working…');
    expect(submit.attributes('disabled')).toBeDefined();
    expect(submit.attributes('aria-busy')).toBe('true');
    expect(w.find('[data-testid="request-fields"]').attributes('disabled')).toBeDefined();
    expect(w.find('#group-invite').attributes('disabled')).toBeDefined();

    release!();
    await flushPromises();
    expect(w.find('[data-testid="request-working"]').exists()).toBe(false);
    expect(w.find('[data-testid="request-sent"]').text()).toContain('Request sent to “Cell 9”');
    expect(ctx.announcer.assertive.value).toContain('Request sent to “Cell 9”.');
    expect((w.find('#group-invite').element as HTMLTextAreaElement).value).toBe('');
    const row = w.find(`[data-testid="sent-${RID('d')}"]`);
    expect(row.attributes('data-status')).toBe('sent');
    expect(row.text()).toContain('waiting');

    // Answers arrive as `invites` notices without a pursuance.
    sent = [sentRequest({ status: 'declined', note: 'Come to a meeting first' })];
    FakeEventSource.last!.emit('invites', { pursuanceId: null });
    await flushPromises();
    expect(w.find(`[data-testid="sent-${RID('d')}"]`).attributes('data-status')).toBe('declined');
    expect(w.find('[data-testid="sent-note"]').text()).toBe('Their note: “Come to a meeting first”');
    expect(ctx.announcer.assertive.value).toContain('“Cell 9” declined your request.');
    sent = [sentRequest({ status: 'joined' })];
    FakeEventSource.last!.emit('invites', { pursuanceId: null });
    await flushPromises();
    const joined = w.find(`[data-testid="sent-${RID('d')}"]`);
    expect(joined.text()).toContain('You are in.');
    expect(joined.find('a').attributes('href')).toBe(`/p/${PID}/board`);
  });

  it('sends a pasted vouch (trimmed) only when there is one, says the lesser work it buys, and marks the box when the node refuses it', async () => {
    let hold = false;
    let release: (() => void) | null = null;
    let refuse = false;
    const { ctx, f } = await joinApp({
      'POST /api/join-profile/preview': () => preview(),
      'POST /api/join-profile/requests': () => {
        if (refuse) return { status: 400, body: { code: 'INVALID_REQUEST', message: 'vouch: this vouch is not for you', field: 'vouch' } };
        if (!hold) return { status: 201, body: sentRequest() };
        return new Promise((resolve) => (release = () => resolve({ status: 201, body: sentRequest({ id: RID('c') }) })));
      },
    });
    const w = mountWith(JoinPursuance, ctx);
    await paste(w, PROFILE_TEXT, '[data-testid="profile-preview"]');
    const box = w.find('#request-vouch');
    expect(w.find('label[for="request-vouch"]').text()).toBe('Vouch (optional)');
    expect(box.attributes('aria-describedby')).toBe('request-vouch-hint');
    expect(w.find('#request-vouch-hint').text()).toBe('If a pursuance linked to this one vouched for you, paste its vouch here: less work for your computer.');
    const posted = () => f.calls.filter((c) => c.method === 'POST' && c.path === '/api/join-profile/requests').map((c) => c.body);

    // Left empty (or blank): no vouch in the request.
    await box.setValue('   ');
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(posted()).toEqual([{ profile: PROFILE_TEXT, name: 'mo', answers: ['', ''] }]);
    expect(posted()[0]).not.toHaveProperty('vouch');

    // Pasted: sent as `vouch`, and the node does 6 bits less of the profile's 18.
    hold = true;
    await paste(w, PROFILE_TEXT, '[data-testid="profile-preview"]');
    await w.find('#request-vouch').setValue(`\n ${VOUCH} \n`);
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(posted()[1]).toEqual({ profile: PROFILE_TEXT, name: 'mo', answers: ['', ''], vouch: VOUCH });
    expect(w.find('[data-testid="request-working"] [role="status"]').text()).toContain('(12 bits)');
    release!();
    await flushPromises();
    expect(w.find('[data-testid="request-sent"]').exists()).toBe(true);

    // The node names the vouch in its refusal: the box says so.
    refuse = true;
    await paste(w, PROFILE_TEXT, '[data-testid="profile-preview"]');
    expect((w.find('#request-vouch').element as HTMLTextAreaElement).value).toBe('');
    await w.find('#request-vouch').setValue(VOUCH);
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(posted()[2]).toMatchObject({ vouch: VOUCH });
    expect(w.find('#request-vouch').attributes('aria-invalid')).toBe('true');
    expect(w.find('#request-vouch').attributes('aria-describedby')).toBe('request-vouch-hint error-request');
    expect(w.find('#error-request [data-testid="error-code"]').text()).toBe('INVALID_REQUEST');
  });

  it('shows the node’s reason beside the box when the profile does not parse, and sends nothing', async () => {
    const message = 'This is not a valid pursuance profile: the profile is not valid base64url';
    const { ctx, f } = await joinApp({
      'POST /api/join-profile/preview': () => ({ status: 400, body: { code: 'INVALID_PROFILE', message, field: 'profile' } }),
    });
    const w = mountWith(JoinPursuance, ctx);
    await paste(w, 'pursuance-profile:1:not!base64', '#profile-error');
    const notice = w.find('#profile-error');
    expect(notice.find('[data-testid="error-reason"]').text()).toBe(message);
    expect(notice.find('[data-testid="error-code"]').text()).toBe('INVALID_PROFILE');
    expect(notice.attributes('role')).toBe('alert');
    const box = w.find('#group-invite');
    expect(box.attributes('aria-invalid')).toBe('true');
    expect(box.attributes('aria-describedby')).toBe('profile-error');
    expect(w.find('[data-testid="profile-preview"]').exists()).toBe(false);
    expect(w.find('[data-testid="join-by-invite"] button[type="submit"]').attributes('disabled')).toBeDefined();
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(f.calls.some((c) => c.method === 'POST' && c.path === '/api/join-profile/requests')).toBe(false);
    // In Spanish, the catalog's words, the node's kept beside them.
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('#profile-error [data-testid="error-reason"]').text()).toContain('Esto no es un perfil de pursuance válido');
    expect(w.find('#profile-error [data-testid="error-original"]').text()).toContain(message);
  });

  it('offers no form for a pursuance this node is a member of already', async () => {
    const { ctx } = await joinApp({ 'POST /api/join-profile/preview': () => preview({ member: true }) });
    const w = mountWith(JoinPursuance, ctx);
    await paste(w, PROFILE_TEXT, '[data-testid="profile-preview"]');
    expect(w.find('[data-testid="preview-member"]').text()).toBe('You are a member of this pursuance already.');
    expect(w.findAll('textarea[data-testid="answer"]')).toHaveLength(0);
    expect(w.find('[data-testid="join-by-invite"] button[type="submit"]').attributes('disabled')).toBeDefined();
  });

  it('shows prototype names in a profile and its questions as text', async () => {
    const { ctx, f } = await joinApp({
      'POST /api/join-profile/preview': () => preview({ name: '__proto__', about: 'constructor', asks: ['__proto__', 'constructor', '{n} @:x |'] }),
      'POST /api/join-profile/requests': () => ({ status: 201, body: sentRequest({ pursuanceName: '__proto__' }) }),
    });
    const w = mountWith(JoinPursuance, ctx);
    await paste(w, PROFILE_TEXT, '[data-testid="profile-preview"]');
    expect(w.find('#preview-title').text()).toBe('“__proto__” takes requests to join');
    expect(w.find('[data-testid="preview-about"]').text()).toBe('constructor');
    const fields = w.findAll('textarea[data-testid="answer"]');
    expect(fields.map((a) => w.find(`label[for="${a.attributes('id')}"]`).text())).toEqual(['__proto__', 'constructor', '{n} @:x |']);
    await w.find('#request-name').setValue('constructor');
    await fields[0]!.setValue('__proto__');
    await w.find('[data-testid="join-by-invite"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === '/api/join-profile/requests')?.body).toEqual({
      profile: PROFILE_TEXT,
      name: 'constructor',
      answers: ['__proto__', '', ''],
    });
    expect(w.find('[data-testid="request-sent"]').text()).toContain('“__proto__”');
  });
});

// --- the pursuance's side (Members → Join requests) ------------------------------------------

/** The founder (organizer and member, may invite and give any role) with a profile and an inbox. */
async function reviewer(state: { profile: PursuanceProfile | null; inbox: ReviewInbox }, extra: Record<string, (c: Call) => unknown> = {}) {
  return setupApp('founder', {
    [`GET ${P}/profile`]: () => ({ profile: state.profile }),
    [`GET ${P}/join-requests`]: () => state.inbox,
    ...extra,
  });
}

describe('join requests in Members', () => {
  it('is offered only to a member who may invite', async () => {
    const member = await setupApp('member');
    const w = mountWith(MembersView, member.ctx, { store: member.store });
    await flushPromises();
    expect(member.store.caps.value.plain('invite').ok).toBe(false);
    expect(w.find('[data-testid="join-requests"]').exists()).toBe(false);
    expect(member.f.calls.some((c) => c.path === `${P}/join-requests` || c.path === `${P}/profile`)).toBe(false);
    unmountAll();

    const founder = await setupApp('founder');
    const v = mountWith(MembersView, founder.ctx, { store: founder.store });
    await flushPromises();
    expect(v.find('[data-testid="join-requests"] h3').text()).toBe('Join requests');
    expect(v.find('[data-testid="no-profile"]').text()).toContain('No profile is published');
  });

  it('lists the requests in the node’s order, answers beside their questions, with status, work and the dropped counters', async () => {
    const state = {
      profile: published(),
      inbox: inbox(
        [
          request(RID('a'), { name: 'Most work', work: 24 }),
          request(RID('b'), { name: 'Less work', work: 12, answers: ['', 'Repairs', 'and more'] }),
          request(RID('c'), { name: 'Done', work: 30, status: 'admitted', decidedAt: Date.UTC(2031, 0, 3), roles: ['member'] }),
          request(RID('9'), { name: 'In', status: 'member' }),
          request(RID('8'), { name: 'No', status: 'declined', decidedAt: Date.UTC(2031, 0, 3) }),
        ],
        { work: 300, full: 2, replay: 1 },
      ),
    };
    const { ctx, store } = await reviewer(state);
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    const rows = w.findAll('[data-testid^="request-"][data-status]');
    // As given: the node sorts (most work first, then newest); the dashboard keeps its order.
    expect(rows.map((r) => r.find('.request-name').text())).toEqual(['Most work', 'Less work', 'Done', 'In', 'No']);
    expect(rows.map((r) => r.find('[data-testid="request-status"]').text())).toEqual(['waiting', 'waiting', 'admitted', 'member', 'declined']);
    expect(rows[0]!.text()).toContain('24 bits of work');
    const pairs = (r: (typeof rows)[number]) =>
      r.findAll('[data-testid="request-answers"] dt').map((dt, i) => [dt.text(), r.findAll('[data-testid="request-answers"] dd')[i]!.text()]);
    expect(pairs(rows[0]!)).toEqual([
      ['Who sent you?', 'Ada'],
      ['What can you do?', 'Repairs'],
    ]);
    expect(pairs(rows[1]!)).toEqual([
      ['Who sent you?', '(no answer)'],
      ['What can you do?', 'Repairs'],
      ['Answer 3', 'and more'],
    ]);
    expect(rows[2]!.text()).toContain('as Member');
    // Only waiting requests can be decided.
    expect(rows.map((r) => r.find('[data-testid="admit"]').exists())).toEqual([true, true, false, false, false]);
    expect(w.find('[data-testid="inbox-counts"]').text()).toBe('2 waiting, room for 200.');
    expect(w.find('[data-testid="dropped"]').text()).toBe('Dropped unread: 300 without enough work, 2 while the inbox was full, 1 sent twice.');
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('[data-testid="dropped"]').text()).toBe('Descartadas sin leer: 300 sin trabajo suficiente, 2 con el buzón lleno, 1 enviada dos veces.');
  });

  it('says which linked pursuance’s role vouched for a request, and how many were dropped for a vouch that did not hold', async () => {
    const state = {
      profile: published(),
      inbox: inbox(
        [
          request(RID('a'), { name: 'Vouched', work: 14, vouch: { peer: 'ab12'.repeat(16), name: 'Harbour Desk', role: 'desk' } }),
          request(RID('b'), { name: 'Alone', work: 20 }),
        ],
        { work: 1, vouch: 2 },
      ),
    };
    const { ctx, store } = await reviewer(state);
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    const badge = w.find(`[data-testid="request-${RID('a')}"] [data-testid="request-vouch"]`);
    expect(badge.text()).toBe('Vouched for by Harbour Desk’s “desk”');
    expect(badge.attributes('data-peer')).toBe('ab12'.repeat(16));
    expect(w.find(`[data-testid="request-${RID('b')}"] [data-testid="request-vouch"]`).exists()).toBe(false);
    expect(w.find('[data-testid="dropped"]').text()).toBe('Dropped unread: 1 without enough work, 2 with too little work and a vouch that did not hold.');
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find(`[data-testid="request-${RID('a')}"] [data-testid="request-vouch"]`).text()).toBe('Avalada por «desk» de Harbour Desk');
    expect(w.find('[data-testid="dropped"]').text()).toBe('Descartadas sin leer: 1 sin trabajo suficiente, 2 con poco trabajo y un aval que no valía.');
  });

  it('admits with the roles picked (none by default), after saying what it grants', async () => {
    const state = { profile: published(), inbox: inbox([request(RID('a')), request(RID('b'), { name: 'Yan' })]) };
    const { ctx, store, f } = await reviewer(state, {
      [`POST ${P}/join-requests/${RID('a')}/admit`]: () => {
        state.inbox = inbox([request(RID('a'), { status: 'admitted', decidedAt: 1, roles: [] }), request(RID('b'), { name: 'Yan' })]);
        return state.inbox.requests[0];
      },
      [`POST ${P}/join-requests/${RID('b')}/admit`]: () => request(RID('b'), { status: 'admitted' }),
    });
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    await w.find(`[data-testid="request-${RID('a')}"] [data-testid="admit"]`).trigger('click');
    let dialog = w.find('[data-testid="confirm-admit"]');
    expect(dialog.find('h3').text()).toBe('Let Zoe in?');
    // Roles this member may give, none chosen.
    const boxes = dialog.findAll('input[type="checkbox"]');
    expect(boxes.map((b) => [(b.element as HTMLInputElement).value, (b.element as HTMLInputElement).checked])).toEqual([
      ['organizer', false],
      ['member', false],
    ]);
    expect(dialog.text()).toContain('Zoe joins as no role.');
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === `${P}/join-requests/${RID('a')}/admit`)?.body).toEqual({ roles: [] });
    expect(w.find('[data-testid="confirm-admit"]').exists()).toBe(false);
    expect(w.find(`[data-testid="request-${RID('a')}"]`).attributes('data-status')).toBe('admitted');
    expect(ctx.announcer.assertive.value).toContain('Zoe is admitted.');

    await w.find(`[data-testid="request-${RID('b')}"] [data-testid="admit"]`).trigger('click');
    dialog = w.find('[data-testid="confirm-admit"]');
    await dialog.find('input[value="member"]').setValue(true);
    expect(dialog.text()).toContain('Yan joins as Member.');
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === `${P}/join-requests/${RID('b')}/admit`)?.body).toEqual({ roles: ['member'] });
  });

  it('declines with an optional note and a block, and shows a refusal inside the dialog', async () => {
    const state = { profile: published(), inbox: inbox([request(RID('a')), request(RID('b'), { name: 'Yan' })]) };
    const { ctx, store, f } = await reviewer(state, {
      [`POST ${P}/join-requests/${RID('a')}/decline`]: () => request(RID('a'), { status: 'declined' }),
      [`POST ${P}/join-requests/${RID('b')}/decline`]: () => ({
        status: 409,
        body: { code: 'JOIN_REQUEST_CLOSED', message: 'This request is already admitted.', field: 'requestId' },
      }),
    });
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    await w.find(`[data-testid="request-${RID('a')}"] [data-testid="decline"]`).trigger('click');
    const dialog = w.find('[data-testid="confirm-decline"]');
    expect(dialog.find('h3').text()).toBe('Decline the request of Zoe?');
    expect(dialog.find(`label[for="decline-note-${RID('a')}"]`).text()).toBe('Note to them (optional)');
    await dialog.find(`#decline-note-${RID('a')}`).setValue(' Come to a meeting first ');
    await dialog.find('[data-testid="decline-block"]').setValue(true);
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === `${P}/join-requests/${RID('a')}/decline`)?.body).toEqual({ note: 'Come to a meeting first', block: true });

    await w.find(`[data-testid="request-${RID('b')}"] [data-testid="decline"]`).trigger('click');
    await w.find('[data-testid="confirm-decline"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === `${P}/join-requests/${RID('b')}/decline`)?.body).toEqual({ block: false });
    const still = w.find('[data-testid="confirm-decline"]');
    expect(still.find('[data-testid="error-code"]').text()).toBe('JOIN_REQUEST_CLOSED');
    expect(still.text()).toContain('This request is already admitted.');
  });

  it('refetches on an `invites` notice for this pursuance (and only this one), and says what arrived', async () => {
    const state = { profile: published(), inbox: inbox([request(RID('a'))]) };
    const { ctx, store, f } = await reviewer(state);
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    const reads = () => f.calls.filter((c) => c.path === `${P}/join-requests`).length;
    const before = reads();
    FakeEventSource.last!.emit('invites', { pursuanceId: OTHER_PID });
    FakeEventSource.last!.emit('invites', { pursuanceId: null });
    await flushPromises();
    expect(reads()).toBe(before);
    state.inbox = inbox([request(RID('b'), { name: 'Yan', work: 22 }), request(RID('a'))], { work: 4 });
    FakeEventSource.last!.emit('invites', { pursuanceId: PID });
    await flushPromises();
    expect(reads()).toBe(before + 1);
    expect(w.findAll('.request-name').map((n) => n.text())).toEqual(['Yan', 'Zoe']);
    expect(w.find('[data-testid="dropped"]').text()).toBe('Dropped unread: 4 without enough work.');
    expect(ctx.announcer.polite.value).toContain('1 new request to join');
  });

  it('shows prototype names, answers and questions as text', async () => {
    const state = {
      profile: published({ name: 'constructor', asks: ['__proto__'] }),
      inbox: inbox([
        request(RID('a'), { name: '__proto__', asks: ['constructor', '__proto__'], answers: ['__proto__', 'constructor'] }),
        request(RID('b'), { name: 'constructor', asks: ['hasOwnProperty'], answers: ['{who} @:admission.admit.button'] }),
      ]),
    };
    const { ctx, store, f } = await reviewer(state, {
      [`POST ${P}/join-requests/${RID('a')}/decline`]: () => request(RID('a'), { status: 'declined' }),
    });
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    expect(w.findAll('.request-name').map((n) => n.text())).toEqual(['__proto__', 'constructor']);
    const first = w.find(`[data-testid="request-${RID('a')}"]`);
    expect(first.findAll('dt').map((x) => x.text())).toEqual(['constructor', '__proto__']);
    expect(first.findAll('dd').map((x) => x.text())).toEqual(['__proto__', 'constructor']);
    expect(w.find(`[data-testid="request-${RID('b')}"] dd`).text()).toBe('{who} @:admission.admit.button');
    expect(w.find('[data-testid="profile-facts"]').text()).toContain('constructor');
    await first.find('[data-testid="decline"]').trigger('click');
    expect(w.find('[data-testid="confirm-decline"] h3').text()).toBe('Decline the request of __proto__?');
    await w.find('[data-testid="confirm-decline"]').trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.path === `${P}/join-requests/${RID('a')}/decline`)?.body).toEqual({ block: false });
    expect(ctx.announcer.assertive.value).toContain('The request of __proto__ is declined.');
  });
});

describe('the public profile', () => {
  it('publishes with a role held (its key held here), the questions asked, effort 18 and 7 days by default; then shows the text to copy', async () => {
    const state = { profile: null as PursuanceProfile | null, inbox: inbox([]) };
    const { ctx, store, f } = await reviewer(state, {
      [`POST ${P}/profile`]: (c) => {
        const body = c.body as { role: string; about: string; asks: string[]; effort: number };
        state.profile = published({ role: body.role, about: body.about, asks: body.asks, effort: body.effort });
        return state.profile;
      },
    });
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    const form = w.find('[data-testid="profile-form"]');
    expect(form.find('h5').text()).toBe('Publish a profile');
    expect(
      w
        .find('#profile-role')
        .findAll('option')
        .map((o) => (o.element as HTMLOptionElement).value),
    ).toEqual(['', 'organizer', 'member']);
    expect((w.find('#profile-effort').element as HTMLInputElement).value).toBe('18');
    expect((w.find('#profile-days').element as HTMLInputElement).value).toBe('7');
    expect(w.find('#profile-effort-hint').text()).toContain('How much work a request costs the sender');
    expect(w.find('#profile-effort').attributes('aria-describedby')).toBe('profile-effort-hint');
    // Not sent without a role.
    const submit = form.find('button[type="submit"]');
    expect(submit.attributes('disabled')).toBeDefined();
    await w.find('#profile-role').setValue('organizer');
    await w.find('#profile-about').setValue(' We fix bikes. ');
    for (let i = 0; i < 8; i += 1) await w.find('[data-testid="add-question"]').trigger('click');
    expect(w.findAll('[data-testid="profile-ask"]')).toHaveLength(8);
    expect(w.find('[data-testid="add-question"]').attributes('disabled')).toBeDefined();
    await w.findAll('[data-testid="profile-ask"]')[0]!.setValue('Who sent you?');
    await w.findAll('[data-testid="profile-ask"]')[1]!.setValue(' constructor ');
    // Out of range: said, and not sent.
    await w.find('#profile-effort').setValue('40');
    expect(w.find('#profile-effort-range').text()).toBe('A whole number from 8 to 28.');
    expect(w.find('#profile-effort').attributes('aria-invalid')).toBe('true');
    expect(submit.attributes('disabled')).toBeDefined();
    await w.find('#profile-effort').setValue('18');
    await form.trigger('submit');
    await flushPromises();
    expect(f.calls.find((c) => c.method === 'POST' && c.path === `${P}/profile`)?.body).toEqual({
      role: 'organizer',
      about: 'We fix bikes.',
      asks: ['Who sent you?', 'constructor'],
      effort: 18,
      days: 7,
    });
    const text = w.find('[data-testid="profile-text"]');
    expect((text.find('textarea').element as HTMLTextAreaElement).value).toBe(PROFILE_TEXT);
    expect(text.find('button').text()).toBe('Copy');
    expect(w.find('[data-testid="profile-form"] h5').text()).toBe('Change it and publish again');
    expect(ctx.announcer.assertive.value).toContain('Profile published.');
  });

  it('warns when its key changed since, and withdraws after saying what that does', async () => {
    const state = { profile: published({ stale: true, reading: false }) as PursuanceProfile | null, inbox: inbox([]) };
    const { ctx, store, f } = await reviewer(state, {
      [`DELETE ${P}/profile`]: () => {
        state.profile = null;
        return { profile: null };
      },
    });
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    expect(w.find('[data-testid="profile-stale"]').text()).toBe('The key of Organizer changed since this profile was published: publish it again.');
    expect(w.find('[data-testid="profile-not-reading"]').text()).toContain('the holders of Organizer do');
    // The form is filled from the profile, to publish it again.
    expect((w.find('#profile-role').element as HTMLSelectElement).value).toBe('organizer');
    expect((w.find('#profile-effort').element as HTMLInputElement).value).toBe('20');
    await w.find('[data-testid="withdraw-profile"]').trigger('click');
    const dialog = w.find('[data-testid="confirm-withdraw"]');
    expect(dialog.text()).toContain('requests still on their way are no longer read');
    await dialog.trigger('submit');
    await flushPromises();
    expect(f.calls.some((c) => c.method === 'DELETE' && c.path === `${P}/profile`)).toBe(true);
    expect(w.find('[data-testid="no-profile"]').exists()).toBe(true);
    expect(w.find('[data-testid="profile-text"]').exists()).toBe(false);
  });

  it('says so when no role held can sign a profile now', async () => {
    const state = { profile: null, inbox: inbox([]) };
    const app = await reviewer(state);
    app.state.roles = app.state.roles.map((r) => ({ ...r, rotationDue: true }));
    await app.store.refresh();
    const w = mountWith(JoinRequestsPanel, app.ctx, { store: app.store });
    await flushPromises();
    expect(w.find('[data-testid="no-profile-role"]').text()).toContain('Rotate the keys of Organizer, Member under Keys first.');
    expect(w.find('#profile-role').exists()).toBe(false);
  });
});

describe('accessibility', () => {
  /** Serious and critical axe violations in the page (contrast needs a real browser). */
  async function violations(): Promise<string[]> {
    const result = await axe.run(document.body, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      rules: { 'color-contrast': { enabled: false } },
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
  }

  it('passes axe in both languages: the review panel (with the admit dialog open) and the Join view with a preview', async () => {
    const state = {
      profile: published({ stale: true }),
      inbox: inbox(
        [
          request(RID('a'), { vouch: { peer: 'ab12'.repeat(16), name: 'Harbour Desk', role: 'desk' } }),
          request(RID('b'), { status: 'declined', decidedAt: 1 }),
        ],
        { work: 3, vouch: 1 },
      ),
    };
    const { ctx, store } = await reviewer(state);
    const w = mountWith(JoinRequestsPanel, ctx, { store });
    await flushPromises();
    await w.find('[data-testid="add-question"]').trigger('click');
    await w.find(`[data-testid="request-${RID('a')}"] [data-testid="admit"]`).trigger('click');
    for (const lang of ['en', 'es'] as const) {
      ctx.setLocale(lang);
      await flushPromises();
      expect(await violations(), `panel ${lang}`).toEqual([]);
    }
    unmountAll();

    const join = await joinApp({
      'POST /api/join-profile/preview': () => preview(),
      'GET /api/join-profile/requests': () => [sentRequest({ status: 'declined', note: 'no' })],
    });
    const v = mountWith(JoinPursuance, join.ctx);
    await paste(v, PROFILE_TEXT, '[data-testid="profile-preview"]');
    for (const lang of ['en', 'es'] as const) {
      join.ctx.setLocale(lang);
      await flushPromises();
      expect(await violations(), `join ${lang}`).toEqual([]);
    }
  });
});

import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, NETWORK_MESSAGE, SERVER_FAULT } from '../src/lib/api.js';
import { inviteString, makeBundle, parseBundle, parseInvite } from '../src/lib/invite.js';
import { createLive } from '../src/lib/live.js';
import { createSession, TOKEN_KEY } from '../src/lib/session.js';
import { FakeEventSource, FOUNDER, MemoryStorage, PID, cellRules, fakeFetch } from './support/fakes.js';

const TOKEN = 'T'.repeat(43);

describe('ApiClient', () => {
  it('sends the token as a bearer token and JSON bodies', async () => {
    const f = fakeFetch({ 'POST /api/pursuances': (c) => ({ id: PID, echo: c.body }) });
    const api = new ApiClient(() => TOKEN, f.fetch);
    await api.createPursuance({ name: 'x', template: 'activist-cell' });
    expect(f.calls[0]).toMatchObject({ method: 'POST', path: '/api/pursuances', body: { name: 'x', template: 'activist-cell' } });
    expect(f.calls[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("turns a refusal into an ApiError carrying the node's code, reason and rule", async () => {
    const f = fakeFetch({
      [`POST /api/pursuances/${PID}/tasks/t1/changes`]: () => ({
        status: 403,
        body: { code: 'DENIED', message: 'denied by rule: only organizers close tasks', rule: 'only organizers close tasks' },
      }),
    });
    const err = await new ApiClient(() => TOKEN, f.fetch).changeTask(PID, 't1', { op: 'close' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: 'DENIED', message: 'denied by rule: only organizers close tasks', rule: 'only organizers close tasks' });
  });

  it("keeps the input a refusal concerns and the engine's own wording, and words a bare server fault", async () => {
    const f = fakeFetch({
      [`POST /api/pursuances/${PID}/relay/attach`]: () => ({
        status: 400,
        body: { code: 'INVALID_BUNDLE', message: 'This is not a valid relay bundle.', field: 'bundle', detail: 'bad base64' },
      }),
      [`PUT /api/pursuances/${PID}/rules`]: () => ({ status: 400, body: { code: 'INVALID_REQUEST', message: 'x', field: 'rules.roles.member.rank' } }),
      'GET /api/pursuances': () => ({ status: 500, body: 'internal error' }),
    });
    const api = new ApiClient(() => TOKEN, f.fetch);
    const bundle = (await api.attachRelay(PID, 'nope').catch((e: unknown) => e)) as ApiError;
    expect(bundle).toMatchObject({ status: 400, code: 'INVALID_BUNDLE', field: 'bundle', detail: 'bad base64' });
    expect(bundle.concerns('bundle')).toBe(true);
    expect(bundle.concerns('invite')).toBe(false);
    const rules = (await api.changeRules(PID, cellRules()).catch((e: unknown) => e)) as ApiError;
    // A nested field concerns its top-level input, not one that merely starts with the same letters.
    expect(rules.concerns('rules')).toBe(true);
    expect(rules.concerns('rule')).toBe(false);
    await expect(api.pursuances()).rejects.toMatchObject({ status: 500, code: 'HTTP_500', message: SERVER_FAULT, field: undefined });
  });

  it('reports a refused token and network failures', async () => {
    const onUnauthorized = vi.fn();
    const f = fakeFetch({ 'GET /api/pursuances': () => ({ status: 401, body: { code: 'BAD_TOKEN', message: 'missing or wrong node token' } }) });
    await expect(new ApiClient(() => TOKEN, f.fetch, onUnauthorized).pursuances()).rejects.toMatchObject({ code: 'BAD_TOKEN' });
    expect(onUnauthorized).toHaveBeenCalledOnce();
    const down = new ApiClient(
      () => TOKEN,
      () => Promise.reject(new TypeError('Failed to fetch')),
    );
    // The person reads what happened in plain words; fetch's own wording stays as the detail.
    await expect(down.pursuances()).rejects.toMatchObject({ status: 0, code: 'NETWORK', message: NETWORK_MESSAGE, detail: 'Failed to fetch' });
    expect(NETWORK_MESSAGE).toMatch(/^Cannot reach your node/);
  });
});

describe('session', () => {
  it('keeps the token in session storage only, and forgets it with a notice', () => {
    const storage = new MemoryStorage();
    const s = createSession(storage);
    expect(s.token.value).toBeNull();
    s.set(TOKEN);
    expect(storage.getItem(TOKEN_KEY)).toBe(TOKEN);
    expect(createSession(storage).token.value).toBe(TOKEN);
    s.clear('refused');
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(s.notice.value).toBe('refused');
  });
});

describe('live stream', () => {
  it('connects with the token in the query, relays changes and progress', () => {
    const live = createLive(
      (url) => new FakeEventSource(url),
      () => 1234,
    );
    const seen: string[] = [];
    live.onChanged((e) => seen.push(`${e.pursuanceId}:${e.origin}`));
    live.connect('a b');
    const es = FakeEventSource.last!;
    expect(es.url).toBe('/api/stream?token=a%20b');
    expect(live.status.value).toBe('connecting');
    es.open();
    expect(live.status.value).toBe('open');
    es.emit('changed', { pursuanceId: PID, events: ['e1'], origin: 'local' });
    es.emit('changed', { pursuanceId: PID, events: ['e2'], origin: 'import' });
    expect(seen).toEqual([`${PID}:local`, `${PID}:import`]);
    expect(live.lastRemote[PID]).toBe(1234);
    es.emit('progress', { job: 'replay', pursuanceId: PID, done: 3, total: 10 });
    expect(live.progress[`replay:${PID}`]).toEqual({ job: 'replay', pursuanceId: PID, done: 3, total: 10 });
    es.readyState = 0;
    es.onerror?.(new Event('error'));
    expect(live.status.value).toBe('reconnecting');
    live.disconnect();
    expect(es.closed).toBe(true);
    expect(live.status.value).toBe('closed');
  });
});

describe('invites and event bundles', () => {
  it('round-trips an invite string and rejects anything else', () => {
    const s = inviteString({ pursuanceId: PID, inviter: FOUNDER });
    expect(parseInvite(`  ${s} `)).toEqual({ pursuanceId: PID, inviter: FOUNDER });
    expect(parseInvite('pursuance-invite:1:nothex:x')).toBeNull();
    expect(parseInvite(FOUNDER)).toBeNull();
  });

  it('checks a pasted bundle before anything is sent', () => {
    expect(parseBundle(makeBundle(PID, ['AAAA', 'AQID']))).toEqual({
      ok: true,
      bundle: { format: 'pursuance-events/1', pursuance: PID, events: ['AAAA', 'AQID'] },
    });
    expect(parseBundle('nope')).toMatchObject({ ok: false });
    expect(parseBundle(JSON.stringify({ format: 'pursuance-events/1', pursuance: PID, events: [] }))).toEqual({
      ok: false,
      error: 'the bundle holds no events',
    });
    expect(parseBundle(JSON.stringify({ format: 'pursuance-events/1', pursuance: PID, events: ['not base64!'] }))).toMatchObject({ ok: false });
  });
});

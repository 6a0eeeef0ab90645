// @vitest-environment happy-dom
/**
 * The node's one-click sign-in link (`http://127.0.0.1:PORT/#token=…`) and pasting whatever the
 * node printed: the token reaches session storage as a pasted one does, and never stays in the
 * address bar.
 */
import { flushPromises, mount } from '@vue/test-utils';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import TokenGate from '../src/components/TokenGate.vue';
import { APP, createAppContext } from '../src/lib/context.js';
import { TOKEN_KEY, createSession, extractToken, takeTokenFromAddress } from '../src/lib/session.js';
import { FOUNDER, FakeEventSource, MemoryStorage, fakeFetch } from './support/fakes.js';

const TOKEN = 'AbC-_9'.repeat(8).slice(0, 43);
const ONION = 'a'.repeat(56);
const tokenChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const anyToken = fc.string({ unit: tokenChar, minLength: 43, maxLength: 43 });

beforeEach(() => {
  window.history.replaceState(null, '', '/');
});
afterEach(() => {
  window.history.replaceState(null, '', '/');
});

describe('the sign-in link', () => {
  it('stores the token from #token=, and removes it from the address, keeping the path and query', () => {
    window.history.replaceState({ kept: 1 }, '', `/p/abc/board?view=x#token=${TOKEN}`);
    const storage = new MemoryStorage();
    const session = createSession(storage, window);
    expect(session.token.value).toBe(TOKEN);
    expect(storage.getItem(TOKEN_KEY)).toBe(TOKEN);
    expect(window.location.href).not.toContain(TOKEN);
    expect(window.location.pathname).toBe('/p/abc/board');
    expect(window.location.search).toBe('?view=x');
    expect(window.location.hash).toBe('');
    expect(window.history.state).toEqual({ kept: 1 });
  });

  it('replaces a token kept from before, and leaves other fragment parameters', () => {
    const storage = new MemoryStorage();
    storage.setItem(TOKEN_KEY, 'O'.repeat(43));
    window.history.replaceState(null, '', `/#token=${TOKEN}&panel=health`);
    expect(createSession(storage, window).token.value).toBe(TOKEN);
    expect(window.location.hash).toBe('#panel=health');
  });

  it('drops a cut-short token from the address too, keeps nothing, and says why', () => {
    window.history.replaceState(null, '', `/#token=${TOKEN.slice(0, 30)}`);
    const storage = new MemoryStorage();
    const session = createSession(storage, window);
    expect(session.token.value).toBeNull();
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(session.notice.value).toMatch(/cut short/);
    expect(window.location.href).not.toContain('token');
  });

  it('leaves an address without a token alone', () => {
    window.history.replaceState(null, '', '/p/abc#section');
    const storage = new MemoryStorage();
    storage.setItem(TOKEN_KEY, TOKEN);
    const session = createSession(storage, window);
    expect(session.token.value).toBe(TOKEN);
    expect(session.notice.value).toBeNull();
    expect(window.location.pathname + window.location.hash).toBe('/p/abc#section');
  });

  it('takes exactly the token parameter for any token (property)', () => {
    fc.assert(
      fc.property(anyToken, fc.boolean(), (token, extra) => {
        window.history.replaceState(null, '', `/x#token=${token}${extra ? '&a=1' : ''}`);
        expect(takeTokenFromAddress(window)).toEqual({ found: true, token });
        expect(window.location.hash).toBe(extra ? '#a=1' : '');
      }),
    );
  });

  it('signs the app in on load: the node is asked with the link’s token', async () => {
    window.history.replaceState(null, '', `/#token=${TOKEN}`);
    const f = fakeFetch({
      'GET /api/node': (c) =>
        c.headers.authorization === `Bearer ${TOKEN}` ? { onion: FOUNDER } : { status: 401, body: { code: 'BAD_TOKEN', message: 'no' } },
      'GET /api/pursuances': () => [],
    });
    const storage = new MemoryStorage();
    const ctx = createAppContext({ fetch: f.fetch, eventSource: (url) => new FakeEventSource(url), storage, window });
    expect(ctx.session.token.value).toBe(TOKEN);
    await ctx.connect(ctx.session.token.value!);
    expect(ctx.me.value).toBe(FOUNDER);
    expect(window.location.hash).toBe('');
  });
});

describe('pasting what the node printed', () => {
  it('finds the token in the token alone, the node’s line, a demo line and the sign-in link', () => {
    expect(extractToken(`  ${TOKEN}\n`)).toBe(TOKEN);
    expect(extractToken(`token ${TOKEN}`)).toBe(TOKEN);
    expect(extractToken(`token ${TOKEN}\n`)).toBe(TOKEN);
    expect(extractToken(`alice    http://127.0.0.1:41234/  token ${TOKEN}  (${ONION}; reads 3 of 4 tasks)`)).toBe(TOKEN);
    expect(extractToken(`sign-in http://127.0.0.1:41234/#token=${TOKEN}`)).toBe(TOKEN);
  });

  it('finds nothing in a cut-short or run-on token, or in text without the word token', () => {
    expect(extractToken(`token ${TOKEN.slice(1)}`)).toBeNull();
    expect(extractToken(`token ${TOKEN}x`)).toBeNull();
    expect(extractToken(`mytoken ${TOKEN}`)).toBeNull();
    expect(extractToken(`node ${ONION}`)).toBeNull();
    expect(extractToken('')).toBeNull();
  });

  it('finds the token in its line whatever surrounds it (property)', () => {
    const around = fc.string({ unit: fc.constantFrom(' ', '\t', '(', ')', ';', ':', '/', '.', 'x', '1') });
    fc.assert(
      fc.property(anyToken, around, around, (token, before, after) => {
        // Text glued to its end would make a longer word, not this token.
        fc.pre(!/^[A-Za-z0-9_-]/.test(after));
        expect(extractToken(`${before} token ${token}${after}`)).toBe(token);
      }),
    );
  });

  it('the gate takes the whole printed line and signs in with the token in it', async () => {
    const f = fakeFetch({
      'GET /api/node': (c) =>
        c.headers.authorization === `Bearer ${TOKEN}` ? { onion: FOUNDER } : { status: 401, body: { code: 'BAD_TOKEN', message: 'no' } },
      'GET /api/pursuances': () => [],
    });
    const storage = new MemoryStorage();
    const ctx = createAppContext({ fetch: f.fetch, eventSource: (url) => new FakeEventSource(url), storage, window });
    const w = mount(TokenGate, { global: { provide: { [APP as symbol]: ctx }, plugins: [ctx.i18n] }, attachTo: document.body });
    try {
      await w.find('#token').setValue(`token ${TOKEN}\n`);
      await w.find('form').trigger('submit');
      await flushPromises();
      expect(w.find('[data-testid="token-error"]').exists()).toBe(false);
      expect(storage.getItem(TOKEN_KEY)).toBe(TOKEN);
      expect(ctx.me.value).toBe(FOUNDER);
    } finally {
      w.unmount();
    }
  });
});

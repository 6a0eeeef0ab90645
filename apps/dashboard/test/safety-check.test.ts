// @vitest-environment happy-dom
import { flushPromises, type DOMWrapper, type VueWrapper } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import MembersView from '../src/views/MembersView.vue';
import type { SafetyModel } from '../src/lib/types.js';
import { FOUNDER, MEMBER, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);

const NUMBER = '12345 67890 11111 22222 33333 44444 55555 66666 77777 88888 99999 00000';
const S = `/api/contacts/${MEMBER}/safety`;
const button = (w: VueWrapper | DOMWrapper<Element>, name: string) => {
  const b = w.findAll('button').find((x) => x.text() === name || x.attributes('aria-label') === name);
  if (!b) throw new Error(`no button "${name}"`);
  return b;
};
const dialog = (w: VueWrapper) => w.find('[data-testid="safety-dialog"]');
const row = (w: VueWrapper, onion: string) => w.find(`tr[data-member="${onion}"]`);
const writes = (calls: Call[]) => calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path} ${JSON.stringify(c.body ?? null)}`);

/** A node holding one safety number for MEMBER and whether it was verified. */
function safetyRoutes(state: { verifiedAt: number | null; current: string }) {
  const model = (): SafetyModel => ({ onion: MEMBER, name: 'mo', safetyNumber: state.current, verifiedAt: state.verifiedAt });
  return {
    [`GET ${S}`]: model,
    [`POST ${S}/verify`]: (c: Call) => {
      if ((c.body as { safetyNumber: string }).safetyNumber !== state.current)
        return { status: 409, body: { code: 'SAFETY_NUMBER_MISMATCH', message: 'This safety number is not the current one for this contact.' } };
      state.verifiedAt = 1_900_000_000_000;
      return model();
    },
    [`DELETE ${S}/verify`]: () => {
      state.verifiedAt = null;
      return model();
    },
  };
}

describe('comparing safety codes in the members list', () => {
  it('offers the comparison for others, not for yourself, and shows no badge before it is done', async () => {
    const { ctx, store } = await setupApp('founder', safetyRoutes({ verifiedAt: null, current: NUMBER }));
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    expect(row(w, MEMBER).find('button[aria-label="Compare safety code with mo"]').exists()).toBe(true);
    expect(row(w, FOUNDER).text()).not.toContain('Compare safety code');
    expect(w.find('[data-testid="safety-verified"]').exists()).toBe(false);
  });

  it('shows the 60 digits in 12 groups with what to do, and "They match" verifies exactly those digits', async () => {
    const { ctx, store, f } = await setupApp('founder', safetyRoutes({ verifiedAt: null, current: NUMBER }));
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await button(w, 'Compare safety code with mo').trigger('click');
    await flushPromises();
    const d = dialog(w);
    expect(d.attributes('role')).toBe('dialog');
    expect(d.findAll('.safety-group').map((g) => g.text())).toEqual(NUMBER.split(' '));
    expect(d.text()).toContain('Read these digits to each other in person or on a call you trust. If they match, nobody is in between you and mo.');
    expect(writes(f.calls)).toEqual([]);

    await button(d, 'They match').trigger('click');
    await flushPromises();
    expect(writes(f.calls)).toEqual([`POST ${S}/verify ${JSON.stringify({ safetyNumber: NUMBER })}`]);
    expect(dialog(w).exists()).toBe(false);
    expect(row(w, MEMBER).find('[data-testid="safety-verified"]').text()).toBe('verified');
  });

  it('keeps the dialog open with the refusal when the number changed meanwhile, and records nothing', async () => {
    const state = { verifiedAt: null, current: NUMBER };
    const { ctx, store } = await setupApp('founder', safetyRoutes(state));
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    await button(w, 'Compare safety code with mo').trigger('click');
    await flushPromises();
    state.current = NUMBER.replace('12345', '54321');
    await button(dialog(w), 'They match').trigger('click');
    await flushPromises();
    expect(dialog(w).find('[data-testid="error-code"]').text()).toBe('SAFETY_NUMBER_MISMATCH');
    expect(state.verifiedAt).toBeNull();
    expect(w.find('[data-testid="safety-verified"]').exists()).toBe(false);
  });

  it('shows the badge for a member compared before, and can mark them as not compared', async () => {
    const state = { verifiedAt: 1_800_000_000_000 as number | null, current: NUMBER };
    const { ctx, store, f } = await setupApp('founder', safetyRoutes(state));
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    expect(row(w, MEMBER).find('[data-testid="safety-verified"]').exists()).toBe(true);
    await button(w, 'Compare safety code with mo').trigger('click');
    await flushPromises();
    await button(dialog(w), 'Mark as not compared').trigger('click');
    await flushPromises();
    expect(writes(f.calls)).toEqual([`DELETE ${S}/verify null`]);
    expect(state.verifiedAt).toBeNull();
    expect(w.find('[data-testid="safety-verified"]').exists()).toBe(false);
  });

  it('reads every row’s badge in one request, and a row’s own number only when its dialog opens', async () => {
    const state = { verifiedAt: 1_800_000_000_000 as number | null, current: NUMBER };
    const { ctx, store, f } = await setupApp('founder', {
      ...safetyRoutes(state),
      'GET /api/contacts/safety': () => [{ onion: MEMBER, verifiedAt: 1_800_000_000_000 }],
    });
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    expect(row(w, MEMBER).find('[data-testid="safety-verified"]').exists()).toBe(true);
    expect(f.calls.filter((c) => c.path === S)).toEqual([]);
    expect(f.calls.filter((c) => c.path === '/api/contacts/safety')).toHaveLength(1);
    await button(w, 'Compare safety code with mo').trigger('click');
    await flushPromises();
    expect(f.calls.filter((c) => c.path === S)).toHaveLength(1);
    expect(
      dialog(w)
        .findAll('.safety-group')
        .map((g) => g.text()),
    ).toEqual(NUMBER.split(' '));
  });
});

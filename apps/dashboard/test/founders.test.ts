// @vitest-environment happy-dom
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import FoundersPanel from '../src/components/FoundersPanel.vue';
import RulesView from '../src/views/RulesView.vue';
import type { NominationModel, SuccessionModel } from '../src/lib/types.js';
import { FOUNDER, MEMBER, OTHER, PID, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);
const P = `/api/pursuances/${PID}`;
const NID = '7'.repeat(64);
const writes = (calls: Call[]) => calls.filter((c) => c.method !== 'GET');
const button = (w: VueWrapper, name: string) => {
  const b = w.findAll('button').find((x) => x.text() === name);
  if (!b) throw new Error(`no button "${name}"`);
  return b;
};

function nomination(over: Partial<NominationModel> = {}): NominationModel {
  return {
    id: NID,
    candidate: MEMBER,
    candidateName: 'mo',
    nominatedBy: OTHER,
    nominatedByName: 'cy',
    nominatedAt: 1,
    endorsers: [{ onion: OTHER, name: 'cy' }],
    endorsements: 1,
    needed: 2,
    claimableFrom: null,
    endorse: { allowed: true, refusal: null },
    claim: { allowed: false, refusal: { code: 'NOT_NOMINEE', reason: 'only the nominee may claim' } },
    ...over,
  };
}
function succession(over: Partial<SuccessionModel> = {}): SuccessionModel {
  return { quorum: 2, inactivityDays: 60, amFounder: true, nominees: [{ onion: MEMBER, name: 'mo' }], nominations: [], ...over };
}

describe('founders panel', () => {
  it('nominates a member after a confirmation that says what a founder may do', async () => {
    let data = succession();
    const { ctx, store, f } = await setupApp('founder', {
      [`GET ${P}/succession`]: () => data,
      [`POST ${P}/succession/nominations`]: () => {
        data = succession({ nominees: [], nominations: [nomination({ nominatedBy: FOUNDER, nominatedByName: 'ada', endorsers: [] })] });
        return { id: NID, kind: 'founder.nominate' };
      },
    });
    const w = mountWith(FoundersPanel, ctx, { store });
    await flushPromises();
    expect(w.text()).toContain('A nominee becomes a founder when 2 founders endorse them, or may claim it themself after 60 days');
    await w.find('#nominee').setValue(MEMBER);
    await button(w, 'Nominate…').trigger('click');
    await flushPromises();
    const d = w.find('[role="dialog"]');
    expect(d.text()).toContain('A founder may do everything');
    expect(writes(f.calls)).toEqual([]);
    await button(w, 'Nominate mo').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => [c.path, c.body])).toEqual([[`${P}/succession/nominations`, { candidate: MEMBER }]]);
    expect(w.find('[role="dialog"]').exists()).toBe(false);
    // Reloaded: the nomination is listed, nobody left to nominate.
    expect(w.find('[data-testid="nomination"]').text()).toContain('nominated by you');
    expect(w.find('#nominee').exists()).toBe(false);
  });

  it('enables buttons from `allowed`, shows the refusal beside a disabled one, and endorses after confirming', async () => {
    const { ctx, store, f } = await setupApp('founder', {
      [`GET ${P}/succession`]: () => succession({ nominations: [nomination()] }),
      [`POST ${P}/succession/nominations/${NID}/endorse`]: () => ({ id: 'e'.repeat(64), kind: 'founder.endorse' }),
    });
    const w = mountWith(FoundersPanel, ctx, { store });
    await flushPromises();
    const n = w.find('[data-testid="nomination"]');
    expect(n.find('[data-testid="endorsements"]').text()).toContain('1 of 2 endorsements (cy)');
    const claim = button(w, 'Claim…');
    expect(claim.attributes('disabled')).toBeDefined();
    expect(n.find('[data-testid="claim-refusal"]').text()).toBe('only the nominee may claim');
    expect(claim.attributes('aria-describedby')).toBe(n.find('[data-testid="claim-refusal"]').attributes('id'));
    expect(n.find('[data-testid="endorse-refusal"]').exists()).toBe(false);
    await button(w, 'Endorse…').trigger('click');
    await flushPromises();
    expect(w.find('[role="dialog"]').text()).toContain('counts towards the 2 needed');
    await button(w, 'Endorse mo').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => c.path)).toEqual([`${P}/succession/nominations/${NID}/endorse`]);
  });

  it('a refused claim stays in the dialog with the node’s reason', async () => {
    const { ctx, store } = await setupApp('member', {
      [`GET ${P}/succession`]: () =>
        succession({
          amFounder: false,
          nominees: [],
          nominations: [
            nomination({
              candidate: MEMBER,
              endorse: { allowed: false, refusal: { code: 'NOT_FOUNDER', reason: 'only founders endorse' } },
              claim: { allowed: true, refusal: null },
            }),
          ],
        }),
      [`POST ${P}/succession/nominations/${NID}/claim`]: () => ({
        status: 422,
        body: { code: 'FOUNDERS_ACTIVE', message: 'A founder was active 3 days ago.' },
      }),
    });
    const w = mountWith(FoundersPanel, ctx, { store });
    await flushPromises();
    expect(w.find('#nominee').exists()).toBe(false);
    expect(button(w, 'Endorse…').attributes('disabled')).toBeDefined();
    expect(w.find('[data-testid="endorse-refusal"]').text()).toBe('only founders endorse');
    // The member is the candidate here: their own name reads "you".
    expect(w.find('[data-testid="nomination"] .person-name').text()).toBe('you');
    await button(w, 'Claim…').trigger('click');
    await flushPromises();
    await button(w, 'Claim the founder role').trigger('click');
    await flushPromises();
    const d = w.find('[role="dialog"]');
    expect(d.find('[data-testid="error-reason"]').text()).toBe('A founder was active 3 days ago.');
    expect(w.findAll('[data-testid="error"]')).toHaveLength(1);
  });

  it('sits in the Rules view', async () => {
    const { ctx, store } = await setupApp('founder', { [`GET ${P}/succession`]: () => succession() });
    const w = mountWith(RulesView, ctx, { store });
    await flushPromises();
    expect(w.find('[data-testid="founders"]').exists()).toBe(true);
    expect(w.find('[data-testid="no-nominations"]').exists()).toBe(true);
  });
});

// @vitest-environment happy-dom
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import HealthView from '../src/views/HealthView.vue';
import type { SnapshotModel, SnapshotsModel, StartedFrom } from '../src/lib/types.js';
import { FOUNDER, MEMBER, OTHER, PID, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(unmountAll);
const P = `/api/pursuances/${PID}`;
const HASH = '5'.repeat(64);
const button = (w: VueWrapper, name: string) => {
  const b = w.findAll('button').find((x) => x.text() === name);
  if (!b) throw new Error(`no button "${name}"`);
  return b;
};
const section = (w: VueWrapper) => w.find('section[aria-labelledby="h-snapshots"]');

function started(verified: StartedFrom['verified']): StartedFrom {
  return { hash: HASH, events: 1200, attesters: [FOUNDER, OTHER], from: 'founders', at: 1_000, verified };
}
function snapshot(over: Partial<SnapshotModel> = {}): SnapshotModel {
  return {
    hash: HASH,
    frontier: ['e'.repeat(64)],
    events: 40,
    stateHash: 'd'.repeat(64),
    attesters: [{ onion: FOUNDER, name: 'ada', at: 2, eventId: '8'.repeat(64) }],
    counted: 1,
    enough: false,
    check: { outcome: 'agrees', reason: null },
    ...over,
  };
}
function model(over: Partial<SnapshotsModel> = {}): SnapshotsModel {
  return { startedFrom: null, refused: [], required: 2, from: 'founders', snapshots: [], ...over };
}

/** The Health view of the member's node, its snapshots route answering `answer`. */
async function health(answer: (c: Call) => unknown, extra: Record<string, (c: Call) => unknown> = {}) {
  const app = await setupApp('member', { [`GET ${P}/snapshots`]: answer, ...extra });
  const w = mountWith(HealthView, app.ctx, { store: app.store });
  await flushPromises();
  return { ...app, w };
}

describe('snapshots in the Health view', () => {
  it('says which snapshot this node started from, who attested it, and that the full history agrees', async () => {
    const { w } = await health(() => model({ startedFrom: started({ outcome: 'agrees', reason: null, at: 5_000 }) }));
    const s = section(w);
    expect(s.find('h3').text()).toBe('Snapshots');
    expect(s.find('[data-testid="started-from"]').text()).toMatch(/^Started from a snapshot of 1,200 events attested by ada, c{8}…/);
    // The attesters are people (names, the address on a click), not bare onions.
    expect(s.findAll('[data-testid="started-from"] .person').map((p) => p.attributes('data-onion'))).toEqual([FOUNDER, OTHER]);
    expect(s.find('[data-testid="verified"]').text()).toContain('Full history verified: it agrees.');
    expect(s.find('[role="alert"]').exists()).toBe(false);
  });

  it('says the full history is not verified yet while it is still coming', async () => {
    const { w } = await health(() => model({ startedFrom: started({ outcome: 'pending', reason: null, at: null }) }));
    expect(section(w).find('[data-testid="verified"]').text()).toBe('Full history not verified yet (it arrives from the relay).');
    expect(section(w).find('[role="alert"]').exists()).toBe(false);
  });

  it('raises an alarm when the full history disagrees with the snapshot it started from', async () => {
    const { w } = await health(() =>
      model({ startedFrom: started({ outcome: 'disagrees', reason: 'the state hash at the frontier is 3f2a…, not 9c1b…', at: 6_000 }) }),
    );
    const alarm = section(w).find('[data-testid="snapshot-alarm"]');
    expect(alarm.exists()).toBe(true);
    expect(alarm.attributes('role')).toBe('alert');
    expect(alarm.classes()).toContain('notice-error');
    expect(alarm.text()).toContain(
      'The full history DISAGREES with the snapshot this pursuance was started from: the state hash at the frontier is 3f2a…, not 9c1b…. The history is used from now on.',
    );
    expect(section(w).find('[data-testid="verified"]').exists()).toBe(false);
  });

  it('says why it did not start from a snapshot (the newest refusal)', async () => {
    const { w } = await health(() =>
      model({
        refused: [
          { from: FOUNDER, code: 'NOT_ENOUGH_ATTESTERS', reason: 'only 1 of 2 founders vouched for it', at: 10 },
          { from: OTHER, code: 'SNAPSHOT_MISMATCH', reason: 'the snapshot does not match its hash', at: 20 },
        ],
      }),
    );
    const r = section(w).find('[data-testid="snapshot-refused"]');
    expect(r.text()).toContain('Not started from a snapshot: the snapshot does not match its hash');
    expect(r.text()).not.toContain('only 1 of 2');
    expect(section(w).find('[data-testid="started-from"]').exists()).toBe(false);
  });

  it('lists the snapshots members vouched for, with the count needed and an alert where this history disagrees', async () => {
    const { w } = await health(() =>
      model({
        snapshots: [
          snapshot({
            hash: '6'.repeat(64),
            events: 90,
            attesters: [{ onion: OTHER, name: 'cy', at: 3, eventId: '9'.repeat(64) }],
            check: { outcome: 'disagrees', reason: 'the state hash at the frontier differs from this history' },
          }),
          snapshot({
            events: 40,
            attesters: [
              { onion: FOUNDER, name: 'ada', at: 2, eventId: '8'.repeat(64) },
              { onion: MEMBER, name: 'mo', at: 2, eventId: '7'.repeat(64) },
            ],
            counted: 2,
            enough: true,
          }),
          snapshot({ hash: '4'.repeat(64), events: 10, check: { outcome: 'unknown', reason: 'events before the frontier are missing' } }),
        ],
      }),
    );
    const rows = section(w).findAll('[data-testid="snapshot"]');
    expect(rows).toHaveLength(3);
    expect(rows[0]!.text()).toContain('90 events, vouched for by cy');
    expect(rows[0]!.find('[data-testid="snapshot-enough"]').text()).toBe('1 of 2 needed (founders)');
    const bad = rows[0]!.find('[data-testid="snapshot-check"]');
    expect(bad.attributes('role')).toBe('alert');
    expect(bad.text()).toBe(
      'Your history DISAGREES: the state hash at the frontier differs from this history. A member vouched for a state that never happened.',
    );
    // This node's member is "you".
    expect(rows[1]!.text()).toContain('40 events, vouched for by ada, you');
    expect(rows[1]!.find('[data-testid="snapshot-enough"]').text()).toBe('enough to start from');
    expect(rows[1]!.find('[data-testid="snapshot-check"]').text()).toBe('your history agrees');
    expect(rows[1]!.find('[role="alert"]').exists()).toBe(false);
    expect(rows[2]!.find('[data-testid="snapshot-check"]').text()).toBe('not checked yet: events before the frontier are missing');
    expect(section(w).text()).toContain('A newcomer may start from a snapshot 2 founders vouched for.');
    expect(section(w).findAll('[role="alert"]')).toHaveLength(1);
  });

  it('shows the newest three, and any the history disagrees with', async () => {
    const list = [5, 4, 3, 2, 1].map((i) =>
      snapshot({
        hash: String(i).repeat(64),
        events: i * 10,
        check: i === 1 ? { outcome: 'disagrees', reason: 'never happened' } : { outcome: 'agrees', reason: null },
      }),
    );
    const { w } = await health(() => model({ snapshots: list }));
    expect(
      section(w)
        .findAll('[data-testid="snapshot"]')
        .map((r) => r.text().split(',')[0]),
    ).toEqual(['50 events', '40 events', '30 events', '10 events']);
    expect(section(w).text()).toContain('1 older snapshot not shown');
  });

  it('vouches for a snapshot, and shows the node’s reason when there is no stable point yet', async () => {
    let refuse = true;
    let data = model();
    const { w, f } = await health(() => data, {
      [`POST ${P}/snapshots`]: () => {
        if (refuse)
          return {
            status: 409,
            body: {
              code: 'NO_STABLE_FRONTIER',
              message: 'No snapshot can be taken yet: cy has not written yet. A snapshot needs a point in the history that every member has written after.',
            },
          };
        data = model({ snapshots: [snapshot({ attesters: [{ onion: MEMBER, name: 'mo', at: 9, eventId: '3'.repeat(64) }] })] });
        return { status: 201, body: { id: '3'.repeat(64), kind: 'snapshot.attest' } };
      },
    });
    expect(section(w).find('[data-testid="no-snapshots"]').text()).toBe('No member has vouched for a snapshot yet.');
    await button(w, 'Vouch for a snapshot').trigger('click');
    await flushPromises();
    const notice = section(w).find('[data-testid="error"]');
    expect(notice.text()).toContain('Could not vouch for a snapshot');
    expect(notice.find('[data-testid="error-reason"]').text()).toContain('cy has not written yet');
    expect(notice.find('[data-testid="error-code"]').text()).toBe('NO_STABLE_FRONTIER');
    expect(button(w, 'Vouch for a snapshot').attributes('aria-describedby')).toBe(notice.attributes('id'));
    expect(w.findAll('[data-testid="error"]')).toHaveLength(1);

    refuse = false;
    await button(w, 'Vouch for a snapshot').trigger('click');
    await flushPromises();
    expect(f.calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual([`${P}/snapshots`, `${P}/snapshots`]);
    expect(section(w).find('[data-testid="error"]').exists()).toBe(false);
    expect(section(w).find('[data-testid="snapshot"]').text()).toContain('40 events, vouched for by you');
  });

  it('asks again whenever the pursuance is refreshed (the full history verified changes no state hash)', async () => {
    let data = model({ startedFrom: started({ outcome: 'pending', reason: null, at: null }) });
    const { w, store } = await health(() => data);
    expect(section(w).find('[data-testid="verified"]').text()).toContain('not verified yet');
    data = model({ startedFrom: started({ outcome: 'agrees', reason: null, at: 7_000 }) });
    await store.refresh();
    await flushPromises();
    expect(section(w).find('[data-testid="verified"]').text()).toContain('Full history verified: it agrees.');
  });

  it('says nothing alarming when the node has no snapshots route (an older node)', async () => {
    const { w } = await health(() => ({ status: 404, body: { code: 'NOT_FOUND', message: 'no route' } }));
    expect(section(w).text()).toContain('This node cannot say.');
    expect(w.findAll('[data-testid="error"]')).toHaveLength(0);
    expect(w.findAll('button').some((b) => b.text() === 'Vouch for a snapshot')).toBe(false);
  });

  it('words it all in Spanish', async () => {
    const app = await setupApp('member', {
      [`GET ${P}/snapshots`]: () =>
        model({
          startedFrom: started({ outcome: 'disagrees', reason: 'x', at: 1 }),
          snapshots: [snapshot({ check: { outcome: 'disagrees', reason: 'y' } })],
        }),
    });
    app.ctx.setLocale('es');
    const w = mountWith(HealthView, app.ctx, { store: app.store });
    await flushPromises();
    const s = section(w);
    expect(s.find('h3').text()).toBe('Instantáneas');
    expect(s.find('[data-testid="snapshot-alarm"]').text()).toContain('El historial completo NO COINCIDE');
    expect(s.find('[data-testid="snapshot-check"]').text()).toContain('Tu historial NO COINCIDE: y.');
    for (const english of ['Started from', 'vouched', 'Vouch', 'DISAGREES', 'needed']) expect(s.text(), english).not.toContain(english);
  });
});

// @vitest-environment happy-dom
import { flushPromises, type DOMWrapper, type VueWrapper } from '@vue/test-utils';
import axe from 'axe-core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { dryRunRules } from '../src/lib/dry-run.js';
import { RulesSchema, TASK_ACTIONS, type Capability, type Rules } from '../src/lib/rules-engine.js';
import {
  PLAIN_KINDS,
  SCOPED_KINDS,
  addRole,
  addState,
  fromRules,
  hasCapability,
  removeRole,
  removeState,
  renameRole,
  setCapability,
  setClosed,
  setDocText,
  setInactivity,
  setInitial,
  setMove,
  setQuorum,
  setRoleField,
  toRules,
  type Edit,
  type ProblemCode,
  type RulesForm,
} from '../src/lib/rules-form.js';
import RulesView from '../src/views/RulesView.vue';
import { cellRules, deskRules, MEMBER, PID, type Call } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => {
  unmountAll();
  // The language choice is kept in (happy-dom's) localStorage: each test starts in English.
  localStorage.clear();
});

const CODES: readonly ProblemCode[] = [
  'ID_EMPTY',
  'ID_TOO_LONG',
  'ID_RESERVED',
  'ID_FORMAT',
  'ID_TAKEN',
  'TOO_MANY_ROLES',
  'LAST_ROLE',
  'UNKNOWN_ROLE',
  'COVERED_BY_ANY',
  'TITLE_EMPTY',
  'TITLE_TOO_LONG',
  'DESCRIPTION_TOO_LONG',
  'RANK_RANGE',
  'UNKNOWN_STATE',
  'STATE_INITIAL',
  'TOO_FEW_STATES',
  'TOO_MANY_STATES',
  'LAST_CLOSED',
  'INITIAL_CLOSED',
  'LAST_MOVE',
  'SAME_STATE',
  'QUORUM_RANGE',
  'DAYS_RANGE',
  'INVALID',
];

// ---- Arbitrary valid rules documents (ids include `constructor`, which the core accepts) ----

const idArb = fc.oneof(fc.constantFrom('organizer', 'member', 'desk', 'constructor', 'a', 'x-1'), fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/));

function capArb(ids: readonly string[]): fc.Arbitrary<Capability> {
  const scope = fc.oneof(fc.constant('*' as const), fc.uniqueArray(fc.constantFrom(...ids), { minLength: 1, maxLength: ids.length }));
  const reason = fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined });
  const withReason = <T extends object>(c: T, r: string | undefined) => (r === undefined ? c : { ...c, reason: r });
  return fc.oneof(
    fc.tuple(fc.constantFrom(...TASK_ACTIONS), scope, reason).map(([action, audience, r]) => withReason({ subject: 'task' as const, action, audience }, r)),
    fc
      .tuple(fc.constantFrom('assign' as const, 'remove' as const), scope, reason)
      .map(([action, roles, r]) => withReason({ subject: 'role' as const, action, roles }, r)),
    fc.tuple(scope, reason).map(([roles, r]) => withReason({ subject: 'keys' as const, action: 'rotate' as const, roles }, r)),
    fc.tuple(fc.constantFrom('invite' as const, 'expel' as const), reason).map(([action, r]) => withReason({ subject: 'member' as const, action }, r)),
    reason.map((r) => withReason({ subject: 'rules' as const, action: 'change' as const }, r)),
    reason.map((r) => withReason({ subject: 'relay' as const, action: 'move' as const }, r)),
  );
}

const workflowArb = fc.uniqueArray(idArb, { minLength: 2, maxLength: 6 }).chain((states) =>
  fc.record({
    states: fc.constant(states),
    initial: fc.constant(states[0]!),
    closed: fc.uniqueArray(fc.constantFrom(...states.slice(1)), { minLength: 1 }),
    transitions: fc.array(fc.record({ from: fc.constantFrom(...states), to: fc.constantFrom(...states) }), { minLength: 1, maxLength: 8 }),
  }),
);

const rulesArb: fc.Arbitrary<Rules> = fc
  .uniqueArray(idArb, { minLength: 1, maxLength: 5 })
  .chain((ids) =>
    fc.record({
      format: fc.constant('pursuance-rules/1' as const),
      title: fc.string({ minLength: 1, maxLength: 30 }),
      description: fc.string({ maxLength: 30 }),
      roles: fc
        .tuple(
          ...ids.map(() =>
            fc.record({
              title: fc.string({ minLength: 1, maxLength: 20 }),
              description: fc.string({ maxLength: 20 }),
              rank: fc.integer({ min: 0, max: 999 }),
              history: fc.constantFrom('all' as const, 'since-join' as const),
              can: fc.array(capArb(ids), { maxLength: 6 }),
              cannot: fc.array(capArb(ids), { maxLength: 3 }),
            }),
          ),
        )
        .map((roles) => Object.fromEntries(ids.map((id, i) => [id, roles[i]!]))),
      workflow: workflowArb,
      succession: fc.record({ quorum: fc.integer({ min: 1, max: 64 }), inactivityDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: null }) }),
    }),
  )
  .map((doc) => RulesSchema.parse(doc));

/** Names a member might type for a role, hostile ones first. */
const HOSTILE = [
  '',
  'constructor',
  '__proto__',
  'prototype',
  'toString',
  'hasOwnProperty',
  'a'.repeat(33),
  'Upper',
  'with space',
  '1abc',
  '-x',
  'héllo',
  'a\u0000b',
  'x'.repeat(10_000),
];
const nameArb = fc.oneof(fc.constantFrom(...HOSTILE), idArb, fc.string({ maxLength: 40 }));

/** An edit either yields a document the core accepts (and which the form shows back as it is) or a typed refusal. */
function expectSound(edit: Edit): void {
  if (edit.ok) {
    expect(RulesSchema.safeParse(edit.rules).success).toBe(true);
    expect(toRules(edit.form)).toEqual(edit.rules);
    expect(toRules(fromRules(edit.rules))).toEqual(edit.rules);
  } else {
    expect(CODES).toContain(edit.problem.code);
    expect(typeof edit.problem.field).toBe('string');
  }
}

const anyKind = fc.constantFrom(...SCOPED_KINDS, ...PLAIN_KINDS);

describe('the rule form model', () => {
  it('rebuilds exactly the document it was built from (values and key order)', () => {
    fc.assert(
      fc.property(rulesArb, (rules) => {
        const back = toRules(fromRules(rules));
        expect(back).toEqual(rules);
        expect(JSON.stringify(back)).toBe(JSON.stringify(rules));
        expect(Object.keys(back.roles)).toEqual(Object.keys(rules.roles));
      }),
    );
    for (const r of [cellRules(), deskRules()]) expect(toRules(fromRules(r))).toEqual(r);
  });

  it('keeps every edit valid under the core schema or refuses it with a typed problem, never changing its input', () => {
    const op = (form: RulesForm, rules: Rules) => {
      const ids = form.roles.map((r) => r.id);
      const states = rules.workflow.states;
      const role = fc.oneof(fc.constantFrom(...ids), nameArb);
      const state = fc.oneof(fc.constantFrom(...states), nameArb);
      return fc.oneof(
        nameArb.map((id) => () => addRole(form, id)),
        fc.tuple(role, nameArb).map(
          ([a, b]) =>
            () =>
              renameRole(form, a, b),
        ),
        role.map((id) => () => removeRole(form, id)),
        fc
          .tuple(
            role,
            fc.constantFrom('title' as const, 'description' as const, 'rank' as const, 'history' as const),
            fc.oneof(fc.string({ maxLength: 90 }), fc.integer({ min: -5, max: 1200 }), fc.constantFrom('all', 'since-join', '1e3', ' 7 ', 'NaN')),
          )
          .map(
            ([id, f, v]) =>
              () =>
                setRoleField(form, id, f, v),
          ),
        fc.tuple(role, fc.constantFrom('can' as const, 'cannot' as const), anyKind, fc.oneof(fc.constant('*'), role), fc.boolean()).map(
          ([id, list, kind, target, on]) =>
            () =>
              setCapability(form, id, list, kind, target, on),
        ),
        fc.tuple(fc.constantFrom('title' as const, 'description' as const), fc.string({ maxLength: 130 })).map(
          ([f, v]) =>
            () =>
              setDocText(form, f, v),
        ),
        nameArb.map((id) => () => addState(form, id)),
        state.map((s) => () => removeState(form, s)),
        state.map((s) => () => setInitial(form, s)),
        fc.tuple(state, fc.boolean()).map(
          ([s, on]) =>
            () =>
              setClosed(form, s, on),
        ),
        fc.tuple(state, state, fc.boolean()).map(
          ([a, b, on]) =>
            () =>
              setMove(form, a, b, on),
        ),
        fc.oneof(fc.integer({ min: -2, max: 70 }), fc.constantFrom('', 'x', '2.5')).map((q) => () => setQuorum(form, q)),
        fc.oneof(fc.constant(null), fc.integer({ min: -2, max: 4000 }), fc.constantFrom('', '0', '1.5')).map((d) => () => setInactivity(form, d)),
      );
    };
    fc.assert(
      fc.property(
        rulesArb.chain((rules) => {
          const form = fromRules(rules);
          return fc.tuple(fc.constant(rules), fc.constant(form), fc.array(op(form, rules), { minLength: 1, maxLength: 4 }));
        }),
        ([rules, form, edits]) => {
          const before = JSON.stringify(form);
          for (const edit of edits) expectSound(edit());
          expect(JSON.stringify(form)).toBe(before);
          expect(toRules(form)).toEqual(rules);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a chain of accepted edits valid (each applied to the last accepted state)', () => {
    fc.assert(
      fc.property(
        rulesArb,
        fc.array(fc.tuple(fc.nat(), fc.nat(), anyKind, fc.boolean(), fc.constantFrom('can' as const, 'cannot' as const)), { maxLength: 12 }),
        (rules, steps) => {
          let form = fromRules(rules);
          for (const [a, b, kind, on, list] of steps) {
            const ids = form.roles.map((r) => r.id);
            const id = ids[a % ids.length]!;
            const target = b % (ids.length + 1) === ids.length ? '*' : ids[b % (ids.length + 1)]!;
            const edit = setCapability(form, id, list, kind, target, on);
            expectSound(edit);
            if (edit.ok) {
              form = edit.form;
              // The grid shows what was asked: on is on, off is off.
              expect(hasCapability(form, id, list, kind, target)).toBe(on);
            } else {
              expect(edit.problem.code).toBe('COVERED_BY_ANY');
              expect(on).toBe(false);
            }
          }
        },
      ),
    );
  });

  it('refuses hostile role ids with a clear problem and leaves the draft as it was', () => {
    const form = fromRules(cellRules());
    const code = (e: Edit) => (e.ok ? 'ok' : e.problem.code);
    expect(code(addRole(form, ''))).toBe('ID_EMPTY');
    expect(code(addRole(form, 'constructor'))).toBe('ID_RESERVED');
    expect(code(addRole(form, '__proto__'))).toBe('ID_RESERVED');
    expect(code(addRole(form, 'toString'))).toBe('ID_RESERVED');
    expect(code(addRole(form, 'a'.repeat(33)))).toBe('ID_TOO_LONG');
    expect(code(addRole(form, 'member'))).toBe('ID_TAKEN');
    expect(code(addRole(form, 'Organizers'))).toBe('ID_FORMAT');
    expect(code(addRole(form, 'two words'))).toBe('ID_FORMAT');
    expect(code(renameRole(form, 'member', 'organizer'))).toBe('ID_TAKEN');
    expect(code(renameRole(form, 'member', 'constructor'))).toBe('ID_RESERVED');
    expect(code(renameRole(form, 'member', ''))).toBe('ID_EMPTY');
    expect(code(renameRole(form, 'nobody', 'x'))).toBe('UNKNOWN_ROLE');
    expect(code(addState(form, 'open'))).toBe('ID_TAKEN');
    expect(code(addState(form, '__proto__'))).toBe('ID_RESERVED');
    const bad = addRole(form, 'constructor');
    expect(!bad.ok && bad.problem).toMatchObject({ code: 'ID_RESERVED', field: 'role:new', params: { id: 'constructor' } });
    expect(toRules(form)).toEqual(cellRules());
    // A role the form could not create but the core accepts is shown and kept as it is.
    const withCtor = RulesSchema.parse({ ...cellRules(), roles: { ...cellRules().roles, constructor: { title: 'C', rank: 1, history: 'all' } } });
    expect(Object.keys(toRules(fromRules(withCtor)).roles)).toEqual(['organizer', 'member', 'constructor']);
  });

  it('carries a rename into every capability that names the role, and a removal out of them', () => {
    fc.assert(
      fc.property(rulesArb, fc.nat(), idArb, (rules, k, to) => {
        const form = fromRules(rules);
        const from = form.roles[k % form.roles.length]!.id;
        const names = (r: Rules) =>
          Object.values(r.roles)
            .flatMap((x) => [...x.can, ...x.cannot])
            .flatMap((c) => (c.subject === 'task' ? c.audience : 'roles' in c ? c.roles : '*'))
            .filter((x) => x !== '*');
        const renamed = renameRole(form, from, to);
        if (renamed.ok && from !== to) {
          expect(Object.keys(renamed.rules.roles)[k % form.roles.length]).toBe(to);
          expect(names(renamed.rules)).not.toContain(from);
        }
        const removed = removeRole(form, from);
        if (removed.ok) {
          expect(Object.hasOwn(removed.rules.roles, from)).toBe(false);
          expect(names(removed.rules)).not.toContain(from);
        } else expect(removed.problem.code).toBe('LAST_ROLE');
      }),
    );
  });

  it('ticks a cell into an existing capability, keeping its reason, and unticks it back', () => {
    const form = fromRules(cellRules());
    const on = setCapability(form, 'member', 'can', { subject: 'task', action: 'edit' }, 'member', true);
    expect(on.ok && on.rules.roles.member!.can.filter((c) => c.subject === 'task' && c.action === 'edit')).toEqual([
      { subject: 'task', action: 'edit', audience: ['member'] },
    ]);
    // Under "any role" a single role cannot be unticked alone.
    const off = setCapability(form, 'member', 'cannot', { subject: 'task', action: 'close' }, 'member', false);
    expect(!off.ok && off.problem.code).toBe('COVERED_BY_ANY');
    // Narrowing "any role" keeps the denial's reason.
    const narrowed = setCapability(form, 'member', 'cannot', { subject: 'task', action: 'close' }, '*', true);
    expect(narrowed.ok && narrowed.rules.roles.member!.cannot).toEqual([
      { subject: 'task', action: 'close', audience: '*', reason: 'only organizers close tasks' },
    ]);
  });
});

describe('a `constructor` role in the dry run', () => {
  it('is a role like any other: added when declared, lost when dropped (not found on every object)', () => {
    const cell = cellRules();
    const withCtor = RulesSchema.parse({
      ...cell,
      roles: { ...cell.roles, constructor: { title: 'Builder', rank: 1, history: 'all', can: [{ subject: 'member', action: 'invite' }] } },
    });
    const added = dryRunRules(cell, withCtor, []);
    expect(added.roles.find((r) => r.role === 'constructor')).toMatchObject({ change: 'added', title: 'Builder', gains: ['invite new members'] });
    const holder = [{ onion: MEMBER, name: 'mo', roles: ['member', 'constructor'], founder: false }];
    const dropped = dryRunRules(withCtor, cell, holder);
    expect(dropped.roles.find((r) => r.role === 'constructor')?.change).toBe('removed');
    expect(dropped.members).toEqual([{ onion: MEMBER, name: 'mo', rolesLost: ['constructor'], gains: [], losses: ['invite new members'] }]);
  });
});

// ---- The form in the Rules view ----

const P = `/api/pursuances/${PID}`;
const button = (w: VueWrapper | DOMWrapper<Element>, name: string) => {
  const b = w.findAll('button').find((x) => x.text() === name || x.attributes('aria-label') === name);
  if (!b) throw new Error(`no button "${name}"`);
  return b;
};
const writes = (calls: Call[]) => calls.filter((c) => c.method !== 'GET');
const draftOf = (w: VueWrapper) => JSON.parse((w.find('#rules-draft').element as HTMLTextAreaElement).value) as Rules;
const cell = (w: VueWrapper, key: string) => w.find(`[data-cell="${key}"]`);

async function openEditor(extra: Record<string, (c: Call) => unknown> = {}) {
  const app = await setupApp('founder', { [`PUT ${P}/rules`]: () => ({ id: 'e'.repeat(64), kind: 'rules.change' }), ...extra });
  const w = mountWith(RulesView, app.ctx, { store: app.store });
  await flushPromises();
  await button(w, 'Propose a change…').trigger('click');
  await flushPromises();
  return { ...app, w };
}

describe('the rule form in the Rules view', () => {
  it('a ticked permission changes the draft and the dry run, and publishing sends that document after the confirmation', async () => {
    const { w, f } = await openEditor();
    const box = cell(w, 'member:can:task.edit:member');
    expect((box.element as HTMLInputElement).checked).toBe(false);
    // The box is labelled with what it grants, in words.
    expect(box.element.closest('label')!.textContent).toBe('Member may edit (and re-parent) tasks of Member');
    await box.setValue(true);
    await flushPromises();
    const draft = draftOf(w);
    expect(draft.roles.member!.can).toContainEqual({ subject: 'task', action: 'edit', audience: ['member'] });
    expect(w.find('[data-testid="dry-run"]').text()).toContain('gains: edit (and re-parent) tasks of Member');
    expect((cell(w, 'member:can:task.edit:member').element as HTMLInputElement).checked).toBe(true);

    await button(w, 'Sign and publish').trigger('click');
    await flushPromises();
    expect(w.find('[role="dialog"]').text()).toContain('1 member gains permissions and 0 members lose some');
    expect(writes(f.calls)).toEqual([]);
    await button(w.find('[role="dialog"]'), 'Publish the new rules').trigger('click');
    await flushPromises();
    expect(writes(f.calls).map((c) => `${c.method} ${c.path}`)).toEqual([`PUT ${P}/rules`]);
    expect(writes(f.calls)[0]!.body).toEqual({ rules: draft });
  });

  it('refuses a hostile role id beside the field and keeps the draft; adds a good one', async () => {
    const { w } = await openEditor();
    const before = draftOf(w);
    for (const [name, words] of [
      ['constructor', '“constructor” is a reserved word; choose another id.'],
      ['member', 'The id “member” is already in use.'],
      ['', 'Give the role an id.'],
      ['Bad Name', 'Use lowercase letters, digits and dashes, starting with a letter.'],
    ] as const) {
      await w.find('#rf-new-role').setValue(name);
      await w.find('[data-testid="add-role"]').trigger('click');
      const input = w.find('#rf-new-role');
      expect(input.attributes('aria-invalid')).toBe('true');
      const note = document.getElementById(input.attributes('aria-describedby')!.split(' ')[0]!)!;
      expect(note.textContent).toBe(words);
      expect(draftOf(w)).toEqual(before);
    }
    await w.find('#rf-new-role').setValue('scout');
    await w.find('[data-testid="add-role"]').trigger('click');
    await flushPromises();
    expect(draftOf(w).roles.scout).toEqual({ title: 'scout', description: '', rank: 100, history: 'since-join', can: [], cannot: [] });
    expect(w.find('#rf-new-role').attributes('aria-invalid')).toBeUndefined();
    expect(w.find('fieldset[data-role="scout"]').exists()).toBe(true);
  });

  it('removes a role only after a confirmation, and the dry run names who loses it', async () => {
    const { w } = await openEditor();
    await w.find('[data-remove-role="member"]').trigger('click');
    await flushPromises();
    const dialog = w.find('[data-testid="confirm-remove-role"]');
    expect(dialog.text()).toContain('Whoever holds Member loses it when the new rules are signed');
    await button(dialog, 'Cancel').trigger('click');
    await flushPromises();
    expect(Object.keys(draftOf(w).roles)).toEqual(['organizer', 'member']);
    await w.find('[data-remove-role="member"]').trigger('click');
    await flushPromises();
    await button(w.find('[data-testid="confirm-remove-role"]'), 'Remove the role').trigger('click');
    await flushPromises();
    const draft = draftOf(w);
    expect(Object.keys(draft.roles)).toEqual(['organizer']);
    // The organizer's "take away the role Member" named only Member: it went with it.
    expect(draft.roles.organizer!.can.some((c) => c.subject === 'role' && c.action === 'remove')).toBe(false);
    expect(w.find('[data-testid="dry-member"]').text()).toContain('loses the role member');
  });

  it('the JSON view and the form show the same draft, both ways', async () => {
    const { w } = await openEditor();
    expect(w.find('details.rules-json summary').text()).toBe('Advanced: edit as JSON');
    const next = draftOf(w);
    next.title = 'Cell nine';
    next.succession.quorum = 2;
    await w.find('#rules-draft').setValue(JSON.stringify(next));
    expect((w.find('#rf-title').element as HTMLInputElement).value).toBe('Cell nine');
    expect((w.find('#rf-quorum').element as HTMLInputElement).value).toBe('2');
    await w.find('#rf-title').setValue('Cell ten');
    expect(draftOf(w)).toEqual({ ...next, title: 'Cell ten' });
    // A broken JSON draft hides the form (it cannot show it) and says where to fix it.
    await w.find('#rules-draft').setValue('{ not json');
    expect(w.find('[data-testid="rules-form"]').exists()).toBe(false);
    expect(w.find('[data-testid="rules-form-broken"]').exists()).toBe(true);
    expect((w.find('details.rules-json').element as HTMLDetailsElement).open).toBe(true);
  });

  it('refuses an invalid value beside its control: an empty title, a rank out of range, the last closed status', async () => {
    const { w } = await openEditor();
    const before = draftOf(w);
    // setValue sends the change event a browser sends when the field is left.
    await w.find('#rf-title').setValue('');
    expect(document.getElementById(w.find('#rf-title').attributes('aria-describedby')!)!.textContent).toBe('Give it a title.');
    await w.find('#rf-role-0-rank').setValue('1000');
    // What was typed stays in view beside its problem.
    expect((w.find('#rf-role-0-rank').element as HTMLInputElement).value).toBe('1000');
    expect(document.getElementById(w.find('#rf-role-0-rank').attributes('aria-describedby')!)!.textContent).toBe('The rank is a whole number from 0 to 999.');
    expect(draftOf(w)).toEqual(before);
    const closedBox = (s: string) => w.find(`tr[data-state="${s}"] input[type="checkbox"]`);
    await closedBox('done').setValue(false);
    expect(draftOf(w).workflow.closed).toEqual(['dropped']);
    await closedBox('dropped').setValue(false);
    expect(w.find('tr[data-state="dropped"] .field-error').text()).toBe('At least one status must count as closed.');
    expect((closedBox('dropped').element as HTMLInputElement).checked).toBe(true);
    expect(draftOf(w).workflow.closed).toEqual(['dropped']);
    // Moves: a new one is added to the draft and shows in the dry run.
    await w.find('[data-move="review:done"]').setValue(true);
    await flushPromises();
    expect(draftOf(w).workflow.transitions).toContainEqual({ from: 'review', to: 'done' });
    expect(w.find('[data-testid="dry-run"]').text()).toContain('new move review → done');
  });

  it('passes axe (serious and critical; contrast needs a real browser) in both languages, with every disclosure open', async () => {
    const { w, ctx } = await openEditor();
    for (const d of document.querySelectorAll('details')) d.open = true;
    await w.find('[data-remove-role="member"]').trigger('click');
    await flushPromises();
    for (const lang of ['en', 'es'] as const) {
      ctx.setLocale(lang);
      await flushPromises();
      const result = await axe.run(document.body, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
        rules: { 'color-contrast': { enabled: false } },
      });
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
      expect(bad, lang).toEqual([]);
    }
  });

  it('speaks Spanish after the switch: the view, the form, the dry run and the rules in words', async () => {
    const { w, ctx } = await openEditor();
    ctx.setLocale('es');
    await flushPromises();
    expect(w.find('h2').text()).toBe('Reglas: Small activist cell');
    expect(w.find('details.rules-json summary').text()).toBe('Avanzado: editar como JSON');
    expect(cell(w, 'member:can:task.edit:member').element.closest('label')!.textContent).toBe(
      'Member puede editar (y cambiar de tarea madre) tareas de Member',
    );
    expect(w.text()).toContain('no puede cerrar y reabrir tareas de cualquier rol: only organizers close tasks');
    await cell(w, 'member:can:task.edit:member').setValue(true);
    await flushPromises();
    expect(w.find('[data-testid="dry-run"]').text()).toContain('gana: editar (y cambiar de tarea madre) tareas de Member');
    await w.find('#rf-new-role').setValue('constructor');
    await w.find('[data-testid="add-role"]').trigger('click');
    expect(w.text()).toContain('“constructor” es una palabra reservada; elige otro id.');
    await button(w, 'Firmar y publicar').trigger('click');
    await flushPromises();
    expect(w.find('[role="dialog"]').text()).toContain('1 miembro gana permisos y 0 miembros pierden algunos');
  });
});

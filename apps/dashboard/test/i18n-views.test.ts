// @vitest-environment happy-dom
/**
 * The board, task, members, keys, health and pursuance views in Spanish: their own words come
 * from the catalogs (no English left on the labels people read first), dates follow the
 * language, data (role titles, status ids, codes) stays as it is, and a switch of language
 * re-words what is already on screen.
 */
import { flushPromises } from '@vue/test-utils';
import { nextTick, reactive } from 'vue';
import { RouterView } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import { capabilitiesFor, keyCheck } from '../src/lib/capabilities.js';
import { emptyFilters } from '../src/lib/filters.js';
import { TASK_ACTIONS } from '../src/lib/rules-engine.js';
import { englishWords } from '../src/lib/words.js';
import BoardView from '../src/views/BoardView.vue';
import HealthView from '../src/views/HealthView.vue';
import KeysView from '../src/views/KeysView.vue';
import MembersView from '../src/views/MembersView.vue';
import TaskDetail from '../src/views/TaskDetail.vue';
import { PID, cellRules, roles, task } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => {
  unmountAll();
  localStorage.clear();
  document.documentElement.lang = '';
});

/** setupApp, then Spanish. */
async function spanish(me: 'founder' | 'member', extra: Parameters<typeof setupApp>[1] = {}) {
  const app = await setupApp(me, extra);
  app.ctx.setLocale('es');
  return app;
}

const TIME: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };

describe('the board in Spanish', () => {
  it('words the filters, the cards and the sealed lane in Spanish; status titles and role titles stay data', async () => {
    const { ctx, store, state } = await spanish('member');
    state.tasks = [...state.tasks, task({ readable: false, title: null, audience: ['organizer'], status: null })];
    await store.refresh();
    const w = mountWith(BoardView, ctx, { store, filters: reactive(emptyFilters()) });
    await flushPromises();
    const filters = w.find('form[role="search"]');
    expect(filters.attributes('aria-label')).toBe('Filtrar tareas');
    expect(filters.findAll('label').map((l) => l.text())).toEqual(['Buscar', 'Etiqueta', 'Asignada a', 'Vencimiento', 'Visible para', 'Mostrar cerradas']);
    expect(
      w
        .find('#f-due')
        .findAll('option')
        .map((o) => o.text()),
    ).toEqual(['cualquier fecha', 'vencidas', 'en los próximos 7 días', 'con fecha límite', 'sin fecha límite']);
    expect(w.find('[data-testid="filter-count"]').text()).toBe('2 de 2 tareas');
    // The columns are titled by the workflow (data), their empty state by the catalog.
    const review = w.find('[data-testid="column"][data-status="review"]');
    expect(review.find('h3').text()).toContain('review');
    expect(review.text()).toContain('Sin tareas');
    const card = w.find(`[data-task="${'a'.repeat(64)}"]`);
    expect(card.find('.chip.audience').text()).toBe('para Member');
    expect(card.find('[data-testid="move-button"]').text()).toBe('Mover…');
    expect(card.find('[data-testid="move-button"]').attributes('aria-label')).toBe('Mover “Banner”');
    expect(w.find('#sealed-title').text()).toContain('Selladas para ti');
    expect(w.find('[data-testid="sealed-count"]').text()).toBe('1 tarea está sellada para roles cuyas claves no tienes: ves que existe, no lo que dice.');
    expect(w.find('[data-testid="sealed-card"] h4').text()).toBe('🔒 Sellada para Organizer');
    const text = w.text();
    for (const english of ['Search', 'Assignee', 'Show closed', 'No tasks', 'Sealed to', ' of 2 tasks', 'Move…', 'for Member'])
      expect(text, english).not.toContain(english);
  });
});

describe('the task page in Spanish', () => {
  it('says what is not available and why in Spanish, with dates in Spanish', async () => {
    const { ctx, store } = await spanish('member');
    const t = store.tasks.value[0]!;
    const w = mountWith(TaskDetail, ctx, { store, taskId: t.id });
    await flushPromises();
    expect(w.text()).toContain('← Volver al tablero');
    expect(w.find('#comments-title').text()).toBe('Comentarios (0)');
    expect(w.find('#history-title').text()).toBe('Historial');
    expect(w.find('[data-testid="audience-note"]').text()).toMatch(/^Visible para: Member — 2 personas: tú, ada$/);
    const denied = w.find('[data-testid="denied"]');
    expect(denied.find('h3').text()).toBe('No disponible para ti');
    expect(denied.text()).toContain('cerrar: denegado por la regla: only organizers close tasks');
    expect(denied.text()).toContain('editar: ninguna regla permite editar en tareas para la audiencia "member" a los roles member');
    expect(w.find('.facts').text()).toContain(new Date(t.createdAt).toLocaleString('es', TIME));
    for (const english of ['Back to the board', 'Not available to you', 'no rule grants', 'denied by rule', 'History', 'Visible to'])
      expect(w.text(), english).not.toContain(english);
  });

  it('words each refusal in English exactly as the engine does (the catalog and the engine agree)', () => {
    const { t } = englishWords();
    const rules = cellRules();
    for (const [myRoles, amFounder, isMember] of [
      [['member'], false, true],
      [[], false, true],
      [['member', 'organizer'], false, true],
      [['member'], false, false],
    ] as const) {
      const engine = capabilitiesFor(rules, myRoles, amFounder, isMember);
      const worded = capabilitiesFor(rules, myRoles, amFounder, isMember, t);
      for (const action of TASK_ACTIONS)
        for (const audience of [['member'], ['organizer'], ['member', 'organizer'], ['nobody']])
          expect(worded.task(action, audience), `${myRoles.join()} ${action} ${audience.join()}`).toEqual(engine.task(action, audience));
    }
    expect(capabilitiesFor(null, [], false, true, t).task('edit', ['member'])).toEqual(capabilitiesFor(null, [], false, true).task('edit', ['member']));
    const keyless = roles(false);
    const due = roles().map((r) => ({ ...r, rotationDue: true }));
    const none = roles().map((r) => ({ ...r, epoch: -1 }));
    for (const rs of [keyless, due, none, roles()]) expect(keyCheck(['member'], rs, t)).toEqual(keyCheck(['member'], rs));
  });
});

describe('members and keys in Spanish', () => {
  it('heads the members page, its table and its forms in Spanish', async () => {
    const { ctx, store } = await spanish('founder');
    const w = mountWith(MembersView, ctx, { store });
    await flushPromises();
    expect(w.find('#members-title').text()).toBe('Miembros y roles');
    expect(w.findAll('[data-testid="members"] thead th').map((h) => h.text())).toEqual(['Miembro', 'Roles', 'Dar un rol', 'Quitar']);
    expect(w.find('#add-title').text()).toBe('Añadir un miembro');
    expect(w.find('label[for="m-onion"]').text()).toBe('Dirección de su nodo');
    expect(w.find('form[aria-labelledby="add-title"] button[type="submit"]').text()).toBe('Añadir miembro');
    expect(w.find('[data-testid="members"] tbody').text()).toContain('(tú)');
    expect(w.find('[data-testid="members"] tbody').text()).toContain('fundador');
    // People are named in the language too: "you" is "tú" wherever this view names its reader.
    expect(w.find('.role-holders').text()).toContain('Member (member): tú, mo');
    for (const english of ['Members and roles', 'Give a role', 'Add a member', 'Their node address', '(you)', 'Remove…'])
      expect(w.text(), english).not.toContain(english);
  });

  it('heads the keys table in Spanish and asks before a rotation in Spanish', async () => {
    const { ctx, store } = await spanish('founder');
    const w = mountWith(KeysView, ctx, { store });
    await flushPromises();
    expect(w.find('#keys-title').text()).toBe('Claves');
    expect(w.findAll('[data-testid="keys"] thead th').map((h) => h.text())).toEqual([
      'Rol',
      'Época',
      'Titulares',
      'Sin la clave',
      'Última rotación',
      'Tú',
      'Pistas',
      'Rotar',
    ]);
    const row = w.find('tr[data-role="member"]');
    expect(row.text()).toContain('tienes la clave');
    expect(row.text()).toContain('tú, mo');
    await row
      .findAll('button')
      .find((b) => b.text() === 'Rotar')!
      .trigger('click');
    const dialog = w.find('[data-testid="confirm-rotate"]');
    expect(dialog.text()).toContain('¿Rotar la clave de Member?');
    expect(dialog.text()).toContain('Todo lo que se selle para Member a partir de ahora la usa');
    for (const english of ['Holders', 'Last rotation', 'hold the key', 'Rotate the key', 'Anything sealed']) expect(w.text(), english).not.toContain(english);
  });
});

describe('health in Spanish', () => {
  it('heads every card in Spanish and words the network, sync and gaps in Spanish', async () => {
    const status = {
      state: 'up',
      bootstrap: { progress: 100, summary: 'Done' },
      version: '0.4.9.11',
      circuitsOk: true,
      outages: 0,
      lastDownAt: null,
      lastUpAt: 1_000,
      lastError: null,
    };
    const { ctx, store } = await spanish('founder', { 'GET /api/network': () => ({ kind: 'tor', status }) });
    const w = mountWith(HealthView, ctx, { store });
    await flushPromises();
    expect(w.find('#health-title').text()).toBe('Salud');
    expect(w.findAll('h3').map((h) => h.text())).toEqual(
      expect.arrayContaining(['Registro de eventos', 'Red', 'Sincronización', 'Eventos rechazados', 'Eventos recientes', 'Pasar a otro relé']),
    );
    expect(w.find('[data-testid="network-status"]').text()).toBe('Tor 0.4.9.11: conectado');
    expect(w.find('section[aria-labelledby="h-network"]').text()).toContain('circuitos establecidos');
    expect(w.find('[data-testid="sync-status"]').text()).toMatch(/^grupo g{12} en el relé relay-bundle…, sincronizado con el relé$/);
    expect(w.find('[data-testid="gaps"]').text()).toBe(
      '2 detectados y 1 mensaje reparado desde otros miembros desde que arrancó este nodo; 1 aún falta, se está reparando desde otros miembros',
    );
    expect(w.find('[data-testid="relay-connection"]').text()).toBe(`conectado, sincronizado desde el ${new Date(4).toLocaleString('es', TIME)}`);
    for (const english of ['Event log', 'Events held', 'Network', 'connected', 'in sync', 'detected', 'Recent events', 'Rebuild'])
      expect(w.text(), english).not.toContain(english);
  });
});

describe('switching the language', () => {
  it('re-words the pursuance header, its tabs and the board already on screen', async () => {
    const { ctx } = await setupApp('founder');
    await ctx.router.push(`/p/${PID}/board`);
    const w = mountWith(RouterView, ctx);
    await flushPromises();
    const tabs = () => w.findAll('nav.tabs a').map((a) => a.text());
    // A founder holding every role has no audience to send tips to: no tip tab.
    expect(tabs()).toEqual(['Board', 'Tree', 'My tasks', 'New task', 'Members & roles', 'Rules', 'Keys', 'Links', 'Health']);
    expect(w.find('[data-testid="my-roles"]').text()).toBe('you: founder, Member, Organizer');
    expect(w.find('label[for="f-search"]').text()).toBe('Search');
    ctx.setLocale('es');
    await nextTick();
    expect(document.documentElement.lang).toBe('es');
    expect(tabs()).toEqual(['Tablero', 'Árbol', 'Mis tareas', 'Nueva tarea', 'Miembros y roles', 'Reglas', 'Claves', 'Enlaces', 'Salud']);
    expect(w.find('nav.tabs').attributes('aria-label')).toBe('Secciones del pursuance');
    expect(w.find('[data-testid="my-roles"]').text()).toBe('tú: fundador, Member, Organizer');
    expect(w.find('.pursuance-head').text()).toContain('2 miembros');
    expect(w.find('label[for="f-search"]').text()).toBe('Buscar');
    expect(w.find('[data-testid="not-on-relay"]').text()).toBe('Sin relé: nada se sincroniza');
    ctx.setLocale('en');
    await nextTick();
    expect(tabs()[0]).toBe('Board');
    expect(w.find('.pursuance-head').text()).toContain('2 members');
  });
});

// @vitest-environment happy-dom
/**
 * The dashboard's words: every catalog area in English and Spanish (whichever helper filled it)
 * has the same keys, placeholders and plural branches, and compiles; the chosen language is kept
 * and restored, set on <html lang>, and what is on screen follows a switch.
 */
import { flushPromises } from '@vue/test-utils';
import { nextTick } from 'vue';
import { createMemoryHistory } from 'vue-router';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../src/App.vue';
import CharCount from '../src/components/CharCount.vue';
import ErrorNotice from '../src/components/ErrorNotice.vue';
import { LOCALES, MESSAGES, createDashboardI18n, type Locale } from '../src/i18n/index.js';
import { ApiError, NETWORK_MESSAGE, explainError } from '../src/lib/api.js';
import { createAppContext } from '../src/lib/context.js';
import { count, countIn, lengthNote } from '../src/lib/format.js';
import NewTask from '../src/views/NewTask.vue';
import PursuanceList from '../src/views/PursuanceList.vue';
import { FakeEventSource, MemoryStorage, fakeFetch } from './support/fakes.js';
import { mountWith, setupApp, unmountAll } from './support/app.js';

afterEach(() => {
  unmountAll();
  localStorage.clear();
  document.documentElement.lang = '';
});

interface Tree {
  [key: string]: unknown;
}

/** Every leaf of a catalog as [dotted key, value]. */
function leaves(tree: Tree, prefix = ''): [string, unknown][] {
  return Object.entries(tree).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Tree, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

/** The message without its literals ({'{'}, {'@'}, {'|'}…), which are text, not syntax. */
const withoutLiterals = (m: string): string => m.replace(/\{\s*'[^']*'\s*\}/g, '');
/** Named and list placeholders ({n}, {name}, {0}) and linked keys (@:key), sorted. */
const placeholders = (m: string): string[] =>
  [...withoutLiterals(m).matchAll(/\{\s*([\w.]+)\s*\}|@(?:\.\w+)?:([\w.]+)/g)].map((x) => x[1] ?? `@${x[2]}`).sort();
const branches = (m: string): number => withoutLiterals(m).split('|').length;

const EN = new Map(leaves(MESSAGES.en));
const ES = new Map(leaves(MESSAGES.es));

describe('the catalogs (all areas, merged)', () => {
  it('are filled in at all (the test is not vacuous)', () => {
    expect(EN.size).toBeGreaterThan(100);
    for (const area of ['app', 'common', 'components', 'errors', 'views'])
      expect(
        [...EN.keys()].some((k) => k.startsWith(`${area}.`)),
        area,
      ).toBe(true);
  });

  it('have every English key in Spanish and every Spanish key in English', () => {
    expect([...EN.keys()].filter((k) => !ES.has(k))).toEqual([]);
    expect([...ES.keys()].filter((k) => !EN.has(k))).toEqual([]);
  });

  it('have only non-empty strings', () => {
    for (const [locale, map] of [
      ['en', EN],
      ['es', ES],
    ] as const)
      for (const [key, value] of map) {
        expect(typeof value, `${locale} ${key}`).toBe('string');
        expect((value as string).trim(), `${locale} ${key}`).not.toBe('');
      }
  });

  it('have the same placeholders and plural branches in both languages', () => {
    for (const [key, en] of EN) {
      const es = ES.get(key);
      if (typeof en !== 'string' || typeof es !== 'string') continue;
      expect(placeholders(es), key).toEqual(placeholders(en));
      expect(branches(es), key).toBe(branches(en));
    }
  });

  it('compile, and render every plural branch with its placeholders filled (no stray { } @ |)', () => {
    const i18n = createDashboardI18n('en');
    for (const { code } of LOCALES) {
      i18n.global.locale.value = code;
      for (const [key, message] of code === 'en' ? EN : ES) {
        if (typeof message !== 'string') continue;
        const named = Object.fromEntries(placeholders(message).map((p) => [p, `‹${p}›`]));
        for (const n of [0, 1, 2]) {
          const out = i18n.global.t(key, named, n);
          expect(out, `${code} ${key}`).not.toBe(key);
          expect(out, `${code} ${key}`).not.toMatch(/[{}|]|@:/);
        }
      }
    }
  });
});

describe('counts and error reasons in the chosen language', () => {
  it('countIn takes the plural for 0 and groups digits like count() in English; Spanish has its own words', () => {
    const i18n = createDashboardI18n('en');
    for (const n of [0, 1, 2, 20_000]) expect(countIn(i18n.global, 'common.count.comments', n)).toBe(count(n, 'comment', 'comments'));
    i18n.global.locale.value = 'es';
    expect(countIn(i18n.global, 'common.count.comments', 0)).toBe('0 comentarios');
    expect(countIn(i18n.global, 'common.count.comments', 1)).toBe('1 comentario');
    expect(countIn(i18n.global, 'common.count.characters', 20_000)).toBe(`${(20_000).toLocaleString('es')} caracteres`);
    expect(lengthNote(270, 300, i18n.global).text).toBe('quedan 30 caracteres de 300');
    expect(lengthNote(299, 300, i18n.global).text).toBe('queda 1 carácter de 300');
    i18n.global.locale.value = 'en';
    // The English words through the catalog are the words the English-only helper gives.
    for (const [length, max] of [
      [270, 300],
      [299, 300],
      [20_005, 20_000],
    ] as const)
      expect(lengthNote(length, max, i18n.global).text).toBe(lengthNote(length, max).text);
  });

  it("keeps the node's English words in English, and in Spanish shows the catalog's text for a known code", () => {
    const i18n = createDashboardI18n('en');
    const invalid = new ApiError(400, 'INVALID_REQUEST', 'Body "name" is too long (at most 120 characters).', undefined, { field: 'name' });
    expect(explainError(invalid, i18n.global)).toEqual({ text: invalid.message, lang: undefined, original: null });
    i18n.global.locale.value = 'es';
    // A general translation keeps the node's specifics beside it; a word-for-word one does not repeat them.
    expect(explainError(invalid, i18n.global)).toEqual({ text: 'Algo en esta solicitud no es válido.', lang: undefined, original: invalid.message });
    const notAttached = new ApiError(409, 'NOT_ATTACHED', EN.get('errors.code.NOT_ATTACHED') as string);
    expect(explainError(notAttached, i18n.global).original).toBeNull();
    expect(explainError(notAttached, i18n.global).text).toMatch(/^Este pursuance todavía no está en un relé/);
    // A code the catalog does not know: the node's message, marked as English for screen readers.
    expect(explainError(new ApiError(409, 'SOMETHING_NEW', 'A new refusal.'), i18n.global)).toEqual({ text: 'A new refusal.', lang: 'en', original: null });
    // The network failure is the dashboard's own: translated plainly, nothing else beside it.
    const network = ApiError.network(new TypeError('Failed to fetch'));
    expect(network.message).toBe(NETWORK_MESSAGE);
    expect(explainError(network, i18n.global)).toEqual({ text: ES.get('errors.code.NETWORK'), lang: undefined, original: null });
    // Words the dashboard already put in the chosen language stay as they are.
    const local = new ApiError(0, 'WRONG_PURSUANCE', 'Este paquete es de otra pursuance.', undefined, { localized: true });
    expect(explainError(local, i18n.global).text).toBe('Este paquete es de otra pursuance.');
  });

  it('ErrorNotice shows the reason in Spanish with the code alongside, and the action in the notice title', async () => {
    const { ctx } = await setupApp('founder');
    const error = new ApiError(422, 'DENIED', 'The rules of this pursuance do not let you do this (rule: "x").', 'x', { detail: 'no rule grants' });
    const w = mountWith(ErrorNotice, ctx, { error, action: 'create the task' });
    expect(w.find('[data-testid="error-reason"]').text()).toBe(error.message);
    expect(w.text()).toContain('Could not create the task');
    ctx.setLocale('es');
    await w.setProps({ action: 'crear la tarea' });
    expect(w.find('[data-testid="error-reason"]').text()).toBe('Las reglas de este pursuance no te permiten hacer esto.');
    expect(w.find('[data-testid="error-code"]').text()).toBe('DENIED');
    expect(w.find('[data-testid="error-code"]').attributes('title')).toBe('no rule grants');
    expect(w.find('[data-testid="error-original"] q').attributes('lang')).toBe('en');
    expect(w.text()).toContain('No se pudo crear la tarea');
    expect(w.find('[data-testid="error-rule"]').text()).toBe('x');
    expect(w.find('button').text()).toBe('Descartar');
  });
});

describe('switching the language', () => {
  it('sets <html lang>, keeps the choice, and a new app context starts in it', () => {
    const localeStorage = new MemoryStorage();
    const make = (languages: readonly string[] = []) =>
      createAppContext({
        fetch: fakeFetch({}).fetch,
        eventSource: (url) => new FakeEventSource(url),
        storage: new MemoryStorage(),
        localeStorage,
        languages,
        window,
        history: createMemoryHistory(),
      });
    const first = make();
    expect(first.i18n.global.locale.value).toBe('en');
    expect(document.documentElement.lang).toBe('en');
    first.setLocale('es');
    expect(document.documentElement.lang).toBe('es');
    expect(localeStorage.getItem('pursuance.locale')).toBe('es');
    document.documentElement.lang = '';
    const second = make(['en-US']);
    // The stored choice wins over the browser's preference.
    expect(second.i18n.global.locale.value).toBe<Locale>('es');
    expect(document.documentElement.lang).toBe('es');
    expect(second.i18n.global.t('app.language')).toBe('Idioma');
    second.setLocale('en');
    expect(make(['es-MX']).i18n.global.locale.value).toBe('en');
    localeStorage.clear();
    expect(make(['es-MX', 'en']).i18n.global.locale.value).toBe('es');
  });

  it("the sign-in page's notice follows a switch too", async () => {
    const localeStorage = new MemoryStorage();
    const bar = { location: { hash: '#token=cut-short', pathname: '/', search: '' }, history: { state: null, replaceState: () => undefined } };
    const ctx = createAppContext({
      fetch: fakeFetch({}).fetch,
      eventSource: (url) => new FakeEventSource(url),
      storage: new MemoryStorage(),
      localeStorage,
      window: bar as unknown as Window,
      history: createMemoryHistory(),
    });
    expect(ctx.session.notice.value).toMatch(/^The sign-in link was cut short/);
    ctx.setLocale('es');
    await nextTick();
    expect(ctx.session.notice.value).toMatch(/^El enlace de inicio de sesión está incompleto/);
    ctx.session.set('T'.repeat(43));
    ctx.setLocale('en');
    await nextTick();
    expect(ctx.session.notice.value).toBeNull();
  });

  it('the header select switches the page: its own name, the navigation, and the view under it', async () => {
    const { ctx } = await setupApp('founder');
    await ctx.router.push('/');
    const w = mountWith(App, ctx);
    await flushPromises();
    const select = w.find('select[data-testid="locale"]');
    // Its label's words (the options are inside the label too; the browser test checks the computed name).
    const name = () => (select.element as HTMLSelectElement).labels?.[0]?.querySelector('.sr-only')?.textContent;
    expect(name()).toBe('Language');
    expect(w.find('h1').text()).toBe('Your pursuances');
    await select.setValue('es');
    await flushPromises();
    expect(document.documentElement.lang).toBe('es');
    expect(localStorage.getItem('pursuance.locale')).toBe('es');
    expect(name()).toBe('Idioma');
    expect(w.find('h1').text()).toBe('Tus pursuances');
    expect(w.find('nav').attributes('aria-label')).toBe('Principal');
    expect(w.find('.skip-link').text()).toBe('Saltar al contenido');
    expect(w.find('[data-testid="live-status"]').text()).not.toMatch(/Live|Connecting|Offline/);
  });

  it('a translated view and its counts follow a switch while it is open', async () => {
    const { ctx, store } = await setupApp('founder');
    const list = mountWith(PursuanceList, ctx);
    const task = mountWith(NewTask, ctx, { store });
    await flushPromises();
    expect(task.find('h2').text()).toBe('New task');
    expect(task.text()).toMatch(/\(\d+ holders?\)/);
    expect(task.find('[data-testid="char-count"]').text()).toBe('up to 300 characters');
    ctx.setLocale('es');
    await nextTick();
    expect(task.find('h2').text()).toBe('Nueva tarea');
    expect(task.find('button[type="submit"]').text()).toBe('Crear la tarea');
    expect(task.text()).toMatch(/\(\d+ titular(es)?\)/);
    expect(task.find('[data-testid="char-count"]').text()).toBe('hasta 300 caracteres');
    expect(list.find('h1').text()).toBe('Tus pursuances');
    expect(list.text()).toContain('Abrir el tablero');
    const counter = mountWith(CharCount, ctx, { value: 'x'.repeat(301), max: 300 });
    expect(counter.text()).toBe('1 carácter por encima del límite de 300');
  });
});

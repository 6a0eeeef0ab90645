import { createI18n, type I18n } from 'vue-i18n';
import { admission } from './admission.js';
import { app } from './app.js';
import { board } from './board.js';
import { common } from './common.js';
import { components } from './components.js';
import { errors } from './errors.js';
import { history } from './history.js';
import { invite } from './invite.js';
import { join } from './join.js';
import { links } from './links.js';
import { members } from './members.js';
import { pursuance } from './pursuance.js';
import { rules } from './rules.js';
import { task } from './task.js';
import { views } from './views.js';

/**
 * The dashboard's words, in catalogs by area (one file each, `{ en, es }`), merged here. English
 * is the reference and the fallback; every other language must have every key English has
 * (test/i18n.test.ts checks keys and placeholders). The chosen language is kept in storage and
 * set on <html lang> so screen readers pronounce it right.
 */
export const LOCALES = [
  { code: 'en', label: 'English' },
  { code: 'es', label: 'Español' },
] as const;
export type Locale = (typeof LOCALES)[number]['code'];

const AREAS = { admission, app, board, common, components, errors, history, invite, join, links, members, pursuance, rules, task, views };
interface Catalog {
  [key: string]: string | Catalog;
}

function messagesOf(locale: Locale): Catalog {
  const out: Catalog = {};
  for (const [area, catalog] of Object.entries(AREAS)) out[area] = (catalog as Record<Locale, Catalog>)[locale];
  return out;
}

export const MESSAGES: Record<Locale, Catalog> = { en: messagesOf('en'), es: messagesOf('es') };

const STORAGE_KEY = 'pursuance.locale';

export function isLocale(value: unknown): value is Locale {
  return LOCALES.some((l) => l.code === value);
}

/** The language to start in: the one chosen before, else the browser's if we have it, else English. */
export function initialLocale(storage?: Pick<Storage, 'getItem'>, languages: readonly string[] = []): Locale {
  const saved = storage?.getItem(STORAGE_KEY);
  if (isLocale(saved)) return saved;
  for (const tag of languages) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLocale(base)) return base;
  }
  return 'en';
}

export type DashboardI18n = I18n<Record<string, Catalog>, Record<string, never>, Record<string, never>, string, false>;

export function createDashboardI18n(locale: Locale): DashboardI18n {
  const i18n: DashboardI18n = createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: MESSAGES,
    // A missing key is a bug the catalog test catches; at run time it falls back to English quietly.
    missingWarn: false,
    fallbackWarn: false,
  });
  return i18n;
}

/** Switch the language: the catalogs, <html lang>, and the stored choice. */
export function setLocale(i18n: DashboardI18n, locale: Locale, storage?: Pick<Storage, 'setItem'>, doc?: Document): void {
  i18n.global.locale.value = locale;
  storage?.setItem(STORAGE_KEY, locale);
  if (doc) doc.documentElement.lang = locale;
}

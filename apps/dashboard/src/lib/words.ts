import { useI18n } from 'vue-i18n';
import { createDashboardI18n } from '../i18n/index.js';

/** A vue-i18n `t` as lib code takes it: a component's `useI18n().t` or `app.i18n.global.t`. */
export type Translate = (key: string, named?: Record<string, unknown>, plural?: number) => string;

/** What lib code needs to put things in words: the catalogs' `t`, and dates in the same language. */
export interface Words {
  readonly t: Translate;
  /** A date and time ('—' for none). */
  readonly time: (ms: number | null | undefined) => string;
  /** A date ('—' for none). */
  readonly date: (ms: number | null | undefined) => string;
}

/** The same fields as format.ts's formatTime / formatDate, in the chosen language instead of the system's. */
const TIME: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
const DATE: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric' };

function wordsIn(t: Translate, locale: () => string): Words {
  return {
    t,
    time: (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toLocaleString(locale(), TIME)),
    date: (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toLocaleDateString(locale(), DATE)),
  };
}

let english: Words | null = null;
/** English words, for lib code called without any (tests, and callers outside a component). */
export function englishWords(): Words {
  if (!english) {
    const i18n = createDashboardI18n('en');
    english = wordsIn(i18n.global.t, () => 'en');
  }
  return english;
}

/**
 * For a component: `t`, `plural` (a two-branch catalog entry, `'{n} comment | {n} comments'`,
 * with `{n}` digit-grouped for the language; English and Spanish both take the plural for 0),
 * dates, and a number in the chosen language. Reading `locale` inside each makes templates
 * re-render when the language is switched.
 */
export function useWords() {
  const { t, locale } = useI18n();
  const num = (n: number) => n.toLocaleString(locale.value);
  const words = wordsIn(t, () => locale.value);
  return {
    ...words,
    t,
    locale,
    num,
    plural: (key: string, n: number, named: Record<string, unknown> = {}) => t(key, { ...named, n: num(n) }, n),
  };
}

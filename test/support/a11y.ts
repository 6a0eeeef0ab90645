import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

/**
 * Small in-page accessibility checks for the browser tests (strings evaluated in the page, so
 * this file needs no DOM types): form controls without an accessible name, and visible text
 * whose contrast against its background is below WCAG AA (4.5:1). Disabled controls and
 * screen-reader-only text are exempt, as WCAG exempts them.
 */
export interface ContrastProblem {
  readonly text: string;
  readonly ratio: number;
  readonly color: string;
}

const CONTRAST = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const out = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    if (el.closest(':disabled, .sr-only, [aria-hidden="true"], option, script, style')) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    const fg = parse(getComputedStyle(el).color);
    if (!fg) continue;
    const [hi, lo] = [lum(fg), lum(bgOf(el))].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) out.push({ text: n.textContent.trim().slice(0, 50), ratio: Math.round(ratio * 100) / 100, color: getComputedStyle(el).color });
  }
  return out;
})()`;

const UNNAMED = `(() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((el) => el.getClientRects().length > 0 && el.type !== 'hidden')
  .filter((el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title) return false;
    if (el.labels && el.labels.length > 0) return false;
    if ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim()) return false;
    return true;
  })
  .map((el) => el.outerHTML.slice(0, 120)))()`;

export function contrastProblems(page: Page): Promise<ContrastProblem[]> {
  return page.evaluate<ContrastProblem[]>(CONTRAST);
}

export function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(UNNAMED);
}

/** One axe-core finding, short enough to read in a failed assertion. */
export interface AxeViolation {
  readonly rule: string;
  readonly impact: string | null;
  readonly help: string;
  /** The elements (CSS selector and the start of their markup). */
  readonly nodes: readonly string[];
}

/** axe-core's browser bundle (a root devDependency), read once. */
let axeSource: Promise<string> | null = null;
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The impacts a test fails on by default: what blocks or seriously hinders someone using assistive technology. */
const FAILING_IMPACTS: readonly string[] = ['serious', 'critical'];

/**
 * Runs axe-core (WCAG 2.0–2.2 A and AA, and its best-practice rules) on the page as it is now
 * and returns its violations of the given impacts (serious and critical unless told). The bundle is evaluated through the DevTools
 * protocol (page.evaluate), which the dashboard's strict CSP (script-src 'self') does not govern,
 * so the page under test needs no CSP exception. No rule is disabled.
 */
export async function axeViolations(page: Page, impacts: readonly string[] = FAILING_IMPACTS): Promise<AxeViolation[]> {
  axeSource ??= readFile(AXE_PATH, 'utf8');
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(await axeSource);
  const found = await page.evaluate<{ id: string; impact: string | null; help: string; nodes: { target: unknown[]; html: string }[] }[]>(`(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, html: n.html })) }));
  })()`);
  return found
    .filter((v) => v.impact !== null && impacts.includes(v.impact))
    .map((v) => ({ rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')} ${n.html.slice(0, 120)}`) }));
}

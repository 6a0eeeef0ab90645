// Part of every mutation run (mutation/vitest.config.ts adds it): imports each mutated file
// inside a test. A mutant that makes a module throw while loading (a zod schema built wrong,
// an unknown TextDecoder label) makes every test file importing it fail to load, and the
// vitest runner counts a file that fails to load as zero tests run — a false survivor. Here the
// load failure is a failing test, so Stryker sees the mutant killed.
import { expect, it } from 'vitest';
import { MODULES } from './modules.mjs';

const name = process.env.MUTATE_MODULE ?? '';
const mod = Object.hasOwn(MODULES, name) ? (MODULES as Record<string, { mutate: string[] }>)[name] : undefined;

// An entry may name a line range (`file.ts:10-40`): the file is what loads.
for (const file of new Set((mod?.mutate ?? []).map((entry) => entry.replace(/:\d+-\d+$/, '')))) {
  it(`${file} loads`, async () => {
    const loaded: unknown = await import(new URL(`../${file}`, import.meta.url).pathname);
    expect(loaded).toBeTypeOf('object');
  });
}

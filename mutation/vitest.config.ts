// The vitest config Stryker drives: the root config without the `tsc -b` global setup (no test
// under mutation spawns a built process), limited to the test files of the module being mutated.
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';
import { MODULES } from './modules.mjs';

const name = process.env.MUTATE_MODULE ?? '';
const mod = Object.hasOwn(MODULES, name) ? (MODULES as Record<string, { tests: string[]; ignoreStatic?: boolean }>)[name] : undefined;
if (mod === undefined) throw new Error(`MUTATE_MODULE must name one of: ${Object.keys(MODULES).join(', ')}`);

// The same rule as stryker.config.mjs. With static mutants ignored, modules-load.test.ts must stay
// out: its import inside a test gives every module-level mutant per-test coverage, Stryker then
// treats them as "hybrid" and judges them by that one test alone (runtime activation), so a
// gutted table such as TASK_ACTION_OF showed as a false survivor. Without it they are Ignored.
const ignoreStatic = process.env.MUTATE_IGNORE_STATIC === undefined ? (mod.ignoreStatic ?? false) : process.env.MUTATE_IGNORE_STATIC === '1';

// MUTATE_SKIP_TESTS (comma-separated globs): leave out test files that fail for reasons of their
// own (Stryker needs a green initial run), e.g. regression tests written ahead of their fix.
const skipped = (process.env.MUTATE_SKIP_TESTS ?? '').split(',').filter((g) => g !== '');

// The relay's tests build token keyrings synchronously: the root config loads libsodium for their
// projects (test/support/load-voprf.ts), which the flat project below does not inherit.
const loadsVoprf = mod.tests.some((g) => /^(packages|apps)\/relay\//.test(g));

// The root config's per-workspace projects would replace `include` below: one flat project here.
const { projects: _projects, ...baseTest } = base.test ?? {};

export default defineConfig({
  ...base,
  root: new URL('..', import.meta.url).pathname,
  test: {
    ...baseTest,
    globalSetup: [],
    setupFiles: [
      ...(base.test?.setupFiles === undefined ? [] : [base.test.setupFiles].flat()),
      ...(loadsVoprf ? ['test/support/load-voprf.ts'] : []),
      ...(process.env.MUTATE_SKIP_TEST_NAMES ? ['mutation/skip-tests.setup.ts'] : []),
    ],
    // Instrumented code with per-test coverage runs several times slower on a loaded machine;
    // a fuzz test that fits 30 s normally must not fail the dry run (Stryker times mutants itself).
    testTimeout: 180_000,
    include: [...mod.tests.filter((g) => !g.startsWith('!')), ...(ignoreStatic ? [] : ['mutation/modules-load.test.ts'])],
    exclude: ['**/node_modules/**', ...mod.tests.filter((g) => g.startsWith('!')).map((g) => g.slice(1)), ...skipped],
  },
});

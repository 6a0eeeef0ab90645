// One Stryker configuration for every module; MUTATE_MODULE picks which (see mutation/run.mjs).
import { readFileSync } from 'node:fs';
import { MODULES } from './modules.mjs';

const name = process.env.MUTATE_MODULE ?? '';
const mod = Object.hasOwn(MODULES, name) ? MODULES[name] : undefined;
if (mod === undefined) throw new Error(`MUTATE_MODULE must name one of: ${Object.keys(MODULES).join(', ')}`);

// MUTATE_TAG keeps a separate report and incremental file (e.g. a second pass over some lines).
const dir = `mutation/reports/${name}${process.env.MUTATE_TAG ? `-${process.env.MUTATE_TAG}` : ''}`;

// MUTATE_ONLY names a file of Stryker mutate ranges (`path:line:col-line:col`, one a line) to
// test only those mutants of the module (e.g. a second pass over earlier survivors).
const only = process.env.MUTATE_ONLY
  ? readFileSync(process.env.MUTATE_ONLY, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
  : undefined;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'mutation/vitest.config.ts', related: false },
  mutate: only ?? mod.mutate,
  coverageAnalysis: 'perTest',
  disableBail: mod.disableBail ?? false,
  ignoreStatic: process.env.MUTATE_IGNORE_STATIC === undefined ? (mod.ignoreStatic ?? false) : process.env.MUTATE_IGNORE_STATIC === '1',
  // Two shared cores: at most two workers, and generous timeouts so load is not read as an
  // infinite loop (a mutant that really loops still ends as Timeout).
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
  timeoutMS: 15_000,
  // The dry run of a big module (pursuance: ~70 s alone) exceeds Stryker's 5-minute default
  // when other runs share the cores.
  dryRunTimeoutMinutes: 20,
  timeoutFactor: 2.5,
  // Re-runs only test what changed since the last run of this module (sources or tests). It does
  // not notice a new test that covers a static (module-level) survivor: pass --force then.
  incremental: true,
  incrementalFile: `${dir}/incremental.json`,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: `${dir}/mutation.json` },
  htmlReporter: { fileName: `${dir}/mutation.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['/.data', '/test/tor/data', '/mutation/reports', '/coverage', '/apps/dashboard/dist', '**/dist', '*.sqlite*'],
  cleanTempDir: true,
  thresholds: { high: 90, low: 75, break: null },
};

#!/usr/bin/env node
// The project's full check, as CI runs it: typecheck, lint, format and dependency checks, then
// every vitest test, and a closing line "N passed, N failed" computed from vitest's JSON report
// (CI does not read vitest's own summary). Exits non-zero when anything failed, was skipped, or nothing ran.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const bin = (name) => `node_modules/.bin/${name}`;
const run = (label, cmd, args) => {
  process.stdout.write(`\n== ${label}: ${cmd} ${args.join(' ')}\n`);
  const started = Date.now();
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  process.stdout.write(`== ${label}: exit ${result.status} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return result.status === 0;
};

let stageFailures = 0;
if (!run('typecheck', bin('tsc'), ['-b'])) stageFailures++;
// The local lint rules (eslint-rules/) are plain JS checked by tsc through JSDoc, outside `tsc -b`.
if (!run('typecheck lint rules', bin('tsc'), ['-p', 'eslint-rules'])) stageFailures++;
// The dashboard's .vue files are outside `tsc -b`: vue-tsc checks them (and its tests) with its own tsconfig.
if (!run('typecheck dashboard', bin('vue-tsc'), ['--noEmit', '-p', 'apps/dashboard/tsconfig.json'])) stageFailures++;
if (!run('lint', bin('eslint'), ['.', '--max-warnings=0'])) stageFailures++;
if (!run('format', bin('prettier'), ['--check', '.'])) stageFailures++;
// Every import declared by its workspace, every declared dependency used (knip.config.ts).
if (!run('dependencies', bin('knip'), [])) stageFailures++;

mkdirSync('.tsbuild', { recursive: true });
const report = '.tsbuild/vitest-report.json';
rmSync(report, { force: true });
const vitestOk = run('tests', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  for (const file of json.testResults) {
    for (const t of file.assertionResults) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') failed++;
      else skipped++;
    }
    // A file that failed to load (syntax error, failing hook) has no assertions but counts.
    if (file.status === 'failed' && file.assertionResults.every((t) => t.status !== 'failed')) failed++;
  }
} catch (err) {
  process.stdout.write(`could not read the vitest report: ${err.message}\n`);
  failed++;
}
if (!vitestOk && failed === 0) failed++;
failed += stageFailures;
if (passed === 0) process.stdout.write('no test passed: treating the run as failed\n');
if (skipped > 0) process.stdout.write(`${skipped} skipped or todo tests: not allowed, treated as failure\n`);

process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed === 0 && skipped === 0 && passed > 0 ? 0 : 1);

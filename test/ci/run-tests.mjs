#!/usr/bin/env node
// The project's full check, as CI runs it: typecheck, lint, format and dependency checks, then
// every vitest test, and a closing line "N passed, N failed" computed from vitest's JSON report
// (CI does not read vitest's own summary). Exits non-zero when anything failed, was skipped, or nothing ran.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';

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
// The longest test file takes about 70 s here; vitest prints at least once per file. Silence this
// long means a stuck run (once, a fork worker sat idle with no CPU for 17 minutes), not a slow one.
const STALL_MS = 10 * 60_000;

/** Run vitest, passing its output through; 'stalled' when it printed nothing for STALL_MS (it is killed then). */
function runVitest() {
  const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  process.stdout.write(`\n== tests: ${bin('vitest')} ${args.join(' ')}\n`);
  const started = Date.now();
  return new Promise((resolve) => {
    // Its own process group, so a stall kills its workers too.
    const child = spawn(bin('vitest'), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let last = Date.now();
    const pass = (to) => (chunk) => {
      last = Date.now();
      to.write(chunk);
    };
    child.stdout.on('data', pass(process.stdout));
    child.stderr.on('data', pass(process.stderr));
    let stalled = false;
    const watch = setInterval(() => {
      if (Date.now() - last < STALL_MS) return;
      stalled = true;
      clearInterval(watch);
      process.stdout.write(`\n== tests: nothing printed for ${STALL_MS / 60_000} minutes; the processes as they were:\n`);
      const ps = spawnSync('ps', ['-eo', 'pgid,pid,ppid,stat,etime,time,rss,args'], { encoding: 'utf8' }).stdout ?? '';
      for (const line of ps.split('\n')) if (line.trim().split(/\s+/)[0] === String(child.pid)) process.stdout.write(`${line.slice(0, 200)}\n`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 10_000);
    child.on('close', (code) => {
      clearInterval(watch);
      process.stdout.write(`== tests: ${stalled ? 'killed after stalling' : `exit ${code}`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      resolve(stalled ? 'stalled' : code === 0 ? 'ok' : 'failed');
    });
  });
}

let outcome = await runVitest();
if (outcome === 'stalled') {
  // Reported above with the processes' state; a second stall, or any failure, fails CI.
  process.stdout.write('== tests: running the whole suite once more after the stall\n');
  rmSync(report, { force: true });
  outcome = await runVitest();
}
const vitestOk = outcome === 'ok';

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

#!/usr/bin/env node
// The project's full check, as CI runs it: typecheck, lint, format and dependency checks, then
// every vitest test, and a closing line "N passed, N failed" computed from vitest's JSON report
// (CI does not read vitest's own summary). Exits non-zero when anything failed, was skipped, or nothing ran.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { countResults, readProgressLog } from './tally.mjs';
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
// The longest test file takes about 70 s here and the longest hook may wait 4 minutes (hookTimeout);
// vitest prints at least once per file. Silence this long means a stuck run (fork workers have sat
// idle with no CPU for 10 minutes and more), not a slow one. CI_STALL_MINUTES changes it (to try the
// diagnostics on a run made to hang).
const STALL_MS = Number(process.env.CI_STALL_MINUTES ?? 5) * 60_000;

const progress = resolve('.tsbuild/vitest-progress.log');
const reports = resolve('.tsbuild/stall-reports');

/** The progress log (test/ci/progress-reporter.mjs) as read so far; empty when there is none. */
const progressLog = () => readProgressLog(existsSync(progress) ? readFileSync(progress, 'utf8') : '');

/** What the progress reporter saw start and not end, and its last lines. */
function printProgress() {
  const { open, lines } = progressLog();
  process.stdout.write(`started and not ended (${open.length}):\n${open.map((l) => `  ${l}`).join('\n')}\n`);
  process.stdout.write(
    `the progress log's last lines:\n${lines
      .slice(-12)
      .map((l) => `  ${l}`)
      .join('\n')}\n`,
  );
}

/** Where each stalled process's main thread waits in the kernel, then the Node report each writes on SIGUSR2. */
async function printProcesses(pgid) {
  const ps = spawnSync('ps', ['-eo', 'pgid,pid,ppid,stat,etime,time,rss,args'], { encoding: 'utf8' }).stdout ?? '';
  const pids = [];
  for (const line of ps.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== String(pgid)) continue;
    // Only node processes write a report; the signal's default action would end anything else.
    if (/(^|\/)node$/.test(cols[7] ?? '')) pids.push(Number(cols[1]));
    const read = (f) => {
      try {
        return readFileSync(`/proc/${cols[1]}/${f}`, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    const syscall = read('syscall').split(' ')[0];
    process.stdout.write(`${line.slice(0, 200)}\n    waits in ${read('wchan')} (syscall ${syscall})\n`);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGUSR2');
    } catch {
      // Gone since ps.
    }
  }
  await sleep(5_000);
  const wrote = new Set();
  for (const name of existsSync(reports) ? readdirSync(reports) : []) {
    try {
      const r = JSON.parse(readFileSync(`${reports}/${name}`, 'utf8'));
      wrote.add(r.header.processId);
      const args = r.header.commandLine.join(' ').slice(0, 160);
      process.stdout.write(`report of pid ${r.header.processId} (${args}):\n`);
      const stack = r.javascriptStack.stack?.slice(0, 6).join(' | ') ?? '(none: the event loop was idle)';
      process.stdout.write(`  JS stack: ${r.javascriptStack.message} ${stack}\n`);
      // The loop's own machinery (async, check, prepare, idle, signal) says nothing about what it waits for.
      const telling = (h) => h.is_active && !['async', 'check', 'prepare', 'idle', 'signal'].includes(h.type);
      for (const h of r.libuv.filter(telling))
        process.stdout.write(
          `  active ${h.type}${h.is_referenced ? '' : ' (unref)'} ${JSON.stringify({ ...h, type: undefined, is_active: undefined, is_referenced: undefined, address: undefined })}\n`,
        );
    } catch (err) {
      process.stdout.write(`report ${name}: unreadable (${err.message})\n`);
    }
  }
  for (const pid of pids.filter((p) => !wrote.has(p)))
    process.stdout.write(`pid ${pid} wrote no report: its JS thread is busy or blocked (see where it waits, above)\n`);
}

/**
 * Run vitest on the given files (all when none), passing its output through; 'stalled' when it
 * printed nothing for STALL_MS (it is killed then).
 */
function runVitest(files = []) {
  const args = ['run', ...files, '--reporter=default', '--reporter=json', '--reporter=./test/ci/progress-reporter.mjs', `--outputFile.json=${report}`];
  const shown = files.length > 0 ? ['run', `(${files.length} file${files.length === 1 ? '' : 's'})`, ...args.slice(1 + files.length)] : args;
  process.stdout.write(`\n== tests: ${bin('vitest')} ${shown.join(' ')}\n`);
  rmSync(progress, { force: true });
  rmSync(reports, { recursive: true, force: true });
  mkdirSync(reports, { recursive: true });
  const started = Date.now();
  // Every node process of the run writes a diagnostic report (its JS stack and libuv handles) on
  // SIGUSR2, which a stall sends before the kill. The directory is quoted: NODE_OPTIONS splits on
  // spaces outside double quotes, and a clone's path may have one.
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --report-on-signal --report-signal=SIGUSR2 --report-directory=${JSON.stringify(reports)}`.trim();
  return new Promise((resolve) => {
    // Its own process group, so a stall kills its workers too.
    const child = spawn(bin('vitest'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, NODE_OPTIONS: nodeOptions, VITEST_PROGRESS_LOG: progress },
    });
    let last = Date.now();
    const pass = (to) => (chunk) => {
      last = Date.now();
      to.write(chunk);
    };
    child.stdout.on('data', pass(process.stdout));
    child.stderr.on('data', pass(process.stderr));
    let stalled = false;
    const watch = setInterval(async () => {
      if (stalled || Date.now() - last < STALL_MS) return;
      stalled = true;
      clearInterval(watch);
      process.stdout.write(`\n== tests: nothing printed for ${STALL_MS / 60_000} minutes; what had started:\n`);
      printProgress();
      process.stdout.write('the processes as they were:\n');
      await printProcesses(child.pid);
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

// A stall kills the run before vitest writes its report. The files that had ended keep the results
// the progress log holds for them; the rest run again, up to ATTEMPTS runs in all. A failure in
// any of them, or a last run that stalls too, fails CI.
const ATTEMPTS = 3;
const carried = new Map();
let outcome = await runVitest();
for (let attempt = 2; outcome === 'stalled' && attempt <= ATTEMPTS; attempt++) {
  const { planned, ended } = progressLog();
  for (const [file, result] of ended) carried.set(file, result);
  const rest = planned.filter((file) => !carried.has(file)).map((file) => relative(process.cwd(), file));
  if (planned.length === 0) process.stdout.write('== tests: the stalled run had not planned its files yet; running them all again\n');
  else process.stdout.write(`== tests: ${carried.size} files ended before the stall; running the other ${rest.length} again\n`);
  rmSync(report, { force: true });
  outcome = await runVitest(planned.length === 0 ? [] : rest);
}
const vitestOk = outcome === 'ok';

for (const result of carried.values())
  if (result.failures.length > 0)
    process.stdout.write(`failed before the stall, in ${relative(process.cwd(), result.file)}:\n${result.failures.map((f) => `  ${f}`).join('\n')}\n`);
let vitestReport = { testResults: [] };
let unreadable = false;
try {
  vitestReport = JSON.parse(readFileSync(report, 'utf8'));
} catch (err) {
  process.stdout.write(`could not read the vitest report: ${err.message}\n`);
  unreadable = true;
}
let { passed, failed, skipped } = countResults(carried, vitestReport);
if (unreadable) failed++;
if (!vitestOk && failed === 0) failed++;
failed += stageFailures;
if (passed === 0) process.stdout.write('no test passed: treating the run as failed\n');
if (skipped > 0) process.stdout.write(`${skipped} skipped or todo tests: not allowed, treated as failure\n`);

process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed === 0 && skipped === 0 && passed > 0 ? 0 : 1);

// A vitest reporter that writes, as it happens, which files the run will take, which was handed to
// a worker, which test and hook started and ended, and each file's results once it has ended, to
// the file named by VITEST_PROGRESS_LOG. vitest's own reporters print a file only once it has
// ended and write their JSON only when the run ends, so when a run goes silent they cannot say
// what it was doing nor what it had finished; test/ci/run-tests.mjs reads this file then, prints
// what had started and not ended, keeps the results of the files that ended, and runs the rest again.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.env.VITEST_PROGRESS_LOG;
const started = Date.now();

/** One line per event: seconds since the run started, the event, what it concerns. Sync, so a hang cannot lose it. */
function log(event, what) {
  if (!file) return;
  appendFileSync(file, `${((Date.now() - started) / 1000).toFixed(1)} ${event} ${what}\n`);
}

const moduleName = (testModule) => `${testModule.project.name}:${relative(process.cwd(), testModule.moduleId)}`;
const hookName = (hook) => {
  const e = hook.entity;
  const where = e.type === 'module' ? moduleName(e) : `${moduleName(e.module)} > ${e.fullName}`;
  return `${hook.name} ${where}`;
};

/** A file's results as run-tests.mjs counts them: its state, its tests by state, what failed and why. */
function results(testModule) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];
  for (const test of testModule.children.allTests()) {
    const { state, errors } = test.result();
    if (state === 'passed') counts.passed++;
    else if (state === 'failed') {
      counts.failed++;
      failures.push(`${test.fullName}: ${errors?.[0]?.message ?? '(no message)'}`);
    } else counts.skipped++;
  }
  // A file that failed without a failing test (an import or hook error) has its errors here.
  for (const error of testModule.errors()) failures.push(`(file) ${error.message}`);
  return { file: testModule.moduleId, state: testModule.state(), ...counts, failures };
}

export default class ProgressReporter {
  onTestRunStart(specifications) {
    for (const spec of specifications) log('planned', spec.moduleId);
  }
  onTestModuleQueued(testModule) {
    log('queued', moduleName(testModule));
  }
  onTestModuleStart(testModule) {
    log('collected', moduleName(testModule));
  }
  onTestModuleEnd(testModule) {
    log('result', JSON.stringify(results(testModule)));
    log('ended', moduleName(testModule));
  }
  onTestCaseReady(testCase) {
    log('test-start', `${moduleName(testCase.module)} > ${testCase.fullName}`);
  }
  onTestCaseResult(testCase) {
    log('test-end', `${moduleName(testCase.module)} > ${testCase.fullName}`);
  }
  onHookStart(hook) {
    log('hook-start', hookName(hook));
  }
  onHookEnd(hook) {
    log('hook-end', hookName(hook));
  }
}

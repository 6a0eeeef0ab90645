// A vitest reporter that writes, as it happens, which file was handed to a worker, which test and
// which hook started and ended, to the file named by VITEST_PROGRESS_LOG. vitest's own reporters
// print a file only once it has ended, so when a run goes silent they cannot say what it was
// doing; test/ci/run-tests.mjs reads this file then and prints what had started and not ended.
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

export default class ProgressReporter {
  onTestModuleQueued(testModule) {
    log('queued', moduleName(testModule));
  }
  onTestModuleStart(testModule) {
    log('collected', moduleName(testModule));
  }
  onTestModuleEnd(testModule) {
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

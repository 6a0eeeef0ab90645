// What run-tests.mjs reads after vitest: the progress log that test/ci/progress-reporter.mjs writes
// (so a stalled run's finished files keep their results), and the count behind CI's closing line.
// Pure functions of text and parsed JSON, so they can be tested without running vitest.

/** Events the reporter writes in pairs: the one that opens and the one that closes. */
const PAIRS = new Map([
  ['queued', 'ended'],
  ['test-start', 'test-end'],
  ['hook-start', 'hook-end'],
]);
const CLOSERS = new Map([...PAIRS].map(([open, close]) => [close, open]));

/**
 * The progress log read: the files the run planned, the results of each file that ended (by its
 * absolute path), and the lines of what had started and not ended, in the order they started.
 * @param {string} text
 */
export function readProgressLog(text) {
  /** @type {string[]} */
  const planned = [];
  /** @type {Map<string, FileResult>} */
  const ended = new Map();
  /** @type {Map<string, string>} */
  const open = new Map();
  const lines = text.split('\n').filter((line) => line !== '');
  for (const line of lines) {
    const [, event = '', ...rest] = line.split(' ');
    const what = rest.join(' ');
    if (event === 'planned') planned.push(what);
    else if (event === 'result') {
      const result = fileResult(JSON.parse(what));
      ended.set(result.file, result);
    } else if (PAIRS.has(event)) open.set(`${event} ${what}`, line);
    else if (CLOSERS.has(event)) open.delete(`${CLOSERS.get(event)} ${what}`);
  }
  return { planned, ended, open: [...open.values()], lines };
}

/**
 * @typedef {{ file: string, state: string, passed: number, failed: number, skipped: number, failures: string[] }} FileResult
 */

/** A result line checked field by field: a malformed one is an error, never a silent zero. */
function fileResult(value) {
  const count = (n) => Number.isSafeInteger(n) && n >= 0;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof value.file !== 'string' ||
    typeof value.state !== 'string' ||
    ![value.passed, value.failed, value.skipped].every(count) ||
    !Array.isArray(value.failures) ||
    !value.failures.every((f) => typeof f === 'string')
  )
    throw new TypeError(`a malformed result in the progress log: ${JSON.stringify(value).slice(0, 200)}`);
  return value;
}

/**
 * The closing line's counts: the files that ended before a stall (carried) as the progress log
 * recorded them, then every file of vitest's JSON report that is not among them (vitest's file
 * filters match by substring, so a rerun may take a carried file again: it is counted once). A file
 * that failed with no failing test (an import or hook error) counts as one failure.
 * @param {Map<string, FileResult>} carried
 * @param {{ testResults: { name: string, status: string, assertionResults: { status: string }[] }[] }} report
 */
export function countResults(carried, report) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const result of carried.values()) {
    passed += result.passed;
    failed += result.failed;
    skipped += result.skipped;
    if (result.state === 'failed' && result.failed === 0) failed++;
  }
  for (const file of report.testResults.filter((f) => !carried.has(f.name))) {
    for (const t of file.assertionResults) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') failed++;
      else skipped++;
    }
    if (file.status === 'failed' && file.assertionResults.every((t) => t.status !== 'failed')) failed++;
  }
  return { passed, failed, skipped };
}

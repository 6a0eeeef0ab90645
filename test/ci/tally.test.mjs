import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countResults, readProgressLog } from './tally.mjs';

const resultLine = (r) => `1.0 result ${JSON.stringify(r)}`;
const fileResult = (file, passed, failed, skipped = 0, state = failed > 0 ? 'failed' : 'passed') => ({ file, state, passed, failed, skipped, failures: [] });
/** The JSON reporter's entry for a file with these tests. */
const reportEntry = (name, passed, failed, skipped = 0, status = failed > 0 ? 'failed' : 'passed') => ({
  name,
  status,
  assertionResults: [
    ...Array.from({ length: passed }, () => ({ status: 'passed' })),
    ...Array.from({ length: failed }, () => ({ status: 'failed' })),
    ...Array.from({ length: skipped }, () => ({ status: 'skipped' })),
  ],
});

describe('the progress log', () => {
  it('gives the planned files, the results of those that ended, and what started and did not end', () => {
    const log = [
      '0.1 planned /r/a.test.ts',
      '0.1 planned /r/b.test.ts',
      '0.2 queued p:a.test.ts',
      '0.3 collected p:a.test.ts',
      '0.4 test-start p:a.test.ts > one',
      '0.5 test-end p:a.test.ts > one',
      resultLine(fileResult('/r/a.test.ts', 1, 0)),
      '0.6 ended p:a.test.ts',
      '0.7 queued p:b.test.ts',
      '0.8 hook-start beforeAll p:b.test.ts',
      '0.9 hook-end beforeAll p:b.test.ts',
      '1.0 test-start p:b.test.ts > two',
      '',
    ].join('\n');
    const read = readProgressLog(log);
    expect(read.planned).toEqual(['/r/a.test.ts', '/r/b.test.ts']);
    expect([...read.ended.keys()]).toEqual(['/r/a.test.ts']);
    expect(read.open).toEqual(['0.7 queued p:b.test.ts', '1.0 test-start p:b.test.ts > two']);
    expect(read.lines).toHaveLength(12);
  });

  it('takes event names that are prototype names as no event, never as a pair', () => {
    const read = readProgressLog(['0.1 constructor x', '0.2 __proto__ y', '0.3 toString z', '0.4 queued p:a'].join('\n'));
    expect(read.open).toEqual(['0.4 queued p:a']);
    expect(read.planned).toEqual([]);
  });

  it('refuses a malformed result line instead of counting it as nothing', () => {
    for (const bad of [
      '1 result null',
      '1 result {"file":"/a"}',
      `1 result ${JSON.stringify({ ...fileResult('/a', 1, 0), passed: -1 })}`,
      `1 result ${JSON.stringify({ ...fileResult('/a', 1, 0), failed: '1' })}`,
      `1 result ${JSON.stringify({ ...fileResult('/a', 1, 0), failures: [1] })}`,
    ])
      expect(() => readProgressLog(bad)).toThrow(TypeError);
    expect(() => readProgressLog('1 result {not json')).toThrow(SyntaxError);
  });
});

describe('the closing count', () => {
  it('counts a report by test, and a file that failed with no failing test as one failure', () => {
    const report = { testResults: [reportEntry('/a', 3, 1, 0), reportEntry('/b', 2, 0, 1), reportEntry('/c', 0, 0, 0, 'failed')] };
    expect(countResults(new Map(), report)).toEqual({ passed: 5, failed: 2, skipped: 1 });
  });

  it('counts a file carried from before a stall once, even when the rerun took it again', () => {
    const carried = new Map([['/a', fileResult('/a', 2, 1)]]);
    const report = { testResults: [reportEntry('/a', 3, 0), reportEntry('/b', 4, 0)] };
    expect(countResults(carried, report)).toEqual({ passed: 6, failed: 1, skipped: 0 });
  });

  it('counts a carried file that failed to load as one failure', () => {
    const carried = new Map([['/a', fileResult('/a', 0, 0, 0, 'failed')]]);
    expect(countResults(carried, { testResults: [] })).toEqual({ passed: 0, failed: 1, skipped: 0 });
  });

  it('gives the same count however the files are split between a stalled run and its rerun (property)', () => {
    const file = fc.record({
      passed: fc.nat(20),
      failed: fc.nat(3),
      skipped: fc.nat(2),
      loadFailed: fc.boolean(),
      before: fc.boolean(),
      takenAgain: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(file, { maxLength: 12 }), (files) => {
        const entry = (f, i) => {
          const failed = f.loadFailed ? 0 : f.failed;
          return reportEntry(`/f${i}`, f.loadFailed ? 0 : f.passed, failed, f.loadFailed ? 0 : f.skipped, f.loadFailed || failed > 0 ? 'failed' : 'passed');
        };
        const whole = countResults(new Map(), { testResults: files.map(entry) });
        // Split: files that ended before the stall carry the log's result; the rest (and, as
        // vitest's substring filters may, some carried ones again) are in the rerun's report.
        const carried = new Map();
        const rerun = [];
        files.forEach((f, i) => {
          const e = entry(f, i);
          const count = (s) => e.assertionResults.filter((t) => t.status === s).length;
          if (f.before) {
            carried.set(e.name, { file: e.name, state: e.status, passed: count('passed'), failed: count('failed'), skipped: count('skipped'), failures: [] });
            if (f.takenAgain) rerun.push(e);
          } else rerun.push(e);
        });
        expect(countResults(carried, { testResults: rerun })).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });
});

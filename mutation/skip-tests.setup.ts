// Used only by mutation runs when MUTATE_SKIP_TEST_NAMES is set (a regular expression over
// test names): skips tests that fail without any mutant — e.g. regression tests written ahead
// of their fix — so the rest of their file can still judge mutants (Stryker needs a green
// initial run). The report says which tests were skipped.
import { beforeEach } from 'vitest';

const pattern = process.env.MUTATE_SKIP_TEST_NAMES;
const skip = pattern ? new RegExp(pattern) : undefined;

beforeEach((ctx) => {
  if (skip?.test(ctx.task.name) === true) ctx.skip();
});

// `npm run mutate [-- <module>...]`: mutation-test the security-critical modules one after the
// other (all of them, or those named), at low priority because the machine's cores are shared.
// Not part of CI: a full run takes hours on two cores. Scores and survivors land in
// mutation/reports/<module>/ (mutation.html to browse, mutation.json, incremental.json).
import { spawnSync } from 'node:child_process';
import { URL, fileURLToPath } from 'node:url';
import { MODULES, ORDER } from './modules.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const stryker = fileURLToPath(new URL('../node_modules/@stryker-mutator/core/bin/stryker.js', import.meta.url));
// Module names pick modules; everything else goes to `stryker run` (e.g. --force).
const args = process.argv.slice(2);
const picked = args.filter((a) => Object.hasOwn(MODULES, a));
const passThrough = args.filter((a) => !Object.hasOwn(MODULES, a));
const typo = passThrough.find((a) => !a.startsWith('-') && !passThrough[passThrough.indexOf(a) - 1]?.startsWith('--'));
if (typo !== undefined) {
  process.stderr.write(`unknown module ${typo}; choose from: ${ORDER.join(', ')}\n`);
  process.exit(2);
}

let failed = false;
for (const name of picked.length > 0 ? picked : ORDER) {
  process.stdout.write(`\n=== mutation testing: ${name}\n`);
  const run = spawnSync('nice', ['-n', process.env.MUTATE_NICE ?? '15', process.execPath, stryker, 'run', 'mutation/stryker.config.mjs', ...passThrough], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATE_MODULE: name },
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * System tests spawn the built CLI as real processes: the workspace must be compiled and the CLI
 * bundled first (`npm run build:cli`). Both are quick when nothing changed: `tsc -b` is
 * incremental (about a second), and the bundle (about two) rewrites no file whose content is the same.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-b'], {
    cwd: root,
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [fileURLToPath(new URL('../../apps/cli/bundle.mjs', import.meta.url))], { cwd: root, stdio: 'inherit' });
}

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * System tests spawn the built CLI as real processes, so the workspace must be compiled
 * first. `tsc -b` is incremental: when nothing changed it returns in about a second.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-b'], {
    cwd: root,
    stdio: 'inherit',
  });
}

import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DaemonError, ExitCode } from './errors.js';

/**
 * One relay per data dir: two processes committing to one SQLite file and publishing the same
 * onions would each be correct alone and wrong together. The lock is a pid file created with
 * O_EXCL; a lock left by a killed process (its pid no longer alive) is taken over.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'relay.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DaemonError(`data dir ${dataDir} is in use by relay process ${pid}`, ExitCode.dataDirInUse);
      }
      await rm(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new DaemonError(`cannot lock data dir ${dataDir}`, ExitCode.dataDirInUse);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

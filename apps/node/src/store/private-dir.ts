import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerOnly } from '@pursuance/migrations';

/** The files a node keeps in its data dir (databases with their WAL and shm, token, identity). */
const NODE_FILES = ['node.sqlite', 'profile.sqlite']
  .flatMap((db) => [db, `${db}-wal`, `${db}-shm`, `${db}-journal`])
  .concat(['api-token', 'identity.json', 'identity.json.tmp']);

/**
 * Make a data dir private: create it 0700, or force an existing one to 0700, and the node's
 * files in it to owner-only. Only the node's own files: a data dir pointed at a folder that
 * holds other things must not have those changed.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  for (const name of NODE_FILES) await ownerOnly(join(dir, name));
}

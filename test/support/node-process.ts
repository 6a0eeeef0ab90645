import { spawnCli, type Spawned } from './processes.js';

/** A `pursuance node start` process on the loopback network, and what it announced. */
export interface NodeProcess {
  readonly proc: Spawned;
  readonly onion: string;
  readonly port: number;
  readonly token: string;
}

/**
 * Start `pursuance node start` for `name` (password "<name> password") on an ephemeral port and
 * read its onion, dashboard port and API token from its output; kill it if it never announces them.
 */
export async function spawnNodeProcess(name: string, dataDir: string, registryDir: string): Promise<NodeProcess> {
  const proc = spawnCli(['node', 'start', '--data-dir', dataDir, '--port', '0', '--loopback-registry', registryDir, '--name', name], {
    PURSUANCE_PASSWORD: `${name} password`,
  });
  try {
    const onion = (await proc.waitForLine(/node ([a-z2-7]{56})\n/))[1]!;
    const port = Number((await proc.waitForLine(/dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/))[1]);
    const token = (await proc.waitForLine(/token ([A-Za-z0-9_-]{43})\n/))[1]!;
    return { proc, onion, port, token };
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}

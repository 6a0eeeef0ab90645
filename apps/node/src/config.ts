import { randomBytes } from 'node:crypto';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerOnly } from '@pursuance/migrations';

export interface NodeConfig {
  readonly dataDir: string;
  /** HTTP port on 127.0.0.1 (0 = any free port). */
  readonly port: number;
  /** Where rules templates are read from. */
  readonly templatesDir: string;
  /** Built dashboard to serve at /, if present. */
  readonly dashboardDir?: string;
}

/** The per-node API token: created once, kept in the data dir (owner-only), printed on start. */
export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = join(dataDir, 'api-token');
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(token)) {
      // Kept, but never left readable by others (a token file copied in, or from an older version).
      await ownerOnly(path);
      return token;
    }
  } catch {
    // first start
  }
  const token = randomBytes(32).toString('base64url');
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}

/**
 * Where a data dir's dashboard port is remembered: chosen on the first start, reused on every
 * later one, so the dashboard's address (and a bookmark of it) stays the same.
 */
const PORT_FILE = 'dashboard-port';

/** The port this data dir's dashboard was given before, if any (a damaged file counts as none). */
export async function readDashboardPort(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, PORT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const port = /^\s*(\d{1,5})\s*$/.exec(text)?.[1];
  const n = port === undefined ? NaN : Number(port);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export async function writeDashboardPort(dataDir: string, port: number): Promise<void> {
  const path = join(dataDir, PORT_FILE);
  await writeFile(path, `${port}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** The start was called off (StartNodeOptions.signal) before it finished: everything it opened is closed again. */
export class StartAbortedError extends Error {
  public readonly code = 'START_ABORTED';
  public constructor() {
    super('the node was stopped while it was starting');
    this.name = 'StartAbortedError';
  }
}

/** The port the node was told to serve on is taken (or not ours to take). */
export class PortInUseError extends Error {
  public readonly code = 'PORT_IN_USE';
  public constructor(
    public readonly port: number,
    options?: ErrorOptions,
  ) {
    super(`port ${port} on 127.0.0.1 is in use`, options);
    this.name = 'PortInUseError';
  }
}

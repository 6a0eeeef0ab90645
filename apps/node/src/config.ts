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

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The relay daemon's program (`pursuance-relay`, apps/relay/dist/main.js): beside the package's
 * entry, wherever it is installed. Found through require's resolution because the bundled CLI is
 * a CommonJS script, which has no import.meta.resolve.
 */
export function relayDaemonMain(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@pursuance/relay-daemon')), 'main.js');
}

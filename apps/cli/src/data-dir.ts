import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';

/** The environment variable that names the profile's data dir when --data-dir is left out. */
export const DATA_DIR_ENV = 'PURSUANCE_DATA_DIR';

/**
 * The profile's data dir when neither --data-dir nor PURSUANCE_DATA_DIR says otherwise: one
 * folder in the home directory for `identity`, `node start` and `echo serve` alike, so the
 * identity `identity create` makes is the one `node start` opens.
 */
export function defaultDataDir(): string {
  return join(homedir(), '.pursuance');
}

export function dataDirOption(description = 'profile directory'): Option {
  return new Option('--data-dir <dir>', description).env(DATA_DIR_ENV).default(defaultDataDir(), '~/.pursuance');
}

/**
 * Where earlier versions kept a profile when --data-dir was left out (relative to the working
 * directory): `node start` used .data/node, `identity create` .data/profile.
 */
const EARLIER_DEFAULTS = [
  { dir: join('.data', 'node'), file: 'profile.sqlite' },
  { dir: join('.data', 'profile'), file: 'identity.json' },
];

/**
 * Lines for the user, when the data dir comes from the default: a profile made under an earlier
 * default is not silently passed over; and an `identity.json` left by an earlier `identity
 * create` (an identity separate from the node's, no longer used) is named as such.
 */
export function dataDirNotices(cmd: Command, dataDir: string): string[] {
  const notices: string[] = [];
  if (cmd.getOptionValueSource('dataDir') === 'default') {
    for (const earlier of EARLIER_DEFAULTS) {
      if (existsSync(join(earlier.dir, earlier.file)))
        notices.push(`using ${dataDir}; ${earlier.dir} here holds a profile from an earlier version's default: pass --data-dir ${earlier.dir} to use it`);
    }
  }
  if (existsSync(join(dataDir, 'identity.json')))
    notices.push(`${join(dataDir, 'identity.json')} was made by an earlier \`identity create\` and is not this profile's identity; it is no longer used`);
  return notices;
}

export function writeNotices(notices: readonly string[]): void {
  for (const n of notices) process.stderr.write(`pursuance: ${n}\n`);
}

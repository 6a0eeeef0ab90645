import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/**
 * Run the CLI's single-file bundle (apps/cli/bundle.mjs) with V8's code cache. Node 20 has no
 * compile cache for ES modules, and most of a node's start-up was spent compiling the ~9 MB of
 * JavaScript it loads (Nest, TypeORM, express…) and then compiling again each function as it
 * first ran. A CommonJS script compiled through node:vm can take the bytecode V8 serialised on
 * an earlier run instead: parsing is skipped, and so is the lazy compilation of every function
 * that run had compiled.
 *
 * The cache sits beside the bundle, one file per command (`node start` compiles much that
 * `--help` never does), and is written when a run ends well (exit code 0) and found none, or
 * one V8 refused (another V8 version or flags), or ran long enough to have compiled more than
 * the cache it found holds (the first run to end well may have been a small one; making a
 * cache costs about 0.1 s, so short runs do not try).
 *
 * It is trusted as the bundle is: same folder, same owner. V8 checks a cache against the
 * source's length only, so each file starts with the size and modification time of the bundle
 * it was made from, and a cache for any other file is not offered to V8. A folder the user
 * cannot write (a system-wide install) only means no cache; nothing here ever stops the CLI
 * from running.
 */

/** Where a run stood with its cache (what the tests observe through the files). */
export type CacheOutcome = 'used' | 'absent' | 'stale' | 'rejected';

/** The first line of a cache file: which bundle it was made from. */
interface CacheHeader {
  readonly size: number;
  readonly mtimeMs: number;
}

const NEWLINE = 0x0a;
/** A run this long may have compiled more than its cache holds: it makes one to compare... */
const LONG_RUN_MS = 10_000;
/** ...and replaces the cache when its own is this much larger. */
const GROWTH = 1.1;

/** Whether a run that ended well makes a cache (the policy above). */
export function makesCache(outcome: CacheOutcome, ranMs: number): boolean {
  return outcome !== 'used' || ranMs >= LONG_RUN_MS;
}

/** Whether the cache a run made (`made` bytes) replaces the one it found (`found` bytes, or none). */
export function replacesCache(outcome: CacheOutcome, found: number, made: number): boolean {
  return outcome !== 'used' || made > found * GROWTH;
}

/** Arguments that make any command print its help and end instead of running. */
const HELP = new Set(['-h', '--help', 'help']);

/**
 * The cache's name for this command line: the command and subcommand (`node-start`), or `other`.
 * A cache is kept once made, so a run that only prints help (`node start --help`) must not make
 * the one a real `node start` would use. Only lower-case words count, so no user-given value (a
 * path, a name) ever names a file.
 */
export function cacheRole(argv: readonly string[]): string {
  const words = argv.slice(2, 4);
  if (argv.slice(2).some((a) => HELP.has(a))) return 'other';
  return words.length === 2 && words.every((w) => /^[a-z]{1,16}$/.test(w)) ? words.join('-') : 'other';
}

function cacheFileOf(bundle: string, role: string): string {
  return `${bundle}.${role}.cache`;
}

function headerOf(fd: number): CacheHeader {
  const { size, mtimeMs } = fstatSync(fd);
  return { size, mtimeMs: Math.trunc(mtimeMs) };
}

/** The cached bytes when the file was made from this bundle, else undefined (absent, or stale). */
function readCache(path: string, bundle: CacheHeader): { data: Buffer | undefined; outcome: 'absent' | 'stale' | undefined } {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    return { data: undefined, outcome: 'absent' };
  }
  const end = file.indexOf(NEWLINE);
  try {
    const header = JSON.parse(file.subarray(0, end).toString('utf8')) as Partial<CacheHeader>;
    if (end > 0 && header.size === bundle.size && header.mtimeMs === bundle.mtimeMs) return { data: file.subarray(end + 1), outcome: undefined };
  } catch {
    // Not a header: the file is treated as stale and written again.
  }
  return { data: undefined, outcome: 'stale' };
}

/** Write the cache whole (a rename), or not at all. */
function writeCache(path: string, header: CacheHeader, data: Buffer): void {
  const partial = `${path}.${process.pid}.partial`;
  try {
    writeFileSync(partial, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data]), { mode: 0o644 });
    renameSync(partial, path);
  } catch {
    rmSync(partial, { force: true });
  }
}

/**
 * Compile and run `bundle` (a CommonJS file) as Node would require it, with the code cache
 * for `role`; returns what became of the cache. The bundle's own dynamic imports (packages
 * left outside it) go to Node's ES module loader.
 */
export function runBundle(bundle: string, role: string = cacheRole(process.argv)): CacheOutcome {
  const fd = openSync(bundle, 'r');
  let source: string;
  let header: CacheHeader;
  try {
    header = headerOf(fd);
    const bytes = readFileSync(fd);
    // The build keeps the script ASCII, which decodes five times faster as Latin-1 than as UTF-8
    // (milliseconds that every start waits for); anything else is read as UTF-8.
    source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  } finally {
    closeSync(fd);
  }
  const cachePath = cacheFileOf(bundle, role);
  const cached = readCache(cachePath, header);
  // Node's own module wrapper, on the source's first line so that line numbers stay as they are.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new Script(wrapped, {
    filename: bundle,
    ...(cached.data ? { cachedData: cached.data } : {}),
    // Packages the bundle leaves out (Nest's optional peers, which are not installed) are
    // imported by Node's loader, from here: the bundle's folder.
    importModuleDynamically: (specifier) => import(specifier) as Promise<never>,
  });
  const outcome: CacheOutcome = cached.outcome ?? (script.cachedDataRejected === true ? 'rejected' : 'used');
  const started = performance.now();
  process.once('exit', (code) => {
    if (code !== 0 || !makesCache(outcome, performance.now() - started)) return;
    // Made at the end of a run, the cache holds every function this command compiled.
    const data = script.createCachedData();
    if (replacesCache(outcome, cached.data?.length ?? 0, data.length)) writeCache(cachePath, header, data);
  });
  const module = { exports: {} };
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  run(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return outcome;
}

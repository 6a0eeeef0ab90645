import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire, isBuiltin } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../../apps/node/test/support/http.js';
import { DASHBOARD, ROOT, buildDashboard } from '../support/dashboard.js';
import { CLI, UNBUNDLED_CLI, spawnCli } from '../support/processes.js';

/**
 * The `pursuance` everyone runs is apps/cli/bundle.mjs's build of tsc's output: one CommonJS
 * script and the launcher that runs it with V8's code cache (the global setup builds both).
 * Every system test spawns it (test/support/processes.ts); these check what they would not:
 * that the launcher stays light and a command runs only its own code, that the bundle says
 * what tsc's output says, that the code cache is made, kept, and remade only when it should
 * be, and that the paths the node finds from import.meta.url (the dashboard, the rule
 * templates) resolve from the bundle as they do unbundled. Finding the relay daemon's program
 * is exercised by cli-relay.test.ts and loopback-processes.test.ts (`relay start`, `demo`).
 */

interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }>;
}
const meta = JSON.parse(readFileSync(join(dirname(CLI), 'meta.json'), 'utf8')) as Metafile;
const ENTRY = 'apps/cli/dist/bundle/pursuance.mjs';
const SCRIPT = Object.keys(meta.outputs).find((o) => /^apps\/cli\/dist\/bundle\/pursuance-[A-Z0-9]+\.cjs$/.test(o))!;

/** Where an input file comes from: a package in node_modules, or a workspace (`apps/cli`). */
function origin(input: string): string {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
}

const inputsOf = (output: string): Set<string> => new Set(Object.keys(meta.outputs[output]!.inputs).map(origin));

function run(file: string, args: string[], nodeArgs: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...nodeArgs, file, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the bundled CLI', () => {
  it('is a launcher that loads only Node’s own modules, and one script that holds every command', () => {
    expect(meta.outputs[ENTRY], 'the launcher is in the metafile').toBeDefined();
    expect(SCRIPT, 'the script is in the metafile').toBeDefined();
    expect([...inputsOf(ENTRY)].sort()).toEqual(['apps/cli', 'launcher.js']);
    expect(meta.outputs[ENTRY]!.imports.filter((i) => !i.path.startsWith('node:'))).toEqual([]);
    const held = inputsOf(SCRIPT);
    for (const lazy of ['commander', '@nestjs/core', 'typeorm', 'express', 'packages/tapir', 'apps/node', 'packages/cwtch-store-sqlite'])
      expect(held, lazy).toContain(lazy);
    // Left out, of what is installed: only the native addons, required from node_modules at run
    // time. (The rest of what it leaves to require are Node's modules and packages that are not
    // installed: TypeORM's other drivers, Nest's optional peers, each required inside a try.)
    const resolve = createRequire(join(ROOT, 'package.json')).resolve;
    const installed = (path: string): boolean => {
      try {
        resolve(path);
        return true;
      } catch {
        return false;
      }
    };
    const leftOut = meta.outputs[SCRIPT]!.imports.filter((i) => i.external && !isBuiltin(i.path) && installed(i.path)).map((i) => i.path);
    expect([...new Set(leftOut)].sort()).toEqual(['sodium-native', 'sqlite3']);
  });

  it('runs only commander and the command definitions for --help: nothing required from outside, no node, no Nest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bundle-hook-'));
    try {
      // A preload that records what the process requires from outside the bundle, and whether
      // reflect-metadata (the node's first import) ever ran.
      const hook = join(dir, 'hook.cjs');
      writeFileSync(
        hook,
        `const Module = require('node:module'); const seen = new Set(); const load = Module._load;
         Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
         process.on('exit', () => process.stderr.write('HOOK ' + JSON.stringify({ required: [...seen], metadata: typeof Reflect.getMetadata }) + '\\n'));`,
      );
      const reportOf = (stderr: string) => JSON.parse(/HOOK (.*)\n/.exec(stderr)![1]!) as { required: string[]; metadata: string };
      const help = run(CLI, ['--help'], ['--require', hook]);
      expect(help.code, help.stderr).toBe(0);
      const report = reportOf(help.stderr);
      expect(report.required.filter((r) => !r.startsWith('node:'))).toEqual([]);
      expect(report.metadata).toBe('undefined');
      // The same hook sees the profile store's side when a command runs it (the checks above can fail).
      const show = spawnSync(process.execPath, ['--require', hook, CLI, 'identity', 'show', '--data-dir', join(dir, 'none')], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, PURSUANCE_PASSWORD: 'bundle test password' },
      });
      expect(show.stderr).toMatch(/no identity in/);
      expect(reportOf(show.stderr).required).toContain('sqlite3');
      expect(reportOf(show.stderr).metadata).toBe('function');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints its version and the same help as tsc’s output, the relay daemon’s included', () => {
    const version = run(CLI, ['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    for (const args of [
      ['--help'],
      ['node', 'start', '--help'],
      ['node', 'help', 'start'],
      ['echo', 'send', '--help'],
      ['identity', 'create', '--help'],
      ['relay', 'start', '--help'],
    ]) {
      const bundled = run(CLI, args);
      expect(bundled.code, `${args.join(' ')}: ${bundled.stderr}`).toBe(0);
      expect(bundled.stdout, args.join(' ')).toBe(run(UNBUNDLED_CLI, args).stdout);
    }
    // The network flags are there (added as `node` is dispatched), and so is the daemon's help.
    expect(run(CLI, ['node', 'start', '--help']).stdout).toContain('--tor-control <host:port>');
    expect(run(CLI, ['relay', 'start', '--help']).stdout).toContain('--pow-difficulty');
  });
});

describe('the code cache', () => {
  // A copy of the launcher and its script, so that no other test's runs write these caches.
  let dir: string;
  let launcher: string;
  let script: string;
  let cache: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-code-cache-'));
    launcher = join(dir, basename(CLI));
    script = join(dir, basename(SCRIPT));
    copyFileSync(CLI, launcher);
    copyFileSync(join(ROOT, SCRIPT), script);
    cache = `${script}.other.cache`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const version = (): void => expect(run(launcher, ['--version'])).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  /** A cache file's header line, with the newline that ends it. */
  const headerLine = (bytes: Buffer): Buffer => bytes.subarray(0, bytes.indexOf(0x0a) + 1);
  const headerOf = (file: string): unknown => JSON.parse(headerLine(readFileSync(file)).toString());
  const scriptHeader = (): { size: number; mtimeMs: number } => ({ size: statSync(script).size, mtimeMs: Math.trunc(statSync(script).mtimeMs) });

  it('is written by a run that ends well, for that script, and then kept as it is', () => {
    // A run that fails writes none.
    expect(run(launcher, ['no-such-command']).code).not.toBe(0);
    expect(existsSync(cache)).toBe(false);
    version();
    expect(existsSync(cache)).toBe(true);
    const { size, mtimeMs } = statSync(script);
    expect(headerOf(cache)).toEqual({ size, mtimeMs: Math.trunc(mtimeMs) });
    expect(readFileSync(cache).length).toBeGreaterThan(100_000);
    // Taken by V8: not written again (a rewrite is a rename, a new inode).
    const { ino } = statSync(cache);
    version();
    expect(statSync(cache).ino).toBe(ino);
  });

  it('is made again when V8 refuses it or it was made from another script, and the run is unharmed', () => {
    const good = readFileSync(cache);
    const header = headerLine(good);
    const payload = good.subarray(header.length);
    const made = (): number => statSync(cache).ino;
    const { size, mtimeMs } = scriptHeader();
    const headed = (h: unknown): Buffer => Buffer.concat([Buffer.from(`${JSON.stringify(h)}\n`), payload]);
    for (const damaged of [
      // V8 refuses bytes that are not a cache (its own checks), under the right header.
      Buffer.concat([header, Buffer.alloc(4096, 0x5a)]),
      // Another script's cache (same V8 bytes, another size): never offered to V8.
      headed({ size: size + 1, mtimeMs }),
      // ...or the same size, made at another time (a date in the future).
      headed({ size, mtimeMs: mtimeMs + 365 * 86_400_000 }),
      // Headers that are no header: the right values as strings, under a prototype name, null.
      headed({ size: String(size), mtimeMs: String(mtimeMs) }),
      Buffer.concat([Buffer.from(`{"__proto__":{"size":${size},"mtimeMs":${mtimeMs}}}\n`), payload]),
      headed(null),
      // No header at all, and an empty file.
      Buffer.from('not a cache'),
      Buffer.alloc(0),
    ]) {
      writeFileSync(cache, damaged);
      const before = made();
      version();
      expect(made()).not.toBe(before);
      expect(headerOf(cache)).toEqual(scriptHeader());
      const kept = made();
      version();
      expect(made()).toBe(kept);
    }
  });

  it('is one per command, named by words only', async () => {
    const { cacheRole } = await import('../../apps/cli/src/code-cache.js');
    expect(cacheRole(['node', 'pursuance', 'node', 'start', '--data-dir', '/x'])).toBe('node-start');
    expect(cacheRole(['node', 'pursuance', '--help'])).toBe('other');
    // Help is not a run of the command: its cache would hold none of what `node start` compiles.
    expect(cacheRole(['node', 'pursuance', 'node', 'start', '--help'])).toBe('other');
    expect(cacheRole(['node', 'pursuance', 'node', 'help', 'start'])).toBe('other');
    expect(cacheRole(['node', 'pursuance', 'relay', 'start', '-h'])).toBe('other');
    expect(cacheRole(['node', 'pursuance', 'node', '../../etc'])).toBe('other');
    expect(cacheRole(['node', 'pursuance', '__proto__', 'constructor'])).toBe('other');
    expect(cacheRole(['node', 'pursuance', 'node', 'start'.repeat(5)])).toBe('other');
    expect(readdirSync(dir).filter((f) => f.endsWith('.cache'))).toEqual([basename(cache)]);
  });

  it('reads a script that is not ASCII as UTF-8', () => {
    // The build keeps the script ASCII and the launcher then reads it as Latin-1; a non-ASCII
    // character must still come out as one character (as Latin-1 it would be two). Told on
    // stderr, synchronously: the CLI's exit comes before a throw here would be reported.
    writeFileSync(script, `${readFileSync(script, 'utf8')}\nprocess.stderr.write('é'.length === 1 ? 'UTF-8\\n' : 'Latin-1\\n');\n`);
    const read = run(launcher, ['--version']);
    expect(read).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: 'UTF-8\n' });
    expect(headerOf(cache)).toEqual(scriptHeader());
  });

  it('is made again by a long run that compiled more than it holds, never by a short one', async () => {
    const { makesCache, replacesCache } = await import('../../apps/cli/src/code-cache.js');
    // Found none, a refused one or another script's: always made and written.
    for (const outcome of ['absent', 'rejected', 'stale'] as const) {
      expect(makesCache(outcome, 1)).toBe(true);
      expect(replacesCache(outcome, 0, 1)).toBe(true);
    }
    // Taken: a short run keeps it without making one (about 0.1 s at a node's stop)...
    expect(makesCache('used', 9_999)).toBe(false);
    // ...a long one makes one, which replaces it only when at least a tenth larger.
    expect(makesCache('used', 10_000)).toBe(true);
    expect(replacesCache('used', 1_000_000, 1_100_000)).toBe(false);
    expect(replacesCache('used', 1_000_000, 1_100_001)).toBe(true);
    expect(replacesCache('used', 1_000_000, 900_000)).toBe(false);
  });
});

describe('node start from the bundle', () => {
  let dir: string;
  const index = join(DASHBOARD, 'dist/index.html');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-bundle-'));
    // The node serves apps/dashboard/dist by default: `npm run build` makes it; a fresh clone
    // running the tests alone has none yet.
    if (!existsSync(index)) buildDashboard(join(DASHBOARD, 'dist'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Without the bundle's import.meta.url rewrite the templates folder would be looked for beside
  // the chunks (apps/rules/templates) and the node would not start; the dashboard's folder
  // happens to be as deep from the bundle as from the node's dist/http, so it checks the files served.
  it('serves the built dashboard and lists the rule templates, from paths resolved as unbundled', { timeout: 120_000 }, async () => {
    const proc = spawnCli(['node', 'start', '--data-dir', join(dir, 'node'), '--port', '0'], { PURSUANCE_PASSWORD: 'bundle test password' });
    let code: number | null;
    try {
      const port = Number((await proc.waitForLine(/dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/))[1]);
      const token = (await proc.waitForLine(/token ([A-Za-z0-9_-]{43})\n/))[1]!;
      const root = await http(port, 'GET', '/');
      expect(root.status).toBe(200);
      expect(root.text).toBe(readFileSync(index, 'utf8'));
      const templates = await http(port, 'GET', '/api/templates', { token });
      expect(templates.status).toBe(200);
      const files = readdirSync(join(ROOT, 'rules/templates')).filter((f) => f.endsWith('.json'));
      expect((templates.body as { id: string }[]).map((t) => t.id).sort()).toEqual(files.map((f) => f.replace(/\.json$/, '')).sort());
    } finally {
      code = await proc.stop('SIGTERM');
    }
    expect(code).toBe(0);
  });
});

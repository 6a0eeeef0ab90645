import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../../apps/node/test/support/http.js';
import { DASHBOARD, ROOT, buildDashboard } from '../support/dashboard.js';
import { CLI, UNBUNDLED_CLI, spawnCli } from '../support/processes.js';

/**
 * The `pursuance` everyone runs is the bundle apps/cli/bundle.mjs makes of tsc's output (the
 * global setup builds it). Every system test spawns it (test/support/processes.ts); these check
 * what they would not: that its entry stays light, that it says what tsc's output says, and that
 * the paths the node finds from import.meta.url (the dashboard, the rule templates) resolve from
 * the bundle as they do unbundled. `import.meta.resolve('@pursuance/relay-daemon')` is exercised
 * by cli-relay.test.ts and loopback-processes.test.ts (`relay start`, `demo`).
 */

interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }>;
}
const meta = JSON.parse(readFileSync(join(dirname(CLI), 'meta.json'), 'utf8')) as Metafile;
const ENTRY = 'apps/cli/dist/bundle/pursuance.mjs';

/** The outputs `from` loads, through static imports only or through dynamic imports too. */
function reached(from: string, dynamic: boolean): Set<string> {
  const seen = new Set<string>();
  const visit = (output: string): void => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const i of meta.outputs[output]!.imports) if (!i.external && (i.kind === 'import-statement' || dynamic)) visit(i.path);
  };
  visit(from);
  return seen;
}

/** Where an input file comes from: a package in node_modules, or a workspace (`apps/cli`). */
function origin(input: string): string {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
}

const inputsOf = (outputs: Set<string>): Set<string> => new Set([...outputs].flatMap((o) => Object.keys(meta.outputs[o]!.inputs).map(origin)));

function run(file: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the bundled CLI', () => {
  it('loads commander and the command definitions before a command runs; tapir, the node, Nest and TypeORM load on use', () => {
    expect(meta.outputs[ENTRY], 'the entry is in the metafile').toBeDefined();
    const eager = reached(ENTRY, false);
    expect([...inputsOf(eager)].sort()).toEqual(['apps/cli', 'commander']);
    // Before a command runs, nothing outside the bundle but Node's own modules (no native addon).
    const externals = [...eager].flatMap((o) => meta.outputs[o]!.imports.filter((i) => i.external).map((i) => i.path));
    expect(externals.filter((path) => !path.startsWith('node:'))).toEqual([]);
    // ...and what a command loads is in the bundle, behind dynamic imports (not left out).
    const onUse = inputsOf(reached(ENTRY, true));
    for (const lazy of ['@nestjs/core', 'typeorm', 'express', 'packages/tapir', 'apps/node', 'packages/cwtch-store-sqlite'])
      expect(onUse, lazy).toContain(lazy);
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

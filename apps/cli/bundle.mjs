// `npm run build` (after `tsc -b`): bundle the CLI that tsc compiled (apps/cli/dist/main.js) with
// everything it imports into one CommonJS script, apps/cli/dist/bundle/pursuance-<hash>.cjs, and
// write pursuance.mjs beside it: the `pursuance` everyone runs (bin, npm start, the system tests
// and benchmarks), which runs that script with V8's code cache (apps/cli/src/code-cache.ts).
// Why: unbundled, a node's start spends about a second resolving and loading thousands of ESM
// files (Nest, TypeORM, express); bundled as ES modules it still compiled ~9 MB of JavaScript at
// every start, and Node 20 caches no compiled ES module. A failed or doubtful build exits non-zero.
import { Buffer } from 'node:buffer';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outdir = join(root, 'apps/cli/dist/bundle');
const ENTRY = 'pursuance.mjs';
/** esbuild's metafiles of both outputs: what each holds and imports (test/system/cli-bundle.test.ts reads it). */
const META = 'meta.json';

/**
 * Our own modules (workspace dist/ files) find files next to their sources from import.meta.url:
 * the node's rule templates (rules/templates) and the built dashboard (apps/dashboard/dist). A
 * CommonJS script has no import.meta, so each one becomes the module's original URL, written
 * relative to the script's own (from its __filename): the script lies directly in the output
 * folder (checked below), and works wherever the clone lives.
 */
const ours = new RegExp(`^${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:apps|packages|migrations)/.*\\.js$`);
const keepImportMetaUrl = {
  name: 'keep-import-meta-url',
  setup(build) {
    build.onLoad({ filter: ours }, async (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const original = relative(outdir, args.path).split(sep).join('/');
      return {
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(original)}, require('node:url').pathToFileURL(__filename)).href`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

const started = performance.now();
let result;
let launcher;
let script;
try {
  result = await esbuild.build({
    // Paths in the metafile are relative to the repository, wherever this runs from.
    absWorkingDir: root,
    entryPoints: { pursuance: 'apps/cli/dist/main.js' },
    outdir,
    // Named after its content: a code cache is only ever offered to V8 beside the script it was made from.
    entryNames: '[name]-[hash]',
    outExtension: { '.js': '.cjs' },
    write: false,
    bundle: true,
    // One script, not chunks: V8's code cache is per script. What a command loads on use (the
    // node and Nest, the profile store, tapir…) stays behind its dynamic import, which esbuild
    // turns into a lazy initialiser: `pursuance --help` runs none of it.
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    external: [
      // Native addons: loaded from node_modules at run time, beside their compiled binaries.
      'sqlite3',
      'sodium-native',
      // Nest's optional peers, none of them installed: Nest requires them (inside a try) only
      // for features the node does not use (microservices, websockets, validation, fastify).
      '@nestjs/microservices',
      '@nestjs/microservices/*',
      '@nestjs/websockets',
      '@nestjs/websockets/*',
      '@nestjs/platform-socket.io',
      'class-transformer',
      'class-validator',
      '@fastify/static',
      'fastify-swagger',
    ],
    // Packages outside ours that read import.meta.url get the script's URL (apps/cli/import-meta-url.mjs).
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: [join(root, 'apps/cli/import-meta-url.mjs')],
    plugins: [keepImportMetaUrl],
  });
  script = result.outputFiles.find((f) => f.path.endsWith('.cjs'));
  if (!script) throw new Error('bundle: esbuild wrote no script');
  // main.js's hashbang is for running it unbundled; in a script compiled inside CommonJS's wrapper
  // it is a syntax error (a comment keeps the line numbers). esbuild escapes every non-ASCII
  // character in code (its default charset); what is left is in comments, and a comment loses
  // nothing to a '?': an ASCII script is read faster at each start.
  script.contents = Buffer.from(script.text.replace(/^#!/, '//').replace(/[\u0080-\uffff]/g, '?'));
  // The bin: runs the script through the code cache, and loads nothing else before it.
  launcher = await esbuild.build({
    absWorkingDir: root,
    stdin: {
      contents: [
        "import { fileURLToPath } from 'node:url';",
        "import { runBundle } from './apps/cli/dist/code-cache.js';",
        `runBundle(fileURLToPath(new URL(${JSON.stringify(`./${basename(script.path)}`)}, import.meta.url)));`,
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'launcher.js',
    },
    outfile: join(outdir, ENTRY),
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    banner: { js: '#!/usr/bin/env node' },
  });
} catch (err) {
  // esbuild has printed why (an import it could not resolve, a syntax error).
  process.stderr.write(`bundle: esbuild failed${err instanceof Error && !('errors' in err) ? ` (${err.message})` : ', see above'}\n`);
  process.exit(1);
}
// A warning (an import esbuild could not follow, a require left to run time) breaks the bundle
// only once that code runs: fix it, or make the package a deliberate external above.
const warnings = result.warnings.length + launcher.warnings.length;
if (warnings > 0) {
  process.stderr.write(`bundle: ${warnings} esbuild warning(s), see above: fix them or add a deliberate external in apps/cli/bundle.mjs\n`);
  process.exit(1);
}
const outputFiles = [...result.outputFiles, ...launcher.outputFiles];
const misplaced = outputFiles.find((f) => dirname(f.path) !== outdir);
if (misplaced) throw new Error(`bundle: ${misplaced.path} is not directly in ${outdir}, where keep-import-meta-url writes its URLs from`);

// Write only what changed, each file whole (a rename), then drop what is no longer output: a
// rebuild of unchanged sources (the system tests' setup) touches nothing a running CLI may
// still load a chunk from.
mkdirSync(outdir, { recursive: true });
const metafile = { inputs: { ...result.metafile.inputs, ...launcher.metafile.inputs }, outputs: { ...result.metafile.outputs, ...launcher.metafile.outputs } };
const files = [
  ...outputFiles.map((f) => ({ path: f.path, contents: f.contents })),
  { path: join(outdir, META), contents: Buffer.from(JSON.stringify(metafile)) },
];
for (const { path, contents } of files) {
  if (existsSync(path) && readFileSync(path).equals(contents)) continue;
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, contents);
  if (basename(path) === ENTRY) chmodSync(partial, 0o755);
  renameSync(partial, path);
}
const current = new Set(files.map((f) => basename(f.path)));
// The current script's code caches stay (a rebuild of unchanged sources makes the same script).
const scriptName = basename(script.path);
const keep = (name) => current.has(name) || (name.startsWith(`${scriptName}.`) && name.endsWith('.cache'));
for (const name of readdirSync(outdir)) if (!keep(name)) rmSync(join(outdir, name), { recursive: true, force: true });

const outputs = metafile.outputs;
const entry = outputs[`apps/cli/dist/bundle/${ENTRY}`];
process.stdout.write(
  `bundle: ${relative(root, join(outdir, ENTRY))} (${entry ? `${Math.round(entry.bytes / 1024)} KB` : '?'}) runs ${scriptName} ` +
    `(${(script.contents.length / 1024 / 1024).toFixed(1)} MB), in ${Math.round(performance.now() - started)} ms\n`,
);

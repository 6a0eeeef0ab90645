// `npm run build` (after `tsc -b`): bundle the CLI that tsc compiled (apps/cli/dist/main.js) with
// everything it imports into apps/cli/dist/bundle/, whose pursuance.mjs is the `pursuance`
// everyone runs (bin, npm start, the system tests and benchmarks). Why: unbundled, a node's
// start spends about a second resolving and loading thousands of ESM files (Nest, TypeORM,
// express); a few large chunks load half a second or more sooner. A failed or doubtful build
// exits non-zero.
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
/** esbuild's metafile: what each output holds and imports (test/system/cli-bundle.test.ts reads it). */
const META = 'meta.json';

/**
 * Our own modules (workspace dist/ files) find files next to their sources from import.meta.url:
 * the node's rule templates (rules/templates) and the built dashboard (apps/dashboard/dist). In a
 * bundle import.meta.url is the chunk's URL, so each one becomes the module's original URL,
 * written relative to the output folder: every chunk lies directly in it (checked below), and
 * the bundle works wherever the clone lives.
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
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(original)}, import.meta.url).href`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

const started = performance.now();
let result;
try {
  result = await esbuild.build({
    // Paths in the metafile are relative to the repository, wherever this runs from.
    absWorkingDir: root,
    entryPoints: { pursuance: 'apps/cli/dist/main.js' },
    outdir,
    outExtension: { '.js': '.mjs' },
    write: false,
    bundle: true,
    // What a command loads on use (the node and Nest, the profile store, tapir…) stays behind
    // its dynamic import, in chunks of its own: `pursuance --help` loads none of them.
    splitting: true,
    format: 'esm',
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
    // CommonJS code bundled into ESM (TypeORM and its app-root-path, express…) uses require,
    // __filename and __dirname, which ESM does not define.
    banner: {
      js: [
        "import { createRequire as __bundleRequire } from 'node:module';",
        "import { fileURLToPath as __bundlePath } from 'node:url';",
        "import { dirname as __bundleDir } from 'node:path';",
        'const require = __bundleRequire(import.meta.url);',
        'const __filename = __bundlePath(import.meta.url);',
        'const __dirname = __bundleDir(__filename);',
      ].join(' '),
    },
    plugins: [keepImportMetaUrl],
  });
} catch {
  // esbuild has printed why (an import it could not resolve, a syntax error).
  process.stderr.write('bundle: esbuild failed, see above\n');
  process.exit(1);
}
// A warning (an import esbuild could not follow, a require left to run time) breaks the bundle
// only once that code runs: fix it, or make the package a deliberate external above.
if (result.warnings.length > 0) {
  process.stderr.write(`bundle: ${result.warnings.length} esbuild warning(s), see above: fix them or add a deliberate external in apps/cli/bundle.mjs\n`);
  process.exit(1);
}
const misplaced = result.outputFiles.find((f) => dirname(f.path) !== outdir);
if (misplaced) throw new Error(`bundle: ${misplaced.path} is not directly in ${outdir}, where keep-import-meta-url writes its URLs from`);

// Write only what changed, each file whole (a rename), then drop what is no longer output: a
// rebuild of unchanged sources (the system tests' setup) touches nothing a running CLI may
// still load a chunk from.
mkdirSync(outdir, { recursive: true });
const files = [
  ...result.outputFiles.map((f) => ({ path: f.path, contents: f.contents })),
  { path: join(outdir, META), contents: Buffer.from(JSON.stringify(result.metafile)) },
];
for (const { path, contents } of files) {
  if (existsSync(path) && readFileSync(path).equals(contents)) continue;
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, contents);
  if (basename(path) === ENTRY) chmodSync(partial, 0o755);
  renameSync(partial, path);
}
const current = new Set(files.map((f) => basename(f.path)));
for (const name of readdirSync(outdir)) if (!current.has(name)) rmSync(join(outdir, name), { recursive: true, force: true });

const outputs = result.metafile.outputs;
const entry = outputs[`apps/cli/dist/bundle/${ENTRY}`];
const total = Object.values(outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(
  `bundle: ${relative(root, join(outdir, ENTRY))} (${entry ? `${Math.round(entry.bytes / 1024)} KB` : '?'}) and ${Object.keys(outputs).length - 1} chunks, ` +
    `${(total / 1024 / 1024).toFixed(1)} MB in all, in ${Math.round(performance.now() - started)} ms\n`,
);

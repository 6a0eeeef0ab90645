import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

const pkg = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

/** Projects whose tests use token keys without the relay's test kit (see test/support/load-voprf.ts). */
const USES_VOPRF = new Set(['relay', 'relay-daemon']);

/** `built`: the project spawns compiled programs (dist/), so `tsc -b` runs before it. */
function project(name: string, include: string, built = false) {
  return {
    extends: true as const,
    test: {
      name,
      include: [include],
      ...(built ? { globalSetup: ['test/support/global-setup.ts'] } : {}),
      ...(USES_VOPRF.has(name) ? { setupFiles: ['test/support/load-voprf.ts'] } : {}),
    },
  };
}

// Tests run against package sources (no build needed); apps that are spawned as real
// processes in system tests use the built dist, which .ci/run builds first.
export default defineConfig({
  // The dashboard's component tests import .vue files (apps/dashboard/test, happy-dom per file).
  plugins: [vue()],
  // Decorator metadata for TypeORM/NestJS classes under test (Vite 8's Oxc transform); the
  // tsconfigs say the same, this keeps tests independent of which tsconfig Oxc picks up.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  resolve: {
    alias: [
      // Test kits (subpath exports) before the bare packages they live in.
      { find: /^@pursuance\/cwtch\/testing$/, replacement: fileURLToPath(new URL('./packages/cwtch/src/testing/index.ts', import.meta.url)) },
      { find: /^@pursuance\/relay\/testing$/, replacement: fileURLToPath(new URL('./packages/relay/src/testing/index.ts', import.meta.url)) },
      // Light entry points (loaded before the rest at start-up): the same modules the bare packages use.
      { find: /^@pursuance\/crypto\/scrypt$/, replacement: fileURLToPath(new URL('./packages/crypto/src/scrypt.ts', import.meta.url)) },
      { find: /^@pursuance\/tapir\/acn-settings$/, replacement: fileURLToPath(new URL('./packages/tapir/src/acn/acn-settings.ts', import.meta.url)) },
      { find: /^@pursuance\/cwtch\/vault-prime$/, replacement: fileURLToPath(new URL('./packages/cwtch/src/vault-prime.ts', import.meta.url)) },
      {
        find: /^@pursuance\/cwtch-store-sqlite\/early-unlock$/,
        replacement: fileURLToPath(new URL('./packages/cwtch-store-sqlite/src/early-unlock.ts', import.meta.url)),
      },
      { find: /^@pursuance\/crypto$/, replacement: pkg('crypto') },
      { find: /^@pursuance\/codec$/, replacement: pkg('codec') },
      { find: /^@pursuance\/password$/, replacement: pkg('password') },
      { find: /^@pursuance\/tapir$/, replacement: pkg('tapir') },
      { find: /^@pursuance\/pursuance$/, replacement: pkg('pursuance') },
      { find: /^@pursuance\/relay$/, replacement: pkg('relay') },
      { find: /^@pursuance\/cwtch$/, replacement: pkg('cwtch') },
      { find: /^@pursuance\/cwtch-store-sqlite$/, replacement: pkg('cwtch-store-sqlite') },
      { find: /^@pursuance\/node\/identity$/, replacement: fileURLToPath(new URL('./apps/node/src/identity-store.ts', import.meta.url)) },
      { find: /^@pursuance\/node$/, replacement: fileURLToPath(new URL('./apps/node/src/index.ts', import.meta.url)) },
      { find: /^@pursuance\/migrations$/, replacement: fileURLToPath(new URL('./migrations/src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    // One project per workspace (`npx vitest run --project cwtch`), plus the system tests, the
    // lint rules and CI's tally; every project shares this config (aliases, timeouts).
    projects: [
      ...['crypto', 'codec', 'password', 'tapir', 'relay', 'cwtch', 'cwtch-store-sqlite', 'pursuance'].map((name) =>
        project(name, `packages/${name}/test/**/*.test.ts`),
      ),
      project('node', 'apps/node/test/**/*.test.ts'),
      project('relay-daemon', 'apps/relay/test/**/*.test.ts'),
      project('cli', 'apps/cli/test/**/*.test.ts'),
      project('dashboard', 'apps/dashboard/test/**/*.test.ts'),
      project('system', 'test/system/**/*.test.ts', true),
      project('eslint-rules', 'eslint-rules/**/*.test.ts'),
      // CI's own tally of results (test/ci/tally.mjs).
      project('ci', 'test/ci/**/*.test.mjs'),
    ],
    testTimeout: 30_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
});

import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

const pkg = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

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
      { find: /^@pursuance\/crypto$/, replacement: pkg('crypto') },
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
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/system/**/*.test.ts', 'eslint-rules/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 240_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
  },
});

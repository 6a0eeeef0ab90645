import type { KnipConfig } from 'knip';

// `npm run deps`: every import is declared by the workspace that makes it, and every declared
// dependency is imported somewhere. Only dependency findings are checked here; unused exports
// are kept deliberate by each package's explicit index instead.
const config: KnipConfig = {
  include: ['dependencies', 'unlisted', 'unresolved', 'binaries'],
  ignoreDependencies: [
    // Loaded by name from mutation/stryker.config.mjs (`plugins`), which knip does not read.
    '@stryker-mutator/vitest-runner',
  ],
  workspaces: {
    'apps/dashboard': {
      // The dashboard bundles the pursuance core's pure rule modules from source (see
      // src/lib/rules-engine.ts); they import CASL, which the bundle therefore needs.
      ignoreDependencies: ['@casl/ability'],
    },
    'apps/cli': {
      // `relay start` and `demo` run its program, found by require.resolve (src/relay-daemon.ts).
      ignoreDependencies: ['@pursuance/relay-daemon'],
    },
  },
};

export default config;

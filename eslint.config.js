// @ts-check
import js from '@eslint/js';
import pluginVue from 'eslint-plugin-vue';
import tseslint from 'typescript-eslint';
import local from './eslint-rules/index.js';

// The layer arrows (issue 12): which workspace packages each package may import. Anything not
// listed is an error, so an upward or sideways import fails the lint, not a review.
const WORKSPACES = [
  'crypto',
  'codec',
  'password',
  'tapir',
  'relay',
  'cwtch',
  'pursuance',
  'cwtch-store-sqlite',
  'migrations',
  'node',
  'relay-daemon',
  'cli',
  'dashboard',
];
const MAY_IMPORT = {
  'packages/crypto': [],
  // The one strict JSON/base64 codec every wire format parses through.
  'packages/codec': ['crypto'],
  // Where a password comes from and whether a new one is strong enough (CLI, node, relay daemon).
  'packages/password': [],
  'packages/tapir': ['crypto', 'codec'],
  'packages/relay': ['crypto', 'codec', 'tapir'],
  'packages/cwtch': ['crypto', 'codec', 'tapir', 'relay'],
  // The pursuance core knows no transport.
  'packages/pursuance': ['crypto', 'codec'],
  'packages/cwtch-store-sqlite': ['crypto', 'cwtch', 'migrations'],
  migrations: [],
  'apps/relay': ['crypto', 'password', 'tapir', 'relay', 'migrations'],
  'apps/node': ['crypto', 'password', 'tapir', 'relay', 'cwtch', 'cwtch-store-sqlite', 'pursuance', 'migrations'],
  'apps/cli': ['crypto', 'password', 'tapir', 'relay', 'cwtch', 'pursuance', 'node', 'relay-daemon'],
};
// Only the crypto package touches key bytes through curve, hash and box libraries; the two
// stated exceptions are the VOPRF (relay tokens: ristretto255 has no place in crypto's API)
// and tapir's Merlin transcript (Keccak-f over transcript bytes, not keys).
const KEY_BYTE_LIBRARIES = ['@noble/*', '@scure/*', 'tweetnacl', 'tweetnacl/*'];
const KEY_BYTE_EXCEPTIONS = ['packages/relay/src/voprf.ts', 'packages/tapir/src/transcript.ts'];
// node:crypto outside the crypto package: randomness only (byte compares go through crypto's
// equalBytes); the tor control-port client also computes the SAFECOOKIE HMAC-SHA256 that Tor's
// control spec fixes.
const NODE_CRYPTO_ALLOWED = ['randomBytes'];
const NODE_CRYPTO_EXTRA = { 'packages/tapir/src/acn/tor-control-auth.ts': ['createHmac'] };

function layerRules(dir, { keyLibraries, nodeCrypto = NODE_CRYPTO_ALLOWED }) {
  const allowed = new Set(MAY_IMPORT[dir]);
  const forbidden = WORKSPACES.filter((w) => !allowed.has(w) && `packages/${w}` !== dir && `apps/${w}` !== dir);
  const patterns = [
    {
      group: forbidden.flatMap((w) => [`@pursuance/${w}`, `@pursuance/${w}/*`]),
      message: `${dir} may import only ${[...allowed].map((w) => `@pursuance/${w}`).join(', ') || 'no workspace package'} (layer arrows: apps → packages; cwtch → relay → tapir → crypto; pursuance → crypto).`,
    },
    // Inside a package's src/ no relative import needs a `src/` segment: one that has it leaves the package.
    {
      group: ['**/packages/**', '**/apps/**', '**/src/**'],
      message: 'import another workspace by its package name, never by a relative path into its sources.',
    },
  ];
  if (!keyLibraries) patterns.push({ group: KEY_BYTE_LIBRARIES, message: 'key bytes are handled in @pursuance/crypto only.' });
  const paths =
    dir === 'packages/crypto' ? [] : [{ name: 'node:crypto', allowImportNames: nodeCrypto, message: 'key bytes are handled in @pursuance/crypto only.' }];
  return { 'no-restricted-imports': ['error', { patterns, paths }] };
}

const exceptions = [...KEY_BYTE_EXCEPTIONS, ...Object.keys(NODE_CRYPTO_EXTRA)];
const architecture = Object.keys(MAY_IMPORT).flatMap((dir) => [
  { files: [`${dir}/src/**/*.ts`], ignores: exceptions, rules: layerRules(dir, { keyLibraries: dir === 'packages/crypto' }) },
  ...exceptions
    .filter((f) => f.startsWith(`${dir}/`))
    .map((f) => ({
      files: [f],
      rules: layerRules(dir, { keyLibraries: KEY_BYTE_EXCEPTIONS.includes(f), nodeCrypto: [...NODE_CRYPTO_ALLOWED, ...(NODE_CRYPTO_EXTRA[f] ?? [])] }),
    })),
]);

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.tsbuild/**',
      'test/tor/data/**',
      'coverage/**',
      'test-results/**',
      '.stryker-tmp/**',
      'mutation/reports/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'test/ci/*.mjs', 'apps/cli/bundle.mjs', 'apps/cli/import-meta-url.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Promises must be awaited or explicitly voided: a dropped rejection on a network path is a silent failure.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Names chosen by other members (roles, fields, onions) must never be looked up on plain
    // objects, where `constructor` or `__proto__` finds Object.prototype (issue 11).
    files: ['packages/pursuance/src/**/*.ts', 'apps/node/src/**/*.ts'],
    plugins: { local },
    rules: { 'local/no-dynamic-record-lookup': 'error' },
  },
  ...architecture,
  {
    files: ['**/test/**/*.ts', 'test/**/*.ts', '**/*.test.ts'],
    rules: {
      // Tests poke at internals and use loose assertion helpers.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  // The dashboard's single-file components: Vue's essential (correctness) rules; layout is left to the formatter, with TypeScript parsing the
  // <script setup lang="ts"> blocks (vue-tsc type-checks them; type-aware lint stays on .ts files).
  ...pluginVue.configs['flat/essential'].map((c) => ({ ...c, files: ['apps/dashboard/**/*.vue'] })),
  {
    files: ['apps/dashboard/**/*.vue'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: {
        ...tseslint.configs.disableTypeChecked.languageOptions?.parserOptions,
        parser: tseslint.parser,
        extraFileExtensions: ['.vue'],
        sourceType: 'module',
      },
    },
    // Undefined names are vue-tsc's job (it knows the DOM types); ESLint's scope analysis does not.
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-undef': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);

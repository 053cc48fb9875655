// @ts-check
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * The layers of the code (docs/architecture.md, "Layers"), as lint rules: an import across them
 * that the table below does not allow fails `npm run lint`, so `npm test`. Each element is a folder
 * (or a file at the top of src/); `from` may import `allow`, and nothing else of ours.
 */
const ELEMENTS = [
  { type: 'machines', pattern: 'machines', partialMatch: false },
  { type: 'schema', pattern: 'src/schema', partialMatch: false },
  { type: 'core', pattern: 'src/core', partialMatch: false },
  { type: 'ledger', pattern: 'src/ledger', partialMatch: false },
  { type: 'replay', pattern: 'src/replay', partialMatch: false },
  { type: 'audit', pattern: 'src/audit', partialMatch: false },
  { type: 'worker', pattern: 'src/worker', partialMatch: false },
  { type: 'jobs', pattern: 'src/jobs', partialMatch: false },
  { type: 'sandbox', pattern: 'src/sandbox', partialMatch: false },
  { type: 'model', pattern: 'src/model', partialMatch: false },
  { type: 'ops', pattern: 'src/ops', partialMatch: false },
  { type: 'config', pattern: 'src/config', partialMatch: false },
  { type: 'legacy', pattern: 'src/legacy', partialMatch: false },
  { type: 'demo', pattern: 'src/demo', partialMatch: false },
  { type: 'ui', pattern: 'src/ui', partialMatch: false },
  { type: 'cli', pattern: 'src/cli', partialMatch: false },
  { type: 'types', pattern: 'src/types', partialMatch: false },
];

/** Files at the top of src/ (not in a folder of their own): pure helpers, the edges' small utilities, the plane, the library. */
const FILES = [
  { category: 'base', pattern: 'src/{canonical,errors,time}.ts' },
  { category: 'edge-util', pattern: 'src/{ids,version,lazy-deps}.ts' },
  { category: 'plane', pattern: 'src/plane.ts' },
  { category: 'library', pattern: 'src/index.ts' },
];
const FILE_KINDS = new Set(FILES.map((f) => f.category));
/** A layer's selector: an element folder, or a category of top-level files. */
const node = (kind) => (FILE_KINDS.has(kind) ? { file: { categories: kind } } : { element: { type: kind } });

/** from → what it may import (besides itself and packages). */
const LAYERS = {
  base: [],
  schema: ['base'],
  machines: ['schema'],
  core: ['machines', 'schema', 'base'],
  'edge-util': ['core', 'base'],
  ledger: ['core', 'machines', 'schema', 'base', 'edge-util'],
  replay: ['core', 'ledger', 'machines', 'schema', 'base'],
  audit: ['core', 'ledger', 'schema', 'base'],
  plane: ['core', 'ledger', 'replay', 'machines', 'schema', 'base', 'edge-util'],
  ops: ['plane', 'audit', 'core', 'ledger', 'machines', 'schema', 'base', 'edge-util'],
  config: ['ledger', 'schema', 'base'],
  worker: ['plane', 'core', 'ledger', 'machines', 'schema', 'base', 'edge-util', 'ops'],
  sandbox: ['worker', 'config', 'core', 'machines', 'schema', 'base'],
  model: ['worker', 'sandbox', 'config', 'schema', 'base'],
  jobs: ['worker', 'sandbox', 'model', 'config', 'schema', 'base'],
  legacy: ['plane', 'audit', 'core', 'ledger', 'machines', 'schema', 'base'],
  demo: ['schema'],
  // The web view (docs/ui.md): the plane's read side, status, replay; never the store or a worker.
  ui: ['plane', 'ops', 'replay', 'audit', 'core', 'ledger', 'machines', 'schema', 'base', 'edge-util'],
  cli: [...ELEMENTS.map((e) => e.type), 'base', 'edge-util', 'plane'],
  library: [...ELEMENTS.map((e) => e.type), 'base', 'edge-util', 'plane'],
  types: [],
};

/** Modules that touch the machine (files, processes, network): never in the pure core. */
const IO_MODULES = [
  'node:fs',
  'node:fs/*',
  'node:child_process',
  'node:net',
  'node:http',
  'node:os',
  'node:worker_threads',
  'node:process',
  'execa',
  'fs-native-extensions',
  'write-file-atomic',
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'src/schema/types.generated.ts', '.execplane/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
      // Type-aware rules (a promise nobody awaits, a needless assertion) read the TypeScript program.
      parserOptions: { project: ['./tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'machines/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' } },
      'boundaries/elements': ELEMENTS,
      'boundaries/files': FILES,
    },
    rules: {
      // Every file of ours belongs to a layer, and so does everything it imports of ours.
      'boundaries/no-unknown-files': 'error',
      'boundaries/no-unknown-dependencies': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: Object.entries(LAYERS).flatMap(([from, to]) =>
            [from, ...to].map((kind) => ({ from: node(from), allow: { to: node(kind) } })),
          ),
        },
      ],
    },
  },
  {
    // The audit's own invariant rules share nothing with what they check (docs/audit.md).
    files: ['src/audit/invariants.ts', 'src/audit/findings.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/machines/**', '**/core/**', '**/replay/**', '**/plane*', '**/ledger/**'],
              message: 'the audit rules are independent of the machine they check',
            },
          ],
        },
      ],
    },
  },
  {
    // The pure core: no I/O, ever (docs/architecture.md).
    files: ['machines/**/*.ts', 'src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.filter((m) => !m.includes('*')),
          patterns: IO_MODULES.filter((m) => m.includes('*')),
        },
      ],
    },
  },
  {
    // Plain JavaScript (bin/, scripts/, this file) is linted without types.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tests: async callbacks that await nothing are how vitest and fast-check take them, and
    // vitest's asymmetric matchers (expect.any, expect.stringMatching) are typed `any`.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);

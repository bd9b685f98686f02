import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// Folders above the SDK that use its public facade only (DESIGN.md §1); some do not exist yet.
const FACADE_USERS = ['./src/integrations', './src/export', './src/detect', './src/report'];
const ABOVE_SDK = [...FACADE_USERS, './src/server', './src/cli'];
// What a facade user may import: the package's public entry and the types it re-exports.
const PUBLIC = ['./index.ts', './errors.ts', './event/types.ts', './internal'];
// Beyond the facade, per room: export/ uses the one glob and the one CEL of the product, and its
// cursor seam; detect/ its cursor and state seam, the same CEL (custom rules), and delivers alerts
// through export/'s pipeline (same cursor, retries and dead letters).
const EXTRA = {
  './src/export': ['./core/glob.ts', './sdk/export-state.ts', './policy/condition.ts'],
  './src/detect': [
    './core/glob.ts',
    './policy/condition.ts',
    './sdk/detect-state.ts',
    './sdk/export-state.ts',
    './export',
  ],
};

/** The layer rules of DESIGN.md §1 as import zones (exported for eslint-zones.test.ts). */
export const LAYER_ZONES = [
  {
    target: './src/core',
    from: './src',
    except: ['./core', './internal'],
    message: 'core is pure: it imports nothing of ours but internal/',
  },
  {
    target: ['./src/event', './src/redact', './src/policy', './src/store'],
    from: ['./src/sdk', './src/testing', './src/index.ts', ...ABOVE_SDK],
    message:
      'event, redact, policy and store sit below the SDK: they never import sdk/, the facade or anything above',
  },
  {
    target: './src/sdk',
    from: ['./src/index.ts', ...ABOVE_SDK],
    message: 'the SDK never imports the integrations, the CLI or anything above it',
  },
  {
    target: [
      './src/core',
      './src/sdk',
      './src/policy',
      './src/redact',
      './src/event',
      './src/testing',
      './src/index.ts',
      ...ABOVE_SDK,
    ],
    from: ['./src/store/sqlite', './src/store/postgres'],
    message: 'only store/ imports a backend',
  },
  ...FACADE_USERS.map((dir) => ({
    target: dir,
    from: './src',
    except: [...PUBLIC, `./${dir.slice('./src/'.length)}`, ...(EXTRA[dir] ?? [])],
    message: `${dir.slice('./src/'.length)}/ uses the public facade only (src/index.ts, errors, event types)`,
  })),
  {
    target: './src/cli',
    from: './src',
    except: [
      ...PUBLIC,
      './cli',
      './server',
      './report',
      './export',
      './detect',
      './sdk/internal-api.ts',
      './integrations/mcp/proxy.ts',
    ],
    message:
      'the CLI calls the public SDK only (plus sdk/internal-api.ts, the MCP proxy, the server, report/, export/ and detect/)',
  },
  {
    target: [
      './src/core',
      './src/internal',
      './src/event',
      './src/redact',
      './src/policy',
      './src/store',
      './src/sdk',
      './src/testing',
      './src/index.ts',
      './src/errors.ts',
      ...FACADE_USERS,
      './src/server',
    ],
    from: './src/cli',
    message: 'nothing imports the CLI: it is the outermost shell',
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'build/**',
      '.scratch/**',
      'node_modules/**',
      'bench/results/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // The arrows of DESIGN.md §1, one zone each (eslint-zones.test.ts checks every zone bites).
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: LAYER_ZONES }],
    },
    settings: { 'import-x/resolver': { typescript: true, node: true } },
  },
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['**/*.test.ts', '**/*.contract.ts', 'test/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**', 'bench/**', 'scripts/**', 'examples/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);

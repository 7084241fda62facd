// Lint: the house rules that types alone do not enforce. The important one is the workflow
// boundary: workflows/ and the shared modules they import run in Temporal's deterministic sandbox,
// so they may not import Node, I/O libraries or activity code (types excepted).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import prettier from 'eslint-config-prettier';

/** Modules the workflow bundle imports from src/: held to the same rules as workflows/. */
export const WORKFLOW_SAFE = [
  'workflows/**/*.ts',
  'scripts/floor-workflows.ts',
  'src/contract/**/*.ts',
  'src/batch-mode.ts',
  'src/batch-state.ts',
  'src/constants.ts',
  'src/errors/categories.ts',
  'src/item-record.ts',
  'src/pricing.ts',
  'src/search-attributes.ts',
  'src/stages.ts',
  'src/usage.ts',
];

const PROVIDER_ONLY =
  'Model calls go through the ModelProvider seam (src/providers/types.ts): only src/providers/<provider>/ imports its SDK.';

/**
 * The worker evaluates the workflow modules once per workflow thread and shares them with every
 * workflow it runs (src/worker.ts, `preloadModules`): module scope is not per workflow, so it holds
 * constants only. Exported values are deep-frozen by the SDK; a Map or Set is not (its entries are
 * not properties), nor is anything unexported.
 */
const SHARED_MODULE_SCOPE =
  'Workflow modules are shared by every workflow of a worker thread: module scope holds constants only (keep state in the workflow function, or use a frozen array or object).';

/** The `openai` package (a regex: the gitignore-style group 'openai' would match our own providers/openai folder too). */
const OPENAI_SDK = '^openai(/.*)?$';

const NOT_IN_WORKFLOWS =
  'Workflows are deterministic and run in a sandbox: no I/O, Node modules or activity code here (import types only, or move the work to an activity).';

export default tseslint.config(
  { ignores: ['node_modules/**', '.batch-llm/**', 'test/fixtures/histories/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        NodeJS: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
      },
    },
    rules: {
      // No floating promises: every promise is awaited, returned, or explicitly `void`ed with a reason.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Type-only imports say so (they vanish from the workflow bundle); `import()` types serve the CLI's lazy requires.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-require-imports': 'off', // the CLI loads commands lazily with require()
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: WORKFLOW_SAFE,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((name) => `node:${name}`)].map((name) => ({
            name,
            message: NOT_IN_WORKFLOWS,
          })),
          patterns: [
            {
              group: [
                'zod',
                '@google/genai',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '@temporalio/testing',
              ],
              message: NOT_IN_WORKFLOWS,
              allowTypeImports: true,
            },
            {
              group: ['**/activities', '**/activities/**', '**/src/cli/**', '**/src/client/**', '**/src/providers/**'],
              message: NOT_IN_WORKFLOWS,
              allowTypeImports: true,
            },
            { regex: OPENAI_SDK, message: NOT_IN_WORKFLOWS, allowTypeImports: true },
            // The emulator is an HTTP server; only its import-free header constant is shared with workflow code.
            {
              regex: '^@durable-batch-llm/gemini-emulator(?!/item-header$)',
              message: NOT_IN_WORKFLOWS,
              allowTypeImports: true,
            },
            { group: ['**/packages/**'], message: 'Import workspace packages by their package name.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "Program > VariableDeclaration[kind!='const']", message: SHARED_MODULE_SCOPE },
        {
          selector: "Program > ExportNamedDeclaration > VariableDeclaration[kind!='const']",
          message: SHARED_MODULE_SCOPE,
        },
        {
          selector:
            ':matches(Program, Program > ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet|WeakRef)$/]',
          message: SHARED_MODULE_SCOPE,
        },
        {
          // Exported values are frozen by the SDK; an unexported object or array must be frozen here.
          selector:
            'Program > VariableDeclaration > VariableDeclarator > :matches(ObjectExpression, ArrayExpression).init',
          message: SHARED_MODULE_SCOPE,
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: NOT_IN_WORKFLOWS },
        { name: 'console', message: "Use the SDK's `log` in workflows." },
        { name: 'require', message: NOT_IN_WORKFLOWS },
      ],
    },
  },
  {
    // The client and the CLI talk to workflows through the contract only.
    files: ['src/cli/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/**', '**/activities', '**/activities/**'],
              message: 'Use src/contract (messages, states) and BatchClient, not workflow or activity code.',
            },
            { group: ['@google/genai'], message: PROVIDER_ONLY },
            { regex: OPENAI_SDK, message: PROVIDER_ONLY },
          ],
        },
      ],
    },
  },
  {
    // Activities and the rest of src/ reach the model through the provider seam (types allowed).
    files: ['activities/**/*.ts', 'src/**/*.ts'],
    ignores: ['src/providers/gemini/**', 'src/providers/openai/**', 'src/cli/**', 'src/client/**', ...WORKFLOW_SAFE],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@google/genai'], message: PROVIDER_ONLY, allowTypeImports: true },
            { regex: OPENAI_SDK, message: PROVIDER_ONLY, allowTypeImports: true },
          ],
        },
      ],
    },
  },
  // Each provider imports its own SDK only.
  {
    files: ['src/providers/gemini/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: OPENAI_SDK, message: PROVIDER_ONLY }] }] },
  },
  {
    files: ['src/providers/openai/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@google/genai'], message: PROVIDER_ONLY }] }] },
  },
  // Formatting is prettier's (npm run format); no lint rule argues with it.
  prettier,
);

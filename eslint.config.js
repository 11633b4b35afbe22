// ESLint for the whole repository (`npm run lint`, part of `npm test`): typescript-eslint's
// type-aware recommended rules, plus limits that keep functions and files small enough to read
// in one sitting: small files, and functions that each do one thing.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The limits for source code, and why each sits where it does.
 * @type {import('eslint').Linter.RulesRecord}
 */
const LIMITS = {
  // ESLint counts every `?.`, `??`, `||`, `&&` and default value as a branch, and reading an
  // untrusted object field by field is full of them while staying one straight path. At 20 the
  // rule still flags a function that makes several separate decisions; below that it mostly
  // flags careful input reading.
  complexity: ['error', 20],
  // Deeper nesting than an if inside a loop inside a try is a function waiting to be extracted.
  'max-depth': ['error', 4],
  // More than five positional arguments are read wrongly at the call site: pass an object.
  'max-params': ['error', 5],
  // 80 lines of code is what one screen shows: a function longer than that does several things.
  'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
  // A file over 400 lines of code holds more than one concern.
  'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'test/e2e/cluster/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks a value destructured away on purpose (e.g. to drop a field from a copy).
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  { rules: LIMITS },
  {
    files: ['src/server/**/*.ts'],
    rules: {
      // Fastify route handlers are async by the framework's convention: a returned value and a
      // throw become the reply the same way whether or not the handler awaits anything.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap collects the promise of each t.test itself and fails the file on a rejection, and its
      // callbacks are async by convention whether or not they await.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
      // Tests read parsed JSON and YAML (answers, rendered manifests) as loosely typed values
      // and check their shape with tap's matchers, which fail on a wrong shape anyway.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `t.teardown(server.close)`: the helpers' close functions are closures, not methods.
      '@typescript-eslint/unbound-method': 'off',
      // A suite is one function holding its t.test blocks, so it runs longer than a function
      // of the product; each block inside still reads on its own.
      'max-lines-per-function': ['error', { max: 250, skipBlankLines: true, skipComments: true }],
      'max-lines': ['error', { max: 500, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
);

// Lint: ESLint's recommended rules and typescript-eslint's, over our sources
// and tests; generated and built code is left out.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'proto/gen/**', 'node_modules/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      eqeqeq: ['error', 'smart']
    }
  },
  {
    // The live view's page scripts run in a browser (daemon/src/api/routes/ui.ts serves them).
    files: ['daemon/src/api/ui/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['document', 'window', 'location', 'fetch', 'WebSocket', 'sessionStorage', 'performance', 'console', 'setTimeout',
        'clearTimeout', 'setInterval', 'btoa', 'TextEncoder', 'Node', 'BigInt'].map((g) => [g, 'readonly']))
    }
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', performance: 'readonly' } }
  }
)

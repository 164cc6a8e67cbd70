import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      'node_modules/**',
      'coverage/**',
      'artifacts/**',
      'public/build/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  {
    // The domain is plain TypeScript: the hexagon's centre knows no framework or driver.
    files: [
      'packages/server/src/event-bus/domain/**/*.ts',
      'packages/server/src/processes/domain/**/*.ts',
      'packages/protocol/src/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            'ioredis',
            'socket.io',
            'socket.io-client',
            'pg',
            'express',
            '../adapters/*',
            '../engine/*',
            '../hub/*',
            '../../gateway/*',
            '../../access/*',
          ],
        },
      ],
    },
  },
  {
    // The client and the wire protocol run in browsers: nothing server-side.
    files: ['packages/client/src/**/*.ts', 'packages/protocol/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            '@streamgate/server',
            'ioredis',
            'socket.io',
            'pg',
            'express',
            'node:*',
            '../../server/*',
          ],
        },
      ],
    },
  },
  {
    // The reference app, its tests and benchmarks use the packages by name only.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/packages/*', '**/packages/**'] },
      ],
    },
  },
  {
    files: [
      'test/**/*.ts',
      'packages/*/test/**/*.ts',
      '**/*.spec.ts',
      'bench/**/*.ts',
    ],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);

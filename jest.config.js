/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest'] };
// Tests run the packages from source, as the reference app imports them: by name.
const moduleNameMapper = {
  '^@streamgate/protocol$': '<rootDir>/packages/protocol/src/index.ts',
  '^@streamgate/server$': '<rootDir>/packages/server/src/index.ts',
  '^@streamgate/server/testing$': '<rootDir>/packages/server/src/testing.ts',
  '^@streamgate/client$': '<rootDir>/packages/client/src/index.ts',
};

module.exports = {
  maxWorkers: 2,
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      rootDir: '.',
      testMatch: [
        '<rootDir>/src/**/*.spec.ts',
        '<rootDir>/packages/*/src/**/*.spec.ts',
      ],
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
    },
    {
      displayName: 'e2e',
      rootDir: '.',
      testMatch: [
        '<rootDir>/test/**/*.e2e-spec.ts',
        '<rootDir>/packages/*/test/**/*.e2e-spec.ts',
      ],
      transform,
      moduleNameMapper,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};

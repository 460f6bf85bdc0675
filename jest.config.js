/** Tests run against real PostgreSQL: DATABASE_URL when set, else an embedded PGlite started once in globalSetup. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/subgraphs', '<rootDir>/gateway', '<rootDir>/shared'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  // jose is ESM-only: compile it to CommonJS for the test runner.
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  // The client package is ESM source (relative imports end in .js, as Node requires): resolve them to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/kit/global-setup.ts',
  globalTeardown: '<rootDir>/test/kit/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};

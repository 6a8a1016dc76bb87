/** Type-checking is `tsc --noEmit` (scripts/test.sh); ts-jest only transpiles, which keeps runs fast. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/clients/typescript/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0', isolatedModules: true, esModuleInterop: true, resolveJsonModule: true } }],
  },
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
  testTimeout: 120000,
};

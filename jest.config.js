// ESM throughout: jest runs with --experimental-vm-modules and swc emits ES modules.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  // Sources import './x.js' (NodeNext style); map to the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  setupFiles: ['<rootDir>/test/support/env.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
  // The longest files first (the fault matrix's shards): test/support/slow-first-sequencer.js.
  testSequencer: '<rootDir>/test/support/slow-first-sequencer.js',
};

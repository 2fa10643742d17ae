import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Node resolves `graphql` to its CommonJS entry (it has no "exports" map), and so do the CJS
    // packages that build our schema. Vite would pick the "module" entry for our own files, and two
    // copies of graphql cannot share a schema; this keeps the tests on the one copy Node uses.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own servers on ephemeral loopback ports; forks keep native modules isolated.
    pool: 'forks',
  },
});

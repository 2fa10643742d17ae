import { availableParallelism } from 'node:os';
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
    // Tests wait on conditions (expect.poll), never on the clock: what they wait for takes
    // milliseconds, but may take seconds on a loaded machine before it counts as a failure.
    expect: { poll: { timeout: 5_000 } },
    // Each file starts its own servers on ephemeral loopback ports; forks keep native modules isolated.
    pool: 'forks',
    // Files wait on loopback I/O far more than they compute: at least two run at once, where vitest's
    // default (one fewer than the cores) would run the files of a 2-core machine one at a time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own servers on ephemeral loopback ports; forks keep native modules isolated.
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      '*/src/**/*.test.ts',
      '*/test/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'alerts/**/*.test.ts',
    ],
    globalSetup: ['./test-support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database-heavy files fight each other.
    maxWorkers: 2,
  },
});

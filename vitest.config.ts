import { defineConfig, type Plugin } from 'vitest/config';

/**
 * Resolves the workspace packages to their TypeScript sources (their `@observatory/source` export condition)
 * in every server environment, the global setup's included, so tests need no build. Vite clears
 * `resolve.conditions` per environment, hence a hook; the rest are its default server conditions.
 */
const workspaceSources: Plugin = {
  name: 'observatory:workspace-sources',
  configEnvironment(name, options) {
    if (name === 'client') return;
    options.resolve ??= {};
    options.resolve.conditions = [
      '@observatory/source',
      ...(options.resolve.conditions ?? ['module', 'node', 'development|production']),
    ];
  },
};

export default defineConfig({
  plugins: [workspaceSources],
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

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Dawn is a native addon: one process per test file, two at a time (the CI machine has 2 cores).
    pool: 'forks',
    // the long-run memory test measures the JS heap after explicit collections
    execArgv: ['--expose-gc'],
    maxWorkers: 2,
    globalSetup: ['test/setup/global.ts'],
    // crash trace per worker, and the file's shared device destroyed after its last test
    setupFiles: ['test/setup/trace.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**'] } },
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'] } },
    ],
  },
});

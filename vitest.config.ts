import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/global-log-scan.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start gateways and real clients; two cores, so keep concurrency modest.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});

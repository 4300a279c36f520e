import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest leaves a CPU free, which on a 2-CPU machine means one file at a time. Most files
    // here spend their time waiting on child processes and sockets: on 2 CPUs, two at a time cut
    // the run from 276 to ~155 s, three to ~128 s.
    maxWorkers: Math.max(3, availableParallelism()),
  },
});

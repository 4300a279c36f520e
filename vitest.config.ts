import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest leaves a CPU free, which on a 2-CPU machine means one file at a time; most files
    // here spend their time waiting on child processes and sockets, so two at a time cut the run
    // by a sixth there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});

// Vitest configuration for the suites that run inside the lane's Dom0 (see dom0-suites.sh). Only
// device-level suites belong here; the host's `npm test` never picks up tests/xen/dom0/*.dom0.ts.
import { defineConfig } from 'vitest/config';

// Which files: XEN_LANE_INCLUDE (space-separated globs) chooses; dom0-suites.sh runs the lane's own
// suites and the extra ones first, then the client suites on their own.
const include = (process.env.XEN_LANE_INCLUDE ?? 'tests/xen/dom0/**/*.dom0.ts')
  .split(/\s+/)
  .filter(Boolean);

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include,
    // Software emulation is 10-20x slower than the host: generous limits, never timing asserts.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // One worker for every file: starting a worker under emulation takes longer than vitest's fixed
    // 60 s start-up limit allows when several start at once.
    pool: 'forks',
    maxWorkers: 1,
    isolate: false,
    experimental: {
      // Transformed modules are cached on disk. The host warms this cache (same checkout path) before
      // booting, which spares Dom0 most of the transform work it would do at emulated speed.
      fsModuleCache: true,
      fsModuleCachePath: '.cache/xen-lane/vitest-module-cache',
    },
  },
});

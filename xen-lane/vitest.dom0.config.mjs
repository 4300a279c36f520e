// Vitest configuration for the suites that run inside the lane's Dom0 (see dom0-suites.sh). Only
// device-level suites belong here; the host's `npm test` never picks up tests/xen/dom0/*.dom0.ts.
import { defineConfig } from 'vitest/config';

const extra = (process.env.XEN_LANE_EXTRA_TESTS ?? '').split(/\s+/).filter(Boolean);

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['tests/xen/dom0/**/*.dom0.ts', ...extra],
    // Software emulation is 10-20x slower than the host: generous limits, never timing asserts.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['verbose'],
  },
});

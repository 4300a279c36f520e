import { it } from 'vitest';
import { expectGuestBundles } from '../support/guest-bundle.ts';

// The real-Xen run itself needs the lane (tests/xen/xenbus/README.md).
it('bundles the DomU frontend into a self-contained module', () => {
  expectGuestBundles(new URL('../xen/xenbus/build-domu.mjs', import.meta.url));
});

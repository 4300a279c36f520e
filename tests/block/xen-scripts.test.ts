import { it } from 'vitest';
import { expectGuestBundles } from '../support/guest-bundle.ts';

// The real-Xen run needs the lane (tests/xen/block/README.md).
it('bundles the DomU block program into a self-contained module', () => {
  expectGuestBundles(new URL('../xen/block/build-domu.mjs', import.meta.url));
});

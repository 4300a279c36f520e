// Builds the DomU image that runs the vchan frontend, on the host, without touching the lane's
// own (tests/xen/support/domu-overlay.mjs): vchan-frontend.domu.ts bundled, the native addon,
// and domu-init as /init.
//   node tests/xen/xenbus/build-domu.mjs            image at .cache/xen-lane/xenbus/initramfs-domu-xenbus.cpio
//   node tests/xen/xenbus/build-domu.mjs --bundle F  only the bundle, to F
import { fileURLToPath } from 'node:url';
import { buildFromCommandLine } from '../support/domu-overlay.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
await buildFromCommandLine({
  name: 'xenbus',
  entry: `${here}vchan-frontend.domu.ts`,
  program: 'vchan-frontend',
  init: `${here}domu-init`,
});

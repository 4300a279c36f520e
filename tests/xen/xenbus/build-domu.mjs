// Builds the DomU image that runs the vchan frontend, on the host, without touching the lane's
// own (tests/xen/support/domu-overlay.mjs): vchan-frontend.domu.ts bundled, the native addon,
// and domu-init as /init.
//   node tests/xen/xenbus/build-domu.mjs            image at .cache/xen-lane/xenbus/initramfs-domu-xenbus.cpio
//   node tests/xen/xenbus/build-domu.mjs --bundle F  only the bundle, to F
import { fileURLToPath } from 'node:url';
import { buildDomuImage, bundle } from '../support/domu-overlay.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const entry = `${here}vchan-frontend.domu.ts`;

if (process.argv[2] === '--bundle') {
  await bundle(entry, process.argv[3]);
  process.exit(0);
}
console.log(
  await buildDomuImage({
    name: 'xenbus',
    entry,
    program: 'vchan-frontend',
    init: `${here}domu-init`,
  }),
);

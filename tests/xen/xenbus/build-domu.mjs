// Builds the DomU image that runs the vchan frontend, on the host, without touching the lane's
// own: vchan-frontend.domu.ts bundled into one ES module (esbuild, which tsx brings; the image has
// node but not the checkout), the native addon, and domu-init as /init, packed as a cpio archive
// appended to the lane's DomU image (the kernel unpacks both; later entries win); and Dom0's
// vchan-backend.dom0.ts bundled as .cache/xen-lane/xenbus/vchan-backend.mjs.
//   node tests/xen/xenbus/build-domu.mjs            image at .cache/xen-lane/xenbus/initramfs-domu-xenbus.cpio
//   node tests/xen/xenbus/build-domu.mjs --bundle F  only the bundle, to F
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addon, appendOverlay, bundle, cache, requireLaneBuilds } from '../support/guest-image.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const frontend = `${here}vchan-frontend.domu.ts`;

if (process.argv[2] === '--bundle') {
  await bundle(frontend, process.argv[3]);
  process.exit(0);
}

requireLaneBuilds();
const work = `${cache}/xenbus`;
const overlay = `${work}/overlay`;
rmSync(overlay, { recursive: true, force: true });
mkdirSync(`${overlay}/guest/xenbus`, { recursive: true });
await bundle(frontend, `${overlay}/guest/xenbus/vchan-frontend.mjs`);
// Dom0's side too: under emulation tsx spends 20-50 s transforming it before the first guest.
await bundle(`${here}vchan-backend.dom0.ts`, `${work}/vchan-backend.mjs`);
copyFileSync(addon, `${overlay}/guest/xenbus/xenwire.node`);
copyFileSync(`${here}domu-init`, `${overlay}/init`);
execFileSync('chmod', ['755', `${overlay}/init`]);
const image = `${work}/initramfs-domu-xenbus.cpio`;
await appendOverlay(overlay, image);
console.log(image);

// Builds the DomU image that runs the block parts, on the host, without touching the lane's own:
// blk-guest.domu.ts bundled, the native addon, e2fsprogs' mke2fs and e2fsck with their libraries
// (busybox has neither) and domu-init as /init, appended to the lane's DomU image. Also Dom0's
// side bundled (.cache/xen-lane/block/blk-dom0.mjs, and the xenwire command it runs,
// xenwire-cli.mjs): under emulation node starts them in seconds, where tsx would first spend
// minutes transforming each of their modules.
//   node tests/xen/block/build-domu.mjs             image at .cache/xen-lane/block/initramfs-domu-block.cpio
//   node tests/xen/block/build-domu.mjs --bundle F  only the guest's bundle, to F
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addon,
  appendOverlay,
  bundle,
  cache,
  repo,
  requireLaneBuilds,
} from '../support/guest-image.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const guest = `${here}blk-guest.domu.ts`;

if (process.argv[2] === '--bundle') {
  await bundle(guest, process.argv[3]);
  process.exit(0);
}

requireLaneBuilds();
const tools = ['/usr/sbin/mke2fs', '/usr/sbin/e2fsck'];
for (const tool of tools) {
  if (!existsSync(tool)) throw new Error(`${tool} is missing: install e2fsprogs`);
}
const work = `${cache}/block`;
const overlay = `${work}/overlay`;
rmSync(overlay, { recursive: true, force: true });
mkdirSync(`${overlay}/guest/block`, { recursive: true });
await bundle(guest, `${overlay}/guest/block/blk-guest.mjs`);
await bundle(`${repo}src/cli/run.ts`, `${work}/xenwire-cli.mjs`);
await bundle(`${here}blk-dom0.ts`, `${work}/blk-dom0.mjs`);
copyFileSync(addon, `${overlay}/guest/block/xenwire.node`);
copyFileSync(`${here}domu-init`, `${overlay}/init`);
execFileSync('chmod', ['755', `${overlay}/init`]);

// The tools and every library they load, at the same paths as here.
const copy = (path) => {
  const target = `${overlay}${path}`;
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target)) copyFileSync(realpathSync(path), target);
};
for (const tool of tools) {
  copy(tool);
  const libraries = execFileSync('ldd', [tool], { encoding: 'utf8' }).match(/\/[^ )]+/g) ?? [];
  for (const library of libraries) copy(library);
}
symlinkSync('mke2fs', `${overlay}/usr/sbin/mkfs.ext4`);
if (existsSync('/etc/mke2fs.conf')) copy('/etc/mke2fs.conf');

const image = `${work}/initramfs-domu-block.cpio`;
await appendOverlay(overlay, image);
console.log(image);

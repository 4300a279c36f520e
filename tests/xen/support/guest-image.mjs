// What the lane's guest image variants share (tests/xen/*/build-domu.mjs): a guest program
// bundled into one ES module (the image has node, not the checkout), and an overlay directory
// packed as a cpio archive appended to the lane's DomU image (the kernel unpacks both; later
// entries win), so that the lane's own image is never touched.
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const cache = `${repo}.cache/xen-lane`;
/** The native addon the host built, which guests and Dom0 load too. */
export const addon = `${repo}native/build/Release/xenwire.node`;

/** Bundles `entry` and everything it imports into `outfile` (esbuild, which tsx brings). */
export async function bundle(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** Fails unless the lane's DomU image and the native addon are built. */
export function requireLaneBuilds() {
  for (const [path, how] of [
    [`${cache}/initramfs-domu.cpio`, 'bash xen-lane/build-initramfs.sh domu'],
    [addon, 'npm run build:native'],
  ]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run ${how} first`);
  }
}

/** Packs `overlay` and appends it to the lane's DomU image as `image`. */
export async function appendOverlay(overlay, image) {
  const overlayCpio = `${image}.overlay.cpio`;
  execFileSync('sh', [
    '-c',
    `cd "${overlay}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "${overlayCpio}"`,
  ]);
  const out = createWriteStream(image);
  await pipeline(createReadStream(`${cache}/initramfs-domu.cpio`), out, { end: false });
  await pipeline(createReadStream(overlayCpio), out);
}

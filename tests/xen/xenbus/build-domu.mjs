// Builds the DomU image that runs the vchan frontend, on the host, without touching the lane's
// own: vchan-frontend.domu.ts bundled into one ES module (esbuild, which tsx brings; the image has
// node but not the checkout), the native addon, and domu-init as /init, packed as a cpio archive
// appended to the lane's DomU image (the kernel unpacks both; later entries win).
//   node tests/xen/xenbus/build-domu.mjs            image at .cache/xen-lane/xenbus/initramfs-domu-xenbus.cpio
//   node tests/xen/xenbus/build-domu.mjs --bundle F  only the bundle, to F
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  rmSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cache = `${repo}.cache/xen-lane`;

async function bundle(outfile) {
  await build({
    entryPoints: [`${here}vchan-frontend.domu.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

if (process.argv[2] === '--bundle') {
  await bundle(process.argv[3]);
  process.exit(0);
}

const base = `${cache}/initramfs-domu.cpio`;
const addon = `${repo}native/build/Release/xenwire.node`;
for (const [path, how] of [
  [base, 'bash xen-lane/build-initramfs.sh domu'],
  [addon, 'npm run build:native'],
]) {
  if (!existsSync(path)) throw new Error(`${path} is missing: run ${how} first`);
}
const work = `${cache}/xenbus`;
const overlay = `${work}/overlay`;
rmSync(overlay, { recursive: true, force: true });
mkdirSync(`${overlay}/guest/xenbus`, { recursive: true });
await bundle(`${overlay}/guest/xenbus/vchan-frontend.mjs`);
copyFileSync(addon, `${overlay}/guest/xenbus/xenwire.node`);
copyFileSync(`${here}domu-init`, `${overlay}/init`);
execFileSync('chmod', ['755', `${overlay}/init`]);
const overlayCpio = `${work}/overlay.cpio`;
execFileSync('sh', [
  '-c',
  `cd "${overlay}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "${overlayCpio}"`,
]);
const image = `${work}/initramfs-domu-xenbus.cpio`;
const out = createWriteStream(image);
await pipeline(createReadStream(base), out, { end: false });
await pipeline(createReadStream(overlayCpio), out);
console.log(image);

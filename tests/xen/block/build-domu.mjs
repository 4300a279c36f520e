// Builds the DomU image that runs the block parts, on the host, without touching the lane's own:
// blk-guest.domu.ts bundled into one ES module (esbuild, which tsx brings), the native addon,
// e2fsprogs' mke2fs and e2fsck with their libraries (busybox has neither), and domu-init as /init,
// packed as a cpio archive appended to the lane's DomU image (the kernel unpacks both; later
// entries win). Also the xenwire command bundled for Dom0 (.cache/xen-lane/block/xenwire-cli.mjs).
//   node tests/xen/block/build-domu.mjs             image at .cache/xen-lane/block/initramfs-domu-block.cpio
//   node tests/xen/block/build-domu.mjs --bundle F  only the bundle, to F
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cache = `${repo}.cache/xen-lane`;

async function bundle(outfile, entry = `${here}blk-guest.domu.ts`) {
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
const tools = ['/usr/sbin/mke2fs', '/usr/sbin/e2fsck'];
for (const tool of tools) {
  if (!existsSync(tool)) throw new Error(`${tool} is missing: install e2fsprogs`);
}

const work = `${cache}/block`;
const overlay = `${work}/overlay`;
rmSync(overlay, { recursive: true, force: true });
mkdirSync(`${overlay}/guest/block`, { recursive: true });
await bundle(`${overlay}/guest/block/blk-guest.mjs`);
// The xenwire command for Dom0, in one file: under emulation, node starts it in seconds, where
// tsx would transform each of its modules first.
await bundle(`${work}/xenwire-cli.mjs`, `${repo}src/cli/main.ts`);
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

const overlayCpio = `${work}/overlay.cpio`;
execFileSync('sh', [
  '-c',
  `cd "${overlay}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "${overlayCpio}"`,
]);
const image = `${work}/initramfs-domu-block.cpio`;
const out = createWriteStream(image);
await pipeline(createReadStream(base), out, { end: false });
await pipeline(createReadStream(overlayCpio), out);
console.log(image);

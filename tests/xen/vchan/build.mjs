// Builds the libxenvchan and console part's programs, on the host:
// - the DomU image, without touching the lane's own (tests/xen/support/guest-image.mjs):
//   peer.domu.ts bundled, the native addon, domu-init as /init, and Xen's `vchan-socket-proxy`
//   (xen-utils-4.17) with every libxen* library it loads, under /usr/lib/xen-vchan;
// - the Dom0 programs, each bundled into one module under .cache/xen-lane/vchan/dom0/: loading
//   the TypeScript sources through tsx in Dom0 takes 20-50 s under emulation, a bundle a few.
//   node tests/xen/vchan/build.mjs            image at .cache/xen-lane/vchan/initramfs-domu-vchan.cpio
//   node tests/xen/vchan/build.mjs --bundle F  only the DomU program's bundle, to F
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addon, appendOverlay, bundle, cache, requireLaneBuilds } from '../support/guest-image.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const peer = `${here}peer.domu.ts`;

if (process.argv[2] === '--bundle') {
  await bundle(peer, process.argv[3]);
  process.exit(0);
}

/** The proxy and the Xen libraries ldd resolves for it from the unpacked Debian packages. */
function cTools() {
  const root = readFileSync(`${cache}/xen-tools-root`, 'utf8').trim();
  const proxy = `${root}/usr/lib/xen-4.17/bin/vchan-socket-proxy`;
  const libraryPath = [
    `${root}/usr/lib/x86_64-linux-gnu`,
    `${root}/usr/lib/xen-4.17/lib/x86_64-linux-gnu`,
  ].join(':');
  const ldd = execFileSync('ldd', [proxy], {
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: libraryPath },
  });
  const libraries = [...ldd.matchAll(/=> (\S+) /g)]
    .map((match) => match[1])
    .filter((path) => path.startsWith(root));
  if (!libraries.some((path) => basename(path).startsWith('libxenvchan'))) {
    throw new Error(`ldd found no libxenvchan for ${proxy}:\n${ldd}`);
  }
  return { proxy, libraries };
}

requireLaneBuilds();
const work = `${cache}/vchan`;
const overlay = `${work}/overlay`;
rmSync(overlay, { recursive: true, force: true });
mkdirSync(`${overlay}/guest/vchan`, { recursive: true });
await bundle(peer, `${overlay}/guest/vchan/peer.mjs`);
copyFileSync(addon, `${overlay}/guest/vchan/xenwire.node`);
copyFileSync(`${here}domu-init`, `${overlay}/init`);
execFileSync('chmod', ['755', `${overlay}/init`]);
const { proxy, libraries } = cTools();
mkdirSync(`${overlay}/usr/lib/xen-vchan`, { recursive: true });
for (const file of [proxy, ...libraries]) {
  copyFileSync(file, `${overlay}/usr/lib/xen-vchan/${basename(file)}`);
}
const image = `${work}/initramfs-domu-vchan.cpio`;
await appendOverlay(overlay, image);
for (const program of ['vchan-console', 'server-child']) {
  await bundle(`${here}${program}.dom0.ts`, `${work}/dom0/${program}.mjs`);
}
console.log(image);

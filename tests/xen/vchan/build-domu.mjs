// Builds the DomU image for the libxenvchan and console part, on the host, without touching the
// lane's own (tests/xen/support/domu-overlay.mjs): peer.domu.ts bundled, the native addon,
// domu-init as /init, and Xen's `vchan-socket-proxy` (xen-utils-4.17) with every libxen*
// library it loads, under /usr/lib/xen-vchan.
//   node tests/xen/vchan/build-domu.mjs            image at .cache/xen-lane/vchan/initramfs-domu-vchan.cpio
//   node tests/xen/vchan/build-domu.mjs --bundle F  only the bundle, to F
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFromCommandLine } from '../support/domu-overlay.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** The proxy and the Xen libraries ldd resolves for it from the unpacked Debian packages. */
function cTools() {
  const root = readFileSync(`${repo}.cache/xen-lane/xen-tools-root`, 'utf8').trim();
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

await buildFromCommandLine({
  name: 'vchan',
  entry: `${here}peer.domu.ts`,
  program: 'peer',
  init: `${here}domu-init`,
  extra(overlay) {
    const { proxy, libraries } = cTools();
    const dir = `${overlay}/usr/lib/xen-vchan`;
    mkdirSync(dir, { recursive: true });
    for (const file of [proxy, ...libraries]) copyFileSync(file, `${dir}/${basename(file)}`);
  },
});

// Bundles vchan-frontend.domu.ts into one ES module for the DomU image, which has node but not
// the checkout's node_modules or tsx. esbuild comes with tsx (a dev dependency).
//   node tests/xen/xenbus/build-domu.mjs [OUTFILE]   (default .cache/xen-lane/xenbus/vchan-frontend.mjs)
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const outfile =
  process.argv[2] ??
  fileURLToPath(new URL('../../../.cache/xen-lane/xenbus/vchan-frontend.mjs', import.meta.url));
await build({
  entryPoints: [`${here}vchan-frontend.domu.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
console.log(outfile);

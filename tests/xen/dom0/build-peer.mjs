// Bundles grant-peer.ts into one ES module for the lane's Dom0 (run by xen-lane/prepare-host.sh):
// under emulation, `node --import tsx` spent ~12 s transforming it at each of the grant tests'
// peer starts. grants.dom0.ts runs the bundle when it is there.
//   node tests/xen/dom0/build-peer.mjs        bundle at .cache/xen-lane/grants/grant-peer.mjs
import { fileURLToPath } from 'node:url';
import { bundle, cache } from '../support/guest-image.mjs';

const out = `${cache}/grants/grant-peer.mjs`;
await bundle(fileURLToPath(new URL('./grant-peer.ts', import.meta.url)), out);
console.log(out);

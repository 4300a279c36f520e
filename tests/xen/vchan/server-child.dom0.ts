/**
 * A xenwire libxenvchan server in a process of its own, for process-death.ts to kill:
 * serves domain 0 at the path given, prints `connected` once its client is in, then waits.
 *   node .cache/xen-lane/vchan/dom0/server-child.mjs PATH      (bundled by build.mjs)
 */
import { openVchanServer } from '../../../src/vchan/index.ts';
import { xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient } from '../../../src/xenstore/index.ts';

const client = await XenstoreClient.connect();
const stream = await openVchanServer({
  client,
  platform: xenPlatform({ client }),
  peerDomid: 0,
  path: process.argv[2] as string,
});
stream.once('connect', () => console.log('connected'));
stream.resume();
console.log('listening');

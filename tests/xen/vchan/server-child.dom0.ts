/**
 * A xenwire libxenvchan server in a process of its own, for process-death.dom0.ts to kill:
 * serves domain 0 at the path given, prints `connected` once its client is in, then waits.
 *   node --import tsx tests/xen/vchan/server-child.dom0.ts PATH
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

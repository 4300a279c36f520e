/**
 * A guest program for a worker thread: boots as its domain, connects a libxenvchan client to the
 * path the parent names, exchanges `workerData.bytes` random bytes each way, and reports both
 * digests. Only the host's shared memory connects it to the server.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';
import { connectGuest, type GuestHandoff } from '../../../src/host/index.ts';
import { openVchanClient } from '../../../src/vchan/index.ts';
import { simulatedPlatform } from '../../../src/xenbus/index.ts';
import { exchangeRandom } from './exchange-digests.ts';

const { bytes, xenwireGuest } = workerData as { bytes: number; xenwireGuest: GuestHandoff };
const { client, domid } = await connectGuest();
const platform = simulatedPlatform(SimulatedHypervisor.fromShared(xenwireGuest.hypervisor), domid);
const [path] = (await once(parentPort!, 'message')) as [string];
const stream = await openVchanClient({ client, platform, peerDomid: 0, path, timeoutMs: 10_000 });
const report = await exchangeRandom(stream, bytes);
await once(stream, 'close');
platform.close();
await client.close();
parentPort?.postMessage(report);

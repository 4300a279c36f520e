/**
 * A guest program for a worker thread: boots as its domain, waits for word that its device
 * exists, opens the vchan device's frontend
 * and sends `workerData.bytes` random bytes while receiving to the end, then reports both digests
 * to the parent. Only the host's shared memory connects it to the backend.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';
import { connectGuest, type GuestHandoff } from '../../../src/host/index.ts';
import { openVchanFrontend, simulatedPlatform } from '../../../src/xenbus/index.ts';
import { receiveAll, sendRandom } from './streams.ts';

const { bytes, xenwireGuest } = workerData as { bytes: number; xenwireGuest: GuestHandoff };
const { client, domid } = await connectGuest();
// The toolstack adds the device once the domain exists, as xl does before unpausing it.
await new Promise((resolve) => parentPort?.once('message', resolve));
const platform = simulatedPlatform(SimulatedHypervisor.fromShared(xenwireGuest.hypervisor), domid);
const { stream, device } = await openVchanFrontend({ client, platform });
const closed = new Promise((resolve) => device.once('closed', resolve));
parentPort?.postMessage({ connected: true });
const [sent, received] = await Promise.all([sendRandom(stream, bytes), receiveAll(stream)]);
await closed;
platform.close();
await client.close();
parentPort?.postMessage({ sent, received });

/** Blocks forever in waitPending on a simulated host, for the termination test. */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';

const { buffer, domid } = workerData as { buffer: SharedArrayBuffer; domid: number };
const channel = SimulatedHypervisor.fromShared(buffer).openEventChannel(domid);
parentPort!.postMessage('blocking');
channel.waitPending();

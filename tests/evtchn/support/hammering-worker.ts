/** Sends on an interdomain port as fast as it can, for the stop-mid-operation test. */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';

const { buffer, domid, port } = workerData as {
  buffer: SharedArrayBuffer;
  domid: number;
  port: number;
};
const hv = SimulatedHypervisor.fromShared(buffer);
// Told once a send has gone through, so that every stop finds at least one event delivered.
hv.send(domid, port);
parentPort!.postMessage('hammering');
for (;;) hv.send(domid, port);

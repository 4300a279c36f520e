/**
 * The back end of a simulated split driver in its own thread: maps the page the front end
 * granted, answers the byte it finds with that byte + 1, and kicks the front end's port.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';

export interface GrantWorkerSetup {
  readonly buffer: SharedArrayBuffer;
  readonly domid: number;
  readonly frontDomid: number;
  readonly ref: number;
  readonly frontPort: number;
}

const setup = workerData as GrantWorkerSetup;
const hv = SimulatedHypervisor.fromShared(setup.buffer);
const channel = hv.openEventChannel(setup.domid);
const port = channel.bindInterdomain(setup.frontDomid, setup.frontPort);
const page = hv.grants.map(setup.domid, setup.frontDomid, setup.ref);
page[1] = page[0]! + 1;
channel.notify(port);
hv.grants.unmap(setup.domid, setup.frontDomid, setup.ref);
channel.close();
parentPort!.postMessage('done');

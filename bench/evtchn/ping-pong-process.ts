/**
 * One run of the simulated hypervisor's cross-worker ping-pong (the event-channel tests' workers)
 * in a process of its own, through the bench's handshake (`bench/lib/measured-child.ts`).
 *
 *   ping-pong-process.ts ROUNDS
 *
 * Ready once domain a has bound its port, which it does after loading; domain b, started at
 * the same time, loads meanwhile, so the measured CPU time may include the end of b's start-up.
 * The rate is b's own timing of its rounds.
 */
import { Worker } from 'node:worker_threads';
import { isNativeAvailable } from '../../src/device/index.ts';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';
import type { PingPongReport, PingPongSetup } from '../../tests/evtchn/support/ping-pong-worker.ts';
import { measureWhenTold } from '../lib/measured-child.ts';

const bootstrap = new URL('../../tests/evtchn/support/typescript-worker.mjs', import.meta.url);
const entry = new URL('../../tests/evtchn/support/ping-pong-worker.ts', import.meta.url).href;

const rounds = Number(process.argv[2]);
if (!(rounds > 0)) throw new Error('usage: ping-pong-process.ts ROUNDS');

/** Resolves with the first report of `kind` from `worker`, rejecting on a worker failure. */
function report<K extends PingPongReport['kind']>(
  worker: Worker,
  kind: K,
): Promise<Extract<PingPongReport, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PingPongReport) => {
      if (message.kind === 'error') reject(new Error(message.message));
      else if (message.kind === kind) {
        worker.off('message', onMessage);
        resolve(message as Extract<PingPongReport, { kind: K }>);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

// Sleeps on the addon's futex when it is built, else on Atomics.wait.
const hv = SimulatedHypervisor.create({ maxDomains: 3 });
const a = hv.createDomain();
const b = hv.createDomain();
const common = { buffer: hv.buffer, sequence: new SharedArrayBuffer(8), rounds, idle: false };
const start = (setup: PingPongSetup) => new Worker(bootstrap, { workerData: { ...setup, entry } });
const workerA = start({ ...common, role: 'a', domid: a, peerDomid: b });
const workerB = start({ ...common, role: 'b', domid: b, peerDomid: a });
try {
  const { port } = await report(workerA, 'port');
  await measureWhenTold(async () => {
    const done = report(workerB, 'done');
    workerB.postMessage(port);
    const { received, seconds } = await done;
    return { ops: received, seconds, extra: { nativeFutex: isNativeAvailable() ? 1 : 0 } };
  });
} finally {
  await hv.stopWorker(workerA);
  await hv.stopWorker(workerB);
}

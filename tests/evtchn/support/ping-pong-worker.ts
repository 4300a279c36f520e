/**
 * One domain of a cross-thread ping-pong over the simulated hypervisor. Role `a` answers, role
 * `b` starts each round; each round is notify → wake → notify back. Both sides check a shared
 * sequence counter so a notification that overtook its data, or a lost one, is caught.
 *
 * After the rounds, when `idle` is set, both sides stay idle until the main thread says so:
 * `a` blocked in waitPending (Atomics.wait), `b` awaiting the async iterator (Atomics.waitAsync),
 * and `b` reports its event-loop utilisation over that idle time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';

export interface PingPongSetup {
  readonly buffer: SharedArrayBuffer;
  /** [0]: last round answered by a, [1]: last round started by b. */
  readonly sequence: SharedArrayBuffer;
  readonly role: 'a' | 'b';
  readonly domid: number;
  readonly peerDomid: number;
  readonly rounds: number;
  readonly idle: boolean;
}

export type PingPongReport =
  | { readonly kind: 'port'; readonly port: number }
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'done';
      readonly received: number;
      readonly seconds: number;
      readonly idleUtilization?: number;
    }
  | { readonly kind: 'error'; readonly message: string };

/** Generous hang detector: a wait this long means a lost wake-up, never slowness. */
const LOST_WAKEUP_MS = 20_000;

const setup = workerData as PingPongSetup;
const parent = parentPort!;
const hv = SimulatedHypervisor.fromShared(setup.buffer);
const handle = hv.openEventChannel(setup.domid);
const sequence = new Int32Array(setup.sequence);
const post = (report: PingPongReport) => parent.postMessage(report);
const message = () => new Promise<unknown>((resolve) => parent.once('message', resolve));

function expectEvent(port: number, round: number): void {
  const ports = handle.waitPending(LOST_WAKEUP_MS);
  if (ports.length !== 1 || ports[0] !== port) {
    throw new Error(`round ${round}: expected [${port}], got [${ports.join(', ')}]`);
  }
  handle.unmask(port);
}

function expectSequence(index: number, round: number): void {
  const seen = Atomics.load(sequence, index);
  if (seen !== round) throw new Error(`round ${round}: sequence[${index}] is ${seen}`);
}

async function runA(): Promise<void> {
  const port = handle.bindUnboundPort(setup.peerDomid);
  post({ kind: 'port', port });
  let received = 0;
  for (let round = 1; round <= setup.rounds; round++) {
    expectEvent(port, round);
    received++;
    expectSequence(1, round);
    Atomics.store(sequence, 0, round);
    handle.notify(port);
  }
  if (setup.idle) {
    post({ kind: 'idle' });
    expectEvent(port, setup.rounds + 1);
    received++;
    handle.notify(port);
  }
  post({ kind: 'done', received, seconds: 0 });
}

async function runB(): Promise<void> {
  const peerPort = (await message()) as number;
  const port = handle.bindInterdomain(setup.peerDomid, peerPort);
  // bind_interdomain leaves the new port pending; consume that before counting.
  expectEvent(port, 0);
  let received = 0;
  const start = performance.now();
  for (let round = 1; round <= setup.rounds; round++) {
    Atomics.store(sequence, 1, round);
    handle.notify(port);
    expectEvent(port, round);
    received++;
    expectSequence(0, round);
  }
  const seconds = (performance.now() - start) / 1000;
  if (!setup.idle) {
    post({ kind: 'done', received, seconds });
    return;
  }
  const events = handle.pending();
  const before = performance.eventLoopUtilization();
  post({ kind: 'idle' });
  await message();
  const idleUtilization = performance.eventLoopUtilization(before).utilization;
  handle.notify(port);
  const answer = await events.next();
  if (answer.value !== port) throw new Error(`idle round: expected ${port}, got ${answer.value}`);
  received++;
  post({ kind: 'done', received, seconds, idleUtilization });
}

(setup.role === 'a' ? runA() : runB()).then(
  () => handle.close(),
  (error: Error) => post({ kind: 'error', message: error.stack ?? error.message }),
);

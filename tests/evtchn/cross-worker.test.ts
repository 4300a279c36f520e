import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { isNativeAvailable } from '../../src/device/index.ts';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import type { GrantWorkerSetup } from './support/grant-worker.ts';
import type { PingPongReport, PingPongSetup } from './support/ping-pong-worker.ts';

const bootstrap = new URL('./support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./support/ping-pong-worker.ts', import.meta.url).href;
const grantEntry = new URL('./support/grant-worker.ts', import.meta.url).href;
// Build the addon first so the native-futex variant runs wherever the addon can be built.
nativeAddonReady();
const ROUNDS = Number(process.env.XENWIRE_ROUNDS ?? 100_000);
/** Length of the idle window whose CPU use is measured (a resource bound, not a speed bound). */
const IDLE_MS = 500;

/** Reports of one worker, in order. */
class WorkerReports {
  readonly #queue: PingPongReport[] = [];
  readonly #waiters: ((report: PingPongReport) => void)[] = [];

  constructor(readonly worker: Worker) {
    worker.on('message', (report: PingPongReport) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(report);
      else this.#queue.push(report);
    });
    worker.on('error', (error) =>
      this.#deliver({ kind: 'error', message: error.stack ?? String(error) }),
    );
  }

  #deliver(report: PingPongReport): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(report);
    else this.#queue.push(report);
  }

  async next<K extends PingPongReport['kind']>(
    kind: K,
  ): Promise<Extract<PingPongReport, { kind: K }>> {
    const report =
      this.#queue.shift() ??
      (await new Promise<PingPongReport>((resolve) => this.#waiters.push(resolve)));
    if (report.kind === 'error') throw new Error(`worker failed: ${report.message}`);
    expect(report.kind).toBe(kind);
    return report as Extract<PingPongReport, { kind: K }>;
  }
}

function start(setup: PingPongSetup): WorkerReports {
  return new WorkerReports(new Worker(bootstrap, { workerData: { ...setup, entry } }));
}

describe('simulated hypervisor across worker threads', () => {
  // Both ways a blocked worker can sleep: V8's Atomics.wait, and the addon's futex when built.
  const sleepers = isNativeAvailable() ? [false, true] : [false];
  it.each(sleepers)(
    `exchanges ${ROUNDS} round trips without a lost wake-up and idles without burning CPU (native futex: %s)`,
    async (nativeFutex) => {
      const hv = SimulatedHypervisor.create({ nativeFutex });
      const a = hv.createDomain();
      const b = hv.createDomain();
      const sequence = new SharedArrayBuffer(8);
      const common = { buffer: hv.buffer, sequence, rounds: ROUNDS, idle: true };
      const workerA = start({ ...common, role: 'a', domid: a, peerDomid: b });
      const workerB = start({ ...common, role: 'b', domid: b, peerDomid: a });
      try {
        const { port } = await workerA.next('port');
        workerB.worker.postMessage(port);
        await workerA.next('idle');
        await workerB.next('idle');

        // Both workers now sleep: one in Atomics.wait, one in Atomics.waitAsync.
        const cpuBefore = process.cpuUsage();
        const wallBefore = performance.now();
        await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
        const cpu = process.cpuUsage(cpuBefore);
        const wallMicros = (performance.now() - wallBefore) * 1000;
        workerB.worker.postMessage('wake');

        const doneA = await workerA.next('done');
        const doneB = await workerB.next('done');
        expect(doneA.received).toBe(ROUNDS + 1);
        expect(doneB.received).toBe(ROUNDS + 1);
        expect(new Int32Array(sequence)[0]).toBe(ROUNDS);
        // The whole process (main thread and both workers) stayed near idle.
        expect((cpu.user + cpu.system) / wallMicros).toBeLessThan(0.2);
        expect(doneB.idleUtilization).toBeLessThan(0.2);
        console.log(
          `cross-worker: ${ROUNDS} round trips in ${doneB.seconds.toFixed(2)} s; idle window: ` +
            `process CPU ${((100 * (cpu.user + cpu.system)) / wallMicros).toFixed(1)}% of wall, ` +
            `worker event-loop utilisation ${(100 * (doneB.idleUtilization ?? 0)).toFixed(1)}%`,
        );
      } finally {
        await hv.stopWorker(workerA.worker);
        await hv.stopWorker(workerB.worker);
      }
    },
    120_000,
  );

  it('shares a granted page and its event channel with a back end in another thread', async () => {
    const hv = SimulatedHypervisor.create();
    const front = hv.createDomain();
    const back = hv.createDomain();
    await using channel = hv.openEventChannel(front);
    const frontPort = channel.bindUnboundPort(back);
    const grant = hv.grants.grantAccess(front, back);
    grant.page[0] = 41;
    const events = channel.pending();
    const setup: GrantWorkerSetup = {
      buffer: hv.buffer,
      domid: back,
      frontDomid: front,
      ref: grant.ref,
      frontPort,
    };
    const worker = new Worker(bootstrap, { workerData: { ...setup, entry: grantEntry } });
    try {
      expect(await events.next()).toEqual({ value: frontPort, done: false });
      expect(grant.page[1]).toBe(42);
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      // The back end unmapped and closed its end: the grant can end, and our port is unbound again.
      hv.grants.endAccess(front, grant.ref);
      expect(hv.status(front, frontPort)).toMatchObject({ state: 'unbound', remoteDomid: back });
    } finally {
      await worker.terminate();
    }
  });

  it.each(sleepers)(
    'can terminate a worker blocked in waitPending (native futex: %s)',
    async (nativeFutex) => {
      const hv = SimulatedHypervisor.create({ nativeFutex });
      const workerData = {
        entry: new URL('./support/blocked-worker.ts', import.meta.url).href,
        buffer: hv.buffer,
        domid: hv.createDomain(),
      };
      const worker = new Worker(bootstrap, { workerData });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      // A sleep that terminate() cannot interrupt would hang here until the test times out.
      expect(await hv.stopWorker(worker)).toBe(1);
    },
  );
});

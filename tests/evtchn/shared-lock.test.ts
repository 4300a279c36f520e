import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SharedLock } from '../../src/evtchn/sim/shared-lock.ts';

const bootstrap = new URL('./support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./support/lock-worker.ts', import.meta.url).href;

const start = (buffer: SharedArrayBuffer, role: string) =>
  new Worker(bootstrap, { workerData: { entry, buffer, role } });

describe('SharedLock.stopThread', () => {
  it('frees a lock the stopped thread took only to give back, and wakes its waiters', async () => {
    const buffer = new SharedArrayBuffer(16);
    const words = new Int32Array(buffer);
    const lock = new SharedLock(words, 0, 1);
    const target = start(buffer, 'handover');
    await once(target, 'online');
    const holding = once(target, 'message');
    const stopped = await lock.stopThread(target.threadId, async () => {
      await holding;
      // A thread now waits behind the stopped one's hold.
      const waiter = start(buffer, 'waiter');
      await once(waiter, 'message');
      while ((Atomics.load(words, 0) & 1) === 0) await new Promise((r) => setTimeout(r, 5));
      const locked = once(waiter, 'message');
      return { exitCode: await target.terminate(), waiter, locked };
    });
    expect(stopped.exitCode).toBe(1);
    // Taken back from the ended thread, and handed on to the one waiting.
    expect(await stopped.locked).toEqual(['locked']);
    expect(Atomics.load(words, 1)).toBe(0);
    await stopped.waiter.terminate();
  }, 15_000);
});

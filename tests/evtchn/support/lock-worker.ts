/**
 * Plays one thread around a SharedLock for the lock's tests: `handover` takes the lock as a thread
 * does after the stop word names it (and is then ended before it gives it back); `waiter` waits
 * for the lock and says when it has it.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { SharedLock } from '../../../src/evtchn/sim/shared-lock.ts';

const { buffer, role } = workerData as { buffer: SharedArrayBuffer; role: 'handover' | 'waiter' };
const words = new Int32Array(buffer);
const LOCK = 0;
const STOP = 1;

if (role === 'handover') {
  const mark = (threadId + 1) * 2;
  // Named by the stop word, and late enough that the stopper has looked at the lock already.
  while (Atomics.load(words, STOP) !== mark) Atomics.wait(words, STOP, 0, 5);
  Atomics.wait(words, 2, 0, 200);
  Atomics.compareExchange(words, LOCK, 0, mark);
  parentPort!.postMessage('holding');
  Atomics.wait(words, 2, 0);
} else {
  parentPort!.postMessage('waiting');
  new SharedLock(words, LOCK, STOP).lock();
  parentPort!.postMessage('locked');
}

/**
 * One run of xenwire's ring stream (`stream.ts`) in a process of its own, through the bench's
 * handshake (`bench/lib/measured-child.ts`): both threads are loaded and waiting before it says
 * ready, so that the measured CPU time is the stream's.
 *
 *   stream-process.ts JOB
 *
 * JOB is a {@link StreamProcessJob} as JSON.
 */
import { measureWhenTold } from '../lib/measured-child.ts';
import { prepareStream, runInline, type StreamOptions } from './stream.ts';

/** Which stream to run, and for how long. */
export interface StreamProcessJob {
  /** A two-thread stream, or `inline`: the `requests` ring with both ends on one thread. */
  readonly workload: StreamOptions['workload'] | 'inline';
  readonly messageSize: number;
  readonly durationMs: number;
}

const job = JSON.parse(process.argv[2] ?? 'null') as StreamProcessJob | null;
if (!job) throw new Error('usage: stream-process.ts JOB');
const { workload, messageSize, durationMs } = job;
if (workload === 'inline') {
  // One thread, fresh: let the JIT compile the ring code before it is measured, as it has in a
  // program that has been running a while. (The two-thread streams start fresh threads anyway.)
  runInline(messageSize, durationMs / 4);
  await measureWhenTold(async () => {
    const r = runInline(messageSize, durationMs);
    return { ops: r.count, seconds: r.seconds };
  });
} else {
  const stream = await prepareStream({ workload, count: 1e12, durationMs, messageSize });
  await measureWhenTold(async () => {
    const r = await stream.run();
    const messages = workload === 'bytes' ? r.producer.messages : r.producer.count;
    const notifications = r.producer.notifications + r.consumer.notifications;
    return {
      ops: r.consumer.count,
      seconds: r.seconds,
      extra: { 'notifications/msg': notifications / messages },
    };
  });
}

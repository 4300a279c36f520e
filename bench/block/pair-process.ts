/**
 * One side of the block pair in a process of its own, through the bench's handshake
 * (`bench/lib/measured-child.ts`): both workers loaded and waiting before it says ready.
 *
 *   pair-process.ts SIDE JOB
 *
 * SIDE is `candidate` (xenwire blkfront -> blkback, two guest workers of a simulated host) or
 * `baseline` (two workers copying through shared memory); JOB a {@link BlockPairJob} as JSON.
 *
 * The rate is the side's own timing of its timed passes. The CPU time is the process's over the
 * whole run, its untimed first pass included, so it is reported per MB of everything moved
 * (`ops` are those MB, and `seconds` what the timed rate makes of them).
 */

import { prepareWorkerPair, type WorkerPairJob } from '../../tests/block/support/worker-pair.ts';
import { measureWhenTold } from '../lib/measured-child.ts';
import { prepareCopy } from './shared-memory-copy.ts';

/** What both sides move: `bytes` per pass, 1 untimed pass then `passes` timed ones. */
export type BlockPairJob = WorkerPairJob;

const [side, jobText] = process.argv.slice(2);
const job = JSON.parse(jobText ?? 'null') as BlockPairJob | null;
if (!job || (side !== 'candidate' && side !== 'baseline')) {
  throw new Error('usage: pair-process.ts candidate|baseline JOB');
}
const movedPerDirection = ((job.passes + 1) * job.bytes) / 1e6;

if (side === 'candidate') {
  const pair = await prepareWorkerPair(job);
  try {
    await measureWhenTold(async () => {
      const outcome = await pair.run();
      if (outcome.read !== outcome.wrote) throw new Error('the frontend read back other bytes');
      if (outcome.errors !== 0) throw new Error(`the backend answered ${outcome.errors} errors`);
      // Both directions move the same bytes: the rate of the whole is their harmonic mean.
      const rate = 2 / (1 / outcome.writeMBs + 1 / outcome.readMBs);
      const ops = 2 * movedPerDirection;
      return {
        ops,
        seconds: ops / rate,
        extra: { writeMBs: outcome.writeMBs, readMBs: outcome.readMBs },
      };
    });
  } finally {
    await pair.close();
  }
} else {
  const copy = await prepareCopy(job);
  try {
    await measureWhenTold(async () => {
      const rate = await copy.run();
      return { ops: movedPerDirection, seconds: movedPerDirection / rate };
    });
  } finally {
    await copy.close();
  }
}

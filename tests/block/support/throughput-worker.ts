/**
 * A guest program for a worker thread, either end of a block device: `role` 'backend' serves a
 * memory disk from its (driver) domain; 'frontend' writes then reads `bytes` with requests of
 * `requestBytes`, `depth` in flight, and reports the rates and what it read back. Only the host's
 * shared memory connects the two.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { MemoryDisk, openBlkback, openBlkfront } from '../../../src/block/index.ts';
import { SimulatedHypervisor } from '../../../src/evtchn/index.ts';
import { connectGuest, type GuestHandoff } from '../../../src/host/index.ts';
import { simulatedPlatform } from '../../../src/xenbus/index.ts';

interface Job {
  role: 'backend' | 'frontend';
  peer: number;
  devid: number;
  bytes: number;
  requestBytes: number;
  depth: number;
  /** Timed passes over the disk each way. */
  passes: number;
  xenwireGuest: GuestHandoff;
}
const job = workerData as Job;
const { client, domid } = await connectGuest();
const platform = simulatedPlatform(
  SimulatedHypervisor.fromShared(job.xenwireGuest.hypervisor),
  domid,
);
// The toolstack adds the device once both domains exist, as xl does before unpausing them.
await new Promise((resolve) => parentPort?.once('message', resolve));

if (job.role === 'backend') {
  const backend = await openBlkback({
    client,
    platform,
    frontendDomid: job.peer,
    devid: job.devid,
    disk: new MemoryDisk(job.bytes),
  });
  const reason = await backend.closed;
  parentPort?.postMessage({ closed: reason?.code ?? 'clean', stats: backend.stats });
} else {
  const front = await openBlkfront({
    client,
    platform,
    devid: job.devid,
    queues: 2,
    maxGrants: 1024,
  });
  const data = new Uint8Array(job.bytes);
  for (let i = 0; i < data.length; i += 4) data[i] = (i * 2654435761) >>> 24;
  const requests = job.bytes / job.requestBytes;
  /** MB/s of `passes` passes of `op` over the disk, `depth` requests in flight. */
  const run = async (passes: number, op: (i: number) => Promise<unknown>) => {
    const started = performance.now();
    for (let pass = 0; pass < passes; pass++) {
      let next = 0;
      await Promise.all(
        Array.from({ length: job.depth }, async () => {
          while (next < requests) await op(next++);
        }),
      );
    }
    return (passes * job.bytes) / 1e6 / ((performance.now() - started) / 1000);
  };
  const sectorsPer = job.requestBytes / 512;
  const write = (i: number) =>
    front.write(i * sectorsPer, data.subarray(i * job.requestBytes, (i + 1) * job.requestBytes));
  const back = new Uint8Array(job.bytes);
  const read = (i: number) =>
    front.readInto(i * sectorsPer, back.subarray(i * job.requestBytes, (i + 1) * job.requestBytes));
  // A pass each way first, untimed: the JIT compiles the hot paths.
  await run(1, write);
  await run(1, read);
  const writeMBs = await run(job.passes, write);
  back.fill(0);
  const readMBs = await run(job.passes, read);
  const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  parentPort?.postMessage({
    writeMBs,
    readMBs,
    wrote: digest(data),
    read: digest(back),
    info: front.info,
  });
  await front.close();
}
platform.close();
await client.close();

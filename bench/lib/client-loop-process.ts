/**
 * One run of the TypeScript client in a process of its own (see `client-loop.ts`):
 *
 *   client-loop-process.ts JOB
 *
 * JOB is a {@link ClientLoopJob} as JSON. Connects, warms up and sets up, then runs the loop
 * through the bench's handshake (`measured-child.ts`), then cleans up.
 */
import { mapFile, unmap } from '../../src/device/index.ts';
import { SocketEventChannel } from '../../src/evtchn/index.ts';
import { ringConnector, type TransportConnector } from '../../src/xenstore/index.ts';
import type { ClientLoopJob } from './client-loop.ts';
import { prepareClientLoop } from './client-workloads.ts';
import { measureWhenTold } from './measured-child.ts';

const job = JSON.parse(process.argv[2] ?? 'null') as ClientLoopJob | null;
if (!job) throw new Error('usage: client-loop-process.ts JOB');

let transport: TransportConnector | undefined;
let release = (): void => {};
if (job.ring) {
  const { pagePath, daemonEvents, ownEvents, port } = job.ring;
  const mapped = mapFile(pagePath, { length: 4096 });
  const eventChannel = SocketEventChannel.open({ localPath: ownEvents, peerPath: daemonEvents });
  const bound = eventChannel.bindInterdomain(0, port);
  transport = ringConnector({ page: new Uint8Array(mapped), eventChannel, port: bound });
  release = () => {
    eventChannel.close();
    unmap(mapped);
  };
}
try {
  const loop = await prepareClientLoop(job.socketPath, job.run, transport);
  try {
    await measureWhenTold(() => loop.run());
  } finally {
    await loop.close();
  }
} finally {
  release();
}

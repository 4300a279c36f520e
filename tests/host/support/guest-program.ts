/**
 * A guest program for a worker thread: boots as its domain, announces itself in its home, and
 * echoes every value dom0 writes to `ping` into `pong`, until `ping` says `stop`.
 */
import { parentPort } from 'node:worker_threads';
import { connectGuest } from '../../../src/host/index.ts';

const { client, domid } = await connectGuest();
await client.write('hello', `domain ${domid} in a worker`);
const watch = await client.watch(`/local/domain/${domid}/ping`);
parentPort?.postMessage('watching');
for await (const event of watch) {
  const value = await client.readString(event.path).catch(() => undefined);
  if (value === undefined) continue;
  await client.write('pong', value);
  if (value === 'stop') break;
}
await client.close();

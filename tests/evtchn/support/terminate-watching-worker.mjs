// Starts workers that poll a unix socket through the addon, then terminates them. Run in a
// fresh process whose main thread never loads the addon, so a worker's teardown really unloads
// it: a poll handle still closing at that point would call into unmapped code.
// Usage: node terminate-watching-worker.mjs ADDON_PATH SOCKET_DIR
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

if (isMainThread) {
  const [addon, dir] = process.argv.slice(2);
  for (let i = 0; i < 3; i++) {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { addon, path: join(dir, `t${i}.sock`) },
    });
    await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
  }
  console.log('ok');
} else {
  const native = createRequire(import.meta.url)(workerData.addon);
  native.watchPorts(native.unixDgramBind(workerData.path), 'datagram', () => {});
  parentPort.postMessage('ready');
}

import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDevice,
  openVchanBackend,
  openVchanFrontend,
  XenbusState,
} from '../../src/xenbus/index.ts';
import { type DeviceHost, deviceHost, workerBootstrap } from './support/device-host.ts';
import { type Digest, receiveAll, sendRandom } from './support/streams.ts';

const MB = 1024 * 1024;
const workerEntry = new URL('./support/vchan-frontend-worker.ts', import.meta.url).href;

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('the vchan byte-stream device on a simulated host', () => {
  let env: DeviceHost | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('carries 10 MiB each way between a frontend in a worker thread and a dom0 backend', async () => {
    env = await deviceHost({ type: 'vchan', guests: 0 });
    const { host } = env;
    const guest = await host.spawnGuestWorker(workerBootstrap, {
      workerData: { entry: workerEntry, bytes: 10 * MB },
    });
    expect(guest.domid).toBe(1);
    await createDevice(host.dom0Client, env.id);
    guest.worker.postMessage('device created');
    const connected = nextMessage<{ connected: true }>(guest.worker);
    const { stream, device } = await openVchanBackend({
      client: host.dom0Client,
      platform: env.dom0,
      frontendDomid: guest.domid,
    });
    await connected;
    const report = nextMessage<{ sent: Digest; received: Digest }>(guest.worker);
    const closed = once(device, 'closed');
    const started = performance.now();
    const [sent, received] = await Promise.all([sendRandom(stream, 10 * MB), receiveAll(stream)]);
    const seconds = (performance.now() - started) / 1000;
    const fromWorker = await report;
    console.log(
      `vchan device, frontend in a worker: ${((sent.bytes + received.bytes) / MB / seconds).toFixed(1)} MiB/s both ways together`,
    );
    expect(received).toEqual(fromWorker.sent);
    expect(fromWorker.received).toEqual(sent);
    expect(received.bytes).toBe(10 * MB);
    const [reason] = await closed;
    expect(reason).toBeUndefined();
    expect(await host.dom0Client.readString(`${device.path}/state`)).toBe(
      String(XenbusState.Closed),
    );
  });

  it('notices the frontend domain destroyed mid-stream and cleans up', async () => {
    env = await deviceHost({ type: 'vchan', guests: 0 });
    const { host } = env;
    const guest = await host.spawnGuestWorker(workerBootstrap, {
      workerData: { entry: workerEntry, bytes: 1024 * MB },
    });
    await createDevice(host.dom0Client, env.id);
    guest.worker.postMessage('device created');
    const { stream, device } = await openVchanBackend({
      client: host.dom0Client,
      platform: env.dom0,
      frontendDomid: guest.domid,
    });
    const closed = once(device, 'closed');
    const failed = once(stream, 'error');
    // Keep the frontend's writes flowing, and kill its domain once data has arrived.
    let seen = 0;
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.length;
    });
    await once(stream, 'data');
    const port = device.connection?.port as number;
    await host.destroyDomain(guest.domid);
    const [reason] = await closed;
    expect(reason?.code).toBe('ESRCH');
    expect((await failed)[0]).toMatchObject({ code: 'ESRCH' });
    expect(seen).toBeGreaterThan(0);
    expect(device.connection).toBeUndefined();
    expect(host.hypervisor.status(0, port).state).toBe('closed');
    expect(await host.dom0Client.readString(`${device.path}/state`)).toBe(
      String(XenbusState.Closed),
    );
  });

  it('honours backpressure: a writer whose reader does not read stops at the ring', async () => {
    env = await deviceHost({ type: 'vchan' });
    const { host } = env;
    const [front, back] = await Promise.all([
      openVchanFrontend({ client: host.guest(1).client, platform: env.platformOf(1) }),
      openVchanBackend({ client: host.dom0Client, platform: env.dom0, frontendDomid: 1 }),
    ]);
    // Nobody reads the backend: the frontend's writes stop once the ring and buffers are full.
    let accepted = 0;
    while (front.stream.write(Buffer.alloc(1024, 7))) accepted += 1024;
    expect(accepted).toBeLessThan(64 * 1024);
    const drained = once(front.stream, 'drain');
    const closed = Promise.all([once(front.device, 'closed'), once(back.device, 'closed')]);
    const received = receiveAll(back.stream);
    await drained;
    front.stream.end();
    back.stream.end();
    expect((await received).bytes).toBe(accepted + 1024);
    await receiveAll(front.stream);
    await closed;
  });
});

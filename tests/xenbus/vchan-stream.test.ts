import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openVchanBackend,
  openVchanFrontend,
  type VchanEnd,
  type XenbusBackend,
  type XenbusFrontend,
} from '../../src/xenbus/index.ts';
import { type DeviceHost, deviceHost } from './support/device-host.ts';
import { receiveAll, sendRandom } from './support/streams.ts';

let env: DeviceHost | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function pair(): Promise<[VchanEnd<XenbusFrontend>, VchanEnd<XenbusBackend>]> {
  env = await deviceHost({ type: 'vchan' });
  return Promise.all([
    openVchanFrontend({ client: env.host.guest(1).client, platform: env.platformOf(1) }),
    openVchanBackend({ client: env.host.dom0Client, platform: env.dom0, frontendDomid: 1 }),
  ]);
}

describe('VchanStream ends', () => {
  it('half-close: an ended frontend still receives until the backend ends too', async () => {
    const [front, back] = await pair();
    const closed = Promise.all([once(front.device, 'closed'), once(back.device, 'closed')]);
    const atBack = receiveAll(back.stream);
    front.stream.end('abc');
    expect(await atBack).toMatchObject({ bytes: 3 });
    // The backend's direction is still open: 300 KiB go through after the frontend's end.
    const atFront = receiveAll(front.stream);
    const sent = await sendRandom(back.stream, 300 * 1024);
    expect(await atFront).toEqual(sent);
    await closed;
    expect(front.stream.destroyed && back.stream.destroyed).toBe(true);
    expect(front.stream.errored ?? back.stream.errored).toBeNull();
  });

  it('a destroyed stream ends the peer’s readable and closes both devices', async () => {
    const [front, back] = await pair();
    const closed = Promise.all([once(front.device, 'closed'), once(back.device, 'closed')]);
    const ended = once(back.stream, 'end');
    back.stream.resume();
    front.stream.destroy();
    await ended;
    await closed;
    expect(back.device.connection).toBeUndefined();
  });

  it('a peer that goes away while data is still owed fails the stream with ECONNRESET', async () => {
    const [front, back] = await pair();
    // The backend writes more than the ring holds; nobody reads it; then the frontend closes
    // its device under it.
    const failed = once(back.stream, 'error');
    back.stream.write(Buffer.alloc(256 * 1024));
    await front.device.close();
    expect((await failed)[0]).toMatchObject({ name: 'XenbusError', code: 'ECONNRESET' });
    expect(front.stream.destroyed).toBe(true);
  });
});

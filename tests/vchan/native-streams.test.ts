// The libxenvchan stream tests again, with every end's bytes moved by the native pump
// (src/vchan/native-mover.ts) instead of the JavaScript end: on the simulated host the pump has
// no device to serve, so each port event steps it, and the notify it decided on is sent here.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EventChannel } from '../../src/evtchn/index.ts';
import type { Vchan } from '../../src/ring/index.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import { closed, openPair, type VchanHost, vchanHost } from './support/vchan-host.ts';

vi.mock('../../src/vchan/native-mover.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/vchan/native-mover.ts')>();
  class NotifyingPump extends actual.NativeVchanPump {
    readonly #notify: () => void;
    constructor(vchan: Vchan, notify: () => void) {
      super(vchan, -1, 0);
      this.#notify = notify;
    }
    override step(chunk: Uint8Array | null, offset: number): void {
      const before = this.notifies;
      super.step(chunk, offset);
      if (this.notifies !== before) this.#notify();
    }
  }
  return {
    ...actual,
    nativeVchanMover: (vchan: Vchan, events: EventChannel, port: number) => () =>
      new NotifyingPump(vchan, () => events.notify(port)),
  };
});

const ready = nativeAddonReady();
if (ready) {
  await import('./properties.test.ts');
  await import('./vchan.test.ts');
}

describe.skipIf(!ready)('native pump under a reader that takes more than one inbox', () => {
  let env: VchanHost;
  beforeAll(async () => {
    env = await vchanHost();
  });
  afterAll(async () => {
    await env.close();
  });

  it('reads a full 1 MiB ring and then the end with no event left to come', async () => {
    const { server, client } = await openPair(env, {
      serverDomid: 0,
      clientDomid: 1,
      port: 1,
      leftMin: 2 ** 20,
      stream: { readableHighWaterMark: 2 ** 21 },
    });
    const data = Buffer.alloc(2 ** 20).map((_, i) => (i * 7 + (i >>> 9)) & 0xff);
    const serverClosed = closed(server);
    client.resume();
    client.end(data);
    await closed(client);
    // The client is gone and woke the server for the last time: the server's first read finds
    // a ring of 16 inboxes, and must go on by itself to the last byte and the end.
    const chunks: Buffer[] = [];
    server.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(server, 'end');
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(await serverClosed).toBeUndefined();
  });
});

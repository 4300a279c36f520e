import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createDevice,
  devicePaths,
  XenbusBackend,
  type XenbusError,
  XenbusFrontend,
  XenbusState,
} from '../../src/xenbus/index.ts';
import type { XenstoreClient } from '../../src/xenstore/index.ts';
import { type DeviceHost, deviceHost } from './support/device-host.ts';

/**
 * What blkif added to the handshake: several queues (`multi-queue-num-queues`, `queue-N/`),
 * keys advertised with InitWait and published with Connected, a backend directory type other
 * than the frontend's, and read-only mappings.
 */

let env: DeviceHost;
afterEach(async () => {
  await env?.close();
});

function backend(options: { advertise?: Record<string, string> } = {}): Promise<XenbusBackend> {
  return XenbusBackend.open({
    client: env.host.dom0Client,
    platform: env.dom0,
    type: env.id.type,
    frontendDomid: 1,
    timeoutMs: 2000,
    ...options,
  });
}

function frontend(): Promise<XenbusFrontend> {
  return XenbusFrontend.open({
    client: env.host.guest(1).client,
    platform: env.platformOf(1),
    type: env.id.type,
    timeoutMs: 2000,
  });
}

async function rejection(promise: Promise<unknown>): Promise<XenbusError> {
  return promise.then(
    () => expect.unreachable('expected a failure') as never,
    (error: XenbusError) => error,
  );
}

async function publish(guest: XenstoreClient, dir: string, keys: Record<string, string>) {
  await guest.transaction(async (tx) => {
    for (const [key, value] of Object.entries(keys)) await tx.write(`${dir}/${key}`, value);
  });
}

describe('multi-queue devices', () => {
  it('lays out queue-N directories, maps every queue and releases them all on close', async () => {
    env = await deviceHost();
    const paths = devicePaths(env.id);
    const [fe, be] = await Promise.all([frontend(), backend()]);
    const [front, back] = await Promise.all([
      fe.connect({ queues: 3, ringPages: 2 }),
      be.connect({ maxQueues: 4 }),
    ]);
    const dom0 = env.host.dom0Client;
    expect(await dom0.readString(`${paths.frontend}/multi-queue-num-queues`)).toBe('3');
    expect(await dom0.readString(`${paths.frontend}/ring-page-order`)).toBe('1');
    expect(await dom0.readString(`${paths.frontend}/queue-2/ring-ref1`)).toBe(
      String(front.queues[2]?.ring.refs[1]),
    );
    expect(await dom0.exists(`${paths.frontend}/ring-ref`)).toBe(false);
    expect(await dom0.exists(`${paths.frontend}/event-channel`)).toBe(false);
    expect(back.queues).toHaveLength(3);
    expect(back.port).toBe(back.queues[0]?.port);
    // Each queue is its own ring and its own channel.
    // Each queue is its own ring and its own channel. (Binding leaves a port pending, as Xen
    // does: count only what arrives after each notify.)
    const events = env.dom0.eventChannel;
    let heard: number[] = [];
    events.on('pending', (port) => {
      heard.push(port);
      events.unmask(port);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const [i, queue] of front.queues.entries()) {
      queue.ring.pages[1]?.fill(i + 1, 0, 1);
      expect(back.queues[i]?.ring.pages[1]?.[0]).toBe(i + 1);
      heard = [];
      fe.platform.eventChannel.notify(queue.port);
      await vi.waitFor(() => expect(heard).toEqual([back.queues[i]?.port]));
    }
    const backendClosed = once(be, 'closed');
    await fe.close();
    await backendClosed;
    for (const queue of front.queues) {
      expect(env.host.hypervisor.status(1, queue.port).state).toBe('closed');
      for (const ref of queue.ring.refs) {
        expect(() => env.host.hypervisor.grants.map(0, 1, ref)).toThrow(/not granted/);
      }
    }
  });

  it.each(['3', '0'])('refuses %s queues when it offers 2 (EPROTO)', async (count) => {
    env = await deviceHost();
    const paths = devicePaths(env.id);
    const be = await backend();
    const connected = rejection(be.connect({ maxQueues: 2 }));
    await publish(env.host.guest(1).client, paths.frontend, {
      'multi-queue-num-queues': count,
      state: String(XenbusState.Initialised),
    });
    expect(await connected).toMatchObject({ code: 'EPROTO' });
  });

  it('refuses a ring-page-order above the backend’s maximum (EPROTO)', async () => {
    env = await deviceHost();
    const [fe, be] = await Promise.all([frontend(), backend()]);
    const refused = rejection(be.connect({ maxRingPageOrder: 1 }));
    fe.connect({ ringPages: 4 }).catch(() => {});
    expect(await refused).toMatchObject({ code: 'EPROTO' });
  });

  it('takes a single page published as ring-ref0', async () => {
    env = await deviceHost();
    const paths = devicePaths(env.id);
    const be = await backend();
    const grant = env.host.hypervisor.grants.grantAccess(1, 0);
    const port = env.host.hypervisor.allocUnbound(1, 0);
    const connected = be.connect();
    await publish(env.host.guest(1).client, paths.frontend, {
      'ring-ref0': String(grant.ref),
      'event-channel': String(port),
      state: String(XenbusState.Initialised),
    });
    expect((await connected).ring.refs).toEqual([grant.ref]);
    await be.close().catch(() => {});
  });

  it('lets the frontend choose its layout from what the backend advertised with InitWait', async () => {
    env = await deviceHost();
    const paths = devicePaths(env.id);
    const seen: (string | undefined)[] = [];
    const fe = await frontend();
    const be = await backend({ advertise: { 'max-ring-page-order': '2', 'max-queues': '2' } });
    const [front] = await Promise.all([
      fe.connect({
        negotiate: async (read) => {
          seen.push(await read('max-ring-page-order'), await read('absent'));
          return { ringPages: 2 ** Number(await read('max-ring-page-order')), queues: 2 };
        },
      }),
      be.connect({ maxQueues: 2, connectedKeys: { sectors: '42', info: '4' } }),
    ]);
    expect(seen).toEqual(['2', undefined]);
    expect(front.queues).toHaveLength(2);
    expect(front.ring.refs).toHaveLength(4);
    // The keys of Connected are there for whoever sees Connected.
    expect(await env.host.guest(1).client.readString(`${paths.backend}/sectors`)).toBe('42');
    await fe.close();
  });
});

describe('closing against a backend that unmaps only once the frontend is Closed', () => {
  it('writes Closed after the backend’s Closing, and ends its grants after the backend’s Closed', async () => {
    // Linux's blkback: the frontend's Closing gets Closing back; only the frontend's Closed
    // makes it disconnect (unmap) and go Closed.
    env = await deviceHost();
    const paths = devicePaths(env.id);
    const dom0 = env.host.dom0Client;
    const fe = await frontend();
    const connected = fe.connect();
    await dom0.write(`${paths.backend}/state`, String(XenbusState.InitWait));
    const watch = await dom0.watch(`${paths.frontend}/state`);
    let mapped: ReturnType<typeof env.dom0.mapGrants> | undefined;
    const seen: string[] = [];
    const backendDone = (async () => {
      for await (const _ of watch) {
        const state = await dom0.readString(`${paths.frontend}/state`);
        if (seen.at(-1) !== state) seen.push(state);
        if (state === String(XenbusState.Initialised) && !mapped) {
          const ref = Number(await dom0.readString(`${paths.frontend}/ring-ref`));
          mapped = env.dom0.mapGrants(1, [ref]);
          await dom0.write(`${paths.backend}/state`, String(XenbusState.Connected));
        } else if (state === String(XenbusState.Closing)) {
          await dom0.write(`${paths.backend}/state`, String(XenbusState.Closing));
        } else if (state === String(XenbusState.Closed)) {
          mapped?.release();
          await dom0.write(`${paths.backend}/state`, String(XenbusState.Closed));
          return;
        }
      }
    })();
    const connection = await connected;
    // A close that had to give up waiting for the backend rejects (EBUSY).
    await fe.close();
    await backendDone;
    await watch.close();
    expect(seen.slice(-2)).toEqual([String(XenbusState.Closing), String(XenbusState.Closed)]);
    expect(() => env.host.hypervisor.grants.map(0, 1, connection.ring.refs[0] as number)).toThrow(
      /not granted/,
    );
  });
});

describe('a backend type of its own', () => {
  it('puts the backend under backend/<backendType> while the frontend keeps its type', async () => {
    env = await deviceHost({ guests: 1 });
    const id = {
      type: 'vbd',
      backendType: 'vbd-xenwire',
      frontendDomid: 1,
      backendDomid: 0,
      devid: 51728,
    };
    const paths = await createDevice(env.host.dom0Client, id);
    expect(paths).toEqual({
      frontend: '/local/domain/1/device/vbd/51728',
      backend: '/local/domain/0/backend/vbd-xenwire/1/51728',
    });
    expect(await env.host.dom0Client.readString(`${paths.frontend}/backend`)).toBe(paths.backend);
    expect(() => devicePaths({ ...id, backendType: 'a/b' })).toThrow(/not a path element/);
  });
});

describe('read-only mappings', () => {
  it('map a read-only grant that a writable mapping may not', async () => {
    env = await deviceHost();
    const grant = env.host.hypervisor.grants.grantAccess(1, 0, { readonly: true });
    expect(() => env.dom0.mapGrants(1, [grant.ref])).toThrow(/read-only/);
    const mapped = env.dom0.mapGrants(1, [grant.ref], { readonly: true });
    grant.page[0] = 7;
    expect(mapped.pages[0]?.[0]).toBe(7);
    mapped.release();
  });
});

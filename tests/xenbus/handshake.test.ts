import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { EvtchnError } from '../../src/evtchn/index.ts';
import {
  devicePaths,
  removeDevice,
  XenbusBackend,
  type XenbusError,
  XenbusFrontend,
  XenbusState,
} from '../../src/xenbus/index.ts';
import type { XenstoreClient } from '../../src/xenstore/index.ts';
import { type DeviceHost, deviceHost } from './support/device-host.ts';

const FAST = 300;
let env: DeviceHost;
afterEach(async () => {
  await env?.close();
});

async function setUp(): Promise<{ paths: ReturnType<typeof devicePaths>; guest: XenstoreClient }> {
  env = await deviceHost({ guests: 2 });
  return { paths: devicePaths(env.id), guest: env.host.guest(1).client };
}

function backend(timeoutMs = FAST): Promise<XenbusBackend> {
  return XenbusBackend.open({
    client: env.host.dom0Client,
    platform: env.dom0,
    type: env.id.type,
    frontendDomid: 1,
    timeoutMs,
  });
}

function frontend(timeoutMs = FAST): Promise<XenbusFrontend> {
  return XenbusFrontend.open({
    client: env.host.guest(1).client,
    platform: env.platformOf(1),
    type: env.id.type,
    timeoutMs,
  });
}

/** What a frontend publishes, written by hand so that it can be got wrong. */
async function publish(guest: XenstoreClient, dir: string, keys: Record<string, string>) {
  await guest.transaction(async (tx) => {
    for (const [key, value] of Object.entries(keys)) await tx.write(`${dir}/${key}`, value);
  });
}

/** A ring page and port as a well-behaved frontend in domain 1 would offer them. */
function offer(count = 1): { refs: number[]; pages: Uint8Array[]; port: number } {
  const grants = Array.from({ length: count }, () => env.host.hypervisor.grants.grantAccess(1, 0));
  const port = env.host.hypervisor.allocUnbound(1, 0);
  return { refs: grants.map((g) => g.ref), pages: grants.map((g) => g.page), port };
}

async function rejection(promise: Promise<unknown>): Promise<XenbusError> {
  return promise.then(
    () => expect.unreachable('expected a failure') as never,
    (error: XenbusError) => error,
  );
}

describe('the toolstack', () => {
  it('lays out both directories with xl’s ownership and cross-read permissions', async () => {
    const { paths } = await setUp();
    const dom0 = env.host.dom0Client;
    expect(await dom0.getPermissions(paths.frontend)).toEqual([
      { access: 'n', domid: 1 },
      { access: 'r', domid: 0 },
    ]);
    expect(await dom0.getPermissions(paths.backend)).toEqual([
      { access: 'n', domid: 0 },
      { access: 'r', domid: 1 },
    ]);
    expect(await dom0.readString(`${paths.frontend}/backend`)).toBe(paths.backend);
    expect(await dom0.readString(`${paths.backend}/frontend`)).toBe(paths.frontend);
    expect(await dom0.readString(`${paths.frontend}/backend-id`)).toBe('0');
    expect(await dom0.readString(`${paths.backend}/frontend-id`)).toBe('1');
    // The guest reads the backend's directory but may not change it; others see neither.
    const guest = env.host.guest(1).client;
    expect(await guest.readString(`${paths.backend}/state`)).toBe('1');
    await expect(guest.write(`${paths.backend}/state`, '4')).rejects.toMatchObject({
      code: 'EACCES',
    });
    const other = env.host.guest(2).client;
    await expect(other.readString(`${paths.frontend}/state`)).rejects.toMatchObject({
      code: 'EACCES',
    });
    await expect(other.readString(`${paths.backend}/state`)).rejects.toMatchObject({
      code: 'EACCES',
    });
  });
});

describe('the backend against a hand-driven frontend', () => {
  it('maps the ring, binds the channel and goes Connected once the frontend is Initialised', async () => {
    const { paths, guest } = await setUp();
    const be = await backend();
    expect(await guest.readString(`${paths.backend}/state`)).toBe(String(XenbusState.InitWait));
    const { refs, pages, port } = offer();
    const connected = be.connect();
    await publish(guest, paths.frontend, {
      'ring-ref': String(refs[0]),
      'event-channel': String(port),
      state: String(XenbusState.Initialised),
    });
    const connection = await connected;
    expect(await guest.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Connected));
    pages[0]?.set([1, 2, 3]);
    expect([...(connection.ring.pages[0]?.subarray(0, 3) ?? [])]).toEqual([1, 2, 3]);
    expect(env.host.hypervisor.status(1, port)).toMatchObject({
      state: 'interdomain',
      remoteDomid: 0,
      remotePort: connection.port,
    });
    // The frontend closes: the backend unmaps, unbinds and reports.
    const closed = once(be, 'closed');
    await guest.write(`${paths.frontend}/state`, String(XenbusState.Closing));
    expect((await closed)[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(await guest.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
    expect(env.host.hypervisor.status(1, port).state).toBe('unbound');
    env.host.hypervisor.grants.endAccess(1, refs[0] as number);
  });

  it('maps a multi-page ring published as ring-page-order and ring-ref0..N', async () => {
    const { paths, guest } = await setUp();
    const be = await backend();
    const { refs, pages, port } = offer(4);
    const connected = be.connect();
    await publish(guest, paths.frontend, {
      'ring-page-order': '2',
      ...Object.fromEntries(refs.map((ref, i) => [`ring-ref${i}`, String(ref)])),
      'event-channel': String(port),
      state: String(XenbusState.Initialised),
    });
    const connection = await connected;
    expect(connection.ring.refs).toEqual(refs);
    for (const [i, page] of pages.entries()) page[0] = 10 + i;
    expect(connection.ring.pages.map((page) => page[0])).toEqual([10, 11, 12, 13]);
    await be.close().catch(() => {});
  });

  const broken: [string, Record<string, string>, string][] = [
    ['event-channel is missing', { 'ring-ref': 'REF' }, 'ENOENT'],
    ['ring-ref is missing', { 'event-channel': 'PORT' }, 'ENOENT'],
    ['ring-ref is not a number', { 'ring-ref': 'x1', 'event-channel': 'PORT' }, 'EPROTO'],
    [
      'a ring-refN is missing',
      { 'ring-page-order': '1', 'ring-ref0': 'REF', 'event-channel': 'PORT' },
      'ENOENT',
    ],
    ['ring-page-order is too large', { 'ring-page-order': '9', 'event-channel': 'PORT' }, 'EPROTO'],
  ];
  for (const [what, keys, code] of broken) {
    it(`refuses a frontend whose ${what} (${code}) and closes`, async () => {
      const { paths, guest } = await setUp();
      const be = await backend();
      const { refs, port } = offer();
      const connected = rejection(be.connect());
      const filled = Object.fromEntries(
        Object.entries(keys).map(([k, v]) => [
          k,
          v.replace('REF', String(refs[0])).replace('PORT', String(port)),
        ]),
      );
      await publish(guest, paths.frontend, { ...filled, state: String(XenbusState.Initialised) });
      expect(await connected).toMatchObject({ name: 'XenbusError', code });
      expect(await guest.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
    });
  }

  it('reports the grant error for a ring-ref that was never granted, and closes', async () => {
    const { paths, guest } = await setUp();
    const be = await backend();
    const { port } = offer();
    const connected = be.connect().catch((error: unknown) => error);
    await publish(guest, paths.frontend, {
      'ring-ref': '60',
      'event-channel': String(port),
      state: String(XenbusState.Initialised),
    });
    const error = await connected;
    expect(error).toBeInstanceOf(EvtchnError);
    expect(error).toMatchObject({ code: 'EINVAL' });
    expect(await guest.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
  });

  const outOfOrder: [string, string, string][] = [
    ['jumps to Reconfiguring', String(XenbusState.Reconfiguring), 'EPROTO'],
    ['writes a state outside the enum', '9', 'EPROTO'],
    ['writes garbage as its state', 'ready', 'EPROTO'],
    ['closes during the handshake', String(XenbusState.Closing), 'ECONNRESET'],
    ['is Closed during the handshake', String(XenbusState.Closed), 'ECONNRESET'],
  ];
  for (const [what, state, code] of outOfOrder) {
    it(`fails with ${code} when the frontend ${what}`, async () => {
      const { paths, guest } = await setUp();
      const be = await backend();
      const connected = rejection(be.connect());
      await guest.write(`${paths.frontend}/state`, state);
      expect(await connected).toMatchObject({ code });
    });
  }

  it('times out with ETIMEDOUT when the frontend never gets to Initialised', async () => {
    const { paths, guest } = await setUp();
    const be = await backend(100);
    await guest.write(`${paths.frontend}/state`, String(XenbusState.InitWait));
    const error = await rejection(be.connect());
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toContain('frontend Initialised');
  });

  it('fails with ESRCH when the frontend domain dies during the handshake', async () => {
    await setUp();
    const be = await backend(5000);
    const connected = rejection(be.connect());
    await env.host.destroyDomain(1);
    expect(await connected).toMatchObject({ code: 'ESRCH' });
  });

  it('refuses to open a device the toolstack did not create, or one naming another frontend', async () => {
    const { paths } = await setUp();
    const missing = XenbusBackend.open({
      client: env.host.dom0Client,
      platform: env.dom0,
      type: 'nosuch',
      frontendDomid: 1,
    });
    expect(await rejection(missing)).toMatchObject({ code: 'ENOENT' });
    await env.host.dom0Client.write(`${paths.backend}/frontend-id`, '2');
    expect(await rejection(backend())).toMatchObject({ code: 'EPROTO' });
  });
});

describe('the frontend against a hand-driven backend', () => {
  it('publishes ring and channel with Initialised in one transaction, then follows to Connected', async () => {
    const { paths } = await setUp();
    const dom0 = env.host.dom0Client;
    const fe = await frontend();
    expect(await dom0.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Initialising));
    // Every sight of the frontend's state must come with its keys: they are published together.
    const sights: string[] = [];
    const watch = await dom0.watch(paths.frontend);
    watch.on('event', async () => {
      const state = await dom0.readString(`${paths.frontend}/state`).catch(() => '');
      const keys = await dom0.directory(paths.frontend);
      sights.push(`${state}:${keys.includes('ring-ref') && keys.includes('event-channel')}`);
    });
    const connected = fe.connect();
    await dom0.write(`${paths.backend}/state`, String(XenbusState.InitWait));
    await waitForState(dom0, `${paths.frontend}/state`, XenbusState.Initialised);
    const ref = Number(await dom0.readString(`${paths.frontend}/ring-ref`));
    const port = Number(await dom0.readString(`${paths.frontend}/event-channel`));
    expect(env.host.hypervisor.status(1, port)).toMatchObject({ state: 'unbound', remoteDomid: 0 });
    expect(env.host.hypervisor.grants.map(0, 1, ref)).toBeInstanceOf(Uint8Array);
    env.host.hypervisor.grants.unmap(0, 1, ref);
    await dom0.write(`${paths.backend}/state`, String(XenbusState.Connected));
    const connection = await connected;
    expect(connection).toMatchObject({ port, peerDomid: 0, ring: { refs: [ref] } });
    expect(await dom0.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Connected));
    await watch.close();
    expect(sights.filter((s) => s.startsWith('3:'))).not.toContain('3:false');
    // The backend closes: the frontend ends its grants and port once the backend is Closed.
    const closed = once(fe, 'closed');
    await dom0.write(`${paths.backend}/state`, String(XenbusState.Closing));
    // It answers Closing, and goes on to Closed as Linux's backends want it to before they unmap.
    await waitForState(dom0, `${paths.frontend}/state`, XenbusState.Closing, XenbusState.Closed);
    await dom0.write(`${paths.backend}/state`, String(XenbusState.Closed));
    expect((await closed)[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(await dom0.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Closed));
    expect(() => env.host.hypervisor.grants.map(0, 1, ref)).toThrow(/not granted/);
    expect(env.host.hypervisor.status(1, port).state).toBe('closed');
  });

  it('fails with EPROTO when the backend is Connected before asking for the ring', async () => {
    const { paths } = await setUp();
    const fe = await frontend();
    const connected = rejection(fe.connect());
    await env.host.dom0Client.write(`${paths.backend}/state`, String(XenbusState.Connected));
    expect(await connected).toMatchObject({ code: 'EPROTO' });
  });

  it('fails with ECONNRESET, releasing what it granted, when the backend closes mid-handshake', async () => {
    const { paths } = await setUp();
    const dom0 = env.host.dom0Client;
    const fe = await frontend();
    const connected = rejection(fe.connect());
    await dom0.write(`${paths.backend}/state`, String(XenbusState.InitWait));
    await waitForState(dom0, `${paths.frontend}/state`, XenbusState.Initialised);
    const ref = Number(await dom0.readString(`${paths.frontend}/ring-ref`));
    await dom0.write(`${paths.backend}/state`, String(XenbusState.Closing));
    expect(await connected).toMatchObject({ code: 'ECONNRESET' });
    expect(await dom0.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Closed));
    expect(() => env.host.hypervisor.grants.map(0, 1, ref)).toThrow(/not granted/);
  });

  it('times out with ETIMEDOUT when no backend answers', async () => {
    await setUp();
    const fe = await frontend(100);
    expect(await rejection(fe.connect())).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('rejects bad ring sizes and a second connect', async () => {
    await setUp();
    const fe = await frontend(100);
    expect(await rejection(fe.connect({ ringPages: 3 }))).toMatchObject({ code: 'EINVAL' });
    expect(await rejection(fe.connect())).toMatchObject({ code: 'EBADF' });
  });

  it('refuses to open without the backend keys the toolstack writes', async () => {
    const { paths } = await setUp();
    await env.host.dom0Client.rm(`${paths.frontend}/backend-id`);
    expect(await rejection(frontend())).toMatchObject({ code: 'ENOENT' });
  });
});

describe('both ends', () => {
  it('connect, share the ring and channel, and close in order', async () => {
    await setUp();
    const [fe, be] = await Promise.all([frontend(2000), backend(2000)]);
    const [front, back] = await Promise.all([fe.connect({ ringPages: 2 }), be.connect()]);
    front.ring.pages[1]?.set([42]);
    expect(back.ring.pages[1]?.[0]).toBe(42);
    const events = env.dom0.eventChannel;
    const delivered = once(events, 'pending');
    env.platformOf(1); // a second handle of domain 1 does not see the device's port
    fe.platform.eventChannel.notify(front.port);
    expect((await delivered)[0]).toBe(back.port);
    const bothClosed = Promise.all([once(fe, 'closed'), once(be, 'closed')]);
    await fe.close();
    const [[feReason], [beReason]] = await bothClosed;
    expect(feReason).toBeUndefined();
    expect(beReason).toMatchObject({ code: 'ECONNRESET' });
    expect(await fe.backendState()).toBe(XenbusState.Closed);
    expect(await be.frontendState()).toBe(XenbusState.Closed);
    for (const ref of front.ring.refs) {
      expect(() => env.host.hypervisor.grants.map(0, 1, ref)).toThrow(/not granted/);
    }
  });
});

describe('the toolstack removing a connected device', () => {
  it('makes both ends close and release, without bringing the directories back', async () => {
    const { paths } = await setUp();
    const [fe, be] = await Promise.all([frontend(2000), backend(2000)]);
    const [front] = await Promise.all([fe.connect(), be.connect()]);
    const bothClosed = Promise.all([once(fe, 'closed'), once(be, 'closed')]);
    await removeDevice(env.host.dom0Client, env.id);
    const [[feReason], [beReason]] = await bothClosed;
    expect(feReason).toMatchObject({ code: 'ECONNRESET' });
    expect(beReason).toMatchObject({ code: 'ECONNRESET' });
    expect(fe.connection).toBeUndefined();
    expect(be.connection).toBeUndefined();
    expect(await env.host.dom0Client.exists(paths.frontend)).toBe(false);
    expect(await env.host.dom0Client.exists(paths.backend)).toBe(false);
    expect(() => env.host.hypervisor.grants.map(0, 1, front.ring.refs[0] as number)).toThrow(
      /not granted/,
    );
    expect(env.host.hypervisor.status(1, front.port).state).toBe('closed');
  });
});

async function waitForState(
  client: XenstoreClient,
  path: string,
  ...states: number[]
): Promise<void> {
  const watch = await client.watch(path);
  try {
    for await (const _ of watch) {
      const now = await client.readString(path).catch(() => '');
      if (states.some((state) => now === String(state))) return;
    }
  } finally {
    await watch.close();
  }
}

import type { DuplexOptions } from 'node:stream';
import { isDomid } from '../device/domid.ts';
import { EvtchnError, GNTTAB_RESERVED_CONSOLE } from '../evtchn/index.ts';
import { ConsoleRing, XenconsConnection } from '../ring/index.ts';
import { type DevicePlatform, readKeyIfPresent, watchDomainDeath } from '../xenbus/index.ts';
import type { XenstoreClient } from '../xenstore/index.ts';
import { ConsoleStream } from './console-stream.ts';
import { ConsoleError } from './errors.ts';

/** Options of {@link openConsole}. */
export interface ConsoleOptions {
  /** A privileged xenstore connection (dom0's, or the console backend domain's). */
  readonly client: XenstoreClient;
  /** Grants and event channels of this domain (`xenPlatform()` on Xen). */
  readonly platform: DevicePlatform;
  /** The guest whose console to serve. */
  readonly domid: number;
  /**
   * How long to wait for the toolstack to write the console's nodes (default 0: fail at once
   * with `ENOENT`). Attaching while `xl create` runs needs it: libxl writes them after it has
   * introduced the domain.
   */
  readonly timeoutMs?: number;
  /** Options of the `Duplex`. */
  readonly stream?: DuplexOptions;
}

/** What `console/tty` says while xenwire serves the console (xenconsoled writes its pty's path). */
export const XENWIRE_CONSOLE_TTY = 'xenwire';

async function readPort(client: XenstoreClient, path: string): Promise<number | undefined> {
  const text = await readKeyIfPresent(client, path);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) === 0) {
    throw new ConsoleError('EPROTO', `${path} is ${JSON.stringify(text)}, not a port`);
  }
  return Number(text);
}

/** The console's port, once the toolstack has written it (watching for it up to `timeoutMs`). */
async function consolePort(
  client: XenstoreClient,
  dir: string,
  domid: number,
  timeoutMs: number,
): Promise<number> {
  const path = `${dir}/port`;
  const absent = () => new ConsoleError('ENOENT', `domain ${domid} has no console (${path})`);
  if (timeoutMs <= 0) return (await readPort(client, path)) ?? Promise.reject(absent());
  const watch = await client.watch(path);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void watch.close();
  }, timeoutMs);
  try {
    for await (const _ of watch) {
      const port = await readPort(client, path);
      if (port !== undefined) return port;
    }
    throw timedOut
      ? new ConsoleError('ETIMEDOUT', `domain ${domid} got no console within ${timeoutMs} ms`)
      : absent();
  } finally {
    clearTimeout(timer);
    await watch.close();
  }
}

/**
 * Attaches to the PV console of domain `domid` as its backend, in xenconsoled's place: binds the
 * event channel the toolstack left unbound for the console backend (`console/port`), maps the
 * page the toolstack granted to it under `GNTTAB_RESERVED_CONSOLE` (what xenconsoled prefers;
 * the foreign mapping of `console/ring-ref` it falls back to needs privcmd, which xenwire does
 * not use), and returns the stream: the guest's output to read, input for it to write.
 *
 * Only one backend can hold a console's event channel: while xenconsoled serves the domain this
 * fails with `EBUSY`. Attached, it writes {@link XENWIRE_CONSOLE_TTY} to an empty `console/tty`,
 * where xenconsoled writes its pty: libxl waits for that node before `xl create` returns. The
 * stream ends when the domain goes away (`@releaseDomain`, confirmed by the platform);
 * destroying it unbinds the port, unmaps the page and empties `tty` again, so that another
 * backend can attach.
 * @throws ConsoleError `ENOENT` no console (`ETIMEDOUT` after waiting), `EPROTO` a malformed
 *   port, `EBUSY` already served;
 *   the platform's `DeviceError` when the page cannot be mapped
 */
export async function openConsole(options: ConsoleOptions): Promise<ConsoleStream> {
  const { client, platform, domid } = options;
  if (!isDomid(domid) || domid === 0) {
    throw new ConsoleError('EINVAL', `${String(domid)} is not a guest's domain id`);
  }
  const dir = `${await client.getDomainPath(domid)}/console`;
  const remotePort = await consolePort(client, dir, domid, options.timeoutMs ?? 0);
  const events = platform.eventChannel;
  let port: number;
  try {
    port = events.bindInterdomain(domid, remotePort);
  } catch (error) {
    if (error instanceof EvtchnError && error.code === 'EINVAL') {
      throw new ConsoleError(
        'EBUSY',
        `the console of domain ${domid} is served by another backend (xenconsoled?)`,
        { cause: error },
      );
    }
    throw error;
  }
  let stopWatch: (() => Promise<void>) | undefined;
  let pages: ReturnType<DevicePlatform['mapGrants']> | undefined;
  let announced = false;
  const release = async (): Promise<void> => {
    await stopWatch?.();
    try {
      pages?.release();
    } finally {
      events.unbind(port);
    }
    if (announced) await clearTty(client, `${dir}/tty`);
  };
  try {
    pages = platform.mapGrants(domid, [GNTTAB_RESERVED_CONSOLE]);
    const page = pages.pages[0] as Uint8Array;
    const ring = new ConsoleRing('backend', page.buffer, {
      byteOffset: page.byteOffset,
      notify: () => events.notify(port),
    });
    // A toolstack of Xen 4.21 and later marks the page disconnected until a backend attaches.
    ring.setConnection(XenconsConnection.CONNECTED);
    let stream: ConsoleStream | undefined;
    stopWatch = await watchDomainDeath(client, platform, domid, () => stream?.hangUp());
    announced = await announceTty(client, `${dir}/tty`);
    stream = new ConsoleStream(ring, events, port, release, options.stream);
    return stream;
  } catch (error) {
    await release().catch(() => {});
    throw error;
  }
}

/** Writes our name to an empty `tty`, as a served console has it; true if written. */
function announceTty(client: XenstoreClient, path: string): Promise<boolean> {
  return client.transaction(async (tx) => {
    const current = await tx.readString(path).catch(() => '');
    if (current !== '') return false;
    await tx.write(path, XENWIRE_CONSOLE_TTY);
    return true;
  });
}

/** Empties `tty` again if it still names us (the domain's nodes may be gone already). */
async function clearTty(client: XenstoreClient, path: string): Promise<void> {
  await client
    .transaction(async (tx) => {
      if ((await tx.readString(path)) === XENWIRE_CONSOLE_TTY) await tx.write(path, '');
    })
    .catch(() => {});
}

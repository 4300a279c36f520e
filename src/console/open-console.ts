import type { DuplexOptions } from 'node:stream';
import { EvtchnError, GNTTAB_RESERVED_CONSOLE } from '../evtchn/index.ts';
import { ConsoleRing, XenconsConnection } from '../ring/index.ts';
import { type DevicePlatform, watchDomainDeath } from '../xenbus/index.ts';
import { isXenstoreError, type XenstoreClient } from '../xenstore/index.ts';
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
  /** Options of the `Duplex`. */
  readonly stream?: DuplexOptions;
}

async function consolePort(client: XenstoreClient, domid: number): Promise<number> {
  const path = `${await client.getDomainPath(domid)}/console/port`;
  let text: string;
  try {
    text = await client.readString(path);
  } catch (error) {
    if (isXenstoreError(error, 'ENOENT')) {
      throw new ConsoleError('ENOENT', `domain ${domid} has no console (${path})`, {
        cause: error,
      });
    }
    throw error;
  }
  if (!/^\d+$/.test(text) || Number(text) === 0) {
    throw new ConsoleError('EPROTO', `${path} is ${JSON.stringify(text)}, not a port`);
  }
  return Number(text);
}

/**
 * Attaches to the PV console of domain `domid` as its backend, in xenconsoled's place: binds the
 * event channel the toolstack left unbound for the console backend (`console/port`), maps the
 * page the toolstack granted to it under `GNTTAB_RESERVED_CONSOLE` (what xenconsoled prefers;
 * the foreign mapping of `console/ring-ref` it falls back to needs privcmd, which xenwire does
 * not use), and returns the stream: the guest's output to read, input for it to write.
 *
 * Only one backend can hold a console's event channel: while xenconsoled serves the domain this
 * fails with `EBUSY`. The stream ends when the domain goes away (`@releaseDomain`, confirmed by
 * the platform); destroying it unbinds the port and unmaps the page, so that another backend
 * can attach.
 * @throws ConsoleError `ENOENT` no console, `EPROTO` a malformed port, `EBUSY` already served;
 *   the platform's `EvtchnError` when the page cannot be mapped
 */
export async function openConsole(options: ConsoleOptions): Promise<ConsoleStream> {
  const { client, platform, domid } = options;
  if (!Number.isInteger(domid) || domid <= 0 || domid >= 0x7ff0) {
    throw new ConsoleError('EINVAL', `${String(domid)} is not a guest's domain id`);
  }
  const remotePort = await consolePort(client, domid);
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
  const release = async (): Promise<void> => {
    await stopWatch?.();
    try {
      pages?.release();
    } finally {
      events.unbind(port);
    }
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
    stream = new ConsoleStream(ring, events, port, release, options.stream);
    return stream;
  } catch (error) {
    await release().catch(() => {});
    throw error;
  }
}

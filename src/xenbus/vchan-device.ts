import type { DuplexOptions } from 'node:stream';
import { readVchanGrants, Vchan, type VchanData, writeVchanGrants } from '../ring/index.ts';
import { XenbusBackend } from './backend.ts';
import type { DeviceEnd, DeviceEndOptions } from './device-end.ts';
import { XenbusError } from './errors.ts';
import { XenbusFrontend } from './frontend.ts';
import type { SharedPages } from './platform.ts';
import { VchanStream } from './vchan-stream.ts';

/** The xenbus device type of the byte-stream device. */
export const VCHAN_DEVICE_TYPE = 'vchan';

/**
 * Ring order of each direction: one separately granted 4 KiB page, the largest ring whose data
 * need not be contiguous in the backend's mapping (simulated grants map page by page).
 */
const RING_ORDER = 12;

/** A byte-stream device end: the stream, and the xenbus device carrying it. */
export interface VchanEnd<D extends DeviceEnd> {
  /** The bytes: write to send, read what the peer sent; `end()` half-closes. */
  readonly stream: VchanStream;
  /** The xenbus device under the stream: its state, paths and `close()`. */
  readonly device: D;
}

/** Options of either end. */
export interface VchanEndOptions extends Omit<DeviceEndOptions, 'type'> {
  /** Options of the `Duplex` (high-water marks, `allowHalfOpen`, …). */
  readonly stream?: DuplexOptions;
}

/** When the stream is over, the device closes; the device going away ends the stream. */
function tie<D extends DeviceEnd>(device: D, stream: VchanStream): VchanEnd<D> {
  stream.once('close', () => {
    // A failure to close cleanly shows up as the device's 'closed' reason or a leftover grant.
    device.close().catch(() => {});
  });
  return { stream, device };
}

function dataOf(pages: SharedPages, index: number): VchanData {
  const page = pages.pages[index];
  if (!page) throw new XenbusError('EPROTO', `vchan: data page ${index} is missing`);
  return { buffer: page.buffer, byteOffset: page.byteOffset };
}

/**
 * The frontend of the byte-stream device (the libxenvchan server's role): grants the shared
 * page and one data page per direction (their refs in the page, as libxenvchan lays them out),
 * offers the event channel, and connects.
 */
export async function openVchanFrontend(
  options: VchanEndOptions & { readonly domid?: number },
): Promise<VchanEnd<XenbusFrontend>> {
  const device = await XenbusFrontend.open({ ...options, type: VCHAN_DEVICE_TYPE });
  const data = device.platform.grantPages(device.backendDomid, 2);
  let stream: VchanStream | undefined;
  device.once('closed', () => {
    // The backend has unmapped (or is gone) by now.
    try {
      data.release();
    } catch {}
  });
  try {
    await device.connect({
      prepare: (ring, port) => {
        const events = device.platform.eventChannel;
        const page = ring.pages[0] as Uint8Array;
        const vchan = Vchan.initServer(
          page.buffer,
          { left: RING_ORDER, right: RING_ORDER },
          {
            byteOffset: page.byteOffset,
            left: dataOf(data, 0),
            right: dataOf(data, 1),
            notify: () => events.notify(port),
          },
        );
        writeVchanGrants(
          page.buffer,
          { left: [data.refs[0]!], right: [data.refs[1]!] },
          page.byteOffset,
        );
        stream = new VchanStream(vchan, events, port, options.stream);
        return undefined;
      },
      onDisconnect: (reason) => stream?.disconnect(reason),
    });
  } catch (error) {
    stream?.destroy();
    try {
      data.release();
    } catch {}
    throw error;
  }
  return tie(device, stream as VchanStream);
}

/**
 * The backend of the byte-stream device (the libxenvchan client's role): maps the frontend's
 * page and the data pages it lists, binds the event channel, and connects.
 */
export async function openVchanBackend(
  options: VchanEndOptions & { readonly frontendDomid: number; readonly domid?: number },
): Promise<VchanEnd<XenbusBackend>> {
  const device = await XenbusBackend.open({ ...options, type: VCHAN_DEVICE_TYPE });
  let data: SharedPages | undefined;
  let stream: VchanStream | undefined;
  const releaseData = (): void => {
    try {
      data?.release();
    } catch {
      // Grants of a destroyed domain are already gone.
    }
    data = undefined;
  };
  const connection = await device
    .connect({
      accept: (ring) => {
        const page = ring.pages[0] as Uint8Array;
        const { orders, left, right } = readVchanGrants(page.buffer, page.byteOffset);
        if (orders.left !== RING_ORDER || orders.right !== RING_ORDER) {
          throw new XenbusError(
            'EPROTO',
            `vchan: ring orders ${orders.left}/${orders.right} unsupported`,
          );
        }
        data = device.platform.mapGrants(device.frontendDomid, [...left, ...right]);
      },
      onDisconnect: (reason) => {
        stream?.disconnect(reason);
        releaseData();
      },
    })
    .catch((error: unknown) => {
      releaseData();
      throw error;
    });
  const page = connection.ring.pages[0] as Uint8Array;
  const events = device.platform.eventChannel;
  const vchan = new Vchan('client', page.buffer, {
    byteOffset: page.byteOffset,
    left: dataOf(data as SharedPages, 0),
    right: dataOf(data as SharedPages, 1),
    notify: () => events.notify(connection.port),
  });
  stream = new VchanStream(vchan, events, connection.port, options.stream);
  vchan.connect();
  return tie(device, stream);
}

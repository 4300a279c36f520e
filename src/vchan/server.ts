import type { DuplexOptions } from 'node:stream';
import { Vchan, VchanOffset, vchanDataPages, writeVchanGrants } from '../ring/index.ts';
import { type DevicePlatform, watchDomainDeath } from '../xenbus/index.ts';
import type { XenstoreClient } from '../xenstore/index.ts';
import { dataArea } from './data-area.ts';
import { VchanError } from './errors.ts';
import { vchanEventChannel } from './native-mover.ts';
import { checkDomid } from './paths.ts';
import { chooseRingOrders } from './ring-orders.ts';
import { Teardown } from './teardown.ts';
import { VchanDuplex } from './vchan-duplex.ts';
import { publishServerNodes } from './xenstore-nodes.ts';

/** Options of {@link openVchanServer}. */
export interface VchanServerOptions {
  /** This domain's xenstore connection. */
  readonly client: XenstoreClient;
  /** Grants and event channels of this domain (`xenPlatform()` on Xen). */
  readonly platform: DevicePlatform;
  /** The client's domain: the only one offered the pages and the port. */
  readonly peerDomid: number;
  /**
   * Where to publish `ring-ref` and `event-channel`; conventionally
   * `vchanPath(server, client, port)`. The client must be told the same path.
   */
  readonly path: string;
  /** Least bytes of the client → server ring (libxenvchan's `left_min`; default 0, any). */
  readonly leftMin?: number;
  /** Least bytes of the server → client ring (`right_min`; default 0, any). */
  readonly rightMin?: number;
  /**
   * This domain's id, owner of the nodes. Default: the platform's, else the `domid` node of this
   * domain's xenstore home, which is where libxenvchan reads it.
   */
  readonly domid?: number;
  /**
   * End the stream with `ESRCH` when xenstore releases the client's domain and the platform
   * confirms it is gone (default true): libxenvchan would wait for ever.
   */
  readonly watchPeerDomain?: boolean;
  /** Options of the `Duplex` (high-water marks, `allowHalfOpen`, …). */
  readonly stream?: DuplexOptions;
}

async function ownDomid(options: VchanServerOptions): Promise<number> {
  const known = options.domid ?? options.platform.domid;
  if (known !== undefined) return known;
  const text = await options.client.readString('domid');
  if (!/^\d+$/.test(text)) {
    throw new VchanError('EPROTO', `vchan: this domain's domid node holds ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * The server end of a libxenvchan connection, set up in libxenvchan_server_init's order: an
 * unbound port offered to the client's domain; the shared page granted to it, zeroed and laid
 * out (orders, server live, client not yet), with the kernel told to clear `srv_live` and
 * notify the port should this end's process die; the data pages of rings of order 12 and up,
 * listed in the page; then `ring-ref` and `event-channel` under `path`, readable by the client.
 *
 * Resolves once published: the stream may be written at once (the data waits in the ring), and
 * emits `'connect'` when the client connects. Closing it (`end()`, `destroy()`) marks the
 * server gone, releases the pages and port and removes `path`, as `libxenvchan_close` does.
 * @throws VchanError `EINVAL` for bad sizes or domains; the platform's `DeviceError` (or its
 *   subclass `EvtchnError`) or the xenstore client's error when a step fails (what was set up is
 *   undone first)
 */
export async function openVchanServer(options: VchanServerOptions): Promise<VchanDuplex> {
  const { client, platform, peerDomid, path } = options;
  checkDomid(peerDomid, 'client domain');
  const orders = chooseRingOrders(options.leftMin ?? 0, options.rightMin ?? 0);
  const owner = await ownDomid(options);
  const teardown = new Teardown();
  try {
    const events = vchanEventChannel(platform, teardown);
    const port = events.bindUnboundPort(peerDomid);
    teardown.add(() => events.unbind(port));
    const ring = platform.grantPages(peerDomid, 1, {
      unmapNotify: { clearByte: VchanOffset.srvLive, port },
    });
    teardown.add(() => ring.release());
    const [left, right] = [orders.left, orders.right].map((order) => {
      const count = vchanDataPages(order);
      if (count === 0) return undefined;
      const pages = platform.grantPages(peerDomid, count);
      teardown.add(() => pages.release());
      return pages;
    });
    const page = ring.pages[0] as Uint8Array;
    const vchan = Vchan.initServer(page.buffer, orders, {
      byteOffset: page.byteOffset,
      left: dataArea(left),
      right: dataArea(right),
      notify: () => events.notify(port),
    });
    writeVchanGrants(
      page.buffer,
      { left: left?.refs ?? [], right: right?.refs ?? [] },
      page.byteOffset,
    );
    teardown.add(() => client.rm(path).catch(() => {}));
    await publishServerNodes(
      client,
      path,
      { ringRef: ring.refs[0] as number, port },
      owner,
      peerDomid,
    );
    let stream: VchanDuplex | undefined;
    if (options.watchPeerDomain ?? true) {
      const gone = new VchanError('ESRCH', `vchan ${path}: domain ${peerDomid} is gone`);
      teardown.add(
        await watchDomainDeath(client, platform, peerDomid, () => stream?.peerDomainGone(gone)),
      );
    }
    stream = new VchanDuplex(
      { vchan, events, port, path, peerDomid, orders, release: () => teardown.run() },
      options.stream,
    );
    return stream;
  } catch (error) {
    await teardown.run().catch(() => {});
    throw error;
  }
}

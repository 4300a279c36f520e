import type { DuplexOptions } from 'node:stream';
import { readVchanGrants, Vchan, VchanOffset } from '../ring/index.ts';
import { type DevicePlatform, watchDomainDeath } from '../xenbus/index.ts';
import type { XenstoreClient } from '../xenstore/index.ts';
import { dataArea } from './data-area.ts';
import { VchanError } from './errors.ts';
import { vchanEventChannel } from './native-mover.ts';
import { checkDomid } from './paths.ts';
import { Teardown } from './teardown.ts';
import { VchanDuplex } from './vchan-duplex.ts';
import { awaitServerNodes } from './xenstore-nodes.ts';

/** Options of {@link openVchanClient}. */
export interface VchanClientOptions {
  /** This domain's xenstore connection. */
  readonly client: XenstoreClient;
  /** Grants and event channels of this domain (`xenPlatform()` on Xen). */
  readonly platform: DevicePlatform;
  /** The server's domain. */
  readonly peerDomid: number;
  /** Where the server published `ring-ref` and `event-channel`. */
  readonly path: string;
  /**
   * How long to wait for the server to publish (default 0: fail at once with `ENOENT`, as
   * `libxenvchan_client_init` does; `vchan-socket-proxy` waits with a watch).
   */
  readonly timeoutMs?: number;
  /**
   * End the stream with `ESRCH` when xenstore releases the server's domain and the platform
   * confirms it is gone (default true).
   */
  readonly watchPeerDomain?: boolean;
  /** Options of the `Duplex` (high-water marks, `allowHalfOpen`, …). */
  readonly stream?: DuplexOptions;
}

/**
 * The client end of a libxenvchan connection, set up in libxenvchan_client_init's order: reads
 * `ring-ref` and `event-channel` under `path`; binds the server's port; maps the shared page,
 * with the kernel told to clear `cli_live` and notify the port should this end's process die;
 * checks the page (orders, grant list) and maps the data pages it lists; then marks itself live,
 * asks for the server's writes and wakes it.
 *
 * Closing the stream marks the client gone, unmaps and unbinds, as `libxenvchan_close` does.
 * @throws VchanError `ENOENT` no server at `path` (`ETIMEDOUT` after waiting), `EPROTO` a
 *   malformed page or node, `ESRCH` the server's domain is gone; the platform's `DeviceError`
 *   (`EvtchnError` for a port) when a grant or port cannot be had (what was set up is undone
 *   first)
 */
export async function openVchanClient(options: VchanClientOptions): Promise<VchanDuplex> {
  const { client, platform, peerDomid, path } = options;
  checkDomid(peerDomid, 'server domain');
  const nodes = await awaitServerNodes(client, platform, peerDomid, path, options.timeoutMs ?? 0);
  const teardown = new Teardown();
  try {
    const events = vchanEventChannel(platform, teardown);
    const port = events.bindInterdomain(peerDomid, nodes.port);
    teardown.add(() => events.unbind(port));
    const ring = platform.mapGrants(peerDomid, [nodes.ringRef], {
      unmapNotify: { clearByte: VchanOffset.cliLive, port },
    });
    teardown.add(() => ring.release());
    const page = ring.pages[0] as Uint8Array;
    let layout: ReturnType<typeof readVchanGrants>;
    try {
      layout = readVchanGrants(page.buffer, page.byteOffset);
    } catch (error) {
      throw new VchanError('EPROTO', `vchan ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const [left, right] = [layout.left, layout.right].map((refs) => {
      if (refs.length === 0) return undefined;
      const pages = platform.mapGrants(peerDomid, refs);
      teardown.add(() => pages.release());
      return pages;
    });
    const vchan = new Vchan('client', page.buffer, {
      byteOffset: page.byteOffset,
      left: dataArea(left),
      right: dataArea(right),
      notify: () => events.notify(port),
    });
    let stream: VchanDuplex | undefined;
    if (options.watchPeerDomain ?? true) {
      const gone = new VchanError('ESRCH', `vchan ${path}: domain ${peerDomid} is gone`);
      teardown.add(
        await watchDomainDeath(client, platform, peerDomid, () => stream?.peerDomainGone(gone)),
      );
    }
    const orders = layout.orders;
    stream = new VchanDuplex(
      { vchan, events, port, path, peerDomid, orders, release: () => teardown.run() },
      options.stream,
    );
    vchan.connect();
    return stream;
  } catch (error) {
    await teardown.run().catch(() => {});
    throw error;
  }
}

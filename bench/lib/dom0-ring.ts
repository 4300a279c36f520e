import { mapFile, unmap } from '../../src/device/index.ts';
import { SocketEventChannel } from '../../src/evtchn/index.ts';
import type { RingTarget } from './client-loop.ts';

/** Dom0's xenstore page of a daemon under the harness's shim, mapped, and its bound port. */
export interface Dom0Ring {
  readonly page: Uint8Array;
  readonly eventChannel: SocketEventChannel;
  readonly port: number;
  /** Closes the event channel and unmaps the page. */
  close(): void;
}

/** Maps `target`'s page and binds dom0's port on an event channel of this process's own. */
export function openDom0Ring(target: RingTarget): Dom0Ring {
  const mapped = mapFile(target.pagePath, { length: 4096 });
  const eventChannel = SocketEventChannel.open({
    localPath: target.ownEvents,
    peerPath: target.daemonEvents,
  });
  return {
    page: new Uint8Array(mapped),
    eventChannel,
    port: eventChannel.bindInterdomain(0, target.port),
    close: () => {
      eventChannel.close();
      unmap(mapped);
    },
  };
}

import { MessageFramer } from '../../src/xenstore/framer.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { framedTransport } from '../../src/xenstore/transport/byte-stream.ts';
import { defaultConnector } from '../../src/xenstore/transport/default.ts';
import { inProcessConnector } from '../../src/xenstore/transport/in-process.ts';
import { socketConnector } from '../../src/xenstore/transport/socket.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import {
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from '../../src/xenstore/transport/xenbus-device.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';
import { FakeXenbusDevice } from './fake-xenbus-device.ts';

/** A running server the client suite can talk to. */
export interface RunningBackend {
  /** Opens one more connection each time the client calls it. */
  connector: TransportConnector;
  /** Where the suite may create and delete nodes. */
  root: string;
  /**
   * True when the suite runs as dom0 and may do anything (domain queries, permissions naming
   * other domains); `undefined` to find out by asking the server.
   */
  privileged: boolean | undefined;
  /**
   * Makes a guest domain exist that INTRODUCE may name, with the ring frame and event channel to
   * introduce it with; absent where the suite must not create domains.
   */
  prepareGuest?(domid: number, port: number): Promise<{ gfn: number; port: number }>;
  stop(): Promise<void>;
}

/** A server the suite runs against, or why it cannot run here. */
export interface Backend {
  name: string;
  /** Set when the backend cannot be had; the suite is then skipped with this reason. */
  unavailable?: string;
  start(): Promise<RunningBackend>;
}

/** The in-memory xenstored in this process, reached through the transport `reach` builds. */
function inMemory(name: string, reach: (server: XenstoreServer) => TransportConnector): Backend {
  return {
    name,
    async start() {
      const server = new XenstoreServer();
      return {
        connector: reach(server),
        root: '/xenwire-client-test',
        privileged: true,
        prepareGuest: async (_domid, port) => ({ gfn: 0, port }),
        async stop() {},
      };
    },
  };
}

/** The server behind a stand-in xenbus device that checks the kernel's rules as it goes. */
function behindFakeDevice(): Backend {
  let device: FakeXenbusDevice | undefined;
  const backend = inMemory('the in-memory xenstored behind a fake xenbus device', (server) => {
    device = new FakeXenbusDevice(server);
    return xenbusDeviceConnector('/dev/xen/xenbus', device);
  });
  return {
    ...backend,
    async start() {
      const running = await backend.start();
      return {
        ...running,
        async stop() {
          if (device && device.violations.length > 0) {
            throw new Error(`xenbus device rules broken: ${device.violations.join('; ')}`);
          }
        },
      };
    },
  };
}

/**
 * A byte pipe to the server that delivers its replies in pieces of 1 to 7 bytes, each on its
 * own microtask: the worst a ring or socket could do, through the same framing a ring uses.
 */
function tricklingBytes(server: XenstoreServer): TransportConnector {
  return async (handlers) =>
    framedTransport(handlers, (bytes) => {
      const framer = new MessageFramer();
      let piece = 0;
      const connection = server.connect({
        onMessage(message) {
          const wire = encodeMessage(message);
          for (let at = 0; at < wire.length; ) {
            const size = (piece++ % 7) + 1;
            const chunk = wire.subarray(at, at + size);
            queueMicrotask(() => bytes.onData(chunk));
            at += size;
          }
        },
        onClose: (reason) => queueMicrotask(() => bytes.onClose(reason)),
      });
      return {
        write(chunk) {
          for (const message of framer.push(chunk)) connection.send(message);
        },
        close: () => connection.close(),
      };
    });
}

async function realDaemon(): Promise<Backend> {
  const name = 'the real C xenstored';
  // Imported lazily: loading it fetches Xen's packages and builds the shim (and under CI=true
  // throws when that fails, which is what must happen there).
  const { startRealXenstored, xenInstall } = await import('../support/real-xenstored.ts');
  if (!xenInstall) return { name, unavailable: 'Xen userland not available', start: never };
  return {
    name,
    async start() {
      const daemon = await startRealXenstored(xenInstall);
      return {
        connector: socketConnector(daemon.socketPath),
        root: '/xenwire-client-test',
        privileged: true,
        async prepareGuest(domid, port) {
          await daemon.createGuest(domid, port);
          // The shim maps guest frame number `domid` to the guest's page file.
          return { gfn: domid, port };
        },
        stop: () => daemon.stop(),
      };
    },
  };
}

/** A live Xen system's xenstored, reached through the device or the socket. */
function liveSystem(name: string, connector: TransportConnector): Backend {
  return {
    name,
    async start() {
      return {
        connector,
        // Relative: under the caller's own home, writable by dom0 and by guests alike.
        root: `data/xenwire-client-test-${process.pid}`,
        privileged: undefined,
        async stop() {},
      };
    },
  };
}

/**
 * The backends selected by `XENWIRE_TEST_TRANSPORT`:
 * - unset: the in-memory xenstored (in process, behind a fake xenbus device, behind a byte stream
 *   that trickles) and the real C xenstored (private, shimmed);
 * - `xenbus`: this machine's `/dev/xen/xenbus` (or `XENWIRE_TEST_XENBUS_PATH`), inside Xen. Each
 *   device connection keeps a threadpool thread blocked and the suite opens up to ten at once:
 *   `UV_THREADPOOL_SIZE=16 XENWIRE_TEST_TRANSPORT=xenbus npx vitest run tests/client`;
 * - `socket`: this machine's xenstored socket (libxenstore's lookup), inside a Xen dom0.
 */
export async function selectedBackends(): Promise<Backend[]> {
  const choice = process.env.XENWIRE_TEST_TRANSPORT;
  if (choice === 'xenbus') {
    const path = process.env.XENWIRE_TEST_XENBUS_PATH ?? XENBUS_DEVICE_PATH;
    return [liveSystem(`xenbus device ${path}`, xenbusDeviceConnector(path))];
  }
  if (choice === 'socket') return [liveSystem('the system xenstored', defaultConnector())];
  if (choice) throw new Error(`XENWIRE_TEST_TRANSPORT=${choice}: expected xenbus or socket`);
  return [
    inMemory('the in-memory xenstored', (server) => inProcessConnector(server)),
    behindFakeDevice(),
    inMemory('the in-memory xenstored behind a trickling byte stream', tricklingBytes),
    await realDaemon(),
  ];
}

function never(): Promise<RunningBackend> {
  return Promise.reject(new Error('backend unavailable'));
}

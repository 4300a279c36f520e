import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultConnector } from '../../src/xenstore/transport/default.ts';
import {
  type InProcessServer,
  inProcessConnector,
} from '../../src/xenstore/transport/in-process.ts';
import { socketConnector } from '../../src/xenstore/transport/socket.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import {
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from '../../src/xenstore/transport/xenbus-device.ts';
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

const serverModule = fileURLToPath(new URL('../../src/xenstore/server/index.ts', import.meta.url));

function inMemory(): Backend {
  const name = 'the in-memory xenstored';
  if (!existsSync(serverModule)) {
    return { name, unavailable: 'src/xenstore/server/index.ts is not there yet', start: never };
  }
  return {
    name,
    async start() {
      const { XenstoreServer } = (await import(serverModule)) as {
        XenstoreServer: new () => InProcessServer;
      };
      const server = new XenstoreServer();
      return {
        connector: inProcessConnector(server),
        root: '/xenwire-client-test',
        privileged: true,
        prepareGuest: async (_domid, port) => ({ gfn: 0, port }),
        async stop() {},
      };
    },
  };
}

/** The same server behind a stand-in xenbus device: the whole suite through the device transport. */
function inMemoryBehindDevice(): Backend {
  const memory = inMemory();
  if (memory.unavailable) return { ...memory, name: `${memory.name} behind a fake xenbus device` };
  return {
    name: 'the in-memory xenstored behind a fake xenbus device',
    async start() {
      const { XenstoreServer } = (await import(serverModule)) as {
        XenstoreServer: new () => InProcessServer;
      };
      const device = new FakeXenbusDevice(new XenstoreServer());
      return {
        connector: xenbusDeviceConnector('/dev/xen/xenbus', device),
        root: '/xenwire-client-test',
        privileged: true,
        prepareGuest: async (_domid, port) => ({ gfn: 0, port }),
        async stop() {
          if (device.violations.length > 0) {
            throw new Error(`xenbus device rules broken: ${device.violations.join('; ')}`);
          }
        },
      };
    },
  };
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
 * - unset: the in-memory xenstored (in process, and behind a fake xenbus device) and the real C
 *   xenstored (private, shimmed);
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
  return [inMemory(), inMemoryBehindDevice(), await realDaemon()];
}

function never(): Promise<RunningBackend> {
  return Promise.reject(new Error('backend unavailable'));
}

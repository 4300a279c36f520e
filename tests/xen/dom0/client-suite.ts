// Dom0, real Xen: the library's xenstore client suite (tests/client/client-suite.ts) against the
// real xenstored, through the xenbus device and through the daemon's unix socket (one file each).
import { defaultConnector } from '../../../src/xenstore/transport/default.ts';
import type { TransportConnector } from '../../../src/xenstore/transport/transport.ts';
import { xenbusDeviceConnector } from '../../../src/xenstore/transport/xenbus-device.ts';
import type { Backend } from '../../client/backends.ts';
import { describeClientSuite } from '../../client/client-suite.ts';
import { XsConnection } from '../domu/xs-wire.mjs';
import { skipDeviceSuites, XENBUS_DEVICE } from './lane-env.ts';

function liveDom0(name: string, connector: TransportConnector, tag: string): Backend {
  return {
    name,
    ...(skipDeviceSuites ? { unavailable: 'not inside the Xen lane (npm run test:xen)' } : {}),
    async start() {
      // The suite works under `data/` in the caller's home. xen-init-dom0 does not create Dom0's
      // `data`, and removing a node whose parent is missing is ENOENT on the C xenstored.
      const xs = XsConnection.device(XENBUS_DEVICE);
      try {
        await xs.mkdir('/local/domain/0/data');
      } finally {
        xs.close();
      }
      return {
        connector,
        // Relative, under Dom0's home, as an unprivileged caller would use it.
        root: `data/xenwire-client-${tag}-${process.pid}`,
        privileged: false,
        async stop() {},
      };
    },
  };
}

export function describeDom0ClientSuite(transport: 'device' | 'socket'): void {
  describeClientSuite(
    transport === 'device'
      ? liveDom0(
          `real xenstored via ${XENBUS_DEVICE}`,
          xenbusDeviceConnector(XENBUS_DEVICE),
          'device',
        )
      : liveDom0('real xenstored via its unix socket', defaultConnector(), 'socket'),
  );
}

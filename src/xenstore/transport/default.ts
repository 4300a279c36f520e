import { statSync } from 'node:fs';
import { join } from 'node:path';
import { XenstoreError } from '../errors.ts';
import { socketConnector } from './socket.ts';
import type { TransportConnector } from './transport.ts';
import { XENBUS_DEVICE_PATH, xenbusDeviceConnector } from './xenbus-device.ts';

/**
 * The socket path libxenstore would use: `XENSTORED_PATH`, else `$XENSTORED_RUNDIR/socket`, else
 * `/var/run/xenstored/socket`.
 * @category Transports
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XENSTORED_PATH) return env.XENSTORED_PATH;
  return join(env.XENSTORED_RUNDIR || '/var/run/xenstored', 'socket');
}

/**
 * Chooses how to reach xenstored, looking afresh at each connect. `XENSTORED_PATH` is used as
 * given: a socket, or else a device file (as libxenstore treats it). Otherwise the daemon's
 * socket when it exists, and failing that the xenbus device (a guest, or a dom0 whose xenstored
 * runs in a stub domain).
 * @category Transports
 */
export function defaultConnector(env: NodeJS.ProcessEnv = process.env): TransportConnector {
  return async (handlers) => {
    const socketPath = defaultSocketPath(env);
    const found = statSync(socketPath, { throwIfNoEntry: false });
    if (env.XENSTORED_PATH) {
      const connector =
        found && !found.isSocket()
          ? xenbusDeviceConnector(socketPath)
          : socketConnector(socketPath);
      return connector(handlers);
    }
    if (found?.isSocket()) return socketConnector(socketPath)(handlers);
    if (statSync(XENBUS_DEVICE_PATH, { throwIfNoEntry: false })) {
      return xenbusDeviceConnector(XENBUS_DEVICE_PATH)(handlers);
    }
    throw new XenstoreError(
      'ENOENT',
      `no xenstored: neither the socket ${socketPath} nor the device ${XENBUS_DEVICE_PATH} exists`,
    );
  };
}

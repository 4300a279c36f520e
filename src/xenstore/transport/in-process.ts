import { XenstoreError } from '../errors.ts';
import type {
  Transport,
  TransportConnector,
  XenstoreConnection,
  XenstoreService,
} from './transport.ts';

/**
 * What the in-process transport needs of a server: its end of the contract, `connect`.
 * @category Transports
 */
export type InProcessServer = Pick<XenstoreService, 'connect'>;

/**
 * Connects to a xenstore server living in this process, with no bytes in between: messages are
 * handed over as objects. `domid` is the domain the connection speaks for (0, dom0, by default).
 *
 * Server messages are delivered on a later microtask, never inside `send`, so the client sees the
 * same ordering guarantees as over a socket whatever the server does synchronously.
 * @category Transports
 */
export function inProcessConnector(server: InProcessServer, domid = 0): TransportConnector {
  return async (handlers) => {
    let closed = false;
    let connection: XenstoreConnection;
    try {
      connection = server.connect({
        domid,
        onMessage(message) {
          queueMicrotask(() => {
            if (!closed) handlers.onMessage(message);
          });
        },
        onClose(reason) {
          queueMicrotask(() => {
            if (closed) return;
            closed = true;
            handlers.onClose(reason);
          });
        },
      });
    } catch (error) {
      throw new XenstoreError(
        'ECONNREFUSED',
        `in-process server refused the connection: ${(error as Error).message}`,
        undefined,
        undefined,
        { cause: error },
      );
    }
    const transport: Transport = {
      send(message) {
        connection.send(message);
      },
      close() {
        if (closed) return;
        closed = true;
        connection.close();
        handlers.onClose();
      },
    };
    return transport;
  };
}

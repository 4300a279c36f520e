import { connect, type Socket } from 'node:net';
import { XenstoreError } from '../errors.ts';
import { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
import type { Transport, TransportConnector, TransportHandlers } from './transport.ts';

/**
 * Connects to xenstored's unix socket. Requests sent in the same tick leave in one `writev`
 * (the socket is corked until the next tick), so a burst of N requests costs one syscall.
 */
export function socketConnector(path: string): TransportConnector {
  return (handlers) => openSocket(path, handlers);
}

function openSocket(path: string, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const failEarly = (error: NodeJS.ErrnoException): void => {
      reject(
        new XenstoreError(
          'ECONNRESET',
          `cannot connect to ${path}: ${error.code ?? error.message}`,
          undefined,
          undefined,
          { cause: error },
        ),
      );
    };
    socket.once('error', failEarly);
    socket.once('connect', () => {
      socket.off('error', failEarly);
      resolve(framedTransport(handlers, (bytes) => socketStream(socket, bytes)));
    });
  });
}

function socketStream(socket: Socket, bytes: ByteStreamHandlers): ByteStream {
  let corked = false;
  let failure: Error | undefined;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.on('data', bytes.onData);
  socket.on('error', (error) => {
    failure = new XenstoreError(
      'ECONNRESET',
      `socket error: ${error.message}`,
      undefined,
      undefined,
      {
        cause: error,
      },
    );
  });
  socket.on('close', () => bytes.onClose(failure));
  return {
    write(chunk: Uint8Array): void {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      socket.write(chunk);
    },
    close(): void {
      socket.destroy();
    },
  };
}

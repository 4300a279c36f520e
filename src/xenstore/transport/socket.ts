import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
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

/**
 * Connect attempts when the daemon's listen backlog is full. A non-blocking unix-socket connect
 * fails with EAGAIN then (where libxenstore's blocking connect just waits), which happens as soon
 * as a few clients connect at once.
 */
const BUSY_RETRIES = 200;

async function openSocket(path: string, handlers: TransportHandlers): Promise<Transport> {
  for (let attempt = 1; ; attempt++) {
    try {
      const socket = await connectOnce(path);
      return framedTransport(handlers, (bytes) => socketStream(socket, bytes));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' || attempt >= BUSY_RETRIES) {
        throw new XenstoreError(
          'ECONNRESET',
          `cannot connect to ${path}: ${code ?? (error as Error).message}`,
          undefined,
          undefined,
          { cause: error },
        );
      }
      await sleep(Math.min(attempt, 20));
    }
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
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

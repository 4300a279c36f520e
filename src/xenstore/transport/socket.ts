import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { nextTick } from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { XenstoreError } from '../errors.ts';
import { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
import { connectFailure } from './connect-failure.ts';
import { assertSocketPathFits } from './socket-file.ts';
import { copiedReads, READ_BUFFER_SIZE } from './socket-reads.ts';
import type { Transport, TransportConnector, TransportHandlers } from './transport.ts';

/**
 * Connects to xenstored's unix socket. Requests sent in the same tick leave in one write, so a
 * burst of N requests costs one syscall. A connect that fails says why on the error's `code`:
 * `ENOENT` (no socket there), `ECONNREFUSED` (a socket file nobody listens on), `EACCES` (not
 * allowed), `ENAMETOOLONG` (a path over 107 bytes); `ECONNRESET` is a connection lost later.
 * @category Transports
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
  // Node would connect to the path cut to 107 bytes: another socket, or none.
  assertSocketPathFits(path);
  for (let attempt = 1; ; attempt++) {
    const receiver: { onData(chunk: Uint8Array): void } = { onData: () => {} };
    try {
      const socket = await connectOnce(path, receiver);
      return framedTransport(handlers, (bytes) => {
        receiver.onData = bytes.onData;
        return socketStream(socket, bytes);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' || attempt >= BUSY_RETRIES) throw connectFailure(path, error);
      await sleep(Math.min(attempt, 20));
    }
  }
}

/**
 * Connects with `onread` ({@link copiedReads}): reads skip the stream machinery behind `'data'`,
 * which costs more than the rest of a reply's handling.
 */
function connectOnce(path: string, receiver: { onData(chunk: Uint8Array): void }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      path,
      onread: copiedReads(Buffer.allocUnsafe(READ_BUFFER_SIZE), (chunk) => receiver.onData(chunk)),
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * Writes go out once per tick: everything sent in the same tick leaves in one `write(2)`, so a
 * burst of requests costs one syscall and the server reads them in one go.
 */
function socketStream(socket: Socket, bytes: ByteStreamHandlers): ByteStream {
  let queue: Uint8Array[] = [];
  let queued = 0;
  let failure: Error | undefined;
  const flush = (): void => {
    const chunks = queue;
    const size = queued;
    queue = [];
    queued = 0;
    if (socket.destroyed) return;
    socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  socket.on('error', (error) => {
    failure = new XenstoreError(
      'ECONNRESET',
      `socket error: ${error.message}`,
      undefined,
      undefined,
      { cause: error },
    );
  });
  socket.on('close', () => bytes.onClose(failure));
  return {
    write(chunk: Uint8Array): void {
      if (queue.length === 0) nextTick(flush);
      queue.push(chunk);
      queued += chunk.length;
    },
    close(): void {
      socket.destroy();
    },
  };
}

import { Buffer } from 'node:buffer';
import { type ConnectOpts, connect, Socket, type SocketConstructorOpts } from 'node:net';
import { nextTick } from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNativeAvailable, loadNative, type XenwireNative } from '../../device/native.ts';
import {
  IN_PLACE_BUDGET_US,
  IN_PLACE_READS,
  type InPlaceWaits,
  inPlaceWaits,
} from '../../event-loop/in-place-wait.ts';
import { XenstoreError } from '../errors.ts';
import { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
import { connectFailure } from './connect-failure.ts';
import { assertSocketPathFits } from './socket-file.ts';
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
      const connected = await connectOnce(path, receiver);
      return framedTransport(handlers, (bytes) => {
        receiver.onData = bytes.onData;
        return socketStream(connected, bytes);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' || attempt >= BUSY_RETRIES) throw connectFailure(path, error);
      await sleep(Math.min(attempt, 20));
    }
  }
}

/** Size of the buffer each socket reads into; replies are copied out of it. */
const READ_BUFFER_SIZE = 64 * 1024;

/** A connected socket, and what waiting in place on it needs when the addon is there. */
interface ConnectedSocket {
  readonly socket: Socket;
  /** The buffer the socket reads into, whose first `size` bytes `deliver` hands on. */
  readonly readBuffer: Buffer;
  readonly deliver: (size: number) => void;
  /** The addon and the socket's descriptor; absent without the addon. */
  readonly direct?: { readonly native: SocketCalls; readonly fd: number };
}

/** The addon's calls a socket needs to be written and read in place. */
type SocketCalls = Pick<XenwireNative, 'unixStreamConnect' | 'streamWriteNow' | 'streamReadWithin'>;

/** The addon, if it is built (and has the socket calls); looked for once per thread. */
let socketCalls: SocketCalls | null | undefined;

function directCalls(): SocketCalls | null {
  if (socketCalls === undefined) {
    socketCalls = null;
    if (isNativeAvailable()) {
      const native = loadNative();
      if (typeof native.streamReadWithin === 'function') socketCalls = native;
    }
  }
  return socketCalls;
}

/**
 * Connects with `onread`: the kernel reads into one reused buffer and the bytes are handed over
 * directly, skipping the stream machinery behind `'data'`, which costs more than the rest of a
 * reply's handling. Each read is copied out once, since decoded payloads are views into it.
 *
 * With the addon, the socket is made and connected there and handed to Node by its descriptor
 * (`new Socket({ fd })`), so that a request can also be written and its answer read in place.
 */
function connectOnce(
  path: string,
  receiver: { onData(chunk: Uint8Array): void },
): Promise<ConnectedSocket> {
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  const deliver = (size: number): void => {
    // One allocation and a native copy, with no view made in between.
    const chunk = Buffer.allocUnsafe(size);
    readBuffer.copy(chunk, 0, 0, size);
    receiver.onData(chunk);
  };
  const onread = {
    buffer: readBuffer,
    callback: (size: number) => {
      deliver(size);
      return true;
    },
  };
  const native = directCalls();
  if (native !== null) {
    let fd: number;
    try {
      fd = native.unixStreamConnect(path);
    } catch (error) {
      return Promise.reject(error);
    }
    const socket = new Socket({
      fd,
      readable: true,
      writable: true,
      onread,
    } as SocketConstructorOpts & ConnectOpts);
    return Promise.resolve({ socket, readBuffer, deliver, direct: { native, fd } });
  }
  return new Promise((resolve, reject) => {
    const socket = connect({ path, onread });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({ socket, readBuffer, deliver });
    });
  });
}

/**
 * Writes go out once per tick: everything sent in the same tick leaves in one `write(2)`, so a
 * burst of requests costs one syscall and the server reads them in one go. A request that leaves
 * alone, and whose answer is then the only one awaited in the thread, may instead be written and
 * answered in place (see {@link InPlaceWaits}).
 */
function socketStream(connected: ConnectedSocket, bytes: ByteStreamHandlers): ByteStream {
  const { socket, readBuffer, deliver, direct } = connected;
  let queue: Uint8Array[] = [];
  let queued = 0;
  /** The questions of the one request in the queue that may be awaited in place, if any. */
  let candidateAlone: (() => boolean) | undefined;
  let candidateAwaited: () => boolean = () => false;
  let failure: Error | undefined;
  const waits = direct && inPlaceWaits();
  const flush = (): void => {
    const chunks = queue;
    const size = queued;
    const alone = chunks.length === 1 ? candidateAlone : undefined;
    queue = [];
    queued = 0;
    candidateAlone = undefined;
    if (socket.destroyed) return;
    // Written in place only when nothing written earlier is still on its way, so bytes leave in
    // order; checked last, the thread-wide question costs a walk of its waiters.
    if (alone !== undefined && socket.writableLength === 0 && alone() && waits!.begin()) {
      exchangeInPlace(chunks[0]!, candidateAwaited);
      return;
    }
    socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  /** Writes `chunk` now and reads until its answer is in, a read finds nothing, or at most
   * {@link IN_PLACE_READS} reads. */
  const exchangeInPlace = (chunk: Uint8Array, awaited: () => boolean): void => {
    const { native, fd } = direct!;
    const written = native.streamWriteNow(fd, chunk);
    if (written < chunk.length) {
      // Not a verdict on the peer: the socket's buffer is full, or the stream's own write will
      // report why it failed.
      waits!.end(true);
      socket.write(written === 0 ? chunk : chunk.subarray(written));
      return;
    }
    for (let reads = 0; reads < IN_PLACE_READS && awaited(); reads++) {
      const size = native.streamReadWithin(fd, readBuffer, IN_PLACE_BUDGET_US);
      if (size === 0) break;
      deliver(size);
      // Handing the bytes on may have closed the socket, and with it the descriptor.
      if (socket.destroyed) return;
    }
    waits!.end(!awaited());
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
  const write = (chunk: Uint8Array): void => {
    if (queue.length === 0) nextTick(flush);
    queue.push(chunk);
    queued += chunk.length;
  };
  const close = (): void => {
    socket.destroy();
  };
  if (direct === undefined) return { write, close };
  return {
    write,
    writeAwaited(chunk, alone, awaited) {
      write(chunk);
      candidateAlone = alone;
      candidateAwaited = awaited;
    },
    close,
  };
}

import { close, open, read, writeSync } from 'node:fs';
import { HEADER_SIZE, PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { MessageType } from '../messages.ts';
import { encodeRequest } from '../requests.ts';
import { encodeMessage } from '../wire.ts';
import { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
import type { Transport, TransportConnector, TransportHandlers } from './transport.ts';

/** The xenbus character device of a Linux guest or dom0 (`xenbus_dev_frontend`). */
export const XENBUS_DEVICE_PATH = '/dev/xen/xenbus';

/**
 * The file operations the device transport needs, callback style as `node:fs` has them; tests
 * substitute a fake device.
 */
export interface DeviceIo {
  open(path: string, callback: (error: Error | null, fd: number) => void): void;
  read(
    fd: number,
    buffer: Uint8Array,
    callback: (error: Error | null, bytes: number) => void,
  ): void;
  write(fd: number, buffer: Uint8Array, callback: (error: Error | null) => void): void;
  close(fd: number, callback: (error: Error | null) => void): void;
}

/**
 * `node:fs` on a real device. Reads block in the libuv threadpool. Writes are synchronous: the
 * kernel queues most requests without waiting for the reply (WATCH and UNWATCH, which it
 * registers itself, take one round trip), and a write that needed a threadpool thread could
 * starve behind blocked reads (each connection keeps one thread in `read(2)`).
 */
export const nodeDeviceIo: DeviceIo = {
  open: (path, callback) => open(path, 'r+', callback),
  read: (fd, buffer, callback) => read(fd, buffer, 0, buffer.length, null, callback),
  write: (fd, buffer, callback) => {
    let failure: Error | null = null;
    try {
      writeSync(fd, buffer);
    } catch (error) {
      failure = error as Error;
    }
    queueMicrotask(() => callback(failure));
  },
  close: (fd, callback) => close(fd, callback),
};

/** Threads in the libuv pool, which blocked device reads compete for with all other fs work. */
const threadpoolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
let realDevicesOpen = 0;
let warned = false;

/** Counts open real-device connections and warns once when they could take the whole pool. */
function countRealDevice(change: 1 | -1): void {
  realDevicesOpen += change;
  if (change === 1 && realDevicesOpen >= threadpoolSize && !warned) {
    warned = true;
    process.emitWarning(
      `${realDevicesOpen} xenbus device connections each keep a libuv threadpool thread blocked ` +
        `in read(2); with UV_THREADPOOL_SIZE=${threadpoolSize} other fs work may stall. ` +
        'Set UV_THREADPOOL_SIZE above the number of device connections.',
      'XenwireWarning',
    );
  }
}

/**
 * Connects through the xenbus character device.
 *
 * The device cannot be polled from Node, so replies are read with a blocking `read(2)` in the
 * libuv threadpool: exactly one read is outstanding at any time, which keeps one threadpool
 * thread (of `UV_THREADPOOL_SIZE`, 4 by default) busy for as long as the connection is open.
 * Open more device connections than that and other threadpool work (fs, dns, crypto) waits: a
 * `XenwireWarning` says so, and `UV_THREADPOOL_SIZE` must be raised before Node starts.
 *
 * The kernel takes one whole message per `write(2)` and discards anything after it, so messages
 * are written one per call, strictly in order. More than that, a request is written only once the
 * previous one has been answered, for two reasons in Linux's frontend (4.11 and later, 6.1
 * included):
 * - `write(2)` returns as soon as the request is queued, but the kernel keeps only a pointer to
 *   its payload, which stays in the descriptor's one message buffer until the xenbus thread copies
 *   it to the ring. The next `write(2)` overwrites that buffer, so a pipelined request can reach
 *   xenstored with another request's bytes (seen as EINVAL on writes and ENOENT on reads).
 * - WATCH and UNWATCH are answered inside `write(2)`, which holds the descriptor's buffer mutex
 *   while it waits; the xenbus thread takes that same mutex to queue the reply to any earlier
 *   request of the descriptor, so a watch written behind an unanswered request deadlocks the
 *   kernel's whole xenstore connection (and this thread, blocked in the write).
 * Xenstored has read a request once any reply to it exists, so the first reply (anything but a
 * WATCH_EVENT) that arrives after a write frees the device for the next one.
 *
 * Closing: `close(2)` does not wake a read blocked in another thread, and reusing a descriptor
 * number that a stale read still holds would be worse. So `close()` lets the reply to an
 * unanswered request wake the read or, with none outstanding, writes a harmless GET_DOMAIN_PATH
 * request whose reply does, and releases the descriptor only once the read has returned. If the
 * kernel never answers, the descriptor and the thread stay taken.
 *
 * A message over 4096 bytes, header included, which the device refuses with EINVAL, is answered
 * here with the E2BIG error xenstored would give.
 *
 * Never point this at `/proc/xen/xenbus` unless you must: that legacy file is known to deadlock.
 */
export function xenbusDeviceConnector(
  path: string = XENBUS_DEVICE_PATH,
  io: DeviceIo = nodeDeviceIo,
): TransportConnector {
  return (handlers) => openDevice(path, io, handlers);
}

function openDevice(path: string, io: DeviceIo, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    io.open(path, (error, fd) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code ?? error.message;
        reject(
          new XenstoreError('ECONNRESET', `cannot open ${path}: ${code}`, undefined, undefined, {
            cause: error,
          }),
        );
        return;
      }
      resolve(framedTransport(handlers, (bytes) => new DeviceStream(io, fd, bytes)));
    });
  });
}

/**
 * Largest message the device takes: the kernel collects a message, header included, in a
 * `XENSTORE_PAYLOAD_MAX`-byte buffer, so payloads are limited to 4080 bytes; more is EINVAL from
 * write(2), which would end the connection.
 */
const DEVICE_MESSAGE_MAX = PAYLOAD_MAX;

/** The E2BIG reply xenstored would give, for a request too large for the device. */
function tooBigReply(request: Uint8Array): Buffer {
  const view = Buffer.from(request.buffer, request.byteOffset, request.length);
  return encodeMessage({
    type: MessageType.ERROR,
    reqId: view.readUInt32LE(4),
    txId: view.readUInt32LE(8),
    payload: Buffer.from('E2BIG\0', 'latin1'),
  });
}

/** A wake-up request nobody waits for; its reply only serves to end the blocked read. */
const wakeUp = encodeMessage(
  encodeRequest({ op: 'GET_DOMAIN_PATH', domid: 0 }, { reqId: 0xffffffff, txId: 0 }),
);

class DeviceStream implements ByteStream {
  readonly #io: DeviceIo;
  readonly #fd: number;
  readonly #handlers: ByteStreamHandlers;
  readonly #writes: Uint8Array[] = [];
  #buffer = Buffer.alloc(0);
  #writing = false;
  /** A written request has no reply yet: the kernel may still need its bytes (see above). */
  #awaitingReply = false;
  /** The incoming stream, followed header by header to spot replies. */
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerBytes = 0;
  #bodyLeft = 0;
  /** Replies made here, delivered where the incoming stream is between messages. */
  readonly #localReplies: Buffer[] = [];
  #reading = false;
  #closing = false;
  #wokenUp = false;
  #released = false;

  constructor(io: DeviceIo, fd: number, handlers: ByteStreamHandlers) {
    this.#io = io;
    this.#fd = fd;
    this.#handlers = handlers;
    if (io === nodeDeviceIo) countRealDevice(1);
    this.#readNext();
  }

  write(bytes: Uint8Array): void {
    if (this.#closing) return;
    this.#writes.push(bytes);
    if (!this.#writing && !this.#awaitingReply) this.#writeNext();
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#writes.length = 0;
    this.#wakeOrRelease();
  }

  readonly #onRead = (error: Error | null, bytes: number): void => {
    this.#reading = false;
    if (this.#closing) {
      this.#wakeOrRelease();
      return;
    }
    if (error || bytes === 0) {
      this.#fail(error ?? undefined, bytes === 0 ? 'device returned end of file' : undefined);
      return;
    }
    const chunk = this.#buffer.subarray(0, bytes);
    // The device stays idle until the next request is written, so that comes first.
    if (this.#scanForReplies(chunk) && !this.#writing && !this.#awaitingReply) this.#writeNext();
    this.#readNext();
    this.#handlers.onData(chunk);
    this.#deliverLocalReplies();
  };

  readonly #onWritten = (error: Error | null): void => {
    this.#writing = false;
    if (this.#closing) {
      this.#wakeOrRelease();
      return;
    }
    if (error) {
      this.#fail(error);
    }
  };

  /** Follows message boundaries across chunks; true when a reply (not a watch event) began. */
  #scanForReplies(chunk: Uint8Array): boolean {
    let answered = false;
    let at = 0;
    while (at < chunk.length) {
      if (this.#bodyLeft > 0) {
        const skip = Math.min(this.#bodyLeft, chunk.length - at);
        this.#bodyLeft -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(HEADER_SIZE - this.#headerBytes, chunk.length - at);
      this.#header.set(chunk.subarray(at, at + take), this.#headerBytes);
      this.#headerBytes += take;
      at += take;
      if (this.#headerBytes < HEADER_SIZE) break;
      this.#headerBytes = 0;
      this.#bodyLeft = this.#header.readUInt32LE(12);
      if (this.#header.readUInt32LE(0) !== MessageType.WATCH_EVENT) {
        this.#awaitingReply = false;
        answered = true;
      }
    }
    return answered;
  }

  #readNext(): void {
    // A fresh buffer per read: delivered payloads are views into it and may outlive the read.
    this.#buffer = Buffer.allocUnsafe(HEADER_SIZE + PAYLOAD_MAX);
    this.#reading = true;
    this.#io.read(this.#fd, this.#buffer, this.#onRead);
  }

  #writeNext(): void {
    for (let next = this.#writes.shift(); next !== undefined; next = this.#writes.shift()) {
      if (next.length <= DEVICE_MESSAGE_MAX) {
        this.#writeRaw(next);
        return;
      }
      // Answered here, as it never reaches xenstored; later on, never inside the caller's send.
      this.#localReplies.push(tooBigReply(next));
      queueMicrotask(() => this.#deliverLocalReplies());
    }
  }

  #deliverLocalReplies(): void {
    if (this.#headerBytes > 0 || this.#bodyLeft > 0) return;
    for (let reply = this.#localReplies.shift(); reply; reply = this.#localReplies.shift()) {
      if (this.#closing) return;
      this.#handlers.onData(reply);
    }
  }

  #writeRaw(bytes: Uint8Array): void {
    this.#writing = true;
    // Set before the write: its reply may be read before the write's callback runs. Every
    // request the kernel accepts gets exactly one reply (xenstored's or its own); a failed
    // write ends the connection.
    this.#awaitingReply = true;
    this.#io.write(this.#fd, bytes, this.#onWritten);
  }

  /** Closing: wake a blocked read once the device is free for a write, then let go of the fd. */
  #wakeOrRelease(): void {
    if (this.#writing || this.#released) return;
    if (this.#reading) {
      // An unanswered request's reply will wake the read; writing now could also overwrite
      // that request's bytes before the kernel has sent them.
      if (!this.#wokenUp && !this.#awaitingReply) {
        this.#wokenUp = true;
        this.#writeRaw(wakeUp);
      }
      return;
    }
    this.#released = true;
    if (this.#io === nodeDeviceIo) countRealDevice(-1);
    this.#io.close(this.#fd, () => {});
  }

  #fail(error: Error | undefined, why?: string): void {
    const reason = new XenstoreError(
      'ECONNRESET',
      `xenbus device: ${why ?? error?.message ?? 'failed'}`,
      undefined,
      undefined,
      { cause: error },
    );
    this.#closing = true;
    this.#writes.length = 0;
    this.#wakeOrRelease();
    this.#handlers.onClose(reason);
  }
}

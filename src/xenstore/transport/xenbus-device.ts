import { close, open, read, writeSync } from 'node:fs';
import { HEADER_SIZE, PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { MessageFramer } from '../framer.ts';
import { MessageType } from '../messages.ts';
import { joinStrings } from '../payload.ts';
import { encodeRequest } from '../requests.ts';
import { encodeMessage, type Message, type OutgoingMessage } from '../wire.ts';
import { connectFailure } from './connect-failure.ts';
import type { Transport, TransportConnector, TransportHandlers } from './transport.ts';

/**
 * The xenbus character device of a Linux guest or dom0 (`xenbus_dev_frontend`).
 * @category Transports
 */
export const XENBUS_DEVICE_PATH = '/dev/xen/xenbus';

/**
 * The file operations the device transport needs, callback style as `node:fs` has them; tests
 * substitute a fake device.
 * @category Transports
 */
export interface DeviceIo {
  /** Opens the device for reading and writing, as `fs.open(path, 'r+')`. */
  open(path: string, callback: (error: Error | null, fd: number) => void): void;
  /** Reads what the device has, as `fs.read`; blocks until it has something. */
  read(
    fd: number,
    buffer: Uint8Array,
    callback: (error: Error | null, bytes: number) => void,
  ): void;
  /** Writes whole messages, as `fs.write`. */
  write(fd: number, buffer: Uint8Array, callback: (error: Error | null) => void): void;
  /** Closes the device, waking a blocked read. */
  close(fd: number, callback: (error: Error | null) => void): void;
}

/**
 * `node:fs` on a real device. Reads block in the libuv threadpool. Writes are synchronous: the
 * kernel queues most requests without waiting for the reply (WATCH and UNWATCH, which it
 * registers itself, take one round trip), and a write that needed a threadpool thread could
 * starve behind blocked reads (each connection keeps one thread in `read(2)`).
 * @category Transports
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
 * The device is message-oriented both ways: the kernel takes one whole message per `write(2)`
 * and discards anything after it, so messages are written one per call, strictly in order; and
 * replies are read as the framer delimits them, which tells when the kernel has answered. More than that, a request is written only once the
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
 * @category Transports
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
        reject(connectFailure(path, error));
        return;
      }
      resolve(new DeviceTransport(io, fd, handlers));
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
function tooBigReply(request: Message): Message {
  return {
    type: MessageType.ERROR,
    reqId: request.reqId,
    txId: request.txId,
    payload: joinStrings(['E2BIG']),
  };
}

/** A wake-up request nobody waits for; its reply only serves to end the blocked read. */
const wakeUp = encodeRequest({ op: 'GET_DOMAIN_PATH', domid: 0 }, { reqId: 0xffffffff, txId: 0 })
  .frame!;

/** A request waiting for the device, with its wire bytes. */
interface QueuedRequest {
  readonly message: Message;
  readonly frame: Uint8Array;
}

class DeviceTransport implements Transport {
  readonly #io: DeviceIo;
  readonly #fd: number;
  readonly #handlers: TransportHandlers;
  readonly #writes: QueuedRequest[] = [];
  readonly #framer = new MessageFramer();
  #buffer = Buffer.alloc(0);
  #writing = false;
  /** A written request has no reply yet: the kernel may still need its bytes (see above). */
  #awaitingReply = false;
  /** Replies made here, delivered where the incoming stream is between messages. */
  readonly #localReplies: Message[] = [];
  #reading = false;
  #closing = false;
  #wokenUp = false;
  #released = false;
  /** `onClose` has been called. */
  #closed = false;

  constructor(io: DeviceIo, fd: number, handlers: TransportHandlers) {
    this.#io = io;
    this.#fd = fd;
    this.#handlers = handlers;
    if (io === nodeDeviceIo) countRealDevice(1);
    this.#readNext();
  }

  send(message: OutgoingMessage): void {
    if (this.#closed) throw new XenstoreError('ECONNRESET', 'connection is closed');
    if (this.#closing) return;
    this.#writes.push({ message, frame: message.frame ?? encodeMessage(message) });
    if (!this.#writing && !this.#awaitingReply) this.#writeNext();
  }

  close(): void {
    this.#stop();
    this.#finish();
  }

  /** Stops using the device: nothing more is written, and the descriptor goes once it is free. */
  #stop(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#writes.length = 0;
    this.#wakeOrRelease();
  }

  #finish(reason?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.onClose(reason);
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
    const begun = this.#framer.header;
    let messages: Message[];
    try {
      messages = this.#framer.push(this.#buffer.subarray(0, bytes));
    } catch (failure) {
      this.#stop();
      this.#finish(failure as XenstoreError);
      return;
    }
    // The device stays idle until the next request is written, so that comes first.
    if (this.#replyBegan(messages, begun !== undefined) && !this.#writing && !this.#awaitingReply) {
      this.#writeNext();
    }
    this.#readNext();
    for (const message of messages) {
      if (this.#closed) return;
      this.#handlers.onMessage(message);
    }
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

  /**
   * Whether a reply (not a watch event) began in what was just read: xenstored has then read the
   * request written last. A message whose header was read earlier (`continued`) began then.
   */
  #replyBegan(messages: Message[], continued: boolean): boolean {
    let answered = false;
    for (let i = continued ? 1 : 0; i < messages.length; i++) {
      if (messages[i]!.type !== MessageType.WATCH_EVENT) answered = true;
    }
    const current = this.#framer.header;
    const currentIsNew = current !== undefined && (!continued || messages.length > 0);
    if (currentIsNew && current.type !== MessageType.WATCH_EVENT) answered = true;
    if (answered) this.#awaitingReply = false;
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
      if (next.frame.length <= DEVICE_MESSAGE_MAX) {
        this.#writeRaw(next.frame);
        return;
      }
      // Answered here, as it never reaches xenstored; later on, never inside the caller's send.
      this.#localReplies.push(tooBigReply(next.message));
      queueMicrotask(() => this.#deliverLocalReplies());
    }
  }

  #deliverLocalReplies(): void {
    if (this.#framer.buffered > 0) return;
    for (let reply = this.#localReplies.shift(); reply; reply = this.#localReplies.shift()) {
      if (this.#closing) return;
      this.#handlers.onMessage(reply);
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
    this.#stop();
    this.#finish(reason);
  }
}

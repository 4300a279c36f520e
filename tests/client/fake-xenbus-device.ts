import { HEADER_SIZE } from '../../src/xenstore/constants.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import type { InProcessServer } from '../../src/xenstore/transport/in-process.ts';
import type { DeviceIo } from '../../src/xenstore/transport/xenbus-device.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';

/** Linux's per-descriptor message buffer: header and payload together (`XENSTORE_PAYLOAD_MAX`). */
const MESSAGE_BUFFER = 4096;

interface OpenFile {
  /** The descriptor's one message buffer, like `u->u.buffer`: each write(2) reuses it. */
  readonly message: Buffer;
  /** Bytes collected in `message` towards the next whole message. */
  collected: number;
  /** Requests passed on whose reply has not come back. */
  unanswered: number;
  forward(type: number, reqId: number, txId: number, payload: Uint8Array): void;
  close(): void;
  /** Queued reply bytes, each a whole message until a read takes part of it. */
  replies: Buffer[];
  blockedRead: (() => void) | undefined;
}

/**
 * A stand-in for the Linux xenbus device (`xenbus_dev_frontend.c`, 4.11 and later) in front of an
 * in-process server, behaving as the kernel does where a client can get it wrong:
 * - write(2) collects bytes in the descriptor's one 4096-byte buffer (header included): more than
 *   fits is EINVAL and drops what was collected, a header announcing more is E2BIG; one whole
 *   message is acted on per call and the rest of the call's bytes are discarded.
 * - A request is queued and write(2) returns, but its payload is read from that shared buffer
 *   only later (when the kernel's xenbus thread copies it to the ring; here, on a later
 *   macrotask). A write issued before then overwrites it, and the server sees the wrong bytes.
 * - WATCH and UNWATCH are answered inside write(2) while the buffer mutex is held; the kernel's
 *   thread needs that mutex to queue any other reply of the descriptor, so one written while
 *   another request is unanswered deadlocks the real kernel.
 * - A read blocks until a reply is queued, then copies as many bytes as fit, across message
 *   boundaries and splitting a message if the buffer ends inside it.
 * Every breach of the rules a client must follow (pipelining, a watch behind a request, a second
 * read, any call on a closed descriptor) is recorded in `violations`.
 */
export class FakeXenbusDevice implements DeviceIo {
  readonly violations: string[] = [];
  readonly #server: InProcessServer;
  readonly #files = new Map<number, OpenFile>();
  #nextFd = 100;
  /** Descriptors closed so far. */
  closedFds = 0;

  constructor(server: InProcessServer) {
    this.#server = server;
  }

  get openFds(): number {
    return this.#files.size;
  }

  open(_path: string, callback: (error: Error | null, fd: number) => void): void {
    const fd = this.#nextFd++;
    const file: OpenFile = {
      message: Buffer.alloc(MESSAGE_BUFFER),
      collected: 0,
      unanswered: 0,
      replies: [],
      blockedRead: undefined,
      forward: () => {},
      close: () => {},
    };
    const queue = (bytes: Buffer): void => {
      file.replies.push(bytes);
      file.blockedRead?.();
    };
    const connection = this.#server.connect({
      onMessage: (message) => {
        if (message.type !== MessageType.WATCH_EVENT) file.unanswered--;
        queue(encodeMessage(message));
      },
    });
    file.forward = (type, reqId, txId, payload) => {
      if (type === MessageType.WATCH || type === MessageType.UNWATCH) {
        if (file.unanswered > 0) {
          this.violations.push(
            `fd ${fd}: ${type === MessageType.WATCH ? 'WATCH' : 'UNWATCH'} written while ` +
              `${file.unanswered} request(s) are unanswered (the real kernel deadlocks)`,
          );
        }
      } else if (file.unanswered > 0) {
        this.violations.push(
          `fd ${fd}: request written while ${file.unanswered} are unanswered (the kernel may ` +
            'not have copied their payload out of the shared buffer yet)',
        );
      }
      file.unanswered++;
      // The payload stays in the shared buffer until the kernel's thread sends it.
      const len = payload.length;
      setImmediate(() => {
        const sent = Buffer.from(file.message.subarray(HEADER_SIZE, HEADER_SIZE + len));
        connection.send({ type, reqId, txId, payload: sent });
      });
    };
    file.close = () => connection.close();
    this.#files.set(fd, file);
    setImmediate(() => callback(null, fd));
  }

  read(
    fd: number,
    buffer: Uint8Array,
    callback: (error: Error | null, bytes: number) => void,
  ): void {
    const file = this.#file(fd, 'read');
    if (!file) return;
    if (file.blockedRead) this.violations.push(`second read outstanding on fd ${fd}`);
    file.blockedRead = () => {
      file.blockedRead = undefined;
      // Like the kernel: as many bytes as fit, across message boundaries.
      let at = 0;
      while (file.replies.length > 0 && at < buffer.length) {
        const reply = file.replies[0]!;
        const take = Math.min(reply.length, buffer.length - at);
        buffer.set(reply.subarray(0, take), at);
        at += take;
        if (take === reply.length) file.replies.shift();
        else file.replies[0] = reply.subarray(take);
      }
      setImmediate(() => callback(null, at));
    };
    if (file.replies.length > 0) file.blockedRead();
  }

  write(fd: number, buffer: Uint8Array, callback: (error: Error | null) => void): void {
    const file = this.#file(fd, 'write');
    if (!file) return;
    const fail = (code: string): void => {
      const error = Object.assign(new Error(`${code}: write`), { code });
      queueMicrotask(() => callback(error));
    };
    if (buffer.length > MESSAGE_BUFFER - file.collected) {
      file.collected = 0;
      fail('EINVAL');
      return;
    }
    file.message.set(buffer, file.collected);
    file.collected += buffer.length;
    if (file.collected >= HEADER_SIZE) {
      const len = file.message.readUInt32LE(12);
      if (HEADER_SIZE + len > MESSAGE_BUFFER) {
        file.collected = 0;
        fail('E2BIG');
        return;
      }
      if (file.collected >= HEADER_SIZE + len) {
        if (file.collected > HEADER_SIZE + len) {
          this.violations.push(`fd ${fd}: bytes after a whole message in one write were dropped`);
        }
        file.collected = 0;
        const type = file.message.readUInt32LE(0);
        const reqId = file.message.readUInt32LE(4);
        const txId = file.message.readUInt32LE(8);
        file.forward(type, reqId, txId, file.message.subarray(HEADER_SIZE, HEADER_SIZE + len));
      }
    }
    // write(2) returns once the request is queued, long before the kernel's thread sends it.
    queueMicrotask(() => callback(null));
  }

  close(fd: number, callback: (error: Error | null) => void): void {
    const file = this.#file(fd, 'close');
    if (!file) return;
    if (file.blockedRead) this.violations.push(`fd ${fd} closed while a read is blocked on it`);
    file.close();
    this.#files.delete(fd);
    this.closedFds++;
    setImmediate(() => callback(null));
  }

  #file(fd: number, call: string): OpenFile | undefined {
    const file = this.#files.get(fd);
    if (!file) this.violations.push(`${call} on closed fd ${fd}`);
    return file;
  }
}

import { HEADER_SIZE } from '../../src/xenstore/constants.ts';
import type { InProcessServer } from '../../src/xenstore/transport/in-process.ts';
import type { DeviceIo } from '../../src/xenstore/transport/xenbus-device.ts';
import { decodeMessage, encodeMessage } from '../../src/xenstore/wire.ts';

interface OpenFile {
  send(bytes: Uint8Array): void;
  close(): void;
  replies: Buffer[];
  blockedRead: (() => void) | undefined;
}

/**
 * A stand-in for the Linux xenbus device in front of an in-process server, with the kernel's
 * rules enforced: each write(2) must carry exactly one whole message, and a read blocks until a
 * reply is queued. Every breach of those rules (and any call on a closed descriptor) is recorded
 * in `violations` instead of being tolerated.
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
      replies: [],
      blockedRead: undefined,
      send: () => {},
      close: () => {},
    };
    const connection = this.#server.connect({
      onMessage: (message) => {
        file.replies.push(encodeMessage(message));
        file.blockedRead?.();
      },
    });
    file.send = (bytes) => connection.send(decodeMessage(bytes));
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
      // Like the kernel: whole queued replies, as many as fit.
      let at = 0;
      while (file.replies.length > 0 && at + file.replies[0]!.length <= buffer.length) {
        const reply = file.replies.shift()!;
        buffer.set(reply, at);
        at += reply.length;
      }
      setImmediate(() => callback(null, at));
    };
    if (file.replies.length > 0) file.blockedRead();
  }

  write(fd: number, buffer: Uint8Array, callback: (error: Error | null) => void): void {
    const file = this.#file(fd, 'write');
    if (!file) return;
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.length);
    const whole = view.length >= HEADER_SIZE && view.length === HEADER_SIZE + view.readUInt32LE(12);
    if (!whole) {
      this.violations.push(`write of ${buffer.length} bytes is not exactly one message`);
    } else {
      file.send(buffer);
    }
    setImmediate(() => callback(null));
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

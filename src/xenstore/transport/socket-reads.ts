import { Buffer } from 'node:buffer';
import type { OnReadOpts } from 'node:net';

/** Size of the buffer a socket reads into with {@link copiedReads}. */
export const READ_BUFFER_SIZE = 64 * 1024;

/**
 * `onread` options for a socket: the kernel reads into `buffer`, reused, and the bytes are
 * handed over straight from the handle, skipping the fresh buffer and the stream machinery
 * behind `'data'`. Each read is copied out once for `deliver`, which may keep it, since decoded
 * messages are views into it.
 */
export function copiedReads(buffer: Buffer, deliver: (chunk: Uint8Array) => void): OnReadOpts {
  return {
    buffer,
    callback: (size) => {
      // One allocation and a native copy, with no view made in between.
      const chunk = Buffer.allocUnsafe(size);
      buffer.copy(chunk, 0, 0, size);
      deliver(chunk);
      return true;
    },
  };
}

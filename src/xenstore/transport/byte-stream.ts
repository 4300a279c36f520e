import { XenstoreError } from '../errors.ts';
import { MessageFramer } from '../framer.ts';
import { encodeMessage, type Message } from '../wire.ts';
import type { Transport, TransportHandlers } from './transport.ts';

/**
 * A bidirectional byte pipe: a socket, a shared-memory ring, anything that moves octets.
 * @category Transports
 */
export interface ByteStream {
  /** Writes bytes; the stream keeps their order. */
  write(bytes: Uint8Array): void;
  /** Ends the stream. Idempotent. */
  close(): void;
}

/**
 * What a byte stream reports to its reader.
 * @category Transports
 */
export interface ByteStreamHandlers {
  /** Bytes in arrival order, chunked arbitrarily; the stream must not reuse a chunk afterwards. */
  onData(chunk: Uint8Array): void;
  /** The stream ended: `reason` when it failed, nothing when it closed cleanly. */
  onClose(reason?: Error): void;
}

/**
 * Turns a byte stream into a {@link Transport}: encodes outgoing messages and frames incoming
 * bytes. Both ends of a byte medium use it: the client's connectors, and the server's socket
 * listener. A framing failure (a header announcing more than 4096 bytes) leaves the stream out of
 * step for good, so the connection is closed with that `EPROTO` error as the reason.
 *
 * `open` receives the handlers its stream must call, e.g. a ring transport:
 * `framedTransport(handlers, (bytes) => openRing(page, port, bytes))`.
 * @category Transports
 */
export function framedTransport(
  handlers: TransportHandlers,
  open: (bytes: ByteStreamHandlers) => ByteStream,
): Transport {
  const framer = new MessageFramer();
  let closed = false;
  const finish = (reason?: Error): void => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };
  const stream = open({
    onData(chunk) {
      if (closed) return;
      let messages: Message[];
      try {
        messages = framer.push(chunk);
      } catch (error) {
        stream.close();
        finish(error as XenstoreError);
        return;
      }
      for (const message of messages) {
        if (closed) return;
        handlers.onMessage(message);
      }
    },
    onClose(reason) {
      // A stream cut inside a message loses that message: say so rather than end quietly. The
      // peer broke no rule (it may have died mid-write), so this is a lost connection.
      const cut =
        reason === undefined && framer.buffered > 0
          ? new XenstoreError(
              'ECONNRESET',
              `connection closed ${framer.buffered} bytes into a message`,
            )
          : reason;
      finish(cut);
    },
  });
  return {
    send(message) {
      if (closed) throw new XenstoreError('ECONNRESET', 'connection is closed');
      stream.write(message.frame ?? encodeMessage(message));
    },
    close() {
      stream.close();
      finish();
    },
  };
}

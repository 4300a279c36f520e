import type { Message, OutgoingMessage } from '../wire.ts';

/** What a transport reports to its owner. */
export interface TransportHandlers {
  /** One whole message from the server, in arrival order. */
  onMessage(message: Message): void;
  /**
   * The connection ended, called at most once. `reason` is absent for an orderly close; a
   * framing failure arrives as an `EPROTO` {@link XenstoreError}.
   */
  onClose(reason?: Error): void;
}

/**
 * A message pipe to one xenstore server. Byte-oriented media (sockets, rings) are framed with
 * {@link MessageFramer}; message-oriented ones (the xenbus device, an in-process server) pass
 * messages through.
 */
export interface Transport {
  /** Queues one message; may batch several sent in the same tick into one write. */
  send(message: OutgoingMessage): void;
  /** Ends the connection; `onClose` follows. Idempotent. */
  close(): void;
}

/**
 * Opens a transport. The client calls it once per connection, again on each reconnect, so it
 * must open a fresh connection every time.
 */
export type TransportConnector = (handlers: TransportHandlers) => Promise<Transport>;

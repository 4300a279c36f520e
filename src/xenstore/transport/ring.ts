import type { EventChannel } from '../../evtchn/event-channel.ts';
import { RingError } from '../../ring/errors.ts';
import { ByteRingOutbox } from '../../ring/outbox.ts';
import {
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreFeature,
  XenstoreRing,
} from '../../ring/xenstore.ts';
import { XenstoreError } from '../errors.ts';
import { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
import { takeChunk } from './ring-chunk.ts';
import type { Transport, TransportConnector, TransportHandlers } from './transport.ts';

/**
 * Where a guest's xenstore page and event channel are.
 * @category Transports
 */
export interface RingTransportOptions {
  /**
   * The xenstore page (`struct xenstore_domain_interface`), mapped: a 4096-byte view of a
   * `SharedArrayBuffer` (simulated grant), or of a buffer from `mapFile` (the harness's page
   * files, dom0's `xsd_kva`).
   */
  readonly page: Uint8Array;
  /** The event-channel handle through which `port` was bound. */
  readonly eventChannel: EventChannel;
  /** The local port connected to xenstored's end of the channel. */
  readonly port: number;
  /**
   * Ask the server to reset the page on every connect when it offers the RECONNECTION feature
   * (default true): the client reconnecting after a failure then starts from a clean ring, with
   * the server having dropped the old watches and transactions.
   */
  readonly reconnect?: boolean;
  /**
   * Gives up connecting when aborted: the reconnection handshake waits for the server, and a
   * server that never completes it would otherwise be waited for forever.
   */
  readonly signal?: AbortSignal;
}

/**
 * Connects through a xenstore ring page, as a guest kernel's xenbus does (and dom0's kernel over
 * `xsd_kva`): requests go into the page's request ring, replies and watch events come back on
 * the response ring, and each side wakes the other through the event channel.
 *
 * Messages longer than a ring (1024 bytes) cross it in pieces; a full request ring is waited
 * out, woken by the server's notification once it has made room. When the server records an
 * error in the page (`XENSTORE_ERROR_*`), or leaves indices no honest server can, the connection
 * closes with an `EPROTO` {@link XenstoreError}. The event channel and the page stay the
 * caller's: closing the transport only stops using them.
 *
 * When the server offers RECONNECTION each connect resets the page, and the server drops the
 * previous connection's watches and transactions. Otherwise the page carries on where the
 * previous connection left it: what it never read is read first, before any request is sent,
 * so the client reports it as strays and ignores it; its watches keep firing until unwatched.
 * (Linux's xenbus discards such bytes instead, which can cut a message the server is still
 * writing.)
 *
 * ```ts
 * const client = await XenstoreClient.connect({
 *   transport: ringConnector({ page, eventChannel, port }),
 * });
 * ```
 * @category Transports
 */
export function ringConnector(options: RingTransportOptions): TransportConnector {
  return (handlers) => openRing(options, handlers);
}

async function openRing(
  options: RingTransportOptions,
  handlers: TransportHandlers,
): Promise<Transport> {
  const { eventChannel, port, page } = options;
  if (eventChannel.closed) {
    throw new XenstoreError('ECONNRESET', 'ring transport: the event channel is closed');
  }
  let ring: XenstoreRing;
  try {
    ring = new XenstoreRing('guest', page.buffer, {
      byteOffset: page.byteOffset,
      notify: () => eventChannel.notify(port),
    });
  } catch (error) {
    throw connectFailure('ring transport: unusable page', error);
  }
  if ((options.reconnect ?? true) && ring.hasFeature(XenstoreFeature.RECONNECTION)) {
    await reconnect(ring, eventChannel, port, options.signal);
  } else if (ring.error !== XenstoreErrorIndicator.NONE) {
    throw new XenstoreError(
      'ECONNRESET',
      `ring transport: the server reports ${indicatorName(ring.error)} and cannot reconnect`,
    );
  }
  return framedTransport(handlers, (bytes) => new RingStream(ring, eventChannel, port, bytes));
}

/**
 * The reconnection handshake (`docs/misc/xenstore-ring.txt`): ask, then wait — woken by the
 * event channel — until the server has emptied both rings and marked the page connected.
 */
async function reconnect(
  ring: XenstoreRing,
  eventChannel: EventChannel,
  port: number,
  signal: AbortSignal | undefined,
) {
  const events = eventChannel.pending();
  // Ending the iteration wakes the wait below.
  const stop = () => void events.return?.();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    ring.requestReconnect();
    while (ring.reconnecting) {
      if (signal?.aborted) {
        throw new XenstoreError('ABORT_ERR', 'ring transport: connecting was aborted');
      }
      const { done, value } = await events.next();
      if (done && !signal?.aborted) {
        throw new XenstoreError('ECONNRESET', 'ring transport: event channel closed');
      }
      if (value === port) eventChannel.unmask(port);
    }
  } catch (error) {
    throw connectFailure('ring transport: reconnection failed', error);
  } finally {
    signal?.removeEventListener('abort', stop);
    await events.return?.();
  }
}

/** The byte stream over the two rings of the page. */
class RingStream implements ByteStream {
  readonly #ring: XenstoreRing;
  readonly #eventChannel: EventChannel;
  readonly #port: number;
  readonly #handlers: ByteStreamHandlers;
  /** Bytes waiting for room in the request ring. */
  readonly #backlog: ByteRingOutbox;
  #closed = false;

  constructor(
    ring: XenstoreRing,
    eventChannel: EventChannel,
    port: number,
    handlers: ByteStreamHandlers,
  ) {
    this.#ring = ring;
    this.#eventChannel = eventChannel;
    this.#port = port;
    this.#handlers = handlers;
    this.#backlog = new ByteRingOutbox(ring);
    eventChannel.on('pending', this.#onPending);
    eventChannel.on('error', this.#onError);
    // Replies may already wait (a server that answered before we listened).
    queueMicrotask(() => this.#service());
  }

  write(bytes: Uint8Array): void {
    this.#service(bytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backlog.clear();
    this.#eventChannel.off('pending', this.#onPending);
    this.#eventChannel.off('error', this.#onError);
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#port || this.#closed) return;
    // Unmask before looking at the rings: a notification arriving while we work is then
    // reported again rather than lost.
    try {
      this.#eventChannel.unmask(port);
    } catch (error) {
      this.#fail(
        new XenstoreError(
          'ECONNRESET',
          'ring transport: event channel failed',
          undefined,
          undefined,
          { cause: error },
        ),
      );
      return;
    }
    this.#service();
  };

  readonly #onError = (error: Error): void => {
    this.#fail(
      new XenstoreError(
        'ECONNRESET',
        `ring transport: event channel failed: ${error.message}`,
        undefined,
        undefined,
        {
          cause: error,
        },
      ),
    );
  };

  /**
   * Moves whatever can move: `bytes` and the backlog into the page, responses out of it. Replies
   * are looked for after a write too: on one CPU the server often runs at the notification and
   * answers before the writer goes back to its event loop.
   */
  #service(bytes?: Uint8Array): void {
    if (this.#closed) return;
    const ring = this.#ring;
    try {
      const error = ring.error;
      if (error !== XenstoreErrorIndicator.NONE) {
        throw new XenstoreError(
          'EPROTO',
          `ring transport: the server reports ${indicatorName(error)} and stopped serving the ring`,
        );
      }
      if (ring.connection !== XenstoreConnectionState.CONNECTED) {
        if (bytes !== undefined) this.#backlog.push(bytes);
        return;
      }
      if (bytes === undefined) this.#backlog.flush();
      else this.#backlog.send(bytes);
      for (let chunk = takeChunk(ring); chunk.length > 0; chunk = takeChunk(ring)) {
        this.#handlers.onData(chunk);
        if (this.#closed) return;
        // Reading may have been what the server waited for before writing more requests' room.
        this.#backlog.flush();
      }
    } catch (error) {
      this.#fail(asTransportError(error));
    }
  }

  #fail(reason: XenstoreError): void {
    if (this.#closed) return;
    this.close();
    this.#handlers.onClose(reason);
  }
}

function indicatorName(error: number): string {
  const names: Record<number, string> = {
    [XenstoreErrorIndicator.COMM]: 'XENSTORE_ERROR_COMM',
    [XenstoreErrorIndicator.RINGIDX]: 'XENSTORE_ERROR_RINGIDX',
    [XenstoreErrorIndicator.PROTO]: 'XENSTORE_ERROR_PROTO',
  };
  return names[error] ?? `error ${error}`;
}

function asTransportError(error: unknown): XenstoreError {
  if (error instanceof XenstoreError) return error;
  const ringBroken = error instanceof RingError && error.code === 'EPROTO';
  return new XenstoreError(
    ringBroken ? 'EPROTO' : 'ECONNRESET',
    `ring transport: ${(error as Error).message}`,
    undefined,
    undefined,
    { cause: error },
  );
}

function connectFailure(what: string, error: unknown): XenstoreError {
  if (error instanceof XenstoreError) return error;
  return new XenstoreError(
    'ECONNRESET',
    `${what}: ${(error as Error).message}`,
    undefined,
    undefined,
    { cause: error },
  );
}

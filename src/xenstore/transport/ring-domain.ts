import { ByteRingOutbox } from '../../ring/outbox.ts';
import {
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreRing,
} from '../../ring/xenstore.ts';
import { MessageFramer } from '../framer.ts';
import { encodeMessage, type Message } from '../wire.ts';
import { takeChunk } from './ring-chunk.ts';
import type { XenstoreConnection } from './transport.ts';

/** What a served ring needs from the server and the event channel. */
export interface RingDomainHost {
  /** Opens the store connection that speaks for the domain (its identity, quotas). */
  connect(handlers: {
    onMessage: (message: Message) => void;
    onClose: (reason?: Error) => void;
    backlog: () => number;
    fair: true;
    onDrained: () => void;
  }): XenstoreConnection;
  /** Wakes the guest through the domain's event channel. */
  notify(): void;
}

/**
 * xenstored's end of one domain's xenstore page: requests are taken from the request ring (in
 * pieces when longer than the ring) and handed to the domain's store connection; replies and
 * watch events go into the response ring, waiting for room when it is full.
 *
 * A guest that breaks the protocol — a payload over 4096 bytes, inconsistent indices — gets the
 * page's error indicator set (`XENSTORE_ERROR_PROTO`/`RINGIDX`, when the ERROR feature is
 * offered) and is no longer served: its connection, watches and transactions are dropped, other
 * rings carry on. A reconnection request (`connection = XENSTORE_RECONNECT`) starts it afresh.
 */
export class RingDomain {
  readonly #ring: XenstoreRing;
  readonly #host: RingDomainHost;
  /** Encoded replies and events not yet in the response ring. */
  readonly #outbox: ByteRingOutbox;
  #connection: XenstoreConnection | undefined;
  /** The request being read, in pieces when longer than the ring. */
  #framer = new MessageFramer();
  #stopped = false;
  #failure: Error | undefined;

  /**
   * Lays out the page afresh (indices 0, connected, no error, `features` advertised) and starts
   * serving it.
   */
  constructor(
    readonly domid: number,
    page: Uint8Array,
    features: number,
    host: RingDomainHost,
  ) {
    this.#host = host;
    this.#ring = XenstoreRing.initialise(page.buffer, features, {
      byteOffset: page.byteOffset,
      notify: () => host.notify(),
    });
    this.#outbox = new ByteRingOutbox(this.#ring);
    this.#open();
  }

  /** Why the ring stopped being served, when the guest broke the protocol. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Takes requests, answers them, handles reconnection; call on every event-channel kick. */
  service(): void {
    if (this.#stopped) return;
    const ring = this.#ring;
    try {
      if (ring.connection === XenstoreConnectionState.RECONNECT) this.#reconnect();
      if (this.#connection === undefined) return;
      // A guest that does not read its replies is not read either, so it cannot make us queue
      // without bound.
      while (this.#outbox.flush()) {
        // Everything waiting is taken, a header in pieces included: the guest notifies only
        // once we have caught up with what it wrote, so leaving bytes behind would stall it.
        // One request at most per turn, though, so that its reply is flushed before the next.
        const chunk = takeChunk(ring, this.#framer.wanted);
        if (chunk.length === 0) return;
        for (const message of this.#frame(chunk)) this.#connection.send(message);
        // Requests wait for their turn in the daemon: the rest of the ring is read once they
        // have been served.
        if (this.#connection === undefined || this.#connection.queued > 0) return;
      }
    } catch (error) {
      // The error is in the page (PROTO, or RINGIDX recorded by the ring itself); the guest is
      // woken to find it there.
      this.#failure = error as Error;
      this.#drop();
      this.#host.notify();
    }
  }

  /**
   * The request `chunk` completes, if any. A header announcing more than 4096 bytes leaves the
   * guest out of step for good: the page says so (`XENSTORE_ERROR_PROTO`) and the ring is no
   * longer served.
   */
  #frame(chunk: Uint8Array): Message[] {
    try {
      return this.#framer.push(chunk);
    } catch (error) {
      this.#ring.setError(XenstoreErrorIndicator.PROTO);
      throw error;
    }
  }

  /** Stops serving: the connection goes, the page is left as it is. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#drop();
  }

  #open(): void {
    const connection = this.#host.connect({
      onMessage: (message) => {
        if (this.#connection !== connection) return;
        this.#outbox.send(encodeMessage(message));
      },
      onClose: () => {
        // The store dropped the connection (the domain was released, or a request it could
        // not frame): the ring is no longer served until the guest reconnects.
        if (this.#connection === connection) this.#forget();
      },
      backlog: () => this.#outbox.queuedBytes,
      fair: true,
      onDrained: () => {
        if (this.#connection === connection) this.service();
      },
    });
    this.#connection = connection;
  }

  /** The guest asked for a reset: what it had in the store goes, the page starts empty. */
  #reconnect(): void {
    this.#drop();
    this.#failure = undefined;
    this.#ring.completeReconnect();
    this.#open();
  }

  #drop(): void {
    const connection = this.#connection;
    this.#forget();
    connection?.close();
  }

  #forget(): void {
    this.#connection = undefined;
    this.#outbox.clear();
    this.#framer = new MessageFramer();
  }
}

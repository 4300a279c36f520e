import type { DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';
import type { VchanOrders } from '../ring/index.ts';
import { type Vchan, VchanLive } from '../ring/index.ts';
import { RingDuplex } from '../xenbus/index.ts';
import { VchanError } from './errors.ts';
import { nativeVchanMover } from './native-mover.ts';

/** What a {@link VchanDuplex} is made of; built by `openVchanServer` / `openVchanClient`. @internal */
export interface VchanParts {
  readonly vchan: Vchan;
  /** The handle `port` is bound through. */
  readonly events: EventChannel;
  /** This end's port of the vchan's event channel. */
  readonly port: number;
  readonly path: string;
  /** The domain of the other end. */
  readonly peerDomid: number;
  readonly orders: VchanOrders;
  /**
   * Lets go of the pages, the port and (server) the xenstore nodes, once the live byte says
   * this end is gone.
   */
  readonly release: () => Promise<void>;
}

/**
 * One end of a libxenvchan connection as a `stream.Duplex`. What goes in and out follows
 * `libxenvchan_read`/`_write` and `libxenvchan_is_open`:
 *
 * - reads return what the peer wrote, then end once the peer has closed and its last bytes are
 *   read (a peer whose process died looks the same: its kernel clears its live byte);
 * - writes wait for room in the ring, so backpressure reaches the writer; a write once the
 *   peer has closed fails with `EPIPE`;
 * - libxenvchan has no half-close: `end()` closes the vchan once the data written is in the
 *   ring (the peer still reads it), and the readable side ends with what had arrived. Keep the
 *   stream open until you have read what you expect. When the peer closes, the readable side
 *   ends and, with the default `allowHalfOpen: false`, this end closes too.
 * - a server emits `'connect'` when the client has connected; until then it may already write.
 */
export class VchanDuplex extends RingDuplex {
  /** Which end this is. */
  readonly role: 'server' | 'client';
  /** The xenstore directory holding `ring-ref` and `event-channel`. */
  readonly path: string;
  /** The domain of the other end. */
  readonly peerDomid: number;
  /** The ring orders: 2^order bytes each way. */
  readonly orders: VchanOrders;
  readonly #vchan: Vchan;
  readonly #release: () => Promise<void>;
  #connected: boolean;
  #released: Promise<void> | undefined;

  /** @internal Use `openVchanServer` or `openVchanClient`. */
  constructor(parts: VchanParts, options: DuplexOptions = {}) {
    super(
      parts.vchan,
      parts.events,
      parts.port,
      { allowHalfOpen: false, ...options },
      // On the device, the addon moves the bytes; elsewhere the JavaScript end does.
      nativeVchanMover(parts.vchan, parts.events, parts.port),
    );
    this.#vchan = parts.vchan;
    this.role = parts.vchan.role;
    this.#release = parts.release;
    this.path = parts.path;
    this.peerDomid = parts.peerDomid;
    this.orders = parts.orders;
    this.#connected = this.role === 'client';
    // The peer may have acted before anyone listened: look once, after the caller can listen.
    queueMicrotask(() => this.pump());
  }

  /** A client is connected from the start; a server once its client has said so. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Ends the stream because the peer's domain is gone: what is in the ring is kept for the
   * reader, then the stream is destroyed with `error`.
   * @internal
   */
  peerDomainGone(error: VchanError): void {
    if (this.detached || this.destroyed) return;
    this.#close(true);
    this.destroy(error);
  }

  protected peerDone(): boolean {
    return this.#vchan.peerLive === VchanLive.EXITED;
  }

  /** libxenvchan_write refuses to write once the peer is gone, even into free room. */
  protected override writeRefused(): Error | undefined {
    return this.peerDone()
      ? new VchanError('EPIPE', `vchan ${this.path}: the peer has closed`)
      : undefined;
  }

  protected override pumped(): void {
    if (!this.#connected && this.#vchan.peerLive !== VchanLive.NOT_YET) {
      this.#connected = true;
      this.emit('connect');
    }
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `end()`. */
  override _final(done: (error?: Error | null) => void): void {
    this.#close(true);
    this.#releaseOnce().then(() => done(), done);
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `destroy()`. */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.failPendingWrite(error ?? new VchanError('ECONNRESET', 'vchan: stream destroyed'));
    this.#close(false);
    // A destroyed stream reports why it was destroyed; what could not be given back then (the
    // platform already closed, the peer's domain gone) is no news to it.
    this.#releaseOnce().then(
      () => done(error),
      () => done(error),
    );
  }

  /** Marks this end gone in the page (live byte 0, peer notified), keeping what had arrived. */
  #close(drain: boolean): void {
    if (this.detached) return;
    this.detach(drain ? { end: true } : undefined);
    try {
      this.#vchan.close();
    } catch {
      // The port is gone with the peer's domain: nobody is left to tell.
    }
  }

  #releaseOnce(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }
}

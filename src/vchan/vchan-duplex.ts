import { Duplex, type DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';
import { type Vchan, VchanLive } from '../ring/index.ts';
import { VchanError } from './errors.ts';
import type { VchanOrders } from './ring-orders.ts';

/** Largest piece read from the ring at once (a ring holds at most 1 MiB). */
const READ_CHUNK = 64 * 1024;

/** What a {@link VchanDuplex} is made of; built by `openVchanServer` / `openVchanClient`. @internal */
export interface VchanParts {
  readonly vchan: Vchan;
  /** The handle `port` is bound through. */
  readonly events: EventChannel;
  /** This end's port of the vchan's event channel. */
  readonly port: number;
  readonly path: string;
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
export class VchanDuplex extends Duplex {
  readonly role: 'server' | 'client';
  /** The xenstore directory holding `ring-ref` and `event-channel`. */
  readonly path: string;
  readonly peerDomid: number;
  /** The ring orders: 2^order bytes each way. */
  readonly orders: VchanOrders;
  readonly #vchan: Vchan;
  readonly #events: EventChannel;
  readonly #port: number;
  readonly #release: () => Promise<void>;
  readonly #scratch = new Uint8Array(READ_CHUNK);
  #write: { chunk: Uint8Array; offset: number; done: (error?: Error) => void } | undefined;
  #wantRead = false;
  #readEnded = false;
  #connected: boolean;
  /** This end's live byte is 0: nothing may be read or written any more. */
  #closed = false;
  #released: Promise<void> | undefined;
  #pumping = false;
  #again = false;

  /** @internal Use `openVchanServer` or `openVchanClient`. */
  constructor(parts: VchanParts, options: DuplexOptions = {}) {
    super({ allowHalfOpen: false, ...options });
    this.#vchan = parts.vchan;
    this.role = parts.vchan.role;
    this.#events = parts.events;
    this.#port = parts.port;
    this.#release = parts.release;
    this.path = parts.path;
    this.peerDomid = parts.peerDomid;
    this.orders = parts.orders;
    this.#connected = this.role === 'client';
    parts.events.on('pending', this.#onPending);
    // The peer may have acted before anyone listened: look once, after the caller can listen.
    queueMicrotask(() => this.#pump());
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
    if (this.#closed || this.destroyed) return;
    this.#drain();
    this.destroy(error);
  }

  override _read(): void {
    this.#wantRead = true;
    this.#pump();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.#write = { chunk, offset: 0, done };
    this.#pump();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#close();
    this.#releaseOnce().then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    const pending = this.#write;
    this.#write = undefined;
    pending?.done(error ?? new VchanError('ECONNRESET', 'vchan: stream destroyed'));
    this.#close();
    // A destroyed stream reports why it was destroyed; what could not be given back then (the
    // platform already closed, the peer's domain gone) is no news to it.
    this.#releaseOnce().then(
      () => done(error),
      () => done(error),
    );
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#port) return;
    try {
      this.#events.unmask(port);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    this.#pump();
  };

  /** Marks this end gone in the page (live byte 0, peer notified), keeping what had arrived. */
  #close(): void {
    if (this.#closed) return;
    this.#events.off('pending', this.#onPending);
    if (!this.destroyed) this.#drain();
    this.#closed = true;
    try {
      this.#vchan.close();
    } catch {
      // The port is gone with the peer's domain: nobody is left to tell.
    }
  }

  /** Pushes everything in the ring, past the consumer's high-water mark, then the end. */
  #drain(): void {
    if (this.#readEnded) return;
    for (;;) {
      const n = this.#vchan.read(this.#scratch);
      if (n === 0) break;
      this.push(Buffer.from(this.#scratch.subarray(0, n)));
    }
    this.#readEnded = true;
    this.push(null);
  }

  #releaseOnce(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  /** Moves what it can both ways. */
  #pump(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        if (!this.#connected && this.#vchan.peerLive !== VchanLive.NOT_YET) {
          this.#connected = true;
          this.emit('connect');
        }
        this.#pumpWrite();
        this.#pumpRead();
      } while (this.#again && !this.#closed);
    } catch (error) {
      // Corrupt indices from the peer (EPROTO) or a failing event channel: this end cannot go on.
      this.destroy(error as Error);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpWrite(): void {
    const pending = this.#write;
    if (!pending) return;
    while (pending.offset < pending.chunk.length) {
      // libxenvchan_write refuses to write once the peer is gone, even into free room.
      if (this.#vchan.peerLive === VchanLive.EXITED) {
        this.#write = undefined;
        pending.done(new VchanError('EPIPE', `vchan ${this.path}: the peer has closed`));
        return;
      }
      const n = this.#vchan.write(pending.chunk.subarray(pending.offset));
      if (n === 0) return;
      pending.offset += n;
    }
    this.#write = undefined;
    pending.done();
  }

  #pumpRead(): void {
    while (this.#wantRead && !this.#readEnded) {
      // Sample the peer's liveness first: data it wrote before closing is then surely seen.
      const live = this.#vchan.peerLive;
      const n = this.#vchan.read(this.#scratch);
      if (n > 0) {
        this.#wantRead = this.push(Buffer.from(this.#scratch.subarray(0, n)));
        continue;
      }
      if (live === VchanLive.EXITED) {
        this.#readEnded = true;
        this.push(null);
      }
      return;
    }
  }
}

import { Duplex, type DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';
import { type Vchan, VchanLive } from '../ring/index.ts';
import { XenbusError } from './errors.ts';

/** Largest piece read from the ring at once (a vchan ring holds at most 1 MiB). */
const READ_CHUNK = 64 * 1024;

/**
 * A `stream.Duplex` over one end of a {@link Vchan} whose peer is woken through event-channel
 * `port`. Writes wait for room in the ring (backpressure reaches the writer); reads pause while
 * the consumer's buffer is full.
 *
 * vchan has no half-close of its own, so this stream gives its live byte that meaning: `end()`
 * marks this end EXITED once its data is in the ring, and the peer's readable ends after it has
 * read all of it. Reading goes on until the peer has ended too.
 */
export class VchanStream extends Duplex {
  readonly #vchan: Vchan;
  readonly #events: EventChannel;
  readonly #port: number;
  readonly #scratch = new Uint8Array(READ_CHUNK);
  #write: { chunk: Uint8Array; offset: number; done: (error?: Error) => void } | undefined;
  #wantRead = false;
  #readEnded = false;
  /** The pages are gone: nothing may touch the vchan any more. */
  #detached = false;
  #pumping = false;
  #again = false;

  /**
   * @param vchan - this end, created with a `notify` that signals `port`
   * @param events - the handle `port` is bound through
   */
  constructor(vchan: Vchan, events: EventChannel, port: number, options: DuplexOptions = {}) {
    super(options);
    this.#vchan = vchan;
    this.#events = events;
    this.#port = port;
    events.on('pending', this.#onPending);
  }

  /** @internal `stream.Duplex`'s hook, called by Node: use `read()` or `'data'`. */
  override _read(): void {
    this.#wantRead = true;
    this.#pump();
  }

  /** @internal `stream.Duplex`'s hook, called by Node: use `write()`. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    if (this.#detached) {
      done(new XenbusError('ECONNRESET', 'vchan: the device is disconnected'));
      return;
    }
    this.#write = { chunk, offset: 0, done };
    this.#pump();
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `end()`. */
  override _final(done: (error?: Error) => void): void {
    if (!this.#detached) this.#vchan.close();
    done();
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `destroy()`. */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#events.off('pending', this.#onPending);
    if (!this.#detached) {
      this.#detached = true;
      this.#vchan.close();
    }
    const pending = this.#write;
    this.#write = undefined;
    pending?.done(error ?? new XenbusError('ECONNRESET', 'vchan: stream destroyed'));
    done(error);
  }

  /**
   * The device is going away and its pages with it: takes what is still in the ring, then lets
   * go of it. A peer that had ended cleanly (its data all read, ours all written) leaves the
   * stream to finish normally; otherwise the stream is destroyed, with `reason` when the peer
   * caused it.
   */
  disconnect(reason: XenbusError | undefined): void {
    if (this.#detached) return;
    this.#wantRead = true;
    this.#pump(true);
    this.#detached = true;
    this.#events.off('pending', this.#onPending);
    const clean = this.#readEnded && this.#write === undefined;
    // Closing the device here is the owner's own doing, as destroy() would be: no error then.
    if (!clean) this.destroy(reason);
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#port) return;
    this.#events.unmask(port);
    this.#pump();
  };

  /** Moves what it can both ways; `drain` reads past the consumer's high-water mark. */
  #pump(drain = false): void {
    if (this.#detached) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#pumpWrite();
        this.#pumpRead(drain);
      } while (this.#again);
    } catch (error) {
      // The event channel failed (its domain died, the device broke): the stream cannot go on.
      this.destroy(error as Error);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpWrite(): void {
    const pending = this.#write;
    if (!pending) return;
    while (pending.offset < pending.chunk.length) {
      const n = this.#vchan.write(pending.chunk.subarray(pending.offset));
      if (n === 0) return;
      pending.offset += n;
    }
    this.#write = undefined;
    pending.done();
  }

  #pumpRead(drain: boolean): void {
    while ((this.#wantRead || drain) && !this.#readEnded) {
      // Sample the peer's liveness first: data it wrote before exiting is then surely seen.
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

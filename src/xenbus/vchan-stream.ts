import type { DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';
import { type Vchan, VchanLive } from '../ring/index.ts';
import { XenbusError } from './errors.ts';
import { RingDuplex } from './ring-duplex.ts';

/**
 * A `stream.Duplex` over one end of a {@link Vchan} whose peer is woken through event-channel
 * `port`. Writes wait for room in the ring (backpressure reaches the writer); reads pause while
 * the consumer's buffer is full.
 *
 * vchan has no half-close of its own, so this stream gives its live byte that meaning: `end()`
 * marks this end EXITED once its data is in the ring, and the peer's readable ends after it has
 * read all of it. Reading goes on until the peer has ended too.
 */
export class VchanStream extends RingDuplex {
  readonly #vchan: Vchan;

  /**
   * @param vchan - this end, created with a `notify` that signals `port`
   * @param events - the handle `port` is bound through
   */
  constructor(vchan: Vchan, events: EventChannel, port: number, options: DuplexOptions = {}) {
    super(vchan, events, port, options);
    this.#vchan = vchan;
  }

  protected peerDone(): boolean {
    return this.#vchan.peerLive === VchanLive.EXITED;
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `end()`. */
  override _final(done: (error?: Error) => void): void {
    if (!this.detached) this.#vchan.close();
    done();
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `destroy()`. */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.detached) {
      this.detach(undefined);
      this.#vchan.close();
    }
    this.failPendingWrite(error ?? new XenbusError('ECONNRESET', 'vchan: stream destroyed'));
    done(error);
  }

  /**
   * The device is going away and its pages with it: takes what is still in the ring, then lets
   * go of it. A peer that had ended cleanly (its data all read, ours all written) leaves the
   * stream to finish normally; otherwise the stream is destroyed, with `reason` when the peer
   * caused it.
   */
  disconnect(reason: XenbusError | undefined): void {
    if (this.detached) return;
    this.pump();
    this.detach({ end: this.peerDone() });
    const clean = this.readEnded && !this.writing;
    // Closing the device here is the owner's own doing, as destroy() would be: no error then.
    if (!clean) this.destroy(reason);
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error) => void): void {
    if (this.detached) {
      done(new XenbusError('ECONNRESET', 'vchan: the device is disconnected'));
      return;
    }
    super._write(chunk, encoding, done);
  }
}

import type { DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';
import type { ConsoleRing } from '../ring/index.ts';
import { RingDuplex } from '../xenbus/index.ts';
import { ConsoleError } from './errors.ts';

/**
 * One end of a PV console page as a `stream.Duplex`. At the backend (a console daemon, the
 * `xenwire console` command) the readable side is the guest's output and the writable side its
 * keyboard input; at the guest, the other way round. A console has no close of its own: the
 * backend's readable side ends when the guest's domain goes away ({@link hangUp}), after the
 * output still in the ring; input written after that fails with `EPIPE`. Ending the writable
 * side (no more input) leaves the output flowing.
 */
export class ConsoleStream extends RingDuplex {
  readonly #release: () => Promise<void>;
  #hungUp = false;
  #released: Promise<void> | undefined;

  /**
   * @param ring - this end of the page, created with a `notify` that signals `port`
   * @param events - the handle `port` is bound through
   * @param release - gives back the page and the port once the stream is over
   */
  constructor(
    ring: ConsoleRing,
    events: EventChannel,
    port: number,
    release: () => Promise<void> = async () => {},
    options: DuplexOptions = {},
  ) {
    super(ring, events, port, { allowHalfOpen: false, ...options });
    this.#release = release;
    // Output may be waiting (the guest blocked on a full ring): look once, after the caller
    // can listen.
    queueMicrotask(() => this.pump());
  }

  /** The peer's domain is gone: the reader gets what is left in the ring, then the end. */
  hangUp(): void {
    if (this.#hungUp) return;
    this.#hungUp = true;
    this.pump();
  }

  protected peerDone(): boolean {
    return this.#hungUp;
  }

  protected override writeRefused(): Error | undefined {
    return this.#hungUp ? new ConsoleError('EPIPE', 'console: the domain is gone') : undefined;
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `end()`. */
  override _final(done: (error?: Error | null) => void): void {
    // A console carries no end of input; output goes on.
    done();
  }

  /** @internal `stream.Duplex`'s hook, called by Node on `destroy()`. */
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.failPendingWrite(error ?? new ConsoleError('EPIPE', 'console: detached'));
    this.detach(undefined);
    this.#released ??= this.#release();
    // Giving back a dead domain's page and port may fail; the stream reports why it ended.
    this.#released.then(
      () => done(error),
      () => done(error),
    );
  }
}

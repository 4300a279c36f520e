import { Duplex, type DuplexOptions } from 'node:stream';
import type { EventChannel } from '../evtchn/index.ts';

/** Largest piece read from a ring at once (the largest rings hold 1 MiB). */
const READ_CHUNK = 64 * 1024;

/**
 * Where every stream of the thread reads a ring into before copying the bytes out: a read is
 * copied before anything else runs, so one buffer serves them all, and a host of a thousand
 * consoles does not hold a thousand of them.
 */
let sharedScratch: Uint8Array | undefined;

function scratch(): Uint8Array {
  sharedScratch ??= new Uint8Array(READ_CHUNK);
  return sharedScratch;
}

/**
 * One end of a byte channel in shared memory (`Vchan`, `ConsoleRing`, … of `xenwire/ring`):
 * copies in and out what fits, and wakes the peer as its protocol says.
 */
export interface RingChannelEnd {
  /** Copies what fits of `src` into the ring; returns how many bytes (0 when full). */
  write(src: Uint8Array): number;
  /** Copies what waits into `dst`; returns how many bytes (0 when empty). */
  read(dst: Uint8Array): number;
}

/**
 * Moves the bytes of a {@link RingChannelEnd} outside JavaScript (a native pump over device
 * memory): on each wake-up of the port it copies both ways, notifies and unmasks by itself,
 * and calls back only when the stream has something to do. Made by a `RingMoverFactory`.
 */
export interface RingMover {
  /**
   * Hands over the chunk to write from `offset` (null: none), kept for the wake-ups after this
   * call until it is all written or replaced, and moves what can move now. The chunk the mover
   * already holds goes on from where the mover got to.
   */
  step(chunk: Uint8Array | null, offset: number): void;
  /** Whether to read the ring into {@link received}, on steps and wake-ups. */
  wantRead: boolean;
  /** How far the chunk is written, after the last step or wake-up. */
  readonly offset: number;
  /**
   * What was read since the stream last looked; valid until the next step or wake-up. A mover
   * stops reading on wake-ups once its inbox is full, so the stream steps again after taking it.
   */
  readonly received: Uint8Array;
  /** Whether the mover serves the port itself, so that the stream need not listen to it. */
  readonly servesPort: boolean;
  /** Whether the peer had finished writing before the last step or wake-up read. */
  readonly peerDone: boolean;
  /** Why the last step or wake-up stopped (corrupt indexes, a failing event channel), if it did. */
  readonly error: Error | undefined;
  /**
   * Stops serving the port and lets go of the memory; {@link received} then holds what its last
   * wake-ups read and the stream had not taken (out of the ring already).
   */
  close(): void;
}

/** Makes a {@link RingMover} that calls `woken` after a wake-up with something to do. */
export type RingMoverFactory = (woken: () => void) => RingMover;

/**
 * A `stream.Duplex` over one end of a shared-memory byte channel whose peer wakes this end
 * through event-channel `port`: each time the port fires (and on every `_read`/`_write`) it moves
 * what it can both ways. Writes wait for room in the ring, so backpressure reaches the writer;
 * reading pauses while the consumer's buffer is full, so the ring fills and the peer waits.
 *
 * A subclass says when the peer will send no more and what closing means for its protocol.
 */
export abstract class RingDuplex extends Duplex {
  readonly #end: RingChannelEnd;
  readonly #events: EventChannel;
  readonly #port: number;
  #write: { chunk: Uint8Array; offset: number; done: (error?: Error) => void } | undefined;
  #wantRead = false;
  #readEnded = false;
  /** The page is no longer ours to touch. */
  #detached = false;
  #pumping = false;
  #again = false;
  /** Moves the bytes when there is a native way to; the end's own methods otherwise. */
  readonly #mover: RingMover | undefined;
  /** The mover woke with news: the next round takes its outcome rather than stepping. */
  #woken = false;

  /**
   * @param end - this end of the channel, waking the peer through `port`
   * @param events - the handle `port` is bound through
   * @param port - this end's port, which the peer notifies
   * @param mover - moves the bytes of `end` natively, serving `port` itself or stepped on each
   *   of its events
   */
  constructor(
    end: RingChannelEnd,
    events: EventChannel,
    port: number,
    options: DuplexOptions = {},
    mover?: RingMoverFactory,
  ) {
    super(options);
    this.#end = end;
    this.#events = events;
    this.#port = port;
    this.#mover = mover?.(() => {
      this.#woken = true;
      this.pump();
    });
    if (!this.#mover?.servesPort) events.on('pending', this.#onPending);
  }

  /**
   * Whether the peer will write no more. Asked before each read that finds the ring empty, with
   * the answer taken before the read, so bytes written before the peer ended are not missed.
   */
  protected abstract peerDone(): boolean;

  /** Why the pending write cannot go on (the peer is gone), or undefined to keep writing. */
  protected writeRefused(): Error | undefined {
    return undefined;
  }

  /** Called at the start of each round of moving bytes, to notice changes in the page. */
  protected pumped(): void {}

  /** True once the page is no longer touched. */
  protected get detached(): boolean {
    return this.#detached;
  }

  /** @internal `stream.Duplex`'s hook, called by Node: use `read()` or `'data'`. */
  override _read(): void {
    // A mover already reading reads on every wake-up: nothing to start.
    if (this.#wantRead && this.#mover) return;
    this.#setWantRead(true);
    this.pump();
  }

  /** @internal `stream.Duplex`'s hook, called by Node: use `write()`. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.#write = { chunk, offset: 0, done };
    this.pump();
  }

  /** Fails the write waiting for room, if any. */
  protected failPendingWrite(error: Error): void {
    const pending = this.#write;
    this.#write = undefined;
    pending?.done(error);
  }

  /** True while a write waits for room in the ring. */
  protected get writing(): boolean {
    return this.#write !== undefined;
  }

  /** True once the readable side has ended (the peer done and its bytes read). */
  protected get readEnded(): boolean {
    return this.#readEnded;
  }

  /**
   * Stops touching the page. With `drain`, first hands the reader everything the ring holds
   * (past the high-water mark) and, `end` permitting, ends the readable side.
   */
  protected detach(drain: { readonly end: boolean } | undefined): void {
    if (this.#detached) return;
    // The mover reads nothing more: what it had read and what is left in the ring are read here.
    this.#mover?.close();
    if (drain && !this.destroyed && !this.#readEnded) {
      const held = this.#mover?.received;
      if (held && held.length > 0) this.push(Buffer.from(held));
      for (;;) {
        const bytes = readOnce(this.#end);
        if (!bytes) break;
        this.push(bytes);
      }
      if (drain.end) {
        this.#readEnded = true;
        this.push(null);
      }
    }
    this.#detached = true;
    this.#events.off('pending', this.#onPending);
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#port) return;
    try {
      this.#events.unmask(port);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    this.pump();
  };

  /** Moves what it can both ways. */
  protected pump(): void {
    if (this.#detached) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.pumped();
        if (this.#mover) {
          this.#move(this.#mover);
        } else {
          this.#pumpWrite();
          this.#pumpRead();
        }
      } while (this.#again && !this.#detached);
    } catch (error) {
      // Corrupt indices from the peer (EPROTO) or a failing event channel: no way to go on.
      this.destroy(error as Error);
    } finally {
      this.#pumping = false;
    }
  }

  #setWantRead(on: boolean): void {
    this.#wantRead = on;
    if (this.#mover) this.#mover.wantRead = on && !this.#readEnded;
  }

  /** One round through the mover: a step, or the outcome of the wake-up that called. */
  #move(mover: RingMover): void {
    const pending = this.#write;
    if (this.#woken) {
      this.#woken = false;
    } else {
      mover.step(pending ? pending.chunk : null, pending?.offset ?? 0);
    }
    if (mover.error) throw mover.error;
    if (pending && this.#write === pending) {
      pending.offset = mover.offset;
      if (pending.offset === pending.chunk.length) {
        this.#write = undefined;
        pending.done();
      } else if (mover.peerDone) {
        const refused = this.writeRefused();
        if (refused) this.failPendingWrite(refused);
      }
    }
    if (this.#readEnded || this.#detached) return;
    // Bytes the mover read are out of the ring: they go to the reader even past the high-water
    // mark (a thread may have read them just before reading was turned off).
    const received = mover.received;
    if (received.length > 0) {
      this.#setWantRead(this.push(Buffer.from(received)));
      // More may wait, the peer's end among it: the mover's inbox may have filled.
      if (this.#wantRead) this.#again = true;
    } else if (mover.wantRead && mover.peerDone) {
      this.#readEnded = true;
      this.#setWantRead(false);
      this.push(null);
    }
  }

  #pumpWrite(): void {
    const pending = this.#write;
    if (!pending) return;
    while (pending.offset < pending.chunk.length) {
      const refused = this.writeRefused();
      if (refused) {
        this.failPendingWrite(refused);
        return;
      }
      const n = this.#end.write(pending.chunk.subarray(pending.offset));
      if (n === 0) return;
      pending.offset += n;
    }
    this.#write = undefined;
    pending.done();
  }

  #pumpRead(): void {
    while (this.#wantRead && !this.#readEnded && !this.#detached) {
      // Sample the peer's state first: data it wrote before ending is then surely seen.
      const done = this.peerDone();
      const bytes = readOnce(this.#end);
      if (bytes) {
        this.#setWantRead(this.push(bytes));
        continue;
      }
      if (done) {
        this.#readEnded = true;
        this.push(null);
      }
      return;
    }
  }
}

/** What waits in `end`, copied out of the shared scratch; undefined when the ring is empty. */
function readOnce(end: RingChannelEnd): Buffer | undefined {
  const buffer = scratch();
  const n = end.read(buffer);
  return n === 0 ? undefined : Buffer.from(buffer.subarray(0, n));
}

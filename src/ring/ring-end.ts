import type { ByteRing } from './byte-ring.ts';
import type { Notify } from './notify.ts';

/**
 * One end of a pair of byte rings (a xenstore, console or flex page): it writes one ring, reads
 * the other, and wakes the peer when {@link ByteRing.notifyNeeded} says it may be waiting.
 */
export class ByteRingEnd {
  private lastNotifyNeeded = false;

  constructor(
    /** The ring this end writes. */
    protected readonly tx: ByteRing,
    /** The ring this end reads. */
    protected readonly rx: ByteRing,
    private readonly notify: Notify | undefined,
  ) {}

  /** Sends bytes to the peer; returns how many fitted (0 when the ring is full). */
  write(src: Uint8Array): number {
    try {
      return this.settle(this.tx, this.tx.write(src));
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Receives up to `dst.length` bytes from the peer; returns how many (0 when none wait). */
  read(dst: Uint8Array): number {
    try {
      return this.settle(this.rx, this.rx.read(dst));
    } catch (e) {
      throw this.failed(e);
    }
  }

  /**
   * Whether the last `write` or `read` required waking the peer, for callers that pass no
   * `notify` and signal the event channel themselves.
   */
  get notifyNeeded(): boolean {
    return this.lastNotifyNeeded;
  }

  /** Bytes waiting to be read by this end. */
  readable(): number {
    try {
      return this.rx.used();
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Bytes this end can write now. */
  writable(): number {
    try {
      return this.tx.free();
    } catch (e) {
      throw this.failed(e);
    }
  }

  /**
   * Sees every error the rings throw before it reaches the caller, and returns what to throw:
   * the place for a page to record the failure for its peer (the xenstore `error` field).
   */
  protected failed(e: unknown): unknown {
    return e;
  }

  /** Wakes the peer, e.g. after a state change outside the rings. */
  protected wake(): void {
    this.notify?.();
  }

  private settle(ring: ByteRing, n: number): number {
    this.lastNotifyNeeded = ring.notifyNeeded;
    if (ring.notifyNeeded) this.notify?.();
    return n;
  }
}

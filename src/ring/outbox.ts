import type { ByteRingEnd } from './ring-end.ts';

/**
 * Bytes waiting for room in the ring a {@link ByteRingEnd} writes: chunks are queued whole and
 * written, in order, as far as the ring's free space allows; what does not fit stays queued,
 * the first chunk possibly half written, until the next {@link flush}. Waking the peer stays the
 * end's job: each write notifies when the ring's rules say the peer may be waiting.
 *
 * ```ts
 * const outbox = new ByteRingOutbox(ring);
 * outbox.send(message);   // written at once, or queued behind what waits
 * // when the peer notifies that it has read:
 * outbox.flush();
 * ```
 */
export class ByteRingOutbox {
  /**
   * Queued chunks, oldest first from `#sent` on: walking by index rather than `shift()`, which
   * copies a long queue on every chunk.
   */
  readonly #queue: Uint8Array[] = [];
  #sent = 0;
  #queuedBytes = 0;

  constructor(private readonly end: ByteRingEnd) {}

  /**
   * Queues `bytes` (kept by reference: not to be changed until written). True when nothing else
   * was queued, so the caller should {@link flush} now; otherwise a flush is already due once
   * the ring has room.
   */
  push(bytes: Uint8Array): boolean {
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    return this.#queue.length - this.#sent === 1;
  }

  /**
   * Writes queued bytes until none are left (true) or the ring is full (false). Errors of the
   * ring propagate, leaving the unwritten rest queued.
   */
  flush(): boolean {
    const queue = this.#queue;
    while (this.#sent < queue.length) {
      const head = queue[this.#sent]!;
      const written = this.end.write(head);
      this.#queuedBytes -= written;
      if (written < head.length) {
        // Full: the peer notifies once it has read, and the owner flushes again.
        if (written > 0) queue[this.#sent] = head.subarray(written);
        return false;
      }
      this.#sent++;
    }
    // Setting an array's length is a call into V8's runtime, even to the length it has; the
    // queue is flushed after every read of the peer's ring, empty most of the time.
    if (queue.length > 0) this.clear();
    return true;
  }

  /**
   * Writes `bytes` straight into the ring when nothing is queued ahead of them, queueing only
   * what does not fit; behind queued bytes, queues them all for the next {@link flush}. True when
   * every byte has gone out. The usual case, an empty queue and a ring with room, then costs the
   * write alone.
   */
  send(bytes: Uint8Array): boolean {
    if (this.#sent === this.#queue.length) {
      const written = this.end.write(bytes);
      if (written === bytes.length) return true;
      bytes = bytes.subarray(written);
    }
    this.push(bytes);
    return false;
  }

  /** Bytes queued and not yet written to the ring. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Drops everything queued, e.g. when the connection it was for goes away. */
  clear(): void {
    this.#queue.length = 0;
    this.#sent = 0;
    this.#queuedBytes = 0;
  }
}

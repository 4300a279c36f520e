import type { ByteRingEnd } from './ring-end.ts';

/**
 * Bytes waiting for room in the ring a {@link ByteRingEnd} writes: chunks are queued whole and
 * written, in order, as far as the ring's free space allows; what does not fit stays queued,
 * the first chunk possibly half written, until the next {@link flush}. Waking the peer stays the
 * end's job: each write notifies when the ring's rules say the peer may be waiting.
 *
 * ```ts
 * const outbox = new ByteRingOutbox(ring);
 * if (outbox.push(message)) outbox.flush();   // nothing was waiting: try at once
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
    this.clear();
    return true;
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

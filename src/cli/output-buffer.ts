import type { OutputStream } from './io.ts';

/**
 * Output held back until a command has finished, as the C tools' `output()` does: a transaction
 * retried after EAGAIN starts again from an empty buffer, so nothing is printed twice.
 */
export class OutputBuffer {
  #chunks: (string | Uint8Array)[] = [];

  add(chunk: string | Uint8Array): void {
    this.#chunks.push(chunk);
  }

  /** Drops everything added so far. */
  reset(): void {
    this.#chunks = [];
  }

  /** Writes everything as one chunk, so that a pipe sees it in one piece. */
  flushTo(stream: OutputStream): void {
    if (this.#chunks.length === 0) return;
    stream.write(Buffer.concat(this.#chunks.map((chunk) => Buffer.from(chunk))));
    this.#chunks = [];
  }
}

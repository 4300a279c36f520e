import type { OutputStream } from './io.ts';

/**
 * A one-line progress counter on stderr, redrawn in place, shown only when stderr is a terminal
 * (so logs and pipes never see it) and at most a few times a second.
 */
export class Progress {
  #count = 0;
  #lastDraw = 0;
  #drawn = false;

  constructor(
    private readonly stream: OutputStream,
    private readonly label: string,
  ) {}

  /** Counts `n` more items. */
  tick(n = 1): void {
    this.#count += n;
    if (!this.stream.isTTY) return;
    const now = Date.now();
    if (now - this.#lastDraw < 200) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.stream.write(`\r\x1b[K${this.#count} ${this.label}`);
  }

  /** Erases the counter line, if one was drawn. */
  done(): void {
    if (this.#drawn) this.stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
